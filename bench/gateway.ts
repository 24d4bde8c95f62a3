/**
 * The gateway (issue 10) against a bare `@fastify/http-proxy` with no authentication, both in
 * front of the same node:http upstream, each server in its own child process; autocannon runs
 * here and sends load to 127.0.0.1 only.
 *
 *   tsx bench/gateway.ts [--quick] [--duration 10] [--rounds 2] [--connections 50] [--rate 2000] [--max-wait 60]
 *
 * Three figures, each against its baseline in the same run:
 * 1. req/s through the gateway with a valid cached API key, and with a cached JWT, over req/s
 *    through the bare proxy: same connections (keep-alive, no pipelining), same request bytes
 *    (the bare proxy gets the same Authorization header and forwards it). Target ≥ 1.0.
 * 2. added latency at a fixed moderate rate (`--rate`, default 2,000 req/s): p99 through the
 *    gateway minus p99 through the bare proxy. Target ≤ 1 ms (autocannon's resolution is 1 ms).
 * 3. usage analytics on vs off: the same gateway with `analytics.count` a no-op. Target cost ≤ 5%.
 *    Since that difference is below this machine's run-to-run noise, the run also times
 *    `analytics.count` in process and prints it as a share of the gateway's CPU per request.
 * Figures are medians over rounds; ratios are medians of per-round ratios.
 */
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startChild, type ChildServer } from './lib/child.js';
import { fmtCores, fmtInt, fmtRatio, machineNote, median, NoiseMeter, numberArg, selfCpuSeconds } from './lib/common.js';
import { httpBenchOptions, roundRunOf, runRounds, type RoundRun } from './lib/rounds.js';
import { UsageAnalytics } from '../src/services/usage-analytics.js';
import type { GatewayBenchInfo } from './servers/keygate-gateway.js';

type Result = Awaited<ReturnType<typeof autocannon>>;

const { args, duration, rounds, warmup, connections, maxWaitMs } = httpBenchOptions({ rate: 'value' });
const rate = numberArg(args, 'rate', 2000);
const script = (name: string): string => fileURLToPath(new URL(`./servers/${name}`, import.meta.url));

interface Target {
  name: string;
  description: string;
  server: ChildServer<{ url: string }>;
  authorization: string;
}

const children: ChildServer<unknown>[] = [];
async function start<T>(name: string, argv: string[] = []): Promise<ChildServer<T>> {
  const child = await startChild<T>(script(name), { args: argv });
  children.push(child as ChildServer<unknown>);
  return child;
}

async function preflight(target: Target): Promise<void> {
  const response = await fetch(`${target.server.info.url}/users`, { headers: { authorization: target.authorization } });
  const text = await response.text();
  if (response.status !== 200 || !text.includes('Ada')) throw new Error(`pre-flight: ${target.name} answered ${response.status} ${text}`);
}

