import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testClock } from '../helpers/clock.js';
import { seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { gatewayApi, op, startGateway, startUpstream, target, TestRoutes, type RunningGateway, type Upstream } from './helpers.js';

const CHUNK = Buffer.alloc(1024 * 1024, 0x20);
const TOTAL_MB = 64;

/**
 * Attacker review of the gateway, F4: an external issuer's JWKS endpoint is any API owner's
 * server, so its answer is read only up to 256 KiB, then the connection is dropped.
 */
describe("an external issuer's oversized JWKS (sqlite)", () => {
  let t: TestServer;
  let upstream: Upstream;
  let gateway: RunningGateway;
  let jwks: Server;
  let sent = 0;
  let api: string;
  const clock = testClock();

  beforeAll(async () => {
    t = await startTestServer('sqlite', { gatewayTimeoutMs: 1000 }, { clock: clock.now });
    ({ api } = await seedTenant(t));
    upstream = await startUpstream();
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      let n = 0;
      const pump = (): void => {
        while (n < TOTAL_MB) {
          n += 1;
          sent += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end(']}');
      };
      res.on('close', () => (n = TOTAL_MB));
      pump();
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', () => resolve()));
    const jwksUri = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/keys`;
    const routes = new TestRoutes();
    const settings = { upstream: upstream.url, externalIssuers: [{ issuer: 'https://idp.evil.test', jwksUri, audience: null }] };
    routes.set('gw.acme.test', target(await gatewayApi(t, 'acme', api, settings), 'acme', { basePath: '', operations: [op('GET', '/users', [[]])] }));
    gateway = await startGateway(t, routes);
  });
  afterAll(async () => {
    jwks?.closeAllConnections();
    await new Promise<void>((resolve) => (jwks ? jwks.close(() => resolve()) : resolve()));
    await gateway?.close();
    await upstream?.stop();
    await t?.close();
  });

  it(`stops reading a ${TOTAL_MB} MiB JWKS answer at the 256 KiB limit, and answers 503`, async () => {
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const now = Math.floor(clock.now() / 1000);
    const token = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${b64({ iss: 'https://idp.evil.test', sub: 'x', aud: api, iat: now, exp: now + 300 })}.${'A'.repeat(342)}`;
    const response = await request(gateway.url + '/users', { headers: { host: 'gw.acme.test', authorization: `Bearer ${token}` } });
    await response.body.text();
    expect(response.statusCode).toBe(503);
    // The server may have queued a few chunks into socket buffers before the gateway hung up.
    expect(sent).toBeLessThan(16 * CHUNK.length);
  }, 20_000);
});
