import { sql, type Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import { DEFAULT_REFRESH_TOKENS, type Api } from '../../domain/apis.js';
import { KeygateError } from '../../domain/errors.js';
import type { CompiledRoutes } from '../../domain/gateway/routes.js';
import { DEFAULT_GATEWAY_SETTINGS, gatewayHostsOf, hostName, identifierHost, type GatewaySettings } from '../../domain/gateway/settings.js';
import type { Client, Revocation } from '../../domain/clients.js';
import { SYSTEM_TENANT_SLUG } from '../../domain/management.js';
import type { Tenant } from '../../domain/tenants.js';
import type { SigningAlgorithm } from '../../domain/tokens/jwt.js';
import type { Dialect } from '../dialect.js';
import { paginate, type Db, type KyselyContext, type TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import { containsAny } from '../search.js';
import type { ApiDocumentsTable, ApisTable, ClientsTable, Database, TenantsTable } from '../schema.js';
import { ANALYTICS_TENANT_ROWS } from './analytics.js';
import { AUDIT_TENANT_ROWS, insertEvents } from './audit.js';
import { CONSUMER_TENANT_ROWS, deleteGrantsOfApi } from './consumers.js';
import { KEY_TENANT_ROWS, countLiveKeysOfApi, deleteKeysOfApi, keyIdsOfTenant, keysHolding, narrowKeys, revokeRootKeysLimitedTo } from './keys.js';
import { OPERATOR_TENANT_ROWS, disableOperatorsLimitedTo } from './operators.js';
import { PEOPLE_TENANT_ROWS, deleteDelegationsOfApi, liveGrantIdsOfApi } from './people.js';
import {
  TOKEN_TENANT_ROWS,
  countLiveIssuedTokensOfApi,
  deleteIssuedTokensOfApi,
  insertRevocations,
  insertSigningKey,
  liveIssuedTokensOfApi,
  markIssuedTokensRevoked,
  type RevocationFactory,
  type StoredSigningKey,
} from './tokens.js';

export interface ClientSecretRecord {
  hash: string;
  expiresAt: number | null;
}

/** What uses an API: keys not revoked, live JWT API keys, and the clients allowed scopes of it. */
export interface ApiUse {
  keys: number;
  tokens: number;
  clients: number;
}

/** An API's OpenAPI document as uploaded, with the routes compiled from it. */
export interface ApiDocument {
  apiId: string;
  tenantId: string;
  document: string;
  format: 'json' | 'yaml';
  /** Bytes of `document` as UTF-8. */
  size: number;
  routes: CompiledRoutes;
  uploadedAt: number;
}

/** An API the gateway fronts (it has an upstream), with its tenant's slug and its routes, if a document was uploaded. */
export interface GatewayApi {
  api: Api;
  tenantSlug: string;
  routes: CompiledRoutes | null;
}

/**
 * Tenants, the APIs they protect and the OAuth clients they register. A tenant's or an API's
 * deletion, and a catalog's replacement, change rows of the other aggregates too, in the same
 * transaction.
 */
export interface DirectoryStore {
  /** Creates the tenant, with its first signing key when given. */
  createTenant(tenant: Tenant, event: AuditEvent, signingKey?: StoredSigningKey): Promise<void>;
  findTenantBySlug(slug: string): Promise<Tenant | null>;
  /** Tenants in id order; `search` keeps those whose slug or name contains it, ignoring case. */
  listTenants(page: PageRequest, options?: { search?: string }): Promise<Page<Tenant>>;
  /** How many tenants there are, the system tenant not counted. */
  countTenants(): Promise<number>;
  /** Writes the tenant's `fields`, and only those, so a concurrent change of another is not undone. */
  updateTenant(tenant: Tenant, fields: readonly ('name' | 'selfSignup' | 'hs256MaxLifetime' | 'signingAlg')[], event: AuditEvent): Promise<void>;
  /**
   * Deletes every row of the tenant in every table, and revokes the root keys limited to its
   * slug, in one transaction with `event` (written to the system tenant's log, since the
   * tenant's own goes). Returns the ids whose cached state must be dropped; null when no such tenant.
   */
  deleteTenant(tenant: Tenant, at: number, event: AuditEvent): Promise<{ keyIds: string[]; apiIds: string[]; clientIds: string[]; rootKeyIds: string[] } | null>;

  createApi(api: Api, event: AuditEvent): Promise<void>;
  findApi(tenantId: string, identifier: string): Promise<Api | null>;
  findApiById(id: string): Promise<Api | null>;
  /** The tenant's APIs in id order; `search` keeps those whose identifier or name contains it, ignoring case. */
  listApis(tenantId: string, page: PageRequest, options?: { search?: string }): Promise<Page<Api>>;
  updateApi(api: Api, event: AuditEvent): Promise<void>;
  /**
   * Replaces the API's catalog when it drops `dropped` scopes: the keys (not revoked), live JWT API
   * keys and clients holding one of them are counted and, with `force`, the keys and clients
   * narrowed to the scopes that remain and the JWT API keys revoked by jti, all in one transaction
   * with the event. Without `force` and with any holder, nothing is written.
   */
  replaceCatalog(
    api: Api,
    dropped: readonly string[],
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ applied: boolean; keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }>;
  /**
   * Deletes the API with its keys, JWT API keys (live ones revoked by jti), grants (live ones cut
   * off) and the clients' allowances for it, in one transaction. Without `force`, nothing is
   * written while anything uses it (`inUse`).
   */
  deleteApi(
    api: Api,
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ deleted: false; inUse: ApiUse } | { deleted: true; keyIds: string[]; clientIds: string[]; revocations: Revocation[] }>;
  /** The longest access-token lifetime (s) among the tenant's APIs. */
  maxAccessTokenTtl(tenantId: string): Promise<number>;
  /** Stores the API's OpenAPI document and its routes, replacing an earlier one, with the event. */
  putApiDocument(document: ApiDocument, event: AuditEvent): Promise<void>;
  findApiDocument(apiId: string): Promise<ApiDocument | null>;
  /** Every API with an upstream, in every tenant: the gateway's routing table is built from them. */
  listGatewayApis(): Promise<GatewayApi[]>;

  createClient(client: Client, secretHash: string | null, event: AuditEvent): Promise<void>;
  findClient(tenantId: string, id: string): Promise<Client | null>;
  /** `search`: a case-insensitive part of the client's name or id. */
  listClients(tenantId: string, page: PageRequest, options?: { search?: string }): Promise<Page<Client>>;
  updateClient(client: Client, event: AuditEvent): Promise<void>;
  deleteClient(tenantId: string, id: string, event: AuditEvent): Promise<boolean>;
  clientSecrets(clientId: string): Promise<ClientSecretRecord[]>;
  /** Adds a current secret; the existing ones expire at `expireOthersAt`. */
  addClientSecret(clientId: string, hash: string, expireOthersAt: number, event: AuditEvent): Promise<void>;
}

export function rowToTenant(row: TenantsTable): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    signingAlg: row.signing_alg as SigningAlgorithm,
    selfSignup: Number(row.self_signup) === 1,
    hs256MaxLifetime: Number(row.hs256_max_lifetime),
    createdAt: Number(row.created_at),
  };
}

