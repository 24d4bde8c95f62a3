import type { Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import type { Consumer, ConsumerGrant } from '../../domain/consumers.js';
import { KeygateError } from '../../domain/errors.js';
import type { ApiKey } from '../../domain/keys/key.js';
import { numberOrNull, paginate, type Db, type KyselyContext, type TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import type { ConsumersTable, Database } from '../schema.js';
import { containsAny } from '../search.js';
import { insertEvents } from './audit.js';
import { insertKey, rowToKey, subtreeIds, writeKeyChanges } from './keys.js';

export interface ConsumerFilter {
  search?: string;
}

/** A grant key about to be written: the key and the hash of the secret nobody is shown. */
export interface NewGrantKey {
  key: ApiKey;
  secretHash: string;
}

/** What one consumer update writes besides the consumer's own row, members and grants. */
export interface ConsumerKeyChanges {
  /** Grant keys of grants added now. */
  created: readonly NewGrantKey[];
  /** Grant keys whose settings changed, and the descendants they narrowed. */
  changed: readonly ApiKey[];
  /** Grant keys of grants removed now: each is revoked with its descendants and loses its mark. */
  removed: readonly string[];
  /** The grant keys the change was computed from: when the consumer's grants differ now, nothing is written (CONSUMER_CHANGED). */
  grantKeysRead: readonly string[];
  at: number;
}

/** Consumers, their members and their grants; grant keys are written with them, in one transaction. */
export interface ConsumersStore {
  /**
   * Writes the consumer, its members, its grants and their grant keys, and the event; nothing
   * when the tenant already has a consumer with its id (CONSUMER_EXISTS).
   */
  create(consumer: Consumer, grantKeys: readonly NewGrantKey[], event: AuditEvent): Promise<void>;
  find(tenantId: string, id: string): Promise<Consumer | null>;
  /** In id order; `search` keeps the consumers whose id or name contains it, in any case. */
  list(tenantId: string, page: PageRequest, filter?: ConsumerFilter): Promise<Page<Consumer>>;
  /** Every consumer of the tenant that `userId` is a member of, in id order. */
  listOfMember(tenantId: string, userId: string): Promise<Consumer[]>;
  /**
   * Replaces the consumer's name, members and grants with `consumer`'s and applies `keys`;
   * returns the ids of the keys revoked now (removed grant keys and their descendants).
   */
  update(consumer: Consumer, keys: ConsumerKeyChanges, event: AuditEvent): Promise<string[]>;
  /**
   * Deletes the consumer, revoking every grant key with its descendants (they stay, revoked and
   * unmarked, as any revoked key); returns the ids revoked now, or null for an unknown consumer.
   */
  delete(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[] | null>;
  /** The grant keys among `keyIds` (one query for a page of consumers' grants). */
  findGrantKeys(tenantId: string, keyIds: readonly string[]): Promise<ApiKey[]>;
  /** The keys under the given grant keys (never the grant keys themselves), by id. */
  listKeysUnder(tenantId: string, grantKeyIds: readonly string[], page: PageRequest): Promise<Page<ApiKey>>;
}

/** How a tenant's consumers leave with it. */
export const CONSUMER_TENANT_ROWS: TenantRows<'consumer_grants' | 'consumer_members' | 'consumers'> = {
  consumer_grants: (trx, tenantId) => trx.deleteFrom('consumer_grants').where('tenant_id', '=', tenantId).execute(),
  consumer_members: (trx, tenantId) => trx.deleteFrom('consumer_members').where('tenant_id', '=', tenantId).execute(),
  consumers: (trx, tenantId) => trx.deleteFrom('consumers').where('tenant_id', '=', tenantId).execute(),
};

/** An API's deletion takes its grant keys with its other keys; the grants on it go too. */
export async function deleteGrantsOfApi(trx: Transaction<Database>, apiId: string): Promise<void> {
  await trx.deleteFrom('consumer_grants').where('api_id', '=', apiId).execute();
}

/** A deleted user is no longer a member of any consumer. */
export async function deleteMembershipsOfUser(trx: Transaction<Database>, tenantId: string, userId: string): Promise<void> {
  await trx.deleteFrom('consumer_members').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
}

export class KyselyConsumersStore implements ConsumersStore {
  constructor(private readonly k: KyselyContext) {}

  create(consumer: Consumer, grantKeys: readonly NewGrantKey[], event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        // The primary key (tenant_id, id) decides, also between two creates at the same moment.
        await trx
          .insertInto('consumers')
          .values({ id: consumer.id, tenant_id: consumer.tenantId, name: consumer.name, created_at: consumer.createdAt, updated_at: consumer.updatedAt })
          .execute()
          .catch((err: unknown) => {
            throw this.k.dialect.isUniqueViolation(err) ? new KeygateError('CONSUMER_EXISTS', `the tenant already has a consumer "${consumer.id}"`) : err;
          });
        for (const grantKey of grantKeys) await insertKey(trx, grantKey.key, grantKey.secretHash);
        await writeMembersAndGrants(trx, consumer);
        await insertEvents(trx, [event]);
      }),
    );
  }

  find(tenantId: string, id: string): Promise<Consumer | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('consumers').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? (await withParts(this.k.db, tenantId, [row]))[0]! : null;
    });
  }

  list(tenantId: string, page: PageRequest, filter: ConsumerFilter = {}): Promise<Page<Consumer>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('consumers').selectAll().where('tenant_id', '=', tenantId);
      if (filter.search !== undefined) query = query.where(containsAny(['id', 'name'], filter.search));
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      const result = paginate(rows, page.limit, (row) => row);
      return { items: await withParts(this.k.db, tenantId, result.items), next: result.next };
    });
  }

  listOfMember(tenantId: string, userId: string): Promise<Consumer[]> {
    return this.k.guard(async () => {
      const rows = await this.k.db
        .selectFrom('consumers')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', 'in', this.k.db.selectFrom('consumer_members').select('consumer_id').where('tenant_id', '=', tenantId).where('user_id', '=', userId))
        .orderBy('id')
        .execute();
      return withParts(this.k.db, tenantId, rows);
    });
  }

  update(consumer: Consumer, keys: ConsumerKeyChanges, event: AuditEvent): Promise<string[]> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        // Two changes computed from the same grants must not both write: the second would keep a
        // grant the first removed (its key revoked) or drop a grant key the first added.
        await this.k.dialect.lockRows(trx, 'consumers', [consumer.id], { tenantId: consumer.tenantId });
        const current = (await trx.selectFrom('consumer_grants').select('key_id').where('tenant_id', '=', consumer.tenantId).where('consumer_id', '=', consumer.id).execute()).map((r) => r.key_id);
        if (current.length !== keys.grantKeysRead.length || current.some((id) => !keys.grantKeysRead.includes(id))) {
          throw new KeygateError('CONSUMER_CHANGED', `consumer "${consumer.id}" changed meanwhile: read it again and retry`);
        }
        await trx.updateTable('consumers').set({ name: consumer.name, updated_at: consumer.updatedAt }).where('id', '=', consumer.id).where('tenant_id', '=', consumer.tenantId).execute();
        await trx.deleteFrom('consumer_members').where('tenant_id', '=', consumer.tenantId).where('consumer_id', '=', consumer.id).execute();
        await trx.deleteFrom('consumer_grants').where('tenant_id', '=', consumer.tenantId).where('consumer_id', '=', consumer.id).execute();
        for (const grantKey of keys.created) await insertKey(trx, grantKey.key, grantKey.secretHash);
        await writeKeyChanges(trx, keys.changed);
        const revoked = await revokeGrantKeys(trx, consumer.tenantId, keys.removed, keys.at);
        await writeMembersAndGrants(trx, consumer);
        await insertEvents(trx, [{ ...event, data: { ...event.data, revokedKeys: revoked } }]);
        return revoked;
      }),
    );
  }

  delete(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[] | null> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const found = await trx.selectFrom('consumers').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
        if (!found) return null;
        const grantKeys = (await trx.selectFrom('consumer_grants').select('key_id').where('tenant_id', '=', tenantId).where('consumer_id', '=', id).execute()).map((r) => r.key_id);
        const revoked = await revokeGrantKeys(trx, tenantId, grantKeys, at);
        await trx.deleteFrom('consumer_grants').where('tenant_id', '=', tenantId).where('consumer_id', '=', id).execute();
        await trx.deleteFrom('consumer_members').where('tenant_id', '=', tenantId).where('consumer_id', '=', id).execute();
        await trx.deleteFrom('consumers').where('tenant_id', '=', tenantId).where('id', '=', id).execute();
        await insertEvents(trx, [{ ...event, data: { ...event.data, revokedKeys: revoked } }]);
        return revoked;
      }),
    );
  }

  findGrantKeys(tenantId: string, keyIds: readonly string[]): Promise<ApiKey[]> {
    return this.k.guard(async () => {
      if (keyIds.length === 0) return [];
      const rows = await this.k.db.selectFrom('keys').selectAll().where('tenant_id', '=', tenantId).where('id', 'in', keyIds).where('grant_of', 'is not', null).execute();
      return rows.map(rowToKey);
    });
  }

  listKeysUnder(tenantId: string, grantKeyIds: readonly string[], page: PageRequest): Promise<Page<ApiKey>> {
    return this.k.guard(async () => {
      if (grantKeyIds.length === 0) return { items: [], next: null };
      let query = this.k.db
        .withRecursive('tree(id)', (qb) =>
          qb
            .selectFrom('keys')
            .select('id')
            .where('parent_id', 'in', grantKeyIds)
            .where('tenant_id', '=', tenantId)
            .unionAll(qb.selectFrom('keys').innerJoin('tree', 'tree.id', 'keys.parent_id').select('keys.id')),
        )
        .selectFrom('keys')
        .selectAll('keys')
        .where('keys.id', 'in', (qb) => qb.selectFrom('tree').select('tree.id'));
      if (page.after !== null) query = query.where('keys.id', '>', page.after);
      const rows = await query.orderBy('keys.id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToKey);
    });
  }
}

