import type { Clock } from '../domain/clock.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import { DEFAULT_USAGE_SPAN_MS, bucketStart, usageFilterProblem, usageSeries, type Granularity, type UsageFilter, type UsagePoint } from '../domain/usage.js';
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
    const granularity = query.granularity ?? 'hour';
    const to = query.to ?? this.clock();
    const asked = query.from ?? to - DEFAULT_USAGE_SPAN_MS[granularity];
    const problem = usageFilterProblem({ from: asked, to, granularity });
    if (problem !== null) throw new KeygateError('INVALID_TIME_RANGE', problem);
    // Rows are stored at their bucket's start: the bucket holding `from` starts before it.
    const from = bucketStart(asked, granularity);
    const filter: UsageFilter = {
      from,
      to,
      granularity,
      ...(query.apiId !== undefined ? { apiId: query.apiId } : {}),
      ...(query.keyId !== undefined ? { keyId: query.keyId } : {}),
      ...(query.consumer !== undefined ? { consumer: query.consumer } : {}),
      ...(query.operation !== undefined ? { operation: query.operation } : {}),
    };
    const points = usageSeries(await this.store.list(tenant.id, filter), filter);
    return { granularity, from, to, points };
  }
}
