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
  { name: 'tenants:write', description: 'Create tenants', implies: ['tenants:read'] },
  { name: 'apis:read', description: 'List and read APIs and their scope catalogs' },
  { name: 'apis:write', description: 'Create APIs', implies: ['apis:read'] },
  { name: 'keys:read', description: 'List and read API keys (never their secrets)' },
  { name: 'keys:write', description: 'Create, update, roll, revoke and delete API keys', implies: ['keys:read'] },
  { name: 'keys:verify', description: 'Verify credentials with POST /v1/verify' },
  { name: 'audit:read', description: 'Read the audit log' },
  { name: 'clients:read', description: 'List and read OAuth clients (never their secrets)' },
  { name: 'clients:write', description: 'Create, update, delete OAuth clients and rotate their secrets', implies: ['clients:read'] },
  { name: 'users:read', description: 'List and read users and their connected apps' },
  { name: 'users:write', description: 'Create users, change tenant sign-up settings, revoke users\' app grants', implies: ['users:read'] },
  { name: 'tokens:read', description: 'List JWT API keys, signing keys and HS256 secrets' },
  { name: 'tokens:write', description: 'Issue and revoke JWT API keys and HS256 secrets, revoke tokens, rotate signing keys', implies: ['tokens:read'] },
  { name: 'root_keys:write', description: 'Create root keys (with at most the scopes of the caller)' },
];

export const ALL_MANAGEMENT_SCOPES: readonly string[] = MANAGEMENT_SCOPES.map((s) => s.name);
