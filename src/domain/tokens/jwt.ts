import { Buffer, isAscii, isUtf8 } from 'node:buffer';
import { ID_PREFIXES } from '../ids.js';
import { fromStructured, type StructuredScopes } from '../scopes.js';
import type { VerificationCode } from '../verification.js';

/**
 * The JWT rules Keygate applies to every token it accepts, as pure functions. Signature checks
 * happen in crypto/ (node:crypto); everything around them — what a header may say, which claims
 * must be there, what they must be — is decided here, and `pipeline.ts` runs them in one order.
 */
export const MAX_TOKEN_LENGTH = 8192;

/** Header parameters that let a token choose its own key or demand unknown processing. */
export const FORBIDDEN_HEADER_PARAMS = ['jku', 'x5u', 'jwk', 'x5c', 'crit'] as const;

/** The algorithms a tenant's signing key may use. */
export type SigningAlgorithm = 'EdDSA' | 'ES256' | 'RS256';
export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'ES256', 'RS256'];

/**
 * Every algorithm Keygate's JOSE stack checks: its tokens' and tenants' HS256 ones, plus the two
 * more a client may sign a `private_key_jwt` assertion with. `none` is not one of them.
 */
export const JWS_ALGORITHMS = ['HS256', 'EdDSA', 'ES256', 'ES384', 'RS256', 'PS256'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

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

/** The value of each base64url character (RFC 4648 §5), -1 for every other code below 128. */
const BASE64URL_VALUES = ((): Int8Array => {
  const values = new Int8Array(128).fill(-1);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i;
  return values;
})();

/** Only base64url characters: no `=` padding, no whitespace, no `+` or `/`. */
const BASE64URL_TEXT = /^[A-Za-z0-9_-]*$/;

/**
 * Whether `text[from, to)` is base64url as strictly as RFC 7515 §2 requires: only
 * `A-Z a-z 0-9 - _`, no `=` padding, no whitespace, no `+` or `/`, and the canonical encoding
 * only (unused trailing bits zero), so one byte string has exactly one accepted spelling.
 *
 * @example
 * isBase64url('eyJhIjoxfQ') // true
 * isBase64url('eyJhIjoxfR') // false: a trailing bit set that encodes nothing
 */
export function isBase64url(text: string, from = 0, to = text.length): boolean {
  const length = to - from;
  const rest = length % 4;
  if (length < 0 || rest === 1) return false;
  // One native scan (no per-character JavaScript): this runs on every segment of every first-seen token.
  if (!BASE64URL_TEXT.test(from === 0 && to === text.length ? text : text.slice(from, to))) return false;
  // The last character of 2 (3) leftover characters carries 4 (2) bits that encode nothing.
  return rest === 0 || (BASE64URL_VALUES[text.charCodeAt(to - 1)]! & (rest === 2 ? 0b1111 : 0b11)) === 0;
}

/**
 * The one base64url decoder for JWS segments (headers, payloads, signatures, client assertions),
 * strict as `isBase64url`: null for anything else. Node's own decoder, which skips what it does
 * not know, runs only on text that passed.
 *
 * @example
 * decodeBase64url('eyJhIjoxfQ') // bytes of '{"a":1}'
 * decodeBase64url('eyJhIjoxfQ==') // null
 */
export function decodeBase64url(text: string, from = 0, to = text.length): Buffer | null {
  if (!isBase64url(text, from, to)) return null;
  return Buffer.from(from === 0 && to === text.length ? text : text.slice(from, to), 'base64url');
}

/** Three non-empty base64url segments: the shape of a compact JWS. */
export function looksLikeJwt(candidate: string): boolean {
  const first = candidate.indexOf('.');
  const second = candidate.indexOf('.', first + 1);
  return first > 0 && second > first + 1 && candidate.indexOf('.', second + 1) === -1 && second < candidate.length - 1;
}

/** The UTF-8 byte order mark, which a JSON parser may ignore (RFC 8259 §8.1), as TextDecoder does. */
const BOM = [0xef, 0xbb, 0xbf] as const;

/**
 * Where JSON segments are decoded: a header or payload of a token under MAX_TOKEN_LENGTH fits
 * (3 bytes for every 4 characters). Decoding is synchronous, so one buffer serves every call.
 */
const segmentScratch = Buffer.alloc(MAX_TOKEN_LENGTH);

function decodeJsonSegment(token: string, from: number, to: number): unknown {
  if (!isBase64url(token, from, to)) return undefined;
  const length = segmentScratch.write(token.slice(from, to), 'base64url');
  // Invalid UTF-8 is refused (as a fatal TextDecoder would), never replaced.
  const bytes = segmentScratch.subarray(0, length);
  if (!isAscii(bytes) && !isUtf8(bytes)) return undefined;
  const start = bytes[0] === BOM[0] && bytes[1] === BOM[1] && bytes[2] === BOM[2] ? 3 : 0;
  return JSON.parse(bytes.toString('utf8', start));
}

/**
 * Decoded headers by their base64url text: the tokens of one issuer and key share one header,
 * so it is decoded once, not per token. The same text always decodes to the same header, and
 * the kept ones are frozen, so sharing one cannot change what a verifier reads. Bounded: it
 * starts again once full.
 */
const decodedHeaders = new Map<string, JwtHeader>();
const MAX_DECODED_HEADERS = 256;

/** The last header decoded or found, and its text: comparing it with the next token's costs less than hashing that token's header text. */
let lastHeader: { text: string; header: JwtHeader } | null = null;

function headerOf(token: string, end: number): JwtHeader | null {
  if (lastHeader !== null && end === lastHeader.text.length && token.startsWith(lastHeader.text)) return lastHeader.header;
  const text = token.slice(0, end);
  const known = decodedHeaders.get(text);
  if (known !== undefined) {
    lastHeader = { text, header: known };
    return known;
  }
  const header = decodeJsonSegment(token, 0, end);
  if (!isObject(header) || typeof header['alg'] !== 'string') return null;
  if (decodedHeaders.size >= MAX_DECODED_HEADERS) decodedHeaders.clear();
  decodedHeaders.set(text, Object.freeze(header) as JwtHeader);
  lastHeader = { text, header: header as JwtHeader };
  return header as JwtHeader;
}

/**
 * Decodes header and payload without verifying anything; null when the token is not a compact
 * JWS of three strict base64url segments (the signature's too) with JSON object header and payload.
 * The header is shared and frozen (`headerOf`).
 */
export function decodeJwt(token: string): DecodedJwt | null {
  if (token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) return null;
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  // The signature is only checked for its spelling here; the signature step checks the rest.
  if (!isBase64url(token, second + 1)) return null;
  try {
    const header = headerOf(token, first);
    const payload = decodeJsonSegment(token, first + 1, second);
    if (header === null || !isObject(payload)) return null;
    return { header, payload: payload as TokenClaims };
  } catch {
    return null;
  }
}

/**
 * Whether a header is acceptable: an allowed algorithm (never `none`), a `kid`, none of the
 * parameters that let a token pick its own key, and, when `typ` is required, `at+jwt`
 * (RFC 9068 §2.1; `application/at+jwt` is the same media type).
 */
export function headerProblem(header: JwtHeader, allowed: readonly JwsAlgorithm[], options: { requireAtJwt: boolean; requireKid?: boolean }): string | null {
  if (!(allowed as readonly string[]).includes(header.alg)) return `alg "${header.alg}" is not allowed`;
  if ((options.requireKid ?? true) && (typeof header.kid !== 'string' || header.kid.length === 0)) return 'kid is missing';
  if (header.kid !== undefined && typeof header.kid !== 'string') return 'kid is not a string';
  for (const name of FORBIDDEN_HEADER_PARAMS) if (name in header) return `header parameter "${name}" is not accepted`;
  if (options.requireAtJwt) {
    const typ = typeof header.typ === 'string' ? header.typ.toLowerCase() : '';
    if (typ !== 'at+jwt' && typ !== 'application/at+jwt') return 'typ must be at+jwt';
  }
  return null;
}

/**
 * The latest NumericDate Keygate accepts: 9999-12-31T23:59:59Z, the last second an ISO-8601
 * date can name. A later, negative or fractional `exp`, `iat` or `nbf` is not a date but an
 * attack on whoever does arithmetic with it.
 */
export const MAX_NUMERIC_DATE = 253_402_300_799;

/** How far ahead of Keygate's clock a self-issued token's `iat` may be (its issuer's clock drifts). */
export const CLOCK_SKEW_SEC = 60;

/** The default cap on a self-issued HS256 token's lifetime, `exp - iat`: one day. */
export const DEFAULT_HS256_MAX_LIFETIME_SEC = 86_400;

/** An integral number of seconds between 1970 and 9999 (RFC 7519 §2, with the bounds a verifier needs). */
export function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_NUMERIC_DATE;
}