export function apiToRow(api: Api): ApisTable {
  return {
    id: api.id,
    tenant_id: api.tenantId,
    identifier: api.identifier,
    name: api.name,
    key_prefix: api.keyPrefix,
    scopes: JSON.stringify(api.scopes),
    access_token_ttl: api.accessTokenTtl,
    refresh_tokens: JSON.stringify(api.refreshTokens),
    gateway: JSON.stringify(changedGatewaySettings(api.gateway)),
    created_at: api.createdAt,
  };
}

/**
 * Only the settings that differ from the defaults are stored, so an API outside the gateway stores
 * '{}' and the gateway's listing skips it in SQL.
 */
function changedGatewaySettings(settings: GatewaySettings): Partial<GatewaySettings> {
  const changed: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(settings)) {
    if (JSON.stringify(value) !== JSON.stringify(DEFAULT_GATEWAY_SETTINGS[name as keyof GatewaySettings])) changed[name] = value;
  }
  return changed as Partial<GatewaySettings>;
}

export function rowToApi(row: ApisTable): Api {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    identifier: row.identifier,
    name: row.name,
    keyPrefix: row.key_prefix,
    scopes: JSON.parse(row.scopes) as Api['scopes'],
    accessTokenTtl: Number(row.access_token_ttl),
    // APIs stored before the reuse interval existed read as 0: every reuse is a replay.
    refreshTokens: { ...DEFAULT_REFRESH_TOKENS, ...(JSON.parse(row.refresh_tokens) as Partial<Api['refreshTokens']>) },
    gateway: { ...DEFAULT_GATEWAY_SETTINGS, ...(JSON.parse(row.gateway) as Partial<GatewaySettings>) },
    createdAt: Number(row.created_at),
  };
}

