/**
 * The Keygate server for bench/verify-http.ts, in its own process: the real `startServer` with
 * SQLite in a temp dir, a random root key, one tenant, one API and one plain key (no rate
 * limits, no credits). Prints one JSON line (BenchServerInfo) on stdout when listening; on
 * SIGTERM or stdin end it closes and deletes its data directory.
 *
 * `--redis-url URL` (bench/redis-outage.ts): shared limits in that Redis, and the key gets a
 * limit too high to refuse anything, so every verify asks the rate limiter.
 *
 * `--no-analytics` (bench/verify-http.ts --analytics): usage analytics records nothing, the
 * baseline its cost is measured against.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server.js';
import { isolateEnv, parseArgs } from '../lib/common.js';
import { BENCH_API, BENCH_SCOPES, benchRootKey, createBenchKey, stopOnParentExit, type BenchServerInfo } from './bench-key.js';

isolateEnv();
const dataDir = await mkdtemp(join(tmpdir(), 'kg-bench-http-'));
const rootKey = benchRootKey();
const args = parseArgs(process.argv.slice(2), { 'redis-url': 'value', 'no-analytics': 'flag' });
const redisUrl = args.get('redis-url');
const redis = typeof redisUrl === 'string' ? { redisUrl } : {};
const server = await startServer({ port: 0, host: '127.0.0.1', dataDir, rootKey, ...redis }, { logger: false, env: {} });
if (args.has('no-analytics')) server.keygate.analytics.record = server.keygate.analytics.count = () => undefined;
const credential = await createBenchKey(server.keygate, redisUrl === undefined ? {} : { ratelimits: [{ name: 'bench', limit: 1_000_000_000, duration: 60_000 }] });
const info: BenchServerInfo = { url: server.url, rootKey, credential, api: BENCH_API, scopes: BENCH_SCOPES };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});
