import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, target, TestRoutes, type RunningGateway } from './helpers.js';

/**
 * The gateway's second attacker review (F10–F19 in docs/security.md §13), the engine's part:
 * callers that leave or stall must not pin upstream connections, body-less answers pass whole,
 * and no header or query parameter makes the upstream run another request than the one checked.
 */
describe('gateway engine under hostile callers (sqlite)', () => {
  const TIMEOUT_MS = 1_500;
  let t: TestServer;
  let gateway: RunningGateway;
  let upstream: Server;
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let bigFinished = 0;
  let bigClosed = 0;
  let uploadsClosed = 0;

  beforeAll(async () => {
    t = await startTestServer('sqlite', { gatewayTimeoutMs: TIMEOUT_MS });
    const { api } = await seedTenant(t);
    upstream = createServer((req, res) => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      if (req.url === '/big') {
        res.on('finish', () => (bigFinished += 1));
        res.on('close', () => (bigClosed += 1));
        // 64 MiB: more than the sockets' buffers on both sides can hold.
        res.writeHead(200, { 'content-length': String(64 << 20) });
        const chunk = Buffer.alloc(64 << 10, 97);
        let left = 1024;
        const pump = (): void => {
          while (left > 0) {
            left -= 1;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return;
      }
      if (req.url === '/not-modified') {
        // RFC 9110 §8.6: a 304 may carry the Content-Length the 200 would have had.
        res.writeHead(304, { 'content-length': '10', etag: '"v1"' });
        res.end();
        return;
      }
      if (req.url === '/stream') {
        // Reads the upload, then answers slowly for longer than the gateway timeout: an SSE stream, an export.
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/plain' });
          let sent = 0;
          const tick = setInterval(() => {
            res.write(`chunk ${sent}\n`);
            sent += 1;
            if (sent === 8) {
              clearInterval(tick);
              res.end();
            }
          }, 300);
        });
        return;
      }
      req.on('close', () => {
        if (req.url === '/upload' && !req.complete) uploadsClosed += 1;
      });
      req.resume();
      req.on('end', () => res.end('done'));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const routes = new TestRoutes();
    const operations = [op('POST', '/stream', [[]]), op('POST', '/upload', [[]]), op('GET', '/big', [[]]), op('GET', '/not-modified', [[]]), op('GET', '/users', [[]]), op('POST', '/users', [[]])];
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }), 'acme', { basePath: '', operations }));
    gateway = await startGateway(t, routes);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  let secret: string;
  afterAll(async () => {
    await gateway?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await t?.close();
  });
  beforeEach(() => {
    seen.length = 0;
  });

  function raw(text: string): Socket {
    const { hostname, port } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.write(text);
    return socket;
  }

  const auth = (): string => `Authorization: Bearer ${secret}\r\n`;

  it('closes an upload that stops coming after the gateway timeout, and frees the upstream connection', async () => {
    const before = uploadsClosed;
    const socket = raw(`POST /upload HTTP/1.1\r\nHost: gw.acme.test\r\n${auth()}Content-Length: 100\r\n\r\nx`);
    socket.resume();
    await once(socket, 'close');
    await expect.poll(() => uploadsClosed, { timeout: 5_000 }).toBe(before + 1);
  });

  it('streams a slow answer to an upload for longer than the gateway timeout, and keeps serving', async () => {
    // The body follows the headers a moment later, so the forward starts before the upload is complete.
    const socket = raw(`POST /stream HTTP/1.1\r\nHost: gw.acme.test\r\n${auth()}Content-Length: 5\r\nConnection: close\r\n\r\n`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.write('hello');
    let answer = '';
    for await (const chunk of socket) answer += String(chunk);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('chunk 7');
    const next = await request(`${gateway.url}/users`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
    expect(next.statusCode).toBe(200);
    await next.body.text();
  });

  it('closes a forward whose caller stops reading, and frees the upstream connection', async () => {
    const before = bigClosed;
    const socket = raw(`GET /big HTTP/1.1\r\nHost: gw.acme.test\r\n${auth()}\r\n`);
    // Never read: the caller's connection fills, the upstream is paused, then abandoned.
    socket.pause();
    await expect.poll(() => bigClosed, { timeout: 10_000 }).toBe(before + 1);
    expect(bigFinished).toBe(0);
    socket.destroy();
  });

  it('passes a 304 that carries a Content-Length whole, and keeps the connection usable', async () => {
    const first = await request(`${gateway.url}/not-modified`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
    expect(first.statusCode).toBe(304);
    expect(first.headers['etag']).toBe('"v1"');
    expect(first.headers['content-length']).toBeUndefined();
    await first.body.text();
    const second = await request(`${gateway.url}/users`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
    expect(second.statusCode).toBe(200);
    await second.body.text();
  });

  it('drops the method override of the query and the headers that rewrite the path or the address, and keeps the rest', async () => {
    const response = await request(`${gateway.url}/users?page=2&_method=DELETE&%5Fmethod=PUT&sort=name`, {
      method: 'POST',
      headers: {
        host: 'gw.acme.test',
        authorization: `Bearer ${secret}`,
        'keygate.subject': 'admin',
        'x-original-uri': '/admin',
        'x-envoy-original-path': '/admin',
        'x-original-method': 'DELETE',
        'cf-connecting-ip': '10.9.9.9',
        'x-kept': 'yes',
      },
      body: '{}',
    });
    expect(response.statusCode).toBe(200);
    await response.body.text();
    const forwarded = seen.find((s) => s.url.startsWith('/users'))!;
    expect(forwarded.url).toBe('/users?page=2&sort=name');
    expect(forwarded.headers['x-kept']).toBe('yes');
    for (const name of ['keygate.subject', 'x-original-uri', 'x-envoy-original-path', 'x-original-method', 'cf-connecting-ip']) expect(forwarded.headers[name]).toBeUndefined();
  });
});

describe('gateway callers who leave while queued (sqlite)', () => {
  let t: TestServer;
  let gateway: RunningGateway;
  let upstream: Server;
  let secret: string;
  let uploads = 0;
  let gets = 0;

  beforeAll(async () => {
    // A long timeout: the uploads holding the pool must not be cut while the test queues behind them.
    t = await startTestServer('sqlite', { gatewayTimeoutMs: 60_000, gatewayMaxForwards: 148 });
    const { api } = await seedTenant(t);
    upstream = createServer((req, res) => {
      if (req.method === 'POST') uploads += 1;
      else gets += 1;
      req.resume();
      req.on('end', () => res.end('done'));
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    const routes = new TestRoutes();
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` }), 'acme', { basePath: '', operations: [op('POST', '/upload', [[]]), op('GET', '/users', [[]])] }));
    gateway = await startGateway(t, routes);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: [] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await gateway?.close();
    upstream?.closeAllConnections();
    upstream?.close();
    await t?.close();
  });

  function raw(text: string): Socket {
    const { hostname, port } = new URL(gateway.url);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => undefined);
    socket.write(text);
    return socket;
  }

  it('sends nothing for callers who left while their request waited for a connection, and serves the next caller', async () => {
    const auth = `Authorization: Bearer ${secret}\r\n`;
    // 128 uploads hold every pooled connection to the upstream.
    const holders = Array.from({ length: 128 }, () => raw(`POST /upload HTTP/1.1\r\nHost: gw.acme.test\r\n${auth}Content-Length: 3\r\n\r\nx`));
    await expect.poll(() => uploads, { timeout: 20_000 }).toBe(128);
    // Callers whose requests queue behind them, then leave.
    const leavers = Array.from({ length: 20 }, () => raw(`GET /users HTTP/1.1\r\nHost: gw.acme.test\r\n${auth}\r\n`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (const socket of leavers) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The leavers' requests still wait in the queue until a connection frees: they still count
    // against KEYGATE_GATEWAY_MAX_FORWARDS (148 = 128 uploads + 20), so the next is refused at once.
    const busy = await request(`${gateway.url}/users`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
    expect(busy.statusCode).toBe(503);
    expect(busy.headers['retry-after']).toBe('1');
    expect(await busy.body.json()).toMatchObject({ code: 'UPSTREAM_BUSY' });
    for (const socket of holders) socket.end('yz');
    // Once the uploads are answered, the queued requests are started, aborted and let go: the next caller is served.
    const served = async (): Promise<string> => {
      const next = await request(`${gateway.url}/users`, { headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` } });
      return `${next.statusCode} ${await next.body.text()}`;
    };
    await expect.poll(served, { timeout: 10_000 }).toBe('200 done');
    // Only the next caller's GET reached the upstream: none of the leavers' did.
    expect(gets).toBe(1);
    for (const socket of holders) socket.destroy();
  });
});

describe("Keygate's metrics port is one of its own (sqlite)", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer('sqlite', { metricsPort: 0 });
    await seedTenant(t);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses it as an upstream, so no one reads the metrics through the gateway', async () => {
    const { port } = new URL(t.server.metricsUrl!);
    const refused = await t.call('POST', '/v1/tenants/acme/apis', { identifier: 'https://metrics.test', name: 'Metrics', scopes: [{ name: 'read:x', description: 'x' }], upstream: `http://127.0.0.1:${port}` });
    expect([refused.status, refused.body.code]).toEqual([400, 'UPSTREAM_NOT_ALLOWED']);
  });
});
