import type { Config } from '../../src/config/schema.js';
import { createKeygate, type Keygate } from '../../src/server.js';
import type { VerifyRequest } from '../../src/services/verify-service.js';
import { REDIS_URL, createBackend, type Backend } from './backends.js';

/** Two Keygate instances sharing one PostgreSQL database and Redis, as in a scale-out deployment. */
export interface TwoInstances {
  a: Keygate;
  b: Keygate;
  close(): Promise<void>;
}

/** `config` adds settings both instances share (e.g. a long `revocationPollMs`, to prove the push path). */
export async function startTwoInstances(options: { config?: Partial<Config> } = {}): Promise<TwoInstances> {
  const backend: Backend = await createBackend('postgres');
  // Tests assert exact shared counts: on a loaded CI machine a Redis reply a little over the 50 ms
  // default would send a request to the per-instance fallback, so these instances wait longer.
  const config = { ...backend.config, redisUrl: REDIS_URL, redisTimeoutMs: 500, ...options.config };
  const a = await createKeygate({ config });
  const b = await createKeygate({ config });
  return {
    a,
    b,
    async close() {
      await Promise.all([a.close(), b.close()]);
      await backend.destroy();
    },
  };
}

/**
 * Verifies on `instance` until it answers `code` (an invalidation crosses Redis pub/sub
 * asynchronously), at most 100 times; returns the last code.
 */
export async function verifyUntil(instance: Keygate, request: VerifyRequest, code: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 100 && last !== code; i++) {
    last = (await instance.verify(request)).code;
    if (last !== code) await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return last;
}
