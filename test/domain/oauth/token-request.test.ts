import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../../src/domain/oauth/errors.js';
import { grantedScopes, requestedApi, scopeParameter } from '../../../src/domain/oauth/token-request.js';

const ALLOWANCE = { 'https://a.test': ['read', 'write'], 'https://b.test': ['read'] };
const none = { resource: undefined, audience: undefined };

function refusal(run: () => unknown): { code: string; message: string } | null {
  try {
    run();
    return null;
  } catch (err) {
    expect(err).toBeInstanceOf(OAuthError);
    return { code: (err as OAuthError).code, message: (err as OAuthError).message };
  }
}

/** The rules client credentials and token exchange share, moved out of http/ into the domain (issue 9). */
describe('requestedApi', () => {
  it('takes resource or audience, and both only when they agree', () => {
    expect(requestedApi(ALLOWANCE, { resource: 'https://a.test', audience: undefined })).toBe('https://a.test');
    expect(requestedApi(ALLOWANCE, { resource: undefined, audience: 'https://b.test' })).toBe('https://b.test');
    expect(requestedApi(ALLOWANCE, { resource: 'https://a.test', audience: 'https://a.test' })).toBe('https://a.test');
    expect(refusal(() => requestedApi(ALLOWANCE, { resource: 'https://a.test', audience: 'https://b.test' }))).toEqual({ code: 'invalid_target', message: 'resource and audience name different APIs' });
  });

  it('names the one API of a client that may reach only one, and asks for it otherwise', () => {
    expect(requestedApi({ 'https://a.test': [] }, none)).toBe('https://a.test');
    expect(refusal(() => requestedApi(ALLOWANCE, none))?.code).toBe('invalid_target');
    expect(refusal(() => requestedApi({}, none))?.code).toBe('invalid_target');
  });

  it('refuses an API outside the allowance, Object.prototype members included', () => {
    for (const resource of ['https://c.test', 'constructor', 'toString', '__proto__']) {
      expect(refusal(() => requestedApi(ALLOWANCE, { resource, audience: undefined })), resource).toEqual({ code: 'invalid_target', message: 'the client may not get tokens for this resource' });
    }
  });
});

describe('scopeParameter and grantedScopes', () => {
  it('splits the scope parameter without repeats; absent is null, empty is no scope', () => {
    expect(scopeParameter(undefined)).toBeNull();
    expect(scopeParameter('')).toEqual([]);
    expect(scopeParameter(' read  write read ')).toEqual(['read', 'write']);
  });

  it('grants what is asked within the allowance, everything when nothing is asked', () => {
    expect(grantedScopes(['read', 'write'], null)).toEqual(['read', 'write']);
    expect(grantedScopes(['read', 'write'], ['write'])).toEqual(['write']);
    expect(grantedScopes(['read'], [])).toEqual([]);
    expect(refusal(() => grantedScopes(['read'], ['read', 'admin']))).toEqual({ code: 'invalid_scope', message: 'scope "admin" is not allowed for this client and resource' });
  });
});
