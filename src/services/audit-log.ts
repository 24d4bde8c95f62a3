import { aggregationKey, auditFilterProblem, type AuditEvent, type AuditFilter } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { KeygateError } from '../domain/errors.js';
import { newId } from '../crypto/secrets.js';
import type { AuditStore, Page, PageRequest } from '../store/store.js';
import type { Actor } from './context.js';

/** Pending rows (events plus folded denials) that make the writer flush before its interval. */
const FLUSH_AT_PENDING = 1000;
const DAY_MS = 86_400_000;

/**
 * Builds audit events, and writes queued ones (denials, and events of flows without a store
 * transaction) in batches so that the verify hot path never waits on the store. Denials are
 * folded in memory per `aggregationKey` (key, reason, minute) and upserted, so a flood of refused
 * requests writes a row a minute, not a row a request. Changes are written by the store together
 * with the change itself, each as its own event.
 */
export class AuditLog {
  private single: AuditEvent[] = [];
  private folded = new Map<string, AuditEvent>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();
  private readonly retentionMs: number;

  constructor(
    private readonly store: AuditStore,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
    options: { flushIntervalMs: number; retentionDays: number },
  ) {
    this.retentionMs = options.retentionDays * DAY_MS;
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  event(tenantId: string, actor: Actor, action: string, target: string | null, data: Record<string, unknown> = {}): AuditEvent {
    const at = this.clock();
    return { id: newId('event', at), tenantId, at, actor: actor.id, action, target, requestId: actor.requestId, ip: actor.ip, data };
  }

  /**
   * The tenant's events, newest first, narrowed by the filter.
   *
   * @example
   * await audit.list(tenant.id, { action: 'key.verify.denied', from: Date.parse('2026-01-01T00:00:00Z') }, { after: null, limit: 50 })
   */
  list(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>> {
    const problem = auditFilterProblem(filter);
    if (problem !== null) throw new KeygateError('INVALID_TIME_RANGE', problem);
    return this.store.list(tenantId, filter, page);
  }

  /** Rows waiting for the next write: single events, and one per folded denial. */
  get queued(): number {
    return this.single.length + this.folded.size;
  }

  /** Queues an event for the next batch; a denial adds to its minute's row instead. */
  enqueue(event: AuditEvent): void {
    const key = aggregationKey(event);
    if (key === null) {
      this.single.push(event);
    } else {
      const held = this.folded.get(key)?.aggregate;
      if (held === undefined) {
        event.aggregate = { key, count: 1, lastAt: event.at, lastRequestId: event.requestId };
        this.folded.set(key, event);
      } else {
        held.count += 1;
        if (event.at >= held.lastAt) {
          held.lastAt = event.at;
          held.lastRequestId = event.requestId;
        }
      }
    }
    if (this.queued >= FLUSH_AT_PENDING) void this.flush();
  }

  /** Writes what is queued; resolves when this batch and every earlier one are written. */
  flush(): Promise<void> {
    if (this.single.length === 0 && this.folded.size === 0) return this.flushing;
    const batch = [...this.single, ...this.folded.values()];
    this.single = [];
    this.folded = new Map();
    this.flushing = this.flushing.then(() => this.store.append(batch)).catch(this.onError);
    return this.flushing;
  }

  /**
   * Retention (housekeeping): deletes events older than `KEYGATE_AUDIT_RETENTION_DAYS`.
   *
   * @example
   * await audit.prune() // events deleted
   */
  prune(): Promise<number> {
    return this.store.prune(this.clock() - this.retentionMs);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
