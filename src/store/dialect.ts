import type { QueryResult, RawBuilder, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** The tables whose rows a writer locks before it reads and changes them. */
export type LockableTable = 'keys' | 'apis' | 'consumers' | 'users' | 'grants';

/**
 * Everything in which the SQL of the backends differs, handed to every aggregate by
 * `sqlite/sqlite-store.ts` or `postgres/postgres-store.ts`: the aggregates write their SQL once
 * and never ask which backend they run on.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /**
   * Locks the rows, in id order, until the transaction ends, so a concurrent writer waits for it
   * (PostgreSQL: SELECT … FOR UPDATE). SQLite runs one write transaction at a time: nothing to do.
   * `tenantId` narrows the rows to one tenant's: a consumer's id is unique within its tenant only.
   * `share`: a shared lock (FOR SHARE): holders do not wait for each other, a writer of the rows
   * waits for them all, and they for a writer holding the rows.
   */
  lockRows(trx: Transaction<Database>, table: LockableTable, ids: readonly string[], options?: { tenantId?: string; share?: boolean }): Promise<void>;
  /**
   * True when the backend runs one write at a time (SQLite: one connection per process, and each
   * write statement or BEGIN IMMEDIATE transaction holds the file's write lock across processes):
   * a single writing statement's conditions are then read after every writer that committed
   * before it, and every writer after it sees its row, with no lock taken. False on PostgreSQL,
   * where a statement reads the snapshot of its start (READ COMMITTED) while others commit.
   */
  readonly serialWrites: boolean;
  /** The cast that makes a bound number of a VALUES list a bigint (PostgreSQL), or nothing (SQLite). */
  readonly bigint: RawBuilder<unknown>;
  /**
   * Runs a statement compiled once (`PreparedQuery`) on the connection itself, past Kysely's
   * executor, when the backend can do so now without joining another caller's transaction;
   * undefined when it cannot, and the caller goes through Kysely. SQLite: synchronously, when no
   * transaction is open on its one connection. PostgreSQL: never (each pooled query is its own).
   */
  runPrepared(sql: string, parameters: readonly unknown[]): QueryResult<unknown> | undefined;
  /** A driver error that is a unique violation. */
  isUniqueViolation(err: unknown): boolean;
  /** A driver error that means the database is not there for us, not that the query was wrong. */
  isUnavailable(err: unknown): boolean;
}
