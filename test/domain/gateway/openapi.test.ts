import { describe, expect, it } from 'vitest';
import { compileOpenApi, serverBasePath, type CompileResult } from '../../../src/domain/gateway/openapi.js';
import type { Operation } from '../../../src/domain/gateway/routes.js';

const CATALOG = ['read:users', 'write:users', 'admin', 'read:billing', 'openid'].map((name) => ({ name, description: name }));

const SCHEMES = {
  oauth: { type: 'oauth2', flows: { clientCredentials: { tokenUrl: 'https://auth.test/token', scopes: { 'read:users': '', 'write:users': '', admin: '' } } } },
  oidc: { type: 'openIdConnect', openIdConnectUrl: 'https://auth.test/.well-known/openid-configuration' },
  key: { type: 'apiKey', in: 'header', name: 'x-api-key' },
  bearer: { type: 'http', scheme: 'bearer' },
};

function doc(paths: Record<string, unknown>, extra: Record<string, unknown> = {}, version = '3.1.0'): Record<string, unknown> {
  return { openapi: version, info: { title: 't', version: '1' }, components: { securitySchemes: SCHEMES }, paths, ...extra };
}

function operations(result: CompileResult): Operation[] {
  if (!result.ok) throw new Error(`not compiled: ${result.problems.join('; ')}`);
  return result.routes.operations;
}

function only(result: CompileResult): Operation {
  const ops = operations(result);
  expect(ops).toHaveLength(1);
  return ops[0]!;
}

function problems(result: CompileResult): string[] {
  if (result.ok) throw new Error('compiled, but should not have');
  return result.problems;
}

