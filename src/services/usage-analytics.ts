import type { Clock } from '../domain/clock.js';
import { GRANULARITY_MS, LATENCY_BUCKETS, latencyBucket, rollUp, statusClass, type UsageCounts, type UsageSeriesKey } from '../domain/usage.js';
import type { AnalyticsStore } from '../store/store.js';

/** One request as the gateway saw it, or one `POST /v1/verify` call. */
export interface UsageEvent extends UsageSeriesKey {
  /** Upstream HTTP status (the class is derived), null when not forwarded. */
  upstreamStatus: number | null;
  /** Whole request as the gateway saw it (verify: the verify call). */
  latencyMs: number;
  /** Keygate's clock, ms. */
  at: number;
}

export interface UsageAnalyticsOptions {
  /** How often the counts are written: every series is written at most once per interval. */
  flushIntervalMs: number;
  /** Distinct series (per minute) held between writes; requests of further series are counted as dropped. */
  maxSeries: number;
  /** How long each granularity is kept, in days. */
  retentionDays: { minute: number; hour: number; day: number };
}

const MINUTE_MS = GRANULARITY_MS.minute;

/**
 * Counts requests per series and minute in memory, with a fixed latency histogram each, and
 * writes them with their hour and day rollups in one batch per interval: the request path only
 * adds to a row in memory, and a key's rows are written at most once per interval whatever its
 * traffic. Memory is bounded by `maxSeries`: once that many series wait, a request of a new
 * series is counted in `dropped` instead, so no caller (random consumers, operations) can grow it.
 */
export class UsageAnalytics {
  /**
   * Rows waiting, by key id (the API id for requests without a key), then by operation ('' for
   * none): both are strings the caller already holds, so finding a row hashes no new string and
   * compares a few fields of the handful of rows one key and operation have in an interval.
   */
  private pending = new Map<string, Map<string, UsageCounts[]>>();
  private series = 0;
  private droppedTotal = 0;
  private readonly timer: NodeJS.Timeout;
  /** The write under way: the next one waits for it rather than racing it. */
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Pick<AnalyticsStore, 'add' | 'prune'>,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
    private readonly options: UsageAnalyticsOptions,
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Series waiting for the next write. */
  get queued(): number {
    return this.series;
  }

  /** Requests not counted since start because `maxSeries` series were already waiting. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Adds one request to its series; synchronous, never waits, never throws. */
  record(event: UsageEvent): void {
    this.count(event, event.upstreamStatus, event.latencyMs, event.at);
  }

  /**
   * `record` for a caller that holds the series already (the gateway, once per request): the
   * request's own figures as arguments, so no event object is made per request.
   */
  count(event: UsageSeriesKey, upstreamStatus: number | null, latencyMs: number, at: number): void {
    const minute = at - (at % MINUTE_MS);
    const cls = statusClass(upstreamStatus);
    // '' is how the store writes none: the same series either way.
    const consumer = event.consumer === '' ? null : event.consumer;
    const operation = event.operation === '' ? null : event.operation;
    const latency = latencyMs >= 0 ? latencyMs : 0;
    const byOperation = this.pending.get(event.keyId ?? event.apiId);
    const rows = byOperation?.get(operation ?? '');
    let row = rows === undefined ? undefined : findRow(rows, event, minute, cls, consumer);
    if (row === undefined) {
      // Containers are made only for a row that is kept: past the cap, nothing grows.
      if (this.series >= this.options.maxSeries) {
        this.droppedTotal += 1;
        return;
      }
      row = {
        tenantId: event.tenantId,
        apiId: event.apiId,
        keyId: event.keyId,
        consumer,
        operation,
        outcome: event.outcome,
        statusClass: cls,
        granularity: 'minute',
        at: minute,
        count: 0,
        latencySumMs: 0,
        latency: new Array<number>(LATENCY_BUCKETS).fill(0),
      };
      if (rows !== undefined) rows.push(row);
      else if (byOperation !== undefined) byOperation.set(operation ?? '', [row]);
      else this.pending.set(event.keyId ?? event.apiId, new Map([[operation ?? '', [row]]]));
      this.series += 1;
    }
    row.count += 1;
    row.latencySumMs += latency;
    row.latency[latencyBucket(latency)]! += 1;
  }

  /** Writes what waits (minutes, and their hour and day rollups); resolves when this write and every earlier one are done. */
  flush(): Promise<void> {
    if (this.series === 0) return this.flushing;
    const minutes = [...this.pending.values()].flatMap((byOperation) => [...byOperation.values()].flat());
    this.pending = new Map();
    this.series = 0;
    const rows = [...minutes, ...rollUp(minutes, 'hour'), ...rollUp(minutes, 'day')];
    this.flushing = this.flushing.then(() => this.store.add(rows)).catch(this.onError);
    return this.flushing;
  }

  /**
   * Retention (housekeeping): deletes minute, hour and day rows older than their setting.
   *
   * @example
   * await analytics.prune() // rows deleted
   */
  prune(): Promise<number> {
    const now = this.clock();
    const days = this.options.retentionDays;
    return this.store.prune({ minute: now - days.minute * GRANULARITY_MS.day, hour: now - days.hour * GRANULARITY_MS.day, day: now - days.day * GRANULARITY_MS.day });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

/** The row of `rows` (one key's or API's, one operation's) that the event's series is, if any. */
function findRow(rows: readonly UsageCounts[], event: UsageSeriesKey, minute: number, cls: number, consumer: string | null): UsageCounts | undefined {
  for (const row of rows) {
    if (
      row.at === minute &&
      row.outcome === event.outcome &&
      row.statusClass === cls &&
      row.consumer === consumer &&
      row.keyId === event.keyId &&
      row.apiId === event.apiId &&
      row.tenantId === event.tenantId
    ) {
      return row;
    }
  }
  return undefined;
}
