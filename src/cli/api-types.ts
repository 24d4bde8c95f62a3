/**
 * The JSON shapes the management API answers with, as the CLI reads them. The CLI is a client
 * of the HTTP API, so it declares what it relies on rather than importing the server's code.
 */

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
}

export interface ScopeDefinition {
  name: string;
  description: string;
  implies?: string[];
}

export interface Api {
  id: string;
  tenant: string;
  identifier: string;
  name: string;
  keyPrefix: string;
  scopes: ScopeDefinition[];
  createdAt: string;
}

export interface Ratelimit {
  name: string;
  limit: number;
  /** Window length in milliseconds. */
  duration: number;
}

export interface Refill {
  amount: number;
  interval: 'daily' | 'monthly';
}

export interface Credits {
  remaining: number;
  refill?: Refill | null;
}

export interface KeyView {
  id: string;
  start: string;
  api: string;
  tenant: string;
  parentId: string | null;
  name: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  ratelimits: Ratelimit[];
  credits: Credits | null;
  ipAllowlist: string[] | null;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
}

/** A key view with its secret, as create, roll and sub-key creation answer (once). */
export interface IssuedKey extends KeyView {
  key: string;
}

export interface RootKeyCreated {
  id: string;
  key: string;
  scopes: string[];
  tenant: string | null;
}

export interface VerificationResult {
  valid: boolean;
  code: string;
  keyId: string | null;
  tenant: string | null;
  api: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  ratelimits: { name: string; limit: number; remaining: number; reset: string }[];
  credits: { remaining: number } | null;
}

export interface AuditEvent {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  requestId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
}
