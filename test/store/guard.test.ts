import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { StoreFailure } from '../../src/store/store-observer.js';
import type { Store } from '../../src/store/store.js';

const AGGREGATES = ['keys', 'directory', 'tokens', 'people', 'audit', 'analytics'] as const;

/** Calls that, given nothing to write (no field named, no usage counted), are answered without the database. */
const NOTHING_TO_WRITE = new Set(['directory.updateTenant', 'keys.recordUsage', 'analytics.add']);

/**
 * Stands for any argument: every property and call gives it back, and it iterates as empty, so a
 * method runs until it reaches the database.
 */
const anything: unknown = new Proxy(() => undefined, {
  get: (_target, property) => (property === Symbol.iterator ? () => [][Symbol.iterator]() : property === 'then' ? undefined : anything),
  apply: () => anything,
});

/**
 * Every method of every aggregate runs inside the store's one failure translation: a database
 * that is gone is STORE_UNAVAILABLE (503, never a raw driver error) and reaches the observer (the
 * `keygate_store_errors_total` metric). The translation is the same code on both backends; SQLite
 * is the one whose connection a test can take away in-process.
 */
describe('every store call is guarded', () => {
  const failures: StoreFailure[] = [];
  let dir: string;
  let store: Store;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keygate-guard-'));
    store = openSqliteStore({ file: join(dir, 'keygate.db'), observer: { onQuery: () => undefined, onFailure: (failure) => failures.push(failure) } });
    await store.migrate();
    await store.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const aggregate of AGGREGATES) {
    it(`store.${aggregate}: each method fails as STORE_UNAVAILABLE once its database is gone, and reports it`, async () => {
      const part = store[aggregate] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      const methods = Object.getOwnPropertyNames(Object.getPrototypeOf(part)).filter((name) => name !== 'constructor');
      expect(methods.length).toBeGreaterThan(2);
      for (const method of methods) {
        const before = failures.length;
        const outcome = await part[method]!(anything, anything, anything, anything, anything).then(
          () => 'resolved',
          (err: { code?: string }) => err.code,
        );
        if (NOTHING_TO_WRITE.has(`${aggregate}.${method}`)) continue;
        expect(outcome, method).toBe('STORE_UNAVAILABLE');
        expect(failures.slice(before), method).toEqual(['unavailable']);
      }
    });
  }

  it('the store\'s own lifecycle: each query fails as STORE_UNAVAILABLE once its database is gone, and reports it', async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ['ping', () => store.ping()],
      ['masterKeyCheck', () => store.masterKeyCheck()],
      ['saveMasterKeyCheck', () => store.saveMasterKeyCheck('sealed', 0)],
      ['isEmpty', () => store.isEmpty()],
      ['anySealedSigningKey', () => store.anySealedSigningKey()],
      ['pruneExpired', () => store.pruneExpired(0)],
    ];
    for (const [name, call] of calls) {
      const before = failures.length;
      await expect(call(), name).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      expect(failures.slice(before), name).toEqual(['unavailable']);
    }
  });
});
