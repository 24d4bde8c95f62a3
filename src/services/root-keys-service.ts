import { hashSecret, newId, random } from '../crypto/secrets.js';
import type { AuditEvent, AuditFilter } from '../domain/audit.js';
import { KeygateError, isKeygateError } from '../domain/errors.js';
import { displayStart, generateKey } from '../domain/keys/format.js';
import { DEFAULT_REFRESH_TOKENS, type Api } from '../domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS } from '../domain/gateway/settings.js';
import { newKey, type ApiKey } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import {
  MANAGEMENT_API,
  MANAGEMENT_SCOPES,
  ROOT_KEY_PREFIX,
  SYSTEM_TENANT_SLUG,
  rootKeyOverreach,
  type RootKeyReach,
} from '../domain/management.js';
import { assertInCatalog } from '../domain/scopes.js';
import { DEFAULT_HS256_MAX_LIFETIME_SEC } from '../domain/tokens/jwt.js';
import type { Page, PageRequest } from '../store/store.js';
import { StartupError } from './startup-errors.js';
import { SYSTEM_ACTOR, type Actor, type ServiceContextWith } from './context.js';
import type { TenantsService } from './tenants-service.js';
import type { UsageRecorder } from './usage-recorder.js';

/** A root key and its secret, which is returned once and never stored. */
export interface IssuedRootKey {
  key: ApiKey;
  secret: string;
}

/** Root keys Keygate issued itself carry their origin in `meta` (a root key's meta is never shown). */
const ROOT_KEY_ORIGIN = 'keygate:origin';
type RootKeyOrigin = 'seed' | 'bootstrap';

const LIST_BATCH = 100;

/**
 * Root keys: keys of the built-in management API in the built-in `_system` tenant
 * (see `domain/management.ts`).
 */
export class RootKeysService {
  private system: { tenant: Tenant; api: Api } | null = null;

  constructor(
    private readonly ctx: ServiceContextWith<'directory' | 'keys'>,
    private readonly tenants: TenantsService,
    private readonly usage: UsageRecorder,
  ) {}

  /** Notes that a root key authenticated a management request (its `lastUsedAt`, written in batches). */
  recordUse(keyId: string): void {
    this.usage.record(keyId, this.ctx.clock());
  }

