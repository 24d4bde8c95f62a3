/**
 * Small helpers shared by the benchmarks: statistics, argument parsing, the machine note and
 * environment hygiene. Nothing here touches Keygate itself.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

export const now = (): number => performance.now();

/** The middle value; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0–100) of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : String(n);
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? n.toFixed(2) : String(n);
}

/** Milliseconds with µs resolution, e.g. "0.123 ms". */
export function fmtMs(ms: number): string {
  return `${ms.toFixed(3)} ms`;
}

/** One line describing where the figures came from; every benchmark prints it. */
export function machineNote(): string {
  const cpu = cpus();
  const model = cpu[0]?.model.trim() ?? 'unknown CPU';
  const load = loadavg().map((l) => l.toFixed(2)).join(' ');
  return `machine: node ${process.version}, ${cpu.length} CPU (${model}), ${process.platform}/${process.arch}, loadavg ${load}, ${new Date().toISOString()}`;
}

/** `--name value` and `--flag` arguments; unknown ones are an error so typos do not go unnoticed. */
export function parseArgs(argv: readonly string[], known: Record<string, 'flag' | 'value'>): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') ? arg.slice(2).split('=', 2) : [arg, undefined];
    const kind = name === undefined ? undefined : known[name];
    if (!arg.startsWith('--') || kind === undefined) {
      throw new Error(`unknown argument "${arg}"; known: ${Object.keys(known).map((k) => `--${k}`).join(' ')}`);
    }
    if (kind === 'flag') out.set(name!, true);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      out.set(name!, value);
    }
  }
  return out;
}

export function numberArg(args: Map<string, string | true>, name: string, fallback: number): number {
  const raw = args.get(name);
  if (raw === undefined || raw === true) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return n;
}

/**
 * The benchmarks choose their store explicitly; a DATABASE_URL or REDIS_URL left in the shell
 * must not silently switch the backend under test (Keygate reads both from the environment).
 */
export function isolateEnv(): void {
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'KEYGATE_ROOT_KEY', 'KEYGATE_CACHE_TTL_MS', 'KEYGATE_CACHE_MAX_ENTRIES', 'KEYGATE_DATA_DIR']) {
    delete process.env[name];
  }
}

/** A sink the optimiser cannot prove unused. */
export let blackhole = 0;
export function consume(value: number): void {
  blackhole = (blackhole + value) | 0;
}

export const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The URL of database `name` on the same server as PG_ADMIN_URL. */
export function pgUrlFor(name: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CPU seconds the whole machine has been busy (all cores, /proc/stat), or null off Linux. */
export function systemBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user! + nice! + system! + irq! + softirq! + steal!) / 100;
  } catch {
    return null;
  }
}

/**
 * How much CPU other processes used while a measurement ran: machine busy time minus the CPU
 * time of the processes we account for, per wall second (in cores). A shared machine's noise,
 * printed next to the figures it may have distorted.
 */
export class NoiseMeter {
  private readonly wall0 = now();
  private readonly busy0 = systemBusySeconds();
  private readonly own0: number[];

  constructor(private readonly own: Array<() => number | null>) {
    this.own0 = own.map((f) => f() ?? 0);
  }

  /** Cores used by everything else, averaged over the interval; null where unknown. */
  othersCores(): number | null {
    const busy1 = systemBusySeconds();
    if (this.busy0 === null || busy1 === null) return null;
    const ownSeconds = this.own.reduce((sum, f, i) => sum + ((f() ?? 0) - this.own0[i]!), 0);
    const wall = (now() - this.wall0) / 1000;
    return Math.max(0, (busy1 - this.busy0 - ownSeconds) / wall);
  }
}

/** This process's CPU seconds so far. */
export const selfCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/**
 * Waits (bounded) for a quiet moment: a 1 s window in which processes other than this one use
 * under `maxCores` cores. Returns what the last window measured, for the report.
 */
export async function waitForQuiet(options: { maxWaitMs: number; maxCores?: number }): Promise<number | null> {
  const limit = options.maxCores ?? 0.25;
  const deadline = now() + options.maxWaitMs;
  let last: number | null = null;
  for (let i = 0; i < 1000; i++) {
    const meter = new NoiseMeter([selfCpuSeconds]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    last = meter.othersCores();
    if (last === null || last < limit) return last;
    if (now() >= deadline) break;
    process.stderr.write(`  waiting for a quiet machine: other processes use ${last.toFixed(2)} cores\n`);
  }
  process.stderr.write(`  machine still busy (${last?.toFixed(2)} cores used by others); measuring anyway\n`);
  return last;
}

export function fmtCores(cores: number | null): string {
  return cores === null ? '?' : cores.toFixed(2);
}

/** One process as /proc/<pid>/stat describes it: its parent, command name and CPU seconds so far. */
interface ProcStat {
  pid: number;
  ppid: number;
  name: string;
  cpuSeconds: number;
}

/** Every process of the machine, or null off Linux. */
function procStats(): ProcStat[] | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  const stats: ProcStat[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    // Fields after the ")" of the command name: state, ppid, …; utime is the 14th field, stime the 15th.
    const fields = stat.slice(close + 2).split(' ');
    stats.push({ pid: Number(entry), ppid: Number(fields[1]), name: stat.slice(open + 1, close), cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100 });
  }
  return stats;
}

/** CPU seconds used so far by every process whose command name is `name` (e.g. "postgres"). */
export function processesCpuSeconds(name: string): number | null {
  const stats = procStats();
  return stats === null ? null : stats.filter((p) => p.name === name).reduce((sum, p) => sum + p.cpuSeconds, 0);
}

/**
 * CPU seconds used so far by process `root` and every process below it: a server's cluster
 * workers, a Redis it started. Null off Linux or once `root` has exited.
 */
export function treeCpuSeconds(root: number): number | null {
  const stats = procStats();
  if (stats === null || !stats.some((p) => p.pid === root)) return null;
  const below = new Set([root]);
  let total = 0;
  // Parents are listed before their children only mostly (pids wrap): repeat until nothing is added.
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of stats) {
      if (below.has(p.pid) || !below.has(p.ppid)) continue;
      below.add(p.pid);
      grew = true;
    }
  }
  for (const p of stats) if (below.has(p.pid)) total += p.cpuSeconds;
  return total;
}

/** Noise above which a measurement is repeated (cores used by other processes). */
export const NOISY_CORES = 0.3;

/**
 * Runs a measurement up to `attempts` times until other processes stayed under NOISY_CORES
 * during it, and returns the quietest attempt. The shared machine's neighbours come and go;
 * a bounded retry keeps their bursts out of the figures without hiding them (the noise of the
 * kept attempt is reported with it).
 */
export async function quietest<T>(
  label: string,
  attempts: number,
  measure: () => Promise<{ value: T; others: number | null }>,
): Promise<{ value: T; others: number | null; tries: number }> {
  let best: { value: T; others: number | null } | null = null;
  let tries = 0;
  for (let i = 0; i < attempts; i++) {
    tries++;
    const result = await measure();
    if (best === null || (result.others ?? 0) < (best.others ?? 0)) best = result;
    if (result.others === null || result.others < NOISY_CORES) break;
    if (i + 1 < attempts) process.stderr.write(`  ${label}: other processes used ${result.others.toFixed(2)} cores; measuring again\n`);
  }
  return { ...best!, tries };
}
