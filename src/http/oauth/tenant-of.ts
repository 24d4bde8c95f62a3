import type { FastifyRequest } from 'fastify';
import type { Tenant } from '../../domain/tenants.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';

/**
 * The tenant named in the URL; an unknown one is answered like a missing endpoint. The directory
 * answers a reserved slug (`_system`) as unknown, so no OAuth, JWKS, discovery or portal route
 * ever serves the system tenant.
 */
export async function tenantOf(keygate: Keygate, request: FastifyRequest): Promise<Tenant> {
  const slug = (request.params as { slug: string }).slug;
  const tenant = await keygate.directory.tenant(slug);
  if (tenant === null) throw new OAuthError('invalid_request', 'no such tenant', { status: 404 });
  return tenant;
}
