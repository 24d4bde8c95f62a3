import { describe, expect, it } from 'vitest';
import { newKey, type ApiKey } from '../../../src/domain/keys/key.js';
import { keyAlerts } from '../../../src/domain/keys/key-alerts.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-06T12:00:00Z');

function key(fields: Partial<ApiKey>): ApiKey {
  return { ...newKey({ id: 'key_1', tenantId: 'ten_1', apiId: 'api_1', parentId: null, now: NOW - DAY }), ...fields };
}

describe('keyAlerts', () => {
  it('announces an expiry within 14 days, not one further off', () => {
    expect(keyAlerts([key({ expiresAt: NOW + 14 * DAY })], NOW).map((a) => a.kind)).toEqual(['expiring']);
    expect(keyAlerts([key({ expiresAt: NOW + 14 * DAY + 1 })], NOW)).toEqual([]);
  });

  it('finds credits under 10 % of the refill amount, or none left without a refill', () => {
    const refill = { amount: 100, interval: 'monthly' as const };
    expect(keyAlerts([key({ credits: { remaining: 9, refill } })], NOW)).toMatchObject([{ kind: 'low-credits', remaining: 9, refillAmount: 100 }]);
    expect(keyAlerts([key({ credits: { remaining: 10, refill } })], NOW)).toEqual([]);
    expect(keyAlerts([key({ credits: { remaining: 0, refill: null } })], NOW)).toMatchObject([{ kind: 'low-credits', remaining: 0, refillAmount: null }]);
    expect(keyAlerts([key({ credits: { remaining: 1, refill: null } })], NOW)).toEqual([]);
  });

  it('finds keys unused for 90 days, counting a never-used key from its creation', () => {
    expect(keyAlerts([key({ createdAt: NOW - 90 * DAY })], NOW)).toMatchObject([{ kind: 'unused', lastUsedAt: null }]);
    expect(keyAlerts([key({ createdAt: NOW - 200 * DAY, lastUsedAt: NOW - 89 * DAY })], NOW)).toEqual([]);
    expect(keyAlerts([key({ createdAt: NOW - 200 * DAY, lastUsedAt: NOW - 91 * DAY })], NOW).map((a) => a.kind)).toEqual(['unused']);
  });

  it('says nothing of revoked or expired keys', () => {
    const stale = { createdAt: NOW - 200 * DAY, credits: { remaining: 0, refill: null } };
    expect(keyAlerts([key({ ...stale, revokedAt: NOW - DAY }), key({ ...stale, expiresAt: NOW })], NOW)).toEqual([]);
  });
});
