import { fmtCores, fmtInt, numberArg, parseArgs, quietest, waitForQuiet } from './common.js';

/** What one timed load run reports; every HTTP benchmark's run has at least this. */
export interface RoundRun {
  rps: number;
  p50: number;
  p99: number;
  total: number;
  serverCpu: number | null;
  cpuPerRequestUs: number | null;
  loadCpu: number;
  others: number | null;
}

/** What autocannon reports that a round run reads. */
interface LoadResult {
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
  requests: { average: number; total?: number };
  latency: { p50: number; p99: number };
}

/**
 * A run's figures from autocannon's result and the CPU seconds read around it (the server's
 * before and after, this process's usage since the start, other processes' cores); throws when
 * any request failed, since a figure over wrong answers means nothing.
 */
export function roundRunOf(name: string, result: LoadResult, cpu: { before: number | null; after: number | null; self: NodeJS.CpuUsage; others: number | null }): RoundRun {
  const bad = result.errors + result.timeouts + result.non2xx;
  if (bad > 0) throw new Error(`${name}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  const { before, after } = cpu;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    serverCpu: before === null || after === null ? null : (after - before) / result.duration,
    total: result.requests.total ?? 0,
    cpuPerRequestUs: before === null || after === null || !result.requests.total ? null : ((after - before) / result.requests.total) * 1e6,
    loadCpu: (cpu.self.user + cpu.self.system) / 1e6 / result.duration,
    others: cpu.others,
  };
}

const pct = (cores: number | null): string => (cores === null ? '?' : `${Math.round(cores * 100)}%`);

/** Rotated each round and reversed every other, so no target always runs first or last. */
export function rotatingOrder<T>(targets: readonly T[], round: number): T[] {
  const order = targets.map((_, i) => targets[(i + round) % targets.length]!);
  return round % 2 === 1 ? order.reverse() : order;
}

/**
 * The shared shape of an HTTP benchmark: wait for a quiet machine, warm every target up, then run
 * `rounds` timed rounds, keeping the quietest of up to three attempts of each run, and log each.
 *
 * @example
 * const { runs } = await runRounds({ targets, load, warmup: 2, duration: 10, rounds: 2, maxWaitMs: 60_000 });
 */
export async function runRounds<T extends { name: string }, R extends RoundRun>(options: {
  targets: readonly T[];
  load: (target: T, seconds: number) => Promise<R>;
  warmup: number;
  duration: number;
  rounds: number;
  maxWaitMs: number;
  order?: (targets: readonly T[], round: number) => T[];
}): Promise<{ runs: Map<string, R[]>; retries: number; quietBefore: number | null }> {
  const { targets, load, warmup, duration, rounds } = options;
  const order = options.order ?? rotatingOrder;
  const quietBefore = await waitForQuiet({ maxWaitMs: options.maxWaitMs });
  process.stderr.write(`warm-up ${warmup} s each…\n`);
  for (const target of targets) {
    const run = await load(target, warmup);
    process.stderr.write(`  warm-up ${target.name}: ${fmtInt(run.total)} requests\n`);
  }
  const runs = new Map<string, R[]>(targets.map((t) => [t.name, []]));
  let retries = 0;
  for (let round = 0; round < rounds; round++) {
    for (const target of order(targets, round)) {
      const kept = await quietest(`${target.name} round ${round + 1}`, 3, async () => {
        const value = await load(target, duration);
        return { value, others: value.others };
      });
      retries += kept.tries - 1;
      const run = kept.value;
      runs.get(target.name)!.push(run);
      process.stderr.write(
        `round ${round + 1}/${rounds} ${target.name}: ${fmtInt(run.rps)} req/s (${fmtInt(run.total)} requests), p50 ${run.p50} ms, p99 ${run.p99} ms, ` +
          `server CPU ${pct(run.serverCpu)} (${run.cpuPerRequestUs?.toFixed(1) ?? '?'} µs/req), autocannon CPU ${pct(run.loadCpu)}, other processes ${fmtCores(run.others)} cores\n`,
      );
    }
  }
  return { runs, retries, quietBefore };
}

/** The flags every HTTP load benchmark takes, with its quick and full defaults. */
export interface HttpBenchOptions {
  args: Map<string, string | true>;
  quick: boolean;
  duration: number;
  rounds: number;
  warmup: number;
  connections: number;
  profileDir: string | undefined;
  maxWaitMs: number;
}

/**
 * Parses `--quick --duration --rounds --warmup --connections --profile-dir --max-wait` plus the
 * benchmark's own flags (`extra`).
 *
 * @example
 * const { args, duration, rounds } = httpBenchOptions({ diagnose: 'flag' });
 */
export function httpBenchOptions(extra: Record<string, 'flag' | 'value'> = {}): HttpBenchOptions {
  const args = parseArgs(process.argv.slice(2), {
    quick: 'flag',
    duration: 'value',
    rounds: 'value',
    connections: 'value',
    warmup: 'value',
    'profile-dir': 'value',
    'max-wait': 'value',
    ...extra,
  });
  const quick = args.has('quick');
  const profileDir = args.get('profile-dir');
  return {
    args,
    quick,
    duration: numberArg(args, 'duration', quick ? 3 : 10),
    rounds: numberArg(args, 'rounds', quick ? 1 : 2),
    warmup: numberArg(args, 'warmup', quick ? 1 : 2),
    connections: Math.floor(numberArg(args, 'connections', 50)),
    profileDir: typeof profileDir === 'string' ? profileDir : undefined,
    maxWaitMs: numberArg(args, 'max-wait', quick ? 10 : 60) * 1000,
  };
}
