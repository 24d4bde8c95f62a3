/**
 * Diagnostic ladder for bench/verify-http.ts `--diagnose`: a Fastify 5 app between the bare
 * baseline and the full Keygate app, built from Keygate's own parts, to attribute the HTTP
 * overhead. One feature set per process, given as argv[2]:
 *
 *   reqid   bare route answering {ok:true}, plus Keygate's request ids (genReqId: newRequestId, as http/app.ts)
 *   verify  bare route whose handler returns `await keygate.verify(body)`: no auth hook, no schemas
 *   route   Keygate's own verifyRoutes plugin (root-key auth hook, TypeBox body and response
 *           schemas, verify) on a Fastify with app.ts's ajv options, but without swagger,
 *           request ids, error handler or trustProxy
 *
 * Prints one JSON line (BenchServerInfo) when listening; exits on SIGTERM or stdin end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import addFormats from 'ajv-formats';
import Fastify from 'fastify';
import { newRequestId } from '../../src/crypto/secrets.js';
import { verifyRoutes } from '../../src/http/verify.js';
import { createKeygate } from '../../src/services/keygate.js';
import type { VerifyRequest } from '../../src/services/verify-service.js';
import { isolateEnv } from '../lib/common.js';
import { BENCH_API, BENCH_SCOPES, benchRootKey, createBenchKey, stopOnParentExit, type BenchServerInfo } from './bench-key.js';

const variant = process.argv[2];
if (variant !== 'reqid' && variant !== 'verify' && variant !== 'route') throw new Error(`unknown variant "${variant}"`);

isolateEnv();
const dataDir = await mkdtemp(join(tmpdir(), 'kg-bench-variant-'));
const rootKey = benchRootKey();
const keygate = await createKeygate({ config: { dataDir, rootKey } });
const credential = await createBenchKey(keygate);

const app = Fastify({
  logger: false,
  ...(variant === 'reqid' ? { genReqId: newRequestId } : {}),
  ...(variant === 'route'
    ? { ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false }, plugins: [addFormats as never] } }
    : {}),
}).withTypeProvider<TypeBoxTypeProvider>();

if (variant === 'reqid') {
  app.post('/v1/verify', async (request) => ({ ok: typeof (request.body as { credential?: unknown }).credential === 'string' }));
} else if (variant === 'verify') {
  app.post('/v1/verify', async (request) => keygate.verify(request.body as VerifyRequest));
} else {
  app.decorateRequest('principal', null);
  await app.register(verifyRoutes(keygate));
}
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
const info: BenchServerInfo = { url: `http://127.0.0.1:${address.port}`, rootKey, credential, api: BENCH_API, scopes: BENCH_SCOPES };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  await app.close();
  await keygate.close();
  await rm(dataDir, { recursive: true, force: true });
});
