import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Store } from '../../src/store/store.js';

/** The machine's PostgreSQL; CI and developers may point elsewhere with DATABASE_URL. */
export const POSTGRES_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A fresh, empty place to keep data: a temp dir for SQLite, a new database for PostgreSQL. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Config fields that point Keygate at this place. */
  config: { dataDir: string; databaseUrl: string | undefined };
  openStore(): Store;
  destroy(): Promise<void>;
}

export type BackendName = Backend['name'];
export const BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

export async function createBackend(name: BackendName): Promise<Backend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'keygate-test-'));
  if (name === 'sqlite') {
    return {
      name,
      config: { dataDir, databaseUrl: undefined },
      openStore: () => openSqliteStore({ file: join(dataDir, 'keygate.db') }),
      destroy: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const database = `kg_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  return {
    name,
    config: { dataDir, databaseUrl: url.toString() },
    openStore: () => openPostgresStore({ url: url.toString() }),
    destroy: async () => {
      const cleanup = new pg.Client({ connectionString: POSTGRES_URL });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${database} with (force)`);
      await cleanup.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
