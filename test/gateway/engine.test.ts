import { once } from 'node:events';
import { createServer, request as rawRequest, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, target, TestRoutes, type RunningGateway } from './helpers.js';

/**
 * The proxy engine's own duties, beside the policy: whose address the caller is
 * (KEYGATE_TRUST_PROXY), `Expect: 100-continue`, an upstream that answers before reading the
 * body, a caller who leaves mid-answer, and a slow reader of a large answer.
 */
describe.each([
  { trustProxy: 'false', believed: false },
  { trustProxy: '127.0.0.1', believed: true },
])('gateway engine (sqlite, KEYGATE_TRUST_PROXY=$trustProxy)', ({ trustProxy, believed }) => {
  let t: TestServer;
  let upstream: { server: Server; url: string; seen: IncomingMessage[]; closedEarly: number };
  let gateway: RunningGateway;
  let api: string;
  let secret: string;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { trustProxy });
    ({ api } = await seedTenant(t));
    const seen: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      seen.push(req);
      if (req.url === '/early') {
        // Answers at once, without reading the upload.
        res.writeHead(413, { 'content-type': 'text/plain' });
        res.end('too big');
        return;
      }
      if (req.url === '/large') {
        // 64 MiB, written as fast as the gateway takes it.
        const chunk = Buffer.alloc(1 << 20, 97);
        let left = 64;
        res.on('close', () => {
          if (left > 0) upstream.closedEarly += 1;
        });
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(64 << 20) });
        const write = (): void => {
          while (left > 0) {
            left -= 1;
            if (!res.write(chunk)) return void res.once('drain', write);
          }
          res.end();
        };
        write();
        return;
      }
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ headers: req.headers }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    upstream = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, closedEarly: 0 };
    const routes = new TestRoutes();
    const operations = [op('GET', '/who', [[]]), op('POST', '/upload', [[]]), op('POST', '/early', [[]]), op('GET', '/large', [[]])];
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: upstream.url }), 'acme', { basePath: '', operations }));
    gateway = await startGateway(t, routes);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [], ipAllowlist: ['10.9.9.9'] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.server.closeAllConnections();
    upstream?.server.close();
    await t?.close();
  });

  const headers = (extra: Record<string, string> = {}) => ({ host: 'gw.acme.test', authorization: `Bearer ${secret}`, ...extra });

  it(believed ? 'believes the trusted proxy: the key allowlisted for the forwarded address passes, and the chain goes on' : 'believes no X-Forwarded-For: the peer is the caller', async () => {
    const response = await request(`${gateway.url}/who`, { headers: headers({ 'x-forwarded-for': '10.9.9.9', 'x-forwarded-proto': 'https' }) });
    const body = await response.body.text();
    if (!believed) {
      // The allowlist sees 127.0.0.1, not the made-up 10.9.9.9.
      expect(response.statusCode).toBe(401);
      return;
    }
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(body).headers).toMatchObject({ 'x-forwarded-for': '10.9.9.9, 127.0.0.1', 'x-forwarded-proto': 'https' });
  });

  it('refuses the allowlisted key from any other forwarded address', async () => {
    const response = await request(`${gateway.url}/who`, { headers: headers({ 'x-forwarded-for': '10.1.1.1' }) });
    await response.body.text();
    expect(response.statusCode).toBe(401);
  });

  it('refuses a request that names Host twice with 400 BAD_HOST, before the upstream sees it', async () => {
    const { hostname, port } = new URL(gateway.url);
    const before = upstream.seen.length;
    const socket = connect(Number(port), hostname);
    socket.end(`GET /who HTTP/1.1\r\nHost: gw.acme.test\r\nhost: other.test\r\nAuthorization: Bearer ${secret}\r\nConnection: close\r\n\r\n`);
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('"code":"BAD_HOST"');
    expect(upstream.seen.length).toBe(before);
  });

  describe('with a key that has no allowlist', () => {
    let open: string;
    beforeAll(async () => {
      const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
      expectStatus(created, 201);
      open = created.body.key;
    });

    it('sends an upload with Expect: 100-continue on, without the Expect header', async () => {
      const { hostname, port } = new URL(gateway.url);
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const sent = rawRequest({ host: hostname, port, method: 'POST', path: '/upload', headers: { host: 'gw.acme.test', authorization: `Bearer ${open}`, expect: '100-continue', 'content-length': '5' } });
        sent.on('continue', () => sent.end('hello'));
        sent.on('response', (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode!, body }));
        });
        sent.on('error', reject);
      });
      expect(answer.status).toBe(200);
      const seen = JSON.parse(answer.body).headers;
      expect(seen['expect']).toBeUndefined();
      expect(seen['content-length']).toBe('5');
    });

    it('passes on an answer given before the upload was read, closing the caller connection it cannot reuse', async () => {
      const response = await request(`${gateway.url}/early`, { method: 'POST', headers: { host: 'gw.acme.test', authorization: `Bearer ${open}` }, body: Buffer.alloc(4 << 20) });
      expect(response.statusCode).toBe(413);
      expect(response.headers['connection']).toBe('close');
      expect(await response.body.text()).toBe('too big');
    });

    it('streams a large answer to a slow reader, and abandons the upstream request when the caller leaves', async () => {
      const { hostname, port } = new URL(gateway.url);
      const before = upstream.closedEarly;
      const received = await new Promise<number>((resolve, reject) => {
        const sent = rawRequest({ host: hostname, port, path: '/large', headers: { host: 'gw.acme.test', authorization: `Bearer ${open}` } }, (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            // A slow reader: the gateway must pause the upstream, not buffer 64 MiB. Then it leaves.
            response.pause();
            if (bytes >= 8 << 20) {
              sent.destroy();
              resolve(bytes);
              return;
            }
            setTimeout(() => response.resume(), 5);
          });
        });
        sent.on('error', (err) => (sent.destroyed ? undefined : reject(err)));
        sent.end();
      });
      expect(received).toBeGreaterThanOrEqual(8 << 20);
      await expect.poll(() => upstream.closedEarly, { timeout: 5_000 }).toBe(before + 1);
    });
  });
});
