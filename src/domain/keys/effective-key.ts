import { compileAllowlist, type IpAllowlist } from '../ip-allowlist.js';
import { expandScopes, type ScopeDefinition } from '../scopes.js';
import { refillPeriodStart, type ApiKey, type CreditsConfig, type RatelimitConfig } from './key.js';

/** One key's own rate limits. */
export interface RatelimitSubject {
  keyId: string;
  limits: readonly RatelimitConfig[];
}

/**
 * Every limit a request of a key counts against: the key's own and each ancestor's, checked
 * and consumed together. `family` is the id of the chain's root key, the same for every key of
 * one family (the Redis limiter keeps a family's counters in one cluster slot with it).
 */
export interface RatelimitChain {
  family: string;
  subjects: readonly RatelimitSubject[];
}

/** A key of the chain that has credits: a request spends from every one of them. */
export interface CreditHolder {
  keyId: string;
  refill: CreditsConfig['refill'];
}

/**
 * What a key may do, over its chain (the key and all its ancestors): never more than any
 * ancestor. Every check of a key reads these fields, never the key's own.
 */
export interface EffectiveKey {
  /** The earliest revocation over the chain; a chain whose ancestor is missing counts as revoked. */
  revokedAt: number | null;
  /** The earliest expiry over the chain. */
  expiresAt: number | null;
  /** False when the key or any ancestor is disabled. */
  enabled: boolean;
  /** The key's granted scopes that every ancestor also holds (after implications). */
  scopes: readonly string[];
  /** `scopes` with implications, also held by every ancestor. */
  heldScopes: ReadonlySet<string>;
  /** Allows an address only when every allowlist of the chain does; null when none has one. */
  allowlist: IpAllowlist | null;
  /** The key's meta under its ancestors' meta: an ancestor's value wins for the same name. */
  meta: Readonly<Record<string, unknown>>;
  /** Null when no key of the chain has rate limits. */
  ratelimits: RatelimitChain | null;
  /** The keys of the chain with credits, in key-id order (the order their rows are locked in). */
  credits: readonly CreditHolder[];
}

/**
 * Most keys in one chain (a key and its ancestors). The per-key child cap alone bounds no
 * depth: a key holder could nest children without end, and every lookup and every merged `meta`
 * grows with the chain.
 */
export const MAX_KEY_CHAIN = 8;

const NO_CREDITS: readonly CreditHolder[] = Object.freeze([]);

/**
 * The one definition of what a key may do, used by verify (HTTP and in-process), management
 * authentication and sub-key minting. `chain` is the key first, then its parent, up to the root.
 *
 * @example
 * const effective = effectiveKey([child, parent], api.scopes);
 * effective.enabled // false when the parent is disabled
 */
export function effectiveKey(chain: readonly ApiKey[], catalog: readonly ScopeDefinition[]): EffectiveKey {
  const key = chain[0];
  if (key === undefined) throw new TypeError('a chain holds at least the key itself');
  const root = chain[chain.length - 1]!;
  let heldScopes = expandScopes(key.scopes, catalog);
  let scopes: readonly string[] = key.scopes;
  let revokedAt = root.parentId === null ? key.revokedAt : 0;
  let expiresAt = key.expiresAt;
  let enabled = key.enabled;
  const allowlists: IpAllowlist[] = [];
  if (key.ipAllowlist !== null) allowlists.push(compileAllowlist(key.ipAllowlist));
  for (let i = 1; i < chain.length; i++) {
    const ancestor = chain[i]!;
    const held = expandScopes(ancestor.scopes, catalog);
    heldScopes = new Set([...heldScopes].filter((s) => held.has(s)));
    scopes = scopes.filter((s) => held.has(s));
    revokedAt = earliest(revokedAt, ancestor.revokedAt);
    expiresAt = earliest(expiresAt, ancestor.expiresAt);
    enabled &&= ancestor.enabled;
    if (ancestor.ipAllowlist !== null) allowlists.push(compileAllowlist(ancestor.ipAllowlist));
  }
  return {
    revokedAt,
    expiresAt,
    enabled,
    scopes,
    heldScopes,
    allowlist: allowlists.length === 0 ? null : allowlists.length === 1 ? allowlists[0]! : everyAllows(allowlists),
    meta: chain.length === 1 ? key.meta : mergedMeta(chain),
    ratelimits: ratelimitChain(chain, root.id),
    credits: creditHolders(chain),
  };
}

