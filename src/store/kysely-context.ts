import type { Compilable, CompiledQuery, Kysely, QueryResult, Transaction } from 'kysely';
import { KeygateError } from '../domain/errors.js';
import type { Dialect } from './dialect.js';
import type { Database } from './schema.js';
import type { StoreObserver } from './store-observer.js';
import type { Page } from './store.js';

/** A connection or an open transaction: row helpers run on either. */
export type Db = Kysely<Database> | Transaction<Database>;

/**
 * How a tenant's rows leave each table of `T`, or `null` for a table that holds no tenant's rows.
 * Each aggregate says it for its own tables; the tenant cascade (directory.ts) runs them all.
 */
export type TenantRows<T extends keyof Database> = { [K in T]: ((trx: Transaction<Database>, tenantId: string) => Promise<unknown>) | null };

/** The unique violations a caller can cause, as the codes they surface as. */
export type ConflictCode = 'TENANT_EXISTS' | 'API_EXISTS' | 'USER_EXISTS';

/**
 * What every aggregate of the Kysely store runs on: the connection, the backend's dialect hooks,
 * and the one translation of driver failures into Keygate errors and observer reports.
 */
export class KyselyContext {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    private readonly observer: StoreObserver | undefined,
  ) {}

  /**
   * Runs one store call. A database that is not there surfaces as STORE_UNAVAILABLE, a unique
   * violation as `conflict` when the call names one; every failure that is not a refusal decided
   * in the store (a KeygateError) is reported to the observer.
   */
  async guard<T>(work: () => Promise<T>, conflict?: ConflictCode): Promise<T> {
    try {
      return await work();
    } catch (err) {
      throw this.translate(err, conflict);
    }
  }

  /**
   * Runs a `PreparedQuery` with `values`: in `trx` when given; otherwise straight on the
   * connection where the dialect can (`Dialect.runPrepared`: SQLite outside a transaction, with no
   * promise or executor between the call and the row), else through Kysely. The observer hears of
   * it either way.
   */
  run<P extends Record<string, unknown>, R>(query: PreparedQuery<P, R>, values: P, trx?: Transaction<Database>): Promise<QueryResult<R>> {
    const parameters = query.parameters(values);
    if (trx === undefined) {
      const started = performance.now();
      let direct: QueryResult<unknown> | undefined;
      try {
        direct = this.dialect.runPrepared(query.compiled.sql, parameters);
      } catch (err) {
        this.observer?.onQuery((performance.now() - started) / 1000);
        return Promise.reject(err);
      }
      if (direct !== undefined) {
        this.observer?.onQuery((performance.now() - started) / 1000);
        return Promise.resolve(direct as QueryResult<R>);
      }
    }
    return (trx ?? this.db).executeQuery<R>({ ...query.compiled, parameters });
  }

  translate(err: unknown, conflict?: ConflictCode): unknown {
    if (err instanceof KeygateError) return err;
    if (this.dialect.isUniqueViolation(err)) {
      this.observer?.onFailure('conflict');
      return conflict === undefined ? err : new KeygateError(conflict);
    }
    if (this.dialect.isUnavailable(err)) {
      this.observer?.onFailure('unavailable');
      return new KeygateError('STORE_UNAVAILABLE', undefined, { cause: err });
    }
    this.observer?.onFailure('other');
    return err;
  }
}

/**
 * One page of `rows`, fetched with `limit + 1` so that a further row tells a next page exists.
 *
 * @example
 * paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToApi);
 */
export function paginate<R extends { id: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const items = (more ? rows.slice(0, limit) : rows).map(map);
  return { items, next: more ? rows[limit - 1]!.id : null };
}

/** A nullable time or count column as a number; null stays null. */
export function numberOrNull(value: number | string | null): number | null {
  return value === null ? null : Number(value);
}

/** Marks a parameter slot while a prepared statement compiles; no stored value starts with NUL. */
const SLOT = '\u0000keygate-slot:';

/**
 * A statement built and compiled by Kysely once, then run with new values: a hot path (the
 * refresh grant) skips the building and compiling, which cost more than the point query itself.
 * `build` writes the query with `slot(name)` wherever a value goes; `KyselyContext.run` fills
 * them in.
 *
 * @example
 * const touch = PreparedQuery.of<{ id: string; at: number }, never>(db, (slot) => db.updateTable('grants').set({ last_used_at: slot('at') }).where('id', '=', slot('id')));
 * await k.run(touch, { id, at });
 */
export class PreparedQuery<P extends Record<string, unknown>, R> {
  private constructor(
    readonly compiled: CompiledQuery<R>,
    /** Per parameter of the compiled SQL: the value's name, or a constant the query holds. */
    private readonly slots: readonly ({ name: keyof P } | { constant: unknown })[],
  ) {}

  static of<P extends Record<string, unknown>, R>(db: Kysely<Database>, build: (slot: <K extends keyof P & string>(name: K) => P[K]) => Compilable<R>): PreparedQuery<P, R> {
    const compiled = build((name) => `${SLOT}${name}` as never).compile();
    // A slot compiled into the SQL text rather than bound would run with the marker as its value.
    if (compiled.sql.includes(SLOT)) throw new TypeError(`a prepared statement inlines a slot: ${compiled.sql}`);
    const slots = compiled.parameters.map((value) => (typeof value === 'string' && value.startsWith(SLOT) ? { name: value.slice(SLOT.length) as keyof P } : { constant: value }));
    return new PreparedQuery(compiled, slots);
  }

  /** The compiled statement's parameters, `values` in their slots. */
  parameters(values: P): unknown[] {
    return this.slots.map((slot) => ('name' in slot ? values[slot.name] : slot.constant));
  }
}
