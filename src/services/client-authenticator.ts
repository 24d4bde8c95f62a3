import { retryAfterSeconds } from '../cluster/cluster.js';
import { jwksKeys, type JwksKeys } from '../crypto/jwks.js';
import { hashSecret, safeEqual } from '../crypto/secrets.js';
import type { Client } from '../domain/clients.js';
import { ASSERTION_ALGORITHMS, type TokenEndpointAuthMethod } from '../domain/oauth/registry.js';
import type { Tenant } from '../domain/tenants.js';
import { throttleSource } from '../domain/throttle-source.js';
import { authenticateJwt, claimsStep, isRejection, type JwtSource, type TokenProfile } from '../domain/tokens/pipeline.js';
import { OAuthError } from '../domain/oauth/errors.js';
import type { ClientSecretRecord } from '../store/store.js';
import type { ServiceContextWith } from './context.js';
import { usesSecret } from './clients-service.js';

/** What a request presented to authenticate a client (RFC 6749 §2.3, RFC 7523 §2.2). */
export interface PresentedClient {
  method: TokenEndpointAuthMethod;
  clientId: string;
  secret?: string;
  assertion?: string;
  /** The caller's address: failures are throttled per client and source, and audited with it. */
  address: string;
  /** The request's id, so a failure in the audit log leads to its log lines. */
  requestId: string;
}

/** Failed authentications of one client id from one source that trigger its cool-down, and its length. */
export const FAILURES_PER_SOURCE = 10;
export const FAILURE_WINDOW_MS = 60_000;
const MAX_ASSERTION_LIFETIME_S = 600;

/** A `private_key_jwt` assertion (RFC 7523 §3): signed with a key of the client's JWKS, named by kid or the only one that fits. */
const ASSERTION_TOKENS: TokenProfile = Object.freeze({ algorithms: ASSERTION_ALGORITHMS, requireAtJwt: false, requireKid: false, clockToleranceSec: 5 });
const DUMMY_HASH = hashSecret('keygate-no-such-client');

/**
 * Client authentication for the token, revocation and introspection endpoints. Every failure is
 * the same `invalid_client` (which check failed goes to the audit log only); secrets are compared
 * by hash in constant time. `authenticate` is the one function that decides the failure
 * throttle: ten failures for one client id from one source (`throttleSource`: the IPv4 address,
 * the IPv6 /64) within a minute make that source wait out the rest of the minute (429
 * `invalid_client` with Retry-After), whether or not its next attempt is right. Other sources,
 * the legitimate holder among them, are not affected: a throttle per client id alone let anyone
 * who knows a client id lock its holder out.
 */
export class ClientAuthenticator {
  private readonly clientKeys = new WeakMap<object, JwksKeys>();

  constructor(private readonly ctx: ServiceContextWith<never>) {}

  async authenticate(tenant: Tenant, presented: PresentedClient, audiences: readonly string[]): Promise<Client> {
    const throttleKey = `authfail:${tenant.id}:${presented.clientId.slice(0, 128)}:${throttleSource(presented.address)}`;
    const now = this.ctx.clock();
    // Failures are counted after the check, not before: a check is one SHA-256 (or one signature),
    // so the few extra checks concurrent requests get cannot matter against 256-bit secrets, and a
    // successful request costs one counter read instead of a write and its undo.
    const failures = await this.ctx.cluster.counters.read(throttleKey);
    if (failures.count >= FAILURES_PER_SOURCE) {
      throw new OAuthError('invalid_client', 'too many failed authentications; wait before retrying', {
        status: 429,
        retryAfter: retryAfterSeconds(failures.expiresAt, now),
      });
    }
    const found = presented.clientId.length <= 128 ? await this.ctx.directory.client(tenant.id, presented.clientId) : null;
    const client = found?.client ?? null;
    const reason = await this.check(tenant, client, found?.secrets ?? [], presented, audiences, now);
    if (reason === null) return client!;
    await this.ctx.cluster.counters.increment(throttleKey, FAILURE_WINDOW_MS);
    // The target is a client that exists, never the id as presented: denials fold per target, and
    // anyone can invent ids, so an invented one per request would write a row per request. The
    // first invented id of a row is kept in its data.
    const target = client?.id ?? null;
    const data = client === null ? { reason, method: presented.method, clientId: presented.clientId.slice(0, 128) } : { reason, method: presented.method };
    this.ctx.audit.enqueue(this.ctx.audit.event(tenant.id, { id: 'oauth', requestId: presented.requestId, ip: presented.address }, 'client.auth.denied', target, data));
    throw new OAuthError('invalid_client', 'client authentication failed');
  }

