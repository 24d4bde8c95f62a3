import { createHmac } from 'node:crypto';

/** The header that carries a webhook delivery's signature. */
export const WEBHOOK_SIGNATURE_HEADER = 'keygate-signature';

/**
 * The `Keygate-Signature` value for a webhook body: `t={unix seconds},v1={hex HMAC-SHA256 of
 * "{t}.{body}"}`. The timestamp is signed with the body so a receiver can refuse old deliveries
 * (replays); docs/people.md shows how a receiver checks it.
 *
 * @example
 * signWebhook('a-secret-of-at-least-32-characters!!', 1767225600, '{"type":"password_reset"}')
 * // 't=1767225600,v1=…'
 */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}
