import { ID_PREFIXES } from '../ids.js';
import { fromStructured, type StructuredScopes } from '../scopes.js';
import type { VerificationCode } from '../verification.js';

/**
 * The JWT rules Keygate applies to every token it accepts, as pure functions. Signature checks
 * happen in crypto/ (fast-jwt); everything around them — what a header may say, which claims
 * must be there, what they must be — is decided here.
 */
export const MAX_TOKEN_LENGTH = 8192;

/** Header parameters that let a token choose its own key or demand unknown processing. */
export const FORBIDDEN_HEADER_PARAMS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const;

export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export type JwtAlgorithm = SigningAlgorithm | 'HS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/**
 * A tenant's self-issued HS256 tokens name their secret with a kid of this shape (`hs_…`, the
 * typed id of an HS256 secret); Keygate's own signing keys are `sk_…`.
 */
export function isHs256Kid(kid: string): boolean {
  return kid.startsWith(`${ID_PREFIXES.hs256Secret}_`);
}

export interface JwtHeader {
  alg: string;
  kid?: string;
  typ?: string;
  [name: string]: unknown;
}

/** RFC 9068 access-token claims, with Keygate's structured-scopes alternative. */
export interface TokenClaims {
  iss: string;
  sub: string;
  aud: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  client_id?: string;
  scope?: string;
  scopes?: StructuredScopes;
  act?: { sub: string };
  /** Keygate's grant id on tokens from a person's consent, so revoking the grant revokes them. */
  gid?: string;
  [name: string]: unknown;
}

export interface DecodedJwt {
  header: JwtHeader;
  payload: TokenClaims;
}

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Three non-empty base64url segments: the shape of a compact JWS. */
export function looksLikeJwt(candidate: string): boolean {
  const first = candidate.indexOf('.');
  const second = candidate.indexOf('.', first + 1);
  return first > 0 && second > first + 1 && candidate.indexOf('.', second + 1) === -1 && second < candidate.length - 1;
}

function decodeSegment(segment: string): unknown {
  if (!SEGMENT.test(segment)) return undefined;
  const base64 = segment.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  // A plain loop: Uint8Array.from with a mapping function is ten times slower on every first-seen token.
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return JSON.parse(UTF8.decode(bytes));
}

/**
 * Decodes header and payload without verifying anything; null when the token is not a compact
 * JWS with JSON object header and payload.
 */
export function decodeJwt(token: string): DecodedJwt | null {
  if (token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) return null;
  const [h, p] = token.split('.');
  try {
    const header = decodeSegment(h!);
    const payload = decodeSegment(p!);
    if (!isObject(header) || !isObject(payload) || typeof header['alg'] !== 'string') return null;
    return { header: header as JwtHeader, payload: payload as TokenClaims };
  } catch {
    return null;
  }
}

/**
 * Whether a header is acceptable: an allowed algorithm (never `none`), a `kid`, none of the
 * parameters that let a token pick its own key, and, when `typ` is required, `at+jwt`
 * (RFC 9068 §2.1; `application/at+jwt` is the same media type).
 */
export function headerProblem(header: JwtHeader, allowed: readonly JwtAlgorithm[], options: { requireAtJwt: boolean }): string | null {
  if (!(allowed as readonly string[]).includes(header.alg)) return `alg "${header.alg}" is not allowed`;
  if (typeof header.kid !== 'string' || header.kid.length === 0) return 'kid is missing';
  for (const name of FORBIDDEN_HEADER_PARAMS) if (name in header) return `header parameter "${name}" is not accepted`;
  if (options.requireAtJwt) {
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') return 'typ must be at+jwt';
  }
  return null;
}

/**
 * The claim checks after a valid signature, in order: required claims present and well-typed
 * (MALFORMED), issuer (NOT_FOUND: not a token of this issuer), lifetime (EXPIRED — a token whose
 * `nbf` is still ahead is outside its validity window too), audience (WRONG_AUDIENCE).
 */
export function checkClaims(
  payload: TokenClaims,
  expected: { issuer: string; audience: string | null; now: number; clockToleranceSec?: number },
): VerificationCode {
  const nowSec = Math.floor(expected.now / 1000);
  const tolerance = expected.clockToleranceSec ?? 0;
  if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) return 'MALFORMED';
  if (typeof payload.iss !== 'string' || typeof payload.sub !== 'string') return 'MALFORMED';
  if (payload.nbf !== undefined && typeof payload.nbf !== 'number') return 'MALFORMED';
  if (payload.iat !== undefined && typeof payload.iat !== 'number') return 'MALFORMED';
  if (payload.scope !== undefined && typeof payload.scope !== 'string') return 'MALFORMED';
  if (payload.scopes !== undefined && !isStructuredScopes(payload.scopes)) return 'MALFORMED';
  if (payload.iss !== expected.issuer) return 'NOT_FOUND';
  if (payload.exp <= nowSec - tolerance) return 'EXPIRED';
  if (payload.nbf !== undefined && payload.nbf > nowSec + tolerance) return 'EXPIRED';
  if (expected.audience !== null) {
    const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
    if (!audiences.includes(expected.audience)) return 'WRONG_AUDIENCE';
  }
  return 'VALID';
}

/** The token's scopes, from the RFC 9068 `scope` string or the structured `scopes` object. */
export function scopesOf(payload: TokenClaims): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter((s) => s.length > 0);
  if (payload.scopes !== undefined && isStructuredScopes(payload.scopes)) return fromStructured(payload.scopes);
  return [];
}

/** The first audience, which names the API. */
export function audienceOf(payload: TokenClaims): string | null {
  const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
  return typeof aud === 'string' ? aud : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStructuredScopes(value: unknown): value is StructuredScopes {
  if (!isObject(value)) return false;
  return Object.values(value).every(
    (entry) => isObject(entry) && Array.isArray(entry['actions']) && (entry['actions'] as unknown[]).every((a) => typeof a === 'string'),
  );
}
