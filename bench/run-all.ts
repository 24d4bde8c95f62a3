/**
 * Runs every benchmark in sequence, each in its own process (so one's heap, JIT state and open
 * handles cannot colour the next), and streams their output.
 *
 *   npm run bench                 # full run: about 15 minutes (cold-verify seeds 1M keys per backend)
 *   npm run bench -- --quick      # smaller sizes and shorter durations, about two minutes
 *   npm run bench -- --only verify-in-process,cold-verify
 *
 * A missed target is reported by the benchmark, not turned into a failure; a benchmark that
 * crashes (or whose subject answered wrongly) makes this exit non-zero.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { machineNote, now, parseArgs } from './lib/common.js';

const BENCHMARKS = [
  'verify-in-process',
  'verify-http',
  'cold-verify',
  'token-endpoint',
  'jwt-verify',
  'introspection',
  'revocation-propagation',
  'revocation-push',
  'redis-outage',
  'refresh-grant',
  'authorization-code',
  'audit-denials',
  'gateway',
  'startup',
  'workers',
] as const;

const args = parseArgs(process.argv.slice(2), { quick: 'flag', only: 'value' });
const quick = args.has('quick');
const only = args.get('only');
const selected = typeof only === 'string' ? only.split(',') : [...BENCHMARKS];
for (const name of selected) {
  if (!(BENCHMARKS as readonly string[]).includes(name)) throw new Error(`--only: unknown benchmark "${name}"; known: ${BENCHMARKS.join(', ')}`);
}

console.log(`keygate benchmarks${quick ? ' (quick)' : ''}: ${selected.join(', ')}`);
console.log(machineNote());
const failed: string[] = [];
for (const name of selected) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  console.log(`\n== ${name}`);
  const t0 = now();
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' });
    child.once('exit', (c, signal) => resolve(signal ? 1 : c));
  });
  console.log(`== ${name}: ${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${((now() - t0) / 1000).toFixed(0)} s`);
  if (code !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
