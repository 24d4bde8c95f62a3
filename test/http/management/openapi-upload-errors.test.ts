import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../../helpers/server.js';

/** An OpenAPI upload's 413 and 415 say what this route takes, not what the JSON routes take. */
describe('PUT …/apis/{id}/openapi refusals (sqlite)', () => {
  let t: TestServer;
  let path: string;

  beforeAll(async () => {
    // A small KEYGATE_BODY_LIMIT: the document route keeps its own 8 MiB.
    t = await startTestServer('sqlite', { bodyLimit: 4096 });
    await seedTenant(t);
    const created = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://uploads.test', name: 'Uploads', scopes: [{ name: 'read:users', description: 'Read users' }] });
    expectStatus(created, 201);
    path = `/v1/tenants/acme/apis/${created.body.id}/openapi`;
  });
  afterAll(async () => {
    await t?.close();
  });

  async function put(text: string, contentType: string): Promise<{ status: number; body: any }> {
    const response = await fetch(`${t.url}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${ROOT_KEY}`, 'content-type': contentType }, body: text });
    return { status: response.status, body: await response.json() };
  }

  it('names the document limit, not KEYGATE_BODY_LIMIT, for a document over 8 MiB', async () => {
    const refused = await put(`openapi: 3.1.0\ninfo: {title: "${'x'.repeat(8 * 1024 * 1024)}", version: "1"}\n`, 'application/yaml');
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({ code: 'BODY_TOO_LARGE', detail: "the request body is larger than the limit of 8 MiB (8388608 bytes), an OpenAPI document's own (KEYGATE_BODY_LIMIT does not apply)" });
  });

  it('lists JSON and the YAML types for an unsupported media type', async () => {
    const refused = await put('<xml/>', 'application/xml');
    expect(refused.status).toBe(415);
    expect(refused.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(refused.body.detail).toContain('application/json or application/yaml');
  });

  it('still names KEYGATE_BODY_LIMIT on the JSON routes', async () => {
    const refused = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://big.test', name: 'x'.repeat(5000) });
    expect(refused.status).toBe(413);
    expect(refused.body.detail).toContain('set by KEYGATE_BODY_LIMIT');
  });
});
