/**
 * What a Redis outage costs `POST /v1/verify`: latency of a rate-limited key (every verify asks
 * the rate limiter, so Redis) with Redis up, then with Redis killed (SIGKILL), then hung
 * (SIGSTOP: connections open, nothing answered), then back. Keygate runs in a child process
 * (bench/servers/keygate-server.ts, SQLite, KEYGATE_REDIS_FAILURE=local, the default
 * KEYGATE_REDIS_TIMEOUT_MS) against a private `redis-server` on an ephemeral port that this
 * script starts, kills and starts again; the machine's Redis is not touched.
 *
 *   tsx bench/redis-outage.ts [--quick] [--requests 3000]
 *
 * Requests are sequential on one keep-alive connection (latency, not throughput), after a
 * warm-up in each phase. The baseline is the "Redis up" phase of the same run; the figures of
 * the other phases are printed as ratios to it. Every answer must be 200 and VALID (the limit is
 * too high to refuse anything), or the run fails. Target: the outage adds under 50 ms at p99.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';
import { startChild, type ChildServer } from './lib/child.js';
import { fmtMs, fmtRatio, machineNote, NoiseMeter, now, numberArg, parseArgs, percentile, selfCpuSeconds } from './lib/common.js';
import type { BenchServerInfo } from './servers/bench-key.js';

const TARGET_EXTRA_P99_MS = 50;

const args = parseArgs(process.argv.slice(2), { quick: 'flag', requests: 'value' });
const quick = args.has('quick');
const requests = Math.min(numberArg(args, 'requests', quick ? 500 : 3000), 100_000);
const warmup = Math.max(50, Math.floor(requests / 10));

interface Phase {
  name: string;
  latencies: number[];
  othersCores: number | null;
}

let redis: RedisServer | null = null;
let server: ChildServer<BenchServerInfo> | null = null;
try {
  redis = await startRedisServer();
  server = await startChild<BenchServerInfo>(fileURLToPath(new URL('./servers/keygate-server.ts', import.meta.url)), { args: ['--redis-url', redis.url] });
  const { url, rootKey, credential, api, scopes } = server.info;
  const headers = { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ credential, api, scopes });

  const verifyOnce = async (): Promise<number> => {
    const t0 = now();
    const response = await fetch(`${url}/v1/verify`, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    const answer = (await response.json()) as { code?: string };
    const elapsed = now() - t0;
    if (response.status !== 200 || answer.code !== 'VALID') throw new Error(`verify answered ${response.status} ${JSON.stringify(answer)}`);
    return elapsed;
  };

  const readiness = async (status: 'ok' | 'degraded'): Promise<void> => {
    for (let i = 0; i < 400; i++) {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      if (((await response.json()) as { status?: string }).status === status) return;
      await sleep(25);
    }
    throw new Error(`/readyz never said ${status}`);
  };

  /** `requests` sequential verifies; after a change of state nothing is warmed up, so the cost of noticing it is in the figures. */
  const measure = async (name: string, options: { warm: boolean }): Promise<Phase> => {
    if (options.warm) for (let i = 0; i < warmup; i++) await verifyOnce();
    const noise = new NoiseMeter([selfCpuSeconds, () => server!.cpuSeconds()]);
    const latencies: number[] = [];
    for (let i = 0; i < requests; i++) latencies.push(await verifyOnce());
    return { name, latencies, othersCores: noise.othersCores() };
  };

  const phases: Phase[] = [];
  phases.push(await measure('Redis up', { warm: true }));
  await redis.stop('SIGKILL');
  await readiness('degraded');
  phases.push(await measure('Redis killed (SIGKILL)', { warm: false }));
  await redis.start();
  await readiness('ok');
  phases.push(await measure('Redis back', { warm: true }));
  redis.freeze();
  phases.push(await measure('Redis hung (SIGSTOP)', { warm: false }));
  redis.thaw();
  await readiness('ok');

  const base = phases[0]!;
  const p = (phase: Phase, q: number): number => percentile(phase.latencies, q);
  console.log(`redis-outage: POST /v1/verify of a rate-limited key, ${requests} sequential requests per phase, KEYGATE_REDIS_FAILURE=local`);
  console.log(machineNote());
  for (const phase of phases) {
    const noise = phase.othersCores === null ? 'n/a' : `${phase.othersCores.toFixed(2)} cores`;
    console.log(
      `  ${phase.name.padEnd(24)} p50 ${fmtMs(p(phase, 50))}  p99 ${fmtMs(p(phase, 99))}  max ${fmtMs(Math.max(...phase.latencies))}` +
        `  ratio to up: p50 ${fmtRatio(p(phase, 50) / p(base, 50))}, p99 ${fmtRatio(p(phase, 99) / p(base, 99))}  (others used ${noise})`,
    );
  }
  const worstExtra = Math.max(...phases.slice(1).map((phase) => p(phase, 99) - p(base, 99)));
  console.log(`  worst extra p99 over "Redis up": ${fmtMs(worstExtra)} (target < ${TARGET_EXTRA_P99_MS} ms): ${worstExtra < TARGET_EXTRA_P99_MS ? 'met' : 'MISSED'}`);
} finally {
  redis?.thaw();
  await server?.stop();
  await redis?.stop('SIGKILL');
}
