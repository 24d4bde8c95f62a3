import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { param } from '../oauth/form.js';
import { SESSION_COOKIE, cookieOptions } from './cookies.js';
import { portalReturnPath } from './developer/member.js';
import { checkedForm, htmlReply, portalRequest, signInAs } from './context.js';
import { signInPage, waitText } from './views.js';

/** Sign-in and sign-out. Failures are generic; throttled attempts get 429 with Retry-After. */
export function signInRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/login', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const query = request.query as { interaction?: string; next?: string };
    return htmlReply(reply, 200, signInPage(view(portal, query.interaction ?? null, portalReturnPath(portal.tenant.slug, query.next))));
  });

  app.post('/t/:slug/login', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const form = checkedForm(request, reply);
    if (form === null) return reply;
    const interaction = param(form, 'interaction') ?? null;
    const next = portalReturnPath(portal.tenant.slug, param(form, 'next'));
    const email = param(form, 'email') ?? '';
    const outcome = await keygate.users.signIn(portal.tenant, email, param(form, 'password') ?? '', { ip: request.ip, requestId: request.id });
    if ('error' in outcome) {
      if (outcome.error === 'throttled') {
        reply.header('retry-after', String(outcome.retryAfter));
        return htmlReply(reply, 429, signInPage({ ...view(portal, interaction, next), email, error: `Too many attempts. Try again in ${waitText(outcome.retryAfter)}.` }));
      }
      return htmlReply(reply, 401, signInPage({ ...view(portal, interaction, next), email, error: 'That email and password do not match.' }));
    }
    await keygate.sessions.destroy(request.cookies[SESSION_COOKIE]);
    await signInAs(keygate, reply, portal.tenant, outcome.user);
    return reply.redirect(interaction ? `${portal.base}/consent?interaction=${encodeURIComponent(interaction)}` : (next ?? `${portal.base}/account/apps`), 303);
  });

  app.post('/t/:slug/logout', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (checkedForm(request, reply) === null) return reply;
    await keygate.sessions.destroy(request.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieOptions(keygate.publicUrl, portal.tenant.slug));
    return reply.redirect(`${portal.base}/login`, 303);
  });

  /** `next`: a portal page to return to after sign-in (portalReturnPath), kept in a hidden field. */
  function view(portal: Awaited<ReturnType<typeof portalRequest>>, interaction: string | null, next: string | null) {
    return {
      tenantName: portal.tenant.name,
      action: `${portal.base}/login`,
      csrf: portal.csrf,
      interaction,
      next,
      signupUrl: portal.tenant.selfSignup ? `${portal.base}/signup${interaction ? `?interaction=${encodeURIComponent(interaction)}` : ''}` : null,
      resetUrl: keygate.users.resetsEnabled ? `${portal.base}/password-reset` : null,
    };
  }
}
