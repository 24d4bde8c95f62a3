import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Backend } from './backends.js';

/**
 * Every row of every table of a backend's database, read over a connection of the test's own:
 * two equal snapshots mean a request changed nothing at all (not only the tables a test thought of).
 */
export async function snapshotAll(backend: Backend): Promise<string> {
  const tables: Record<string, string[]> = {};
  if (backend.name === 'sqlite') {
    const db = new Database(join(backend.config.dataDir, 'keygate.db'), { readonly: true, fileMustExist: true });
    try {
      const names = db.prepare("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name").all() as { name: string }[];
      for (const { name } of names) tables[name] = (db.prepare(`select * from "${name}"`).all() as unknown[]).map((row) => JSON.stringify(row)).sort();
    } finally {
      db.close();
    }
  } else {
    const client = new pg.Client({ connectionString: backend.config.databaseUrl });
    await client.connect();
    try {
      const names = await client.query<{ name: string }>("select table_name as name from information_schema.tables where table_schema = 'public' order by table_name");
      for (const { name } of names.rows) tables[name] = (await client.query(`select * from "${name}"`)).rows.map((row) => JSON.stringify(row)).sort();
    } finally {
      await client.end();
    }
  }
  if (Object.keys(tables).length < 10) throw new Error(`expected Keygate's tables, found ${Object.keys(tables).join(', ')}`);
  return JSON.stringify(tables);
}

/**
 * What a refused request must leave as it was: every row of every table, after pending writes are
 * flushed, but the audit log (denials are recorded on purpose), usage analytics (every answered
 * request is counted, denials by their code, as metrics count them) and keys' usage counters (each
 * management call counts a use of its root key).
 */
export async function snapshotState(t: { backend: Backend; server: { keygate: { flush(): Promise<void> } } }): Promise<string> {
  await t.server.keygate.flush();
  const tables = JSON.parse(await snapshotAll(t.backend)) as Record<string, string[]>;
  delete tables['audit_events'];
  delete tables['usage_counts'];
  return JSON.stringify(tables).replace(/\\"last_used_at\\":\\?"?\d+\\?"?,\\"usage_count\\":\\?"?\d+\\?"?/g, '');
}
