import { describe, expect, it } from 'vitest';
import { isRevoked, longestTokenLifetimeSec, markKey, revocationCause, type RevocationState } from '../../../src/domain/tokens/revocation.js';
import { CLOCK_SKEW_SEC } from '../../../src/domain/tokens/jwt.js';
import { MAX_EXCHANGE_DEPTH, subjectLinks } from '../../../src/domain/tokens/exchange.js';

const API = 'https://api.example.test';
const IAT = 1_781_524_800;
const state = (jtis: string[] = [], marks: Record<string, number> = {}): RevocationState => ({ jtis: new Set(jtis), notBefore: new Map(Object.entries(marks)) });
/** A token of client cli_app for consumer acme, from grant grt_1, for API. */
const token = { jti: 'tok_1', iat: IAT, client_id: 'cli_app', sub: 'acme', gid: 'grt_1', aud: API };

describe('revocationCause: the one revocation rule', () => {
  it('is null for a token nothing names', () => {
    expect(revocationCause(token, state())).toBeNull();
    expect(revocationCause(token, state(['tok_2'], { [markKey('client', 'cli_other')]: IAT + 10 }))).toBeNull();
    expect(isRevoked(token, state())).toBe(false);
  });

  it('revokes by the token\'s own jti', () => {
    expect(revocationCause(token, state(['tok_1']))).toEqual({ kind: 'jti' });
    expect(isRevoked(token, state(['tok_1']))).toBe(true);
  });

  it.each([
    ['client', 'cli_app'],
    ['consumer', 'acme'],
    ['grant', 'grt_1'],
    ['api', API],
  ] as const)('revokes by a %s mark: tokens issued at or before its second, never after', (kind, subject) => {
    const mark = markKey(kind, subject);
    expect(revocationCause(token, state([], { [mark]: IAT }))).toEqual({ kind: 'mark', mark, notBefore: IAT });
    expect(revocationCause(token, state([], { [mark]: IAT + 5 }))).toEqual({ kind: 'mark', mark, notBefore: IAT + 5 });
    expect(revocationCause(token, state([], { [mark]: IAT - 1 }))).toBeNull();
  });

  it('names each mark by its kind: a consumer mark does not cut off a client of the same name', () => {
    expect(revocationCause(token, state([], { [markKey('consumer', 'cli_app')]: IAT }))).toBeNull();
    expect(revocationCause(token, state([], { [markKey('client', 'acme')]: IAT }))).toBeNull();
    expect(revocationCause(token, state([], { [markKey('api', 'acme')]: IAT }))).toBeNull();
  });

  it('reads the api mark from the first audience, and the grant mark only from a string gid', () => {
    const mark = markKey('api', API);
    expect(revocationCause({ ...token, aud: [API, 'https://other.test'] }, state([], { [mark]: IAT }))).toEqual({ kind: 'mark', mark, notBefore: IAT });
    expect(revocationCause({ ...token, aud: ['https://other.test', API] }, state([], { [mark]: IAT }))).toBeNull();
    expect(revocationCause({ ...token, gid: ['grt_1'] }, state([], { [markKey('grant', 'grt_1')]: IAT }))).toBeNull();
  });

  it('takes a token without iat as issued at the epoch: every mark cuts it off', () => {
    const { iat: _iat, ...undated } = token;
    expect(revocationCause(undated, state([], { [markKey('consumer', 'acme')]: 0 }))).toMatchObject({ kind: 'mark', mark: 'consumer:acme' });
  });

  it('answers the jti before any mark, and the client before consumer, grant and api marks', () => {
    const all = { [markKey('client', 'cli_app')]: IAT, [markKey('consumer', 'acme')]: IAT, [markKey('grant', 'grt_1')]: IAT, [markKey('api', API)]: IAT };
    expect(revocationCause(token, state(['tok_1'], all))).toEqual({ kind: 'jti' });
    expect(revocationCause(token, state([], all))).toMatchObject({ mark: 'client:cli_app' });
    const { [markKey('client', 'cli_app')]: _client, ...rest } = all;
    expect(revocationCause(token, state([], rest))).toMatchObject({ mark: 'consumer:acme' });
  });

  describe('lineage: an exchanged token dies with every token it was exchanged from', () => {
    const exchanged = {
      jti: 'tok_x',
      iat: IAT + 100,
      client_id: 'cli_service',
      sub: 'acme',
      aud: API,
      exchanged_from: [
        { jti: 'tok_s1', client_id: 'cli_app', iat: IAT + 50 },
        { jti: 'tok_s0', client_id: 'cli_root', iat: IAT },
      ],
    };

    it('is revoked by the jti of any token of its lineage', () => {
      expect(revocationCause(exchanged, state(['tok_s1']))).toEqual({ kind: 'jti' });
      expect(revocationCause(exchanged, state(['tok_s0']))).toEqual({ kind: 'jti' });
    });

    it('is revoked by a client mark at or after the iat of the ancestor that client was issued', () => {
      expect(revocationCause(exchanged, state([], { [markKey('client', 'cli_root')]: IAT }))).toEqual({ kind: 'mark', mark: 'client:cli_root', notBefore: IAT });
      expect(revocationCause(exchanged, state([], { [markKey('client', 'cli_root')]: IAT - 1 }))).toBeNull();
      expect(revocationCause(exchanged, state([], { [markKey('client', 'cli_app')]: IAT + 49 }))).toBeNull();
      expect(revocationCause(exchanged, state([], { [markKey('client', 'cli_service')]: IAT + 100 }))).toMatchObject({ mark: 'client:cli_service' });
    });

    it('ignores a lineage claim that is not a list of links', () => {
      expect(revocationCause({ ...exchanged, exchanged_from: 'tok_s1' }, state(['tok_s1']))).toBeNull();
      expect(revocationCause({ ...exchanged, exchanged_from: [{ jti: 7 }] }, state(['7']))).toBeNull();
    });
  });
});

describe('longestTokenLifetimeSec', () => {
  it('is the longer of the HS256 cap and the longest access token, plus the clock skew', () => {
    expect(longestTokenLifetimeSec({ hs256MaxLifetimeSec: 86_400, maxAccessTokenTtlSec: 3_600 })).toBe(86_400 + CLOCK_SKEW_SEC);
    expect(longestTokenLifetimeSec({ hs256MaxLifetimeSec: 600, maxAccessTokenTtlSec: 7_200 })).toBe(7_200 + CLOCK_SKEW_SEC);
  });
});

describe('subjectLinks: the lineage an exchanged token carries, read defensively', () => {
  it('keeps only well-typed fields, skips non-objects, and reads at most MAX_EXCHANGE_DEPTH entries', () => {
    const lineage = [{ jti: 'a', client_id: 'cli_1', iat: 10, extra: true }, null, 'b', { jti: 7, client_id: 'cli_2', iat: '9' }, { iat: 8 }, { jti: 'beyond' }];
    expect(subjectLinks(lineage)).toStrictEqual([{ jti: 'a', client_id: 'cli_1', iat: 10 }, { client_id: 'cli_2' }]);
    expect(subjectLinks(lineage.slice(4))).toStrictEqual([{ iat: 8 }, { jti: 'beyond' }]);
    expect(subjectLinks(lineage).length).toBeLessThanOrEqual(MAX_EXCHANGE_DEPTH);
    expect(subjectLinks('a')).toStrictEqual([]);
    expect(subjectLinks({ 0: { jti: 'a' }, length: 1 })).toStrictEqual([]);
  });
});
