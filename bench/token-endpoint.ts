/**
 * Client-credentials token endpoint over HTTP: Keygate's `POST {issuer}/oauth/token` against
 * `oidc-provider` configured to do the same job (bench/servers/oidc-provider-server.ts): one
 * confidential client with client_secret_basic, `resource=<api>` answered with an RFC 9068 JWT
 * access token signed EdDSA, scope read:users, 3600 s, nothing persisted. Each server runs in
 * its own child process; autocannon runs here and sends load to 127.0.0.1 only.
 *
 *   tsx bench/token-endpoint.ts [--quick] [--duration 10] [--rounds 2] [--connections 50] [--warmup 2] [--profile-dir DIR] [--max-wait 60]
 *
 * Before any load, one token from each server is verified with jose against that server's
 * published JWKS (issuer, audience, EdDSA, typ at+jwt, scope), so both do the same work.
 * Both get the same request body (same resource, same scope) and a Basic header of the same
 * shape. Each round runs both servers back to back with the same autocannon settings
 * (keep-alive, no pipelining), the order alternating between rounds; figures are medians over
 * rounds and the ratio is the median of per-round req/s ratios. A run during which other
 * processes used more than 0.3 cores is measured again (at most 3 times, the quietest kept).
 * Target: Keygate >= 3x oidc-provider req/s. Two more servers, bench/servers/fastify-floor-tokens.ts
 * (bare Fastify + the same signature, made on the main thread with fast-jwt, and with `--pool` on
 * libuv's thread pool as Keygate makes it), are measured alongside as the floor: what HTTP and
 * one Ed25519 signature cost on this machine. Keygate ÷ the pool floor is issue 13's second figure
 * (target: within 15 %).
 * `--profile-dir DIR` runs both servers under `node --cpu-prof` (DIR/<server>/; read with
 * `tsx bench/lib/profile-top.ts <file>`).
 */
import { fileURLToPath } from 'node:url';
import { startChild, type ChildServer } from './lib/child.js';
import { httpBenchOptions, runRounds } from './lib/rounds.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, quietest } from './lib/common.js';
import {
  assertJwtAccessToken,
  basicAuth,
  fmtPct as pct,
  loadRun,
  requestToken,
  setupTokensTenant,
  tokenForm,
  TOKENS_API,
  type KeygateTokensServerInfo,
  type LoadRun,
} from './servers/bench-tokens.js';
import type { FloorTokensServerInfo } from './servers/fastify-floor-tokens.js';
import type { OidcProviderServerInfo } from './servers/oidc-provider-server.js';

const TARGET = 3;

const { quick, duration, rounds, warmup, connections, profileDir, maxWaitMs } = httpBenchOptions();

const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

interface Target {
  name: 'oidc-provider' | 'keygate' | 'floor' | 'floor-pool';
  description: string;
  server: ChildServer<unknown>;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const children: ChildServer<unknown>[] = [];
async function start<T>(name: string, file: string, argv: string[] = []): Promise<ChildServer<T>> {
  const child = await startChild<T>(file, {
    nodeArgs: typeof profileDir === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : [],
    args: argv,
  });
  children.push(child as ChildServer<unknown>);
  return child;
}

const load = (target: Target, seconds: number): Promise<LoadRun> => loadRun(target, { connections, seconds });

/** One of the two floor servers (fastify-floor-tokens.ts, on the main thread or `--pool`) as a load target. */
function floorTarget(name: 'floor' | 'floor-pool', description: string, server: ChildServer<FloorTokensServerInfo>, body: string): Target {
  return {
    name,
    description,
    server: server as ChildServer<unknown>,
    url: server.info.tokenEndpoint,
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(server.info.clientId, server.info.clientSecret) },
    body,
  };
}

