/**
 * The Keygate server for the token benchmarks, in its own process: the real `startServer` with
 * SQLite in a temp dir and a random root key, nothing else (the benchmark creates its tenant,
 * API and client through the management API). Prints one JSON line (KeygateTokensServerInfo)
 * on stdout when listening; on SIGTERM or stdin end it closes and deletes its data directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server.js';
import { isolateEnv } from '../lib/common.js';
import { benchRootKey, stopOnParentExit } from './bench-key.js';
import type { KeygateTokensServerInfo } from './bench-tokens.js';

isolateEnv();
const dataDir = await mkdtemp(join(tmpdir(), 'kg-bench-tokens-'));
const rootKey = benchRootKey();
const server = await startServer({ port: 0, host: '127.0.0.1', dataDir, rootKey, databaseUrl: undefined, redisUrl: undefined }, { logger: false, env: {} });
const info: KeygateTokensServerInfo = { url: server.url, rootKey };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});
