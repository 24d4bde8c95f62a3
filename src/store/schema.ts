/** Row types as both backends store them: JSON as text, booleans as 0/1, times as ms integers. */
export interface TenantsTable {
  id: string;
  slug: string;
  name: string;
  created_at: number;
}

export interface ApisTable {
  id: string;
  tenant_id: string;
  identifier: string;
  name: string;
  key_prefix: string;
  scopes: string;
  created_at: number;
}

export interface KeysTable {
  id: string;
  tenant_id: string;
  api_id: string;
  parent_id: string | null;
  start: string;
  name: string | null;
  consumer: string | null;
  scopes: string;
  meta: string;
  expires_at: number | null;
  enabled: number;
  revoked_at: number | null;
  ratelimits: string;
  credits_remaining: number | null;
  credits_refill_amount: number | null;
  credits_refill_interval: string | null;
  credits_refilled_at: number | null;
  ip_allowlist: string | null;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
  usage_count: number;
}

export interface KeySecretsTable {
  /** SHA-256 of the whole key string, base64url. */
  hash: string;
  key_id: string;
  /** After a roll, when this secret stops working; null while it is the current secret. */
  retired_at: number | null;
  created_at: number;
}

export interface AuditEventsTable {
  id: string;
  tenant_id: string;
  at: number;
  actor: string;
  action: string;
  target: string | null;
  request_id: string | null;
  ip: string | null;
  data: string;
}

export interface Database {
  tenants: TenantsTable;
  apis: ApisTable;
  keys: KeysTable;
  key_secrets: KeySecretsTable;
  audit_events: AuditEventsTable;
}
