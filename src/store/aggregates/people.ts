import { sql, type Expression, type Kysely, type Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import type { Revocation } from '../../domain/clients.js';
import type { AuthorizationCode, Grant, Interaction, RefreshToken, User } from '../../domain/people.js';
import type { Dialect } from '../dialect.js';
import { numberOrNull, paginate, PreparedQuery, type Db, type KyselyContext, type TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import { containsAny } from '../search.js';
import type { AuthorizationCodesTable, Database, GrantsTable, InteractionsTable, RefreshTokensTable, UsersTable } from '../schema.js';
import { insertEvents } from './audit.js';
import { deleteMembershipsOfUser } from './consumers.js';
import { insertRevocations, type RevocationFactory } from './tokens.js';

/** People and what they hold: users, sessions, pending authorizations, grants, codes, refresh tokens, password resets. */
export interface PeopleStore {
  createUser(user: User, passwordHash: string, event: AuditEvent): Promise<void>;
  findUser(tenantId: string, id: string): Promise<User | null>;
  findUserByEmail(tenantId: string, email: string): Promise<{ user: User; passwordHash: string } | null>;
  /** `search`: a case-insensitive part of the user's email or name. */
  listUsers(tenantId: string, page: PageRequest, options?: { search?: string }): Promise<Page<User>>;
  /**
   * Writes the user's `fields` that changed, and only those: a change read before a concurrent
   * one (a rename before a disable) must not write the other's field back. A new email ends the
   * reset links sent to the old one. With `endAccess` (the user is being disabled), also ends
   * their sessions, unused codes, reset links and refresh tokens and cuts off each live grant, in
   * the same transaction; returns the cut-offs recorded.
   */
  updateUser(
    user: User,
    options: { fields: readonly ('name' | 'email' | 'disabledAt')[]; endAccess: RevocationFactory | null; at: number },
    event: AuditEvent,
  ): Promise<Revocation[]>;
  /** Ends the user's access as `updateUser` does, then deletes the user with their grants; null when no such user. */
  deleteUser(tenantId: string, id: string, options: { at: number; revocation: RevocationFactory }, event: AuditEvent): Promise<Revocation[] | null>;

  createSession(hash: string, tenantId: string, userId: string, createdAt: number, expiresAt: number): Promise<void>;
  findSession(hash: string): Promise<{ tenantId: string; userId: string; expiresAt: number } | null>;
  deleteSession(hash: string): Promise<void>;

  /**
   * Stores a pending authorization, then drops the oldest of its source address beyond
   * `bounds.perSource` and of its client beyond `bounds.perClient`, in one transaction.
   */
  createInteraction(interaction: Interaction, bounds: { perSource: number; perClient: number }): Promise<void>;
  findInteraction(tenantId: string, id: string): Promise<Interaction | null>;
  deleteInteraction(id: string): Promise<void>;

  /** The user's live grant to the client for the API, if any. */
  findGrant(tenantId: string, userId: string, clientId: string, apiId: string): Promise<Grant | null>;
  findGrantById(tenantId: string, id: string): Promise<Grant | null>;
  /** Inserts the grant, or updates its scopes when it exists. */
  saveGrant(grant: Grant, event: AuditEvent): Promise<void>;
  listGrants(tenantId: string, userId: string, page: PageRequest): Promise<Page<Grant>>;
  /** Revokes the grant and every refresh token of it. False when there was no live grant. */
  revokeGrant(tenantId: string, id: string, at: number, event: AuditEvent): Promise<boolean>;
  touchGrant(grantId: string, at: number): Promise<void>;

  createCode(code: AuthorizationCode): Promise<void>;
  /** Marks the code used; `first` is false when it had been used already (a replay). */
  consumeCode(hash: string, now: number): Promise<{ code: AuthorizationCode; first: boolean } | null>;

  createRefreshToken(token: RefreshToken): Promise<void>;
  /**
   * Stores a token that a grant produced (a code exchange or a refresh) only while the grant is
   * live, its person enabled and, with `replaces` (the hash of the token it rotates), that token
   * not revoked since: checked by the INSERT itself, so a revoke, disable, delete or password reset
   * that committed after the caller's own checks still ends what it issues. Each of those writes
   * the person's row (a grant revoke: the grant's row) before it revokes refresh tokens, in one
   * transaction; on PostgreSQL this insert first takes a shared lock on both rows, so either it
   * waits for such a writer and its INSERT then sees what that writer committed, or the writer
   * waits for it and its revoking UPDATE then sees the new row. SQLite runs one write at a time:
   * the single INSERT is enough. With `touchGrantAt`, also records the grant's use, in the same
   * transaction. False, and nothing written, when the grant, its person or the replaced token no
   * longer qualifies.
   */
  createRefreshTokenOfLiveGrant(token: RefreshToken, options?: { touchGrantAt?: number; replaces?: string }): Promise<boolean>;
  /**
   * Marks the token rotated; `won` is false when it was already rotated or revoked. The winner
   * also gets, from the same statement, its grant while live and whether the grant's person may
   * still use it.
   */
  rotateRefreshToken(hash: string, now: number): Promise<RefreshRotation | null>;
  findRefreshToken(hash: string): Promise<RefreshToken | null>;

  /** Stores a reset link's hash; with `event` (an operator sent it), writes the event in the same transaction. */
  createPasswordReset(hash: string, tenantId: string, userId: string, expiresAt: number, options?: { event?: AuditEvent }): Promise<void>;
  /** The user of a live, unused reset token of the tenant; null otherwise. Uses nothing up. */
  findPasswordReset(hash: string, tenantId: string, now: number): Promise<{ userId: string } | null>;
  /**
   * In one transaction: uses up a live reset token of the tenant and every other reset token of
   * its user, sets the user's new password,
   * ends every session of the user and revokes every refresh token of theirs (so every grant's
   * refresh family ends), and writes the event. Null, and nothing changed, when the token is not
   * live (unknown, used, expired, or another tenant's).
   */
  completePasswordReset(
    reset: { hash: string; tenantId: string; passwordHash: string; at: number },
    event: (userId: string) => AuditEvent,
  ): Promise<{ userId: string } | null>;
}

/** What the refresh grant needs of the grant it rotates under: null once revoked or deleted. */
export type GrantInUse = Pick<Grant, 'id' | 'userId' | 'scopes' | 'lastUsedAt'>;

/** A rotation: the token as it now is, and for the winner its grant and person read with it. */
export type RefreshRotation = { token: RefreshToken; won: false } | { token: RefreshToken; won: true; grant: GrantInUse | null; personEnabled: boolean };

export function rowToUser(row: UsersTable): User {
  return { id: row.id, tenantId: row.tenant_id, email: row.email, name: row.name, createdAt: Number(row.created_at), disabledAt: row.disabled_at === null ? null : Number(row.disabled_at) };
}

export function rowToGrant(row: GrantsTable): Grant {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    clientId: row.client_id,
    apiId: row.api_id,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: Number(row.created_at),
    lastUsedAt: numberOrNull(row.last_used_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function rowToCode(row: AuthorizationCodesTable): AuthorizationCode {
  return {
    hash: row.hash,
    tenantId: row.tenant_id,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    apiId: row.api_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    scopes: JSON.parse(row.scopes) as string[],
    expiresAt: Number(row.expires_at),
    usedAt: numberOrNull(row.used_at),
  };
}

export function codeToRow(code: AuthorizationCode): AuthorizationCodesTable {
  return {
    hash: code.hash,
    tenant_id: code.tenantId,
    grant_id: code.grantId,
    client_id: code.clientId,
    user_id: code.userId,
    api_id: code.apiId,
    redirect_uri: code.redirectUri,
    code_challenge: code.codeChallenge,
    scopes: JSON.stringify(code.scopes),
    expires_at: code.expiresAt,
    used_at: code.usedAt,
  };
}

export function rowToRefreshToken(row: RefreshTokensTable): RefreshToken {
  return {
    hash: row.hash,
    familyId: row.family_id,
    tenantId: row.tenant_id,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    apiId: row.api_id,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    familyExpiresAt: Number(row.family_expires_at),
    rotatedAt: numberOrNull(row.rotated_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function refreshToRow(token: RefreshToken): RefreshTokensTable {
  return {
    hash: token.hash,
    family_id: token.familyId,
    tenant_id: token.tenantId,
    grant_id: token.grantId,
    client_id: token.clientId,
    user_id: token.userId,
    api_id: token.apiId,
    scopes: JSON.stringify(token.scopes),
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    family_expires_at: token.familyExpiresAt,
    rotated_at: token.rotatedAt,
    revoked_at: token.revokedAt,
  };
}

export function interactionToRow(i: Interaction): InteractionsTable {
  return {
    id: i.id,
    tenant_id: i.tenantId,
    client_id: i.clientId,
    api_id: i.apiId,
    redirect_uri: i.redirectUri,
    state: i.state,
    code_challenge: i.codeChallenge,
    scopes: JSON.stringify(i.scopes),
    source: i.source,
    created_at: i.createdAt,
    expires_at: i.expiresAt,
  };
}

export function rowToInteraction(row: InteractionsTable): Interaction {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    apiId: row.api_id,
    redirectUri: row.redirect_uri,
    state: row.state,
    codeChallenge: row.code_challenge,
    scopes: JSON.parse(row.scopes) as string[],
    source: row.source,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

/** How a tenant's people and all they hold leave with it, users last. */
export const PEOPLE_TENANT_ROWS: TenantRows<'sessions' | 'authorization_codes' | 'refresh_tokens' | 'grants' | 'password_resets' | 'interactions' | 'users'> = {
  sessions: (trx, tenantId) => trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).execute(),
  authorization_codes: (trx, tenantId) => trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).execute(),
  refresh_tokens: (trx, tenantId) => trx.deleteFrom('refresh_tokens').where('tenant_id', '=', tenantId).execute(),
  grants: (trx, tenantId) => trx.deleteFrom('grants').where('tenant_id', '=', tenantId).execute(),
  password_resets: (trx, tenantId) => trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).execute(),
  interactions: (trx, tenantId) => trx.deleteFrom('interactions').where('tenant_id', '=', tenantId).execute(),
  users: (trx, tenantId) => trx.deleteFrom('users').where('tenant_id', '=', tenantId).execute(),
};

/** The ids of the people's grants on the API that are not revoked. */
export async function liveGrantIdsOfApi(db: Db, apiId: string): Promise<string[]> {
  return (await db.selectFrom('grants').select('id').where('api_id', '=', apiId).where('revoked_at', 'is', null).execute()).map((g) => g.id);
}

/** Deletes the people's codes, refresh tokens, pending authorizations and grants for the API. */
export async function deleteDelegationsOfApi(db: Db, apiId: string): Promise<void> {
  await db.deleteFrom('authorization_codes').where('api_id', '=', apiId).execute();
  await db.deleteFrom('refresh_tokens').where('api_id', '=', apiId).execute();
  await db.deleteFrom('interactions').where('api_id', '=', apiId).execute();
  await db.deleteFrom('grants').where('api_id', '=', apiId).execute();
}

/**
 * Deletes what can no longer matter: expired sessions, pending authorizations, codes and password
 * resets, and refresh tokens whose family has expired. Returns how many rows went.
 */
export async function pruneExpiredPeopleRows(db: Db, now: number): Promise<number> {
  let deleted = 0;
  const count = (result: { numDeletedRows: bigint }[]) => result.reduce((n, r) => n + Number(r.numDeletedRows), 0);
  deleted += count(await db.deleteFrom('sessions').where('expires_at', '<=', now).execute());
  deleted += count(await db.deleteFrom('interactions').where('expires_at', '<=', now).execute());
  deleted += count(await db.deleteFrom('authorization_codes').where('expires_at', '<=', now).execute());
  deleted += count(await db.deleteFrom('password_resets').where('expires_at', '<=', now).execute());
  // A refresh token is kept while its family lives, so reuse of a rotated one is still recognised.
  deleted += count(await db.deleteFrom('refresh_tokens').where('family_expires_at', '<=', now).execute());
  return deleted;
}

/**
 * The refresh grant's statements, built and compiled once (see `PreparedQuery`): it runs the
 * rotation and the insert per request, and a point query costs less than building it.
 */
function refreshStatements(db: Kysely<Database>, dialect: Dialect) {
  const liveGrant = (tenantId: string | Expression<string>, grantId: string | Expression<string>) =>
    db.selectFrom('grants').where('grants.tenant_id', '=', tenantId).where('grants.id', '=', grantId).where('grants.revoked_at', 'is', null);
  const enabledPersonOf = (tenantId: string | Expression<string>, grantId: string | Expression<string>) =>
    liveGrant(tenantId, grantId)
      .innerJoin('users', (join) => join.onRef('users.tenant_id', '=', 'grants.tenant_id').onRef('users.id', '=', 'grants.user_id'))
      .where('users.disabled_at', 'is', null)
      .select('users.id');
  const bigint = <K extends string>(slot: (name: K) => number, name: K) => sql<number>`${slot(name)}${dialect.bigint}`;
  type NewToken = Omit<RefreshTokensTable, 'rotated_at' | 'revoked_at'> & { replaces: string | null };
  return {
    // The grant and its person come back from the rotating UPDATE itself (scalar subqueries in
    // RETURNING), so the winner needs no second read.
    rotate: PreparedQuery.of<{ hash: string; now: number }, RefreshTokensTable & { grant_user_id: string | null; grant_scopes: string | null; grant_last_used_at: number | string | null; person_id: string | null }>(db, (slot) =>
      db
        .updateTable('refresh_tokens')
        .set({ rotated_at: slot('now') })
        .where('hash', '=', slot('hash'))
        .where('rotated_at', 'is', null)
        .where('revoked_at', 'is', null)
        .returningAll()
        .returning((eb) => {
          const tenantId = eb.ref('refresh_tokens.tenant_id');
          const grantId = eb.ref('refresh_tokens.grant_id');
          const grant = liveGrant(tenantId, grantId);
          return [
            grant.select('grants.user_id').as('grant_user_id'),
            grant.select('grants.scopes').as('grant_scopes'),
            grant.select('grants.last_used_at').as('grant_last_used_at'),
            enabledPersonOf(tenantId, grantId).as('person_id'),
          ];
        }),
    ),
    // INSERT … SELECT … WHERE EXISTS: the row is written only while the grant is live, its
    // person enabled and the token it replaces (if any) not revoked, at the moment of writing: a
    // password reset changes nothing else the check reads, but it revokes rotated tokens too.
    // `hash = null` matches nothing, so a code exchange (no token replaced) passes that part.
    // PostgreSQL types a bound value of a SELECT list as text, so the times are cast.
    insertOfLiveGrant: PreparedQuery.of<NewToken, never>(db, (slot) =>
      db
        .insertInto('refresh_tokens')
        .columns(['hash', 'family_id', 'tenant_id', 'grant_id', 'client_id', 'user_id', 'api_id', 'scopes', 'created_at', 'expires_at', 'family_expires_at'])
        .expression(
          db
            .selectNoFrom((eb) => [
              eb.val(slot('hash')).as('hash'),
              eb.val(slot('family_id')).as('family_id'),
              eb.val(slot('tenant_id')).as('tenant_id'),
              eb.val(slot('grant_id')).as('grant_id'),
              eb.val(slot('client_id')).as('client_id'),
              eb.val(slot('user_id')).as('user_id'),
              eb.val(slot('api_id')).as('api_id'),
              eb.val(slot('scopes')).as('scopes'),
              bigint(slot, 'created_at').as('created_at'),
              bigint(slot, 'expires_at').as('expires_at'),
              bigint(slot, 'family_expires_at').as('family_expires_at'),
            ])
            .where((eb) => eb.exists(enabledPersonOf(slot('tenant_id'), slot('grant_id'))))
            .where((eb) =>
              eb.not(
                eb.exists(
                  db
                    .selectFrom('refresh_tokens as replaced')
                    .select('replaced.hash')
                    .where('replaced.hash', '=', slot('replaces') as string)
                    .where('replaced.revoked_at', 'is not', null),
                ),
              ),
            ),
        ),
    ),
    touchGrant: PreparedQuery.of<{ id: string; at: number }, never>(db, (slot) =>
      db
        .updateTable('grants')
        .set({ last_used_at: sql<number>`case when last_used_at is null or last_used_at < ${slot('at')} then ${slot('at')} else last_used_at end` })
        .where('id', '=', slot('id')),
    ),
  };
}

export class KyselyPeopleStore implements PeopleStore {
  private readonly refresh: ReturnType<typeof refreshStatements>;

  constructor(private readonly k: KyselyContext) {
    this.refresh = refreshStatements(k.db, k.dialect);
  }

  createUser(user: User, passwordHash: string, event: AuditEvent): Promise<void> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('users')
            .values({ id: user.id, tenant_id: user.tenantId, email: user.email, name: user.name, password_hash: passwordHash, created_at: user.createdAt, updated_at: user.createdAt })
            .execute();
          await insertEvents(trx, [event]);
        }),
      'USER_EXISTS',
    );
  }

  findUser(tenantId: string, id: string): Promise<User | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? rowToUser(row) : null;
    }, 'USER_EXISTS');
  }

  findUserByEmail(tenantId: string, email: string): Promise<{ user: User; passwordHash: string } | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('email', '=', email).executeTakeFirst();
      return row ? { user: rowToUser(row), passwordHash: row.password_hash } : null;
    }, 'USER_EXISTS');
  }

  listUsers(tenantId: string, page: PageRequest, options: { search?: string } = {}): Promise<Page<User>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId);
      if (options.search) query = query.where(containsAny(['email', 'name'], options.search));
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToUser);
    }, 'USER_EXISTS');
  }

  updateUser(
    user: User,
    options: { fields: readonly ('name' | 'email' | 'disabledAt')[]; endAccess: RevocationFactory | null; at: number },
    event: AuditEvent,
  ): Promise<Revocation[]> {
    const fields = new Set(options.fields);
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          // The users row is written before endUserAccess revokes refresh tokens: a refresh storing
          // its next token serializes on it (see createRefreshTokenOfLiveGrant).
          await trx
            .updateTable('users')
            .set({
              ...(fields.has('name') ? { name: user.name } : {}),
              ...(fields.has('email') ? { email: user.email } : {}),
              ...(fields.has('disabledAt') ? { disabled_at: user.disabledAt } : {}),
              updated_at: options.at,
            })
            .where('tenant_id', '=', user.tenantId)
            .where('id', '=', user.id)
            .execute();
          // Links sent to the old address must not set the password of the account it left.
          if (fields.has('email')) await trx.deleteFrom('password_resets').where('tenant_id', '=', user.tenantId).where('user_id', '=', user.id).execute();
          const cutOffs = options.endAccess === null ? [] : await endUserAccess(trx, user.tenantId, user.id, options.at, options.endAccess);
          await insertEvents(trx, [event]);
          return cutOffs;
        }),
      'USER_EXISTS',
    );
  }

  deleteUser(tenantId: string, id: string, options: { at: number; revocation: RevocationFactory }, event: AuditEvent): Promise<Revocation[] | null> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          // The person's row first: a refresh storing a token waits, or is waited for (see
          // createRefreshTokenOfLiveGrant).
          await this.k.dialect.lockRows(trx, 'users', [id], { tenantId });
          const found = await trx.selectFrom('users').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
          if (!found) return null;
          const cutOffs = await endUserAccess(trx, tenantId, id, options.at, options.revocation);
          await deleteUserRows(trx, tenantId, id);
          await insertEvents(trx, [event]);
          return cutOffs;
        }),
      'USER_EXISTS',
    );
  }

  createSession(hash: string, tenantId: string, userId: string, createdAt: number, expiresAt: number): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.insertInto('sessions').values({ hash, tenant_id: tenantId, user_id: userId, created_at: createdAt, expires_at: expiresAt }).execute();
    });
  }

  findSession(hash: string): Promise<{ tenantId: string; userId: string; expiresAt: number } | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('sessions').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? { tenantId: row.tenant_id, userId: row.user_id, expiresAt: Number(row.expires_at) } : null;
    });
  }

  deleteSession(hash: string): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.deleteFrom('sessions').where('hash', '=', hash).execute();
    });
  }

  createInteraction(interaction: Interaction, bounds: { perSource: number; perClient: number }): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        await trx.insertInto('interactions').values(interactionToRow(interaction)).execute();
        await trimInteractions(trx, interaction.tenantId, 'source', interaction.source, bounds.perSource);
        await trimInteractions(trx, interaction.tenantId, 'client_id', interaction.clientId, bounds.perClient);
      }),
    );
  }

  findInteraction(tenantId: string, id: string): Promise<Interaction | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('interactions').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? rowToInteraction(row) : null;
    });
  }

  deleteInteraction(id: string): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.deleteFrom('interactions').where('id', '=', id).execute();
    });
  }

  findGrant(tenantId: string, userId: string, clientId: string, apiId: string): Promise<Grant | null> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('grants')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .where('api_id', '=', apiId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? rowToGrant(row) : null;
    });
  }

  findGrantById(tenantId: string, id: string): Promise<Grant | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('grants').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? rowToGrant(row) : null;
    });
  }

  saveGrant(grant: Grant, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const existing = await trx.selectFrom('grants').select('id').where('id', '=', grant.id).executeTakeFirst();
        if (existing) await trx.updateTable('grants').set({ scopes: JSON.stringify(grant.scopes) }).where('id', '=', grant.id).execute();
        else {
          await trx
            .insertInto('grants')
            .values({
              id: grant.id,
              tenant_id: grant.tenantId,
              user_id: grant.userId,
              client_id: grant.clientId,
              api_id: grant.apiId,
              scopes: JSON.stringify(grant.scopes),
              created_at: grant.createdAt,
              last_used_at: grant.lastUsedAt,
              revoked_at: null,
            })
            .execute();
        }
        await insertEvents(trx, [event]);
      }),
    );
  }

  listGrants(tenantId: string, userId: string, page: PageRequest): Promise<Page<Grant>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('grants').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToGrant);
    });
  }

  revokeGrant(tenantId: string, id: string, at: number, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('grants')
          .set({ revoked_at: at })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) return false;
        // The grant's row is written first: a refresh storing its next token serializes on it.
        await trx.updateTable('refresh_tokens').set({ revoked_at: at }).where('grant_id', '=', id).where('revoked_at', 'is', null).execute();
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  touchGrant(grantId: string, at: number): Promise<void> {
    return this.k.guard(async () => {
      await this.k.run(this.refresh.touchGrant, { id: grantId, at });
    });
  }

  createCode(code: AuthorizationCode): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.insertInto('authorization_codes').values(codeToRow(code)).execute();
    });
  }

  /** Marks the code used if it was not; returns the code and whether this call was its first use. */
  consumeCode(hash: string, now: number): Promise<{ code: AuthorizationCode; first: boolean } | null> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const result = await trx.updateTable('authorization_codes').set({ used_at: now }).where('hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
        const row = await trx.selectFrom('authorization_codes').selectAll().where('hash', '=', hash).executeTakeFirst();
        return row ? { code: rowToCode(row), first: Number(result.numUpdatedRows) === 1 } : null;
      }),
    );
  }

  createRefreshToken(token: RefreshToken): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.insertInto('refresh_tokens').values(refreshToRow(token)).execute();
    });
  }

  createRefreshTokenOfLiveGrant(token: RefreshToken, options: { touchGrantAt?: number; replaces?: string } = {}): Promise<boolean> {
    const { rotated_at: _rotated, revoked_at: _revoked, ...fields } = refreshToRow(token);
    const row = { ...fields, replaces: options.replaces ?? null };
    const { touchGrantAt } = options;
    const { dialect } = this.k;
    return this.k.guard(async () => {
      // SQLite: the one statement, straight on the connection, as before.
      if (touchGrantAt === undefined && dialect.serialWrites) return Number((await this.k.run(this.refresh.insertOfLiveGrant, row)).numAffectedRows) === 1;
      return this.k.db.transaction().execute(async (trx) => {
        // PostgreSQL: the person's row, then the grant's, the order every writer of both takes
        // (deleteUser). Shared, so refreshes do not wait for each other; a refresh that touches
        // the grant takes it for update, as its UPDATE would, so two of them cannot deadlock
        // each holding a shared lock the other's UPDATE waits for. Nothing on SQLite.
        await dialect.lockRows(trx, 'users', [token.userId], { tenantId: token.tenantId, share: true });
        await dialect.lockRows(trx, 'grants', [token.grantId], { tenantId: token.tenantId, share: touchGrantAt === undefined });
        if (Number((await this.k.run(this.refresh.insertOfLiveGrant, row, trx)).numAffectedRows) !== 1) return false;
        if (touchGrantAt !== undefined) await this.k.run(this.refresh.touchGrant, { id: token.grantId, at: touchGrantAt }, trx);
        return true;
      });
    });
  }

  rotateRefreshToken(hash: string, now: number): Promise<RefreshRotation | null> {
    return this.k.guard(async () => {
      // The common case is one statement: the winner gets the row, its grant and its person back
      // from the UPDATE itself.
      const [won] = (await this.k.run(this.refresh.rotate, { hash, now })).rows;
      if (won) {
        const grant = won.grant_user_id === null ? null : { id: won.grant_id, userId: won.grant_user_id, scopes: JSON.parse(won.grant_scopes!) as string[], lastUsedAt: numberOrNull(won.grant_last_used_at) };
        return { token: rowToRefreshToken(won), won: true, grant, personEnabled: won.person_id !== null };
      }
      const row = await this.k.db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? { token: rowToRefreshToken(row), won: false } : null;
    });
  }

  findRefreshToken(hash: string): Promise<RefreshToken | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? rowToRefreshToken(row) : null;
    });
  }

  createPasswordReset(hash: string, tenantId: string, userId: string, expiresAt: number, options: { event?: AuditEvent } = {}): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        await trx.insertInto('password_resets').values({ hash, tenant_id: tenantId, user_id: userId, expires_at: expiresAt, used_at: null }).execute();
        if (options.event) await insertEvents(trx, [options.event]);
      }),
    );
  }

  findPasswordReset(hash: string, tenantId: string, now: number): Promise<{ userId: string } | null> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('password_resets')
        .select('user_id')
        .where('hash', '=', hash)
        .where('tenant_id', '=', tenantId)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      return row ? { userId: row.user_id } : null;
    });
  }

  completePasswordReset(
    reset: { hash: string; tenantId: string; passwordHash: string; at: number },
    event: (userId: string) => AuditEvent,
  ): Promise<{ userId: string } | null> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        // The conditional UPDATE is the single use: of two concurrent completions, one matches.
        const used = await trx
          .updateTable('password_resets')
          .set({ used_at: reset.at })
          .where('hash', '=', reset.hash)
          .where('tenant_id', '=', reset.tenantId)
          .where('used_at', 'is', null)
          .where('expires_at', '>', reset.at)
          .returning('user_id')
          .executeTakeFirst();
        if (used === undefined) return null;
        const userId = used.user_id;
        // Before the refresh tokens are revoked: a refresh storing its next token serializes on
        // this row, and the revoke below marks rotated tokens too, which its INSERT checks.
        await trx.updateTable('users').set({ password_hash: reset.passwordHash, updated_at: reset.at }).where('tenant_id', '=', reset.tenantId).where('id', '=', userId).execute();
        // Whoever knew the old password may hold a session or a refresh token: both end here.
        await trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
        await trx.updateTable('refresh_tokens').set({ revoked_at: reset.at }).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
        // The person's other links end too: whoever read one of them must not set it again.
        await trx.updateTable('password_resets').set({ used_at: reset.at }).where('tenant_id', '=', reset.tenantId).where('user_id', '=', userId).where('used_at', 'is', null).execute();
        await insertEvents(trx, [event(userId)]);
        return { userId };
      }),
    );
  }
}

