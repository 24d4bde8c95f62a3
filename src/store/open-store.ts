import { join } from 'node:path';
import type { Store } from './store.js';
import type { StoreObserver } from './store-observer.js';

/**
 * PostgreSQL when a URL is given, else the SQLite file in the data directory. Each driver is
 * imported only when chosen, so a PostgreSQL deployment never loads better-sqlite3's native
 * addon and an embedded one never loads pg.
 *
 * @example
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL, dataDir: './.keygate' });
 */
export async function openStore(options: { databaseUrl: string | undefined; dataDir: string; observer?: StoreObserver }): Promise<Store> {
  const observer = options.observer ? { observer: options.observer } : {};
  if (options.databaseUrl) {
    const { openPostgresStore } = await import('./postgres/postgres-store.js');
    return openPostgresStore({ url: options.databaseUrl, ...observer });
  }
  const { openSqliteStore } = await import('./sqlite/sqlite-store.js');
  return openSqliteStore({ file: join(options.dataDir, 'keygate.db'), ...observer });
}
