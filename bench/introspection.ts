/**
 * Token introspection over HTTP (RFC 7662, `POST {issuer}/oauth/introspect`, client Basic auth,
 * form `token=…`) against `POST /v1/verify` of the same access token (root key, JSON body) on
 * the same Keygate server, in the same run. Both answer from the same verified-token cache after
 * the first request; introspection adds client authentication, the scanning-limit counter and
 * an RFC 7662 body. The server runs in a child process; autocannon runs here and sends load to
 * 127.0.0.1 only.
 *
 *   tsx bench/introspection.ts [--quick] [--duration 10] [--rounds 2] [--connections 50] [--warmup 2] [--profile-dir DIR] [--max-wait 60]
 *
 * The token is a client-credentials access token of the client that introspects it (a client
 * may introspect its own tokens). Each round runs both endpoints back to back with the same
 * autocannon settings (keep-alive, no pipelining), the order alternating; figures are medians
 * over rounds and the ratio is the median of per-round ratios (introspection ÷ verify). A run
 * during which other processes used more than 0.3 cores is measured again (at most 3 times,
 * the quietest kept). No target: the ratio says what introspection costs over verify.
 */
import { fileURLToPath } from 'node:url';
import { startChild, type ChildServer } from './lib/child.js';
import { httpBenchOptions, runRounds } from './lib/rounds.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, quietest } from './lib/common.js';
import {
  basicAuth,
  fmtPct as pct,
  loadRun,
  requestToken,
  setupTokensTenant,
  tokenForm,
  TOKENS_API,
  TOKENS_SCOPE,
  type KeygateTokensServerInfo,
  type LoadRun,
  type LoadTarget,
} from './servers/bench-tokens.js';

const { quick, duration, rounds, warmup, connections, profileDir, maxWaitMs } = httpBenchOptions();

interface Target extends LoadTarget {
  name: 'verify' | 'introspect';
  description: string;
  check: (status: number, json: Record<string, unknown>) => boolean;
}

let server: ChildServer<KeygateTokensServerInfo> | null = null;
try {
  server = await startChild<KeygateTokensServerInfo>(fileURLToPath(new URL('./servers/keygate-tokens-server.ts', import.meta.url)), {
    nodeArgs: typeof profileDir === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/keygate`] : [],
  });
  const setup = await setupTokensTenant(server.info);
  const clientAuth = basicAuth(setup.clientId, setup.clientSecret);
  const issued = await requestToken(`${setup.issuer}/oauth/token`, clientAuth, tokenForm(TOKENS_API));
  const token = issued.json['access_token'];
  if (issued.status !== 200 || typeof token !== 'string') throw new Error(`setup: the token endpoint answered ${issued.status} ${JSON.stringify(issued.json)}`);

  const targets: Target[] = [
    {
      name: 'verify',
      description: 'POST /v1/verify {credential, api, scopes}, root key',
      url: `${setup.url}/v1/verify`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${setup.rootKey}` },
      body: JSON.stringify({ credential: token, api: TOKENS_API, scopes: [TOKENS_SCOPE] }),
      server,
      check: (status, json) => status === 200 && json['valid'] === true,
    },
    {
      name: 'introspect',
      description: 'POST {issuer}/oauth/introspect token=…, client Basic auth',
      url: `${setup.issuer}/oauth/introspect`,
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: clientAuth },
      body: new URLSearchParams({ token }).toString(),
      server,
      check: (status, json) => status === 200 && json['active'] === true && json['scope'] === TOKENS_SCOPE,
    },
  ];
  for (const target of targets) {
    const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body, signal: AbortSignal.timeout(10_000) });
    const json = (await response.json()) as Record<string, unknown>;
    if (!target.check(response.status, json)) throw new Error(`pre-flight: ${target.name} answered ${response.status} ${JSON.stringify(json)}`);
  }

  const load = (target: Target, seconds: number): Promise<LoadRun> => loadRun(target, { connections, seconds });
  const { runs, retries, quietBefore } = await runRounds({ targets, load, warmup, duration, rounds, maxWaitMs, order: (list, round) => (round % 2 === 0 ? [...list] : [...list].reverse()) });

  const base = runs.get('verify')!;
  const intro = runs.get('introspect')!;
  console.log('introspection: RFC 7662 introspection vs POST /v1/verify of the same EdDSA access token, same Keygate server (SQLite)');
  console.log(
    `  autocannon: ${connections} connections, keep-alive, pipelining 1, ${rounds} round(s) × ${duration} s per endpoint after ${warmup} s warm-up; ` +
      `bodies: verify ${Buffer.byteLength(targets[0]!.body)} bytes, introspect ${Buffer.byteLength(targets[1]!.body)} bytes; latency resolution 1 ms`,
  );
  console.log(`  ${''.padEnd(12)}${'req/s'.padStart(10)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'ratio'.padStart(8)}${'srv CPU'.padStart(9)}${'µs/req'.padStart(9)}${'ac CPU'.padStart(8)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.serverCpu).filter((c): c is number => c !== null);
    console.log(
      `  ${target.name.padEnd(12)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${`${median(rs.map((r) => r.p50))} ms`.padStart(8)}` +
        `${`${median(rs.map((r) => r.p99))} ms`.padStart(8)}${fmtRatio(median(rs.map((r, i) => r.rps / base[i]!.rps))).padStart(8)}` +
        `${pct(cpu.length > 0 ? median(cpu) : null).padStart(9)}${median(rs.map((r) => r.cpuPerRequestUs ?? Number.NaN)).toFixed(1).padStart(9)}` +
        `${pct(median(rs.map((r) => r.loadCpu))).padStart(8)}${fmtCores(median(rs.map((r) => r.others ?? Number.NaN))).padStart(8)}   ${target.description}`,
    );
  }
  const ratio = median(intro.map((r, i) => r.rps / base[i]!.rps));
  const cpuRatio = median(base.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / median(intro.map((r) => r.cpuPerRequestUs ?? Number.NaN));
  console.log(`  ratio introspect/verify req/s: ${fmtRatio(ratio)} (per round: ${intro.map((r, i) => fmtRatio(r.rps / base[i]!.rps)).join(', ')})`);
  console.log(`  ratio of server CPU per request (verify µs/req ÷ introspect µs/req): ${fmtRatio(cpuRatio)}`);
  console.log(
    '  srv CPU / ac CPU: cores used by the server / by autocannon (this process); others: cores used by every other process ' +
      `(${fmtCores(quietBefore)} before start; ${retries} noisy run(s) measured again)`,
  );
  console.log(`  ${machineNote()}`);
} finally {
  await server?.stop();
}
