import type { FastifyInstance } from 'fastify';
import { clientPowerRefusal } from '../../domain/clients.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { presentedClient } from './client-auth.js';
import { endpointsOf } from './endpoints.js';
import { formOf, param, requiredParam } from './form.js';
import { tenantOf } from './tenant-of.js';

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

    const answer = await keygate.introspection.introspect(tenant, client, token);
    if (!answer.active) return { active: false };
    const { claims } = answer;
    return {
      active: true,
      scope: answer.scopes.join(' '),
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
