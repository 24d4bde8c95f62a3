/**
 * Start-up and idle footprint (issue 13, target 5): `node dist/cli/main.js start`, what
 * `npm start` runs, on SQLite, with a fresh data directory (migrations, master key, the
 * bootstrap root key) and with an existing one, against floors started the same way:
 *
 * - `fastify`: a bare Fastify 5 server with one route (bench/servers/fastify-start-floor.mjs);
 * - `fastify+sqlite`: the same opening a better-sqlite3 database in a fresh directory.
 *
 *   tsx bench/startup.ts [--quick] [--rounds 7] [--settle 4] [--npm] [--dist DIR] [--before DIR] [--profile-dir DIR] [--max-wait 30]
 *
 * Each start is measured from the spawn to the first 200 on `GET /healthz` (polled every 5 ms on
 * a new connection), with the child's CPU time at that moment (from /proc, 10 ms ticks: CPU time
 * is what a busy shared machine distorts least); then, after `--settle` seconds without a request,
 * its resident set (VmRSS). For Keygate, the first request to each surface that loads its code
 * on demand follows (its latency, and the RSS once every one was served). Every round starts each
 * subject once, the order rotating; figures are medians over rounds, ratios those of the medians.
 * `--npm` also times `npm start` itself (npm's own start-up comes on top of Keygate's).
 * It runs the build in dist/ (`npm run build` first: a dist older than src/ is refused), or the
 * one in `--dist DIR`; `--before DIR` adds a second build to the same rounds (an earlier commit's,
 * e.g. `git archive <commit> | tar -x -C DIR`, built inside the repository so that it finds
 * node_modules), for a before/after measured on the same machine at the same time.
 * Targets: Keygate ≤ 500 ms to a healthy /healthz and ≤ 80 MB RSS idle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmtCores, isolateEnv, machineNote, median, NoiseMeter, now, numberArg, parseArgs, selfCpuSeconds, waitForQuiet } from './lib/common.js';
import { rotatingOrder } from './lib/rounds.js';

const TARGET_MS = 500;
const TARGET_MB = 80;

const args = parseArgs(process.argv.slice(2), {
  quick: 'flag',
  rounds: 'value',
  settle: 'value',
  npm: 'flag',
  dist: 'value',
  before: 'value',
  'profile-dir': 'value',
  'max-wait': 'value',
});
const quick = args.has('quick');
const rounds = numberArg(args, 'rounds', quick ? 3 : 7);
const settleMs = numberArg(args, 'settle', quick ? 2 : 4) * 1000;
const withNpm = args.has('npm');
const profileDir = args.get('profile-dir');
const maxWaitMs = numberArg(args, 'max-wait', quick ? 10 : 30) * 1000;

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = resolve(stringArg('dist') ?? join(root, 'dist'));
const before = stringArg('before');
const FLOOR = fileURLToPath(new URL('./servers/fastify-start-floor.mjs', import.meta.url));

/** One subject: how to start it in a data directory prepared by `dataDir`. */
interface Subject {
  name: string;
  description: string;
  /** The Keygate build it starts, or null for a floor. */
  build: string | null;
  dataDir: () => string;
  command: (dir: string) => { file: string; argv: string[] };
}

interface Start {
  readyMs: number;
  cpuMs: number | null;
  rssMb: number | null;
  /** Keygate only: the first request to each lazily loaded surface, in ms, and the RSS after them all. */
  surfaces?: Record<string, number>;
  rssAfterSurfacesMb?: number | null;
  others: number | null;
}

if (dist === join(root, 'dist')) assertFreshBuild();
isolateEnv();
const scratch = mkdtempSync(join(tmpdir(), 'keygate-startup-'));
const freshDir = (): string => mkdtempSync(join(scratch, 'fresh-'));
/** Each build's existing data directory, and the bootstrap root key its first start printed. */
const existing = new Map<string, { dir: string; rootKey: string | null }>();

const builds = [{ label: '', dir: dist }, ...(typeof before === 'string' ? [{ label: ' (before)', dir: resolve(before) }] : [])];
const subjects: Subject[] = [
  { name: 'fastify', description: 'bare Fastify, one route', build: null, dataDir: () => scratch, command: () => ({ file: FLOOR, argv: [] }) },
  { name: 'fastify+sqlite', description: 'bare Fastify + better-sqlite3 (fresh file)', build: null, dataDir: freshDir, command: (dir) => ({ file: FLOOR, argv: ['--sqlite', dir] }) },
  ...builds.flatMap(({ label, dir }): Subject[] => {
    const main = { file: join(dir, 'cli/main.js'), argv: ['start'] };
    existing.set(dir, { dir: join(scratch, `existing-${existing.size}`), rootKey: null });
    return [
      { name: `keygate fresh${label}`, description: `keygate start${label}, fresh data directory`, build: dir, dataDir: freshDir, command: () => main },
      { name: `keygate existing${label}`, description: `keygate start${label}, existing data directory`, build: dir, dataDir: () => existing.get(dir)!.dir, command: () => main },
    ];
  }),
];

