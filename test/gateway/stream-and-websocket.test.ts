import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

describe('gateway streaming and WebSocket (sqlite)', () => {
  let t: TestServer;
  let upstream: Upstream;
  let sockets: { server: Server; url: string; handshakes: IncomingHttpHeaders[] };
  let gateway: RunningGateway;
  let wsGateway: RunningGateway;
  let secret: string;

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    upstream = await startUpstream();
    // An upstream WebSocket server that echoes and records each handshake's headers.
    const handshakes: IncomingHttpHeaders[] = [];
    const server = createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, request) => {
      handshakes.push(request.headers);
      socket.on('message', (data) => socket.send(`echo:${data.toString()}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    sockets = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, handshakes };

    const operations = [op('PUT', '/uploads/{name}', [['write:users']]), op('GET', '/socket', [['read:users']])];
    const routes = new TestRoutes();
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: upstream.url }), 'acme', { basePath: '', operations }));
    gateway = await startGateway(t, routes);
    const wsRoutes = new TestRoutes();
    wsRoutes.set('ws.acme.test', target(await gatewayApi(t, 'acme', api, { upstream: sockets.url }), 'acme', { basePath: '', operations }));
    wsGateway = await startGateway(t, wsRoutes);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'] });
    expectStatus(created, 201);
    secret = created.body.key;
  });
  afterAll(async () => {
    await gateway?.close();
    await wsGateway?.close();
    await upstream?.stop();
    sockets?.server.closeAllConnections();
    sockets?.server.close();
    await t?.close();
  });

  it('forwards a body sent without a content type', async () => {
    const response = await request(`${gateway.url}/uploads/raw`, { method: 'PUT', headers: { host: 'gw.acme.test', authorization: `Bearer ${secret}` }, body: 'hello' });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toMatchObject({ bytes: 5 });
  });

  it('checks the credential at the WebSocket handshake, then tunnels frames both ways', async () => {
    const socket = new WebSocket(`${wsGateway.url.replace('http', 'ws')}/socket`, { headers: { host: 'ws.acme.test', authorization: `Bearer ${secret}`, 'keygate-subject': 'forged' } });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const echoed = new Promise<string>((resolve) => socket.once('message', (data) => resolve(data.toString())));
    socket.send('ping');
    expect(await echoed).toBe('echo:ping');
    socket.close();
    const handshake = sockets.handshakes.at(-1)!;
    expect(handshake['authorization']).toBeUndefined();
    expect(handshake['keygate-scopes']).toBe('write:users');
    expect(handshake['keygate-subject']).not.toBe('forged');
  });

  it('refuses a WebSocket handshake without a credential with 401', async () => {
    const socket = new WebSocket(`${wsGateway.url.replace('http', 'ws')}/socket`, { headers: { host: 'ws.acme.test' } });
    const status = await new Promise<number>((resolve) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('open', () => resolve(101));
    });
    expect(status).toBe(401);
    expect(sockets.handshakes).toHaveLength(1);
  });

  it('counts each handshake in usage analytics, tunnelled (1xx) or refused', async () => {
    await t.server.keygate.analytics.flush();
    const from = new Date(Date.now() - 120_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const usage = await t.call('GET', `/v1/tenants/acme/usage?operation=${encodeURIComponent('GET /socket')}&granularity=minute&from=${from}&to=${to}`);
    expectStatus(usage, 200);
    const sum = (field: 'outcomes' | 'statusClasses', name: string): number =>
      usage.body.points.reduce((total: number, point: Record<string, Record<string, number>>) => total + (point[field]![name] ?? 0), 0);
    expect(sum('outcomes', 'allowed')).toBe(1);
    expect(sum('outcomes', 'NOT_FOUND')).toBe(1);
    expect(sum('statusClasses', '1xx')).toBe(1);
  });
});
