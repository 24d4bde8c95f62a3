import type { Granularity, UsageCounts, UsageFilter } from '../../domain/usage.js';

/** Usage analytics: counts per series and minute, hour and day, added to by every instance. */
export interface AnalyticsStore {
  /** Adds each row's counts and histogram to the stored row of the same series and bucket (created at zero). */
  add(rows: readonly UsageCounts[]): Promise<void>;
  /** The tenant's rows of the filter's granularity whose bucket starts in [from, to), narrowed by the filter. */
  list(tenantId: string, filter: UsageFilter): Promise<UsageCounts[]>;
  /** Retention: deletes each granularity's rows whose bucket started before its cutoff; returns how many. */
  prune(before: Readonly<Record<Granularity, number>>): Promise<number>;
}
