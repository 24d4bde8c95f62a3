import type { ApiKey } from './key.js';

/** How far ahead an expiry is announced. */
export const EXPIRY_NOTICE_MS = 14 * 86_400_000;

/** A key unused (or never used since it was created) this long is worth a look. */
export const UNUSED_AFTER_MS = 90 * 86_400_000;

/** Credits are low under this share of what a refill tops up. */
export const LOW_CREDITS_SHARE = 0.1;

/** Something about a key its holder should act on. Times are ms since the epoch. */
export type KeyAlert =
  | { kind: 'expiring'; key: ApiKey; expiresAt: number }
  | { kind: 'low-credits'; key: ApiKey; remaining: number; refillAmount: number | null }
  | { kind: 'unused'; key: ApiKey; lastUsedAt: number | null };

/**
 * The alerts of live keys (neither revoked nor expired) at `now`, in the keys' order: an expiry
 * within 14 days; credits under 10 % of their refill amount, or none left when they have no
 * refill (there is then nothing to measure a share against); no use for 90 days, counting a key
 * never used from its creation.
 *
 * @example
 * keyAlerts([{ ...key, expiresAt: now + 86_400_000 }], now) // [{ kind: 'expiring', key, expiresAt: now + 86_400_000 }]
 */
export function keyAlerts(keys: readonly ApiKey[], now: number): KeyAlert[] {
  const alerts: KeyAlert[] = [];
  for (const key of keys) {
    if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) continue;
    if (key.expiresAt !== null && key.expiresAt - now <= EXPIRY_NOTICE_MS) alerts.push({ kind: 'expiring', key, expiresAt: key.expiresAt });
    if (key.credits !== null) {
      const refillAmount = key.credits.refill?.amount ?? null;
      const low = refillAmount === null ? key.credits.remaining === 0 : key.credits.remaining < refillAmount * LOW_CREDITS_SHARE;
      if (low) alerts.push({ kind: 'low-credits', key, remaining: key.credits.remaining, refillAmount });
    }
    if (now - (key.lastUsedAt ?? key.createdAt) >= UNUSED_AFTER_MS) alerts.push({ kind: 'unused', key, lastUsedAt: key.lastUsedAt });
  }
  return alerts;
}
