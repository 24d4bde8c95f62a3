/**
 * POST /v1/verify over HTTP against a bare Fastify 5 route that parses the same JSON body and
 * answers {ok:true}. Every server runs in its own child process; autocannon runs here, and sends
 * load to 127.0.0.1 only.
 *
 *   tsx bench/verify-http.ts [--quick] [--duration 10] [--rounds 2] [--connections 50] [--diagnose] [--analytics] [--profile-dir DIR] [--max-wait 60]
 *
 * Each round runs every server back to back (the order rotates between rounds) with the same
 * autocannon settings: keep-alive, no pipelining, same headers and same body size (each server
 * gets its own valid credential; key strings have a fixed length). Figures are medians over
 * rounds; the ratio is the median of per-round req/s ratios. Target: ratio >= 0.70.
 *
 * `--diagnose` adds the steps of bench/servers/fastify-variant.ts between baseline and Keygate
 * (request ids, bare route + verify, Keygate's verify route plugin) to show where the cost is.
 * `--analytics` adds the same Keygate server with usage analytics recording nothing, and prints
 * what recording costs (issue 10: analytics on vs off, target ≤ 5%).
 * Waits (at most --max-wait s) for a quiet machine first; a run during which other processes
 * used more than 0.3 cores is measured again (at most 3 times, the quietest kept), and the
 * noise of every kept run is printed next to its figures.
 * `--profile-dir DIR` runs every server under `node --cpu-prof` (profiles in DIR/<server>/;
 * read them with `tsx bench/lib/profile-top.ts <file>`).
 */
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startChild, type ChildServer } from './lib/child.js';
import { httpBenchOptions, roundRunOf, runRounds, type RoundRun } from './lib/rounds.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, NoiseMeter, quietest, selfCpuSeconds } from './lib/common.js';
import type { BenchServerInfo } from './servers/bench-key.js';

type Result = Awaited<ReturnType<typeof autocannon>>;

const TARGET = 0.7;

const { args, quick, duration, rounds, warmup, connections, profileDir, maxWaitMs } = httpBenchOptions({ diagnose: 'flag', analytics: 'flag' });
const diagnose = args.has('diagnose');
const analytics = args.has('analytics');
const ANALYTICS_TARGET = 0.95;

const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

interface Target {
  name: string;
  description: string;
  server: ChildServer<{ url: string }>;
  body: string;
  headers: Record<string, string>;
  /** What a correct answer looks like, checked once before the load. */
  expect: 'valid' | 'ok';
}

type Run = RoundRun;

const children: ChildServer<{ url: string }>[] = [];
async function start<T extends { url: string }>(name: string, file: string, argv: string[] = []): Promise<ChildServer<T>> {
  const child = await startChild<T>(file, {
    nodeArgs: typeof profileDir === 'string' ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}/${name}`] : [],
    args: argv,
  });
  children.push(child);
  return child;
}

function requestFor(info: BenchServerInfo): { body: string; headers: Record<string, string> } {
  return {
    body: JSON.stringify({ credential: info.credential, api: info.api, scopes: info.scopes }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${info.rootKey}` },
  };
}

async function preflight(target: Target): Promise<void> {
  const response = await fetch(`${target.server.info.url}/v1/verify`, { method: 'POST', headers: target.headers, body: target.body });
  const json = (await response.json()) as { valid?: boolean; ok?: boolean };
  const good = response.status === 200 && (target.expect === 'valid' ? json.valid === true : json.ok === true);
  if (!good) throw new Error(`pre-flight: ${target.name} answered ${response.status} ${JSON.stringify(json)}`);
}

async function load(target: Target, seconds: number): Promise<Run> {
  const cpuBefore = target.server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const meter = new NoiseMeter([selfCpuSeconds, () => target.server.cpuSeconds()]);
  const result: Result = await autocannon({
    url: `${target.server.info.url}/v1/verify`,
    method: 'POST',
    headers: target.headers,
    body: target.body,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
  });
  const cpuAfter = target.server.cpuSeconds();
  const self = process.cpuUsage(selfBefore);
  return roundRunOf(target.name, result, { before: cpuBefore, after: cpuAfter, self, others: meter.othersCores() });
}

const pct = (c: number | null): string => (c === null ? '?' : `${Math.round(c * 100)}%`);

