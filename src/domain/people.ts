/**
 * People who sign in to a tenant and delegate access to apps: users, their sign-in sessions, the
 * grants they gave, and the short-lived artefacts of the authorization-code flow. Times are ms.
 */
export interface User {
  id: string;
  tenantId: string;
  /** Lower-cased; unique within the tenant. */
  email: string;
  name: string | null;
  createdAt: number;
  /** When an operator disabled the user (no sign-in, sessions ended); null while enabled. */
  disabledAt: number | null;
}

/** A person's consent to a client for some scopes of one API. Refresh tokens belong to a grant. */
export interface Grant {
  id: string;
  tenantId: string;
  userId: string;
  clientId: string;
  apiId: string;
  scopes: string[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A pending `/authorize` request while the person signs in and consents. */
export interface Interaction {
  id: string;
  tenantId: string;
  clientId: string;
  apiId: string;
  redirectUri: string;
  state: string | null;
  codeChallenge: string | null;
  scopes: string[];
  /** Where the request came from (`throttleSource`: an IPv6 caller's /64): each holds a bounded number of pending authorizations. */
  source: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Pending authorizations kept per source address and per client: anyone may start one without
 * signing in, so the newest within these bounds are kept and older ones dropped. One address
 * (a whole office behind NAT) rarely has more people mid-sign-in than this.
 */
export const INTERACTION_BOUNDS = { perSource: 100, perClient: 2000 } as const;

/** An authorization code, stored by the hash of its value. Single use, bound to all of this. */
export interface AuthorizationCode {
  hash: string;
  tenantId: string;
  grantId: string;
  clientId: string;
  userId: string;
  apiId: string;
  redirectUri: string;
  codeChallenge: string | null;
  scopes: string[];
  expiresAt: number;
  usedAt: number | null;
}

/** A refresh token, stored by hash. Rotation keeps a family; reusing a rotated one kills it. */
export interface RefreshToken {
  hash: string;
  familyId: string;
  tenantId: string;
  grantId: string;
  clientId: string;
  userId: string;
  apiId: string;
  scopes: string[];
  createdAt: number;
  /** Idle deadline: unused until then, it dies. */
  expiresAt: number;
  /** Absolute deadline of the whole family. */
  familyExpiresAt: number;
  rotatedAt: number | null;
  revokedAt: number | null;
}

/**
 * Whether presenting an already-rotated refresh token is a replay, which kills the family and the
 * grant's tokens (RFC 9700 §4.14.2), rather than a concurrent refresh by the same client within
 * the API's reuse interval (seconds; 0 means every reuse is a replay).
 *
 * @example
 * isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 1_000, 0) // true
 * isRefreshReplay({ rotatedAt: 1_000, revokedAt: null }, 3_000, 5) // false
 */
export function isRefreshReplay(token: Pick<RefreshToken, 'rotatedAt' | 'revokedAt'>, now: number, reuseIntervalS: number): boolean {
  if (token.revokedAt !== null || token.rotatedAt === null) return false;
  // A loser of a race read its clock before the winner rotated (now < rotatedAt): with no
  // interval that is a replay too, or a thief racing the app would escape detection.
  return reuseIntervalS <= 0 || now - token.rotatedAt >= reuseIntervalS * 1000;
}

export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
export const MIN_PASSWORD_LENGTH = 10;
export const AUTHORIZATION_CODE_TTL_MS = 60_000;
export const INTERACTION_TTL_MS = 10 * 60_000;

/** Emails compare case-insensitively; they are stored lower-cased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A problem with a proposed password, or null. Length is what matters (NIST SP 800-63B). */
export function passwordProblem(password: string): string | null {
  if (password.length < MIN_PASSWORD_LENGTH) return `a password needs at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > 1024) return 'a password may have at most 1024 characters';
  return null;
}
