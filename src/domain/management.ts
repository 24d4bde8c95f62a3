import type { ScopeDefinition } from './scopes.js';

/**
 * Root keys are Keygate keys of a built-in API in a built-in tenant, so the management API is
 * protected by the same machinery it manages. Tenant slugs cannot start with `_`, so the
 * system tenant never collides with a customer's. A root key's `consumer` is the slug of the
 * one tenant it may act on, or null for all tenants.
 */
export const SYSTEM_TENANT_SLUG = '_system';
export const MANAGEMENT_API = 'keygate:management';
export const ROOT_KEY_PREFIX = 'kgroot';

export const MANAGEMENT_SCOPES: readonly ScopeDefinition[] = [
  { name: 'tenants:read', description: 'List and read tenants' },
  { name: 'tenants:write', description: 'Create, change and delete tenants (deleting takes everything in them)', implies: ['tenants:read'] },
  { name: 'apis:read', description: 'List and read APIs and their scope catalogs' },
  { name: 'apis:write', description: 'Create, change and delete APIs (with force: narrow or delete what uses them)', implies: ['apis:read'] },
  { name: 'keys:read', description: 'List and read API keys (never their secrets)' },
  { name: 'keys:write', description: 'Create, update, roll, revoke and delete API keys', implies: ['keys:read'] },
  { name: 'consumers:read', description: "List and read consumers, their members, grants and keys (never the keys' secrets)" },
  {
    name: 'consumers:write',
    description: "Create, change and delete consumers and their grants (narrowing or removing a grant narrows or revokes its keys); a grant lets the consumer's members create keys within it in the portal, so this is the power to give scopes: hold it as keys:write",
    implies: ['consumers:read'],
  },
  { name: 'keys:verify', description: 'Verify credentials with POST /v1/verify' },
  { name: 'audit:read', description: 'Read the audit log' },
  { name: 'usage:read', description: 'Read usage analytics: request counts and latencies per API, key, consumer and operation' },
  { name: 'clients:read', description: 'List and read OAuth clients (never their secrets)' },
  { name: 'clients:write', description: 'Create, update, delete OAuth clients and rotate their secrets', implies: ['clients:read'] },
  { name: 'users:read', description: 'List and read users and their connected apps' },
  { name: 'users:write', description: 'Create, change, disable and delete users, send them reset links, revoke their app grants', implies: ['users:read'] },
  { name: 'tokens:read', description: 'List JWT API keys, signing keys and HS256 secrets' },
  { name: 'tokens:write', description: 'Issue and revoke JWT API keys and HS256 secrets, revoke tokens, rotate signing keys', implies: ['tokens:read'] },
  { name: 'root_keys:read', description: 'List and read the root keys and operators (people who sign in to the console with a root key\'s scopes) you could have created (never their secrets)' },
  {
    name: 'root_keys:write',
    description: 'Create, roll, revoke and delete root keys, and create, change, disable, reset and delete operators (a root credential held by a person), with at most the scopes and tenant reach of the caller',
    implies: ['root_keys:read'],
  },
  { name: 'metrics:read', description: 'Scrape the instance\'s Prometheus metrics (GET /metrics); a root key limited to a tenant cannot' },
];

export const ALL_MANAGEMENT_SCOPES: readonly string[] = MANAGEMENT_SCOPES.map((s) => s.name);

/**
 * Whether a tenant slug is reserved for Keygate itself (`_system`, and any slug starting with
 * `_`). This is the one rule that decides whether a request may address a tenant: every tenant
 * resolver (management routes, OAuth and portal routes, the directory cache, a root key's tenant
 * limit) answers a reserved slug exactly as an unknown one, whoever asks.
 *
 * @example
 * isReservedSlug('_system'); // true
 * isReservedSlug('acme'); // false
 */
export function isReservedSlug(slug: string): boolean {
  return slug.startsWith('_');
}

/** What a root key may reach: its scopes (implications included) and its tenant limit. */
export interface RootKeyReach {
  scopes: ReadonlySet<string>;
  /** The one tenant the key is limited to, or null for all tenants. */
  tenant: string | null;
}

/** A root key as created or acted on: the scopes it holds and its tenant limit. */
export interface RootKeyShape {
  scopes: readonly string[];
  tenant: string | null;
}

/**
 * Why a root key with `caller`'s reach may not create, see or act on a root key shaped like
 * `target`, or null when it may. A caller reaches only keys it could have created itself: every
 * scope of the target among the caller's, and the target's tenant limit the caller's or
 * narrower (a global key reaches keys of any tenant; a limited key only keys of its own
 * tenant). Management keys therefore never escalate, by creation or by acting on a stronger key.
 *
 * @example
 * rootKeyOverreach({ scopes: new Set(['keys:write', 'keys:read']), tenant: 'acme' }, { scopes: ['keys:read'], tenant: 'acme' }); // null
 * rootKeyOverreach({ scopes: new Set(['keys:read']), tenant: 'acme' }, { scopes: ['keys:read'], tenant: null }); // 'your root key is limited to tenant "acme"'
 */
export function rootKeyOverreach(caller: RootKeyReach, target: RootKeyShape): string | null {
  for (const scope of target.scopes) {
    if (!caller.scopes.has(scope)) return `your root key does not hold "${scope}"`;
  }
  if (caller.tenant !== null && target.tenant !== caller.tenant) return `your root key is limited to tenant "${caller.tenant}"`;
  return null;
}
