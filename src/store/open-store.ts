import { join } from 'node:path';
import { openPostgresStore } from './postgres/postgres-store.js';
import { openSqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/** PostgreSQL when a URL is given, else the SQLite file in the data directory. */
export function openStore(options: { databaseUrl: string | undefined; dataDir: string }): Store {
  if (options.databaseUrl) return openPostgresStore({ url: options.databaseUrl });
  return openSqliteStore({ file: join(options.dataDir, 'keygate.db') });
}
