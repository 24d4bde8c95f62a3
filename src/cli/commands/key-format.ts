import type { Credits, KeyView, Ratelimit, VerificationResult } from '../api-types.js';
import { formatDuration } from '../../domain/durations.js';
import { formatFields, type Cell } from '../format-table.js';

/**
 * One word for a key's state, most final first: a revoked key stays revoked whatever else is
 * true of it.
 *
 * @example
 * keyStatus(key, { now: Date.now() }); // 'active'
 */
export function keyStatus(key: KeyView, options: { now: number }): 'revoked' | 'disabled' | 'expired' | 'active' {
  if (key.revokedAt !== null) return 'revoked';
  if (!key.enabled) return 'disabled';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= options.now) return 'expired';
  return 'active';
}

/**
 * A key as `field  value` lines; field names are those of the JSON so `--json` output maps
 * one to one.
 *
 * @example
 * print(formatKey(key, { now: Date.now() }));
 */
export function formatKey(key: KeyView, options: { now: number }): string {
  const fields: [string, Cell][] = [
    ['id', key.id],
    ['status', keyStatus(key, options)],
    ['name', key.name],
    ['api', key.api],
    ['tenant', key.tenant],
    ['consumer', key.consumer],
    ['scopes', key.scopes.join(' ')],
    ['start', key.start],
    ['parentId', key.parentId],
    ['expiresAt', key.expiresAt ?? 'never'],
    ['ratelimits', key.ratelimits.length ? key.ratelimits.map(formatRatelimit).join(', ') : 'none'],
    ['credits', formatCredits(key.credits)],
    ['ipAllowlist', key.ipAllowlist?.join(' ') ?? 'any address'],
    ['meta', Object.keys(key.meta).length ? JSON.stringify(key.meta) : null],
    ['createdAt', key.createdAt],
    ['updatedAt', key.updatedAt],
    ['lastUsedAt', key.lastUsedAt ?? 'never'],
  ];
  if (key.revokedAt !== null) fields.splice(2, 0, ['revokedAt', key.revokedAt]);
  return formatFields(fields);
}

/**
 * A verification result as `field  value` lines, `valid` and `code` first.
 *
 * @example
 * print(formatVerification(result));
 */
export function formatVerification(result: VerificationResult): string {
  const fields: [string, Cell][] = [
    ['valid', result.valid],
    ['code', result.code],
    ['keyId', result.keyId],
    ['tenant', result.tenant],
    ['api', result.api],
    ['consumer', result.consumer],
    ['scopes', result.scopes.join(' ')],
    ['expiresAt', result.expiresAt],
  ];
  for (const limit of result.ratelimits) fields.push([`ratelimit ${limit.name}`, `${limit.remaining}/${limit.limit} left, resets ${limit.reset}`]);
  if (result.credits) fields.push(['credits', `${result.credits.remaining} left`]);
  if (Object.keys(result.meta).length) fields.push(['meta', JSON.stringify(result.meta)]);
  return formatFields(fields);
}

function formatRatelimit(limit: Ratelimit): string {
  return `${limit.name} ${limit.limit}/${formatDuration(limit.duration)}`;
}

function formatCredits(credits: Credits | null): string {
  if (credits === null) return 'unlimited';
  const refill = credits.refill ? ` (refill ${credits.refill.amount} ${credits.refill.interval})` : '';
  return `${credits.remaining} left${refill}`;
}
