/**
 * `keygate start --workers N` (issue 13, target 6): `POST /v1/verify` and the client-credentials
 * token endpoint served by one process and by N workers, each Keygate started through the CLI as
 * a user starts it (bench/servers/keygate-workers-server.ts, SQLite). Autocannon runs here, on the
 * same machine: with 2 cores, the load generator and the workers share them, so N workers cannot
 * give N times one process; the same-run reference says what N processes can give here at all —
 * bench/servers/fastify-baseline.ts's bare JSON route in one process and in N cluster workers.
 *
 *   tsx bench/workers.ts [--quick] [--workers 2] [--duration 10] [--rounds 2] [--connections 50] [--warmup 2] [--max-wait 60]
 *
 * Servers: `1` (one process, no Redis: the default deployment), `1+redis` (one process with
 * REDIS_URL: the baseline of the ratios, since workers need Redis and a token request reads a
 * throttle counter there), `Nw` (N workers with REDIS_URL), and the two bare references. Server
 * CPU is the whole process tree's (primary, workers, Redis), so µs per request says what a
 * request costs the deployment. Each round runs every target back to back (the order rotates);
 * figures are medians over rounds, ratios medians of per-round ratios. A run during which other
 * processes used more than 0.3 cores is measured again (at most 3 times, the quietest kept).
 */
import { fileURLToPath } from 'node:url';
import { startChild, type ChildServer } from './lib/child.js';
import { httpBenchOptions, runRounds } from './lib/rounds.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, numberArg } from './lib/common.js';
import { basicAuth, fmtPct as pct, loadRun, tokenForm, TOKENS_API, type LoadRun, type LoadTarget } from './servers/bench-tokens.js';
import type { KeygateWorkersServerInfo } from './servers/keygate-workers-server.js';

const { args, duration, rounds, warmup, connections, profileDir, maxWaitMs } = httpBenchOptions({ workers: 'value' });
if (profileDir !== undefined) throw new Error('--profile-dir: not for this benchmark (profile one worker with bench/verify-http.ts or bench/token-endpoint.ts)');
const workers = numberArg(args, 'workers', 2);

const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

type Target = LoadTarget & { endpoint: 'verify' | 'token'; description: string };

const children: ChildServer<unknown>[] = [];
async function start<T>(file: string, argv: string[]): Promise<ChildServer<T>> {
  const child = await startChild<T>(file, { args: argv, tree: true, readyTimeoutMs: 180_000 });
  children.push(child as ChildServer<unknown>);
  return child;
}

const load = (target: Target, seconds: number): Promise<LoadRun> => loadRun(target, { connections, seconds });

