/**
 * Audit rows written per 100k denied verifications, before and after denials were aggregated
 * (issue 8, item 7): the same load, run in-process against this checkout and against the
 * baseline commit's checkout (a git worktree), each in its own child process over a fresh SQLite
 * store.
 *
 *   tsx bench/audit-denials.ts [--quick] [--denials 100000] [--keys 10] [--before <checkout>] [--before-commit 4ee62be]
 *
 * The load is what filled the database in the issue: keys over their rate limit, verified as
 * fast as one process can. Without `--before`, a temporary worktree of `--before-commit` is made
 * (node_modules linked) and removed afterwards. Printed per subject: rows written, scaled to 100k
 * denials; the database's size after close; denials per second. The ratio is rows before / rows after.
 * Target: at most one row per key, reason and minute after (so ≤ keys × minutes spanned).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { fmtCores, fmtInt, fmtRatio, isolateEnv, machineNote, NoiseMeter, now, numberArg, parseArgs, selfCpuSeconds } from './lib/common.js';

interface Measured {
  denials: number;
  deniedRows: number;
  /** Occurrences the denied rows stand for (their counts; one per row before aggregation). */
  covered: number;
  /** The database file after close (the WAL checkpointed into it): same setup, so the difference is the denials. */
  bytes: number;
  seconds: number;
  minutes: number;
  /** Cores other processes used while the load ran. */
  others: number | null;
}

const HERE = fileURLToPath(new URL('..', import.meta.url));
const args = parseArgs(process.argv.slice(2), { quick: 'flag', denials: 'value', keys: 'value', before: 'value', 'before-commit': 'value', measure: 'value' });
const quick = args.has('quick');
const denials = numberArg(args, 'denials', quick ? 20_000 : 100_000);
const keyCount = numberArg(args, 'keys', 10);

isolateEnv();
const measureRoot = args.get('measure');
if (typeof measureRoot === 'string') {
  process.stdout.write(`${JSON.stringify(await measure(measureRoot))}\n`);
} else {
  await compare();
}

/** One subject: Keygate from `root` (a checkout), `denials` refused verifies, rows counted after. */
async function measure(root: string): Promise<Measured> {
  const { createKeygate } = (await import(pathToFileURL(join(root, 'src/services/keygate.ts')).href)) as typeof import('../src/services/keygate.js');
  const actor = { id: 'system', requestId: null, ip: null };
  const dir = mkdtempSync(join(tmpdir(), 'kg-bench-audit-'));
  try {
    const kg = await createKeygate({ config: { dataDir: dir } });
    const tenant = await kg.tenants.create(actor, { slug: 'bench', name: 'Bench' });
    await kg.apis.create(actor, tenant, { identifier: 'https://api.bench', name: 'Bench', scopes: [{ name: 'read:users', description: 'Read users' }] });
    const secrets: string[] = [];
    for (let i = 0; i < keyCount; i++) {
      const issued = await kg.keys.create(actor, tenant, { api: 'https://api.bench', scopes: ['read:users'], ratelimits: [{ name: 'hourly', limit: 1, duration: 3_600_000 }] });
      secrets.push(issued.secret);
      // The one allowed request: every verify after it is RATE_LIMITED.
      if (!(await kg.verify({ credential: issued.secret, api: 'https://api.bench' })).valid) throw new Error('setup: a fresh key does not verify');
    }
    await kg.flush();
    const file = join(dir, 'keygate.db');
    const sizeOf = (): number => [file, `${file}-wal`].reduce((sum, f) => sum + (existsSync(f) ? statSync(f).size : 0), 0);
    const meter = new NoiseMeter([selfCpuSeconds]);
    const t0 = now();
    const started = Date.now();
    for (let i = 0; i < denials; i++) {
      const result = await kg.verify({ credential: secrets[i % keyCount]!, api: 'https://api.bench' }, { requestId: `req-${i}` });
      if (result.code !== 'RATE_LIMITED') throw new Error(`expected RATE_LIMITED, got ${result.code}`);
    }
    await kg.flush();
    const seconds = (now() - t0) / 1000;
    const others = meter.othersCores();
    const minutes = Math.floor(Date.now() / 60_000) - Math.floor(started / 60_000) + 1;
    await kg.close();
    const db = new Database(file, { readonly: true });
    const columns = (db.prepare('pragma table_info(audit_events)').all() as { name: string }[]).map((c) => c.name);
    const counted = columns.includes('count') ? 'sum(count)' : 'count(*)';
    const row = db.prepare(`select count(*) as rows, ${counted} as covered from audit_events where action = 'key.verify.denied'`).get() as { rows: number; covered: number };
    db.close();
    return { denials, deniedRows: row.rows, covered: Number(row.covered), bytes: sizeOf(), seconds, minutes, others };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs both subjects in child processes and prints the comparison. */
async function compare(): Promise<void> {
  const commit = String(args.get('before-commit') ?? '4ee62be');
  const given = args.get('before');
  let before = typeof given === 'string' ? resolve(given) : null;
  let made: string | null = null;
  if (before === null) {
    made = join(mkdtempSync(join(tmpdir(), 'kg-bench-audit-before-')), 'checkout');
    execFileSync('git', ['-C', HERE, 'worktree', 'add', '--detach', made, commit], { stdio: 'ignore' });
    symlinkSync(join(HERE, 'node_modules'), join(made, 'node_modules'));
    before = made;
  }
  try {
    const script = fileURLToPath(import.meta.url);
    // A child per subject: the two Keygate versions must not share a module graph or a heap.
    const run = (root: string): Measured => {
      const forward = ['--measure', root, '--denials', String(denials), '--keys', String(keyCount)];
      const out = execFileSync(process.execPath, ['--import', 'tsx', script, ...forward], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').pop()!) as Measured;
    };
    const old = run(before);
    const current = run(HERE);
    for (const [name, m] of [['before', old], ['after', current]] as const) {
      if (m.covered !== m.denials) throw new Error(`${name}: the audit log accounts for ${m.covered} of ${m.denials} denials`);
    }
    const per100k = (m: Measured): number => (m.deniedRows * 100_000) / m.denials;
    console.log(machineNote());
    console.log(`audit-denials: ${fmtInt(denials)} RATE_LIMITED verifies over ${keyCount} keys, in process, SQLite`);
    console.log(`  before (${commit}${made ? ', temporary worktree' : `, ${before}`}) vs after (this checkout)`);
    for (const [name, m] of [['before', old], ['after', current]] as const) {
      console.log(
        `  ${name.padEnd(6)} rows ${fmtInt(m.deniedRows).padStart(8)}   per 100k denials ${fmtInt(per100k(m)).padStart(8)}   ` +
          `db ${fmtInt(m.bytes / 1024).padStart(7)} KiB   ${fmtInt(m.denials / m.seconds).padStart(7)} denials/s   minutes spanned ${m.minutes}   noise ${fmtCores(m.others)} cores`,
      );
    }
    console.log(`  ratio rows before / after: ${fmtRatio(old.deniedRows / current.deniedRows)}`);
    const bound = keyCount * current.minutes;
    console.log(`  target: after ≤ keys × minutes spanned = ${bound}: ${current.deniedRows <= bound ? 'met' : 'MISSED'}`);
  } finally {
    if (made !== null) execFileSync('git', ['-C', HERE, 'worktree', 'remove', '--force', made], { stdio: 'ignore' });
  }
}
