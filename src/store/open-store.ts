import { join } from 'node:path';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';
import type { StoreObserver } from './store-observer.js';

/** PostgreSQL when a URL is given, else the SQLite file in the data directory. */
export function openStore(options: { databaseUrl: string | undefined; dataDir: string; observer?: StoreObserver }): Store {
  const observer = options.observer ? { observer: options.observer } : {};
  if (options.databaseUrl) return openPostgresStore({ url: options.databaseUrl, ...observer });
  return openSqliteStore({ file: join(options.dataDir, 'keygate.db'), ...observer });
}
