import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT_KEY, expectStatus, seedTenant, startTestServer, type TestServer } from '../helpers/server.js';
import { startUpstream, type Upstream } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const MB = 1024 * 1024;
const BODY = 300 * MB;

/** Resident memory of a process, from the kernel (what `ps` shows as RSS). */
function rssOf(pid: number): number {
  const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line![1]) * 1024;
}

/**
 * The bound is on the gateway's memory, so the gateway runs alone in a child process (`keygate
 * gateway` on the test server's database) and its RSS is read from /proc while a body streams
 * through it; the client and the upstream stay in the test process.
 *
 * Why 300 MB against a 96 MB bound, not the issue's 100 MB against 64 MB: every chunk the proxy
 * reads is a Buffer outside V8's heap, and V8 collects those after about 64 MB of new external
 * allocations, so a gateway that streams grows by 50–67 MB between collections whatever the body's
 * size (measured: 66.8 MB for 100 MB, 53.7 MB for 300 MB). A bound at 64 MB then fails at random;
 * a 300 MB body against 96 MB fails for certain if the gateway holds even a third of it.
 */
describe('gateway memory under a 100 MB upload (keygate gateway as its own process)', () => {
  let t: TestServer;
  let upstream: Upstream;
  let child: ChildProcess;
  let gatewayUrl: string;
  let secret: string;

  beforeAll(async () => {
    t = await startTestServer('sqlite');
    const { api } = await seedTenant(t);
    upstream = await startUpstream();
    expectStatus(await t.call('PATCH', `/v1/tenants/acme/apis/${encodeURIComponent(api)}`, { upstream: upstream.url }), 200);
    const document = {
      openapi: '3.1.0',
      info: { title: 'Uploads', version: '1' },
      components: { securitySchemes: { keygate: { type: 'http', scheme: 'bearer' } } },
      paths: {
        '/uploads/{name}': {
          parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
          put: { security: [{ keygate: ['write:users'] }], responses: { '200': { description: 'stored' } } },
        },
      },
    };
    expectStatus(await t.call('PUT', `/v1/tenants/acme/apis/${encodeURIComponent(api)}/openapi`, document), 200);
    const created = await t.call('POST', '/v1/tenants/acme/keys', { api, scopes: ['write:users'] });
    expectStatus(created, 201);
    secret = created.body.key;

    child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'gateway', '--host', '127.0.0.1'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYGATE_ROOT_KEY: ROOT_KEY, KEYGATE_DATA_DIR: t.backend.config.dataDir, GATEWAY_PORT: '0', LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const summary = stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { msg: string; gateway?: string })
        .find((line) => line.msg.startsWith('Keygate gateway listening on'));
      if (summary?.gateway !== undefined) {
        gatewayUrl = summary.gateway;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(gatewayUrl, 'keygate gateway printed no summary line').toBeDefined();
  }, 90_000);

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await upstream?.stop();
    await t?.close();
  });

  it('streams 300 MB through with the gateway process growing by less than 96 MB', async () => {
    const put = (body: Readable | string) =>
      request(`${gatewayUrl}/uploads/big.bin`, { method: 'PUT', headers: { host: 'api.acme.test', authorization: `Bearer ${secret}`, 'content-type': 'application/octet-stream' }, body });
    // A small request first, so the connection pool, the route table and the key cache are warm.
    const warm = await put('warm');
    expect(warm.statusCode).toBe(200);
    await warm.body.dump();

    const chunk = Buffer.alloc(64 * 1024, 7);
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= BODY) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const pid = child.pid!;
    const before = rssOf(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 10);
    try {
      const response = await put(body);
      expect(response.statusCode).toBe(200);
      expect(await response.body.json()).toMatchObject({ bytes: BODY });
    } finally {
      clearInterval(sampler);
    }
    expect(upstream.received.at(-1)).toMatchObject({ method: 'PUT', url: '/uploads/big.bin', bytes: BODY });
    expect(peak - before).toBeLessThan(96 * MB);
  });
});
