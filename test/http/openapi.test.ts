import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDERS_API, basic, postForm, registerMachineClient } from '../helpers/oauth.js';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';

type Json = Record<string, any>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** The public HTTP surface the issue names: every OAuth endpoint and both metadata locations. */
const OAUTH_OPERATIONS = [
  ['post', '/t/{slug}/oauth/token'],
  ['post', '/t/{slug}/oauth/introspect'],
  ['post', '/t/{slug}/oauth/revoke'],
  ['get', '/t/{slug}/oauth/authorize'],
  ['get', '/.well-known/oauth-authorization-server/t/{slug}'],
  ['get', '/t/{slug}/.well-known/oauth-authorization-server'],
  ['get', '/t/{slug}/.well-known/jwks.json'],
] as const;

/**
 * /openapi.json describes the whole public HTTP surface and is a valid OpenAPI 3.1 document. No
 * OpenAPI parser is installed, so the test checks what such a parser would: the structure's
 * essentials, that every $ref resolves, and that every schema is valid JSON Schema 2020-12 (the
 * dialect of OpenAPI 3.1). The documented OAuth schemas are then held against real answers.
 */
describe('OpenAPI document and /docs', () => {
  let t: TestServer;
  let doc: Json;
  const ajv = new Ajv2020({ strict: false, allErrors: true });

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    await seedTenant(t);
    doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as Json;
  });
  afterAll(() => t.close());

  function operations(): { path: string; method: string; op: Json }[] {
    return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
      Object.entries(item as Json)
        .filter(([method]) => METHODS.includes(method))
        .map(([method, op]) => ({ path, method, op: op as Json })),
    );
  }

  function resolve(ref: string): unknown {
    expect(ref.startsWith('#/'), ref).toBe(true);
    return ref
      .slice(2)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<any>((node, part) => (node === undefined ? undefined : node[part]), doc);
  }

  /** The schema with every $ref replaced by what it points at. */
  function inline(schema: unknown): unknown {
    if (Array.isArray(schema)) return schema.map(inline);
    if (schema === null || typeof schema !== 'object') return schema;
    const ref = (schema as Json)['$ref'];
    if (typeof ref === 'string') return inline(resolve(ref));
    return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, inline(v)]));
  }

  function schemaAt(path: string, method: string, status: string, mediaType = 'application/json'): unknown {
    const response = doc.paths[path][method].responses[status];
    return inline(response.content[mediaType].schema);
  }

  it('is branded Keygate and is OpenAPI 3.1', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'Keygate', version: expect.any(String), license: { name: 'Apache-2.0' } });
    expect(doc.info.description).toContain('OAuth 2.0');
    expect(JSON.stringify(doc)).not.toMatch(/swagger/i);
  });

  it('has the essentials of a valid document: operations, responses, path parameters, security, unique ids', () => {
    const ids = new Set<string>();
    const schemes = Object.keys(doc.components.securitySchemes);
    for (const { path, method, op } of operations()) {
      const where = `${method.toUpperCase()} ${path}`;
      expect(path.startsWith('/'), where).toBe(true);
      expect(Object.keys(op.responses ?? {}).length, where).toBeGreaterThan(0);
      for (const [status, response] of Object.entries(op.responses as Json)) {
        expect(status, where).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
        expect(typeof (response as Json).description, `${where} ${status}`).toBe('string');
      }
      const declared = [...(doc.paths[path].parameters ?? []), ...(op.parameters ?? [])] as Json[];
      for (const name of [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])) {
        expect(declared.find((p) => p.in === 'path' && p.name === name), `${where} {${name}}`).toMatchObject({ required: true });
      }
      for (const parameter of declared) expect(['path', 'query', 'header', 'cookie'], where).toContain(parameter.in);
      for (const requirement of (op.security ?? doc.security) as Json[]) for (const scheme of Object.keys(requirement)) expect(schemes, where).toContain(scheme);
      if (op.operationId !== undefined) {
        expect(ids.has(op.operationId), op.operationId).toBe(false);
        ids.add(op.operationId);
      }
    }
  });

  it('every $ref resolves and every schema is valid JSON Schema 2020-12', () => {
    const schemas: unknown[] = Object.values(doc.components.schemas ?? {});
    for (const { op } of operations()) {
      for (const parameter of (op.parameters ?? []) as Json[]) schemas.push(parameter.schema);
      for (const media of Object.values((op.requestBody?.content ?? {}) as Json)) schemas.push((media as Json).schema);
      for (const response of Object.values(op.responses as Json)) for (const media of Object.values(((response as Json).content ?? {}) as Json)) schemas.push((media as Json).schema);
    }
    expect(schemas.length).toBeGreaterThan(100);
    for (const schema of schemas) {
      expect(schema).toBeTypeOf('object');
      expect(() => ajv.compile(inline(schema) as object)).not.toThrow();
    }
  });

  it('lists every OAuth endpoint with its form body and RFC error responses', () => {
    for (const [method, path] of OAUTH_OPERATIONS) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    const token = doc.paths['/t/{slug}/oauth/token'].post;
    const form = inline(token.requestBody.content['application/x-www-form-urlencoded'].schema) as Json;
    const validForm = ajv.compile(form);
    expect(validForm({ grant_type: 'client_credentials', resource: ORDERS_API })).toBe(true);
    expect(validForm({ grant_type: 'password' })).toBe(false);
    expect(token.security).toEqual([{ clientSecretBasic: [] }, {}]);
    const error = inline(token.responses['401'].content['application/json'].schema) as Json;
    const validError = ajv.compile(error);
    expect(validError({ error: 'invalid_client', error_description: 'x' })).toBe(true);
    expect(validError({ error: 'made_up', error_description: 'x' })).toBe(false);
    for (const path of ['/t/{slug}/oauth/introspect', '/t/{slug}/oauth/revoke']) {
      expect(doc.paths[path].post.requestBody.content['application/x-www-form-urlencoded'].schema.required).toEqual(['token']);
      expect(doc.paths[path].post.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/OAuthError' });
    }
    expect(doc.paths['/t/{slug}/oauth/authorize'].get.parameters.map((p: Json) => p.name)).toEqual(expect.arrayContaining(['response_type', 'client_id', 'redirect_uri', 'code_challenge', 'state']));
  });

  it('describes what the OAuth endpoints really answer', async () => {
    const machine = await registerMachineClient(t);
    const tokens = await postForm(t, '/t/acme/oauth/token', { grant_type: 'client_credentials', resource: ORDERS_API }, { authorization: basic(machine.clientId, machine.clientSecret!) });
    const answers: [unknown, unknown][] = [
      [schemaAt('/t/{slug}/oauth/token', 'post', '200'), tokens.body],
      [schemaAt('/t/{slug}/oauth/introspect', 'post', '200'), (await postForm(t, '/t/acme/oauth/introspect', { token: tokens.body.access_token }, { authorization: basic(machine.clientId, machine.clientSecret!) })).body],
      [schemaAt('/t/{slug}/oauth/token', 'post', '400'), (await postForm(t, '/t/acme/oauth/token', { grant_type: 'password' }, { authorization: basic(machine.clientId, machine.clientSecret!) })).body],
      [schemaAt('/t/{slug}/oauth/token', 'post', '404'), (await postForm(t, '/t/nobody/oauth/token', { grant_type: 'client_credentials' })).body],
      [schemaAt('/t/{slug}/.well-known/oauth-authorization-server', 'get', '200'), await (await fetch(`${t.url}/t/acme/.well-known/oauth-authorization-server`)).json()],
      [schemaAt('/t/{slug}/.well-known/jwks.json', 'get', '200', 'application/jwk-set+json'), await (await fetch(`${t.url}/t/acme/.well-known/jwks.json`)).json()],
    ];
    expect(tokens.status).toBe(200);
    for (const [schema, body] of answers) {
      const validate = ajv.compile(schema as object);
      expect(validate(body), JSON.stringify({ body, errors: validate.errors })).toBe(true);
    }
  });

  it('covers every route the app registers, and asks no root key of routes that take none', () => {
    for (const route of t.server.app.routeTable) {
      if (route.method === 'HEAD' || route.url.startsWith('/docs') || route.url === '/openapi.json') continue;
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      const op = doc.paths[path]?.[route.method.toLowerCase()] as Json | undefined;
      expect(op, `${route.method} ${route.url}`).toBeDefined();
      if (route.access.kind === 'open') expect(op!.security, `${route.method} ${route.url}`).toBeDefined();
      else expect(op!.security ?? doc.security, `${route.method} ${route.url}`).toEqual([{ rootKey: [] }]);
    }
  });

  it('/docs is the Keygate API reference, with Keygate\'s logo and icon', async () => {
    const page = await (await fetch(`${t.url}/docs`)).text();
    expect(page).toContain('<title>Keygate API reference</title>');
    expect(page).not.toContain('Swagger UI');
    expect(page).toContain('theme/keygate.svg');
    const initializer = await (await fetch(`${t.url}/docs/static/swagger-initializer.js`)).text();
    const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(initializer)?.[1];
    expect(Buffer.from(logo!, 'base64').toString()).toContain('>Keygate</text>');
    const icon = await fetch(`${t.url}/docs/static/theme/keygate.svg`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
  });
});
