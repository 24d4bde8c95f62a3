import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { checkedForm, htmlReply, portalRequest } from './context.js';
import { connectedAppsPage } from './views.js';

/** Connected apps: the person's grants, each revocable (every token of the grant dies). */
export function accountRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/account/apps', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (portal.user === null) return reply.redirect(`${portal.base}/login`, 303);
    const apps = await keygate.delegation.connectedApps(portal.tenant, portal.user.id);
    return htmlReply(
      reply,
      200,
      connectedAppsPage({ userEmail: portal.user.email, apps, csrf: portal.csrf, revokeAction: (id) => `${portal.base}/account/apps/${id}/revoke`, signOutAction: `${portal.base}/logout` }),
    );
  });

  app.post('/t/:slug/account/apps/:grantId/revoke', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (checkedForm(request, reply) === null) return reply;
    if (portal.user === null) return reply.redirect(`${portal.base}/login`, 303);
    const { grantId } = request.params as { grantId: string };
    await keygate.delegation.revokeGrantOf({ id: portal.user.id, requestId: request.id, ip: request.ip }, portal.tenant, portal.user.id, grantId);
    return reply.redirect(`${portal.base}/account/apps`, 303);
  });
}
