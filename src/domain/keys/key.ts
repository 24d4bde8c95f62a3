export interface RatelimitConfig {
  name: string;
  limit: number;
  /** Window length in milliseconds. */
  duration: number;
}

export type RefillInterval = 'daily' | 'monthly';

export interface CreditsConfig {
  remaining: number;
  refill: { amount: number; interval: RefillInterval } | null;
}

/** An API key as stored (never its secret). Times are ms since the epoch. */
export interface ApiKey {
  id: string;
  tenantId: string;
  apiId: string;
  parentId: string | null;
  start: string;
  name: string | null;
  consumer: string | null;
  /**
   * The consumer whose grant this key holds (docs/consumers.md), or null for every other key. A
   * grant key's secret was never shown to anyone; the consumer's keys are its children.
   */
  grantOf: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: number | null;
  enabled: boolean;
  revokedAt: number | null;
  ratelimits: RatelimitConfig[];
  credits: CreditsConfig | null;
  /** When credits were last refilled (ms); null until the first refill. */
  creditsRefilledAt: number | null;
  ipAllowlist: string[] | null;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

/**
 * Start of the refill period that contains `now` (UTC midnight, or the first of the month).
 * Credits refilled before this instant are due for a refill.
 */
export function refillPeriodStart(interval: RefillInterval, now: number): number {
  const d = new Date(now);
  return interval === 'daily'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/**
 * A key with every setting at its default: enabled, no scopes, no expiry, no limits. Callers
 * fill in the rest (and the display `start` once the secret exists).
 *
 * @example
 * const key = { ...newKey({ id, tenantId, apiId, parentId: null, now }), scopes: ['read:users'] };
 */
export function newKey(fields: { id: string; tenantId: string; apiId: string; parentId: string | null; now: number }): ApiKey {
  return {
    id: fields.id,
    tenantId: fields.tenantId,
    apiId: fields.apiId,
    parentId: fields.parentId,
    start: '',
    name: null,
    consumer: null,
    grantOf: null,
    scopes: [],
    meta: {},
    expiresAt: null,
    enabled: true,
    revokedAt: null,
    ratelimits: [],
    credits: null,
    creditsRefilledAt: null,
    ipAllowlist: null,
    createdAt: fields.now,
    updatedAt: fields.now,
    lastUsedAt: null,
  };
}
