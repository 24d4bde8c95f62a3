import { describe, expect, it } from 'vitest';
import { checkKey, type KeyFacts, type KeyRequirement } from '../../../src/domain/keys/check-key.js';
import { effectiveKey } from '../../../src/domain/keys/effective-key.js';
import { newKey, type ApiKey } from '../../../src/domain/keys/key.js';

const now = Date.UTC(2026, 5, 15, 12);
const API = 'https://api.example.test';
const catalog = [
  { name: 'write:users', description: 'w', implies: ['read:users'] },
  { name: 'read:users', description: 'r' },
  { name: 'read:billing', description: 'b' },
];

function facts(fields: Partial<ApiKey> = {}, options: { secretRetiredAt?: number | null; apiIdentifier?: string; parent?: Partial<ApiKey> } = {}): KeyFacts {
  const own = { ...newKey({ id: 'key_c', tenantId: 'ten_1', apiId: 'api_1', parentId: options.parent ? 'key_p' : null, now: now - 60_000 }), scopes: ['write:users'], ...fields };
  const chain = options.parent ? [own, { ...newKey({ id: 'key_p', tenantId: 'ten_1', apiId: 'api_1', parentId: null, now: now - 60_000 }), scopes: ['write:users'], ...options.parent }] : [own];
  return { key: own, apiIdentifier: options.apiIdentifier ?? API, secretRetiredAt: options.secretRetiredAt ?? null, effective: effectiveKey(chain, catalog) };
}

const required = (fields: Partial<KeyRequirement> = {}): KeyRequirement => ({ api: API, scopes: ['read:users'], match: 'all', ip: '10.1.2.3', ...fields });

describe('checkKey: the stateless checks of a key, in a fixed order', () => {
  it('answers each code in its order: lifecycle, then where, then what', () => {
    // Every check fails at first; lifting them one by one shows the next code in line.
    const broken = {
      revokedAt: now - 1,
      expiresAt: now - 1,
      enabled: false,
      ipAllowlist: ['192.0.2.0/24'],
      scopes: ['read:billing'],
    } satisfies Partial<ApiKey>;
    const steps: [Partial<ApiKey>, { secretRetiredAt: number | null; apiIdentifier: string }, string][] = [
      [broken, { secretRetiredAt: now - 1, apiIdentifier: 'https://other.test' }, 'REVOKED'],
      [{ ...broken, revokedAt: null }, { secretRetiredAt: now - 1, apiIdentifier: 'https://other.test' }, 'REVOKED'],
      [{ ...broken, revokedAt: null }, { secretRetiredAt: null, apiIdentifier: 'https://other.test' }, 'EXPIRED'],
      [{ ...broken, revokedAt: null, expiresAt: null }, { secretRetiredAt: null, apiIdentifier: 'https://other.test' }, 'DISABLED'],
      [{ ...broken, revokedAt: null, expiresAt: null, enabled: true }, { secretRetiredAt: null, apiIdentifier: 'https://other.test' }, 'WRONG_AUDIENCE'],
      [{ ...broken, revokedAt: null, expiresAt: null, enabled: true }, { secretRetiredAt: null, apiIdentifier: API }, 'IP_NOT_ALLOWED'],
      [{ ...broken, revokedAt: null, expiresAt: null, enabled: true, ipAllowlist: ['10.0.0.0/8'] }, { secretRetiredAt: null, apiIdentifier: API }, 'INSUFFICIENT_SCOPE'],
      [{ ...broken, revokedAt: null, expiresAt: null, enabled: true, ipAllowlist: ['10.0.0.0/8'], scopes: ['write:users'] }, { secretRetiredAt: null, apiIdentifier: API }, 'VALID'],
    ];
    expect(steps.map(([fields, options]) => checkKey(facts(fields, options), required(), now))).toEqual(steps.map(([, , code]) => code));
  });

  it('revokes at the instant of revokedAt, not before: a revocation can be scheduled', () => {
    expect(checkKey(facts({ revokedAt: now }), required(), now)).toBe('REVOKED');
    expect(checkKey(facts({ revokedAt: now + 1 }), required(), now)).toBe('VALID');
  });

  it('keeps a rolled secret working through its grace period only', () => {
    expect(checkKey(facts({}, { secretRetiredAt: now + 1 }), required(), now)).toBe('VALID');
    expect(checkKey(facts({}, { secretRetiredAt: now }), required(), now)).toBe('REVOKED');
  });

  it('expires at the instant of expiresAt', () => {
    expect(checkKey(facts({ expiresAt: now + 1 }), required(), now)).toBe('VALID');
    expect(checkKey(facts({ expiresAt: now }), required(), now)).toBe('EXPIRED');
  });

  it('reads the chain, not the key: an ancestor revoked, expired, disabled or with an allowlist binds the sub-key', () => {
    expect(checkKey(facts({}, { parent: { revokedAt: now - 1 } }), required(), now)).toBe('REVOKED');
    expect(checkKey(facts({}, { parent: { expiresAt: now - 1 } }), required(), now)).toBe('EXPIRED');
    expect(checkKey(facts({}, { parent: { enabled: false } }), required(), now)).toBe('DISABLED');
    expect(checkKey(facts({}, { parent: { ipAllowlist: ['192.0.2.0/24'] } }), required(), now)).toBe('IP_NOT_ALLOWED');
    expect(checkKey(facts({}, { parent: { scopes: ['read:billing'] } }), required(), now)).toBe('INSUFFICIENT_SCOPE');
    expect(checkKey(facts({}, { parent: {} }), required(), now)).toBe('VALID');
  });

  it('refuses a request without an address when the key has an allowlist, and needs none when it has not', () => {
    expect(checkKey(facts({ ipAllowlist: ['10.0.0.0/8'] }), required({ ip: undefined }), now)).toBe('IP_NOT_ALLOWED');
    expect(checkKey(facts(), required({ ip: undefined }), now)).toBe('VALID');
  });

  it('checks scopes after implications, with all or any', () => {
    const key = facts({ scopes: ['write:users'] });
    expect(checkKey(key, required({ scopes: ['read:users', 'write:users'] }), now)).toBe('VALID');
    expect(checkKey(key, required({ scopes: ['read:users', 'read:billing'] }), now)).toBe('INSUFFICIENT_SCOPE');
    expect(checkKey(key, required({ scopes: ['read:users', 'read:billing'], match: 'any' }), now)).toBe('VALID');
    expect(checkKey(key, required({ scopes: ['read:billing'], match: 'any' }), now)).toBe('INSUFFICIENT_SCOPE');
    expect(checkKey(facts({ scopes: [] }), required({ scopes: [] }), now)).toBe('VALID');
  });
});
