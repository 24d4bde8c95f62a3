import type { AuditEvent } from '../domain/audit.js';
import type { Clock } from '../domain/clock.js';
import { newId } from '../crypto/secrets.js';
import type { Page, PageRequest, Store } from '../store/store.js';
import type { Actor } from './context.js';

/**
 * Builds audit events, and writes denied verifications in batches so that the verify hot path
 * never waits on the store. Changes are written by the store together with the change itself.
 */
export class AuditLog {
  private pending: AuditEvent[] = [];
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
    options: { flushIntervalMs: number },
  ) {
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs);
    this.timer.unref();
  }

  event(tenantId: string, actor: Actor, action: string, target: string | null, data: Record<string, unknown> = {}): AuditEvent {
    const at = this.clock();
    return { id: newId('event', at), tenantId, at, actor: actor.id, action, target, requestId: actor.requestId, ip: actor.ip, data };
  }

  /** The tenant's events, oldest first. */
  list(tenantId: string, page: PageRequest): Promise<Page<AuditEvent>> {
    return this.store.listAudit(tenantId, page);
  }

  /** Queues an event for the next batch (denied verifications). */
  enqueue(event: AuditEvent): void {
    this.pending.push(event);
    if (this.pending.length >= 1000) void this.flush();
  }

  flush(): Promise<void> {
    const batch = this.pending;
    if (batch.length === 0) return this.flushing;
    this.pending = [];
    this.flushing = this.flushing.then(() => this.store.appendAudit(batch)).catch(this.onError);
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
