import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { JWKS_MAX_AGE_SECONDS } from '../../services/signing-keys-service.js';
import type { Keygate } from '../../services/keygate.js';
import { endpointsOf } from './endpoints.js';
import { tenantOf } from './tenant-of.js';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'];

/**
 * RFC 8414 metadata, at both the RFC's path-insertion location and the path-appended one that
 * many clients try, and the tenant's JWKS with cache headers.
 */
export function discoveryRoutes(app: FastifyInstance, keygate: Keygate): void {
  const metadata = async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = await tenantOf(keygate, request);
    const endpoints = endpointsOf(keygate, tenant.slug);
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return {
      issuer: endpoints.issuer,
      token_endpoint: endpoints.token,
      jwks_uri: endpoints.jwks,
      revocation_endpoint: endpoints.revocation,
      introspection_endpoint: endpoints.introspection,
      authorization_endpoint: `${endpoints.issuer}/oauth/authorize`,
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
      token_endpoint_auth_methods_supported: AUTH_METHODS,
      token_endpoint_auth_signing_alg_values_supported: ['EdDSA', 'ES256', 'RS256', 'PS256'],
      revocation_endpoint_auth_methods_supported: AUTH_METHODS,
      introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    };
  };
  app.get('/.well-known/oauth-authorization-server/t/:slug', { schema: { hide: true } }, metadata);
  app.get('/t/:slug/.well-known/oauth-authorization-server', { schema: { hide: true } }, metadata);

  app.get('/t/:slug/.well-known/jwks.json', { schema: { hide: true } }, async (request, reply) => {
    const tenant = await tenantOf(keygate, request);
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).type('application/jwk-set+json');
    return keygate.signingKeys.jwks(tenant);
  });
}
