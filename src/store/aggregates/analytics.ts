import { sql } from 'kysely';
import { GRANULARITIES, LATENCY_BUCKETS, type Granularity, type StatusClass, type UsageCounts, type UsageFilter } from '../../domain/usage.js';
import type { KyselyContext, TenantRows } from '../kysely-context.js';
import type { UsageCountsTable } from '../schema.js';

/** Usage analytics: counts per series and minute, hour and day, added to by every instance. */
export interface AnalyticsStore {
  /** Adds each row's counts and histogram to the stored row of the same series and bucket (created at zero). */
  add(rows: readonly UsageCounts[]): Promise<void>;
  /** The tenant's rows of the filter's granularity whose bucket starts in [from, to), narrowed by the filter. */
  list(tenantId: string, filter: UsageFilter): Promise<UsageCounts[]>;
  /** Retention: deletes each granularity's rows whose bucket started before its cutoff; returns how many. */
  prune(before: Readonly<Record<Granularity, number>>): Promise<number>;
}

type LatencyColumn = Extract<keyof UsageCountsTable, `l${number}`>;

/** `l00` … `l20`, one per latency bucket, in bucket order. */
const LATENCY_COLUMNS = Array.from({ length: LATENCY_BUCKETS }, (_, i) => `l${String(i).padStart(2, '0')}` as LatencyColumn);

/** Rows per INSERT: 32 parameters each stays well under SQLite's 32,766 and PostgreSQL's 65,535. */
const USAGE_CHUNK = 500;

/** The key columns, in primary-key order: what an upsert conflicts on and sorts by. */
const KEY_COLUMNS = ['tenant_id', 'granularity', 'at', 'api_id', 'key_id', 'consumer', 'operation', 'outcome', 'status_class'] as const;

/** The upsert's update: each count, sum and histogram column plus the incoming row's. */
const ADDED = Object.fromEntries(
  (['count', 'latency_sum_ms', ...LATENCY_COLUMNS] as const).map((column) => [column, sql<number>`usage_counts.${sql.ref(column)} + excluded.${sql.ref(column)}`]),
);

function countsToRow(counts: UsageCounts): UsageCountsTable {
  const row = {
    tenant_id: counts.tenantId,
    granularity: counts.granularity,
    at: counts.at,
    api_id: counts.apiId,
    key_id: counts.keyId ?? '',
    consumer: counts.consumer ?? '',
    operation: counts.operation ?? '',
    outcome: counts.outcome,
    status_class: counts.statusClass,
    count: counts.count,
    latency_sum_ms: counts.latencySumMs,
  } as UsageCountsTable;
  LATENCY_COLUMNS.forEach((column, i) => (row[column] = counts.latency[i] ?? 0));
  return row;
}

function rowToCounts(row: UsageCountsTable): UsageCounts {
  return {
    tenantId: row.tenant_id,
    apiId: row.api_id,
    keyId: row.key_id === '' ? null : row.key_id,
    consumer: row.consumer === '' ? null : row.consumer,
    operation: row.operation === '' ? null : row.operation,
    outcome: row.outcome,
    statusClass: Number(row.status_class) as StatusClass,
    granularity: row.granularity as Granularity,
    at: Number(row.at),
    count: Number(row.count),
    latencySumMs: Number(row.latency_sum_ms),
    latency: LATENCY_COLUMNS.map((column) => Number(row[column])),
  };
}

function compareKeys(a: UsageCountsTable, b: UsageCountsTable): number {
  for (const column of KEY_COLUMNS) {
    if (a[column] < b[column]) return -1;
    if (a[column] > b[column]) return 1;
  }
  return 0;
}

/** How a tenant's usage leaves with it. */
export const ANALYTICS_TENANT_ROWS: TenantRows<'usage_counts'> = {
  usage_counts: (trx, tenantId) => trx.deleteFrom('usage_counts').where('tenant_id', '=', tenantId).execute(),
};

export class KyselyAnalyticsStore implements AnalyticsStore {
  constructor(private readonly k: KyselyContext) {}

  /**
   * Upserts on the primary key, adding counts, sums and histograms, so several instances' batches
   * for the same series and bucket sum up. Sorted by key: two instances' upserts lock the rows
   * they share in the same order, so PostgreSQL cannot deadlock them against each other.
   */
  add(rows: readonly UsageCounts[]): Promise<void> {
    return this.k.guard(async () => {
      const values = rows.map(countsToRow).sort(compareKeys);
      for (let i = 0; i < values.length; i += USAGE_CHUNK) {
        await this.k.db
          .insertInto('usage_counts')
          .values(values.slice(i, i + USAGE_CHUNK))
          .onConflict((oc) => oc.columns(KEY_COLUMNS).doUpdateSet(ADDED))
          .execute();
      }
    });
  }

  list(tenantId: string, filter: UsageFilter): Promise<UsageCounts[]> {
    return this.k.guard(async () => {
      let query = this.k.db
        .selectFrom('usage_counts')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('granularity', '=', filter.granularity)
        .where('at', '>=', filter.from)
        .where('at', '<', filter.to);
      if (filter.apiId !== undefined) query = query.where('api_id', '=', filter.apiId);
      if (filter.keyId !== undefined) query = query.where('key_id', '=', filter.keyId);
      if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
      if (filter.operation !== undefined) query = query.where('operation', '=', filter.operation);
      return (await query.orderBy('at').execute()).map(rowToCounts);
    });
  }

  prune(before: Readonly<Record<Granularity, number>>): Promise<number> {
    return this.k.guard(async () => {
      let deleted = 0;
      for (const granularity of GRANULARITIES) {
        const result = await this.k.db.deleteFrom('usage_counts').where('granularity', '=', granularity).where('at', '<', before[granularity]).executeTakeFirst();
        deleted += Number(result.numDeletedRows);
      }
      return deleted;
    });
  }
}
