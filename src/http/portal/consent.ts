import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { param } from '../oauth/form.js';
import { checkedForm, htmlReply, portalRequest } from './context.js';
import { consentPage, errorPage } from './views.js';

/**
 * The consent step: each requested scope is a labelled checkbox with its catalog description;
 * the person may untick scopes or deny. A remembered grant that covers the request skips the page.
 */
export function consentRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/consent', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const id = (request.query as { interaction?: string }).interaction ?? '';
    const pending = await keygate.authorization.interaction(portal.tenant, id);
    if (pending === null) return htmlReply(reply, 400, errorPage('This request has expired', 'Go back to the app and start again.'));
    if (portal.user === null) return reply.redirect(`${portal.base}/login?interaction=${encodeURIComponent(id)}`, 303);
    const remembered = await keygate.authorization.rememberedGrant(portal.tenant, pending.interaction, portal.user);
    if (remembered !== null) return reply.redirect(await keygate.authorization.issueForGrant(portal.tenant, pending.interaction, portal.user, remembered), 303);
    return htmlReply(
      reply,
      200,
      consentPage({ clientName: pending.client.name, api: pending.api, scopes: pending.interaction.scopes, userEmail: portal.user.email, action: `${portal.base}/consent`, csrf: portal.csrf, interaction: id }),
    );
  });

  app.post('/t/:slug/consent', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const form = checkedForm(request, reply);
    if (form === null) return reply;
    const id = param(form, 'interaction') ?? '';
    const pending = await keygate.authorization.interaction(portal.tenant, id);
    if (pending === null) return htmlReply(reply, 400, errorPage('This request has expired', 'Go back to the app and start again.'));
    if (portal.user === null) return reply.redirect(`${portal.base}/login?interaction=${encodeURIComponent(id)}`, 303);
    if (param(form, 'decision') !== 'allow') return reply.redirect(await keygate.authorization.deny(portal.tenant, pending.interaction), 303);
    const approved = form.get('scope') ?? [];
    return reply.redirect(await keygate.authorization.approve(portal.tenant, pending.interaction, portal.user, approved, { ip: request.ip, requestId: request.id }), 303);
  });
}
