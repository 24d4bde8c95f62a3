import type { FastifyRequest } from 'fastify';
import { SYSTEM_TENANT_SLUG } from '../../domain/management.js';
import type { Tenant } from '../../domain/keys/key.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';

/** The tenant named in the URL; an unknown one is answered like a missing endpoint. */
export async function tenantOf(keygate: Keygate, request: FastifyRequest): Promise<Tenant> {
  const slug = (request.params as { slug: string }).slug;
  const tenant = slug === SYSTEM_TENANT_SLUG ? null : await keygate.directory.tenant(slug);
  if (tenant === null) throw new OAuthError('invalid_request', 'no such tenant', { status: 404 });
  return tenant;
}
