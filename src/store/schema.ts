/** Row types as both backends store them: JSON as text, booleans as 0/1, times as ms integers. */
export interface TenantsTable {
  id: string;
  slug: string;
  name: string;
  signing_alg: string;
  self_signup: number;
  hs256_max_lifetime: number;
  created_at: number;
}

export interface ApisTable {
  id: string;
  tenant_id: string;
  identifier: string;
  name: string;
  key_prefix: string;
  scopes: string;
  access_token_ttl: number;
  refresh_tokens: string;
  /** GatewaySettings as JSON. */
  gateway: string;
  created_at: number;
}

/** The OpenAPI document an API's gateway routes were compiled from, as uploaded. */
export interface ApiDocumentsTable {
  api_id: string;
  tenant_id: string;
  document: string;
  format: string;
  size: number;
  /** CompiledRoutes as JSON, so the routing table rebuilds without parsing documents again. */
  routes: string;
  uploaded_at: number;
}

/** One row per Host an API with an upstream answers to: the primary key makes a claim unique across tenants. */
export interface GatewayHostsTable {
  host: string;
  api_id: string;
  tenant_id: string;
}

export interface KeysTable {
  id: string;
  tenant_id: string;
  api_id: string;
  parent_id: string | null;
  start: string;
  name: string | null;
  consumer: string | null;
  /** The consumer whose grant the key holds; null for every other key. */
  grant_of: string | null;
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
  /** Occurrences the row stands for: 1 for a change, the folded count for a denial. */
  count: number;
  /** The last occurrence of an aggregated denial; null for events kept one by one. */
  last_at: number | null;
  last_request_id: string | null;
  /** `aggregationKey` of a denial (unique: every instance adds to the same row); null otherwise. */
  aggregate_key: string | null;
}

export interface SigningKeysTable {
  kid: string;
  tenant_id: string;
  alg: string;
  public_jwk: string;
  /** The PKCS#8 PEM, sealed by crypto/envelope.ts under the master key. */
  private_key: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
  publish_until: number | null;
}

export interface ClientsTable {
  id: string;
  tenant_id: string;
  name: string;
  grant_types: string;
  scopes: string;
  token_endpoint_auth_method: string;
  jwks: string | null;
  redirect_uris: string;
  can_introspect: number;
  created_at: number;
  updated_at: number;
}

export interface ClientSecretsTable {
  /** SHA-256 of the secret, base64url. */
  hash: string;
  client_id: string;
  created_at: number;
  /** After a rotation, when this secret stops working; null while current. */
  expires_at: number | null;
}

export interface IssuedTokensTable {
  jti: string;
  tenant_id: string;
  api_id: string;
  consumer: string;
  scopes: string;
  claims_format: string;
  kid: string;
  issued_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface RevocationsTable {
  id: string;
  tenant_id: string;
  kind: string;
  subject: string;
  not_before: number | null;
  expires_at: number | null;
  created_at: number;
}

export interface Hs256SecretsTable {
  kid: string;
  tenant_id: string;
  /** The secret, sealed under the master key: HMAC needs it back, so it cannot be hashed. */
  secret: string;
  created_at: number;
  revoked_at: number | null;
}

export interface UsersTable {
  id: string;
  tenant_id: string;
  email: string;
  name: string | null;
  password_hash: string;
  created_at: number;
  updated_at: number;
  /** When an operator disabled the user; null while they may sign in. */
  disabled_at: number | null;
}

export interface SessionsTable {
  /** SHA-256 of the session cookie's value. */
  hash: string;
  tenant_id: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface InteractionsTable {
  id: string;
  tenant_id: string;
  client_id: string;
  api_id: string;
  redirect_uri: string;
  state: string | null;
  code_challenge: string | null;
  scopes: string;
  source: string;
  created_at: number;
  expires_at: number;
}

export interface GrantsTable {
  id: string;
  tenant_id: string;
  user_id: string;
  client_id: string;
  api_id: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface AuthorizationCodesTable {
  hash: string;
  tenant_id: string;
  grant_id: string;
  client_id: string;
  user_id: string;
  api_id: string;
  redirect_uri: string;
  code_challenge: string | null;
  scopes: string;
  expires_at: number;
  used_at: number | null;
}

export interface RefreshTokensTable {
  hash: string;
  family_id: string;
  tenant_id: string;
  grant_id: string;
  client_id: string;
  user_id: string;
  api_id: string;
  scopes: string;
  created_at: number;
  expires_at: number;
  family_expires_at: number;
  rotated_at: number | null;
  revoked_at: number | null;
}

export interface PasswordResetsTable {
  hash: string;
  tenant_id: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
}

/** Facts about the database itself, one row per name (the master-key check). */
export interface KeygateMetaTable {
  name: string;
  value: string;
  created_at: number;
}

/**
 * Usage analytics: one row per series and bucket (minute, hour or day), added to by every
 * instance. None is stored as '' in key, consumer and operation (the primary key cannot hold
 * NULLs); `l00`…`l20` count requests per latency bucket (`LATENCY_BOUNDS_MS`).
 */
export interface UsageCountsTable {
  tenant_id: string;
  granularity: string;
  at: number;
  api_id: string;
  key_id: string;
  consumer: string;
  operation: string;
  outcome: string;
  status_class: number;
  count: number;
  latency_sum_ms: number;
  l00: number; l01: number; l02: number; l03: number; l04: number; l05: number; l06: number;
  l07: number; l08: number; l09: number; l10: number; l11: number; l12: number; l13: number;
  l14: number; l15: number; l16: number; l17: number; l18: number; l19: number; l20: number;
}

export interface ConsumersTable {
  id: string;
  tenant_id: string;
  name: string;
  created_at: number;
  updated_at: number;
}

export interface ConsumerMembersTable {
  consumer_id: string;
  user_id: string;
  tenant_id: string;
}

/** One row per API a consumer is granted: the grant's limits live on its grant key (`key_id`). */
export interface ConsumerGrantsTable {
  consumer_id: string;
  api_id: string;
  key_id: string;
  tenant_id: string;
  max_keys: number | null;
}

/**
 * Operators: users of the system tenant who sign in to the console, with the management scopes
 * and tenant limit a root key would have. Their sessions are rows of `sessions`.
 */
export interface OperatorsTable {
  user_id: string;
  /** Management scope names as JSON. */
  scopes: string;
  /** The slug of the one tenant the operator may act on; null for all tenants. */
  tenant: string | null;
  created_at: number;
}

export interface Database {
  tenants: TenantsTable;
  apis: ApisTable;
  api_documents: ApiDocumentsTable;
  gateway_hosts: GatewayHostsTable;
  keys: KeysTable;
  key_secrets: KeySecretsTable;
  audit_events: AuditEventsTable;
  signing_keys: SigningKeysTable;
  clients: ClientsTable;
  client_secrets: ClientSecretsTable;
  issued_tokens: IssuedTokensTable;
  revocations: RevocationsTable;
  hs256_secrets: Hs256SecretsTable;
  users: UsersTable;
  sessions: SessionsTable;
  interactions: InteractionsTable;
  grants: GrantsTable;
  authorization_codes: AuthorizationCodesTable;
  refresh_tokens: RefreshTokensTable;
  password_resets: PasswordResetsTable;
  keygate_meta: KeygateMetaTable;
  usage_counts: UsageCountsTable;
  consumers: ConsumersTable;
  consumer_members: ConsumerMembersTable;
  consumer_grants: ConsumerGrantsTable;
  operators: OperatorsTable;
}
