/**
 * The Keygate gateway of bench/gateway.ts, in its own process: the real `startServer` with the
 * gateway on an ephemeral port, SQLite in a temp dir, one API whose upstream is `--upstream` and
 * whose OpenAPI document requires `read:users` for `GET /users`, a plain key (no limits, no
 * credits) and a JWT API key for it. Prints one JSON line on stdout when listening.
 *
 *   tsx bench/servers/keygate-gateway.ts --upstream http://127.0.0.1:PORT [--no-analytics]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import { isolateEnv, parseArgs } from '../lib/common.js';
import { BENCH_API, benchRootKey, createBenchKey, stopOnParentExit } from './bench-key.js';

export interface GatewayBenchInfo {
  url: string;
  key: string;
  jwt: string;
}

isolateEnv();
const args = parseArgs(process.argv.slice(2), { upstream: 'value', 'no-analytics': 'flag' });
const upstream = args.get('upstream');
if (typeof upstream !== 'string') throw new Error('--upstream URL is required');
const dataDir = await mkdtemp(join(tmpdir(), 'kg-bench-gateway-'));
const server = await startServer({ port: 0, host: '127.0.0.1', gatewayPort: 0, dataDir, rootKey: benchRootKey() }, { logger: false, env: {} });
const { keygate } = server;
if (args.has('no-analytics')) keygate.analytics.count = () => undefined;
const key = await createBenchKey(keygate);
const tenant = (await keygate.tenants.get('bench'))!;
await keygate.apis.update(SYSTEM_ACTOR, tenant, BENCH_API, { upstream });
const document = {
  openapi: '3.1.0',
  info: { title: 'Bench', version: '1' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  paths: { '/users': { get: { security: [{ bearer: ['read:users'] }], responses: { '200': { description: 'the users' } } } } },
};
await keygate.apis.setDocument(SYSTEM_ACTOR, tenant, BENCH_API, { text: JSON.stringify(document), format: 'json' });
await keygate.gatewayRoutes.refresh();
const { token: jwt } = await keygate.tokens.issueApiKeyToken(SYSTEM_ACTOR, tenant, { api: BENCH_API, consumer: 'bench', scopes: ['read:users'] });
const info: GatewayBenchInfo = { url: server.gatewayUrl!, key, jwt };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
});
