import type { Kysely, Transaction } from 'kysely';
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
