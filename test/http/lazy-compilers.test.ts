import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lazyCompilers } from '../../src/http/lazy-compilers.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * Route schemas are compiled by the first request that needs them (http/lazy-compilers.ts), not
 * before the server listens. Nothing may change but when: every schema still compiles (as
 * Fastify's eager compilation proved at each start), and validation and serialisation answer
 * as Fastify's own compilers do.
 */
describe('lazily compiled route schemas', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  it('compiles every schema of every route on demand', async () => {
    const compiled = t.server.app.compileSchemas();
    // Each management route has a response schema at least; the bodies, queries and params add more.
    expect(compiled).toBeGreaterThan(t.server.app.routeTable.length / 2);
    expect(t.server.app.compileSchemas()).toBe(0);
  });

  it('validates and serialises as Fastify does', async () => {
    const app = Fastify({ schemaController: { compilersFactory: lazyCompilers().compilersFactory }, ajv: { customOptions: { allErrors: true } } });
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', properties: { at: { type: 'string', format: 'date-time' }, n: { type: 'integer' } }, required: ['at'], additionalProperties: false },
          response: { 200: { type: 'object', properties: { at: { type: 'string' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), secret: 'never serialised' }),
    );
    const good = await app.inject({ method: 'POST', url: '/echo', payload: { at: '2026-12-06T20:00:00Z', n: 1 } });
    expect(good.statusCode).toBe(200);
    expect(good.json()).toEqual({ at: '2026-12-06T20:00:00Z' });
    // Formats (ajv-formats) and every error at once, as with Fastify's default compiler.
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { at: 'yesterday', n: 1.5, x: 1 } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toContain('body/at must match format "date-time"');
    expect(bad.json().message).toContain('must be integer');
    await app.close();
  });

  it('refuses a header schema when the route is added: Fastify would not lower-case its names', async () => {
    const app = Fastify({ schemaController: { compilersFactory: lazyCompilers().compilersFactory } });
    app.get('/h', { schema: { headers: { type: 'object', properties: { 'X-Thing': { type: 'string' } } } } }, async () => ({}));
    await expect(app.ready()).rejects.toThrow(/header schemas are not supported/);
  });
});