try {
  process.stderr.write('starting servers (each Keygate through the CLI, so this takes a while)…\n');
  const keygates = {
    '1': await start<KeygateWorkersServerInfo>(script('keygate-workers-server.ts'), ['--workers', '1', '--no-redis']),
    '1+redis': await start<KeygateWorkersServerInfo>(script('keygate-workers-server.ts'), ['--workers', '1']),
    [`${workers}w`]: await start<KeygateWorkersServerInfo>(script('keygate-workers-server.ts'), ['--workers', String(workers)]),
  };
  const floor1 = await start<{ url: string }>(script('fastify-baseline.ts'), []);
  const floorN = await start<{ url: string }>(script('fastify-baseline-workers.ts'), [String(workers)]);

  const describe = (name: string): string =>
    name === '1' ? 'keygate start, one process, no Redis' : name === '1+redis' ? 'keygate start, one process, REDIS_URL' : `keygate start --workers ${workers}, REDIS_URL`;
  const verifyBody = (info: KeygateWorkersServerInfo): string => JSON.stringify({ credential: info.credential, api: info.api, scopes: info.scopes });
  const targets: Target[] = [];
  const anyKeygate = Object.values(keygates)[0]!.info;
  for (const [name, server] of [['floor-1', floor1], [`floor-${workers}w`, floorN]] as const) {
    // The same bytes as Keygate's verify requests (the keys have one length), to a route that only parses them.
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${anyKeygate.rootKey}` };
    targets.push({ name: `verify ${name}`, endpoint: 'verify', description: `bare Fastify JSON route, ${name === 'floor-1' ? 'one process' : `${workers} cluster workers`}`, server, url: `${server.info.url}/v1/verify`, headers, body: verifyBody(anyKeygate) });
  }
  const request = (endpoint: Target['endpoint'], info: KeygateWorkersServerInfo): Pick<Target, 'url' | 'headers' | 'body'> =>
    endpoint === 'verify'
      ? { url: `${info.url}/v1/verify`, headers: { 'content-type': 'application/json', authorization: `Bearer ${info.rootKey}` }, body: verifyBody(info) }
      : { url: `${info.issuer}/oauth/token`, headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(info.clientId, info.clientSecret) }, body: tokenForm(TOKENS_API) };
  for (const endpoint of ['verify', 'token'] as const) {
    for (const [name, server] of Object.entries(keygates)) {
      targets.push({ name: `${endpoint} ${name}`, endpoint, description: describe(name), server, ...request(endpoint, server.info) });
    }
  }

  // Every target answers what it should before any load (loadRun fails the run on any non-2xx).
  for (const target of targets) {
    const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
    const json = (await response.json()) as Record<string, unknown>;
    const good = response.status === 200 && (target.name.includes('floor') ? json['ok'] === true : target.endpoint === 'verify' ? json['valid'] === true : typeof json['access_token'] === 'string');
    if (!good) throw new Error(`pre-flight: ${target.name} answered ${response.status} ${JSON.stringify(json)}`);
  }

  const { runs, retries, quietBefore } = await runRounds({ targets, load, warmup, duration, rounds, maxWaitMs });

  const ratio = (name: string, base: string): number => median(runs.get(name)!.map((r, i) => r.rps / runs.get(base)![i]!.rps));
  const perRequest = (name: string): number => median(runs.get(name)!.map((r) => r.cpuPerRequestUs ?? Number.NaN));
  console.log(`workers: POST /v1/verify and client-credentials tokens, one process vs keygate start --workers ${workers} (SQLite; Redis where said)`);
  console.log(
    `  autocannon: ${connections} connections, keep-alive, pipelining 1, ${rounds} round(s) × ${duration} s per target after ${warmup} s warm-up; ` +
      'srv CPU and µs/req: the server\'s whole process tree (primary, workers, Redis); ÷ base: req/s ÷ the same endpoint\'s 1+redis (the floors ÷ floor-1)',
  );
  console.log(`  ${''.padEnd(18)}${'req/s'.padStart(10)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'÷ base'.padStart(11)}${'srv CPU'.padStart(9)}${'µs/req'.padStart(9)}${'ac CPU'.padStart(8)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.serverCpu).filter((c): c is number => c !== null);
    const base = target.name.includes('floor') ? `verify floor-1` : `${target.endpoint} 1+redis`;
    console.log(
      `  ${target.name.padEnd(18)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${`${median(rs.map((r) => r.p50))} ms`.padStart(8)}` +
        `${`${median(rs.map((r) => r.p99))} ms`.padStart(8)}${fmtRatio(ratio(target.name, base)).padStart(11)}${pct(cpu.length > 0 ? median(cpu) : null).padStart(9)}` +
        `${perRequest(target.name).toFixed(1).padStart(9)}${pct(median(rs.map((r) => r.loadCpu))).padStart(8)}` +
        `${fmtCores(median(rs.map((r) => r.others ?? Number.NaN))).padStart(8)}   ${target.description}`,
    );
  }
  const nw = `${workers}w`;
  for (const endpoint of ['verify', 'token'] as const) {
    console.log(
      `  ${endpoint}: ${workers} workers ÷ one process with Redis: ${fmtRatio(ratio(`${endpoint} ${nw}`, `${endpoint} 1+redis`))} req/s ` +
        `(per round: ${runs.get(`${endpoint} ${nw}`)!.map((r, i) => fmtRatio(r.rps / runs.get(`${endpoint} 1+redis`)![i]!.rps)).join(', ')}); ` +
        `CPU per request ${perRequest(`${endpoint} ${nw}`).toFixed(1)} vs ${perRequest(`${endpoint} 1+redis`).toFixed(1)} µs; ` +
        `one process with Redis ÷ without: ${fmtRatio(ratio(`${endpoint} 1+redis`, `${endpoint} 1`))} req/s`,
    );
  }
  console.log(
    `  reference: the bare route in ${workers} workers ÷ one process: ${fmtRatio(ratio(`verify floor-${nw}`, 'verify floor-1'))} req/s, ` +
      `what ${workers} processes can give on this machine with autocannon on the same cores`,
  );
  console.log(
    '  srv CPU / ac CPU: cores used by the server / by autocannon (this process); others: cores used by every other process ' +
      `(${fmtCores(quietBefore)} before start; ${retries} noisy run(s) measured again)`,
  );
  console.log(`  ${machineNote()}`);
} finally {
  for (const child of children) await child.stop();
}
