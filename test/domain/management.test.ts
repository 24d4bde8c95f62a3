import { describe, expect, it } from 'vitest';
import { isReservedSlug, rootKeyOverreach } from '../../src/domain/management.js';

/**
 * The two management rules as pure functions; test/security/system-tenant.test.ts and
 * root-keys.test.ts try to break them through every surface.
 */
describe('isReservedSlug', () => {
  it('reserves every slug starting with an underscore, and nothing else', () => {
    for (const slug of ['_system', '_', '_other', '_SYSTEM']) expect(isReservedSlug(slug)).toBe(true);
    for (const slug of ['system', 'acme', 'a_b', '', ' _system', '%5Fsystem']) expect(isReservedSlug(slug)).toBe(false);
  });
});

describe('rootKeyOverreach', () => {
  const global = (...scopes: string[]): { scopes: ReadonlySet<string>; tenant: string | null } => ({ scopes: new Set(scopes), tenant: null });
  const limited = (tenant: string, ...scopes: string[]): { scopes: ReadonlySet<string>; tenant: string | null } => ({ scopes: new Set(scopes), tenant });

  it('lets a caller reach keys with a subset of its scopes, and a global caller keys of any tenant', () => {
    expect(rootKeyOverreach(global('keys:read', 'keys:write'), { scopes: ['keys:read'], tenant: null })).toBeNull();
    expect(rootKeyOverreach(global('keys:read'), { scopes: ['keys:read'], tenant: 'acme' })).toBeNull();
    expect(rootKeyOverreach(global('keys:read'), { scopes: [], tenant: null })).toBeNull();
    expect(rootKeyOverreach(limited('acme', 'keys:read'), { scopes: ['keys:read'], tenant: 'acme' })).toBeNull();
  });

  it('refuses any scope the caller does not hold, naming the first', () => {
    expect(rootKeyOverreach(global('keys:read'), { scopes: ['keys:read', 'keys:write', 'apis:write'], tenant: null })).toBe('your root key does not hold "keys:write"');
  });

  it('refuses a limited caller every key not limited to its own tenant, a global one included', () => {
    expect(rootKeyOverreach(limited('acme', 'keys:read'), { scopes: ['keys:read'], tenant: null })).toBe('your root key is limited to tenant "acme"');
    expect(rootKeyOverreach(limited('acme', 'keys:read'), { scopes: ['keys:read'], tenant: 'other' })).toBe('your root key is limited to tenant "acme"');
  });

  it('checks scopes before the tenant, so a stronger key of another tenant is refused for its scope', () => {
    expect(rootKeyOverreach(limited('acme', 'keys:read'), { scopes: ['keys:write'], tenant: 'other' })).toBe('your root key does not hold "keys:write"');
  });
});
