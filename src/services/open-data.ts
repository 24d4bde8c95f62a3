import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';
import { MASTER_KEY_FILE, loadMasterKey, saveMasterKey } from '../crypto/master-key.js';
import { openStore } from '../store/open-store.js';
import type { StoreObserver } from '../store/store-observer.js';
import type { Store } from '../store/store.js';
import { checkMasterKey } from './master-key-check.js';
import { StartupError, dataDirStartupError, storeStartupError } from './startup-errors.js';

/**
 * Opens the store (or takes the one given), migrates it and checks that the master key fits
 * it. Every failure is a StartupError naming what failed and where; a store opened here is
 * closed again, and a master key generated here is not left behind.
 *
 * @example
 * const { store, masterKey } = await openData({ config, now: Date.now(), logger: defaultLogger() });
 */
export async function openData(options: {
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'masterKey'>;
  store?: Store;
  observer?: StoreObserver;
  now: number;
  /** Where the warning about a generated master key goes. */
  logger: Logger;
}): Promise<{ store: Store; masterKey: Buffer }> {
  const { databaseUrl, dataDir, masterKey } = options.config;
  let store: Store;
  try {
    store = options.store ?? (await openStore({ databaseUrl, dataDir, ...(options.observer ? { observer: options.observer } : {}) }));
  } catch (err) {
    throw storeStartupError(err, { databaseUrl, dataDir });
  }
  try {
    try {
      await store.migrate();
    } catch (err) {
      throw storeStartupError(err, { databaseUrl, dataDir });
    }
    const master = loadMasterKey({ configured: masterKey, dataDir });
    // Written before the check seals anything with it, so a sealed check never outlives its key.
    if (master.source === 'generated') writeGenerated(dataDir, master.key);
    try {
      await checkMasterKey(store, master, { databaseUrl, dataDir, now: options.now });
    } catch (err) {
      if (master.source === 'generated') rmSync(join(dataDir, MASTER_KEY_FILE), { force: true });
      throw err instanceof StartupError ? err : storeStartupError(err, { databaseUrl, dataDir });
    }
    if (master.source === 'generated') {
      options.logger.warn(
        `generated a master key in ${dataDir}/${MASTER_KEY_FILE}. It encrypts signing keys at rest: back it up, ` +
          'and set KEYGATE_MASTER_KEY instead when instances share a database.',
      );
    }
    return { store, masterKey: master.key };
  } catch (err) {
    if (!options.store) await store.close().catch(() => undefined);
    throw err;
  }
}

function writeGenerated(dataDir: string, key: Buffer): void {
  try {
    saveMasterKey(dataDir, key);
  } catch (err) {
    throw dataDirStartupError(err, dataDir);
  }
}
