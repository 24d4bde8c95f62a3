import { newId } from '../crypto/secrets.js';
import type { Api } from '../domain/apis.js';
import { CONSUMER_ID_RULE, isConsumerId, type Consumer, type ConsumerGrant } from '../domain/consumers.js';
import { KeygateError } from '../domain/errors.js';
import { effectiveKey, mintRefusal } from '../domain/keys/effective-key.js';
import type { ApiKey, CreditsConfig, RatelimitConfig } from '../domain/keys/key.js';
import { assertInCatalog, isSubset } from '../domain/scopes.js';
import type { Tenant } from '../domain/tenants.js';
import type { NewGrantKey, Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import { MINT_REFUSALS, type GrantChildInput, type IssuedKey, type KeysService, type KeyWithApi, type SubkeyInput } from './keys-service.js';
import type { RevocationsService } from './revocations-service.js';
import type { TokensService } from './tokens-service.js';

/** One grant as given: `api` is the API's identifier or id. Times are ms since the epoch. */
export interface GrantInput {
  api: string;
  scopes: string[];
  /** Omitted on update: unchanged; null: no cap beyond the instance's sub-key limit. */
  maxKeys?: number | null;
  /** Omitted on update: unchanged. */
  ratelimits?: RatelimitConfig[];
  /** Omitted on update: unchanged (a change sets the remaining credits anew). */
  credits?: { remaining: number; refill?: CreditsConfig['refill'] } | null;
  /** Omitted on update: unchanged. */
  expiresAt?: number | null;
}

export interface ConsumerInput {
  /**
   * The API owner's own id for the consumer (their customer id): CONSUMER_ID_PATTERN, unique in
   * the tenant (CONSUMER_EXISTS). Omitted: a generated `con_…` id.
   */
  id?: string;
  name: string;
  members?: string[];
  grants?: GrantInput[];
}

/** A consumer's changes: `members` and `grants` replace the whole list (a grant not listed is removed). */
export interface ConsumerChanges {
  name?: string;
  members?: string[];
  grants?: GrantInput[];
}

/** A grant as it stands: its API, its grant key (scopes, expiry, limits, credits left) and its key cap. */
export interface GrantDetails {
  api: Api;
  key: ApiKey;
  maxKeys: number | null;
}

export interface ConsumerDetails {
  consumer: Consumer;
  grants: GrantDetails[];
}

/** A consumer's key as its members may ask for it: `api` names one of the consumer's grants. */
export interface ConsumerKeyInput extends GrantChildInput {
  api: string;
}

/** The longest a token minted for a member lives, and its default: a token to try an operation with, not a credential to keep. */
export const MAX_MINTED_TOKEN_TTL_SEC = 900;

/**
 * How many tokens one consumer's members may mint a minute: each is a row and an audit event,
 * so a member scripting the portal must not grow the store without bound.
 */
export const MINT_LIMIT: RatelimitConfig = Object.freeze({ name: 'tokens-minted', limit: 30, duration: 60_000 });

/** A short-lived token a member asks for: `api` names one of the consumer's grants. */
export interface MintTokenInput {
  api: string;
  scopes: string[];
  /** 1 to MAX_MINTED_TOKEN_TTL_SEC; the default is the maximum. */
  ttlSeconds?: number;
}

export interface MintedToken {
  token: string;
  jti: string;
  /** The token's scopes with what they imply, as its `scope` claim holds them. */
  scopes: string[];
  /** ms since the epoch: the requested lifetime, cut to the grant's expiry. */
  expiresAt: number;
}

/**
 * Consumers (docs/consumers.md): a customer account with member users and, per API, a grant —
 * the most its keys may hold. A grant is a hidden grant key and the consumer's keys are its
 * children, so the key-chain rules (effective-key.ts) enforce it: scopes and expiry within it,
 * its rate limits and credits one quota for all of them, narrowing or revoking it reaching every
 * key at once. The member methods (`createKey`, `revokeKey`, `rollKey`, `createSubkey`) are what
 * the portal calls for its signed-in member; each acts only on keys under this consumer's grants.
 */
export class ConsumersService {
  constructor(
    private readonly ctx: ServiceContextWith<'consumers' | 'directory' | 'keys' | 'people'>,
    private readonly keys: KeysService,
    private readonly tokens: TokensService,
    private readonly revocations: RevocationsService,
  ) {}

  async create(actor: Actor, tenant: Tenant, input: ConsumerInput): Promise<ConsumerDetails> {
    const now = this.ctx.clock();
    const id = input.id === undefined ? newId('consumer', now) : validId(input.id);
    const members = await this.validMembers(tenant, input.members ?? []);
    const grants: ConsumerGrant[] = [];
    const grantKeys: NewGrantKey[] = [];
    for (const { grant, api } of await this.resolveGrants(tenant, input.grants ?? [])) {
      const grantKey = this.keys.newGrantKey(tenant, api, id, grantKeySettings(grant), now);
      grantKeys.push(grantKey);
      grants.push({ apiId: api.id, keyId: grantKey.key.id, maxKeys: validMaxKeys(grant.maxKeys ?? null) });
    }
    const consumer: Consumer = { id, tenantId: tenant.id, name: validName(input.name), members, grants, createdAt: now, updatedAt: now };
    const event = this.ctx.audit.event(tenant.id, actor, 'consumer.create', id, { members, apis: grantKeys.map((g) => g.key.apiId) });
    await this.ctx.store.consumers.create(consumer, grantKeys, event);
    return this.get(tenant, id);
  }

  async get(tenant: Tenant, id: string): Promise<ConsumerDetails> {
    return (await this.details(tenant, [await this.find(tenant, id)]))[0]!;
  }

  /** In id order; `filter.search` keeps the consumers whose id or name contains it, in any case. */
  async list(tenant: Tenant, page: PageRequest, filter: { search?: string } = {}): Promise<Page<ConsumerDetails>> {
    const result = await this.ctx.store.consumers.list(tenant.id, page, filter);
    return { items: await this.details(tenant, result.items), next: result.next };
  }

  /** The consumers `userId` is a member of (the portal's "pick one"), in id order. */
  async consumersOf(tenant: Tenant, userId: string): Promise<ConsumerDetails[]> {
    return this.details(tenant, await this.ctx.store.consumers.listOfMember(tenant.id, userId));
  }

  /**
   * Applies the changes in one transaction. A grant kept with narrower scopes or an earlier
   * expiry narrows every key under it; a grant left out of `grants` is revoked with every key
   * under it. Returns the consumer as it is now.
   */
  async update(actor: Actor, tenant: Tenant, id: string, changes: ConsumerChanges): Promise<ConsumerDetails> {
    const current = await this.find(tenant, id);
    const now = this.ctx.clock();
    const next: Consumer = { ...current, updatedAt: now };
    if (changes.name !== undefined) next.name = validName(changes.name);
    if (changes.members !== undefined) next.members = await this.validMembers(tenant, changes.members);
    const created: NewGrantKey[] = [];
    const changed: ApiKey[] = [];
    let removed: string[] = [];
    if (changes.grants !== undefined) {
      const byApi = new Map(current.grants.map((g) => [g.apiId, g]));
      next.grants = [];
      for (const { grant, api } of await this.resolveGrants(tenant, changes.grants)) {
        const existing = byApi.get(api.id);
        byApi.delete(api.id);
        if (existing === undefined) {
          const grantKey = this.keys.newGrantKey(tenant, api, id, grantKeySettings(grant), now);
          created.push(grantKey);
          next.grants.push({ apiId: api.id, keyId: grantKey.key.id, maxKeys: validMaxKeys(grant.maxKeys ?? null) });
          continue;
        }
        const tree = await this.ctx.store.keys.findTree(tenant.id, existing.keyId);
        changed.push(...this.keys.changedGrantKey(tree, api, grantKeySettings(grant), now));
        next.grants.push({ ...existing, maxKeys: grant.maxKeys === undefined ? existing.maxKeys : validMaxKeys(grant.maxKeys) });
      }
      removed = [...byApi.values()].map((g) => g.keyId);
    }
    const event = this.ctx.audit.event(tenant.id, actor, 'consumer.update', id, {
      fields: Object.keys(changes),
      grantsAdded: created.length,
      grantsRemoved: removed.length,
      keysNarrowed: changed.length,
    });
    const grantKeysRead = current.grants.map((g) => g.keyId);
    const revoked = await this.ctx.store.consumers.update(next, { created, changed, removed, grantKeysRead, at: now }, event);
    await this.ctx.lookup.invalidate([...changed.map((k) => k.id), ...revoked]);
    // Tokens minted for the consumer were checked against the grants and members it had: a
    // change to either ends them all (they last 15 minutes; a member mints new ones).
    if (changes.grants !== undefined || changes.members !== undefined) await this.revocations.cutOff(actor, tenant, 'consumer', id);
    return this.get(tenant, id);
  }

  /** Deletes the consumer and revokes every key under its grants; returns the ids revoked. */
  async delete(actor: Actor, tenant: Tenant, id: string): Promise<string[]> {
    const revoked = await this.ctx.store.consumers.delete(tenant.id, id, this.ctx.clock(), this.ctx.audit.event(tenant.id, actor, 'consumer.delete', id));
    if (revoked === null) throw new KeygateError('CONSUMER_NOT_FOUND', `no consumer "${id}" in tenant "${tenant.slug}"`);
    await this.ctx.lookup.invalidate(revoked);
    await this.revocations.cutOff(actor, tenant, 'consumer', id);
    return revoked;
  }

  /**
   * A key for `member` under the consumer's grant on `input.api`: scopes and expiry within the
   * grant, its own limits and credits on top of the grant's shared ones. The secret is in the
   * answer only.
   */
  async createKey(actor: Actor, tenant: Tenant, consumerId: string, member: string, input: ConsumerKeyInput): Promise<IssuedKey> {
    const consumer = await this.find(tenant, consumerId);
    await this.assertMember(tenant, consumer, member);
    const { api, ...settings } = input;
    const target = await this.findApi(tenant, api);
    const grant = consumer.grants.find((g) => g.apiId === target.id);
    if (grant === undefined) throw new KeygateError('API_NOT_GRANTED', `consumer "${consumer.id}" holds no grant on "${target.identifier}"`);
    return this.keys.createUnderGrant(actor, tenant, grant.keyId, settings, { maxKeys: grant.maxKeys, data: { consumer: consumer.id, member } });
  }

  /** Every key under the consumer's grants (its members' keys and their sub-keys), by id. */
  async listKeys(tenant: Tenant, consumerId: string, page: PageRequest): Promise<Page<KeyWithApi>> {
    const consumer = await this.find(tenant, consumerId);
    const apis = new Map((await this.details(tenant, [consumer]))[0]!.grants.map((g) => [g.api.id, g.api]));
    const result = await this.ctx.store.consumers.listKeysUnder(tenant.id, consumer.grants.map((g) => g.keyId), page);
    return { items: result.items.map((key) => ({ key, api: apis.get(key.apiId)! })), next: result.next };
  }

  /** Revokes one of the consumer's keys and its sub-keys. */
  async revokeKey(actor: Actor, tenant: Tenant, consumerId: string, member: string, keyId: string): Promise<string[]> {
    await this.memberKey(tenant, consumerId, member, keyId);
    return this.keys.revoke(actor, tenant, keyId);
  }

  /** A new secret for one of the consumer's keys; the old one works for `gracePeriodMs`. */
  async rollKey(actor: Actor, tenant: Tenant, consumerId: string, member: string, keyId: string, gracePeriodMs: number): Promise<IssuedKey> {
    await this.memberKey(tenant, consumerId, member, keyId);
    return this.keys.roll(actor, tenant, keyId, gracePeriodMs);
  }

  /** A sub-key of one of the consumer's keys, within that key over its chain (so within the grant). */
  async createSubkey(actor: Actor, tenant: Tenant, consumerId: string, member: string, parentKeyId: string, input: SubkeyInput): Promise<IssuedKey> {
    await this.memberKey(tenant, consumerId, member, parentKeyId);
    return this.keys.createSubkey(actor, tenant, parentKeyId, input);
  }

  /**
   * A JWT (`sub`: the consumer's id) for `member` with exactly `input.scopes`, which must lie
   * within the grant key's effective scopes: the same ceiling as a key under the grant, refused
   * the same way (SCOPE_NOT_ALLOWED) and while the grant could not mint a key either
   * (KEY_CANNOT_MINT: revoked, expired, disabled, rate limited, out of credits), nor past
   * MINT_LIMIT for the consumer (TOKEN_MINT_LIMIT_REACHED). It lives at most
   * MAX_MINTED_TOKEN_TTL_SEC and never beyond the grant; recorded as a JWT API key of the consumer,
   * so it is listed and revocable by jti, and its consumer's cut-off ends it.
   *
   * @example
   * const { token } = await keygate.consumers.mintToken(actor, tenant, consumerId, user.id, { api: api.id, scopes: ['read:users'], ttlSeconds: 300 });
   */
  async mintToken(actor: Actor, tenant: Tenant, consumerId: string, member: string, input: MintTokenInput): Promise<MintedToken> {
    const ttlSeconds = input.ttlSeconds ?? MAX_MINTED_TOKEN_TTL_SEC;
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_MINTED_TOKEN_TTL_SEC) {
      throw new KeygateError('INVALID_REQUEST', `ttlSeconds must be a whole number from 1 to ${MAX_MINTED_TOKEN_TTL_SEC}`);
    }
    const consumer = await this.find(tenant, consumerId);
    await this.assertMember(tenant, consumer, member);
    const api = await this.findApi(tenant, input.api);
    const grant = consumer.grants.find((g) => g.apiId === api.id);
    const grantKey = grant === undefined ? null : await this.ctx.store.keys.find(tenant.id, grant.keyId);
    if (grantKey === null || grantKey.grantOf === null) throw new KeygateError('API_NOT_GRANTED', `consumer "${consumer.id}" holds no grant on "${api.identifier}"`);
    const scopes = [...new Set(input.scopes)];
    assertInCatalog(scopes, api.scopes);
    const now = this.ctx.clock();
    const effective = effectiveKey([grantKey], api.scopes);
    const extra = isSubset(scopes, effective.heldScopes);
    if (extra !== null) throw new KeygateError('SCOPE_NOT_ALLOWED', `consumer "${consumer.id}"'s grant on "${api.identifier}" does not hold "${extra}"`);
    if (effective.ratelimits !== null || effective.credits.length > 0) {
      // A token is checked without its grant key, so nothing would count its requests against
      // the grant's shared quota: a metered grant gives keys, not tokens.
      throw new KeygateError('GRANT_IS_METERED', `the grant on "${api.identifier}" has rate limits or credits, which a token's requests would not count against: use one of the consumer's keys`);
    }
    const refusal = mintRefusal(effective, [grantKey], { rateLimited: false }, now);
    if (refusal !== null) throw new KeygateError('KEY_CANNOT_MINT', `the grant on "${api.identifier}" cannot give tokens now: ${MINT_REFUSALS[refusal]}`);
    // The tenant in the name: consumer ids are unique per tenant only, and one tenant's members
    // must neither use up nor learn of another's budget for a consumer of the same id.
    const mintBudget = `mint:${tenant.id}:${consumer.id}`;
    const mints = { family: mintBudget, subjects: [{ keyId: mintBudget, limits: [MINT_LIMIT] }] };
    if (!(await this.ctx.cluster.rateLimiter.limit(mints, now)).allowed) {
      throw new KeygateError('TOKEN_MINT_LIMIT_REACHED', `consumer "${consumer.id}"'s members may get at most ${MINT_LIMIT.limit} tokens a minute: try again shortly`);
    }
    const expiresAt = Math.min(now + ttlSeconds * 1000, effective.expiresAt ?? Infinity);
    const { record, token } = await this.tokens.issueApiKeyToken(
      actor,
      tenant,
      { api: api.identifier, consumer: consumer.id, scopes, expiresAt },
      { action: 'consumer.token.mint', data: { member, ttlSeconds } },
    );
    return { token, jti: record.jti, scopes: record.scopes, expiresAt };
  }

  private async find(tenant: Tenant, id: string): Promise<Consumer> {
    const consumer = await this.ctx.store.consumers.find(tenant.id, id);
    if (consumer === null) throw new KeygateError('CONSUMER_NOT_FOUND', `no consumer "${id}" in tenant "${tenant.slug}"`);
    return consumer;
  }

  /** The consumers with their grants' keys and APIs: one query for the keys, one per distinct API. */
  private async details(tenant: Tenant, consumers: readonly Consumer[]): Promise<ConsumerDetails[]> {
    const grantKeys = await this.ctx.store.consumers.findGrantKeys(tenant.id, consumers.flatMap((c) => c.grants.map((g) => g.keyId)));
    const keys = new Map(grantKeys.map((k) => [k.id, k]));
    const apis = new Map<string, Api | null>();
    for (const apiId of new Set(grantKeys.map((k) => k.apiId))) apis.set(apiId, await this.ctx.store.directory.findApiById(apiId));
    return consumers.map((consumer) => {
      const grants: GrantDetails[] = [];
      for (const grant of consumer.grants) {
        const key = keys.get(grant.keyId);
        const api = apis.get(grant.apiId);
        if (key !== undefined && api != null) grants.push({ api, key, maxKeys: grant.maxKeys });
      }
      return { consumer, grants };
    });
  }

  /**
   * The member acts for the consumer and `keyId` is one of its keys: under one of its grant keys
   * (never a grant key itself). Any other key of the tenant is KEY_NOT_FOUND, as if absent.
   */
  private async memberKey(tenant: Tenant, consumerId: string, member: string, keyId: string): Promise<void> {
    const consumer = await this.find(tenant, consumerId);
    await this.assertMember(tenant, consumer, member);
    const root = (await this.ctx.store.keys.findAncestors(tenant.id, keyId)).at(-1);
    if (root === undefined || !consumer.grants.some((g) => g.keyId === root.id)) {
      throw new KeygateError('KEY_NOT_FOUND', `consumer "${consumer.id}" has no key "${keyId}"`);
    }
  }

  /** Only an enabled user listed in `members` acts for the consumer. */
  private async assertMember(tenant: Tenant, consumer: Consumer, member: string): Promise<void> {
    const user = consumer.members.includes(member) ? await this.ctx.store.people.findUser(tenant.id, member) : null;
    if (user === null || user.disabledAt !== null) {
      throw new KeygateError('NOT_A_MEMBER', `user "${member}" is not an active member of consumer "${consumer.id}"`);
    }
  }

  private async validMembers(tenant: Tenant, members: readonly string[]): Promise<string[]> {
    const unique = [...new Set(members)];
    for (const userId of unique) {
      if ((await this.ctx.store.people.findUser(tenant.id, userId)) === null) {
        throw new KeygateError('USER_NOT_FOUND', `no user "${userId}" in tenant "${tenant.slug}" to make a member`);
      }
    }
    return unique.sort();
  }

  /** Each grant with its API; an API granted twice is refused. */
  private async resolveGrants(tenant: Tenant, grants: readonly GrantInput[]): Promise<{ grant: GrantInput; api: Api }[]> {
    const resolved: { grant: GrantInput; api: Api }[] = [];
    for (const grant of grants) {
      const api = await this.findApi(tenant, grant.api);
      if (resolved.some((r) => r.api.id === api.id)) throw new KeygateError('INVALID_REQUEST', `API "${api.identifier}" is granted twice`);
      resolved.push({ grant, api });
    }
    return resolved;
  }

  /** By identifier, or by id. */
  private async findApi(tenant: Tenant, identifierOrId: string): Promise<Api> {
    const api = (await this.ctx.store.directory.findApi(tenant.id, identifierOrId)) ?? (await this.ctx.store.directory.findApiById(identifierOrId));
    if (api === null || api.tenantId !== tenant.id) throw new KeygateError('API_NOT_FOUND', `no API "${identifierOrId}" in tenant "${tenant.slug}"`);
    return api;
  }
}

/** The grant's settings its grant key holds; the ones not given stay as they are. */
function grantKeySettings(grant: GrantInput): { scopes: string[]; expiresAt?: number | null; ratelimits?: RatelimitConfig[]; credits?: GrantInput['credits'] } {
  return {
    scopes: grant.scopes,
    ...(grant.expiresAt !== undefined ? { expiresAt: grant.expiresAt } : {}),
    ...(grant.ratelimits !== undefined ? { ratelimits: grant.ratelimits } : {}),
    ...(grant.credits !== undefined ? { credits: grant.credits } : {}),
  };
}

function validMaxKeys(maxKeys: number | null): number | null {
  if (maxKeys !== null && (!Number.isSafeInteger(maxKeys) || maxKeys < 0)) throw new KeygateError('INVALID_REQUEST', 'maxKeys must be an integer ≥ 0, or null');
  return maxKeys;
}

function validId(id: string): string {
  if (!isConsumerId(id)) throw new KeygateError('INVALID_REQUEST', `id ${JSON.stringify(id.slice(0, 80))} is refused: ${CONSUMER_ID_RULE}`);
  return id;
}

function validName(name: string): string {
  if (name.trim() === '') throw new KeygateError('INVALID_REQUEST', 'name must not be empty');
  return name;
}