/**
 * Why a key may not mint a sub-key, over its chain; null when it may. `chain` is the key and its
 * ancestors as stored now (their credits), `usage` whether a request now would be rate limited.
 * A chain already MAX_KEY_CHAIN keys long has no room for a child.
 *
 * @example
 * mintRefusal(effectiveKey(chain, api.scopes), chain, { rateLimited: false }, now) // 'DISABLED' under a disabled parent
 */
export function mintRefusal(
  effective: EffectiveKey,
  chain: readonly ApiKey[],
  usage: { rateLimited: boolean },
  now: number,
): 'REVOKED' | 'EXPIRED' | 'DISABLED' | 'TOO_DEEP' | 'RATE_LIMITED' | 'USAGE_EXCEEDED' | null {
  if (effective.revokedAt !== null && effective.revokedAt <= now) return 'REVOKED';
  if (effective.expiresAt !== null && effective.expiresAt <= now) return 'EXPIRED';
  if (!effective.enabled) return 'DISABLED';
  if (chain.length >= MAX_KEY_CHAIN) return 'TOO_DEEP';
  if (usage.rateLimited) return 'RATE_LIMITED';
  if (chain.some((key) => creditsExhausted(key, now))) return 'USAGE_EXCEEDED';
  return null;
}

/**
 * The first name of `meta` that an ancestor already sets (a child may add names, never
 * override its ancestors'), or null.
 *
 * @example
 * inheritedMetaName({ plan: 'free' }, [parentWithPlanPro]) // 'plan'
 */
export function inheritedMetaName(meta: Readonly<Record<string, unknown>>, ancestors: readonly ApiKey[]): string | null {
  for (const name of Object.keys(meta)) {
    if (ancestors.some((a) => Object.hasOwn(a.meta, name))) return name;
  }
  return null;
}

/** No credit left and no refill due: a request now would be USAGE_EXCEEDED. */
function creditsExhausted(key: ApiKey, now: number): boolean {
  const credits = key.credits;
  if (credits === null || credits.remaining >= 1) return false;
  if (credits.refill === null) return true;
  return (key.creditsRefilledAt ?? key.createdAt) >= refillPeriodStart(credits.refill.interval, now);
}

/**
 * The chain's meta, an ancestor's value winning for the same name (later entries win). Defined,
 * not assigned: Object.assign would turn a stored `__proto__` name into the merged object's
 * prototype, so readers would see names no key sets and the answer would lose that name.
 */
function mergedMeta(chain: readonly ApiKey[]): Readonly<Record<string, unknown>> {
  return Object.fromEntries(chain.flatMap((k) => Object.entries(k.meta)));
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function everyAllows(lists: readonly IpAllowlist[]): IpAllowlist {
  return { allows: (ip: string): boolean => lists.every((list) => list.allows(ip)) };
}

function ratelimitChain(chain: readonly ApiKey[], family: string): RatelimitChain | null {
  const subjects = chain.filter((k) => k.ratelimits.length > 0).map((k) => ({ keyId: k.id, limits: k.ratelimits }));
  return subjects.length === 0 ? null : { family, subjects };
}

function creditHolders(chain: readonly ApiKey[]): readonly CreditHolder[] {
  const holders = chain.filter((k) => k.credits !== null).map((k) => ({ keyId: k.id, refill: k.credits!.refill }));
  if (holders.length === 0) return NO_CREDITS;
  return holders.sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
}