describe('compileOpenApi: each operation requires what OpenAPI says it requires', () => {
  it("uses the operation's own security over the root's", () => {
    const result = compileOpenApi(doc({ '/u': { get: { security: [{ oauth: ['admin'] }] } } }, { security: [{ oauth: ['read:users'] }] }), CATALOG);
    expect(only(result).requirement).toEqual({ public: false, anyOf: [['admin']] });
  });

  it("falls back to the root's security when the operation has none (the rule Insomnia drops)", () => {
    const result = compileOpenApi(doc({ '/u': { get: {} } }, { security: [{ oauth: ['read:users'] }] }), CATALOG);
    expect(only(result).requirement).toEqual({ public: false, anyOf: [['read:users']] });
  });

  it('reads the items of a security list as alternatives (OR)', () => {
    const result = compileOpenApi(doc({ '/u': { get: { security: [{ oauth: ['read:users'] }, { oauth: ['admin'] }] } } }), CATALOG);
    expect(only(result).requirement.anyOf).toEqual([['read:users'], ['admin']]);
  });

  it('reads the schemes and scopes inside one item as all required (AND, the rule Kong turns into OR)', () => {
    const and = compileOpenApi(doc({ '/u': { get: { security: [{ oauth: ['read:users', 'write:users'] }] } } }), CATALOG);
    expect(only(and).requirement.anyOf).toEqual([['read:users', 'write:users']]);
    const twoSchemes = compileOpenApi(doc({ '/u': { get: { security: [{ oauth: ['read:users'], oidc: ['openid'] }] } } }), CATALOG);
    expect(only(twoSchemes).requirement.anyOf).toEqual([['read:users', 'openid']]);
  });

  it('combines ORs of ANDs', () => {
    const result = compileOpenApi(doc({ '/u': { get: { security: [{ oauth: ['read:users', 'read:billing'] }, { oauth: ['admin'], key: [] }] } } }), CATALOG);
    expect(only(result).requirement.anyOf).toEqual([['read:users', 'read:billing'], ['admin']]);
  });

  it('takes an empty alternative ({}) as "any valid credential", which makes the others moot', () => {
    const result = compileOpenApi(doc({ '/u': { get: { security: [{}, { oauth: ['admin'] }] } } }), CATALOG);
    expect(only(result).requirement).toEqual({ public: false, anyOf: [[]] });
  });

  it('reads scopes from oauth2 and openIdConnect schemes in 3.0, and refuses scopes listed for other schemes there', () => {
    const ok = compileOpenApi(doc({ '/u': { get: { security: [{ oidc: ['openid'], key: [] }] } } }, {}, '3.0.3'), CATALOG);
    expect(only(ok).requirement.anyOf).toEqual([['openid']]);
    const listed = problems(compileOpenApi(doc({ '/u': { get: { operationId: 'getU', security: [{ key: ['admin'] }] } } }, {}, '3.0.3'), CATALOG));
    expect(listed).toEqual(['GET /u (getU): "key" is a apiKey scheme, which lists no scopes in OpenAPI 3.0']);
  });

  it("reads any scheme's list as scopes in 3.1 (role names)", () => {
    const result = compileOpenApi(doc({ '/u': { get: { security: [{ key: ['admin'] }, { bearer: ['read:users'] }] } } }, {}, '3.1.0'), CATALOG);
    expect(only(result).requirement.anyOf).toEqual([['admin'], ['read:users']]);
  });

  it('takes x-keygate-scopes as the requirement: every scope named', () => {
    const result = compileOpenApi(doc({ '/u': { get: { 'x-keygate-scopes': ['read:users', 'read:billing'], security: [{ oauth: ['admin'] }] } } }), CATALOG);
    expect(only(result).requirement).toEqual({ public: false, anyOf: [['read:users', 'read:billing']] });
  });

  it('needs a valid credential (no particular scope) when nothing says otherwise', () => {
    expect(only(compileOpenApi(doc({ '/u': { get: {} } }), CATALOG)).requirement).toEqual({ public: false, anyOf: [[]] });
    // security: [] without the mark is not public either
    expect(only(compileOpenApi(doc({ '/u': { get: { security: [] } } }, { security: [{ oauth: ['admin'] }] }), CATALOG)).requirement).toEqual({ public: false, anyOf: [[]] });
    // a root security of [] opens nothing
    expect(only(compileOpenApi(doc({ '/u': { get: {} } }, { security: [] }), CATALOG)).requirement).toEqual({ public: false, anyOf: [[]] });
  });

  it('is public only with security: [] and x-keygate-public: true on the operation', () => {
    const result = compileOpenApi(doc({ '/health': { get: { security: [], 'x-keygate-public': true } } }, { security: [{ oauth: ['admin'] }] }), CATALOG);
    expect(only(result).requirement).toEqual({ public: true, anyOf: [[]] });
    const inherited = problems(compileOpenApi(doc({ '/health': { get: { 'x-keygate-public': true } } }, { security: [{ oauth: ['admin'] }] }), CATALOG));
    expect(inherited).toEqual(['GET /health: x-keygate-public needs the operation\'s own "security: []"']);
    const withScopes = problems(compileOpenApi(doc({ '/health': { get: { security: [{ oauth: ['admin'] }], 'x-keygate-public': true } } }), CATALOG));
    expect(withScopes[0]).toMatch(/x-keygate-public needs/);
    expect(problems(compileOpenApi(doc({ '/h': { get: { security: [], 'x-keygate-public': 'yes' } } }), CATALOG))).toEqual(['GET /h: x-keygate-public must be true or false']);
    expect(only(compileOpenApi(doc({ '/h': { get: { security: [], 'x-keygate-public': false } } }), CATALOG)).requirement.public).toBe(false);
  });

  it('refuses a scope outside the catalog, naming the operation — never an operation that silently opens', () => {
    const result = compileOpenApi(
      doc({
        '/u': { get: { operationId: 'listUsers', security: [{ oauth: ['read:users'] }, { oauth: ['delete:everything'] }] } },
        '/v': { post: { 'x-keygate-scopes': ['nope'] } },
      }),
      CATALOG,
    );
    expect(problems(result)).toEqual([
      'GET /u (listUsers): scope "delete:everything" is not in the API\'s scope catalog',
      'POST /v: scope "nope" is not in the API\'s scope catalog',
    ]);
  });

  it('refuses a security scheme that is not declared, and malformed extensions', () => {
    expect(problems(compileOpenApi(doc({ '/u': { get: { security: [{ ghost: [] }] } } }), CATALOG))).toEqual([
      'GET /u: security scheme "ghost" is not in components.securitySchemes',
    ]);
    expect(problems(compileOpenApi(doc({ '/u': { get: { 'x-keygate-scopes': 'admin' } } }), CATALOG))[0]).toMatch(/x-keygate-scopes must be a list/);
  });

  it('refuses x-keygate-* extensions anywhere but on an operation, where they would be ignored', () => {
    expect(problems(compileOpenApi(doc({ '/u': { 'x-keygate-scopes': ['admin'], get: {} } }), CATALOG))).toEqual(['path "/u": x-keygate-scopes is read on operations only']);
    expect(problems(compileOpenApi(doc({ '/u': { get: {} } }, { 'x-keygate-public': true }), CATALOG))).toEqual(['the document root: x-keygate-public is read on operations only']);
  });

  it('reads x-keygate-cost, default 1, a whole number', () => {
    const ops = operations(compileOpenApi(doc({ '/a': { get: { 'x-keygate-cost': 5 }, post: { 'x-keygate-cost': 0 } }, '/b': { get: {} } }), CATALOG));
    expect(ops.map((o) => [o.method, o.path, o.cost])).toEqual([
      ['GET', '/a', 5],
      ['POST', '/a', 0],
      ['GET', '/b', 1],
    ]);
    for (const cost of [-1, 1.5, '3', 10_000_000]) {
      expect(problems(compileOpenApi(doc({ '/a': { get: { 'x-keygate-cost': cost } } }), CATALOG))[0]).toMatch(/x-keygate-cost must be a whole number/);
    }
  });

  it('refuses two templates that match the same requests, and templates the gateway could not match as declared', () => {
    expect(problems(compileOpenApi(doc({ '/a/{x}': { get: {} }, '/a/{y}': { get: {} } }), CATALOG))).toEqual(['GET /a/{y}: matches the same requests as GET /a/{x}']);
    expect(problems(compileOpenApi(doc({ '/a': { get: {} }, '/a/': { get: {} } }), CATALOG))).toEqual(['GET /a/: matches the same requests as GET /a']);
    expect(problems(compileOpenApi(doc({ '/a/../b': { get: {} } }), CATALOG))[0]).toMatch(/path "\/a\/..\/b" has a character/);
    expect(problems(compileOpenApi(doc({ '/a;b': { get: {} } }), CATALOG))[0]).toMatch(/path "\/a;b"/);
  });

  it('keeps the operationId, and "METHOD /path" needs no operationId', () => {
    const ops = operations(compileOpenApi(doc({ '/a': { get: { operationId: 'getA' }, put: {} } }), CATALOG));
    expect(ops.map((o) => o.operationId)).toEqual(['getA', null]);
  });

  it('collects every problem of the document at once', () => {
    const result = compileOpenApi(doc({ '/a': { get: { 'x-keygate-scopes': ['x'] }, post: { 'x-keygate-cost': -1 } }, '/b': { get: { security: [{ ghost: [] }] } } }), CATALOG);
    expect(problems(result)).toHaveLength(3);
  });

  it('accepts only OpenAPI 3.0 and 3.1', () => {
    expect(problems(compileOpenApi({ swagger: '2.0', paths: {} }, CATALOG))[0]).toMatch(/only OpenAPI 3.0 and 3.1/);
    expect(problems(compileOpenApi(doc({}, {}, '4.0.0'), CATALOG))[0]).toMatch(/only OpenAPI 3.0 and 3.1/);
    expect(compileOpenApi(doc({}, {}, '3.0.0'), CATALOG).ok).toBe(true);
  });
});

