import type { Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import type { Operator } from '../../domain/operators.js';
import type { Db, KyselyContext, TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import type { Database } from '../schema.js';
import { insertEvents } from './audit.js';

/** A console session as stored: a row of the people's `sessions` table, whose `expiresAt` is the sliding idle deadline. */
export interface StoredSession {
  tenantId: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Operators: users of the system tenant with management scopes and a tenant limit (`operators`
 * rows beside their `users` rows). Passwords and sessions are the people's (`users`, `sessions`);
 * what differs is written here, each change with its event in one transaction.
 */
export interface OperatorsStore {
  /** The user and the operator row together; USER_EXISTS when the email is taken. */
  create(tenantId: string, operator: Operator, passwordHash: string, event: AuditEvent): Promise<void>;
  find(tenantId: string, id: string): Promise<Operator | null>;
  /** Operators oldest first; with `tenant`, only those limited to that slug. */
  list(tenantId: string, filter: { tenant?: string }, page: PageRequest): Promise<Page<Operator>>;
  /**
   * Writes the operator's `fields`, and only those (a change read before a concurrent one must not
   * write the other's field back); `endSessions` deletes every session of theirs in the same
   * transaction. False, and nothing written, when there is no such operator.
   */
  update(
    tenantId: string,
    operator: Operator,
    options: { fields: readonly ('name' | 'scopes' | 'tenant' | 'disabledAt')[]; endSessions: boolean; at: number },
    event: AuditEvent,
  ): Promise<boolean>;
  /** Sets a new password hash and ends every session and reset link of the operator. False when there is no such operator. */
  setPassword(tenantId: string, id: string, passwordHash: string, at: number, event: AuditEvent): Promise<boolean>;
  /** Deletes the operator, their sessions and their user. False when there is no such operator. */
  delete(tenantId: string, id: string, event: AuditEvent): Promise<boolean>;
  findSession(hash: string): Promise<StoredSession | null>;
  /** Moves the session's idle deadline to `expiresAt` if that is later than the stored one. */
  slideSession(hash: string, expiresAt: number): Promise<void>;
}

type OperatorRow = { id: string; email: string; name: string | null; scopes: string; tenant: string | null; created_at: number | string; disabled_at: number | string | null };

function rowToOperator(row: OperatorRow): Operator {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    tenant: row.tenant,
    createdAt: Number(row.created_at),
    disabledAt: row.disabled_at === null ? null : Number(row.disabled_at),
  };
}

function selectOperators(db: Db, tenantId: string) {
  return db
    .selectFrom('operators')
    .innerJoin('users', 'users.id', 'operators.user_id')
    .select(['users.id as id', 'users.email as email', 'users.name as name', 'operators.scopes as scopes', 'operators.tenant as tenant', 'operators.created_at as created_at', 'users.disabled_at as disabled_at'])
    .where('users.tenant_id', '=', tenantId);
}

/** How a tenant's operators leave with it (only the system tenant has any), before its users. */
export const OPERATOR_TENANT_ROWS: TenantRows<'operators'> = {
  operators: (trx, tenantId) => trx.deleteFrom('operators').where('user_id', 'in', trx.selectFrom('users').select('id').where('tenant_id', '=', tenantId)).execute(),
};

/**
 * Disables every enabled operator limited to the tenant `slug` and ends their sessions, so a
 * tenant made later under that slug starts with no operator who reaches it. Returns their ids.
 */
export async function disableOperatorsLimitedTo(trx: Transaction<Database>, slug: string, at: number): Promise<string[]> {
  const rows = await trx
    .selectFrom('operators')
    .innerJoin('users', 'users.id', 'operators.user_id')
    .select('users.id as id')
    .where('operators.tenant', '=', slug)
    .where('users.disabled_at', 'is', null)
    .execute();
  const ids = rows.map((r) => r.id);
  if (ids.length === 0) return [];
  await trx.updateTable('users').set({ disabled_at: at, updated_at: at }).where('id', 'in', ids).execute();
  await trx.deleteFrom('sessions').where('user_id', 'in', ids).execute();
  return ids;
}

export class KyselyOperatorsStore implements OperatorsStore {
  constructor(private readonly k: KyselyContext) {}

  create(tenantId: string, operator: Operator, passwordHash: string, event: AuditEvent): Promise<void> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('users')
            .values({
              id: operator.id,
              tenant_id: tenantId,
              email: operator.email,
              name: operator.name,
              password_hash: passwordHash,
              created_at: operator.createdAt,
              updated_at: operator.createdAt,
              disabled_at: operator.disabledAt,
            })
            .execute();
          await trx.insertInto('operators').values({ user_id: operator.id, scopes: JSON.stringify(operator.scopes), tenant: operator.tenant, created_at: operator.createdAt }).execute();
          await insertEvents(trx, [event]);
        }),
      'USER_EXISTS',
    );
  }

  find(tenantId: string, id: string): Promise<Operator | null> {
    return this.k.guard(async () => {
      const row = await selectOperators(this.k.db, tenantId).where('users.id', '=', id).executeTakeFirst();
      return row ? rowToOperator(row) : null;
    });
  }

  list(tenantId: string, filter: { tenant?: string }, page: PageRequest): Promise<Page<Operator>> {
    return this.k.guard(async () => {
      let query = selectOperators(this.k.db, tenantId);
      if (filter.tenant !== undefined) query = query.where('operators.tenant', '=', filter.tenant);
      if (page.after !== null) query = query.where('users.id', '>', page.after);
      const rows = await query.orderBy('users.id').limit(page.limit + 1).execute();
      const more = rows.length > page.limit;
      const items = (more ? rows.slice(0, page.limit) : rows).map(rowToOperator);
      return { items, next: more ? items[items.length - 1]!.id : null };
    });
  }

  update(
    tenantId: string,
    operator: Operator,
    options: { fields: readonly ('name' | 'scopes' | 'tenant' | 'disabledAt')[]; endSessions: boolean; at: number },
    event: AuditEvent,
  ): Promise<boolean> {
    const fields = new Set(options.fields);
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const users = await trx
          .updateTable('users')
          .set({
            ...(fields.has('name') ? { name: operator.name } : {}),
            ...(fields.has('disabledAt') ? { disabled_at: operator.disabledAt } : {}),
            updated_at: options.at,
          })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', operator.id)
          .where('id', 'in', trx.selectFrom('operators').select('user_id'))
          .executeTakeFirst();
        if (Number(users.numUpdatedRows) === 0) return false;
        if (fields.has('scopes') || fields.has('tenant')) {
          await trx
            .updateTable('operators')
            .set({
              ...(fields.has('scopes') ? { scopes: JSON.stringify(operator.scopes) } : {}),
              ...(fields.has('tenant') ? { tenant: operator.tenant } : {}),
            })
            .where('user_id', '=', operator.id)
            .execute();
        }
        if (options.endSessions) await trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).where('user_id', '=', operator.id).execute();
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  setPassword(tenantId: string, id: string, passwordHash: string, at: number, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const users = await trx
          .updateTable('users')
          .set({ password_hash: passwordHash, updated_at: at })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .where('id', 'in', trx.selectFrom('operators').select('user_id'))
          .executeTakeFirst();
        if (Number(users.numUpdatedRows) === 0) return false;
        // Whoever knew the old password may hold a session: it ends here.
        await trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).where('user_id', '=', id).execute();
        await trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).where('user_id', '=', id).execute();
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  delete(tenantId: string, id: string, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const found = await selectOperators(trx, tenantId).where('users.id', '=', id).executeTakeFirst();
        if (!found) return false;
        await trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).where('user_id', '=', id).execute();
        await trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).where('user_id', '=', id).execute();
        await trx.deleteFrom('operators').where('user_id', '=', id).execute();
        await trx.deleteFrom('users').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  findSession(hash: string): Promise<StoredSession | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('sessions').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? { tenantId: row.tenant_id, userId: row.user_id, createdAt: Number(row.created_at), expiresAt: Number(row.expires_at) } : null;
    });
  }

  slideSession(hash: string, expiresAt: number): Promise<void> {
    return this.k.guard(async () => {
      // Only forward: of two requests sliding at once, the earlier deadline never wins.
      await this.k.db.updateTable('sessions').set({ expires_at: expiresAt }).where('hash', '=', hash).where('expires_at', '<', expiresAt).execute();
    });
  }
}
