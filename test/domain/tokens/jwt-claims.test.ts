import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW_SEC, MAX_NUMERIC_DATE, checkClaims, type TokenClaims } from '../../../src/domain/tokens/jwt.js';

const ISSUER = 'https://keygate.example.test/t/acme';
const API = 'https://api.example.test';
const now = Date.UTC(2026, 5, 15, 12) + 400; // mid-second: claims are whole seconds, the clock is not
const nowSec = Math.floor(now / 1000);

const claims = (fields: Record<string, unknown> = {}): TokenClaims => ({ iss: ISSUER, sub: 'svc', aud: API, iat: nowSec, exp: nowSec + 300, ...fields }) as TokenClaims;
const check = (payload: TokenClaims, expected: { audience?: string | null; clockToleranceSec?: number; selfIssued?: { maxLifetimeSec: number } } = {}): string =>
  checkClaims(payload, { issuer: ISSUER, audience: API, now, ...expected });

describe('checkClaims: the claim rules after a valid signature (RFC 9068 shape)', () => {
  it('accepts a well-formed token of this issuer and audience', () => {
    expect(check(claims())).toBe('VALID');
    expect(check(claims({ aud: ['https://other.test', API] }))).toBe('VALID');
    expect(check(claims(), { audience: null })).toBe('VALID');
  });

  it('refuses missing or ill-typed required claims as MALFORMED', () => {
    for (const fields of [
      { exp: undefined },
      { exp: '1781524800' },
      { exp: 1.5 },
      { exp: -1 },
      { exp: MAX_NUMERIC_DATE + 1 },
      { iss: 7 },
      { sub: undefined },
      { nbf: 'soon' },
      { iat: 1e15 },
      { scope: ['read:users'] },
      { scopes: { users: { actions: 'read' } } },
    ]) {
      expect(check(claims(fields)), JSON.stringify(fields)).toBe('MALFORMED');
    }
  });

  it('checks in order: shape, issuer, self-issued bounds, lifetime, audience', () => {
    const everythingWrong = { iss: 'https://stranger.test', exp: nowSec - 10, aud: 'https://other.test', iat: undefined };
    expect(check(claims({ ...everythingWrong, sub: 1 }), { selfIssued: { maxLifetimeSec: 600 } })).toBe('MALFORMED');
    expect(check(claims(everythingWrong), { selfIssued: { maxLifetimeSec: 600 } })).toBe('NOT_FOUND');
    expect(check(claims({ ...everythingWrong, iss: ISSUER }), { selfIssued: { maxLifetimeSec: 600 } })).toBe('MALFORMED');
    expect(check(claims({ ...everythingWrong, iss: ISSUER, iat: nowSec - 20 }), { selfIssued: { maxLifetimeSec: 600 } })).toBe('EXPIRED');
    expect(check(claims({ ...everythingWrong, iss: ISSUER, iat: nowSec - 20, exp: nowSec + 10 }), { selfIssued: { maxLifetimeSec: 600 } })).toBe('WRONG_AUDIENCE');
  });

  it('expires at exp (whole seconds), and tolerance moves the edge', () => {
    expect(check(claims({ exp: nowSec + 1 }))).toBe('VALID');
    expect(check(claims({ exp: nowSec }))).toBe('EXPIRED');
    expect(check(claims({ exp: nowSec - 30 }), { clockToleranceSec: 31 })).toBe('VALID');
    expect(check(claims({ exp: nowSec - 30 }), { clockToleranceSec: 30 })).toBe('EXPIRED');
  });

  it('refuses a token whose nbf is still ahead as EXPIRED (outside its validity window), within tolerance', () => {
    expect(check(claims({ nbf: nowSec }))).toBe('VALID');
    expect(check(claims({ nbf: nowSec + 1 }))).toBe('EXPIRED');
    expect(check(claims({ nbf: nowSec + 5 }), { clockToleranceSec: 5 })).toBe('VALID');
    expect(check(claims({ nbf: nowSec + 6 }), { clockToleranceSec: 5 })).toBe('EXPIRED');
  });

  it('needs no iat from Keygate\'s own tokens, and takes a future iat as it is', () => {
    expect(check(claims({ iat: undefined }))).toBe('VALID');
    expect(check(claims({ iat: nowSec + 3600, exp: nowSec + 7200 }))).toBe('VALID');
  });

  it('bounds a self-issued token: iat required, at most CLOCK_SKEW_SEC (plus tolerance) ahead, exp - iat at most the cap', () => {
    const selfIssued = { maxLifetimeSec: 600 };
    expect(check(claims({ iat: undefined }), { selfIssued })).toBe('MALFORMED');
    expect(check(claims({ iat: nowSec + CLOCK_SKEW_SEC, exp: nowSec + CLOCK_SKEW_SEC + 60 }), { selfIssued })).toBe('VALID');
    expect(check(claims({ iat: nowSec + CLOCK_SKEW_SEC + 1, exp: nowSec + CLOCK_SKEW_SEC + 60 }), { selfIssued })).toBe('MALFORMED');
    expect(check(claims({ iat: nowSec + CLOCK_SKEW_SEC + 10, exp: nowSec + CLOCK_SKEW_SEC + 60 }), { selfIssued, clockToleranceSec: 10 })).toBe('VALID');
    expect(check(claims({ iat: nowSec, exp: nowSec + 600 }), { selfIssued })).toBe('VALID');
    expect(check(claims({ iat: nowSec, exp: nowSec + 601 }), { selfIssued })).toBe('MALFORMED');
  });

  it('answers NOT_FOUND for another issuer and WRONG_AUDIENCE for another API', () => {
    expect(check(claims({ iss: `${ISSUER}/` }))).toBe('NOT_FOUND');
    expect(check(claims({ aud: 'https://other.test' }))).toBe('WRONG_AUDIENCE');
    expect(check(claims({ aud: [] }))).toBe('WRONG_AUDIENCE');
  });
});
