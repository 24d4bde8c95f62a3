/**
 * The one verification result for every credential. A failed verification is data, not an
 * exception: `code` is from a closed set and the API owner's verify call sees it exactly.
 */
export const VERIFICATION_CODES = [
  'VALID',
  'NOT_FOUND',
  'EXPIRED',
  'REVOKED',
  'DISABLED',
  'INSUFFICIENT_SCOPE',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
  'IP_NOT_ALLOWED',
  'WRONG_AUDIENCE',
  'MALFORMED',
] as const;

export type VerificationCode = (typeof VERIFICATION_CODES)[number];

export interface RatelimitState {
  name: string;
  limit: number;
  remaining: number;
  /** UTC ISO-8601 time at which the window has fully slid past the current requests. */
  reset: string;
  /**
   * The limit's window in seconds: set by the in-process verify (the gateway's `RateLimit-Policy`
   * reads it), not part of the `POST /v1/verify` answer.
   */
  window?: number;
}

export interface VerificationResult {
  valid: boolean;
  code: VerificationCode;
  keyId: string | null;
  tenant: string | null;
  api: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  ratelimits: RatelimitState[];
  credits: { remaining: number } | null;
}

/**
 * A result that names nothing: for a credential that matched nothing, not even the format, or a
 * JWT refused before its signature was checked (its claims are not Keygate's to report).
 */
export function emptyResult(code: Exclude<VerificationCode, 'VALID'>): VerificationResult {
  return {
    valid: false,
    code,
    keyId: null,
    tenant: null,
    api: null,
    consumer: null,
    scopes: [],
    meta: {},
    expiresAt: null,
    ratelimits: [],
    credits: null,
  };
}