describe('serverBasePath', () => {
  it.each([
    [undefined, ''],
    [[{ url: 'https://api.example.com' }], ''],
    [[{ url: 'https://api.example.com/v1/' }], '/v1'],
    [[{ url: '/v2' }], '/v2'],
    [[{ url: 'v3' }], '/v3'],
    [[{ url: 'https://{region}.example.com/{version}', variables: { region: { default: 'eu' }, version: { default: 'v4' } } }], '/v4'],
    [[{ url: '/a' }, { url: '/b' }], '/a'],
  ])('servers %j → "%s"', (servers, expected) => {
    expect(serverBasePath(servers === undefined ? {} : { servers })).toBe(expected);
  });

  it('is a problem when a variable has no default or the path would be refused', () => {
    expect(serverBasePath({ servers: [{ url: '/{version}' }] })).toBeNull();
    expect(serverBasePath({ servers: [{ url: '/a/../b' }] })).toBeNull();
    expect(problems(compileOpenApi(doc({}, { servers: [{ url: '/{v}' }] }), CATALOG))[0]).toMatch(/servers\[0\]\.url/);
  });

  it('puts the operations under the base path', () => {
    const result = compileOpenApi(doc({ '/u': { get: {} } }, { servers: [{ url: 'https://api.example.com/v1' }] }), CATALOG);
    expect(result.ok && result.routes.basePath).toBe('/v1');
  });
});
