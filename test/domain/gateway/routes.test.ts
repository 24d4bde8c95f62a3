import { describe, expect, it } from 'vitest';
import { compileRouter, normalisePath, type Operation, type RouteMatch } from '../../../src/domain/gateway/routes.js';

function op(method: string, path: string, scopes: string[] = []): Operation {
  return { method, path, operationId: `${method} ${path}`, requirement: { public: false, anyOf: [scopes] }, cost: 1 };
}

const OPERATIONS = [
  op('GET', '/users'),
  op('POST', '/users', ['write:users']),
  op('GET', '/users/me'),
  op('GET', '/users/{id}', ['read:users']),
  op('DELETE', '/users/{id}', ['admin']),
  op('GET', '/files/{name}.json'),
  op('GET', '/public/{file}'),
  op('GET', '/public/secret', ['admin']),
  op('GET', '/'),
];

const match = compileRouter({ basePath: '', operations: OPERATIONS });
const matched = (result: RouteMatch): string | null => (result.kind === 'operation' ? `${result.operation.method} ${result.operation.path}` : result.kind);

describe('normalisePath: one spelling per path, or a refusal', () => {
  it.each([
    ['/users', '/users'],
    ['/users/', '/users/'],
    ['/users//42', '/users/42'],
    ['//users///42//', '/users/42/'],
    ['/users/42?x=1&y=/..', '/users/42'],
    ['/%7Ebob/%41', '/~bob/A'],
    ['/a%20b', '/a%20b'],
    ['/a%2b', '/a%2B'],
    ['/a%25', '/a%25'],
    ['/', '/'],
  ])('%s → %s', (raw, expected) => {
    expect(normalisePath(raw)).toBe(expected);
  });

  it.each([
    ['an encoded slash', '/users%2F42'],
    ['an encoded slash, lower-case', '/users%2f42'],
    ['an encoded backslash', '/users%5C42'],
    ['an encoded NUL', '/users%0042'],
    ['a backslash', '/users\\42'],
    ['a dot-dot segment', '/public/../users/42'],
    ['a dot segment', '/users/./42'],
    ['an encoded dot-dot', '/public/%2e%2e/users'],
    ['a half-encoded dot-dot', '/public/.%2E/users'],
    ['a trailing dot-dot', '/users/..'],
    ['a broken escape', '/users/%4'],
    ['a lone percent', '/users/%'],
    ['a non-hex escape', '/users/%zz'],
    ['a matrix parameter', '/admin;x=1'],
    ['a fragment', '/users#x'],
    ['a space', '/users /x'],
    ['a control character', '/users\t'],
    ['non-ASCII', '/üsers'],
    ['no leading slash', 'users'],
    ['an asterisk-form target', '*'],
    ['an absolute-form target', 'http://evil/users'],
  ])('refuses %s (%s)', (_what, raw) => {
    expect(normalisePath(raw)).toBeNull();
  });
});

