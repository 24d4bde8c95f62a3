import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { htmlReply, portalRequest } from './context.js';
import { errorPage } from './views.js';

/**
 * GET /t/{slug}/oauth/authorize — RFC 6749 §4.1.1. A bad client or redirect URI gets an error
 * page (never a redirect: no open redirector); other errors go back to the client. A valid request
 * continues to sign-in, then consent — skipped when a remembered grant covers every scope.
 */
export function authorizeRoute(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/oauth/authorize', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const queryStart = request.url.indexOf('?');
    // Parsed from the raw URL, not Fastify's query object, so repeated parameters stay visible.
    const params = new URLSearchParams(queryStart < 0 ? '' : request.url.slice(queryStart + 1));
    const decision = await keygate.authorization.begin(portal.tenant, params, { ip: request.ip });
    if (decision.kind === 'error-page') return htmlReply(reply, 400, errorPage('This app cannot sign you in', `${decision.message}. Tell the app's developer.`));
    if (decision.kind === 'redirect') return reply.header('cache-control', 'no-store').redirect(decision.url, 303);
    if (portal.user === null) return reply.redirect(`${portal.base}/login?interaction=${decision.interaction.id}`, 303);
    // Signed in with a grant that already covers the request: straight back to the app.
    const remembered = await keygate.authorization.rememberedGrant(portal.tenant, decision.interaction, portal.user);
    if (remembered !== null) return reply.redirect(await keygate.authorization.issueForGrant(portal.tenant, decision.interaction, portal.user, remembered), 303);
    return reply.redirect(`${portal.base}/consent?interaction=${decision.interaction.id}`, 303);
  });
}
