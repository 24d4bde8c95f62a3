import { allowanceFor } from '../clients.js';

/**
 * RFC 8693 token exchange: what a client may get for a token it received. The exchanged token
 * names, in its `exchanged_from` claim, the token it came from and that token's own ancestors,
 * so every revocation of an ancestor (its jti, its client's cut-off; the person's grant travels
 * as `gid`) revokes it too, wherever the revocation feed is followed.
 */

/** The claim in which an exchanged token names its subject token and that token's ancestors. */
export const EXCHANGED_FROM_CLAIM = 'exchanged_from';

/** Exchanges of exchanges stop here, so a token stays small and its lineage short. */
export const MAX_EXCHANGE_DEPTH = 4;

/** One ancestor of an exchanged token: enough for its revocation marks to apply. */
export interface SubjectLink {
  jti?: string;
  client_id?: string;
  iat?: number;
}

/** The verified subject token of an exchange. */
export interface SubjectToken {
  /** The audience (API identifier) it was issued for. */
  audience: string;
  /** The scopes it holds, implications included. */
  scopes: readonly string[];
  claims: { jti?: unknown; client_id?: unknown; iat?: unknown; exp?: unknown; [EXCHANGED_FROM_CLAIM]?: unknown };
}

export type ExchangeDecision =
  | { ok: true; scopes: string[]; exchangedFrom: SubjectLink[]; notAfter: number | null }
  | { ok: false; error: 'invalid_request' | 'invalid_scope'; description: string };

/**
 * The links an exchanged token carries, read defensively (a tenant's own HS256 tokens can carry
 * any claims; a malformed entry is skipped, which can only make a token less revocable if the
 * signer itself wrote garbage).
 *
 * @example
 * subjectLinks([{ jti: 'a', client_id: 'cli_1', iat: 10 }]) // [{ jti: 'a', client_id: 'cli_1', iat: 10 }]
 */
export function subjectLinks(value: unknown): SubjectLink[] {
  if (!Array.isArray(value)) return [];
  const links: SubjectLink[] = [];
  // Read on every verify of an exchanged token (revocationCause): plain assignments, not
  // conditional spreads, which cost more than the rest of a cached verify.
  for (let i = 0; i < value.length && i < MAX_EXCHANGE_DEPTH; i++) {
    const entry: unknown = value[i];
    if (typeof entry !== 'object' || entry === null) continue;
    const { jti, client_id: clientId, iat } = entry as Record<string, unknown>;
    const link: SubjectLink = {};
    if (typeof jti === 'string') link.jti = jti;
    if (typeof clientId === 'string') link.client_id = clientId;
    if (typeof iat === 'number') link.iat = iat;
    links.push(link);
  }
  return links;
}

/**
 * The one rule of token exchange. Only a client that legitimately receives the subject token may
 * exchange it: the token's audience must be an API the client has an allowance for (a resource
 * server exchanging what was sent to it), else any exchange-capable client could turn a
 * person's token for one API into one for another. The new token's scopes are within the
 * subject's scopes and the client's allowance on the target; it expires no later than its
 * subject. Refusals use RFC 8693 §2.2.2's codes: an unacceptable subject token is
 * `invalid_request` ("MUST"), a scope outside what may be had `invalid_scope`. The target API
 * itself is checked against the allowance before this (`invalid_target`).
 *
 * @example
 * decideExchange({ allowance: { 'https://a': ['read'], 'https://b': ['read'] }, subject, target: 'https://b', requested: null })
 */
export function decideExchange(input: {
  /** The exchanging client's allowance: API identifier → scopes. */
  allowance: Readonly<Record<string, readonly string[]>>;
  subject: SubjectToken;
  target: string;
  /** The `scope` parameter split, or null when absent (then: all that may be had). */
  requested: readonly string[] | null;
}): ExchangeDecision {
  const { allowance, subject } = input;
  if (allowanceFor(allowance, subject.audience) === undefined) {
    return { ok: false, error: 'invalid_request', description: 'the subject token was not issued for an API this client serves' };
  }
  const ancestors = subjectLinks(subject.claims[EXCHANGED_FROM_CLAIM]);
  if (ancestors.length >= MAX_EXCHANGE_DEPTH) {
    return { ok: false, error: 'invalid_request', description: `the subject token has already been exchanged ${MAX_EXCHANGE_DEPTH} times` };
  }
  const mayHave = new Set(allowanceFor(allowance, input.target) ?? []);
  const held = new Set(subject.scopes);
  if (input.requested !== null) {
    const outside = input.requested.find((s) => !mayHave.has(s) || !held.has(s));
    if (outside !== undefined) return { ok: false, error: 'invalid_scope', description: `scope "${outside}" is not both held by the subject token and allowed for this client and resource` };
  }
  const scopes = input.requested === null ? [...mayHave].filter((s) => held.has(s)) : [...new Set(input.requested)];
  if (scopes.length === 0) return { ok: false, error: 'invalid_scope', description: 'the subject token holds no scope this client may have for the resource' };
  const { jti, client_id: clientId, iat, exp } = subject.claims;
  const link: SubjectLink = {
    ...(typeof jti === 'string' ? { jti } : {}),
    ...(typeof clientId === 'string' ? { client_id: clientId } : {}),
    ...(typeof iat === 'number' ? { iat } : {}),
  };
  return { ok: true, scopes, exchangedFrom: [link, ...ancestors], notAfter: typeof exp === 'number' ? exp : null };
}
