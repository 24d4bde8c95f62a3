import type { Clock } from '../domain/clock.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import { DEFAULT_USAGE_SPAN_MS, bucketStart, usageFilterProblem, usageSeries, usageTotals, type Granularity, type UsageCounts, type UsageFilter, type UsagePoint, type UsageTotal } from '../domain/usage.js';
import type { AnalyticsStore } from '../store/store.js';

/** A usage query as the management API takes it: every field optional, times in ms. */
export interface UsageQuery {
  apiId?: string;
  keyId?: string;
  consumer?: string;
  operation?: string;
  from?: number;
  to?: number;
  granularity?: Granularity;
}

/** A time series and the range it covers (bucket-aligned `from`, exclusive `to`). */
export interface UsageSeries {
  granularity: Granularity;
  from: number;
  to: number;
  points: UsagePoint[];
}

/** What a breakdown adds up by: the key, the key's consumer, or the gateway operation (null for verify calls). */
export type UsageBreakdownBy = 'key' | 'consumer' | 'operation';

export const USAGE_BREAKDOWNS: readonly UsageBreakdownBy[] = ['key', 'consumer', 'operation'];

/** The busiest keys, consumers or operations over a range, each by outcome. */
export interface UsageBreakdown {
  by: UsageBreakdownBy;
  granularity: Granularity;
  from: number;
  to: number;
  /** Most requests first; `name` null for requests of no key, no consumer or no operation. */
  items: UsageTotal<string | null>[];
  /** How many there were in all, of which `items` are the first. */
  total: number;
}

const NAME_OF: Readonly<Record<UsageBreakdownBy, (row: UsageCounts) => string | null>> = {
  key: (row) => row.keyId,
  consumer: (row) => row.consumer,
  operation: (row) => row.operation,
};

/**
 * Answers usage time series for one tenant from the stored minute, hour and day rows. The rows
 * of other tenants are never read: every store query is by tenant, whatever ids the filter names.
 */
export class UsageQueryService {
  constructor(
    private readonly store: Pick<AnalyticsStore, 'list'>,
    private readonly clock: Clock,
  ) {}

  /**
   * The tenant's series for a query: by hour over the last day unless told otherwise.
   *
   * @example
   * await usageQueries.series(tenant, { apiId: api.id, granularity: 'minute' })
   * // { granularity: 'minute', from, to, points: [{ at, requests, outcomes, statusClasses, latencyMs }, …] }
   */
  async series(tenant: Tenant, query: UsageQuery): Promise<UsageSeries> {
    const filter = this.filterOf(query);
    const points = usageSeries(await this.store.list(tenant.id, filter), filter);
    return { granularity: filter.granularity, from: filter.from, to: filter.to, points };
  }

  /**
   * The tenant's busiest keys, consumers or operations over the same range and filters as a
   * series: the top `limit`, each with its requests by outcome.
   *
   * @example
   * await usageQueries.breakdown(tenant, { granularity: 'day' }, { by: 'consumer', limit: 10 })
   * // { by: 'consumer', items: [{ name: 'cust-1', requests: 10, outcomes: { allowed: 7, INSUFFICIENT_SCOPE: 3 } }, …], total: 2, … }
   */
  async breakdown(tenant: Tenant, query: UsageQuery, options: { by: UsageBreakdownBy; limit: number }): Promise<UsageBreakdown> {
    const filter = this.filterOf(query);
    const all = usageTotals(await this.store.list(tenant.id, filter), NAME_OF[options.by]);
    return { by: options.by, granularity: filter.granularity, from: filter.from, to: filter.to, items: all.slice(0, options.limit), total: all.length };
  }

  /** The store's filter for a query: by hour over the last day unless told otherwise, `from` at its bucket's start. */
  private filterOf(query: UsageQuery): UsageFilter {
    const granularity = query.granularity ?? 'hour';
    const to = query.to ?? this.clock();
    const asked = query.from ?? to - DEFAULT_USAGE_SPAN_MS[granularity];
    const problem = usageFilterProblem({ from: asked, to, granularity });
    if (problem !== null) throw new KeygateError('INVALID_TIME_RANGE', problem);
    // Rows are stored at their bucket's start: the bucket holding `from` starts before it.
    const from = bucketStart(asked, granularity);
    return {
      from,
      to,
      granularity,
      ...(query.apiId !== undefined ? { apiId: query.apiId } : {}),
      ...(query.keyId !== undefined ? { keyId: query.keyId } : {}),
      ...(query.consumer !== undefined ? { consumer: query.consumer } : {}),
      ...(query.operation !== undefined ? { operation: query.operation } : {}),
    };
  }
}
