import { KeygateError } from '../domain/errors.js';
import type { ApiKey } from '../domain/keys/key.js';
import type { Tenant } from '../domain/tenants.js';
import { GRANULARITY_MS, bucketStart, usageSeries, usageTotals, type Granularity, type UsagePoint, type UsageTotal as DomainUsageTotal } from '../domain/usage.js';
import type { AnalyticsStore } from '../store/store.js';
import type { ServiceContextWith } from './context.js';

/** The spans the portal's usage page offers, each with the granularity that draws it. */
export type UsageWindow = 'hour' | 'day' | 'month';

export const USAGE_WINDOWS: Readonly<Record<UsageWindow, { granularity: Granularity; spanMs: number; label: string }>> = {
  hour: { granularity: 'minute', spanMs: 3_600_000, label: 'Last hour' },
  day: { granularity: 'hour', spanMs: 86_400_000, label: 'Last day' },
  month: { granularity: 'day', spanMs: 30 * 86_400_000, label: 'Last 30 days' },
};

/** Requests of one key or one operation over the window, by outcome. */
export type UsageTotal = DomainUsageTotal<string>;

export interface ConsumerUsage {
  window: UsageWindow;
  granularity: Granularity;
  from: number;
  to: number;
  /** The chart's series: the keys and operation asked for (all of them by default). */
  points: UsagePoint[];
  /** Every key of the consumer that was used in the window, and every operation called. */
  byKey: UsageTotal[];
  byOperation: UsageTotal[];
  /** Every outcome in the window, `allowed` first. */
  outcomes: string[];
  /** The consumer's keys, revoked ones included: names for `byKey` and the key filter. */
  keys: ApiKey[];
}

/** A refused request of one of the consumer's keys (denials fold per key, reason and minute: docs/audit.md). */
export interface ConsumerDenial {
  at: number;
  lastAt: number;
  keyId: string;
  /** The verification code: INSUFFICIENT_SCOPE, RATE_LIMITED, EXPIRED, … */
  code: string;
  count: number;
  requiredScopes: string[];
}

const DENIALS_SPAN_MS = 30 * 86_400_000;

/** The operation name of `POST /v1/verify` calls, which have no operation of their own. */
export const VERIFY_OPERATION = '(verify API)';

/**
 * What a consumer's members see of their traffic in the developer portal: the usage analytics
 * and the audit log's denials, of the consumer's own keys only — the keys under its grant keys,
 * read from the store on each call; a row of any other key (another consumer's, or an owner's
 * key whose free-text `consumer` happens to be this consumer's id) is never counted.
 */
export class PortalUsageService {
  constructor(
    private readonly ctx: ServiceContextWith<'consumers'>,
    private readonly analytics: Pick<AnalyticsStore, 'list'>,
  ) {}

  /**
   * The consumer's requests over a window by outcome, optionally of one key and one operation.
   *
   * @example
   * await portalUsage.usage(tenant, consumer.id, { window: 'day' })
   * // { granularity: 'hour', points: [{ at, requests, outcomes: { allowed: 3 } }, …], byKey: [{ name: 'key_…', … }], … }
   */
  async usage(tenant: Tenant, consumerId: string, options: { window: UsageWindow; keyId?: string; operation?: string }): Promise<ConsumerUsage> {
    const { granularity, spanMs } = USAGE_WINDOWS[options.window];
    const consumerKeys = await this.keysOf(tenant, consumerId);
    const keys = new Set(consumerKeys.map((k) => k.id));
    if (options.keyId !== undefined && !keys.has(options.keyId)) throw new KeygateError('KEY_NOT_FOUND', `consumer "${consumerId}" has no key "${options.keyId}"`);
    const to = this.ctx.clock();
    // The current bucket is included, so the window starts that many buckets back.
    const from = bucketStart(to - spanMs + GRANULARITY_MS[granularity], granularity);
    const rows = (await this.analytics.list(tenant.id, { consumer: consumerId, from, to, granularity })).filter((row) => row.keyId !== null && keys.has(row.keyId));
    const chosen = rows.filter((row) => (options.keyId === undefined || row.keyId === options.keyId) && (options.operation === undefined || (row.operation ?? VERIFY_OPERATION) === options.operation));
    const outcomes = [...new Set(rows.map((row) => row.outcome))].sort((a, b) => (a === 'allowed' ? -1 : b === 'allowed' ? 1 : a.localeCompare(b)));
    return {
      window: options.window,
      granularity,
      from,
      to,
      points: usageSeries(chosen, { from, to, granularity }),
      byKey: usageTotals(rows, (row) => row.keyId!),
      byOperation: usageTotals(rows, (row) => row.operation ?? VERIFY_OPERATION),
      outcomes,
      keys: consumerKeys,
    };
  }

  /** The newest refusals of the consumer's keys over the last 30 days, newest first. */
  async denials(tenant: Tenant, consumerId: string, options: { limit: number }): Promise<ConsumerDenial[]> {
    const keys = (await this.keysOf(tenant, consumerId)).map((k) => k.id);
    const page = await this.ctx.audit.list(tenant.id, { action: 'key.verify.denied', targets: keys, from: this.ctx.clock() - DENIALS_SPAN_MS }, { after: null, limit: options.limit });
    return page.items.map((event) => ({
      at: event.at,
      lastAt: event.aggregate?.lastAt ?? event.at,
      keyId: event.target!,
      code: String(event.data['code']),
      count: event.aggregate?.count ?? 1,
      requiredScopes: Array.isArray(event.data['requiredScopes']) ? event.data['requiredScopes'].map(String) : [],
    }));
  }

  /** Every key under the consumer's grant keys, revoked ones included (their past traffic is the consumer's). */
  private async keysOf(tenant: Tenant, consumerId: string): Promise<ApiKey[]> {
    const consumer = await this.ctx.store.consumers.find(tenant.id, consumerId);
    if (consumer === null) throw new KeygateError('CONSUMER_NOT_FOUND', `no consumer "${consumerId}" in tenant "${tenant.slug}"`);
    const keys: ApiKey[] = [];
    for (let after: string | null = null; ; ) {
      const page = await this.ctx.store.consumers.listKeysUnder(tenant.id, consumer.grants.map((g) => g.keyId), { after, limit: 500 });
      keys.push(...page.items);
      if (page.next === null) return keys;
      after = page.next;
    }
  }
}