async function writeMembersAndGrants(trx: Transaction<Database>, consumer: Consumer): Promise<void> {
  if (consumer.members.length > 0) {
    await trx
      .insertInto('consumer_members')
      .values(consumer.members.map((userId) => ({ consumer_id: consumer.id, user_id: userId, tenant_id: consumer.tenantId })))
      .execute();
  }
  if (consumer.grants.length > 0) {
    await trx
      .insertInto('consumer_grants')
      .values(consumer.grants.map((g) => ({ consumer_id: consumer.id, api_id: g.apiId, key_id: g.keyId, tenant_id: consumer.tenantId, max_keys: g.maxKeys })))
      .execute();
  }
}

/**
 * Revokes each grant key's tree and clears the key's mark: revoked for good, it is an ordinary
 * revoked key from now on (listed, deletable), and its descendants answer REVOKED at verify.
 */
async function revokeGrantKeys(trx: Transaction<Database>, tenantId: string, grantKeyIds: readonly string[], at: number): Promise<string[]> {
  const revoked: string[] = [];
  for (const grantKeyId of grantKeyIds) {
    const ids = await subtreeIds(trx, tenantId, grantKeyId);
    if (ids.length === 0) continue;
    await trx.updateTable('keys').set({ revoked_at: at, updated_at: at }).where('id', 'in', ids).where('revoked_at', 'is', null).execute();
    await trx.updateTable('keys').set({ grant_of: null }).where('id', '=', grantKeyId).execute();
    revoked.push(...ids);
  }
  return revoked;
}

/** The consumers of `rows` (all of `tenantId`) with their members and grants, in the rows' order. */
async function withParts(db: Db, tenantId: string, rows: readonly ConsumersTable[]): Promise<Consumer[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const members = await db.selectFrom('consumer_members').select(['consumer_id', 'user_id']).where('tenant_id', '=', tenantId).where('consumer_id', 'in', ids).orderBy('user_id').execute();
  const grants = await db.selectFrom('consumer_grants').selectAll().where('tenant_id', '=', tenantId).where('consumer_id', 'in', ids).orderBy('api_id').execute();
  return rows.map((row) => ({
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    members: members.filter((m) => m.consumer_id === row.id).map((m) => m.user_id),
    grants: grants
      .filter((g) => g.consumer_id === row.id)
      .map((g): ConsumerGrant => ({ apiId: g.api_id, keyId: g.key_id, maxKeys: numberOrNull(g.max_keys) })),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  }));
}
