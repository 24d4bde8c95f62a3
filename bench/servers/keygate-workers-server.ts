/**
 * A Keygate for bench/workers.ts, run as a user runs it: `keygate start --workers N` (the CLI,
 * through tsx) on SQLite in a temp dir, with a private redis-server unless `--no-redis`. Both are
 * children of this process, so the benchmark's process-tree CPU counts the primary, every worker
 * and Redis. Through the management API it creates the token benchmarks' tenant, API and client,
 * and one plain key to verify; then prints one JSON line (KeygateWorkersServerInfo). On SIGTERM
 * or stdin end it stops them all and deletes its data directory.
 *
 *   tsx bench/servers/keygate-workers-server.ts --workers 2 [--no-redis]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKeygateProcess } from '../../test/helpers/keygate-process.js';
import { startRedisServer } from '../../test/helpers/redis-server.js';
import { numberArg, parseArgs } from '../lib/common.js';
import { benchRootKey, stopOnParentExit, type BenchServerInfo } from './bench-key.js';
import { management, setupTokensTenant, TOKENS_API, TOKENS_SCOPE, TOKENS_TENANT, type TokensSetup } from './bench-tokens.js';

export type KeygateWorkersServerInfo = BenchServerInfo & TokensSetup & { pids: number[] };

const args = parseArgs(process.argv.slice(2), { workers: 'value', 'no-redis': 'flag' });
const workers = numberArg(args, 'workers', 1);
const dataDir = await mkdtemp(join(tmpdir(), 'kg-bench-workers-'));
const rootKey = benchRootKey();
const redis = args.has('no-redis') ? null : await startRedisServer();
const keygate = await startKeygateProcess({
  workers,
  args: ['--port', '0', '--host', '127.0.0.1'],
  env: { KEYGATE_DATA_DIR: dataDir, KEYGATE_ROOT_KEY: rootKey, KEYGATE_MASTER_KEY: randomBytes(32).toString('hex'), REDIS_URL: redis?.url },
});
const setup = await setupTokensTenant({ url: keygate.url, rootKey });
const { key } = await management<{ key: string }>(keygate.url, rootKey, 'POST', `/v1/tenants/${TOKENS_TENANT}/keys`, { api: TOKENS_API, scopes: [TOKENS_SCOPE] });
const info: KeygateWorkersServerInfo = { ...setup, credential: key, api: TOKENS_API, scopes: [TOKENS_SCOPE], pids: keygate.pids };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  await keygate.stop('SIGTERM');
  await redis?.stop();
  await rm(dataDir, { recursive: true, force: true });
});
