import { retryAfterSeconds } from '../cluster/cluster.js';
import { clientPowerRefusal, type Client } from '../domain/clients.js';
import { OAuthError } from '../domain/oauth/errors.js';
import type { Tenant } from '../domain/tenants.js';
import type { TokenClaims } from '../domain/tokens/jwt.js';
import type { ServiceContext } from './context.js';
import type { JwtVerifier } from './jwt-verifier.js';

/** Inactive answers one client may receive per minute before it is slowed down (token scanning). */
export const INTROSPECTION_MISSES_PER_MINUTE = 60;
const MISS_WINDOW_MS = 60_000;

/** What introspection tells a client: nothing for a token it may not see or that is not active. */
export type Introspection = { active: false } | { active: true; scopes: string[]; claims: TokenClaims };

/**
 * RFC 7662 introspection for a client that has authenticated and may introspect at all. A token
 * the client may not see (`clientPowerRefusal`: its own tokens, or any of the tenant's with
 * `canIntrospect`) answers as an inactive one does, and every inactive answer counts against the
 * client: a client scanning for tokens is slowed down, across instances (shared counters).
 */
export class IntrospectionService {
  constructor(
    private readonly ctx: Pick<ServiceContext, 'cluster' | 'clock'>,
    private readonly jwts: Pick<JwtVerifier, 'verify'>,
  ) {}

  /**
   * Throws invalid_request with status 429 and a Retry-After once the client has had
   * INTROSPECTION_MISSES_PER_MINUTE inactive answers in the current minute.
   *
   * @example
   * const answer = await introspection.introspect(tenant, client, token);
   * if (answer.active) answer.claims.sub;
   */
  async introspect(tenant: Tenant, client: Client, token: string): Promise<Introspection> {
    const missKey = `introspect-miss:${tenant.id}:${client.id}`;
    const misses = await this.ctx.cluster.counters.read(missKey);
    if (misses.count >= INTROSPECTION_MISSES_PER_MINUTE) {
      throw new OAuthError('invalid_request', 'too many inactive tokens introspected; slow down', {
        status: 429,
        // The counters expire on Keygate's clock, so Retry-After is counted on it too.
        retryAfter: retryAfterSeconds(misses.expiresAt, this.ctx.clock()),
      });
    }
    const { result, claims } = await this.jwts.verify(token, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
    const visible = claims !== null && clientPowerRefusal(client, { introspect: claims.client_id === client.id ? 'own' : 'any' }) === null;
    if (!result.valid || !visible) {
      await this.ctx.cluster.counters.increment(missKey, MISS_WINDOW_MS);
      return { active: false };
    }
    return { active: true, scopes: result.scopes, claims };
  }
}
