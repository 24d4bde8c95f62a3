import { describe, expect, it } from 'vitest';
import {
  assertInCatalog,
  expandScopes,
  fromStructured,
  isScopeToken,
  satisfies,
  toStructured,
  validateCatalog,
} from '../../src/domain/scopes.js';

const catalog = [
  { name: 'admin', description: '', implies: ['repo', 'write:users'] },
  { name: 'repo', description: '', implies: ['public_repo'] },
  { name: 'public_repo', description: '' },
  { name: 'write:users', description: '', implies: ['read:users'] },
  { name: 'read:users', description: '' },
];

describe('scopes', () => {
  it('accepts RFC 6749 scope tokens and refuses spaces, quotes and backslashes', () => {
    expect(isScopeToken('read:users')).toBe(true);
    expect(isScopeToken('https://x/y.read')).toBe(true);
    for (const bad of ['', 'a b', 'a"b', 'a\\b', 'é', 'x'.repeat(129)]) expect(isScopeToken(bad)).toBe(false);
  });

  it('applies implications transitively', () => {
    expect([...expandScopes(['admin'], catalog)].sort()).toEqual(['admin', 'public_repo', 'read:users', 'repo', 'write:users']);
    expect([...expandScopes(['public_repo'], catalog)]).toEqual(['public_repo']);
  });

  it('terminates on implication cycles', () => {
    const cyclic = [
      { name: 'a', description: '', implies: ['b'] },
      { name: 'b', description: '', implies: ['a'] },
    ];
    expect([...expandScopes(['a'], cyclic)].sort()).toEqual(['a', 'b']);
  });

  it('matches all or any of the required scopes', () => {
    const held = new Set(['read:users']);
    expect(satisfies(held, ['read:users', 'write:users'], 'all')).toBe(false);
    expect(satisfies(held, ['read:users', 'write:users'], 'any')).toBe(true);
    expect(satisfies(held, [], 'all')).toBe(true);
  });

  it('converts to and from the structured form losslessly', () => {
    const scopes = ['read:users', 'create:users', 'read:billing', 'repo', 'a:b:c'];
    const structured = toStructured(scopes);
    expect(structured).toEqual({ users: { actions: ['read', 'create'] }, billing: { actions: ['read'] }, '': { actions: ['repo'] }, 'b:c': { actions: ['a'] } });
    expect(fromStructured(structured).sort()).toEqual([...scopes].sort());
  });

  it('rejects catalogs with duplicates, invalid names or dangling implications', () => {
    expect(() => validateCatalog(catalog)).not.toThrow();
    expect(() => validateCatalog([...catalog, { name: 'repo', description: '' }])).toThrow(expect.objectContaining({ code: 'INVALID_SCOPE' }));
    expect(() => validateCatalog([{ name: 'bad scope', description: '' }])).toThrow(expect.objectContaining({ code: 'INVALID_SCOPE' }));
    expect(() => validateCatalog([{ name: 'a', description: '', implies: ['ghost'] }])).toThrow(expect.objectContaining({ code: 'UNKNOWN_SCOPE' }));
    expect(() => assertInCatalog(['read:users', 'delete:users'], catalog)).toThrow(expect.objectContaining({ code: 'UNKNOWN_SCOPE' }));
  });
});
