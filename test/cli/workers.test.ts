import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/schema.js';
import { BACKENDS, createBackend, type Backend } from '../helpers/backends.js';
import { startKeygateProcess, type KeygateProcess } from '../helpers/keygate-process.js';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js';

/**
 * `keygate start --workers N`: real processes over HTTP, on a private redis-server (its channels
 * and counters are this file's alone) and on SQLite and PostgreSQL. Which worker serves a request
 * is read from the kernel: each test connection is a keep-alive socket of its own, and
 * /proc says which worker process holds the accepted end.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const API = 'https://api.workers.test';

describe('--workers: configuration', () => {
  it('defaults to one process, takes a count or auto (one per core), and refuses anything else', () => {
    expect(loadConfig({ env: {} }).workers).toBe(1);
    const redis = { REDIS_URL: 'redis://127.0.0.1:6379' };
    expect(loadConfig({ env: { ...redis, KEYGATE_WORKERS: '3' } }).workers).toBe(3);
    expect(loadConfig({ env: redis, flags: { workers: 'auto' } }).workers).toBe(availableParallelism());
    for (const bad of ['0', '-1', '1.5', 'two', '257']) {
      expect(() => loadConfig({ env: { ...redis, KEYGATE_WORKERS: bad } }), bad).toThrow(/KEYGATE_WORKERS: .* is not a whole number of workers in 1–256 or auto/);
    }
  });

  it('refuses more than one worker without REDIS_URL, saying what to set and why', () => {
    expect(loadConfig({ env: { KEYGATE_WORKERS: '1' } }).workers).toBe(1);
    let refused: unknown;
    try {
      loadConfig({ env: { KEYGATE_WORKERS: '2' } });
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ConfigError);
    const [problem] = (refused as ConfigError).problems;
    expect(problem).toMatch(/^KEYGATE_WORKERS: 2 workers need REDIS_URL/);
    for (const why of ['revoked', 'rate limits', 'private_key_jwt', 'Set REDIS_URL, or run one worker']) expect(problem).toContain(why);
  });

  it('keygate start --workers 2 without REDIS_URL exits 2 before forking anything', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'start', '--workers', '2', '--port', '0'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'] },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(output).toContain('--workers: 2 workers need REDIS_URL (e.g. redis://127.0.0.1:6379)');
    expect(output).not.toContain('starting worker');
  });
});

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});

describe('--workers: a first worker that cannot start', () => {
  it('ends the primary with its exit code and its message, without starting the others', async () => {
    const backend = await createBackend('sqlite');
    try {
      // A data directory that cannot be made: the worker's StartupError, exit 1.
      writeFileSync(join(backend.config.dataDir, 'a-file'), '');
      const failed = startKeygateProcess({ workers: 2, args: ['--port', '0'], env: { KEYGATE_DATA_DIR: join(backend.config.dataDir, 'a-file', 'data'), REDIS_URL: redis.url } });
      await expect(failed).rejects.toThrow(/exited \(1\)/);
      const error = await failed.catch((err: Error) => err.message);
      expect(error).toContain('a worker exited during start-up (code 1): stopping');
      expect(error).toContain('keygate: Cannot write the data directory');
      expect(error).not.toContain('worker 1 (pid');
    } finally {
      await backend.destroy();
    }
  });
});

describe.each(BACKENDS)('keygate start --workers 2 (%s + Redis)', (backendName) => {
  let backend: Backend;
  let kg: KeygateProcess;
  let rootKey: string;
  /** One keep-alive connection served by each worker, by pid. */
  let connections: Map<number, Connection>;
  let gatewayUrl: string;
  let metricsUrl: string;

  beforeAll(async () => {
    backend = await createBackend(backendName);
    // A first start: no root key and no master key given, so both are made, once.
    kg = await startKeygateProcess({
      workers: 2,
      args: ['--port', '0', '--host', '127.0.0.1', '--gateway-port', '0', '--metrics-port', '0'],
      // Exact shared counts: on a loaded machine a Redis reply a little over the 50 ms default would
      // send a verify to the per-worker fallback (docs/scale-out.md), so these workers wait longer.
      env: { KEYGATE_DATA_DIR: backend.config.dataDir, DATABASE_URL: backend.config.databaseUrl, REDIS_URL: redis.url, KEYGATE_REDIS_TIMEOUT_MS: '2000' },
    });
    rootKey = /shown only this once:\s+(\S+)/.exec(kg.stdout())![1]!;
    connections = await connectionsToEach(kg.url, kg.pids);
    const summary = kg.lines().find((line) => /^Keygate listening on /.test(line['msg']))!;
    gatewayUrl = summary['gateway'];
    metricsUrl = String(summary['metrics']).replace(/ \(no authentication\)$/, '');
  });
  afterAll(async () => {
    for (const connection of connections?.values() ?? []) connection.agent.destroy();
    await kg?.stop('SIGKILL');
    await backend?.destroy();
  });

  const each = (): [number, Connection][] => [...connections.entries()];
  const verify = async (connection: Connection, key: string): Promise<string> => {
    const response = await connection.call('POST', '/v1/verify', { credential: key, api: API }, rootKey);
    expect(response.status).toBe(200);
    return response.body.code;
  };
  const createKey = async (connection: Connection, settings: Record<string, unknown> = {}): Promise<{ id: string; key: string }> => {
    const response = await connection.call('POST', '/v1/tenants/acme/keys', { api: API, scopes: ['read:users'], ...settings }, rootKey);
    expect(response.status, JSON.stringify(response.body)).toBe(201);
    return { id: response.body.id, key: response.body.key };
  };

  it('runs the first start once (one root key printed, one master key generated), and both workers serve with it', async () => {
    expect(kg.pids).toHaveLength(2);
    expect(kg.stdout().split('No root key existed').length - 1).toBe(1);
    expect(kg.lines().filter((line) => /^generated a master key/.test(line['msg'])).length).toBe(1);
    expect([...connections.keys()].sort()).toEqual([...kg.pids].sort());
    // Every worker listens on every port the primary chose: the main one, the gateway's and the metrics port.
    for (const url of [gatewayUrl, metricsUrl]) {
      const others = await connectionsToEach(url, kg.pids);
      expect([...others.keys()].sort()).toEqual([...kg.pids].sort());
      for (const connection of others.values()) connection.agent.destroy();
    }
    for (const [, connection] of each()) {
      const health = await connection.call('GET', '/healthz');
      expect(health.body).toMatchObject({ status: 'ok', store: backendName, cluster: 'redis' });
      expect((await connection.call('GET', '/v1/tenants', undefined, rootKey)).status).toBe(200);
    }
    const [first, second] = each();
    expect((await first![1].call('POST', '/v1/tenants', { slug: 'acme', name: 'Acme' }, rootKey)).status).toBe(201);
    const api = await second![1].call('POST', '/v1/tenants/acme/apis', { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'Read users' }] }, rootKey);
    expect(api.status).toBe(201);
  });

  it('a key revoked through one worker is refused by every worker at the next request', async () => {
    const through = each()[0]![1];
    const { id, key } = await createKey(through);
    // Every worker has the key in its verify cache first.
    for (const [, connection] of each()) expect(await verify(connection, key)).toBe('VALID');
    expect((await through.call('POST', `/v1/tenants/acme/keys/${id}/revoke`, {}, rootKey)).status).toBe(200);
    for (const [, connection] of each()) expect(await verify(connection, key)).toBe('REVOKED');
  });

  it('a root key revoked through one worker is refused by every worker at the next request', async () => {
    const through = each()[0]![1];
    const created = await through.call('POST', '/v1/root-keys', { scopes: ['keys:verify'], name: 'revoked across workers' }, rootKey);
    expect(created.status).toBe(201);
    const { key } = await createKey(through);
    const verifyWith = async (connection: Connection): Promise<number> => (await connection.call('POST', '/v1/verify', { credential: key, api: API }, created.body.key)).status;
    // Every worker has authenticated it (and cached what it knows of it) first.
    for (const [, connection] of each()) expect(await verifyWith(connection)).toBe(200);
    expect((await through.call('POST', `/v1/root-keys/${created.body.id}/revoke`, {}, rootKey)).status).toBe(200);
    for (const [, connection] of each()) expect(await verifyWith(connection)).toBe(401);
  });

  it('counts a rate limit once for all workers', async () => {
    const { key } = await createKey(each()[0]![1], { ratelimits: [{ name: 'burst', limit: 4, duration: 3_600_000 }] });
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) codes.push(await verify(each()[i % 2]![1], key));
    expect(codes.filter((code) => code === 'VALID')).toHaveLength(4);
    expect(codes.slice(4)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  it('spends credits exactly, and concurrent writes through both workers all succeed', async () => {
    const { key } = await createKey(each()[0]![1], { credits: { remaining: 10 } });
    const codes = (await Promise.all(each().map(async ([, connection]) => {
      const mine: string[] = [];
      for (let i = 0; i < 12; i++) mine.push(await verify(connection, key));
      return mine;
    }))).flat();
    expect(codes.filter((code) => code === 'VALID')).toHaveLength(10);
    expect(codes.filter((code) => code === 'USAGE_EXCEEDED')).toHaveLength(14);
    // Writers in two processes at once, their transactions reading before they write (a
    // revocation reads the key's subtree first): each waits for the other's, none fails. Fresh
    // connections, so the cluster deals them to both workers.
    const fresh = async (method: string, path: string, body: unknown): Promise<{ status: number; body: any }> => {
      const response = await fetch(`${kg.url}${path}`, { method, headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: await response.json() };
    };
    const created = await Promise.all(Array.from({ length: 120 }, () => fresh('POST', '/v1/tenants/acme/keys', { api: API, scopes: ['read:users'] })));
    expect(created.map((response) => response.status)).toEqual(created.map(() => 201));
    const revoked = await Promise.all(created.map((response) => fresh('POST', `/v1/tenants/acme/keys/${response.body.id}/revoke`, {})));
    expect(revoked.map((response) => response.status)).toEqual(revoked.map(() => 200));
  });

  it('answers /metrics (main port and METRICS_PORT) for every worker, whichever worker the scrape reaches', async () => {
    for (const [, connection] of each()) for (let i = 0; i < 20; i++) expect((await connection.call('GET', '/healthz')).status).toBe(200);
    const unauthenticated = async (): Promise<{ text: string }> => {
      const connection = connect(metricsUrl);
      try {
        return await connection.call('GET', '');
      } finally {
        connection.agent.destroy();
      }
    };
    const scrapes = [...each().map(([, connection]) => () => connection.call('GET', '/metrics', undefined, rootKey)), unauthenticated];
    for (const scrape of scrapes) {
      const text = (await scrape()).text;
      expect(text).toMatch(/^keygate_workers 2$/m);
      expect(text).toMatch(/^keygate_redis_connected 1$/m);
      // 40 health checks alone, 20 on each worker: one worker's own count could not reach it.
      expect(Number(/^keygate_http_responses_total\{class="2xx"\} (\d+)$/m.exec(text)![1])).toBeGreaterThanOrEqual(40);
    }
  });

  it('replaces a worker that dies, while the other keeps serving', async () => {
    const [victim, survivor] = [...connections.keys()] as [number, number];
    const survivorConnection = connections.get(survivor)!;
    connections.get(victim)!.agent.destroy();
    process.kill(victim, 'SIGKILL');
    const exited = await kg.line((line) => line['workerPid'] === victim && /exited \(signal SIGKILL\); starting another in/.test(line['msg']));
    expect(exited['level']).toBe(40);
    expect((await survivorConnection.call('GET', '/healthz')).status).toBe(200);
    const replacement = await kg.line((line) => /^worker \d+ \(pid \d+\) ready$/.test(line['msg']) && !kg.pids.includes(line['workerPid']));
    connections = await connectionsToEach(kg.url, [survivor, replacement['workerPid']]);
    for (const [, connection] of each()) expect((await connection.call('GET', '/v1/tenants/acme', undefined, rootKey)).status).toBe(200);
    expect((await survivorConnection.call('GET', '/metrics', undefined, rootKey)).text).toMatch(/^keygate_worker_restarts_total 1$/m);
    expect(isRunning(victim)).toBe(false);
  });

  it('stops every worker on SIGTERM, each finishing its own shutdown', async () => {
    const pids = [...connections.keys()];
    for (const connection of connections.values()) connection.agent.destroy();
    expect(await kg.stop('SIGTERM')).toBe(0);
    expect(kg.lines().filter((line) => line['msg'] === 'SIGTERM: shutting down').map((line) => line['pid']).sort()).toEqual(pids.sort());
    expect(kg.lines().at(-1)!['msg']).toBe('all workers stopped');
    for (const pid of pids) expect(isRunning(pid)).toBe(false);
  });
});

interface Connection {
  agent: Agent;
  call(method: string, path: string, body?: unknown, bearer?: string): Promise<{ status: number; body: any; text: string }>;
}

/** One keep-alive connection to `url`: every request on it reaches the same worker. */
function connect(url: string): Connection & { localPort(): Promise<number> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let port: Promise<number> | null = null;
  const call: Connection['call'] = (method, path, body, bearer) =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (bearer !== undefined) headers['authorization'] = `Bearer ${bearer}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = request(new URL(path, url), { method, agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = null;
          try {
            parsed = JSON.parse(text);
          } catch {
            // Prometheus text, not JSON.
          }
          resolve({ status: res.statusCode!, body: parsed, text });
        });
      });
      req.once('socket', (socket) => {
        port ??= new Promise((resolvePort) => (socket.localPort !== undefined ? resolvePort(socket.localPort) : socket.once('connect', () => resolvePort(socket.localPort!))));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  return {
    agent,
    call,
    async localPort() {
      await call('GET', '/healthz');
      return port!;
    },
  };
}

/** Opens connections until each of `pids` serves one (cluster deals connections out in turn). */
async function connectionsToEach(url: string, pids: number[]): Promise<Map<number, Connection>> {
  const found = new Map<number, Connection>();
  const serverPort = Number(new URL(url).port);
  for (let attempt = 0; attempt < 20 && found.size < pids.length; attempt++) {
    const connection = connect(url);
    const owner = workerHolding(serverPort, await connection.localPort(), pids);
    if (owner !== null && !found.has(owner)) found.set(owner, connection);
    else connection.agent.destroy();
  }
  if (found.size < pids.length) throw new Error(`no connection reached every worker of ${pids.join(', ')}`);
  return found;
}

/** Which of `pids` holds the server end of the TCP connection from `clientPort` to `serverPort`. */
function workerHolding(serverPort: number, clientPort: number, pids: number[]): number | null {
  let inode: string | null = null;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = row.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const port = (address: string): number => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (port(fields[1]!) === serverPort && port(fields[2]!) === clientPort) inode = fields[9]!;
    }
  }
  if (inode === null) return null;
  for (const pid of pids) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      if (target === `socket:[${inode}]`) return pid;
    }
  }
  return null;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
