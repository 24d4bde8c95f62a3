/** The tenant, API and plain key (no rate limits, no credits) every HTTP benchmark server verifies. */
import { randomBytes } from 'node:crypto';
import type { RatelimitConfig } from '../../src/domain/keys/key.js';
import { SYSTEM_ACTOR } from '../../src/services/context.js';
import type { Keygate } from '../../src/services/keygate.js';

export const BENCH_API = 'https://api.bench';
export const BENCH_SCOPES = ['read:users'];

export interface BenchServerInfo {
  url: string;
  rootKey: string;
  credential: string;
  api: string;
  scopes: string[];
}

/** A random root key secret (Keygate requires at least 32 characters). */
export function benchRootKey(): string {
  return `kgbench_${randomBytes(24).toString('base64url')}`;
}

/** `ratelimits`: limits the key carries (so that verify consults the rate limiter: Redis when configured). */
export async function createBenchKey(keygate: Keygate, options: { ratelimits?: RatelimitConfig[] } = {}): Promise<string> {
  const tenant = await keygate.tenants.create(SYSTEM_ACTOR, { slug: 'bench', name: 'Bench' });
  await keygate.apis.create(SYSTEM_ACTOR, tenant, {
    identifier: BENCH_API,
    name: 'Bench',
    scopes: BENCH_SCOPES.map((name) => ({ name, description: name })),
  });
  const { secret } = await keygate.keys.create(SYSTEM_ACTOR, tenant, { api: BENCH_API, scopes: BENCH_SCOPES, ...options });
  return secret;
}

/** Stops on SIGTERM or when the parent closes our stdin (also when the parent dies). */
export function stopOnParentExit(stop: () => Promise<void>): void {
  let stopping = false;
  const once = (): void => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', once);
  process.stdin.on('end', once);
  process.stdin.resume();
}