describe('compileRouter', () => {
  it('matches literal segments before templated ones, as OpenAPI says', () => {
    expect(matched(match('GET', '/users/me'))).toBe('GET /users/me');
    expect(matched(match('GET', '/users/42'))).toBe('GET /users/{id}');
    expect(matched(match('GET', '/public/secret'))).toBe('GET /public/secret');
    expect(matched(match('GET', '/public/readme'))).toBe('GET /public/{file}');
  });

  it('answers 405 with the methods of every path that matches, and only when none declares the method', () => {
    expect(match('PUT', '/users/42')).toEqual({ kind: 'method_not_allowed', allow: ['DELETE', 'GET', 'HEAD'] });
    expect(match('PUT', '/users/me')).toEqual({ kind: 'method_not_allowed', allow: ['DELETE', 'GET', 'HEAD'] });
  });

  it('takes a method the literal path lacks from a template that declares it, as upstream routers do (review 2, #4 and #7)', () => {
    // Fastify, Express and ASP.NET Core route by method and path: DELETE /users/me runs DELETE /users/{id}.
    // A 405 there was "undeclared" to passthrough and corsPreflight: forward, and forwarded for any key or none.
    const result = match('DELETE', '/users/me');
    expect(matched(result)).toBe('DELETE /users/{id}');
    expect(result.kind === 'operation' && result.operation.requirement.anyOf).toEqual([['admin']]);
    const options = compileRouter({ basePath: '', operations: [op('GET', '/users/me'), op('OPTIONS', '/users/{id}', ['admin'])] });
    expect(matched(options('OPTIONS', '/users/me'))).toBe('OPTIONS /users/{id}');
    const patterns = compileRouter({ basePath: '', operations: [op('GET', '/f/a.json'), op('PUT', '/f/{n}.json', ['w']), op('POST', '/f/{n}', ['p'])] });
    expect(matched(patterns('PUT', '/f/a.json'))).toBe('PUT /f/{n}.json');
    expect(matched(patterns('POST', '/f/a.json'))).toBe('POST /f/{n}');
    expect(matched(patterns('HEAD', '/f/a.json'))).toBe('GET /f/a.json');
  });

  it('gives an undeclared HEAD the GET operation, with its requirement: servers run GET handlers for HEAD (RFC 9110 §9.3.2)', () => {
    const head = match('HEAD', '/users/42');
    const get = match('GET', '/users/42');
    expect(head.kind === 'operation' && get.kind === 'operation' && head.operation).toBe(get.kind === 'operation' && get.operation);
    expect(match('HEAD', '/nope').kind).toBe('not_found');
  });

  it('marks a path that only another letter case declares, so passthrough does not forward it as undeclared', () => {
    expect(match('GET', '/USERS/me')).toEqual({ kind: 'not_found', shadows: true });
    expect(match('DELETE', '/Users/42')).toEqual({ kind: 'not_found', shadows: true });
    expect(match('GET', '/nope')).toEqual({ kind: 'not_found' });
    const based = compileRouter({ basePath: '/v1', operations: OPERATIONS });
    expect(based('GET', '/V1/users/me')).toEqual({ kind: 'not_found', shadows: true });
    expect(based('GET', '/v2/users/me')).toEqual({ kind: 'not_found' });
  });

  it('refuses a path whose lower-cased form reaches another declared operation than its own spelling does (review 2, #1)', () => {
    // Express and ASP.NET Core run GET /pages/admin for /pages/ADMIN: matching {slug} would skip admin's requirement.
    const pages = compileRouter({ basePath: '', operations: [op('GET', '/pages/admin', ['admin']), { ...op('GET', '/pages/{slug}'), requirement: { public: true, anyOf: [[]] } }] });
    for (const path of ['/pages/ADMIN', '/pages/Admin/', '/PAGES/admin']) {
      expect(pages('GET', path)).toEqual({ kind: 'not_found', shadows: true });
      expect(pages('HEAD', path)).toEqual({ kind: 'not_found', shadows: true });
    }
    expect(matched(pages('GET', '/pages/admin'))).toBe('GET /pages/admin');
    expect(matched(pages('GET', '/pages/About'))).toBe('GET /pages/{slug}');
    // the same through a pattern, a base path, and a method only the folded path declares
    const patterns = compileRouter({ basePath: '/V1', operations: [op('GET', '/f/{n}.json'), op('GET', '/f/secret.json', ['admin']), op('GET', '/u/me'), op('DELETE', '/u/{id}', ['admin'])] });
    expect(patterns('GET', '/v1/f/SECRET.json')).toEqual({ kind: 'not_found', shadows: true });
    expect(matched(patterns('GET', '/V1/f/Other.json'))).toBe('GET /f/{n}.json');
    expect(patterns('DELETE', '/V1/U/me')).toEqual({ kind: 'not_found', shadows: true });
  });

  it('keeps two declared paths that differ only in case apart, each with its own operation', () => {
    const both = compileRouter({ basePath: '', operations: [op('GET', '/Users', ['upper']), op('GET', '/users', ['lower'])] });
    const upper = both('GET', '/Users');
    const lower = both('GET', '/users');
    expect(upper.kind === 'operation' && upper.operation.requirement.anyOf).toEqual([['upper']]);
    expect(lower.kind === 'operation' && lower.operation.requirement.anyOf).toEqual([['lower']]);
    expect(both('GET', '/USERS')).toEqual({ kind: 'not_found', shadows: true });
  });

  it('answers 404 for undeclared paths, and a template never matches an empty segment or several', () => {
    expect(match('GET', '/nope').kind).toBe('not_found');
    expect(match('GET', '/users/42/extra').kind).toBe('not_found');
    expect(match('GET', '/files/.json').kind).toBe('not_found');
  });

  it('matches a template inside a segment', () => {
    expect(matched(match('GET', '/files/report.json'))).toBe('GET /files/{name}.json');
    expect(matched(match('GET', '/files/report.v2.json'))).toBe('GET /files/{name}.json');
    expect(match('GET', '/files/report.xml').kind).toBe('not_found');
  });

  it('matches templates inside a segment in one pass, however long a caller makes the segment', () => {
    const several = compileRouter({ basePath: '', operations: [op('GET', '/r/{a}.{b}-{c}.{d}x'), op('GET', '/r/{a}{b}')] });
    expect(matched(several('GET', '/r/1.2-3.4x'))).toBe('GET /r/{a}.{b}-{c}.{d}x');
    expect(matched(several('GET', '/r/1.2-3x'))).toBe('GET /r/{a}{b}');
    expect(several('GET', '/r/a').kind).toBe('not_found');
    const started = performance.now();
    expect(matched(several('GET', `/r/${'.-'.repeat(20_000)}y`))).toBe('GET /r/{a}{b}');
    expect(performance.now() - started).toBeLessThan(200);
  });

  it('ignores a trailing slash and repeated slashes, and forwards the normalised path', () => {
    const result = match('GET', '//users//42/?q=1');
    expect(matched(result)).toBe('GET /users/{id}');
    expect(result.kind === 'operation' && result.path).toBe('/users/42/');
    expect(matched(match('GET', '/'))).toBe('GET /');
    expect(matched(match('GET', '/users/'))).toBe('GET /users');
  });

  it('takes the method in any case', () => {
    expect(matched(match('get', '/users'))).toBe('GET /users');
  });

  describe('no encoding reaches an operation it does not match', () => {
    it.each([
      // decoding unreserved characters reaches the operation those characters name, and no other
      ['/public/%73ecret', 'GET /public/secret'],
      ['/users/%6De', 'GET /users/me'],
      ['/%75sers/42', 'GET /users/{id}'],
    ])('%s is %s', (raw, expected) => {
      expect(matched(match('GET', raw))).toBe(expected);
    });

    it.each(['/public/..%2Fsecret', '/public/x%2F..%2Fsecret', '/public/%2e%2e/public/secret', '/public/x/../secret', '/public/secret;.css', '/public\\secret', '/public/secret%00.css'])(
      '%s is a bad path',
      (raw) => {
        expect(match('GET', raw).kind).toBe('bad_path');
      },
    );

    it('keeps other escapes, so an encoded character is a different segment than its decoded form would suggest', () => {
      // %3B stays encoded: an upstream that decodes it sees a segment "secret;x", not a matrix parameter.
      expect(matched(match('GET', '/public/secret%3Bx'))).toBe('GET /public/{file}');
      const result = match('GET', '/public/secret%3bx');
      expect(result.kind === 'operation' && result.path).toBe('/public/secret%3Bx');
    });
  });

  describe('a base path', () => {
    const based = compileRouter({ basePath: '/v1', operations: [op('GET', '/users'), op('GET', '/')] });

    it('serves the operations under it, and nothing outside it', () => {
      expect(matched(based('GET', '/v1/users'))).toBe('GET /users');
      expect(matched(based('GET', '/v1'))).toBe('GET /');
      expect(matched(based('GET', '/v1/'))).toBe('GET /');
      expect(based('GET', '/users').kind).toBe('not_found');
      expect(based('GET', '/v2/users').kind).toBe('not_found');
      expect(based('GET', '/v1users').kind).toBe('not_found');
    });

    it('is matched after normalisation too', () => {
      expect(matched(based('GET', '//v1//users'))).toBe('GET /users');
      expect(matched(based('GET', '/%76%31/users'))).toBe('GET /users');
      expect(based('GET', '/v1/../users').kind).toBe('bad_path');
    });
  });

  it('keeps the first of two operations declared for the same method and template', () => {
    const twice = compileRouter({ basePath: '', operations: [op('GET', '/a/{x}', ['first']), op('GET', '/a/{y}', ['second'])] });
    const result = twice('GET', '/a/1');
    expect(result.kind === 'operation' && result.operation.requirement.anyOf).toEqual([['first']]);
  });

  it('has no routes without operations', () => {
    expect(compileRouter({ basePath: '', operations: [] })('GET', '/').kind).toBe('not_found');
  });
});