try {
  const keygate = await start<KeygateTokensServerInfo>('keygate', script('keygate-tokens-server.ts'));
  const oidc = await start<OidcProviderServerInfo>('oidc-provider', script('oidc-provider-server.ts'), [TOKENS_API]);
  const floor = await start<FloorTokensServerInfo>('floor', script('fastify-floor-tokens.ts'), [TOKENS_API]);
  const floorPool = await start<FloorTokensServerInfo>('floor-pool', script('fastify-floor-tokens.ts'), [TOKENS_API, '--pool']);
  const setup = await setupTokensTenant(keygate.info);
  const body = tokenForm(TOKENS_API);
  const targets: Target[] = [
    {
      name: 'oidc-provider',
      description: `oidc-provider ${oidc.info.version}, client_credentials + resource → EdDSA JWT`,
      server: oidc as ChildServer<unknown>,
      url: oidc.info.tokenEndpoint,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(oidc.info.clientId, oidc.info.clientSecret) },
      body,
    },
    {
      name: 'keygate',
      description: 'Keygate server (startServer, SQLite), same grant → EdDSA JWT',
      server: keygate as ChildServer<unknown>,
      url: `${setup.issuer}/oauth/token`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(setup.clientId, setup.clientSecret) },
      body,
    },
    floorTarget('floor', 'reference: bare Fastify 5 + form + Basic check + fast-jwt EdDSA sign', floor, body),
    floorTarget('floor-pool', 'reference: the same, signing with crypto.sign(…, callback) on the thread pool', floorPool, body),
  ];

  // Same job on every side, checked once outside the timed part.
  const checks = [
    { target: targets[0]!, jwksUrl: oidc.info.jwksUrl, issuer: oidc.info.issuer },
    { target: targets[1]!, jwksUrl: `${setup.issuer}/.well-known/jwks.json`, issuer: setup.issuer },
    { target: targets[2]!, jwksUrl: floor.info.jwksUrl, issuer: floor.info.issuer },
    { target: targets[3]!, jwksUrl: floorPool.info.jwksUrl, issuer: floorPool.info.issuer },
  ];
  const tokenSizes: Record<string, number> = {};
  for (const { target, jwksUrl, issuer } of checks) {
    const answer = await requestToken(target.url, target.headers['authorization']!, target.body);
    if (answer.status !== 200) throw new Error(`pre-flight: ${target.name} answered ${answer.status} ${JSON.stringify(answer.json)}`);
    const { header } = await assertJwtAccessToken(answer.json['access_token'], { jwksUrl, issuer, audience: TOKENS_API, alg: 'EdDSA' });
    tokenSizes[target.name] = String(answer.json['access_token']).length;
    process.stderr.write(`pre-flight ${target.name}: ${header['alg']} ${header['typ']} JWT of ${tokenSizes[target.name]} chars verified by jose (iss, aud, scope, exp)\n`);
  }

  const { runs, retries, quietBefore } = await runRounds({ targets, load, warmup, duration, rounds, maxWaitMs });

  const base = runs.get('oidc-provider')!;
  const kg = runs.get('keygate')!;
  console.log('token-endpoint: client_credentials + resource → EdDSA JWT access token, Keygate vs oidc-provider');
  console.log(
    `  autocannon: ${connections} connections, keep-alive, pipelining 1, ${rounds} round(s) × ${duration} s per server after ${warmup} s warm-up, ` +
      `body ${Buffer.byteLength(body)} bytes; latency resolution 1 ms; tokens: oidc-provider ${tokenSizes['oidc-provider']} chars, keygate ${tokenSizes['keygate']} chars`,
  );
  console.log(`  ${''.padEnd(14)}${'req/s'.padStart(10)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'ratio'.padStart(8)}${'srv CPU'.padStart(9)}${'µs/req'.padStart(9)}${'ac CPU'.padStart(8)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.serverCpu).filter((c): c is number => c !== null);
    const ratio = median(rs.map((r, i) => r.rps / base[i]!.rps));
    console.log(
      `  ${target.name.padEnd(14)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${`${median(rs.map((r) => r.p50))} ms`.padStart(8)}` +
        `${`${median(rs.map((r) => r.p99))} ms`.padStart(8)}${fmtRatio(ratio).padStart(8)}${pct(cpu.length > 0 ? median(cpu) : null).padStart(9)}` +
        `${median(rs.map((r) => r.cpuPerRequestUs ?? Number.NaN)).toFixed(1).padStart(9)}${pct(median(rs.map((r) => r.loadCpu))).padStart(8)}` +
        `${fmtCores(median(rs.map((r) => r.others ?? Number.NaN))).padStart(8)}   ${target.description}`,
    );
  }
  const ratio = median(kg.map((r, i) => r.rps / base[i]!.rps));
  const cpuRatio = median(base.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / median(kg.map((r) => r.cpuPerRequestUs ?? Number.NaN));
  console.log(`  ratio keygate/oidc-provider req/s: ${fmtRatio(ratio)} (per round: ${kg.map((r, i) => fmtRatio(r.rps / base[i]!.rps)).join(', ')})`);
  console.log(`  ratio of server CPU per request (oidc-provider µs/req ÷ keygate µs/req): ${fmtRatio(cpuRatio)}`);
  const fl = runs.get('floor')!;
  const pool = runs.get('floor-pool')!;
  const poolRatio = median(kg.map((r, i) => r.rps / pool[i]!.rps));
  console.log(
    `  floor: floor/oidc-provider req/s ${fmtRatio(median(fl.map((r, i) => r.rps / base[i]!.rps)))}, keygate/floor ${fmtRatio(median(kg.map((r, i) => r.rps / fl[i]!.rps)))}; ` +
      `floor-pool/oidc-provider ${fmtRatio(median(pool.map((r, i) => r.rps / base[i]!.rps)))}, keygate/floor-pool ${fmtRatio(poolRatio)} ` +
      '(a floor is HTTP + form + one Ed25519 signature: the most any token endpoint can reach here)',
  );
  console.log(`  target keygate/floor-pool >= 0.85: ${poolRatio >= 0.85 ? 'MET' : 'MISSED'}`);
  console.log(
    '  srv CPU / ac CPU: cores used by the server / by autocannon (this process); others: cores used by every other process ' +
      `(${fmtCores(quietBefore)} before start; ${retries} noisy run(s) measured again)`,
  );
  console.log(`  target ratio >= ${TARGET}: ${ratio >= TARGET ? 'MET' : 'MISSED'}`);
  console.log(`  ${machineNote()}`);
} finally {
  for (const child of children) await child.stop();
}
