import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Dialect } from '../dialect.js';
import { KyselyStore } from '../kysely-store.js';
import type { Database } from '../schema.js';
import type { Store } from '../store.js';
import { logQueriesTo, type StoreObserver } from '../store-observer.js';

const INT8_OID = 20;
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/** SQLSTATE classes that mean "the server is not there for us", not "the query was wrong". */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P)/;

/**
 * PostgreSQL for scale-out: any number of Keygate instances share it. Timeouts are short so a
 * dead database answers 503 quickly instead of hanging requests.
 *
 * @example
 * const store = openPostgresStore({ url: 'postgres://postgres@127.0.0.1:5432/keygate' });
 */
export function openPostgresStore(options: { url: string; poolSize?: number; observer?: StoreObserver }): Store {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: 3000,
    query_timeout: 5000,
    idleTimeoutMillis: 30_000,
    // Times and counters are bigint columns; their values fit in a double.
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // A client losing its connection must not crash the process, idle (the pool's 'error') or
  // checked out between two queries of a transaction (the client's own 'error', which pg emits
  // with no listener attached): the next query on it fails and is reported as STORE_UNAVAILABLE.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), ...(options.observer ? { log: logQueriesTo(options.observer) } : {}) });
  return new KyselyStore(db, POSTGRES_DIALECT, () => db.destroy(), {
    ...(options.observer ? { observer: options.observer } : {}),
    poolUsage: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  });
}

const POSTGRES_DIALECT: Dialect = {
  name: 'postgres',
  lockRows: async (trx, table, ids, options = {}) => {
    if (ids.length === 0) return;
    const tenant = options.tenantId === undefined ? sql`` : sql`tenant_id = ${options.tenantId} and `;
    // In id order: two writers locking overlapping rows take them in the same order, so neither deadlocks.
    const mode = options.share === true ? sql`for share` : sql`for update`;
    await sql`select id from ${sql.table(table)} where ${tenant}id in (${sql.join(ids)}) order by id ${mode}`.execute(trx);
  },
  serialWrites: false,
  // A bound parameter of a VALUES list is text to PostgreSQL until cast.
  bigint: sql`::bigint`,
  // A pooled query waits for a connection anyway: Kysely's executor is the way.
  runPrepared: () => undefined,
  isUniqueViolation: (err) => (err as { code?: unknown })?.code === '23505',
  isUnavailable: (err) => {
    const code = (err as { code?: unknown })?.code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return UNAVAILABLE_SQLSTATE.test(code);
    if (typeof code === 'string' && SOCKET_ERRORS.has(code)) return true;
    // pg reports pool and query timeouts and dropped connections by message only.
    return err instanceof Error && /timeout|Connection terminated|not queryable|Client has encountered a connection error/i.test(err.message);
  },
};