/**
 * Whether the claims have the shape every accepted token has: `exp`, `iss`, `sub`, and well-typed
 * optional claims, every date a NumericDate. Needs no clock.
 */
export function claimsAreWellFormed(payload: TokenClaims): boolean {
  if (!isNumericDate(payload.exp)) return false;
  if (typeof payload.iss !== 'string' || typeof payload.sub !== 'string') return false;
  if (payload.nbf !== undefined && !isNumericDate(payload.nbf)) return false;
  if (payload.iat !== undefined && !isNumericDate(payload.iat)) return false;
  if (payload.scope !== undefined && typeof payload.scope !== 'string') return false;
  return payload.scopes === undefined || isStructuredScopes(payload.scopes);
}

/**
 * The claim checks after a valid signature, in order: required claims present and well-typed
 * (MALFORMED), issuer (NOT_FOUND: not a token of this issuer), the bounds on a self-issued token
 * (MALFORMED), lifetime (EXPIRED — a token whose `nbf` is still ahead is outside its validity
 * window too), audience (WRONG_AUDIENCE).
 *
 * A self-issued token (`selfIssued`, a tenant's HS256 token: someone other than Keygate chose its
 * claims) must carry `iat`, not dated beyond `CLOCK_SKEW_SEC` ahead (a future `iat` would dodge
 * every cut-off made before it), and live at most `maxLifetimeSec`. A claim that breaks those
 * bounds is MALFORMED, like a date that is no date (`exp` 1e15, negative, fractional, a string):
 * the token is one Keygate does not accept at all, not one outside its validity window.
 *
 * @example
 * checkClaims(payload, { issuer, audience: 'https://api.example.com', now: clock(), selfIssued: { maxLifetimeSec: 86_400 } })
 */