console.log(`startup${quick ? ' (quick)' : ''}: ${rounds} rounds, ${settleMs / 1000} s settle before RSS is read`);
console.log(machineNote());
try {
  // Each build's existing data directory: one start, whose bootstrap root key the surfaces' requests use.
  for (const subject of subjects.filter((s) => s.name.startsWith('keygate existing'))) {
    const prepared = await startOnce(subject, { keepOutput: true });
    const rootKey = /kgroot_[A-Za-z0-9_-]+/.exec(prepared.output)?.[0] ?? null;
    if (rootKey === null) throw new Error(`${subject.name}: the first start printed no bootstrap root key`);
    existing.get(subject.build!)!.rootKey = rootKey;
  }
  const quietBefore = await waitForQuiet({ maxWaitMs });
  const runs = new Map<string, Start[]>(subjects.map((s) => [s.name, []]));
  const npmRuns: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const subject of rotatingOrder(subjects, round)) {
      const { start } = await startOnce(subject, { keepOutput: false, round });
      runs.get(subject.name)!.push(start);
      process.stderr.write(`  round ${round + 1} ${subject.name}: ${start.readyMs.toFixed(0)} ms, ${start.cpuMs ?? '?'} ms CPU, ${start.rssMb?.toFixed(1) ?? '?'} MB (others ${fmtCores(start.others)} cores)\n`);
    }
    if (withNpm) npmRuns.push(await timeNpmStart());
  }
  report(runs, npmRuns, quietBefore);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

function report(runs: Map<string, Start[]>, npmRuns: number[], quietBefore: number | null): void {
  const med = (name: string, pick: (s: Start) => number | null | undefined): number => {
    const values = runs.get(name)!.map(pick).filter((v): v is number => typeof v === 'number');
    return values.length === 0 ? Number.NaN : median(values);
  };
  console.log(`\nmachine quiet before: other processes ${fmtCores(quietBefore)} cores`);
  console.log('\n| subject | to a 200 on /healthz | CPU at that moment | RSS idle | others (cores) |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const s of subjects) {
    console.log(`| ${s.description} | ${med(s.name, (r) => r.readyMs).toFixed(0)} ms | ${med(s.name, (r) => r.cpuMs).toFixed(0)} ms | ${med(s.name, (r) => r.rssMb).toFixed(1)} MB | ${med(s.name, (r) => r.others).toFixed(2)} |`);
  }
  const floorMs = med('fastify', (r) => r.readyMs);
  const floorCpu = med('fastify', (r) => r.cpuMs);
  const floorMb = med('fastify', (r) => r.rssMb);
  const sqliteMs = med('fastify+sqlite', (r) => r.readyMs);
  const sqliteMb = med('fastify+sqlite', (r) => r.rssMb);
  console.log('');
  for (const name of subjects.filter((s) => s.build !== null).map((s) => s.name)) {
    const ms = med(name, (r) => r.readyMs);
    const cpu = med(name, (r) => r.cpuMs);
    const mb = med(name, (r) => r.rssMb);
    console.log(
      `${name}: ${ms.toFixed(0)} ms (${(ms / floorMs).toFixed(2)}× bare Fastify, ${(ms / sqliteMs).toFixed(2)}× Fastify+SQLite; CPU ${(cpu / floorCpu).toFixed(2)}×), ` +
        `${mb.toFixed(1)} MB (${(mb / floorMb).toFixed(2)}×, ${(mb / sqliteMb).toFixed(2)}×): ` +
        `start ${ms <= TARGET_MS ? 'meets' : 'misses'} ≤ ${TARGET_MS} ms, RSS ${mb <= TARGET_MB ? 'meets' : 'misses'} ≤ ${TARGET_MB} MB`,
    );
  }
  for (const subject of subjects.filter((s) => s.name.startsWith('keygate existing'))) {
    const surfaceNames = Object.keys(runs.get(subject.name)![0]?.surfaces ?? {});
    console.log(`\nfirst request to each surface after an idle start (${subject.description}, medians):`);
    for (const surface of surfaceNames) console.log(`  ${surface}: ${med(subject.name, (r) => r.surfaces?.[surface]).toFixed(1)} ms`);
    console.log(`  RSS once all were served: ${med(subject.name, (r) => r.rssAfterSurfacesMb).toFixed(1)} MB`);
  }
  if (npmRuns.length > 0) console.log(`\nnpm start (fresh data directory) to a 200 on /healthz: ${median(npmRuns).toFixed(0)} ms (npm's own start-up included)`);
}

