import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server.js';
import { createBackend, type Backend } from '../helpers/backends.js';
import { ROOT_KEY } from '../helpers/server.js';

/**
 * A TCP relay between Keygate and PostgreSQL that the test can cut, so the database really
 * disappears from Keygate's point of view while PostgreSQL keeps running for other tests.
 */
function relay(target: URL): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) return client.destroy();
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        cut() {
          open = false;
          for (const s of sockets) s.destroy();
        },
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    }),
  );
}

describe('a store that goes away', () => {
  let backend: Backend;
  let server: RunningServer;
  let cutStore: () => void;
  let closeRelay: () => Promise<void>;

  beforeAll(async () => {
    backend = await createBackend('postgres');
    const real = new URL(backend.config.databaseUrl!);
    const proxy = await relay(real);
    cutStore = proxy.cut;
    closeRelay = proxy.close;
    const viaRelay = new URL(real);
    viaRelay.port = String(proxy.port);
    server = await startServer({ port: 0, host: '127.0.0.1', rootKey: ROOT_KEY, dataDir: backend.config.dataDir, databaseUrl: viaRelay.toString() }, { logger: false });
  });

  afterAll(async () => {
    await server.close();
    await closeRelay();
    await backend.destroy();
  });

  // The abort signals turn a hang into a failure; the store's own timeouts must answer first.
  it('answers 503 problems instead of hanging', async () => {
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    cutStore();
    const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(15_000) });
    expect(health.status).toBe(503);
    expect(((await health.json()) as { code: string }).code).toBe('STORE_UNAVAILABLE');
    // Readiness too: an instance without its database leaves the load balancer's rotation.
    const readiness = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { code: string }).code).toBe('STORE_UNAVAILABLE');
    const create = await fetch(`${server.url}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ROOT_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'down', name: 'Down' }),
      signal: AbortSignal.timeout(15_000),
    });
    // Authenticating the root key needs the store too: a fault is 503, never a misleading 401.
    expect(create.status).toBe(503);
    const body = (await create.json()) as { code: string };
    expect(body.code).toBe('STORE_UNAVAILABLE');
    expect(JSON.stringify(body)).not.toMatch(/ECONN|postgres|127\.0\.0\.1/);
  });
});