  /** Null when the client is authenticated, else the reason (for the audit log only). */
  private async check(
    tenant: Tenant,
    client: Client | null,
    secrets: readonly ClientSecretRecord[],
    presented: PresentedClient,
    audiences: readonly string[],
    now: number,
  ): Promise<string | null> {
    if (presented.method === 'none') {
      return client !== null && client.tokenEndpointAuthMethod === 'none' ? null : 'public client not allowed';
    }
    if (presented.method === 'private_key_jwt') return this.checkAssertion(tenant, client, presented, audiences, now);
    // Hash and compare even for an unknown client, so timing does not reveal which ids exist.
    const presentedHash = hashSecret(presented.secret ?? '');
    const records = client !== null && usesSecret(client) ? secrets : [];
    let match = false;
    for (const record of records.length > 0 ? records : [{ hash: DUMMY_HASH, expiresAt: null }]) {
      const live = record.expiresAt === null || record.expiresAt > now;
      if (safeEqual(presentedHash, record.hash) && live) match = true;
    }
    if (client === null) return 'unknown client';
    if (client.tokenEndpointAuthMethod !== presented.method) return `client is registered for ${client.tokenEndpointAuthMethod}`;
    return match ? null : 'wrong secret';
  }

  private async checkAssertion(tenant: Tenant, client: Client | null, presented: PresentedClient, audiences: readonly string[], now: number): Promise<string | null> {
    if (client === null) return 'unknown client';
    if (client.tokenEndpointAuthMethod !== 'private_key_jwt' || client.jwks === null) return `client is registered for ${client.tokenEndpointAuthMethod}`;
    const keys = this.keysOf(client.jwks);
    const source: JwtSource<JwksKeys> = {
      issuer: (iss) => (iss === client.id ? { issuer: client.id, profile: ASSERTION_TOKENS, context: keys } : null),
      key: (issuer, header) => issuer.context.find(header),
    };
    const authenticated = await authenticateJwt(presented.assertion ?? '', source);
    // The reason is the step's code alone: denials fold by reason (docs/audit.md), and an
    // assertion's kid or alg is the attacker's text.
    if (isRejection(authenticated)) return `assertion rejected: ${authenticated.code}`;
    const { payload } = authenticated;
    const claims = claimsStep(payload, client.id, { profile: ASSERTION_TOKENS, audience: audiences, now });
    if (claims !== null) return `assertion rejected: ${claims.code}`;
    if (payload.sub !== client.id) return 'assertion rejected: sub is not the client id';
    if (typeof payload.jti !== 'string' || payload.jti.length === 0) return 'assertion rejected: no jti';
    if (payload.exp! - Math.floor(now / 1000) > MAX_ASSERTION_LIFETIME_S) return 'assertion lives too long';
    const ttl = (payload.exp! + 5) * 1000 - now;
    const fresh = await this.ctx.cluster.counters.claimOnce(`assertion:${tenant.id}:${client.id}:${payload.jti}`, Math.max(ttl, 1000));
    return fresh ? null : 'assertion replayed';
  }

  /** The client's JWKS as verification keys, read once per stored JWKS object (a client update stores a new one). */
  private keysOf(jwks: NonNullable<Client['jwks']>): JwksKeys {
    let keys = this.clientKeys.get(jwks);
    if (keys === undefined) {
      keys = jwksKeys(jwks, ASSERTION_ALGORITHMS);
      this.clientKeys.set(jwks, keys);
    }
    return keys;
  }
}
