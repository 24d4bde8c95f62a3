import { describe, expect, it } from 'vitest';
import { TryRefusal, describeApi, tryRequest, type TryValues } from '../../../src/domain/gateway/explorer.js';
import { compileRouter, type CompiledRoutes, type Operation } from '../../../src/domain/gateway/routes.js';

function op(method: string, path: string): Operation {
  return { method, path, operationId: null, requirement: { public: false, anyOf: [['read:users']] }, cost: 1 };
}

const ROUTES: CompiledRoutes = { basePath: '/v1', operations: [op('GET', '/users/{id}'), op('GET', '/users/me'), op('POST', '/users')] };
const DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'T', version: '2', description: 'D' },
  paths: {
    '/users/{id}': {
      parameters: [
        { name: 'id', in: 'path', description: 'from the path item', schema: { type: 'string' } },
        { name: 'verbose', in: 'query', required: true, schema: { type: 'boolean' } },
      ],
      get: {
        summary: 'One user',
        deprecated: true,
        parameters: [
          { name: 'verbose', in: 'query', required: false, description: 'overridden by the operation' },
          { name: 'x-trace', in: 'header' },
          { name: 'session', in: 'cookie' },
        ],
      },
    },
    '/users/me': { get: { summary: 'Me' } },
    '/users': { post: { requestBody: { required: true, content: { 'application/json': {}, 'text/*': {} } } } },
  },
};
const doc = describeApi(DOCUMENT, ROUTES);
const routes = { basePath: ROUTES.basePath, match: compileRouter(ROUTES) };
const SETTINGS = { credentialHeader: 'x-api-key', credentialQuery: 'api_key' };

function values(input: Partial<{ path: Record<string, string>; query: Record<string, string>; header: Record<string, string>; body: string; contentType: string }>): TryValues {
  return {
    path: new Map(Object.entries(input.path ?? {})),
    query: new Map(Object.entries(input.query ?? {})),
    header: new Map(Object.entries(input.header ?? {})),
    body: input.body ?? null,
    contentType: input.contentType ?? null,
  };
}

describe('describeApi: the explorer’s words for each compiled operation', () => {
  it('merges path-item and operation parameters (the operation wins), path ones first and required, cookies left out', () => {
    const one = doc.operations[0]!;
    expect(one).toMatchObject({ summary: 'One user', deprecated: true, body: null });
    expect(one.parameters).toEqual([
      { name: 'id', in: 'path', required: true, description: 'from the path item', type: 'string' },
      { name: 'verbose', in: 'query', required: false, description: 'overridden by the operation', type: null },
      { name: 'x-trace', in: 'header', required: false, description: '', type: null },
    ]);
    expect(doc).toMatchObject({ title: 'T', version: '2', description: 'D', basePath: '/v1' });
  });

  it('lists only concrete body media types', () => {
    expect(doc.operations[2]!.body).toEqual({ required: true, contentTypes: ['application/json'] });
  });
});

describe('tryRequest: only what the document declares', () => {
  it('fills the path with encoded values, keeps declared query and header parameters, drops the rest', () => {
    const built = tryRequest(doc.operations[0]!, routes, values({ path: { id: 'a b' }, query: { verbose: '1', admin: '1' }, header: { 'x-trace': 't1', 'x-other': 'o' } }), SETTINGS);
    expect(built).toEqual({ method: 'GET', target: '/v1/users/a%20b?verbose=1', headers: { 'x-trace': 't1' }, body: null });
  });

  it.each([
    ['a value that is another literal path', { path: { id: 'me' } }, 'is not GET /users/{id}'],
    ['a dot segment', { path: { id: '..' } }, 'is not GET /users/{id}'],
    ['an encoded slash', { path: { id: '../users/me' } }, 'is not GET /users/{id}'],
    ['a missing path value', { path: { id: '' } }, 'id (path) is required'],
    ['a header on two lines', { path: { id: '1' }, header: { 'x-trace': 'a\r\nhost: evil' } }, 'one line of printable ASCII'],
  ])('refuses %s', (_name, input, message) => {
    const built = tryRequest(doc.operations[0]!, routes, values(input), SETTINGS);
    expect(built).toBeInstanceOf(TryRefusal);
    expect((built as TryRefusal).message).toContain(message);
  });

  it('refuses a header the gateway owns or reads as the credential, and the credential query parameter', () => {
    for (const name of ['authorization', 'host', 'keygate-subject', 'x-api-key']) {
      const declared = { ...doc.operations[1]!, parameters: [{ name, in: 'header' as const, required: false, description: '', type: null }] };
      expect(tryRequest(declared, routes, values({ header: { [name]: 'x' } }), SETTINGS), name).toBeInstanceOf(TryRefusal);
    }
    const query = { ...doc.operations[1]!, parameters: [{ name: 'api_key', in: 'query' as const, required: false, description: '', type: null }] };
    expect(tryRequest(query, routes, values({ query: { api_key: 'k' } }), SETTINGS)).toBeInstanceOf(TryRefusal);
  });

  it('sends a body only of a declared type, and requires one the operation requires', () => {
    const post = doc.operations[2]!;
    expect(tryRequest(post, routes, values({ body: '{}', contentType: 'application/json' }), SETTINGS)).toEqual({ method: 'POST', target: '/v1/users', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(tryRequest(post, routes, values({ body: 'x', contentType: 'text/plain' }), SETTINGS)).toBeInstanceOf(TryRefusal);
    expect(tryRequest(post, routes, values({}), SETTINGS)).toBeInstanceOf(TryRefusal);
  });
});
