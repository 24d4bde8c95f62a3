/**
 * Prints the top frames of a V8 .cpuprofile (from `node --cpu-prof`) by self time and by total
 * time, so a missed target can be explained without a GUI.
 *
 *   tsx bench/lib/profile-top.ts <file.cpuprofile> [--top 25] [--filter substring] [--under functionName] [--per N]
 *
 * `--under verify` counts only samples with a frame of that function name on the stack, so the
 * percentages are shares of that function's inclusive time. `--per N` adds a column of µs per
 * unit, e.g. per request when N is the number of requests the profiled server answered.
 */
import { readFileSync } from 'node:fs';
import { numberArg, parseArgs } from './common.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
  startTime: number;
  endTime: number;
}

const [file, ...rest] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-top <file.cpuprofile> [--top N] [--filter text]');
const args = parseArgs(rest, { top: 'value', filter: 'value', under: 'value', per: 'value' });
const top = numberArg(args, 'top', 25);
const filter = args.get('filter');
const under = args.get('under');
const per = args.has('per') ? numberArg(args, 'per', 1) : null;

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Self time per node from samples × time deltas (more exact than hitCount alone).
const selfUs = new Map<number, number>();
const samples = profile.samples ?? [];
const deltas = profile.timeDeltas ?? [];
const onStack = (id: number, name: string): boolean => {
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    if (byId.get(cur)!.callFrame.functionName === name) return true;
  }
  return false;
};
for (let i = 0; i < samples.length; i++) {
  const id = samples[i]!;
  if (typeof under === 'string' && !onStack(id, under)) continue;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i + 1] ?? deltas[i] ?? 0));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);

const label = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map<string, number>();
const total = new Map<string, number>();
for (const [id, us] of selfUs) {
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  // Inclusive time: credit every distinct frame on the stack once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + us);
  }
}

const print = (title: string, map: Map<string, number>): void => {
  const scope = typeof under === 'string' ? ` under ${under}()` : '';
  console.log(`${title}${scope} (of ${(totalUs / 1000).toFixed(0)} ms sampled)`);
  const rows = [...map].filter(([l]) => (typeof filter === 'string' ? l.includes(filter) : true)).sort((a, b) => b[1] - a[1]);
  for (const [l, us] of rows.slice(0, top)) {
    const unit = per === null ? '' : `${(us / per).toFixed(2).padStart(8)} µs/unit`;
    console.log(`  ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(1).padStart(8)} ms${unit}  ${l}`);
  }
};
print('self time', self);
print('total time', total);