async function load(target: Target, seconds: number, overallRate?: number): Promise<RoundRun> {
  const cpuBefore = target.server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const meter = new NoiseMeter([selfCpuSeconds, () => target.server.cpuSeconds()]);
  const result: Result = await autocannon({
    url: `${target.server.info.url}/users`,
    headers: { authorization: target.authorization },
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
  const cpuAfter = target.server.cpuSeconds();
  return roundRunOf(target.name, result, { before: cpuBefore, after: cpuAfter, self: process.cpuUsage(selfBefore), others: meter.othersCores() });
}

/** µs per `UsageAnalytics.count` call: the gateway's analytics work per request, timed in this process. */
function recordCostUs(): number {
  const analytics = new UsageAnalytics({ add: async () => undefined, prune: async () => 0 }, () => 0, () => undefined, {
    flushIntervalMs: 3_600_000,
    maxSeries: 100_000,
    retentionDays: { minute: 2, hour: 35, day: 400 },
  });
  const usage = { tenantId: 'ten_1', apiId: 'api_1', keyId: 'key_1', consumer: 'bench', operation: 'GET /users', outcome: 'allowed' as const };
  const calls = 2_000_000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) analytics.count(usage, 200, i % 7, 60_000 + (i % 1000));
  const us = Number(process.hrtime.bigint() - started) / 1000 / calls;
  void analytics.close();
  return us;
}

try {
  const upstream = await start<{ url: string }>('gateway-upstream.ts');
  const bare = await start<{ url: string }>('bare-proxy.ts', ['--upstream', upstream.info.url]);
  const gateway = await start<GatewayBenchInfo>('keygate-gateway.ts', ['--upstream', upstream.info.url]);
  const quiet = await start<GatewayBenchInfo>('keygate-gateway.ts', ['--upstream', upstream.info.url, '--no-analytics']);
  const targets: Target[] = [
    { name: 'bare-proxy', description: '@fastify/http-proxy, no authentication', server: bare, authorization: `Bearer ${gateway.info.key}` },
    { name: 'gw-key', description: 'Keygate gateway, cached API key', server: gateway, authorization: `Bearer ${gateway.info.key}` },
    { name: 'gw-jwt', description: 'Keygate gateway, cached JWT', server: gateway, authorization: `Bearer ${gateway.info.jwt}` },
    { name: 'gw-no-usage', description: 'Keygate gateway, cached API key, analytics recording nothing', server: quiet, authorization: `Bearer ${quiet.info.key}` },
  ];
  for (const target of targets) await preflight(target);

  const { runs, retries } = await runRounds({ targets, load: (target, seconds) => load(target, seconds), warmup, duration, rounds, maxWaitMs });
  const ratio = (name: string, base: string): number => median(runs.get(name)!.map((run, i) => run.rps / runs.get(base)![i]!.rps));

  console.log('gateway: GET /users through the gateway vs a bare @fastify/http-proxy, same upstream (node:http), SQLite');
  console.log(`  autocannon: ${connections} connections, keep-alive, pipelining 1, ${rounds} round(s) × ${duration} s per server; latency resolution 1 ms`);
  console.log(`  ${''.padEnd(12)}${'req/s'.padStart(10)}${'p50'.padStart(6)}${'p99'.padStart(6)}${'ratio'.padStart(8)}${'µs/req'.padStart(8)}${'others'.padStart(8)}   what`);
  for (const target of targets) {
    const rs = runs.get(target.name)!;
    const cpu = rs.map((r) => r.cpuPerRequestUs).filter((c): c is number => c !== null);
    console.log(
      `  ${target.name.padEnd(12)}${fmtInt(median(rs.map((r) => r.rps))).padStart(10)}${String(median(rs.map((r) => r.p50))).padStart(6)}${String(median(rs.map((r) => r.p99))).padStart(6)}` +
        `${fmtRatio(ratio(target.name, 'bare-proxy')).padStart(8)}${(cpu.length ? median(cpu).toFixed(1) : '?').padStart(8)}${fmtCores(median(rs.map((r) => r.others ?? 0))).padStart(8)}   ${target.description}`,
    );
  }

  // Figure 2: the same two servers at a fixed rate, back to back, each twice.
  const fixed = new Map<string, number[]>();
  for (let round = 0; round < 2; round++) {
    for (const target of [targets[0]!, targets[1]!]) {
      const run = await load(target, duration, rate);
      fixed.set(target.name, [...(fixed.get(target.name) ?? []), run.p99]);
      process.stderr.write(`fixed rate ${rate}/s ${target.name}: ${fmtInt(run.rps)} req/s, p99 ${run.p99} ms\n`);
    }
  }
  const addedP99 = median(fixed.get('gw-key')!) - median(fixed.get('bare-proxy')!);

  // Figure 3 again without the machine's noise: what one `analytics.count` costs in process,
  // against the gateway's CPU per request under load (the same series every call, as under load).
  const recordUs = recordCostUs();
  const gatewayCpuUs = median(runs.get('gw-key')!.map((r) => r.cpuPerRequestUs).filter((c): c is number => c !== null));

  const keyRatio = ratio('gw-key', 'bare-proxy');
  const jwtRatio = ratio('gw-jwt', 'bare-proxy');
  const analyticsCost = 1 - ratio('gw-key', 'gw-no-usage');
  console.log(`  1. throughput, cached API key: ${fmtRatio(keyRatio)} × bare proxy (target ≥ 1.00) ${keyRatio >= 1 ? 'MET' : 'MISSED'}`);
  console.log(`     throughput, cached JWT:     ${fmtRatio(jwtRatio)} × bare proxy (target ≥ 1.00) ${jwtRatio >= 1 ? 'MET' : 'MISSED'}`);
  console.log(`  2. p99 at ${rate} req/s: gateway ${median(fixed.get('gw-key')!)} ms, bare proxy ${median(fixed.get('bare-proxy')!)} ms: +${addedP99} ms (target ≤ 1 ms) ${addedP99 <= 1 ? 'MET' : 'MISSED'}`);
  console.log(`  3. analytics on vs off: ${(analyticsCost * 100).toFixed(1)}% throughput cost (target ≤ 5%) ${analyticsCost <= 0.05 ? 'MET' : 'MISSED'}`);
  console.log(`     in process: analytics.count ${recordUs.toFixed(2)} µs per request = ${((recordUs / gatewayCpuUs) * 100).toFixed(2)}% of the gateway's ${gatewayCpuUs.toFixed(1)} µs CPU per request`);
  console.log(`  runs measured again for noise: ${retries}`);
  console.log(`  ${machineNote()}`);
} finally {
  for (const child of children.reverse()) await child.stop();
}
