import { hashSecret, newId, random } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import { validateAllowlist } from '../domain/ip-allowlist.js';
import { MAX_KEY_CHAIN, effectiveKey, inheritedMetaName, mintRefusal, type EffectiveKey } from '../domain/keys/effective-key.js';
import { displayStart, generateKey } from '../domain/keys/format.js';
import { validateMeta } from '../domain/keys/meta.js';
import type { Api } from '../domain/apis.js';
import { newKey, type ApiKey, type CreditsConfig, type RatelimitConfig } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import { assertInCatalog, expandScopes, isSubset } from '../domain/scopes.js';
import type { KeyFilter, Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';

/** Settings a key can be created or updated with. Times are ms since the epoch. */
export interface KeySettings {
  name?: string | null;
  consumer?: string | null;
  scopes?: string[];
  expiresAt?: number | null;
  enabled?: boolean;
  meta?: Record<string, unknown>;
  ratelimits?: RatelimitConfig[];
  credits?: { remaining: number; refill?: CreditsConfig['refill'] } | null;
  ipAllowlist?: string[] | null;
}

export interface CreateKeyInput extends KeySettings {
  api: string;
  scopes: string[];
}

export interface SubkeyInput {
  scopes: string[];
  expiresAt?: number | null;
  name?: string | null;
  meta?: Record<string, unknown>;
}

/** A grant's settings, as its grant key holds them (docs/consumers.md). */
export type GrantKeySettings = Pick<KeySettings, 'scopes' | 'expiresAt' | 'ratelimits' | 'credits'>;

/** A key a consumer's member asks for under the consumer's grant: its own settings within the grant's. */
export interface GrantChildInput {
  scopes: string[];
  expiresAt?: number | null;
  name?: string | null;
  ipAllowlist?: string[] | null;
  ratelimits?: RatelimitConfig[];
  credits?: { remaining: number; refill?: CreditsConfig['refill'] } | null;
}

export interface KeyWithApi {
  key: ApiKey;
  api: Api;
}

export interface IssuedKey extends KeyWithApi {
  /** The secret: returned once, never stored. */
  secret: string;
}

/** Key lifecycle: create, read, update, roll, revoke, delete, and sub-keys. */
export class KeysService {
  constructor(
    private readonly ctx: ServiceContextWith<'directory' | 'keys'>,
    private readonly options: { maxSubkeys: number },
  ) {}

  async create(actor: Actor, tenant: Tenant, input: CreateKeyInput): Promise<IssuedKey> {
    const api = await this.findApi(tenant, input.api);
    const now = this.ctx.clock();
    const key = this.applySettings(this.blankKey(tenant, api, null, now), input, api, now);
    return this.issue(actor, tenant, api, key, { maxChildren: this.options.maxSubkeys, action: 'key.create', data: {} });
  }

  /**
   * Mints a sub-key of `parentId` within the parent's effective state over its chain. A parent
   * that is (or has an ancestor that is) revoked, expired, disabled, rate limited or out of
   * credits cannot mint, and a parent has at most `maxSubkeys` unrevoked children. Both the
   * root-key route and the key-holder route come here.
   */
  async createSubkey(actor: Actor, tenant: Tenant, parentId: string, input: SubkeyInput): Promise<IssuedKey> {
    const { key: parent, api } = await this.get(tenant, parentId);
    assertNotGrant(parent, tenant);
    return this.mint(actor, tenant, parent, api, input, { maxChildren: this.options.maxSubkeys, action: 'key.subkey.create', data: {} });
  }

  /**
   * A consumer's key: a child of the grant key `grantKeyId`, so within the grant (scopes, expiry)
   * and counting against its limits and credits. ConsumersService alone calls this, after it
   * checked that the member belongs to the consumer that holds the grant. At most `maxKeys`
   * unrevoked children (CONSUMER_KEY_LIMIT_REACHED), and never more than any key may have.
   */
  async createUnderGrant(
    actor: Actor,
    tenant: Tenant,
    grantKeyId: string,
    input: GrantChildInput,
    options: { maxKeys: number | null; data: Record<string, unknown> },
  ): Promise<IssuedKey> {
    const { key: parent, api } = await this.get(tenant, grantKeyId);
    // The grant was removed since the caller read it (removal unmarks its key).
    if (parent.grantOf === null) throw new KeygateError('API_NOT_GRANTED', `the grant of key "${grantKeyId}" no longer exists`);
    const capped = options.maxKeys !== null && options.maxKeys <= this.options.maxSubkeys;
    const maxChildren = capped ? options.maxKeys! : this.options.maxSubkeys;
    try {
      return await this.mint(actor, tenant, parent, api, input, { maxChildren, action: 'consumer.key.create', data: options.data });
    } catch (err) {
      if (capped && err instanceof KeygateError && err.code === 'SUBKEY_LIMIT_REACHED') {
        throw new KeygateError('CONSUMER_KEY_LIMIT_REACHED', `consumer "${parent.grantOf}" may hold at most ${maxChildren} unrevoked keys on "${api.identifier}"`);
      }
      throw err;
    }
  }

  /** A new grant key for `consumerId` on `api`, validated and not yet stored, with the hash of a secret nobody sees. */
  newGrantKey(tenant: Tenant, api: Api, consumerId: string, settings: GrantKeySettings & { scopes: string[] }, now: number): { key: ApiKey; secretHash: string } {
    const base: ApiKey = { ...this.blankKey(tenant, api, null, now), consumer: consumerId, grantOf: consumerId, name: 'grant' };
    const key = this.applySettings(base, settings, api, now);
    key.start = displayStart(generateKey(api.keyPrefix, random));
    // Random and dropped at once: no one can ever present a grant key.
    return { key, secretHash: hashSecret(generateKey(api.keyPrefix, random)) };
  }

  /**
   * A grant key with `settings` applied (`tree`: the grant key first, then its descendants as
   * findTree gives them), followed by the descendants that narrowing its scopes or expiry
   * narrowed; nothing when nothing changed.
   */
  changedGrantKey(tree: readonly ApiKey[], api: Api, settings: GrantKeySettings, now: number): ApiKey[] {
    const current = tree[0]!;
    const next = this.applySettings(current, settings, api, now);
    const same =
      JSON.stringify([next.scopes, next.expiresAt, next.ratelimits, next.credits]) === JSON.stringify([current.scopes, current.expiresAt, current.ratelimits, current.credits]);
    if (same) return [];
    const updated = { ...next, updatedAt: now };
    return [updated, ...narrowDescendants(updated, tree.slice(1), api, now)];
  }

  private async mint(
    actor: Actor,
    tenant: Tenant,
    parent: ApiKey,
    api: Api,
    input: SubkeyInput | GrantChildInput,
    options: { maxChildren: number; action: string; data: Record<string, unknown> },
  ): Promise<IssuedKey> {
    const now = this.ctx.clock();
    const chain = [parent, ...(await this.ctx.store.keys.findAncestors(tenant.id, parent.id))];
    const effective = effectiveKey(chain, api.scopes);
    const rateLimited = effective.ratelimits !== null && !(await this.ctx.cluster.rateLimiter.limit(effective.ratelimits, now, { peek: true })).allowed;
    const refusal = mintRefusal(effective, chain, { rateLimited }, now);
    if (refusal === 'REVOKED') throw new KeygateError('KEY_REVOKED', 'a revoked key cannot have new sub-keys');
    if (refusal !== null) throw new KeygateError('KEY_CANNOT_MINT', `the key cannot have new sub-keys now: ${MINT_REFUSALS[refusal]}`);
    const base: ApiKey = { ...this.blankKey(tenant, api, parent.id, now), consumer: parent.consumer };
    const expiresAt = input.expiresAt === undefined ? effective.expiresAt : input.expiresAt;
    const key = this.applySettings(base, { ...input, expiresAt }, api, now);
    if ('meta' in input) assertMetaNotInherited(input.meta, chain);
    assertWithinParent(key, effective);
    return this.issue(actor, tenant, api, key, options);
  }

  async get(tenant: Tenant, id: string): Promise<KeyWithApi> {
    const key = await this.ctx.store.keys.find(tenant.id, id);
    if (key === null) throw new KeygateError('KEY_NOT_FOUND', `no key "${id}" in tenant "${tenant.slug}"`);
    const api = await this.ctx.store.directory.findApiById(key.apiId);
    return { key, api: api! };
  }

  /**
   * The key with its ancestors (its parent first, the root last) and all its descendants: what
   * revoking it takes down, and what it is bounded by.
   */
  async tree(tenant: Tenant, id: string): Promise<{ ancestors: ApiKey[]; key: ApiKey; descendants: ApiKey[]; api: Api }> {
    const { key, api } = await this.get(tenant, id);
    const [ancestors, subtree] = await Promise.all([this.ctx.store.keys.findAncestors(tenant.id, id), this.ctx.store.keys.findTree(tenant.id, id)]);
    return { ancestors, key, descendants: subtree.filter((k) => k.id !== id), api };
  }

  /** `start` matches the first characters of the key's start, `name` any part of its name in any case. */
  async list(tenant: Tenant, filter: { api?: string; consumer?: string; start?: string; name?: string }, page: PageRequest): Promise<Page<KeyWithApi>> {
    const storeFilter: KeyFilter = {};
    const apis = new Map<string, Api>();
    if (filter.api !== undefined) {
      const api = await this.findApi(tenant, filter.api);
      apis.set(api.id, api);
      storeFilter.apiId = api.id;
    }
    if (filter.consumer !== undefined) storeFilter.consumer = filter.consumer;
    if (filter.start !== undefined) storeFilter.start = filter.start;
    if (filter.name !== undefined) storeFilter.name = filter.name;
    const result = await this.ctx.store.keys.list(tenant.id, storeFilter, page);
    for (const key of result.items) {
      if (!apis.has(key.apiId)) apis.set(key.apiId, (await this.ctx.store.directory.findApiById(key.apiId))!);
    }
    return { items: result.items.map((key) => ({ key, api: apis.get(key.apiId)! })), next: result.next };
  }

  /**
   * Applies the changes; narrowing a key's scopes or expiry narrows its descendants too, so no
   * sub-key ever holds more than its parent.
   */
  async update(actor: Actor, tenant: Tenant, id: string, changes: KeySettings): Promise<KeyWithApi> {
    const tree = await this.ctx.store.keys.findTree(tenant.id, id);
    const current = tree[0];
    if (current === undefined) throw new KeygateError('KEY_NOT_FOUND', `no key "${id}" in tenant "${tenant.slug}"`);
    assertNotGrant(current, tenant);
    if (current.revokedAt !== null) throw new KeygateError('KEY_REVOKED', 'a revoked key cannot be changed');
    const api = (await this.ctx.store.directory.findApiById(current.apiId))!;
    const now = this.ctx.clock();
    const updated = this.applySettings({ ...current, updatedAt: now }, changes, api, now);
    if (current.parentId !== null) {
      const ancestors = await this.ctx.store.keys.findAncestors(tenant.id, id);
      if (ancestors.length > 0) assertWithinParent(updated, effectiveKey(ancestors, api.scopes));
      assertMetaNotInherited(changes.meta, ancestors);
    }
    const changed = [updated, ...narrowDescendants(updated, tree.slice(1), api, now)];
    const event = this.ctx.audit.event(tenant.id, actor, 'key.update', id, {
      fields: Object.keys(changes),
      descendantsNarrowed: changed.length - 1,
    });
    await this.ctx.store.keys.update(changed, event);
    await this.ctx.lookup.invalidate(changed.map((k) => k.id));
    return { key: updated, api };
  }

  async revoke(actor: Actor, tenant: Tenant, id: string): Promise<string[]> {
    assertNotGrant((await this.get(tenant, id)).key, tenant);
    const now = this.ctx.clock();
    const ids = await this.ctx.store.keys.revokeTree(tenant.id, id, now, this.ctx.audit.event(tenant.id, actor, 'key.revoke', id));
    if (ids.length === 0) throw new KeygateError('KEY_NOT_FOUND', `no key "${id}" in tenant "${tenant.slug}"`);
    await this.ctx.lookup.invalidate(ids);
    return ids;
  }

  async delete(actor: Actor, tenant: Tenant, id: string): Promise<string[]> {
    assertNotGrant((await this.get(tenant, id)).key, tenant);
    const ids = await this.ctx.store.keys.deleteTree(tenant.id, id, this.ctx.audit.event(tenant.id, actor, 'key.delete', id));
    if (ids.length === 0) throw new KeygateError('KEY_NOT_FOUND', `no key "${id}" in tenant "${tenant.slug}"`);
    await this.ctx.lookup.invalidate(ids);
    return ids;
  }

  /** A new secret for the same key; the old one keeps working for `gracePeriodMs`, then is REVOKED. */
  async roll(actor: Actor, tenant: Tenant, id: string, gracePeriodMs: number): Promise<IssuedKey> {
    if (!Number.isSafeInteger(gracePeriodMs) || gracePeriodMs < 0) {
      throw new KeygateError('INVALID_REQUEST', 'gracePeriodMs must be a non-negative integer');
    }
    const { key, api } = await this.get(tenant, id);
    assertNotGrant(key, tenant);
    if (key.revokedAt !== null) throw new KeygateError('KEY_REVOKED', 'a revoked key cannot be rolled');
    const now = this.ctx.clock();
    const secret = generateKey(api.keyPrefix, random);
    const start = displayStart(secret);
    const event = this.ctx.audit.event(tenant.id, actor, 'key.roll', id, { gracePeriodMs });
    await this.ctx.store.keys.rollSecret(id, hashSecret(secret), start, now + gracePeriodMs, event);
    await this.ctx.lookup.invalidate([id]);
    return { key: { ...key, start, updatedAt: now }, api, secret };
  }

  private async issue(
    actor: Actor,
    tenant: Tenant,
    api: Api,
    key: ApiKey,
    options: { maxChildren: number; action: string; data: Record<string, unknown> },
  ): Promise<IssuedKey> {
    const secret = generateKey(api.keyPrefix, random);
    key.start = displayStart(secret);
    const event = this.ctx.audit.event(tenant.id, actor, options.action, key.id, {
      api: api.identifier,
      scopes: key.scopes,
      parentId: key.parentId,
      ...options.data,
    });
    await this.ctx.store.keys.create(key, hashSecret(secret), event, { maxChildren: options.maxChildren });
    return { key, api, secret };
  }

  private async findApi(tenant: Tenant, identifier: string): Promise<Api> {
    const api = await this.ctx.store.directory.findApi(tenant.id, identifier);
    if (api === null) throw new KeygateError('API_NOT_FOUND', `no API "${identifier}" in tenant "${tenant.slug}"`);
    return api;
  }

  private blankKey(tenant: Tenant, api: Api, parentId: string | null, now: number): ApiKey {
    return newKey({ id: newId('key', now), tenantId: tenant.id, apiId: api.id, parentId, now });
  }

  /** Validates every given setting against the API and the clock; returns the changed key. */
  private applySettings(key: ApiKey, settings: KeySettings, api: Api, now: number): ApiKey {
    const next: ApiKey = { ...key };
    if (settings.scopes !== undefined) {
      assertInCatalog(settings.scopes, api.scopes);
      next.scopes = [...new Set(settings.scopes)];
    }
    if (settings.expiresAt !== undefined) {
      if (settings.expiresAt !== null && !(settings.expiresAt > now)) {
        throw new KeygateError('EXPIRY_IN_PAST', 'expiresAt must be a time in the future');
      }
      next.expiresAt = settings.expiresAt;
    }
    if (settings.name !== undefined) next.name = settings.name;
    if (settings.consumer !== undefined) next.consumer = settings.consumer;
    if (settings.enabled !== undefined) next.enabled = settings.enabled;
    if (settings.meta !== undefined) {
      validateMeta(settings.meta);
      next.meta = settings.meta;
    }
    if (settings.ratelimits !== undefined) next.ratelimits = validRatelimits(settings.ratelimits);
    if (settings.credits !== undefined) {
      next.credits = settings.credits === null ? null : validCredits(settings.credits);
      next.creditsRefilledAt = settings.credits === null ? null : now;
    }
    if (settings.ipAllowlist !== undefined) {
      if (settings.ipAllowlist !== null) validateAllowlist(settings.ipAllowlist);
      next.ipAllowlist = settings.ipAllowlist;
    }
    return next;
  }
}

function validRatelimits(limits: RatelimitConfig[]): RatelimitConfig[] {
  const names = new Set<string>();
  for (const { name, limit, duration } of limits) {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new KeygateError('INVALID_REQUEST', `ratelimit "${name}": limit must be an integer ≥ 1`);
    if (!Number.isSafeInteger(duration) || duration < 1) throw new KeygateError('INVALID_REQUEST', `ratelimit "${name}": duration must be ≥ 1 ms`);
    if (names.has(name)) throw new KeygateError('INVALID_REQUEST', `ratelimit "${name}" is listed twice`);
    names.add(name);
  }
  return limits.map(({ name, limit, duration }) => ({ name, limit, duration }));
}

function validCredits(credits: { remaining: number; refill?: CreditsConfig['refill'] }): CreditsConfig {
  if (!Number.isSafeInteger(credits.remaining) || credits.remaining < 0) {
    throw new KeygateError('INVALID_REQUEST', 'credits.remaining must be an integer ≥ 0');
  }
  const refill = credits.refill ?? null;
  if (refill !== null && (!Number.isSafeInteger(refill.amount) || refill.amount < 1)) {
    throw new KeygateError('INVALID_REQUEST', 'credits.refill.amount must be an integer ≥ 1');
  }
  return { remaining: credits.remaining, refill: refill === null ? null : { amount: refill.amount, interval: refill.interval } };
}

/**
 * The /keys routes never act on a grant key: rolling it would hand out a secret holding the
 * whole grant, and changing, revoking or minting under it would change every key of the consumer
 * behind its back. Its consumer's routes manage it.
 */
function assertNotGrant(key: ApiKey, tenant: Tenant): void {
  if (key.grantOf !== null) {
    throw new KeygateError('KEY_IS_GRANT', `key "${key.id}" holds consumer "${key.grantOf}"'s grant: manage it through /v1/tenants/${tenant.slug}/consumers/${key.grantOf}`);
  }
}

/** Why a key (or a consumer's grant) cannot mint now, in words, for each `mintRefusal`. */
export const MINT_REFUSALS: Record<Exclude<ReturnType<typeof mintRefusal>, null>, string> = {
  REVOKED: 'it or an ancestor is revoked',
  EXPIRED: 'it or an ancestor has expired',
  DISABLED: 'it or an ancestor is disabled',
  TOO_DEEP: `a chain of keys holds at most ${MAX_KEY_CHAIN} keys`,
  RATE_LIMITED: 'it or an ancestor is rate limited',
  USAGE_EXCEEDED: 'it or an ancestor is out of credits',
};

/** A child within its parent's effective scopes (over the parent's chain) and lifetime. */
function assertWithinParent(child: ApiKey, parent: EffectiveKey): void {
  const extra = isSubset(child.scopes, parent.heldScopes);
  if (extra !== null) throw new KeygateError('SCOPE_NOT_ALLOWED', `the parent key does not hold "${extra}"`);
  if (parent.expiresAt !== null && (child.expiresAt === null || child.expiresAt > parent.expiresAt)) {
    throw new KeygateError('EXPIRY_AFTER_PARENT', `a sub-key must expire by ${new Date(parent.expiresAt).toISOString()}`);
  }
}

/**
 * A sub-key may add meta names, never set one an ancestor sets (the ancestor's would win at
 * verify), and the meta verify returns for it — merged over the chain — stays within the bounds
 * of one key's meta, so each generation cannot add another MAX_META_BYTES to every answer.
 */
function assertMetaNotInherited(meta: Readonly<Record<string, unknown>> | undefined, ancestors: readonly ApiKey[]): void {
  if (meta === undefined) return;
  const name = inheritedMetaName(meta, ancestors);
  if (name !== null) throw new KeygateError('META_KEY_INHERITED', `meta "${name}" is set by an ancestor key and cannot be overridden`);
  if (ancestors.length > 0) validateMeta(Object.assign({}, meta, ...ancestors.map((a) => a.meta)));
}

/** Descendants whose scopes or expiry exceed their (possibly narrowed) parent, narrowed. */
function narrowDescendants(root: ApiKey, descendants: ApiKey[], api: Api, now: number): ApiKey[] {
  const byParent = new Map<string, ApiKey[]>();
  for (const key of descendants) {
    const siblings = byParent.get(key.parentId!) ?? [];
    siblings.push(key);
    byParent.set(key.parentId!, siblings);
  }
  const changed: ApiKey[] = [];
  const visit = (parent: ApiKey): void => {
    const held = expandScopes(parent.scopes, api.scopes);
    for (const child of byParent.get(parent.id) ?? []) {
      const scopes = child.scopes.filter((s) => held.has(s));
      const expiresAt =
        parent.expiresAt !== null && (child.expiresAt === null || child.expiresAt > parent.expiresAt) ? parent.expiresAt : child.expiresAt;
      const next = scopes.length !== child.scopes.length || expiresAt !== child.expiresAt ? { ...child, scopes, expiresAt, updatedAt: now } : child;
      if (next !== child) changed.push(next);
      visit(next);
    }
  };
  visit(root);
  return changed;
}
