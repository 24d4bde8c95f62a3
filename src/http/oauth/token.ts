import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clientPowerRefusal, type Client } from '../../domain/clients.js';
import type { Tenant } from '../../domain/tenants.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import { TOKEN_EXCHANGE, isGrantType, type GrantType } from '../../domain/oauth/registry.js';
import type { TokenResponse } from '../../domain/oauth/token-request.js';
import type { Actor } from '../../services/context.js';
import type { Keygate } from '../../services/keygate.js';
import { presentedClient } from './client-auth.js';
import { endpointsOf } from './endpoints.js';
import { formOf, requiredParam, type Form } from './form.js';
import { authorizationCodeGrant } from './grants/authorization-code.js';
import { clientCredentialsGrant } from './grants/client-credentials.js';
import { refreshTokenGrant } from './grants/refresh-token.js';
import { tokenExchangeGrant } from './grants/token-exchange.js';
import { tenantOf } from './tenant-of.js';

/** `actor` is the authenticated client, with the request's id and source for the audit log. */
type Grant = (keygate: Keygate, tenant: Tenant, client: Client, form: Form, actor: Actor) => Promise<TokenResponse>;

/** One handler for every grant type of the registry (domain/oauth/registry.ts), and no other. */
export const GRANT_HANDLERS: Readonly<Record<GrantType, Grant>> = {
  client_credentials: clientCredentialsGrant,
  authorization_code: authorizationCodeGrant,
  refresh_token: refreshTokenGrant,
  [TOKEN_EXCHANGE]: tokenExchangeGrant,
};

/**
 * POST /t/{slug}/oauth/token — a pipeline: tenant → form → client authentication → grant type
 * allowed for the client (`clientPowerRefusal`, which also holds stored public clients to the
 * rules) → grant handler → RFC 6749 §5.1 response with `Cache-Control: no-store`.
 */
export function tokenRoute(app: FastifyInstance, keygate: Keygate): void {
  const { tokenDuration, tokensIssued } = keygate.metrics;
  const timed = {
    schema: { hide: true },
    onResponse: (_request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      tokenDuration.observe(reply.elapsedTime / 1000);
      done();
    },
  };
  app.post('/t/:slug/oauth/token', timed, async (request, reply) => {
    const tenant = await tenantOf(keygate, request);
    const form = formOf(request.body);
    const grantType = requiredParam(form, 'grant_type');
    if (!isGrantType(grantType)) throw new OAuthError('unsupported_grant_type', `grant_type "${grantType}" is not supported`);
    const endpoints = endpointsOf(keygate, tenant.slug);
    const client = await keygate.clientAuth.authenticate(tenant, presentedClient(request, form), [endpoints.token, endpoints.issuer]);
    const refusal = clientPowerRefusal(client, { grant: grantType });
    if (refusal !== null) throw new OAuthError('unauthorized_client', refusal);
    const response = await GRANT_HANDLERS[grantType](keygate, tenant, client, form, { id: client.id, requestId: request.id, ip: request.ip });
    tokensIssued[grantType].inc();
    return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(response);
  });
}
