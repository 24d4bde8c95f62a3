import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Tenant } from '../../domain/tenants.js';
import type { User } from '../../domain/people.js';
import type { Keygate } from '../../services/keygate.js';
import { formOf, param } from '../oauth/form.js';
import { tenantOf } from '../oauth/tenant-of.js';
import { SESSION_COOKIE, cookieOptions, csrfToken, csrfValid } from './cookies.js';
import { errorPage } from './views.js';

/** What every portal handler needs: the tenant, its URLs, the signed-in user and the CSRF token. */
export interface PortalRequest {
  tenant: Tenant;
  base: string;
  user: User | null;
  csrf: string;
}

export async function portalRequest(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<PortalRequest> {
  const tenant = await tenantOf(keygate, request);
  const user = await keygate.sessions.resolve(tenant, request.cookies[SESSION_COOKIE]);
  return { tenant, base: `/t/${tenant.slug}`, user, csrf: csrfToken(request, reply, keygate.publicUrl, tenant.slug) };
}

/** A posted form whose CSRF field matches the cookie; otherwise a 403 page is sent and null returned. */
export function checkedForm(request: FastifyRequest, reply: FastifyReply): Map<string, string[]> | null {
  const form = formOf(request.body);
  if (!csrfValid(request, param(form, 'csrf'))) {
    reply.code(403).type('text/html').send(errorPage('Request refused', 'The form expired or did not come from this site. Go back, reload the page and try again.'));
    return null;
  }
  return form;
}

/** Starts a fresh session (a new id at every sign-in: no fixation). */
export async function signInAs(keygate: Keygate, reply: FastifyReply, tenant: Tenant, user: User): Promise<void> {
  const session = await keygate.sessions.create(tenant, user);
  reply.setCookie(SESSION_COOKIE, session.value, cookieOptions(keygate.publicUrl, tenant.slug, Math.floor((session.expiresAt - Date.now()) / 1000)));
}

export function htmlReply(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).header('cache-control', 'no-store').header('x-frame-options', 'DENY').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' *; frame-ancestors 'none'").type('text/html; charset=utf-8').send(body);
}
