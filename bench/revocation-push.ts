/**
 * How soon a JWT revoked on one Keygate instance is refused by another: pushed through Redis
 * against the poll-only path (no Redis: the revocation feed read every `--poll-ms`), both
 * measured on the same revocations in the same run.
 *
 *   tsx bench/revocation-push.ts [--quick] [--trials 200] [--poll-ms 1000] [--probe-ms 1]
 *
 * Three in-process instances on one fresh PostgreSQL database: A revokes; B shares A's Redis
 * (revocations are announced on the bus, and B reads the feed at once); C has no Redis, so it
 * sees A's revocations only when its poll reads the feed. Each trial: A mints a JWT API key, B
 * and C verify it (VALID, so both hold the tenant's revocations in memory), a random pause of
 * 0–poll ms spreads the revocation over the phase of C's poll (as steady traffic would), A
 * revokes it, then B and C verify it every `--probe-ms` until each answers REVOKED. The delay is
 * from A's revoke returning to the first REVOKED; up to `--probe-ms` (plus timer slack) of it is
 * sampling. Probing without a pause would keep a core busy and slow the very Redis and PostgreSQL
 * round trips being measured.
 *
 * All three share one process and event loop, so the figures include the other instances'
 * work; the Redis and PostgreSQL round trips are real (127.0.0.1). Every wait is bounded:
 * 10 × poll per trial, and --trials (at most 1000).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../src/config/schema.js';
import type { Tenant } from '../src/domain/tenants.js';
import { SYSTEM_ACTOR } from '../src/services/context.js';
import { createKeygate, type Keygate } from '../src/services/keygate.js';
import { fmtRatio, machineNote, now, numberArg, parseArgs, PG_ADMIN_URL, percentile, pgUrlFor } from './lib/common.js';
import { createPostgresDatabase } from './seed.js';

const args = parseArgs(process.argv.slice(2), { quick: 'flag', trials: 'value', 'poll-ms': 'value', 'probe-ms': 'value' });
const quick = args.has('quick');
const trials = Math.min(numberArg(args, 'trials', quick ? 40 : 200), 1000);
const pollMs = numberArg(args, 'poll-ms', 1000);
const probeMs = numberArg(args, 'probe-ms', 1);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const API = 'https://api.push.bench';

const database = await createPostgresDatabase(PG_ADMIN_URL, pgUrlFor);
const instances: Keygate[] = [];
try {
  const shared: Partial<Config> = { databaseUrl: database.url, masterKey: randomBytes(32).toString('hex'), revocationPollMs: pollMs, rootKey: undefined };
  const open = async (redisUrl: string | undefined): Promise<Keygate> => {
    const keygate = await createKeygate({ config: { ...shared, redisUrl } });
    instances.push(keygate);
    return keygate;
  };
  const a = await open(REDIS_URL);
  const pushed = await open(REDIS_URL);
  const polled = await open(undefined);
  const tenant: Tenant = await a.tenants.create(SYSTEM_ACTOR, { slug: 'push-bench', name: 'Push bench' });
  await a.apis.create(SYSTEM_ACTOR, tenant, { identifier: API, name: 'API', scopes: [{ name: 'read:users', description: 'r' }] });

  const verify = async (keygate: Keygate, token: string): Promise<string> => (await keygate.verify({ credential: token, api: API })).code;
  const delays = { pushed: [] as number[], polled: [] as number[] };
  let rounds = 0;
  for (let i = 0; i < trials; i++) {
    const { record, token } = await a.tokens.issueApiKeyToken(SYSTEM_ACTOR, tenant, { api: API, consumer: 'bench', scopes: ['read:users'] });
    for (const keygate of [pushed, polled]) {
      const code = await verify(keygate, token);
      if (code !== 'VALID') throw new Error(`trial ${i + 1}: a fresh token was ${code}`);
    }
    await sleep(Math.random() * pollMs);
    if (!(await a.revocations.revokeToken(SYSTEM_ACTOR, tenant, record.jti))) throw new Error(`trial ${i + 1}: A did not record the revocation`);
    const revokedAt = now();
    const seen: { pushed: number | null; polled: number | null } = { pushed: null, polled: null };
    while ((seen.pushed === null || seen.polled === null) && now() - revokedAt < 10 * pollMs) {
      rounds++;
      for (const [name, keygate] of [['pushed', pushed], ['polled', polled]] as const) {
        if (seen[name] === null && (await verify(keygate, token)) === 'REVOKED') seen[name] = now() - revokedAt;
      }
      // A timer, not a microtask: the bus message and the feed reads must get their turn.
      await sleep(probeMs);
    }
    if (seen.pushed === null || seen.polled === null) throw new Error(`trial ${i + 1}: still accepted ${10 * pollMs} ms after the revocation (${JSON.stringify(seen)})`);
    delays.pushed.push(seen.pushed);
    delays.polled.push(seen.polled);
    process.stderr.write(`  ${i + 1}/${trials}: pushed ${seen.pushed.toFixed(2)} ms, polled ${seen.polled.toFixed(1)} ms\n`);
  }

  const line = (values: number[]): string =>
    `p50 ${percentile(values, 50).toFixed(2)} ms, p99 ${percentile(values, 99).toFixed(2)} ms, max ${Math.max(...values).toFixed(2)} ms, min ${Math.min(...values).toFixed(2)} ms`;
  console.log(`revocation-push: JWT revoked on instance A → first REVOKED on another instance, ${trials} revocations, one PostgreSQL`);
  console.log(`  pushed (B shares A's Redis):                     ${line(delays.pushed)}`);
  console.log(`  baseline poll-only (C, no Redis, poll ${pollMs} ms): ${line(delays.polled)}`);
  console.log(
    `  poll-only / pushed: ${fmtRatio(percentile(delays.polled, 50) / percentile(delays.pushed, 50))}× at p50, ` +
      `${fmtRatio(percentile(delays.polled, 99) / percentile(delays.pushed, 99))}× at p99; ${rounds} probe rounds, one every ${probeMs} ms`,
  );
  const p99 = percentile(delays.pushed, 99);
  console.log(`  target: every revocation visible on every instance within 100 ms p99: ${p99 <= 100 ? 'MET' : 'MISSED'} (pushed p99 ${p99.toFixed(2)} ms)`);
  console.log(`  ${machineNote()}`);
} finally {
  for (const keygate of instances) await keygate.close();
  await database.drop();
}
