import { retryAfterSeconds } from '../../cluster/cluster.js';
import type { FastifyInstance } from 'fastify';
import { clientPowerRefusal } from '../../domain/clients.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { presentedClient } from './client-auth.js';
import { endpointsOf } from './endpoints.js';
import { formOf, param, requiredParam } from './form.js';
import { tenantOf } from './tenant-of.js';

/** Inactive answers one client may receive per minute before it is slowed down (token scanning). */
export const INTROSPECTION_MISSES_PER_MINUTE = 60;

/**
 * POST /t/{slug}/oauth/introspect — RFC 7662. A confidential client may introspect tokens issued
 * to itself; one with `canIntrospect` any token of its tenant; a public client none
 * (`clientPowerRefusal` decides). An inactive token — or one the client
 * may not see — is `{"active": false}` and nothing else.
 */
export function introspectRoute(app: FastifyInstance, keygate: Keygate): void {
  app.post('/t/:slug/oauth/introspect', { schema: { hide: true } }, async (request, reply) => {
    const tenant = await tenantOf(keygate, request);
    const form = formOf(request.body);
    const token = requiredParam(form, 'token');
    param(form, 'token_type_hint');
    const endpoints = endpointsOf(keygate, tenant.slug);
    const client = await keygate.clientAuth.authenticate(tenant, presentedClient(request, form), [endpoints.introspection, endpoints.token, endpoints.issuer]);
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    // A public client has not authenticated (anyone can send its id): RFC 7662 §2.1 wants real
    // authorization here, so it may not introspect at all, even if stored with canIntrospect.
    const refusal = clientPowerRefusal(client, { introspect: 'own' });
    if (refusal !== null) throw new OAuthError('invalid_client', refusal);

    const missKey = `introspect-miss:${tenant.id}:${client.id}`;
    const misses = await keygate.cluster.counters.read(missKey);
    if (misses.count >= INTROSPECTION_MISSES_PER_MINUTE) {
      throw new OAuthError('invalid_request', 'too many inactive tokens introspected; slow down', {
        status: 429,
        // The counters expire on Keygate's clock, so Retry-After is counted on it too.
        retryAfter: retryAfterSeconds(misses.expiresAt, keygate.clock()),
      });
    }
    const { result, claims } = await keygate.jwts.verify(token, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
    const visible = claims !== null && clientPowerRefusal(client, { introspect: claims.client_id === client.id ? 'own' : 'any' }) === null;
    if (!result.valid || !visible) {
      await keygate.cluster.counters.increment(missKey, 60_000);
      return { active: false };
    }
    return {
      active: true,
      scope: result.scopes.join(' '),
      ...(typeof claims.client_id === 'string' ? { client_id: claims.client_id } : {}),
      sub: claims.sub,
      aud: claims.aud,
      iss: claims.iss,
      exp: claims.exp,
      iat: claims.iat,
      jti: claims.jti,
      token_type: 'Bearer',
    };
  });
}
