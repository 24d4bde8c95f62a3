import type { ApiKey } from '../../../domain/keys/key.js';
import { KeygateError } from '../../../domain/errors.js';
import type { VerificationCode } from '../../../domain/verification.js';

/** A key id as `newId('key', …)` makes them: anything else in a URL names no key. */
export const KEY_ID = /^key_[0-9a-f]{12}[0-9A-Za-z]{16}$/;

/** A UTC time for people: `2026-12-06 16:55 UTC`, or `never`. */
export function when(ms: number | null, never = 'never'): string {
  return ms === null ? never : `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export type KeyStatus = 'active' | 'revoked' | 'expired' | 'disabled';

/** A key's own state at `now` (a revoked or expired ancestor revokes or bounds it in the store too). */
export function keyStatus(key: ApiKey, now: number): KeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'expired';
  if (!key.enabled) return 'disabled';
  return 'active';
}

/** Why the services refused a member's request, in words a member can act on. */
export function refusalText(err: KeygateError): string {
  const scope = /"([^"]+)"/.exec(err.message)?.[1];
  switch (err.code) {
    case 'SCOPE_NOT_ALLOWED':
      return `Refused: “${scope ?? 'that scope'}” is not within what the key is created under (your consumer's grant, or the key you start from), so no key of yours can hold it.`;
    case 'UNKNOWN_SCOPE':
      return `Refused: the API has no scope “${scope ?? ''}”.`;
    case 'EXPIRY_AFTER_PARENT':
      return `Refused: the key cannot outlive what it is created under: ${err.message.replace(/^a sub-key must/, 'it must')}.`;
    case 'EXPIRY_IN_PAST':
      return 'Refused: the expiry date must be in the future.';
    case 'CONSUMER_KEY_LIMIT_REACHED':
    case 'SUBKEY_LIMIT_REACHED':
      return 'Refused: you already hold as many keys as you may. Revoke one you no longer use first.';
    case 'KEY_NOT_FOUND':
      return 'Refused: your consumer has no such key.';
    case 'KEY_REVOKED':
      return 'Refused: that key is revoked.';
    case 'KEY_CANNOT_MINT':
      return `Refused: ${err.message.replace(/^the key/, 'that key')}.`;
    case 'API_NOT_GRANTED':
    case 'API_NOT_FOUND':
      return 'Refused: your consumer holds no grant on that API.';
    case 'NOT_A_MEMBER':
      return 'Refused: you are no longer a member of this consumer.';
    default:
      return `Refused: ${err.message}.`;
  }
}

/** A request's outcome in words: `allowed`, or why it was refused (the verification codes, and the gateway's NO_ROUTE). */
export function outcomeText(outcome: string): string {
  return OUTCOMES[outcome] ?? outcome;
}

// Every verification code but VALID has words here: the compiler asks for a new code's.
const OUTCOMES: Readonly<Record<Exclude<VerificationCode, 'VALID'> | 'allowed' | 'NO_ROUTE', string>> & Readonly<Record<string, string>> = {
  allowed: 'allowed',
  INSUFFICIENT_SCOPE: 'missing scope',
  RATE_LIMITED: 'rate limit reached',
  USAGE_EXCEEDED: 'out of credits',
  EXPIRED: 'key expired',
  REVOKED: 'key revoked',
  DISABLED: 'key disabled',
  IP_NOT_ALLOWED: 'address not allowed',
  WRONG_AUDIENCE: 'key is for another API',
  NOT_FOUND: 'unknown key',
  MALFORMED: 'malformed credential',
  NO_ROUTE: 'no such operation',
};