/**
 * Keeps the newest `keep` pending authorizations of one source address or one client. Ids grow
 * with time, so the `keep`-th newest id is the cut: everything older goes.
 */
async function trimInteractions(db: Db, tenantId: string, column: 'source' | 'client_id', value: string, keep: number): Promise<void> {
  const cut = await db
    .selectFrom('interactions')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where(column, '=', value)
    .orderBy('id', 'desc')
    .limit(1)
    .offset(keep - 1)
    .executeTakeFirst();
  if (cut === undefined) return;
  await db.deleteFrom('interactions').where('tenant_id', '=', tenantId).where(column, '=', value).where('id', '<', cut.id).execute();
}

/**
 * Ends everything a person holds: sessions, unused codes and reset links, refresh tokens, and
 * (through a grant cut-off recorded for each live grant) the access tokens of their grants.
 * Returns the cut-offs recorded.
 */
async function endUserAccess(trx: Transaction<Database>, tenantId: string, userId: string, at: number, revocation: RevocationFactory): Promise<Revocation[]> {
  await trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('used_at', 'is', null).execute();
  await trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.updateTable('refresh_tokens').set({ revoked_at: at }).where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  const grants = await trx.selectFrom('grants').select('id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return insertRevocations(trx, grants.map((g) => revocation({ kind: 'grant', subject: g.id, notBefore: Math.floor(at / 1000), expiresAt: null })));
}

/** Deletes the user and what can only be theirs; call `endUserAccess` first. */
async function deleteUserRows(trx: Transaction<Database>, tenantId: string, userId: string): Promise<void> {
  await trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('refresh_tokens').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('grants').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await deleteMembershipsOfUser(trx, tenantId, userId);
  await trx.deleteFrom('users').where('tenant_id', '=', tenantId).where('id', '=', userId).execute();
}
