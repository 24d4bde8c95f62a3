import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { presentedClient } from './client-auth.js';
import { endpointsOf } from './endpoints.js';
import { formOf, param, requiredParam } from './form.js';
import { tenantOf } from './tenant-of.js';

/**
 * POST /t/{slug}/oauth/revoke — RFC 7009. A client revokes a token Keygate issued to it: an access
 * token by its jti (a tenant's self-issued HS256 tokens are revoked through the management API); a refresh token with its whole grant (its access tokens too). Anything
 * else (unknown, invalid, someone else's) is answered 200 the same way, as §2.2 requires, so the
 * endpoint reveals nothing about tokens.
 */
export function revokeRoute(app: FastifyInstance, keygate: Keygate): void {
  app.post('/t/:slug/oauth/revoke', { schema: { hide: true } }, async (request, reply) => {
    const tenant = await tenantOf(keygate, request);
    const form = formOf(request.body);
    const token = requiredParam(form, 'token');
    param(form, 'token_type_hint');
    const endpoints = endpointsOf(keygate, tenant.slug);
    const client = await keygate.clientAuth.authenticate(tenant, presentedClient(request, form), [endpoints.revocation, endpoints.token, endpoints.issuer]);
    const actor = { id: client.id, requestId: request.id, ip: request.ip };
    if (token.startsWith('kgrt_')) {
      await keygate.delegation.revokeRefreshToken(actor, tenant, client, token);
    } else {
      const { claims, issuedByKeygate } = await keygate.jwts.verify(token, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
      // Only a token Keygate issued to this client: a self-issued token's client_id and jti are
      // whatever its signer wrote, and its jti could be another client's token's.
      if (claims !== null && issuedByKeygate && typeof claims.jti === 'string' && claims.client_id === client.id) {
        await keygate.revocations.revokeJti(actor, tenant, claims.jti, typeof claims.exp === 'number' ? claims.exp * 1000 : null);
      }
    }
    return reply.header('cache-control', 'no-store').code(200).send();
  });
}
