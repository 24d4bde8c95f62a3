/** An append-only record of a change or a denied attempt. Never holds a secret. */
export interface AuditEvent {
  id: string;
  tenantId: string;
  /** When it happened; for an aggregated denial, the first occurrence. */
  at: number;
  /** Who acted: a root key id, a key id (sub-key creation), or `system`. */
  actor: string;
  action: string;
  /** The id of what was acted on (key, API, tenant). */
  target: string | null;
  /** The request (and source address) of the event, or of an aggregated denial's first occurrence. */
  requestId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  /** Present on denials: how many occurrences the row stands for, and the last of them. */
  aggregate?: AuditAggregate;
}

/**
 * Many denials of one kind folded into one row, so a flood of refused requests writes a row a
 * minute instead of a row a request. Every instance adds to the same row, found by `key`.
 */
export interface AuditAggregate {
  key: string;
  count: number;
  lastAt: number;
  lastRequestId: string | null;
}

/** Aggregated rows cover at most this span, so a count still says when the denials came. */
export const AGGREGATION_WINDOW_MS = 60_000;

/** What a listing of the audit log may narrow to; times in ms, `from` inclusive, `to` exclusive. */
export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  /** Events about any of these ids (a portal reads the denials of a consumer's keys in one query); empty: none. */
  targets?: readonly string[];
  from?: number;
  to?: number;
}

/**
 * Which row a denial adds to, or null for events that are kept one by one. Every action ending in
 * `.denied` is a denial; its occurrences fold together per tenant, action, actor, target (the key,
 * token or client), reason (`data.code`, else `data.reason`) and UTC minute. Management changes
 * never end in `.denied`, so each stays its own event.
 *
 * @example
 * aggregationKey({ action: 'key.verify.denied', target: 'key_1', data: { code: 'RATE_LIMITED' }, at: 90_000, … })
 * // '["ten_1","key.verify.denied","verify","key_1","RATE_LIMITED",1]'
 */
export function aggregationKey(event: Pick<AuditEvent, 'tenantId' | 'action' | 'actor' | 'target' | 'data' | 'at'>): string | null {
  if (!event.action.endsWith('.denied')) return null;
  const reason = event.data['code'] ?? event.data['reason'] ?? null;
  // JSON of an array: no separator a client id or a reason could forge to reach another row.
  return JSON.stringify([event.tenantId, event.action, event.actor, event.target, reason, Math.floor(event.at / AGGREGATION_WINDOW_MS)]);
}

/**
 * The filter's problem, or null when its time range can select something.
 *
 * @example
 * auditFilterProblem({ from: 2, to: 1 }) // '`from` must be before `to`'
 */
export function auditFilterProblem(filter: AuditFilter): string | null {
  if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to) return '`from` must be before `to`';
  return null;
}
