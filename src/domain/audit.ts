/** An append-only record of a change or a denied attempt. Never holds a secret. */
export interface AuditEvent {
  id: string;
  tenantId: string;
  at: number;
  /** Who acted: a root key id, a key id (sub-key creation), or `system`. */
  actor: string;
  action: string;
  /** The id of what was acted on (key, API, tenant). */
  target: string | null;
  requestId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
}
