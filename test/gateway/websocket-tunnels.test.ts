import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { tunnelUpgrades, type Tunnels } from '../../src/http/gateway/websocket.js';
import { GatewayService } from '../../src/services/gateway-service.js';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, target, TestRoutes } from './helpers.js';
import { scriptedLookup } from './scripted-lookup.js';

const OPERATIONS = [op('GET', '/socket', [['read:users']])];
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

/** A gateway's upgrade handling alone: a node:http server with `tunnelUpgrades`, as the gateway app wires it. */
interface TunnelServer {
  url: string;
  server: Server;
  tunnels: Tunnels;
  warnings: Record<string, unknown>[];
}

/**
 * Attacker review of the gateway, WebSocket findings: an open tunnel held the server's close (F8),
 * a second Host went through (F9), the handshake ignored KEYGATE_TRUST_PROXY, and the upstream's
 * name was resolved without the address rule (F5).
 */
describe('WebSocket tunnels: close, Host, caller address and upstream address (sqlite)', () => {
  let t: TestServer;
  let sockets: { server: Server; port: number; handshakes: IncomingHttpHeaders[]; open: Set<WebSocket> };
  let stalled: { server: Server; port: number; waiting: Socket[] };
  let gateway: TunnelServer;
  let secret: string;
  let fromAllowedNetwork: string;
  const routes = new TestRoutes();
  const { lookup } = scriptedLookup({ 'rebind.test': [['127.0.0.1'], ['169.254.169.254']] });

  async function startTunnels(): Promise<TunnelServer> {
    const keygate = t.server.keygate;
    const service = new GatewayService({ clock: keygate.clock, publicUrl: keygate.publicUrl, routes, verify: keygate.verify, signingKeys: keygate.signingKeys });
    const server = createServer((_request, response) => response.writeHead(404).end());
    const warnings: Record<string, unknown>[] = [];
    const tunnels = tunnelUpgrades(server, service, {
      timeoutMs: 5000,
      log: { error: () => undefined, warn: (fields) => void warnings.push(fields as Record<string, unknown>) },
      analytics: keygate.analytics,
      clock: keygate.clock,
      addresses: { allowLinkLocal: false, ownPorts: [], lookup },
      // What the gateway app derives from KEYGATE_TRUST_PROXY: here, a believed proxy on loopback relaying 203.0.113.9 over https.
      clientAddress: (request) => ({ ip: '203.0.113.9', ips: ['203.0.113.9', request.socket.remoteAddress!], proto: 'https' }),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, tunnels, warnings };
  }

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    // An upstream WebSocket server that echoes and records each handshake's headers.
    const handshakes: IncomingHttpHeaders[] = [];
    const open = new Set<WebSocket>();
    const server = createServer();
    new WebSocketServer({ server }).on('connection', (socket, request) => {
      handshakes.push(request.headers);
      open.add(socket);
      socket.on('close', () => open.delete(socket));
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    sockets = { server, port: (server.address() as AddressInfo).port, handshakes, open };
    // An upstream that takes the handshake and never answers it.
    const waiting: Socket[] = [];
    const stalledServer = createServer();
    stalledServer.on('upgrade', (_request, socket: Socket) => void waiting.push(socket));
    await new Promise<void>((resolve) => stalledServer.listen(0, '127.0.0.1', () => resolve()));
    stalled = { server: stalledServer, port: (stalledServer.address() as AddressInfo).port, waiting };

    const routed = async (host: string, upstream: string): Promise<void> => routes.set(host, target(await gatewayApi(t, 'acme', api, { upstream }), 'acme', { basePath: '', operations: OPERATIONS }));
    await routed('ws.acme.test', `http://127.0.0.1:${sockets.port}`);
    await routed('rebind.acme.test', `http://rebind.test:${sockets.port}`);
    await routed('metadata.acme.test', 'http://169.254.169.254');
    await routed('stalled.acme.test', `http://127.0.0.1:${stalled.port}`);
    gateway = await startTunnels();

    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'] });
    expectStatus(created, 201);
    secret = created.body.key;
    const allowlisted = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['read:users'], ipAllowlist: ['203.0.113.0/24'] });
    expectStatus(allowlisted, 201);
    fromAllowedNetwork = allowlisted.body.key;
  });
  afterAll(async () => {
    gateway?.tunnels.close();
    await new Promise<void>((resolve) => (gateway ? gateway.server.close(() => resolve()) : resolve()));
    for (const socket of stalled?.waiting ?? []) socket.destroy();
    for (const upstream of [sockets?.server, stalled?.server]) {
      upstream?.closeAllConnections();
      await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
    }
    await t?.close();
  });

  /** Opens a WebSocket through the gateway; resolves to it once open, or to the refusal's status. */
  function open(url: string, headers: Record<string, string>): Promise<WebSocket | number> {
    const socket = new WebSocket(`${url}/socket`, { headers });
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(socket));
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', reject);
    });
  }

  /** A handshake written by hand (two Host headers are not something a client library sends); resolves to what came back once the server closed. */
  function rawHandshake(url: string, lines: string[]): Promise<string> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    let got = '';
    socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
    socket.on('connect', () => socket.write(['GET /socket HTTP/1.1', ...lines, 'Connection: Upgrade', 'Upgrade: websocket', `Sec-WebSocket-Key: ${KEY}`, 'Sec-WebSocket-Version: 13', '', ''].join('\r\n')));
    return new Promise((resolve) => socket.on('close', () => resolve(got)));
  }

  it('refuses a handshake that names its Host twice with 400 BAD_HOST, in any letter case, before the upstream sees it', async () => {
    const before = sockets.handshakes.length;
    for (const second of ['Host: rebind.acme.test', 'host: ws.acme.test', 'HOST: stalled.acme.test']) {
      const answer = await rawHandshake(gateway.url, ['Host: ws.acme.test', `Authorization: Bearer ${secret}`, second]);
      expect(answer.startsWith('HTTP/1.1 400'), second).toBe(true);
      expect(answer).toContain('"code":"BAD_HOST"');
      expect(answer).toContain('application/problem+json');
    }
    expect(sockets.handshakes.length).toBe(before);
    expect(stalled.waiting).toHaveLength(0);
  });

  it("checks the caller's address as KEYGATE_TRUST_PROXY says, and forwards its chain and scheme", async () => {
    const socket = await open(gateway.url, { host: 'ws.acme.test', authorization: `Bearer ${fromAllowedNetwork}`, 'x-forwarded-for': '10.6.6.6' });
    expect(socket).toBeInstanceOf(WebSocket);
    (socket as WebSocket).close();
    const handshake = sockets.handshakes.at(-1)!;
    expect(handshake['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(handshake['x-forwarded-proto']).toBe('https');
  });

  it('resolves the upstream name at each handshake: once it rebinds to the metadata address, 502 and nothing is opened', async () => {
    const first = await open(gateway.url, { host: 'rebind.acme.test', authorization: `Bearer ${secret}` });
    expect(first).toBeInstanceOf(WebSocket);
    (first as WebSocket).close();
    const before = sockets.handshakes.length;
    expect(await open(gateway.url, { host: 'rebind.acme.test', authorization: `Bearer ${secret}` })).toBe(502);
    expect(sockets.handshakes.length).toBe(before);
    expect(await open(gateway.url, { host: 'metadata.acme.test', authorization: `Bearer ${secret}` })).toBe(502);
    expect(gateway.warnings.map((entry) => entry['code'])).toEqual(['UPSTREAM_ADDRESS_REFUSED', 'UPSTREAM_ADDRESS_REFUSED']);
  });

  it('closes every open tunnel and every handshake in progress, both sides, so the server closes at once', async () => {
    const own = await startTunnels();
    const tunnel = await open(own.url, { host: 'ws.acme.test', authorization: `Bearer ${secret}` });
    expect(tunnel).toBeInstanceOf(WebSocket);
    const tunnelClosed = new Promise<void>((resolve) => (tunnel as WebSocket).once('close', () => resolve()));
    const pending = rawHandshake(own.url, ['Host: stalled.acme.test', `Authorization: Bearer ${secret}`]);
    await waitFor(() => stalled.waiting.length === 1 && sockets.open.size === 1);
    // The stalled upstream's server keeps its side open (node:http sockets are half-open): the gateway's end is what shows.
    const upstreamHungUp = new Promise<void>((resolve) => stalled.waiting[0]!.once('end', () => resolve()));

    const serverClosed = new Promise<void>((resolve) => own.server.close(() => resolve()));
    own.tunnels.close();
    await Promise.all([serverClosed, tunnelClosed, pending, upstreamHungUp]);
    await waitFor(() => sockets.open.size === 0);
  }, 10_000);
});

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
