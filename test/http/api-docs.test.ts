import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/**
 * /openapi.json and /docs are built by the first request for either (http/api-docs.ts) and /docs
 * is answered through a docs app of their own: the answers must be the main app's as before —
 * its not-found problem, HEAD without a body, the UI's redirect, caching headers that work.
 * openapi.test.ts holds the document itself and the branded page.
 */
describe('/docs answered on demand', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite');
  });
  afterAll(() => t.close());

  it('serves the same document at /openapi.json and /docs/json', async () => {
    const [document, ui] = await Promise.all([fetch(`${t.url}/openapi.json`), fetch(`${t.url}/docs/json`)]);
    expect(document.status).toBe(200);
    expect(await ui.text()).toBe(await document.text());
  });

  it('answers what the UI does not have with the main app\'s 404 problem', async () => {
    for (const path of ['/docs/static/nope.js', '/docs/nothing']) {
      const response = await fetch(`${t.url}${path}`);
      expect(response.status).toBe(404);
      expect(response.headers.get('content-type')).toContain('application/problem+json');
      expect(((await response.json()) as { code: string }).code).toBe('ROUTE_NOT_FOUND');
    }
    expect((await fetch(`${t.url}/docs`, { method: 'POST' })).status).toBe(404);
  });

  it('answers HEAD with the GET answer\'s headers and no body', async () => {
    const get = await fetch(`${t.url}/docs/static/swagger-ui.css`);
    const head = await fetch(`${t.url}/docs/static/swagger-ui.css`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String((await get.arrayBuffer()).byteLength));
    expect(head.headers.get('etag')).toBe(get.headers.get('etag'));
    expect(await head.text()).toBe('');
  });

  it('keeps the UI\'s redirect and its static files\' validators and ranges', async () => {
    const redirect = await fetch(`${t.url}/docs/static/index.html`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/docs/');
    expect(redirect.headers.get('content-type')).toBeNull();
    const css = await fetch(`${t.url}/docs/static/swagger-ui.css`);
    const etag = css.headers.get('etag')!;
    // Not fetch: it adds `Cache-Control: no-cache` to a conditional request, which no server answers with 304.
    expect(await statusOf(`${t.url}/docs/static/swagger-ui.css`, { 'if-none-match': etag })).toBe(304);
    const part = await fetch(`${t.url}/docs/static/swagger-ui.css`, { headers: { range: 'bytes=0-9' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toMatch(/^bytes 0-9\//);
    expect((await part.text()).length).toBe(10);
  });
});

function statusOf(url: string, headers: Record<string, string>): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (response) => {
      response.resume();
      resolve(response.statusCode);
    })
      .once('error', reject)
      .end();
  });
}