async function startOnce(subject: Subject, options: { keepOutput: boolean; round?: number }): Promise<{ start: Start; output: string }> {
  const dir = subject.dataDir();
  const port = await freePort();
  const { file, argv } = subject.command(dir);
  const nodeArgs = typeof profileDir === 'string' && options.round !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, subject.name.replace(/\W+/g, '-'))}`] : [];
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', KEYGATE_DATA_DIR: dir, LOG_FORMAT: 'json' };
  const meter = new NoiseMeter([selfCpuSeconds]);
  const t0 = now();
  const child = spawn(process.execPath, [...nodeArgs, file, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (options.keepOutput || output.length < 64 * 1024) output += chunk.toString();
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await untilHealthy(child, port, () => output);
    const readyMs = now() - t0;
    const cpuMs = cpuMsOf(child.pid!);
    const others = meter.othersCores();
    await sleep(settleMs);
    const start: Start = { readyMs, cpuMs, rssMb: rssMbOf(child.pid!), others };
    const rootKey = subject.build === null ? null : existing.get(subject.build)!.rootKey;
    if (rootKey !== null && subject.name.startsWith('keygate existing') && options.round !== undefined) {
      start.surfaces = await firstRequests(port, rootKey);
      start.rssAfterSurfacesMb = rssMbOf(child.pid!);
    }
    return { start, output };
  } finally {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    if (subject.dataDir === freshDir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The first request to each surface Keygate may load on demand, in ms; each must answer as it always does. */
async function firstRequests(port: number, rootKey: string): Promise<Record<string, number>> {
  const bearer = { authorization: `Bearer ${rootKey}` };
  const checks: Array<[string, string, string, Record<string, string>, string | null, number]> = [
    ['POST /v1/verify', 'POST', '/v1/verify', { ...bearer, 'content-type': 'application/json' }, JSON.stringify({ credential: 'kg_not_a_key', api: 'https://api.example' }), 200],
    ['GET /v1/tenants', 'GET', '/v1/tenants', bearer, null, 200],
    ['GET /metrics', 'GET', '/metrics', bearer, null, 200],
    ['GET /openapi.json', 'GET', '/openapi.json', {}, null, 200],
    ['GET /docs/', 'GET', '/docs/', {}, null, 200],
    ['GET /console/login', 'GET', '/console/login', {}, null, 200],
  ];
  const out: Record<string, number> = {};
  for (const [label, method, path, headers, body, status] of checks) {
    const t0 = now();
    const got = await httpStatus(port, method, path, headers, body);
    out[label] = now() - t0;
    if (got !== status) throw new Error(`${label} answered ${got}, expected ${status}`);
  }
  return out;
}

async function timeNpmStart(): Promise<number> {
  const dir = freshDir();
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', KEYGATE_DATA_DIR: dir, LOG_FORMAT: 'json' };
  const t0 = now();
  const child = spawn('npm', ['start', '--silent'], { cwd: root, env, stdio: 'ignore', detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await untilHealthy(child, port, () => '');
    return now() - t0;
  } finally {
    // npm runs the server in a shell of its own: end the whole group it leads.
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function untilHealthy(child: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = now() + 30_000;
  while (now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${output()}`);
    if ((await httpStatus(port, 'GET', '/healthz', {}, null).catch(() => 0)) === 200) return;
    await sleep(5);
  }
  throw new Error(`no 200 on /healthz within 30 s:\n${output()}`);
}

function httpStatus(port: number, method: string, path: string, headers: Record<string, string>, body: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('error', reject);
    req.end(body ?? undefined);
  });
}

/** The child's CPU time (user + system) so far, from /proc (10 ms ticks), or null off Linux. */
function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

function rssMbOf(pid: number): number | null {
  try {
    const line = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

function stringArg(name: string): string | undefined {
  const value = args.get(name);
  return typeof value === 'string' ? value : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The benchmark measures dist/: refuse one older than the sources it was built from. */
function assertFreshBuild(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
      const path = join(dir, entry.name);
      return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
    }, 0);
  try {
    statSync(join(dist, 'cli/main.js'));
  } catch {
    throw new Error(`${dist}/cli/main.js is missing: run npm run build first`);
  }
  if (newest(join(root, 'src')) > newest(dist)) throw new Error('dist/ is older than src/: run npm run build first');
}
