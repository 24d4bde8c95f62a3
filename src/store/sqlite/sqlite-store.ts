import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { LRUCache } from 'lru-cache';
import type { Dialect } from '../dialect.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { logQueriesTo, type StoreObserver } from '../store-observer.js';

const STATEMENT_CACHE_SIZE = 256;

/**
 * Kysely prepares a statement for every query; preparing costs more than running a point lookup.
 * Queries are built from a fixed set of shapes, so their SQL strings repeat: keep the prepared
 * statements, bounded.
 */
function withStatementCache(database: SQLite.Database): SQLite.Database {
  const statements = new LRUCache<string, SQLite.Statement>({ max: STATEMENT_CACHE_SIZE });
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver) as unknown;
        // Native methods check that `this` is the real database, not the proxy.
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (text: string) => {
        // Kysely begins every transaction DEFERRED. With a second process on the file
        // (`keygate start --workers N`), a deferred transaction that reads and then writes gets
        // SQLITE_BUSY at once, without the busy timeout, whenever the other process holds or has
        // just taken the write lock. IMMEDIATE takes the write lock at BEGIN, where the busy
        // timeout applies: concurrent writers wait their turn instead of failing.
        const sql = text === 'begin' ? 'begin immediate' : text;
        let statement = statements.get(sql);
        if (statement === undefined) {
          statement = target.prepare(sql);
          statements.set(sql, statement);
        }
        return statement;
      };
    },
  });
}

/**
 * The embedded default: one SQLite file in WAL mode. better-sqlite3 is synchronous, so a query
 * costs no event-loop round trip; a second process writing the file (a worker of
 * `keygate start --workers N`) is waited for, up to the busy timeout, at the statement or
 * transaction that needs the write lock. Readers never wait (WAL).
 *
 * @example
 * const store = openSqliteStore({ file: '.keygate/keygate.db' });
 */
export function openSqliteStore(options: { file: string; observer?: StoreObserver }): Store {
  if (options.file !== ':memory:') mkdirSync(dirname(options.file), { recursive: true });
  const database = new SQLite(options.file);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = NORMAL');
  database.pragma('busy_timeout = 5000');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
    ...(options.observer ? { log: logQueriesTo(options.observer) } : {}),
  });
  return new KyselyStore(db, sqliteDialect(database), () => db.destroy(), options.observer ? { observer: options.observer } : {});
}

function sqliteDialect(database: SQLite.Database): Dialect {
  // Only PreparedQuery's statements come here, a fixed set: no bound needed.
  const prepared = new Map<string, SQLite.Statement>();
  return {
    name: 'sqlite',
    // One write transaction at a time: a writer that began has every row to itself already.
    lockRows: async () => {},
    serialWrites: true,
    // Integers are integers; a bound number needs no cast.
    bigint: sql``,
    runPrepared: (text, parameters) => {
      // Inside a transaction that Kysely holds open across awaits, a statement run here would
      // become part of it (and roll back with it): then it queues on Kysely's connection instead.
      // Otherwise it runs at once and commits on its own, as Kysely would run it.
      if (database.inTransaction) return undefined;
      let statement = prepared.get(text);
      if (statement === undefined) {
        statement = database.prepare(text);
        prepared.set(text, statement);
      }
      if (statement.reader) return { rows: statement.all(parameters as unknown[]) };
      return { rows: [], numAffectedRows: BigInt(statement.run(parameters as unknown[]).changes) };
    },
    isUniqueViolation: (err) => {
      const code = String((err as { code?: unknown })?.code ?? '');
      return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
    },
    isUnavailable: (err) => {
      const code = String((err as { code?: unknown })?.code ?? '');
      return code === 'SQLITE_BUSY' || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_IOERR' || !database.open;
    },
  };
}