export function checkClaims(
  payload: TokenClaims,
  expected: { issuer: string; audience: string | readonly string[] | null; now: number; clockToleranceSec?: number; selfIssued?: { maxLifetimeSec: number } | undefined },
): VerificationCode {
  const nowSec = Math.floor(expected.now / 1000);
  const tolerance = expected.clockToleranceSec ?? 0;
  if (!claimsAreWellFormed(payload)) return 'MALFORMED';
  const exp = payload.exp!;
  if (payload.iss !== expected.issuer) return 'NOT_FOUND';
  if (expected.selfIssued !== undefined) {
    const iat = payload.iat;
    if (iat === undefined || iat > nowSec + CLOCK_SKEW_SEC + tolerance || exp - iat > expected.selfIssued.maxLifetimeSec) return 'MALFORMED';
  }
  if (exp <= nowSec - tolerance) return 'EXPIRED';
  if (payload.nbf !== undefined && payload.nbf > nowSec + tolerance) return 'EXPIRED';
  if (expected.audience !== null && !hasAudience(payload.aud, expected.audience)) return 'WRONG_AUDIENCE';
  return 'VALID';
}

/** Whether `aud` (a string or an array) names the expected audience, or one of the expected ones. */
function hasAudience(aud: unknown, expected: string | readonly string[]): boolean {
  // A single audience is the common case: compared without an array around it.
  if (typeof aud === 'string') return typeof expected === 'string' ? aud === expected : expected.includes(aud);
  if (!Array.isArray(aud)) return false;
  const audiences: readonly unknown[] = aud;
  if (typeof expected === 'string') return audiences.includes(expected);
  return audiences.some((candidate) => typeof candidate === 'string' && expected.includes(candidate));
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