export function rowToClient(row: ClientsTable): Client {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    name: row.name,
    grantTypes: JSON.parse(row.grant_types) as Client['grantTypes'],
    scopes: JSON.parse(row.scopes) as Client['scopes'],
    tokenEndpointAuthMethod: row.token_endpoint_auth_method as Client['tokenEndpointAuthMethod'],
    jwks: row.jwks === null ? null : (JSON.parse(row.jwks) as Client['jwks']),
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    canIntrospect: Number(row.can_introspect) === 1,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function clientToRow(client: Client): ClientsTable {
  return {
    id: client.id,
    tenant_id: client.tenantId,
    name: client.name,
    grant_types: JSON.stringify(client.grantTypes),
    scopes: JSON.stringify(client.scopes),
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    jwks: client.jwks === null ? null : JSON.stringify(client.jwks),
    redirect_uris: JSON.stringify(client.redirectUris),
    can_introspect: client.canIntrospect ? 1 : 0,
    created_at: client.createdAt,
    updated_at: client.updatedAt,
  };
}

/**
 * How each table's rows of one tenant are deleted, in an order the foreign keys accept (children
 * first, `tenants` last). Keyed by every table of `Database`, so a new table does not compile
 * until its aggregate says how a tenant's rows leave it. Built when called: the aggregates import
 * each other's row helpers, so their constants are not all there while the modules load.
 */
function tenantCascade(): TenantRows<keyof Database> {
  return {
    ...CONSUMER_TENANT_ROWS,
    ...KEY_TENANT_ROWS,
    ...OPERATOR_TENANT_ROWS,
    ...PEOPLE_TENANT_ROWS,
    ...TOKEN_TENANT_ROWS,
    ...AUDIT_TENANT_ROWS,
    ...ANALYTICS_TENANT_ROWS,
    client_secrets: (trx, tenantId) =>
      trx.deleteFrom('client_secrets').where('client_id', 'in', trx.selectFrom('clients').select('id').where('tenant_id', '=', tenantId)).execute(),
    clients: (trx, tenantId) => trx.deleteFrom('clients').where('tenant_id', '=', tenantId).execute(),
    api_documents: (trx, tenantId) => trx.deleteFrom('api_documents').where('tenant_id', '=', tenantId).execute(),
    gateway_hosts: (trx, tenantId) => trx.deleteFrom('gateway_hosts').where('tenant_id', '=', tenantId).execute(),
    apis: (trx, tenantId) => trx.deleteFrom('apis').where('tenant_id', '=', tenantId).execute(),
    tenants: (trx, tenantId) => trx.deleteFrom('tenants').where('id', '=', tenantId).execute(),
    // The store's own rows (the master-key check) belong to no tenant.
    keygate_meta: null,
  };
}

export class KyselyDirectoryStore implements DirectoryStore {
  constructor(private readonly k: KyselyContext) {}

  createTenant(tenant: Tenant, event: AuditEvent, signingKey?: StoredSigningKey): Promise<void> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
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
          if (signingKey) await insertSigningKey(trx, signingKey);
          await insertEvents(trx, [event]);
        }),
      'TENANT_EXISTS',
    );
  }

  findTenantBySlug(slug: string): Promise<Tenant | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('tenants').selectAll().where('slug', '=', slug).executeTakeFirst();
      return row ? rowToTenant(row) : null;
    }, 'TENANT_EXISTS');
  }

  listTenants(page: PageRequest, options: { search?: string } = {}): Promise<Page<Tenant>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('tenants').selectAll().where('slug', '!=', SYSTEM_TENANT_SLUG);
      if (options.search) query = query.where(containsAny(['slug', 'name'], options.search));
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToTenant);
    }, 'TENANT_EXISTS');
  }

  countTenants(): Promise<number> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('tenants')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('slug', '!=', SYSTEM_TENANT_SLUG)
        .executeTakeFirstOrThrow();
      // PostgreSQL answers count(*) as a bigint string.
      return Number(row.n);
    });
  }

  updateTenant(tenant: Tenant, fields: readonly ('name' | 'selfSignup' | 'hs256MaxLifetime' | 'signingAlg')[], event: AuditEvent): Promise<void> {
    const changed = new Set(fields);
    if (changed.size === 0) return Promise.resolve();
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('tenants')
            .set({
              ...(changed.has('name') ? { name: tenant.name } : {}),
              ...(changed.has('selfSignup') ? { self_signup: tenant.selfSignup ? 1 : 0 } : {}),
              ...(changed.has('hs256MaxLifetime') ? { hs256_max_lifetime: tenant.hs256MaxLifetime } : {}),
              ...(changed.has('signingAlg') ? { signing_alg: tenant.signingAlg } : {}),
            })
            .where('id', '=', tenant.id)
            .execute();
          await insertEvents(trx, [event]);
        }),
      'TENANT_EXISTS',
    );
  }

  deleteTenant(tenant: Tenant, at: number, event: AuditEvent): Promise<{ keyIds: string[]; apiIds: string[]; clientIds: string[]; rootKeyIds: string[] } | null> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          const found = await trx.selectFrom('tenants').select('id').where('id', '=', tenant.id).executeTakeFirst();
          if (!found) return null;
          const keyIds = await keyIdsOfTenant(trx, tenant.id);
          const apiIds = (await trx.selectFrom('apis').select('id').where('tenant_id', '=', tenant.id).execute()).map((r) => r.id);
          const clientIds = (await trx.selectFrom('clients').select('id').where('tenant_id', '=', tenant.id).execute()).map((r) => r.id);
          for (const remove of Object.values(tenantCascade())) if (remove !== null) await remove(trx, tenant.id);
          const rootKeyIds = await revokeRootKeysLimitedTo(trx, tenant.slug, at);
          const operatorIds = await disableOperatorsLimitedTo(trx, tenant.slug, at);
          await insertEvents(trx, [{ ...event, data: { ...event.data, revokedRootKeys: rootKeyIds, disabledOperators: operatorIds } }]);
          return { keyIds, apiIds, clientIds, rootKeyIds };
        }),
      'TENANT_EXISTS',
    );
  }

  createApi(api: Api, event: AuditEvent): Promise<void> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await trx.insertInto('apis').values(apiToRow(api)).execute();
          await claimHosts(trx, this.k.dialect, api);
          await insertEvents(trx, [event]);
        }),
      'API_EXISTS',
    );
  }

  findApi(tenantId: string, identifier: string): Promise<Api | null> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('apis')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('identifier', '=', identifier)
        .executeTakeFirst();
      return row ? rowToApi(row) : null;
    }, 'API_EXISTS');
  }

  findApiById(id: string): Promise<Api | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst();
      return row ? rowToApi(row) : null;
    }, 'API_EXISTS');
  }

  listApis(tenantId: string, page: PageRequest, options: { search?: string } = {}): Promise<Page<Api>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('apis').selectAll().where('tenant_id', '=', tenantId);
      if (options.search) query = query.where(containsAny(['identifier', 'name'], options.search));
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToApi);
    }, 'API_EXISTS');
  }

  updateApi(api: Api, event: AuditEvent): Promise<void> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await writeApi(trx, api);
          await claimHosts(trx, this.k.dialect, api);
          await insertEvents(trx, [event]);
        }),
      'API_EXISTS',
    );
  }

  replaceCatalog(
    api: Api,
    dropped: readonly string[],
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ applied: boolean; keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await this.k.dialect.lockRows(trx, 'apis', [api.id]);
          const holders = await narrowToCatalog(trx, api, new Set(dropped), { apply: false, at: options.at });
          const held = holders.keyIds.length + holders.clientIds.length + holders.tokenIds.length > 0;
          if (held && !options.force) return { applied: false, ...holders };
          const done = held ? await narrowToCatalog(trx, api, new Set(dropped), { apply: true, at: options.at, revocation: options.revocation }) : holders;
          await writeApi(trx, api);
          await claimHosts(trx, this.k.dialect, api);
          await insertEvents(trx, [
            { ...event, data: { ...event.data, narrowedKeys: done.keyIds.length, narrowedClients: done.clientIds.length, revokedTokens: done.tokenIds.length } },
          ]);
          return { applied: true, ...done };
        }),
      'API_EXISTS',
    );
  }

  deleteApi(
    api: Api,
    options: { force: boolean; at: number; revocation: RevocationFactory },
    event: AuditEvent,
  ): Promise<{ deleted: false; inUse: ApiUse } | { deleted: true; keyIds: string[]; clientIds: string[]; revocations: Revocation[] }> {
    return this.k.guard(
      () =>
        this.k.db.transaction().execute(async (trx) => {
          await this.k.dialect.lockRows(trx, 'apis', [api.id]);
          const inUse = {
            keys: await countLiveKeysOfApi(trx, api.id),
            tokens: await countLiveIssuedTokensOfApi(trx, api.id, options.at),
            clients: (await clientsAllowedOn(trx, api)).length,
          };
          if (!options.force && inUse.keys + inUse.tokens + inUse.clients > 0) return { deleted: false as const, inUse };
          const removed = await deleteApiRows(trx, api, options.at, options.revocation);
          await insertEvents(trx, [{ ...event, data: { ...event.data, forced: options.force, ...inUse } }]);
          return { deleted: true as const, ...removed };
        }),
      'API_EXISTS',
    );
  }

  maxAccessTokenTtl(tenantId: string): Promise<number> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('apis')
        .select((eb) => eb.fn.max('access_token_ttl').as('ttl'))
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst();
      return Number(row?.ttl ?? 0);
    }, 'API_EXISTS');
  }

  putApiDocument(document: ApiDocument, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const row = documentToRow(document);
        await trx.deleteFrom('api_documents').where('api_id', '=', document.apiId).execute();
        await trx.insertInto('api_documents').values(row).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findApiDocument(apiId: string): Promise<ApiDocument | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('api_documents').selectAll().where('api_id', '=', apiId).executeTakeFirst();
      return row ? rowToDocument(row) : null;
    });
  }

  listGatewayApis(): Promise<GatewayApi[]> {
    return this.k.guard(async () => {
      const rows = await this.k.db
        .selectFrom('apis')
        .innerJoin('tenants', 'tenants.id', 'apis.tenant_id')
        .leftJoin('api_documents', 'api_documents.api_id', 'apis.id')
        .selectAll('apis')
        .select(['tenants.slug as tenant_slug', 'api_documents.routes as routes'])
        .where('apis.gateway', '!=', '{}')
        .orderBy('apis.id')
        .execute();
      return rows
        .map(({ tenant_slug, routes, ...row }) => ({ api: rowToApi(row), tenantSlug: tenant_slug, routes: routes === null ? null : (JSON.parse(routes) as CompiledRoutes) }))
        .filter((entry) => entry.api.gateway.upstream !== null);
    });
  }

  createClient(client: Client, secretHash: string | null, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        await trx.insertInto('clients').values(clientToRow(client)).execute();
        if (secretHash !== null) {
          await trx.insertInto('client_secrets').values({ hash: secretHash, client_id: client.id, created_at: client.createdAt, expires_at: null }).execute();
        }
        await insertEvents(trx, [event]);
      }),
    );
  }

  findClient(tenantId: string, id: string): Promise<Client | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('clients').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
      return row ? rowToClient(row) : null;
    });
  }

  listClients(tenantId: string, page: PageRequest, options: { search?: string } = {}): Promise<Page<Client>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('clients').selectAll().where('tenant_id', '=', tenantId);
      if (options.search) query = query.where(containsAny(['name', 'id'], options.search));
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToClient);
    });
  }

  updateClient(client: Client, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const { id, tenant_id, created_at, ...changes } = clientToRow(client);
        await trx.updateTable('clients').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  deleteClient(tenantId: string, id: string, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
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
    return this.k.guard(async () => {
      const rows = await this.k.db.selectFrom('client_secrets').select(['hash', 'expires_at']).where('client_id', '=', clientId).execute();
      return rows.map((r) => ({ hash: r.hash, expiresAt: r.expires_at === null ? null : Number(r.expires_at) }));
    });
  }

  addClientSecret(clientId: string, hash: string, expireOthersAt: number, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
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
}

/**
 * Replaces the API's Host claims by those of its settings, in the caller's transaction. A claim is
 * owned by its name, the host without a port: callers of a gateway on port 8080 send
 * `api.acme.test:8080`, and the routing table falls back from `name:port` to `name`, so another
 * API claiming `api.acme.test:8080` would take the callers of the API answering to
 * `api.acme.test`. GATEWAY_HOST_TAKEN: a name another API holds (in any tenant), or that another
 * tenant's API identifier names — for the API's own identifier host only when that API came
 * first, so a later one spelled the same cannot keep the owner out. One row per name: the primary
 * key catches the claim a concurrent writer made between the check and the insert, whatever port
 * either gave.
 */
async function claimHosts(trx: Transaction<Database>, dialect: Dialect, api: Api): Promise<void> {
  await trx.deleteFrom('gateway_hosts').where('api_id', '=', api.id).execute();
  const byName = new Map(gatewayHostsOf(api.identifier, api.gateway).map((host) => [hostName(host), host]));
  if (byName.size === 0) return;
  const names = [...byName.keys()];
  // Rows written before claims were kept by name can still carry a port.
  const taken = await trx
    .selectFrom('gateway_hosts')
    .select('host')
    .where((eb) => eb.or(names.flatMap((name) => [eb('host', '=', name), eb('host', 'like', `${name}:%`)])))
    .executeTakeFirst();
  if (taken !== undefined) throw hostTaken(byName.get(hostName(taken.host)) ?? taken.host);
  const ownName = identifierName(api.identifier);
  for (const [name, host] of byName) {
    const named = await trx
      .selectFrom('apis')
      .select(['id', 'identifier', 'created_at'])
      .where('tenant_id', '!=', api.tenantId)
      .where(sql<string>`lower(identifier)`, 'like', `%${name}%`)
      .execute();
    const cameFirst = (row: (typeof named)[number]): boolean => Number(row.created_at) < api.createdAt || (Number(row.created_at) === api.createdAt && row.id < api.id);
    if (named.some((row) => identifierName(row.identifier) === name && (name !== ownName || cameFirst(row)))) throw hostTaken(host);
  }
  try {
    await trx.insertInto('gateway_hosts').values(names.map((name) => ({ host: name, api_id: api.id, tenant_id: api.tenantId }))).execute();
  } catch (err) {
    throw dialect.isUniqueViolation(err) ? hostTaken([...byName.values()].join(', ')) : err;
  }
}

/** The host an API identifier names, without its port; null for an identifier that names none. */
function identifierName(identifier: string): string | null {
  const host = identifierHost(identifier);
  return host === null ? null : hostName(host);
}

/** The message names the host only: which tenant holds it is not the caller's business. */
function hostTaken(host: string): KeygateError {
  return new KeygateError('GATEWAY_HOST_TAKEN', `the gateway host "${host}" is already claimed by another API`);
}

function documentToRow(document: ApiDocument): ApiDocumentsTable {
  return {
    api_id: document.apiId,
    tenant_id: document.tenantId,
    document: document.document,
    format: document.format,
    size: document.size,
    routes: JSON.stringify(document.routes),
    uploaded_at: document.uploadedAt,
  };
}

function rowToDocument(row: ApiDocumentsTable): ApiDocument {
  return {
    apiId: row.api_id,
    tenantId: row.tenant_id,
    document: row.document,
    format: row.format as ApiDocument['format'],
    size: Number(row.size),
    routes: JSON.parse(row.routes) as CompiledRoutes,
    uploadedAt: Number(row.uploaded_at),
  };
}

/** Writes the API's changeable columns (not its id, tenant, identifier or creation time). */
async function writeApi(db: Db, api: Api): Promise<void> {
  const { id, tenant_id, identifier, created_at, ...changes } = apiToRow(api);
  await db.updateTable('apis').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
}

async function clientsAllowedOn(db: Db, api: { tenantId: string; identifier: string }): Promise<{ id: string; scopes: Record<string, string[]> }[]> {
  const rows = await db.selectFrom('clients').select(['id', 'scopes']).where('tenant_id', '=', api.tenantId).execute();
  return rows.map((r) => ({ id: r.id, scopes: JSON.parse(r.scopes) as Record<string, string[]> })).filter((c) => Object.hasOwn(c.scopes, api.identifier));
}

/**
 * Deletes the API and what hangs on it: its keys and their secrets (grant keys too, with the
 * consumers' grants on it), its JWT API keys (each live
 * one's jti revoked, so an API created later with the same identifier does not revive it), the
 * people's grants on it (each live one cut off) with their codes and refresh tokens, and the
 * clients' allowances for it. Returns the ids of the keys deleted and the revocations recorded.
 */
async function deleteApiRows(
  trx: Transaction<Database>,
  api: { id: string; tenantId: string; identifier: string },
  at: number,
  revocation: RevocationFactory,
): Promise<{ keyIds: string[]; clientIds: string[]; revocations: Revocation[] }> {
  await deleteGrantsOfApi(trx, api.id);
  const keyIds = await deleteKeysOfApi(trx, api.id);
  const liveTokens = await liveIssuedTokensOfApi(trx, api.id, at);
  const liveGrants = await liveGrantIdsOfApi(trx, api.id);
  const revocations = await insertRevocations(trx, [
    ...liveTokens.map((t) => revocation({ kind: 'jti', subject: t.jti, notBefore: null, expiresAt: t.expiresAt })),
    ...liveGrants.map((id) => revocation({ kind: 'grant', subject: id, notBefore: Math.floor(at / 1000), expiresAt: null })),
    // Every other token for it (client credentials, exchanged, self-issued HS256) names it only
    // by `aud`: a mark on the identifier keeps them dead, also once an API is created under it again.
    revocation({ kind: 'api', subject: api.identifier, notBefore: Math.floor(at / 1000), expiresAt: null }),
  ]);
  await deleteIssuedTokensOfApi(trx, api.id);
  await deleteDelegationsOfApi(trx, api.id);
  const clients = await clientsAllowedOn(trx, api);
  for (const client of clients) {
    const { [api.identifier]: _dropped, ...rest } = client.scopes;
    await trx.updateTable('clients').set({ scopes: JSON.stringify(rest), updated_at: at }).where('id', '=', client.id).execute();
  }
  await trx.deleteFrom('apis').where('id', '=', api.id).execute();
  return { keyIds, clientIds: clients.map((c) => c.id), revocations };
}

/**
 * The keys (not revoked), live JWT API keys and clients of an API that hold any of `dropped`,
 * and, when `apply`, narrows each key and client to the scopes that remain and revokes each such
 * JWT API key by jti (a signed token cannot be narrowed: left alone, it would keep the dropped
 * scope, and have it again for good once the catalog names it again).
 */
async function narrowToCatalog(
  trx: Transaction<Database>,
  api: { id: string; tenantId: string; identifier: string },
  dropped: ReadonlySet<string>,
  options: { apply: false; at: number } | { apply: true; at: number; revocation: RevocationFactory },
): Promise<{ keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }> {
  const keys = await keysHolding(trx, api.id, dropped);
  const clients = (await clientsAllowedOn(trx, api)).filter((c) => c.scopes[api.identifier]!.some((s) => dropped.has(s)));
  const tokens = (await liveIssuedTokensOfApi(trx, api.id, options.at)).filter((tk) => tk.scopes.some((s) => dropped.has(s)));
  let revocations: Revocation[] = [];
  if (options.apply) {
    await narrowKeys(trx, keys, dropped, options.at);
    for (const client of clients) {
      const scopes = { ...client.scopes, [api.identifier]: client.scopes[api.identifier]!.filter((s) => !dropped.has(s)) };
      await trx.updateTable('clients').set({ scopes: JSON.stringify(scopes), updated_at: options.at }).where('id', '=', client.id).execute();
    }
    await markIssuedTokensRevoked(trx, api.id, tokens.map((tk) => tk.jti), options.at);
    const revocation = options.revocation;
    revocations = await insertRevocations(
      trx,
      tokens.map((tk) => revocation({ kind: 'jti', subject: tk.jti, notBefore: null, expiresAt: tk.expiresAt })),
    );
  }
  return { keyIds: keys.map((k) => k.id), clientIds: clients.map((c) => c.id), tokenIds: tokens.map((tk) => tk.jti), revocations };
}
