import { hashSecret, newId, random } from '../crypto/secrets.js';
import { KeygateError, isKeygateError } from '../domain/errors.js';
import { displayStart, generateKey } from '../domain/keys/format.js';
import { DEFAULT_REFRESH_TOKENS, newKey, type Api, type ApiKey, type Tenant } from '../domain/keys/key.js';
import { MANAGEMENT_API, MANAGEMENT_SCOPES, ROOT_KEY_PREFIX, SYSTEM_TENANT_SLUG } from '../domain/management.js';
import { assertInCatalog } from '../domain/scopes.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContext } from './context.js';

/**
 * Root keys: keys of the built-in management API in the built-in `_system` tenant
 * (see `domain/management.ts`).
 */
export class RootKeysService {
  private system: { tenant: Tenant; api: Api } | null = null;

  constructor(private readonly ctx: ServiceContext) {}

  /** Creates the system tenant and the management API once; safe when instances race. */
  async ensureSystem(): Promise<{ tenant: Tenant; api: Api }> {
    if (this.system) return this.system;
    const { store, clock, audit } = this.ctx;
    let tenant = await store.findTenantBySlug(SYSTEM_TENANT_SLUG);
    if (tenant === null) {
      const now = clock();
      const created: Tenant = { id: newId('tenant', now), slug: SYSTEM_TENANT_SLUG, name: 'Keygate management', signingAlg: 'EdDSA', selfSignup: false, createdAt: now };
      await ignoreExists(store.createTenant(created, audit.event(created.id, SYSTEM_ACTOR, 'tenant.create', created.id)));
      tenant = (await store.findTenantBySlug(SYSTEM_TENANT_SLUG))!;
    }
    let api = await store.findApi(tenant.id, MANAGEMENT_API);
    if (api === null) {
      const now = clock();
      const created: Api = {
        id: newId('api', now),
        tenantId: tenant.id,
        identifier: MANAGEMENT_API,
        name: 'Keygate management API',
        keyPrefix: ROOT_KEY_PREFIX,
        scopes: [...MANAGEMENT_SCOPES],
        accessTokenTtl: 3600,
        refreshTokens: DEFAULT_REFRESH_TOKENS,
        createdAt: now,
      };
      await ignoreExists(store.createApi(created, audit.event(tenant.id, SYSTEM_ACTOR, 'api.create', created.id)));
      api = (await store.findApi(tenant.id, MANAGEMENT_API))!;
    }
    if (JSON.stringify(api.scopes) !== JSON.stringify(MANAGEMENT_SCOPES)) {
      // A newer Keygate knows more management scopes: the catalog follows the code.
      api = { ...api, scopes: [...MANAGEMENT_SCOPES] };
      await store.updateApi(api, audit.event(tenant.id, SYSTEM_ACTOR, 'api.update', api.id, { fields: ['scopes'] }));
    }
    this.system = { tenant, api };
    return this.system;
  }

  /** Registers an operator-chosen secret (KEYGATE_ROOT_KEY) as a root key with every scope, once. */
  async seed(secret: string): Promise<void> {
    const hash = hashSecret(secret);
    const { tenant, api } = await this.ensureSystem();
    const existing = await this.ctx.store.findKeyBySecret(hash);
    const all = api.scopes.map((s) => s.name);
    if (existing !== null) {
      if (existing.key.scopes.length !== all.length && existing.api.id === api.id) {
        const key = { ...existing.key, scopes: all, updatedAt: this.ctx.clock() };
        await this.ctx.store.updateKeys([key], this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.seed', key.id, { fields: ['scopes'] }));
      }
      return;
    }
    const key = this.rootKey(tenant, api, all, null, 'KEYGATE_ROOT_KEY');
    key.start = 'KEYGATE_ROOT_KEY';
    await this.ctx.store.createKey(key, hash, this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.seed', key.id));
  }

  /** At a first start without KEYGATE_ROOT_KEY: a root key to print once, else null. */
  async bootstrapIfNone(): Promise<string | null> {
    const { tenant, api } = await this.ensureSystem();
    const existing = await this.ctx.store.listKeys(tenant.id, { apiId: api.id }, { after: null, limit: 1 });
    if (existing.items.length > 0) return null;
    const issued = await this.create(SYSTEM_ACTOR, new Set(api.scopes.map((s) => s.name)), null, {
      scopes: api.scopes.map((s) => s.name),
      name: 'bootstrap',
    });
    return issued.secret;
  }

  /**
   * A root key with at most the caller's scopes, and limited to the caller's tenant when the
   * caller is.
   */
  async create(
    actor: Actor,
    callerScopes: ReadonlySet<string>,
    callerTenant: string | null,
    input: { scopes: string[]; tenant?: string | null; name?: string | null },
  ): Promise<{ id: string; secret: string; scopes: string[]; tenant: string | null }> {
    const { tenant, api } = await this.ensureSystem();
    assertInCatalog(input.scopes, api.scopes);
    for (const scope of input.scopes) {
      if (!callerScopes.has(scope)) throw new KeygateError('FORBIDDEN', `your root key does not hold "${scope}"`);
    }
    const limitedTo = input.tenant ?? callerTenant;
    if (callerTenant !== null && limitedTo !== callerTenant) {
      throw new KeygateError('FORBIDDEN', `your root key is limited to tenant "${callerTenant}"`);
    }
    if (limitedTo !== null && (await this.ctx.store.findTenantBySlug(limitedTo)) === null) {
      throw new KeygateError('TENANT_NOT_FOUND', `no tenant "${limitedTo}"`);
    }
    const key = this.rootKey(tenant, api, [...new Set(input.scopes)], limitedTo, input.name ?? null);
    const secret = generateKey(ROOT_KEY_PREFIX, random);
    key.start = displayStart(secret);
    const event = this.ctx.audit.event(tenant.id, actor, 'root_key.create', key.id, { scopes: key.scopes, tenant: limitedTo });
    await this.ctx.store.createKey(key, hashSecret(secret), event);
    return { id: key.id, secret, scopes: key.scopes, tenant: limitedTo };
  }

  private rootKey(tenant: Tenant, api: Api, scopes: string[], limitedTo: string | null, name: string | null): ApiKey {
    const now = this.ctx.clock();
    return { ...newKey({ id: newId('key', now), tenantId: tenant.id, apiId: api.id, parentId: null, now }), name, consumer: limitedTo, scopes };
  }
}

async function ignoreExists(write: Promise<void>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(isKeygateError(err) && (err.code === 'TENANT_EXISTS' || err.code === 'API_EXISTS'))) throw err;
  }
}