  /** Creates the system tenant and the management API once; safe when instances race. */
  async ensureSystem(): Promise<{ tenant: Tenant; api: Api }> {
    if (this.system) return this.system;
    const { store, clock, audit } = this.ctx;
    let tenant = await store.directory.findTenantBySlug(SYSTEM_TENANT_SLUG);
    if (tenant === null) {
      const now = clock();
      const created: Tenant = { id: newId('tenant', now), slug: SYSTEM_TENANT_SLUG, name: 'Keygate management', signingAlg: 'EdDSA', selfSignup: false, hs256MaxLifetime: DEFAULT_HS256_MAX_LIFETIME_SEC, createdAt: now };
      await ignoreExists(store.directory.createTenant(created, audit.event(created.id, SYSTEM_ACTOR, 'tenant.create', created.id)));
      tenant = (await store.directory.findTenantBySlug(SYSTEM_TENANT_SLUG))!;
    }
    let api = await store.directory.findApi(tenant.id, MANAGEMENT_API);
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
        gateway: DEFAULT_GATEWAY_SETTINGS,
        createdAt: now,
      };
      await ignoreExists(store.directory.createApi(created, audit.event(tenant.id, SYSTEM_ACTOR, 'api.create', created.id)));
      api = (await store.directory.findApi(tenant.id, MANAGEMENT_API))!;
    }
    if (JSON.stringify(api.scopes) !== JSON.stringify(MANAGEMENT_SCOPES)) {
      // A newer Keygate knows more management scopes: the catalog follows the code.
      api = { ...api, scopes: [...MANAGEMENT_SCOPES] };
      await store.directory.updateApi(api, audit.event(tenant.id, SYSTEM_ACTOR, 'api.update', api.id, { fields: ['scopes'] }));
    }
    this.system = { tenant, api };
    return this.system;
  }

  /**
   * Registers an operator-chosen secret (KEYGATE_ROOT_KEY) as a root key with every scope, and
   * retires (revokes, audited) every older root key Keygate issued itself: the key seeded from a
   * previous KEYGATE_ROOT_KEY and the bootstrap key printed at first start. Keys created through
   * `/v1/root-keys` are untouched. A KEYGATE_ROOT_KEY whose key was revoked (by a later value,
   * or by an operator after a leak) never comes back: start fails and says so.
   */
  async seed(secret: string): Promise<void> {
    const hash = hashSecret(secret);
    const { tenant, api } = await this.ensureSystem();
    const existing = await this.ctx.store.keys.findBySecret(hash);
    const all = api.scopes.map((s) => s.name);
    const now = this.ctx.clock();
    let current: string;
    if (existing !== null && existing.api.id === api.id) {
      if (existing.key.revokedAt !== null || (existing.secretRetiredAt !== null && existing.secretRetiredAt <= now)) {
        throw new StartupError('KEYGATE_ROOT_KEY was revoked or rolled: it never comes back. Set KEYGATE_ROOT_KEY to a new value (32+ random characters) on every instance and restart.');
      }
      if (existing.key.scopes.join(' ') !== all.join(' ')) {
        const key = { ...existing.key, scopes: all, updatedAt: now };
        await this.ctx.store.keys.update([key], this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.seed', key.id, { fields: ['scopes'] }));
        await this.ctx.lookup.invalidate([key.id]);
      }
      current = existing.key.id;
    } else if (existing !== null) {
      throw new StartupError('KEYGATE_ROOT_KEY is the secret of an ordinary API key: set it to a new value (32+ random characters) and restart.');
    } else {
      const key = this.rootKey(tenant, api, all, null, 'KEYGATE_ROOT_KEY', 'seed');
      key.start = 'KEYGATE_ROOT_KEY';
      current = key.id;
      try {
        await this.ctx.store.keys.create(key, hash, this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.seed', key.id));
      } catch (err) {
        // Instances started together with the same new value race to seed it: the loser uses the winner's key.
        const seeded = await this.ctx.store.keys.findBySecret(hash);
        if (seeded === null || seeded.api.id !== api.id) throw err;
        current = seeded.key.id;
      }
    }
    await this.retireIssuedBefore(current);
  }

  /**
   * At a first start without KEYGATE_ROOT_KEY: a root key to print once, else null. At later
   * starts the live bootstrap key, like a seeded one, gains the management scopes a newer
   * Keygate adds (it is the operator's full admin until they set KEYGATE_ROOT_KEY).
   */
  async bootstrapIfNone(): Promise<string | null> {
    const { tenant, api } = await this.ensureSystem();
    const existing = await this.ctx.store.keys.list(tenant.id, { apiId: api.id }, { after: null, limit: 1 });
    const all = api.scopes.map((s) => s.name);
    if (existing.items.length > 0) {
      await this.followCatalog('bootstrap', all);
      return null;
    }
    const key = this.rootKey(tenant, api, all, null, 'bootstrap', 'bootstrap');
    return (await this.issue(SYSTEM_ACTOR, tenant, key)).secret;
  }

  /**
   * A root key that `caller` could hold itself: scopes among the caller's, tenant limit the
   * caller's or narrower (`rootKeyOverreach` decides). Without `tenant`, a limited caller's key
   * is limited to the caller's tenant.
   */
  async create(actor: Actor, caller: RootKeyReach, input: { scopes: string[]; tenant?: string | null; name?: string | null }): Promise<IssuedRootKey> {
    const { tenant, api } = await this.ensureSystem();
    assertInCatalog(input.scopes, api.scopes);
    const limitedTo = input.tenant ?? caller.tenant;
    const scopes = [...new Set(input.scopes)];
    const overreach = rootKeyOverreach(caller, { scopes, tenant: limitedTo });
    if (overreach !== null) throw new KeygateError('FORBIDDEN', overreach);
    // The one tenant resolver: a reserved or unknown slug cannot be a root key's limit.
    if (limitedTo !== null) await this.tenants.get(limitedTo);
    return this.issue(actor, tenant, this.rootKey(tenant, api, scopes, limitedTo, input.name ?? null, null));
  }

  /** The root keys `caller` could have created, oldest first; a limited caller's stronger peers are not listed. */
  async list(caller: RootKeyReach, page: PageRequest): Promise<Page<ApiKey>> {
    const { tenant, api } = await this.ensureSystem();
    const filter = caller.tenant === null ? { apiId: api.id } : { apiId: api.id, consumer: caller.tenant };
    const items: ApiKey[] = [];
    let after = page.after;
    // Keys the caller may not see are skipped, so a page is filled from as many store pages as it takes.
    for (;;) {
      const batch = await this.ctx.store.keys.list(tenant.id, filter, { after, limit: Math.max(page.limit, LIST_BATCH) });
      for (const key of batch.items) {
        if (!reaches(caller, key)) continue;
        if (items.length === page.limit) return { items, next: items[items.length - 1]!.id };
        items.push(key);
      }
      if (batch.next === null) return { items, next: null };
      after = batch.next;
    }
  }

  /** The root key, or KEY_NOT_FOUND when it does not exist or `caller` could not have created it. */
  async get(caller: RootKeyReach, id: string): Promise<ApiKey> {
    const { tenant, api } = await this.ensureSystem();
    const key = await this.ctx.store.keys.find(tenant.id, id);
    if (key === null || key.apiId !== api.id || !reaches(caller, key)) throw new KeygateError('KEY_NOT_FOUND', `no root key "${id}"`);
    return key;
  }

  /** Revokes the root key; it answers 401 at once, in every instance. Revoking twice is a no-op. */
  async revoke(actor: Actor, caller: RootKeyReach, id: string): Promise<ApiKey> {
    const key = await this.get(caller, id);
    if (key.revokedAt !== null) return key;
    const { tenant } = await this.ensureSystem();
    const now = this.ctx.clock();
    const ids = await this.ctx.store.keys.revokeTree(tenant.id, id, now, this.ctx.audit.event(tenant.id, actor, 'root_key.revoke', id));
    await this.ctx.lookup.invalidate(ids);
    return { ...key, revokedAt: now, updatedAt: now };
  }

  /**
   * Deletes the root key and its secrets for good. A key seeded from KEYGATE_ROOT_KEY is only
   * ever revoked: its stored secret is what makes a retired value refuse to start, and without it
   * an instance started with that value would seed it again as a full admin.
   */
  async delete(actor: Actor, caller: RootKeyReach, id: string): Promise<void> {
    const key = await this.get(caller, id);
    if (key.meta[ROOT_KEY_ORIGIN] === 'seed') {
      throw new KeygateError('FORBIDDEN', 'a key seeded from KEYGATE_ROOT_KEY is revoked, never deleted: set a new KEYGATE_ROOT_KEY to retire it');
    }
    const { tenant } = await this.ensureSystem();
    const ids = await this.ctx.store.keys.deleteTree(tenant.id, id, this.ctx.audit.event(tenant.id, actor, 'root_key.delete', id));
    await this.ctx.lookup.invalidate(ids);
  }

  /** A new secret for the root key; the old one keeps working for `gracePeriodMs` (0: not at all). */
  async roll(actor: Actor, caller: RootKeyReach, id: string, gracePeriodMs: number): Promise<IssuedRootKey> {
    if (!Number.isSafeInteger(gracePeriodMs) || gracePeriodMs < 0) {
      throw new KeygateError('INVALID_REQUEST', 'gracePeriodMs must be a non-negative integer');
    }
    const key = await this.get(caller, id);
    if (key.revokedAt !== null) throw new KeygateError('KEY_REVOKED', 'a revoked root key cannot be rolled');
    const { tenant } = await this.ensureSystem();
    const now = this.ctx.clock();
    const secret = generateKey(ROOT_KEY_PREFIX, random);
    const start = displayStart(secret);
    const event = this.ctx.audit.event(tenant.id, actor, 'root_key.roll', id, { gracePeriodMs });
    await this.ctx.store.keys.rollSecret(id, hashSecret(secret), start, now + gracePeriodMs, event);
    await this.ctx.lookup.invalidate([id]);
    return { key: { ...key, start, updatedAt: now }, secret };
  }

  /**
   * The audit log of root keys (created, rolled, revoked, deleted, seeded, retired), newest
   * first. It names every root key, so only a caller that could have created any root key reads
   * it: every management scope, for all tenants.
   */
  async auditLog(caller: RootKeyReach, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>> {
    const { tenant, api } = await this.ensureSystem();
    if (rootKeyOverreach(caller, { scopes: api.scopes.map((s) => s.name), tenant: null }) !== null) {
      throw new KeygateError('FORBIDDEN', 'only a root key with every management scope for all tenants reads the root-key audit log');
    }
    return this.ctx.audit.list(tenant.id, filter, page);
  }

  /**
   * Revokes every live root key Keygate issued itself (seed, bootstrap) before `current` (ids
   * sort by creation time). Only older keys: when instances with two different values start
   * together, the older value must not retire the newer one while the newer retires it, which
   * would leave neither working.
   */
  private async retireIssuedBefore(current: string): Promise<void> {
    const { tenant, api } = await this.ensureSystem();
    const retire: ApiKey[] = [];
    let after: string | null = null;
    do {
      const batch: Page<ApiKey> = await this.ctx.store.keys.list(tenant.id, { apiId: api.id }, { after, limit: LIST_BATCH });
      retire.push(...batch.items.filter((key) => key.id < current && key.revokedAt === null && issuedBySystem(key)));
      after = batch.next;
    } while (after !== null);
    for (const key of retire) {
      const event = this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.retire', key.id, { origin: key.meta[ROOT_KEY_ORIGIN] });
      const ids = await this.ctx.store.keys.revokeTree(tenant.id, key.id, this.ctx.clock(), event);
      await this.ctx.lookup.invalidate(ids);
    }
  }

  /** Gives every live root key of this origin every scope in `all` (the management catalog). */
  private async followCatalog(origin: RootKeyOrigin, all: string[]): Promise<void> {
    const { tenant, api } = await this.ensureSystem();
    let after: string | null = null;
    do {
      const batch: Page<ApiKey> = await this.ctx.store.keys.list(tenant.id, { apiId: api.id }, { after, limit: LIST_BATCH });
      for (const key of batch.items) {
        if (key.revokedAt !== null || key.meta[ROOT_KEY_ORIGIN] !== origin || key.scopes.join(' ') === all.join(' ')) continue;
        const updated = { ...key, scopes: all, updatedAt: this.ctx.clock() };
        await this.ctx.store.keys.update([updated], this.ctx.audit.event(tenant.id, SYSTEM_ACTOR, 'root_key.seed', key.id, { fields: ['scopes'] }));
        await this.ctx.lookup.invalidate([key.id]);
      }
      after = batch.next;
    } while (after !== null);
  }

  private async issue(actor: Actor, tenant: Tenant, key: ApiKey): Promise<IssuedRootKey> {
    const secret = generateKey(ROOT_KEY_PREFIX, random);
    key.start = displayStart(secret);
    const event = this.ctx.audit.event(tenant.id, actor, 'root_key.create', key.id, { scopes: key.scopes, tenant: key.consumer });
    await this.ctx.store.keys.create(key, hashSecret(secret), event);
    return { key, secret };
  }

  private rootKey(tenant: Tenant, api: Api, scopes: string[], limitedTo: string | null, name: string | null, origin: RootKeyOrigin | null): ApiKey {
    const now = this.ctx.clock();
    const meta = origin === null ? {} : { [ROOT_KEY_ORIGIN]: origin };
    return { ...newKey({ id: newId('key', now), tenantId: tenant.id, apiId: api.id, parentId: null, now }), name, consumer: limitedTo, scopes, meta };
  }
}

function reaches(caller: RootKeyReach, key: ApiKey): boolean {
  return rootKeyOverreach(caller, { scopes: key.scopes, tenant: key.consumer }) === null;
}

function issuedBySystem(key: ApiKey): boolean {
  const origin = key.meta[ROOT_KEY_ORIGIN];
  return origin === 'seed' || origin === 'bootstrap';
}

async function ignoreExists(write: Promise<void>): Promise<void> {
  try {
    await write;
  } catch (err) {
    if (!(isKeygateError(err) && (err.code === 'TENANT_EXISTS' || err.code === 'API_EXISTS'))) throw err;
  }
}
