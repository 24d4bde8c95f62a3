/** Why a store call failed, as the backend's error classifier sees it. */
export type StoreFailure = 'unavailable' | 'conflict' | 'other';

/** Connections of a pool (PostgreSQL), read when asked. */
export interface PoolUsage {
  /** Open connections, busy or idle. */
  total: number;
  idle: number;
  /** Queries waiting for a connection. */
  waiting: number;
}

/**
 * What a store reports about its own work, for metrics. Called synchronously on the query path,
 * so an observer must be cheap and never throw.
 */
export interface StoreObserver {
  /** After every SQL statement, failed or not. */
  onQuery(durationSeconds: number): void;
  /**
   * After a store call failed for a reason other than a Keygate error (a refusal decided in the
   * store is not a failure). A database that cannot be reached fails before any statement runs,
   * so it is reported here and not by `onQuery`.
   */
  onFailure(failure: StoreFailure): void;
}

/**
 * Kysely's `log` option reporting every statement's duration to `observer`.
 *
 * @example
 * new Kysely<Database>({ dialect, log: logQueriesTo(observer) });
 */
export function logQueriesTo(observer: StoreObserver): (event: { queryDurationMillis: number }) => void {
  return (event) => observer.onQuery(event.queryDurationMillis / 1000);
}