try {
  const keygate = await start<BenchServerInfo>('keygate', script('keygate-server.ts'));
  const bare = await start<{ url: string }>('baseline', script('fastify-baseline.ts'));
  const keygateRequest = requestFor(keygate.info);
  const targets: Target[] = [
    { name: 'baseline', description: 'bare Fastify 5, parse JSON, {ok:true}', server: bare, ...keygateRequest, expect: 'ok' },
  ];
  if (diagnose) {
    const steps = [
      ['reqid', 'baseline + Keygate request ids (newRequestId)', 'ok'],
      ['verify', 'bare route: await keygate.verify(body)', 'valid'],
      ['route', "Keygate's verify route plugin (auth, schemas)", 'valid'],
    ] as const;
    for (const [name, description, expect] of steps) {
      const server = await start<BenchServerInfo>(name, script('fastify-variant.ts'), [name]);
      targets.push({ name, description, server, ...requestFor(server.info), expect });
    }
  }
  if (analytics) {
    const off = await start<BenchServerInfo>('no-usage', script('keygate-server.ts'), ['--no-analytics']);
    targets.push({ name: 'no-usage', description: 'Keygate server, usage analytics recording nothing', server: off, ...requestFor(off.info), expect: 'valid' });
  }
  targets.push({ name: 'keygate', description: 'Keygate server (startServer)', server: keygate, ...keygateRequest, expect: 'valid' });

  const size = Buffer.byteLength(targets[0]!.body);
  for (const target of targets) {
    if (Buffer.byteLength(target.body) !== size) throw new Error(`${target.name}: body size differs from the baseline's`);
    await preflight(target);
  }

  const { runs, retries, quietBefore } = await runRounds({ targets, load, warmup, duration, rounds, maxWaitMs });

  const base = runs.get('baseline')!;
  console.log('verify-http: POST /v1/verify, valid key (SQLite, cached), vs bare Fastify 5 JSON route');
  console.log(
    `  autocannon: ${connections} connections, keep-alive, pipelining 1, ${rounds} round(s) × ${duration} s per server, ` +
      `body ${size} bytes; latency resolution 1 ms`,
  );
  console.log(`  ${''.padEnd(10)}${'req/s'.padStart(10)}${'p50'.padStart(8)}${'p99'.padStart(8)}${'ratio'.padStart(8)}${'srv CPU'.padStart(9)}${'µs/req'.padStart(8)}${'cpu ratio'.padStart(10)}${'ac CPU'.padStart(8)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.serverCpu).filter((c): c is number => c !== null);
    const ratio = median(rs.map((r, i) => r.rps / base[i]!.rps));
    const perReq = median(rs.map((r) => r.cpuPerRequestUs ?? Number.NaN));
    const cpuRatio = median(base.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / perReq;
    console.log(
      `  ${target.name.padEnd(10)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${`${median(rs.map((r) => r.p50))} ms`.padStart(8)}` +
        `${`${median(rs.map((r) => r.p99))} ms`.padStart(8)}${fmtRatio(ratio).padStart(8)}` +
        `${pct(cpu.length > 0 ? median(cpu) : null).padStart(9)}${perReq.toFixed(1).padStart(8)}${fmtRatio(cpuRatio).padStart(10)}` +
        `${pct(median(rs.map((r) => r.loadCpu))).padStart(8)}` +
        `${fmtCores(median(rs.map((r) => r.others ?? Number.NaN))).padStart(8)}   ${target.description}`,
    );
  }
  const kg = runs.get('keygate')!;
  const ratio = median(kg.map((r, i) => r.rps / base[i]!.rps));
  const kgCpuRatio = median(base.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / median(kg.map((r) => r.cpuPerRequestUs ?? Number.NaN));
  console.log(`  ratio keygate/baseline req/s: ${fmtRatio(ratio)} (per round: ${kg.map((r, i) => fmtRatio(r.rps / base[i]!.rps)).join(', ')})`);
  console.log(
    `  ratio of server CPU per request (baseline µs/req ÷ keygate µs/req): ${fmtRatio(kgCpuRatio)}; the req/s ratio a quiet core would give, ` +
      'and less sensitive to neighbours than req/s',
  );
  console.log(
    '  srv CPU / ac CPU: cores used by the server / by autocannon (this process); others: cores used by every other process ' +
      `(${fmtCores(quietBefore)} before start; ${retries} noisy run(s) measured again)`,
  );
  console.log(`  target ratio >= ${TARGET}: ${ratio >= TARGET ? 'MET' : 'MISSED'}`);
  if (analytics) {
    const off = runs.get('no-usage')!;
    const onOff = median(kg.map((r, i) => r.rps / off[i]!.rps));
    const cpuOnOff = median(off.map((r) => r.cpuPerRequestUs ?? Number.NaN)) / median(kg.map((r) => r.cpuPerRequestUs ?? Number.NaN));
    console.log(
      `  usage analytics on/off req/s: ${fmtRatio(onOff)} (per round: ${kg.map((r, i) => fmtRatio(r.rps / off[i]!.rps)).join(', ')}); ` +
        `server CPU per request off ÷ on: ${fmtRatio(cpuOnOff)}; target >= ${ANALYTICS_TARGET}: ${onOff >= ANALYTICS_TARGET ? 'MET' : 'MISSED'}`,
    );
  }
  console.log(`  ${machineNote()}`);
} finally {
  for (const child of children) await child.stop();
}
