import { Migrator, sql, type CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { AuditEvent, AuditFilter } from '../domain/audit.js';
import { KeygateError } from '../domain/errors.js';
import { SYSTEM_TENANT_SLUG } from '../domain/management.js';
import type { Api } from '../domain/apis.js';
import type { ApiKey } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import { migrationProvider } from './migrations.js';
import type { Client, Hs256Secret, IssuedToken, Revocation } from '../domain/clients.js';
import type { AuthorizationCode, Grant, Interaction, RefreshToken, User } from '../domain/people.js';
import * as lifecycle from './kysely-lifecycle-queries.js';
import * as audit from './kysely-audit-queries.js';
import * as masterKey from './kysely-master-key-queries.js';
import * as people from './kysely-people-queries.js';
import * as tokenQueries from './kysely-token-queries.js';
import {
  apiToRow,
  clientToRow,
  eventToRow,
  keyToRow,
  rowToApi,
  rowToClient,
  rowToEvent,
  rowToIssuedToken,
  rowToKey,
  rowToRevocation,
  rowToTenant,
} from './rows.js';
import type { Database, Hs256SecretsTable } from './schema.js';
import type { Dialect } from './dialect.js';
import { KyselyContext, paginate, type ConflictCode } from './kysely-context.js';
import type { PoolUsage, StoreObserver } from './store-observer.js';
import type { ApiUse, ClientSecretRecord, CreditSpend, KeyBySecret, KeyFilter, Page, PageRequest, RevocationFactory, StoredSigningKey, Store, UsageEntry } from './store.js';
import { signingKeyToRow } from './kysely-token-queries.js';

/** The cold-verify lookup: a secret's key with its API and tenant. */
function keyBySecretQuery(db: Kysely<Database>) {
  return db
    .selectFrom('key_secrets')
    .innerJoin('keys', 'keys.id', 'key_secrets.key_id')
    .innerJoin('apis', 'apis.id', 'keys.api_id')
    .innerJoin('tenants', 'tenants.id', 'keys.tenant_id')
    .selectAll('keys')
    .select([
      'key_secrets.retired_at as secret_retired_at',
      'tenants.slug as tenant_slug',
      'apis.identifier as api_identifier',
      'apis.name as api_name',
      'apis.key_prefix as api_key_prefix',
      'apis.scopes as api_scopes',
      'apis.access_token_ttl as api_access_token_ttl',
      'apis.refresh_tokens as api_refresh_tokens',
      'apis.created_at as api_created_at',
    ])
    .where('key_secrets.hash', '=', '');
}

function withParameters<R>(query: CompiledQuery<R>, parameters: readonly unknown[]): CompiledQuery<R> {
  return { ...query, parameters };
}

/** Rows per usage UPDATE: well under SQLite's 32,766 bound parameters. */
const USAGE_CHUNK = 500;

function rowToHs256(row: Hs256SecretsTable): Hs256Secret {
  return { kid: row.kid, tenantId: row.tenant_id, createdAt: Number(row.created_at), revokedAt: row.revoked_at === null ? null : Number(row.revoked_at) };
}

const UNIQUE_CODES: Record<string, ConflictCode> = {
  tenants: 'TENANT_EXISTS',
  apis: 'API_EXISTS',
  users: 'USER_EXISTS',
};

/**
 * The Store written once over Kysely. Both backends use the same SQL (JSON as text, times as
 * integers, recursive CTEs, RETURNING); `sqlite/` and `postgres/` only open the connection
 * and classify driver errors.
 */
export class KyselyStore implements Store {
  /** Compiled once: rebuilding the hottest query cost more than running it. Its one parameter is the hash. */
  private readonly keyBySecret: ReturnType<ReturnType<typeof keyBySecretQuery>['compile']>;

  readonly backend: 'sqlite' | 'postgres';
  private readonly context: KyselyContext;
  private readonly db: Kysely<Database>;
  private readonly dialect: Dialect;
  private readonly pool: (() => PoolUsage) | undefined;

  constructor(
    db: Kysely<Database>,
    dialect: Dialect,
    private readonly onClose: () => Promise<void>,
    options: { observer?: StoreObserver; poolUsage?: () => PoolUsage } = {},
  ) {
    this.context = new KyselyContext(db, dialect, options.observer);
    this.db = db;
    this.dialect = dialect;
    this.backend = dialect.name;
    this.keyBySecret = keyBySecretQuery(db).compile();
    this.pool = options.poolUsage;
  }

  poolUsage(): PoolUsage | null {
    return this.pool === undefined ? null : this.pool();
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider });
    const { error } = await migrator.migrateToLatest();
    if (error) throw this.translate(error, 'migrate');
  }

  masterKeyCheck(): Promise<string | null> {
    return this.guard('keygate_meta', () => masterKey.masterKeyCheck(this.db));
  }

  saveMasterKeyCheck(sealed: string, at: number): Promise<string> {
    return this.guard('keygate_meta', () => masterKey.saveMasterKeyCheck(this.db, sealed, at));
  }

  isEmpty(): Promise<boolean> {
    return this.guard('tenants', () => masterKey.isEmpty(this.db));
  }

  anySealedSigningKey(): Promise<{ kid: string; sealedPrivateKey: string } | null> {
    return this.guard('signing_keys', () => masterKey.anySealedSigningKey(this.db));
  }

  ping(): Promise<void> {
    return this.guard('ping', async () => {
      await sql`select 1`.execute(this.db);
    });
  }

  close(): Promise<void> {
    return this.onClose();
  }

  createTenant(tenant: Tenant, event: AuditEvent, signingKey?: StoredSigningKey): Promise<void> {
    return this.guard('tenants', () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('tenants')
          .values({
            id: tenant.id,
            slug: tenant.slug,
            name: tenant.name,
            signing_alg: tenant.signingAlg,
            self_signup: tenant.selfSignup ? 1 : 0,
            hs256_max_lifetime: tenant.hs256MaxLifetime,
            created_at: tenant.createdAt,
          })
          .execute();
        if (signingKey) await trx.insertInto('signing_keys').values(signingKeyToRow(signingKey)).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findTenantBySlug(slug: string): Promise<Tenant | null> {
    return this.guard('tenants', async () => {
      const row = await this.db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst();
      return row ? rowToTenant(row) : null;
    });
  }

  listTenants(page: PageRequest): Promise<Page<Tenant>> {
    return this.guard('tenants', async () => {
      let query = this.db.selectFrom('tenants').selectAll().where('slug', '!=', SYSTEM_TENANT_SLUG);
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToTenant);
    });
  }

  createApi(api: Api, event: AuditEvent): Promise<void> {
    return this.guard('apis', () =>
      this.db.transaction().execute(async (trx) => {
        await trx.insertInto('apis').values(apiToRow(api)).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findApi(tenantId: string, identifier: string): Promise<Api | null> {
    return this.guard('apis', async () => {
      const row = await this.db
        .selectFrom('apis')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('identifier', '=', identifier)
        .executeTakeFirst();
      return row ? rowToApi(row) : null;
    });
  }

  findApiById(id: string): Promise<Api | null> {
    return this.guard('apis', async () => {
      const row = await this.db.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? rowToApi(row) : null;
    });
  }

  listApis(tenantId: string, page: PageRequest): Promise<Page<Api>> {
    return this.guard('apis', async () => {
      let query = this.db.selectFrom('apis').selectAll().where('tenant_id', '=', tenantId);
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToApi);
    });
  }

  updateApi(api: Api, event: AuditEvent): Promise<void> {
    return this.guard('apis', () =>
      this.db.transaction().execute(async (trx) => {
        const { id, tenant_id, identifier, created_at, ...changes } = apiToRow(api);
        await trx.updateTable('apis').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  replaceCatalog(
    api: Api,
    dropped: readonly string[],
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ applied: boolean; keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }> {
    return this.guard('apis', () =>
      this.db.transaction().execute(async (trx) => {
        await this.dialect.lockRows(trx, 'apis', [api.id]);
        const holders = await lifecycle.narrowToCatalog(trx, api, new Set(dropped), { apply: false, at: options.at });
        const held = holders.keyIds.length + holders.clientIds.length + holders.tokenIds.length > 0;
        if (held && !options.force) return { applied: false, ...holders };
        const done = held ? await lifecycle.narrowToCatalog(trx, api, new Set(dropped), { apply: true, at: options.at, revocation: options.revocation }) : holders;
        const { id, tenant_id, identifier, created_at, ...changes } = apiToRow(api);
        await trx.updateTable('apis').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
        await insertEvents(trx, [
          { ...event, data: { ...event.data, narrowedKeys: done.keyIds.length, narrowedClients: done.clientIds.length, revokedTokens: done.tokenIds.length } },
        ]);
        return { applied: true, ...done };
      }),
    );
  }

  deleteApi(
    api: Api,
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ deleted: false; inUse: ApiUse } | { deleted: true; keyIds: string[]; clientIds: string[]; revocations: Revocation[] }> {
    return this.guard('apis', () =>
      this.db.transaction().execute(async (trx) => {
        await this.dialect.lockRows(trx, 'apis', [api.id]);
        const users = await lifecycle.apiUsers(trx, api, options.at);
        const inUse = { keys: users.keys, tokens: users.tokens, clients: users.clients.length };
        if (!options.force && inUse.keys + inUse.tokens + inUse.clients > 0) return { deleted: false as const, inUse };
        const removed = await lifecycle.deleteApiRows(trx, api, options.at, options.revocation);
        await insertEvents(trx, [{ ...event, data: { ...event.data, forced: options.force, ...inUse } }]);
        return { deleted: true as const, ...removed };
      }),
    );
  }

  maxAccessTokenTtl(tenantId: string): Promise<number> {
    return this.guard('apis', async () => {
      const row = await this.db
        .selectFrom('apis')
        .select((eb) => eb.fn.max('access_token_ttl').as('ttl'))
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      return Number(row?.ttl ?? 0);
    });
  }

  listSigningKeys(tenantId: string): Promise<StoredSigningKey[]> {
    return this.guard('signing_keys', () => tokenQueries.listSigningKeys(this.db, tenantId));
  }

  addSigningKey(key: StoredSigningKey, retire: { kids: string[]; retiredAt: number }, event: AuditEvent): Promise<void> {
    return this.guard('signing_keys', () =>
      this.db.transaction().execute(async (trx) => {
        await tokenQueries.addSigningKey(trx, key, retire);
        await insertEvents(trx, [event]);
      }),
    );
  }

  setPublishUntil(kid: string, publishUntil: number): Promise<void> {
    return this.guard('signing_keys', async () => {
      await this.db.updateTable('signing_keys').set({ publish_until: publishUntil }).where('kid', '=', kid).execute();
    });
  }

  createClient(client: Client, secretHash: string | null, event: AuditEvent): Promise<void> {
    return this.guard('clients', () =>
      this.db.transaction().execute(async (trx) => {
        await tokenQueries.createClient(trx, client, secretHash);
        await insertEvents(trx, [event]);
      }),
    );
  }

  findClient(tenantId: string, id: string): Promise<Client | null> {
    return this.guard('clients', () => tokenQueries.findClient(this.db, tenantId, id));
  }

  listClients(tenantId: string, page: PageRequest): Promise<Page<Client>> {
    return this.guard('clients', async () => {
      let query = this.db.selectFrom('clients').selectAll().where('tenant_id', '=', tenantId);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToClient);
    });
  }

  updateClient(client: Client, event: AuditEvent): Promise<void> {
    return this.guard('clients', () =>
      this.db.transaction().execute(async (trx) => {
        const { id, tenant_id, created_at, ...changes } = clientToRow(client);
        await trx.updateTable('clients').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  deleteClient(tenantId: string, id: string, event: AuditEvent): Promise<boolean> {
    return this.guard('clients', () =>
      this.db.transaction().execute(async (trx) => {
        const found = await trx.selectFrom('clients').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
        if (!found) return false;
        await trx.deleteFrom('client_secrets').where('client_id', '=', id).execute();
        await trx.deleteFrom('clients').where('id', '=', id).execute();
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  clientSecrets(clientId: string): Promise<ClientSecretRecord[]> {
    return this.guard('clients', async () => {
      const rows = await this.db.selectFrom('client_secrets').select(['hash', 'expires_at']).where('client_id', '=', clientId).execute();
      return rows.map((r) => ({ hash: r.hash, expiresAt: r.expires_at === null ? null : Number(r.expires_at) }));
    });
  }

  addClientSecret(clientId: string, hash: string, expireOthersAt: number, event: AuditEvent): Promise<void> {
    return this.guard('clients', () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('client_secrets')
          .set({ expires_at: sql<number>`case when expires_at is null or expires_at > ${expireOthersAt} then ${expireOthersAt} else expires_at end` })
          .where('client_id', '=', clientId)
          .execute();
        await trx.insertInto('client_secrets').values({ hash, client_id: clientId, created_at: event.at, expires_at: null }).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  createIssuedToken(token: IssuedToken, event: AuditEvent): Promise<void> {
    return this.guard('issued_tokens', () =>
      this.db.transaction().execute(async (trx) => {
        await tokenQueries.createIssuedToken(trx, token);
        await insertEvents(trx, [event]);
      }),
    );
  }

  findIssuedToken(tenantId: string, jti: string): Promise<IssuedToken | null> {
    return this.guard('issued_tokens', async () => {
      const row = await this.db.selectFrom('issued_tokens').selectAll().where('tenant_id', '=', tenantId).where('jti', '=', jti).executeTakeFirst();
      return row ? rowToIssuedToken(row) : null;
    });
  }

  listIssuedTokens(tenantId: string, filter: { apiId?: string; consumer?: string }, page: PageRequest): Promise<Page<IssuedToken>> {
    return this.guard('issued_tokens', async () => {
      let query = this.db.selectFrom('issued_tokens').selectAll().where('tenant_id', '=', tenantId);
      if (filter.apiId !== undefined) query = query.where('api_id', '=', filter.apiId);
      if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
      if (page.after !== null) query = query.where('jti', '>', page.after);
      const rows = await query.orderBy('jti').limit(page.limit + 1).execute();
      return paginate(rows.map((r) => ({ ...r, id: r.jti })), page.limit, rowToIssuedToken);
    });
  }

  lastIssuedTokenExpiry(kid: string): Promise<number | null> {
    return this.guard('issued_tokens', () => tokenQueries.lastIssuedTokenExpiry(this.db, kid));
  }

  addRevocation(revocation: Revocation, event: AuditEvent): Promise<boolean> {
    return this.guard('revocations', () =>
      this.db.transaction().execute(async (trx) => {
        const added = await tokenQueries.addRevocation(trx, revocation);
        if (added) await insertEvents(trx, [event]);
        return added;
      }),
    );
  }

  listRevocations(tenantId: string, page: PageRequest): Promise<Page<Revocation>> {
    return this.guard('revocations', async () => {
      let query = this.db.selectFrom('revocations').selectAll().where('tenant_id', '=', tenantId);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToRevocation);
    });
  }

  updateTenant(tenant: Tenant, fields: readonly ('name' | 'selfSignup' | 'hs256MaxLifetime')[], event: AuditEvent): Promise<void> {
    const changed = new Set(fields);
    if (changed.size === 0) return Promise.resolve();
    return this.guard('tenants', () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('tenants')
          .set({
            ...(changed.has('name') ? { name: tenant.name } : {}),
            ...(changed.has('selfSignup') ? { self_signup: tenant.selfSignup ? 1 : 0 } : {}),
            ...(changed.has('hs256MaxLifetime') ? { hs256_max_lifetime: tenant.hs256MaxLifetime } : {}),
          })
          .where('id', '=', tenant.id)
          .execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  deleteTenant(tenant: Tenant, at: number, event: AuditEvent): Promise<{ keyIds: string[]; apiIds: string[]; clientIds: string[]; rootKeyIds: string[] } | null> {
    return this.guard('tenants', () =>
      this.db.transaction().execute(async (trx) => {
        const found = await trx.selectFrom('tenants').select('id').where('id', '=', tenant.id).executeTakeFirst();
        if (!found) return null;
        const removed = await lifecycle.deleteTenantRows(trx, tenant, at);
        await insertEvents(trx, [{ ...event, data: { ...event.data, revokedRootKeys: removed.rootKeyIds } }]);
        return removed;
      }),
    );
  }

  createUser(user: User, passwordHash: string, event: AuditEvent): Promise<void> {
    return this.guard('users', () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('users')
          .values({ id: user.id, tenant_id: user.tenantId, email: user.email, name: user.name, password_hash: passwordHash, created_at: user.createdAt, updated_at: user.createdAt })
          .execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findUser(tenantId: string, id: string): Promise<User | null> {
    return this.guard('users', async () => {
      const row = await this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? people.rowToUser(row) : null;
    });
  }

  findUserByEmail(tenantId: string, email: string): Promise<{ user: User; passwordHash: string } | null> {
    return this.guard('users', async () => {
      const row = await this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId).where('email', '=', email).executeTakeFirst();
      return row ? { user: people.rowToUser(row), passwordHash: row.password_hash } : null;
    });
  }

  listUsers(tenantId: string, page: PageRequest): Promise<Page<User>> {
    return this.guard('users', async () => {
      let query = this.db.selectFrom('users').selectAll().where('tenant_id', '=', tenantId);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, people.rowToUser);
    });
  }

  updateUser(
    user: User,
    options: { fields: readonly ('name' | 'email' | 'disabledAt')[]; endAccess: RevocationFactory | null; at: number },
    event: AuditEvent,
  ): Promise<Revocation[]> {
    const fields = new Set(options.fields);
    return this.guard('users', () =>
      this.db.transaction().execute(async (trx) => {
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
        const cutOffs = options.endAccess === null ? [] : await lifecycle.endUserAccess(trx, user.tenantId, user.id, options.at, options.endAccess);
        await insertEvents(trx, [event]);
        return cutOffs;
      }),
    );
  }

  deleteUser(tenantId: string, id: string, options: { at: number; revocation: RevocationFactory }, event: AuditEvent): Promise<Revocation[] | null> {
    return this.guard('users', () =>
      this.db.transaction().execute(async (trx) => {
        const found = await trx.selectFrom('users').select('id').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
        if (!found) return null;
        const cutOffs = await lifecycle.endUserAccess(trx, tenantId, id, options.at, options.revocation);
        await lifecycle.deleteUserRows(trx, tenantId, id);
        await insertEvents(trx, [event]);
        return cutOffs;
      }),
    );
  }

  createSession(hash: string, tenantId: string, userId: string, createdAt: number, expiresAt: number): Promise<void> {
    return this.guard('sessions', async () => {
      await this.db.insertInto('sessions').values({ hash, tenant_id: tenantId, user_id: userId, created_at: createdAt, expires_at: expiresAt }).execute();
    });
  }

  findSession(hash: string): Promise<{ tenantId: string; userId: string; expiresAt: number } | null> {
    return this.guard('sessions', async () => {
      const row = await this.db.selectFrom('sessions').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? { tenantId: row.tenant_id, userId: row.user_id, expiresAt: Number(row.expires_at) } : null;
    });
  }

  deleteSession(hash: string): Promise<void> {
    return this.guard('sessions', async () => {
      await this.db.deleteFrom('sessions').where('hash', '=', hash).execute();
    });
  }

  createInteraction(interaction: Interaction, bounds: { perSource: number; perClient: number }): Promise<void> {
    return this.guard('interactions', () =>
      this.db.transaction().execute(async (trx) => {
        await trx.insertInto('interactions').values(people.interactionToRow(interaction)).execute();
        await people.trimInteractions(trx, interaction.tenantId, 'source', interaction.source, bounds.perSource);
        await people.trimInteractions(trx, interaction.tenantId, 'client_id', interaction.clientId, bounds.perClient);
      }),
    );
  }

  findInteraction(tenantId: string, id: string): Promise<Interaction | null> {
    return this.guard('interactions', () => people.findInteraction(this.db, tenantId, id));
  }

  deleteInteraction(id: string): Promise<void> {
    return this.guard('interactions', async () => {
      await this.db.deleteFrom('interactions').where('id', '=', id).execute();
    });
  }

  findGrant(tenantId: string, userId: string, clientId: string, apiId: string): Promise<Grant | null> {
    return this.guard('grants', async () => {
      const row = await this.db
        .selectFrom('grants')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('user_id', '=', userId)
        .where('client_id', '=', clientId)
        .where('api_id', '=', apiId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row ? people.rowToGrant(row) : null;
    });
  }

  findGrantById(tenantId: string, id: string): Promise<Grant | null> {
    return this.guard('grants', async () => {
      const row = await this.db.selectFrom('grants').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? people.rowToGrant(row) : null;
    });
  }

  saveGrant(grant: Grant, event: AuditEvent): Promise<void> {
    return this.guard('grants', () =>
      this.db.transaction().execute(async (trx) => {
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
    return this.guard('grants', async () => {
      let query = this.db.selectFrom('grants').selectAll().where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, people.rowToGrant);
    });
  }

  revokeGrant(tenantId: string, id: string, at: number, event: AuditEvent): Promise<boolean> {
    return this.guard('grants', () =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('grants')
          .set({ revoked_at: at })
          .where('tenant_id', '=', tenantId)
          .where('id', '=', id)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        if (Number(result.numUpdatedRows) === 0) return false;
        await people.revokeRefreshTokens(trx, id, at);
        await insertEvents(trx, [event]);
        return true;
      }),
    );
  }

  touchGrant(grantId: string, at: number): Promise<void> {
    return this.guard('grants', () => people.touchGrant(this.db, grantId, at));
  }

  createCode(code: AuthorizationCode): Promise<void> {
    return this.guard('authorization_codes', async () => {
      await this.db.insertInto('authorization_codes').values(people.codeToRow(code)).execute();
    });
  }

  consumeCode(hash: string, now: number): Promise<{ code: AuthorizationCode; first: boolean } | null> {
    return this.guard('authorization_codes', () => this.db.transaction().execute((trx) => people.consumeCode(trx, hash, now)));
  }

  createRefreshToken(token: RefreshToken): Promise<void> {
    return this.guard('refresh_tokens', async () => {
      await this.db.insertInto('refresh_tokens').values(people.refreshToRow(token)).execute();
    });
  }

  rotateRefreshToken(hash: string, now: number): Promise<{ token: RefreshToken; won: boolean } | null> {
    return this.guard('refresh_tokens', () => people.rotateRefreshToken(this.db, hash, now));
  }

  findRefreshToken(hash: string): Promise<RefreshToken | null> {
    return this.guard('refresh_tokens', async () => {
      const row = await this.db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return row ? people.rowToRefreshToken(row) : null;
    });
  }

  createPasswordReset(hash: string, tenantId: string, userId: string, expiresAt: number, options: { event?: AuditEvent } = {}): Promise<void> {
    return this.guard('password_resets', () =>
      this.db.transaction().execute(async (trx) => {
        await trx.insertInto('password_resets').values({ hash, tenant_id: tenantId, user_id: userId, expires_at: expiresAt, used_at: null }).execute();
        if (options.event) await insertEvents(trx, [options.event]);
      }),
    );
  }

  findPasswordReset(hash: string, tenantId: string, now: number): Promise<{ userId: string } | null> {
    return this.guard('password_resets', async () => {
      const row = await this.db
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
    return this.guard('password_resets', () =>
      this.db.transaction().execute(async (trx) => {
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

  pruneExpired(now: number): Promise<number> {
    return this.guard('prune', async () => {
      let deleted = 0;
      const count = (result: { numDeletedRows: bigint }[]) => result.reduce((n, r) => n + Number(r.numDeletedRows), 0);
      deleted += count(await this.db.deleteFrom('sessions').where('expires_at', '<=', now).execute());
      deleted += count(await this.db.deleteFrom('interactions').where('expires_at', '<=', now).execute());
      deleted += count(await this.db.deleteFrom('authorization_codes').where('expires_at', '<=', now).execute());
      deleted += count(await this.db.deleteFrom('password_resets').where('expires_at', '<=', now).execute());
      // A refresh token is kept while its family lives, so reuse of a rotated one is still recognised.
      deleted += count(await this.db.deleteFrom('refresh_tokens').where('family_expires_at', '<=', now).execute());
      deleted += count(
        await this.db.deleteFrom('revocations').where('kind', '=', 'jti').where('expires_at', 'is not', null).where('expires_at', '<=', now).execute(),
      );
      return deleted;
    });
  }

  createHs256Secret(secret: Hs256Secret, sealed: string, event: AuditEvent): Promise<void> {
    return this.guard('hs256_secrets', () =>
      this.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('hs256_secrets')
          .values({ kid: secret.kid, tenant_id: secret.tenantId, secret: sealed, created_at: secret.createdAt, revoked_at: null })
          .execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findHs256Secret(kid: string): Promise<(Hs256Secret & { sealed: string }) | null> {
    return this.guard('hs256_secrets', async () => {
      const row = await this.db.selectFrom('hs256_secrets').selectAll().where('kid', '=', kid).executeTakeFirst();
      return row ? { ...rowToHs256(row), sealed: row.secret } : null;
    });
  }

  listHs256Secrets(tenantId: string): Promise<Hs256Secret[]> {
    return this.guard('hs256_secrets', async () => {
      const rows = await this.db.selectFrom('hs256_secrets').selectAll().where('tenant_id', '=', tenantId).orderBy('kid').execute();
      return rows.map(rowToHs256);
    });
  }

  revokeHs256Secret(tenantId: string, kid: string, at: number, event: AuditEvent): Promise<boolean> {
    return this.guard('hs256_secrets', () =>
      this.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('hs256_secrets')
          .set({ revoked_at: at })
          .where('tenant_id', '=', tenantId)
          .where('kid', '=', kid)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        const changed = Number(result.numUpdatedRows) > 0;
        if (changed) await insertEvents(trx, [event]);
        return changed;
      }),
    );
  }

  createKey(key: ApiKey, secretHash: string, event: AuditEvent, options: { maxChildren?: number } = {}): Promise<void> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        if (key.parentId !== null && options.maxChildren !== undefined) await assertRoomForChild(trx, this.dialect, key.parentId, options.maxChildren);
        await trx.insertInto('keys').values(keyToRow(key)).execute();
        await trx
          .insertInto('key_secrets')
          .values({ hash: secretHash, key_id: key.id, retired_at: null, created_at: key.createdAt })
          .execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findKey(tenantId: string, id: string): Promise<ApiKey | null> {
    return this.guard('keys', async () => {
      const row = await this.db
        .selectFrom('keys')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? rowToKey(row) : null;
    });
  }

  findKeyAncestors(tenantId: string, id: string): Promise<ApiKey[]> {
    return this.guard('keys', async () => {
      const rows = await this.db
        .withRecursive('chain(id, parent_id)', (qb) =>
          qb
            .selectFrom('keys')
            .select(['id', 'parent_id'])
            .where('id', '=', id)
            .where('tenant_id', '=', tenantId)
            .unionAll(qb.selectFrom('keys').innerJoin('chain', 'chain.parent_id', 'keys.id').select(['keys.id', 'keys.parent_id'])),
        )
        .selectFrom('chain')
        .innerJoin('keys', 'keys.id', 'chain.id')
        .selectAll('keys')
        .execute();
      const byId = new Map(rows.map((r) => [r.id, rowToKey(r)]));
      const ancestors: ApiKey[] = [];
      // The CTE returns rows in no promised order: follow the parent links from the key.
      for (let key = byId.get(id); key?.parentId != null; ) {
        key = byId.get(key.parentId);
        if (key === undefined || key.tenantId !== tenantId) break;
        ancestors.push(key);
      }
      return ancestors;
    });
  }

  findKeyBySecret(hash: string): Promise<KeyBySecret | null> {
    return this.guard('keys', async () => {
      const result = await this.db.executeQuery(withParameters(this.keyBySecret, [hash]));
      const secret = result.rows[0];
      if (!secret) return null;
      return {
        key: rowToKey(secret),
        api: rowToApi({
          id: secret.api_id,
          tenant_id: secret.tenant_id,
          identifier: secret.api_identifier,
          name: secret.api_name,
          key_prefix: secret.api_key_prefix,
          scopes: secret.api_scopes,
          access_token_ttl: secret.api_access_token_ttl,
          refresh_tokens: secret.api_refresh_tokens,
          created_at: secret.api_created_at,
        }),
        tenantSlug: secret.tenant_slug,
        secretRetiredAt: secret.secret_retired_at === null ? null : Number(secret.secret_retired_at),
      };
    });
  }

  listKeys(tenantId: string, filter: KeyFilter, page: PageRequest): Promise<Page<ApiKey>> {
    return this.guard('keys', async () => {
      let query = this.db.selectFrom('keys').selectAll().where('tenant_id', '=', tenantId);
      if (filter.apiId !== undefined) query = query.where('api_id', '=', filter.apiId);
      if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToKey);
    });
  }

  findKeyTree(tenantId: string, id: string): Promise<ApiKey[]> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length === 0) return [];
        const rows = await trx.selectFrom('keys').selectAll().where('id', 'in', ids).execute();
        const byId = new Map(rows.map((r) => [r.id, rowToKey(r)]));
        return ids.map((i) => byId.get(i)!);
      }),
    );
  }

  updateKeys(keys: readonly ApiKey[], event: AuditEvent): Promise<void> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        for (const key of keys) {
          const { id, tenant_id, api_id, parent_id, start, created_at, usage_count, last_used_at, ...changes } =
            keyToRow(key);
          await trx.updateTable('keys').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
        }
        await insertEvents(trx, [event]);
      }),
    );
  }

  revokeKeyTree(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[]> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length > 0) {
          await trx
            .updateTable('keys')
            .set({ revoked_at: at, updated_at: at })
            .where('id', 'in', ids)
            .where('revoked_at', 'is', null)
            .execute();
        }
        await insertEvents(trx, [{ ...event, data: { ...event.data, keyIds: ids } }]);
        return ids;
      }),
    );
  }

  deleteKeyTree(tenantId: string, id: string, event: AuditEvent): Promise<string[]> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length > 0) {
          await trx.deleteFrom('key_secrets').where('key_id', 'in', ids).execute();
          await trx.deleteFrom('keys').where('id', 'in', ids).execute();
        }
        await insertEvents(trx, [{ ...event, data: { ...event.data, keyIds: ids } }]);
        return ids;
      }),
    );
  }

  rollKeySecret(keyId: string, newHash: string, start: string, retireAt: number, event: AuditEvent): Promise<void> {
    return this.guard('keys', () =>
      this.db.transaction().execute(async (trx) => {
        // A secret already retiring keeps its earlier deadline; a grace period only shortens.
        await trx
          .updateTable('key_secrets')
          .set({ retired_at: sql<number>`case when retired_at is null or retired_at > ${retireAt} then ${retireAt} else retired_at end` })
          .where('key_id', '=', keyId)
          .execute();
        await trx
          .insertInto('key_secrets')
          .values({ hash: newHash, key_id: keyId, retired_at: null, created_at: event.at })
          .execute();
        await trx.updateTable('keys').set({ start, updated_at: event.at }).where('id', '=', keyId).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  spendCredits(keyId: string, cost: number, now: number, refillDueBefore: number | null): Promise<number | null> {
    return this.guard('keys', () => spendFrom(this.db, { keyId, refillDueBefore }, cost, now));
  }

  spendChainCredits(spends: readonly CreditSpend[], cost: number, now: number): Promise<number[] | null> {
    return this.guard('keys', async () => {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const left: number[] = [];
          for (const spend of spends) {
            const remaining = await spendFrom(trx, spend, cost, now);
            // Throwing rolls back what the keys before this one spent: all or nothing.
            if (remaining === null) throw new ChainExhausted();
            left.push(remaining);
          }
          return left;
        });
      } catch (err) {
        if (err instanceof ChainExhausted) return null;
        throw err;
      }
    });
  }

  readCredits(keyId: string): Promise<number | null> {
    return this.guard('keys', async () => {
      const row = await this.db
        .selectFrom('keys')
        .select('credits_remaining')
        .where('id', '=', keyId)
        .executeTakeFirst();
      return row?.credits_remaining == null ? null : Number(row.credits_remaining);
    });
  }

  recordUsage(entries: readonly UsageEntry[]): Promise<void> {
    return this.guard('keys', async () => {
      // One UPDATE … FROM a VALUES list per chunk instead of one statement per key. Two writers
      // (two instances) must not lock the same rows in different orders: PostgreSQL locks the
      // chunk's rows in key-id order first, since a join does not promise any order.
      const sorted = [...entries].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
      for (let i = 0; i < sorted.length; i += USAGE_CHUNK) {
        const chunk = sorted.slice(i, i + USAGE_CHUNK);
        const rows = sql.join(chunk.map((e) => sql`(${e.keyId}, ${e.count}, ${e.lastUsedAt})`));
        const cast = this.dialect.bigint;
        await this.db.transaction().execute(async (trx) => {
          await this.dialect.lockRows(trx, 'keys', chunk.map((e) => e.keyId));
          await sql`
            with usage(id, count, at) as (values ${rows})
            update keys set
              usage_count = keys.usage_count + usage.count${cast},
              last_used_at = case when keys.last_used_at is null or keys.last_used_at < usage.at${cast} then usage.at${cast} else keys.last_used_at end
            from usage
            where keys.id = usage.id`.execute(trx);
        });
      }
    });
  }

  appendAudit(events: readonly AuditEvent[]): Promise<void> {
    return this.guard('audit', () => audit.appendAudit(this.db, events));
  }

  listAudit(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.guard('audit', () => audit.listAudit(this.db, tenantId, filter, page));
  }

  pruneAudit(before: number): Promise<number> {
    return this.guard('prune', () => audit.pruneAudit(this.db, before));
  }

  private guard<T>(table: string, work: () => Promise<T>): Promise<T> {
    return this.context.guard(work, UNIQUE_CODES[table]);
  }

  private translate(err: unknown, table: string): unknown {
    return this.context.translate(err, UNIQUE_CODES[table]);
  }
}

async function insertEvents(db: Kysely<Database> | Transaction<Database>, events: readonly AuditEvent[]): Promise<void> {
  await db.insertInto('audit_events').values(events.map(eventToRow)).execute();
}

/** Thrown inside a chained spend to roll it back; never leaves the store. */
class ChainExhausted extends Error {}

/** One conditional UPDATE: refill when due, then spend `cost` if that many are available. */
async function spendFrom(db: Kysely<Database> | Transaction<Database>, spend: CreditSpend, cost: number, now: number): Promise<number | null> {
  const due =
    spend.refillDueBefore === null
      ? sql<boolean>`false`
      : sql<boolean>`(credits_refill_amount is not null and coalesce(credits_refilled_at, created_at) < ${spend.refillDueBefore})`;
  const available = sql<number>`(case when ${due} then credits_refill_amount else credits_remaining end)`;
  const row = await db
    .updateTable('keys')
    .set({
      credits_remaining: sql<number>`${available} - ${cost}`,
      credits_refilled_at: sql<number>`case when ${due} then ${now} else credits_refilled_at end`,
    })
    .where('id', '=', spend.keyId)
    .where('credits_remaining', 'is not', null)
    .where(sql<boolean>`${available} >= ${cost}`)
    .returning('credits_remaining')
    .executeTakeFirst();
  return row ? Number(row.credits_remaining) : null;
}

/** Refuses a sub-key when its parent already has `max` unrevoked children. */
async function assertRoomForChild(trx: Transaction<Database>, dialect: Dialect, parentId: string, max: number): Promise<void> {
  // The parent's row is locked so that two parallel mints cannot both count max - 1.
  await dialect.lockRows(trx, 'keys', [parentId]);
  const row = await trx
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<number>().as('children'))
    .where('parent_id', '=', parentId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  if (Number(row.children) >= max) {
    throw new KeygateError('SUBKEY_LIMIT_REACHED', `a key may have at most ${max} active sub-keys`);
  }
}

async function subtreeIds(trx: Transaction<Database>, tenantId: string, rootId: string): Promise<string[]> {
  const rows = await trx
    .withRecursive('tree(id)', (qb) =>
      qb
        .selectFrom('keys')
        .select('id')
        .where('id', '=', rootId)
        .where('tenant_id', '=', tenantId)
        .unionAll(qb.selectFrom('keys').innerJoin('tree', 'tree.id', 'keys.parent_id').select('keys.id')),
    )
    .selectFrom('tree')
    .select('id')
    .execute();
  return rows.map((r) => r.id);
}
