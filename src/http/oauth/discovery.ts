import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authorizationServerMetadata } from '../../domain/oauth/metadata.js';
import { JWKS_MAX_AGE_SECONDS } from '../../services/signing-keys-service.js';
import type { Keygate } from '../../services/keygate.js';
import { endpointsOf } from './endpoints.js';
import { tenantOf } from './tenant-of.js';

/**
 * RFC 8414 metadata, at both the RFC's path-insertion location and the path-appended one that
 * many clients try, and the tenant's JWKS with cache headers.
 */
export function discoveryRoutes(app: FastifyInstance, keygate: Keygate): void {
  const metadata = async (request: FastifyRequest, reply: FastifyReply) => {
    const tenant = await tenantOf(keygate, request);
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
    return authorizationServerMetadata(endpointsOf(keygate, tenant.slug));
  };
  app.get('/.well-known/oauth-authorization-server/t/:slug', { schema: { hide: true } }, metadata);
  app.get('/t/:slug/.well-known/oauth-authorization-server', { schema: { hide: true } }, metadata);

  app.get('/t/:slug/.well-known/jwks.json', { schema: { hide: true } }, async (request, reply) => {
    const tenant = await tenantOf(keygate, request);
    reply.header('cache-control', `public, max-age=${JWKS_MAX_AGE_SECONDS}`).type('application/jwk-set+json');
    return keygate.signingKeys.jwks(tenant);
  });
}
