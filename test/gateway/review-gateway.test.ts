import { createServer, request as rawRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

const OPERATIONS = [
  op('GET', '/users', [['read:users']]),
  op('DELETE', '/users/{id}', [['write:users']]),
  op('GET', '/health', [[]], { requirement: { public: true, anyOf: [[]] } }),
];

/**
 * Findings of the gateway's attacker review (F2, F6, F7, HEAD under F3), kept as regressions: what
 * a caller sends must not make the upstream see another identity, another request, or a channel
 * the policy never checks.
 */
describe('review of the gateway: smuggled identity, overrides and upgrades (sqlite)', () => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let tunnelUpstream: Server;
  let tunnelBytes = '';
  let tunnelHandshake: Record<string, unknown> = {};
  let tunnelGateway: RunningGateway;
  const upstreamSockets: { destroy(): void }[] = [];

  beforeAll(async () => {
    t = await startTestServer('sqlite', { gatewayTimeoutMs: 1000 });
    const { api } = await seedTenant(t);
    upstream = await startUpstream();
    const routes = new TestRoutes();
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: upstream.url }), 'acme', { basePath: '', operations: OPERATIONS }));
    gateway = await startGateway(t, routes);

    // An upstream that says yes to any Upgrade (an h2c-capable or sloppy server) without a WebSocket accept, then reads whatever follows.
    tunnelUpstream = createServer((_req, res) => res.end('plain'));
    tunnelUpstream.on('upgrade', (req, socket) => {
      upstreamSockets.push(socket);
      socket.on('end', () => socket.destroy());
      tunnelHandshake = { url: req.url, upgrade: req.headers.upgrade, subject: req.headers['keygate-subject'] };
      socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ' + String(req.headers.upgrade) + '\r\n\r\n');
      socket.on('data', (chunk: Buffer) => {
        tunnelBytes += chunk.toString('latin1');
        if (tunnelBytes.includes('\r\n\r\n')) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nsmuggled!');
      });
    });
    await new Promise<void>((resolve) => tunnelUpstream.listen(0, '127.0.0.1', () => resolve()));
    const tunnelUrl = `http://127.0.0.1:${(tunnelUpstream.address() as AddressInfo).port}`;
    const routes2 = new TestRoutes();
    routes2.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: tunnelUrl }), 'acme', { basePath: '', operations: OPERATIONS }));
    tunnelGateway = await startGateway(t, routes2);
  });
  afterAll(async () => {
    for (const socket of upstreamSockets) socket.destroy();
    await gateway?.close();
    await tunnelGateway?.close();
    tunnelUpstream?.closeAllConnections();
    await new Promise<void>((resolve) => (tunnelUpstream ? tunnelUpstream.close(() => resolve()) : resolve()));
    await upstream?.stop();
    await t?.close();
  });
  beforeEach(() => {
    upstream.received.length = 0;
  });

  function raw(method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number }> {
    const { hostname, port } = new URL(gateway.url);
    return new Promise((resolve, reject) => {
      const sent = rawRequest({ host: hostname, port, method, path, headers: { host: 'gw.acme.test', ...headers } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode! }));
      });
      sent.on('error', reject);
      sent.end();
    });
  }

  it('drops underscore spellings of identity and forwarding headers, and made-up client-address headers', async () => {
    const answer = await raw('GET', '/health', { keygate_subject: 'admin', keygate_scopes: 'write:users', x_forwarded_for: '10.0.0.1', 'x-real-ip': '10.0.0.2', 'true-client-ip': '10.0.0.3' });
    expect(answer.status).toBe(200);
    const seen = upstream.received[0]!.headers;
    for (const name of ['keygate-subject', 'keygate_subject', 'keygate_scopes', 'x_forwarded_for', 'x-real-ip', 'true-client-ip']) expect(seen[name], name).toBeUndefined();
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('drops method and path override headers, and headers the caller names in Connection', async () => {
    const answer = await raw('GET', '/health', { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE', 'x-original-url': '/users/1', 'x-rewrite-url': '/users/1', connection: 'x-internal-route', 'x-internal-route': 'admin' });
    expect(answer.status).toBe(200);
    const seen = upstream.received[0]!;
    expect(seen.method).toBe('GET');
    for (const name of ['x-http-method-override', 'x-method-override', 'x-original-url', 'x-rewrite-url', 'x-internal-route']) expect(seen.headers[name], name).toBeUndefined();
  });

  it('refuses any Upgrade but WebSocket (h2c) with 400, before the upstream sees it', async () => {
    tunnelHandshake = {};
    const { hostname, port } = new URL(tunnelGateway.url);
    const socket = connect(Number(port), hostname);
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write('GET /health HTTP/1.1\r\nHost: gw.acme.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n');
    await waitFor(() => got.includes('\r\n\r\n'));
    expect(got.startsWith('HTTP/1.1 400')).toBe(true);
    expect(got).toContain('UPGRADE_NOT_ALLOWED');
    expect(tunnelHandshake).toEqual({});
    socket.destroy();
  });

  it('joins nothing when the upstream answers a WebSocket handshake with a 101 that does not accept its key', async () => {
    tunnelBytes = '';
    const { hostname, port } = new URL(tunnelGateway.url);
    const socket = connect(Number(port), hostname);
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
    socket.write('GET /health HTTP/1.1\r\nHost: gw.acme.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await closed;
    expect(got.startsWith('HTTP/1.1 502')).toBe(true);
    expect(got).not.toContain('101');
    expect(tunnelBytes).toBe('');
  });
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
