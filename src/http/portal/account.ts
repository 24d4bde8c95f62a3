import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { checkedForm, htmlReply, portalRequest } from './context.js';
import { connectedAppsPage } from './views.js';

/** Connected apps: the person's grants, each revocable (every token of the grant dies). */
export function accountRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/account/apps', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (portal.user === null) return reply.redirect(`${portal.base}/login`, 303);
    const grants = await keygate.store.listGrants(portal.tenant.id, portal.user.id, { after: null, limit: 100 });
    const apps = await Promise.all(
      grants.items.map(async (grant) => ({
        grant,
        clientName: (await keygate.directory.client(portal.tenant.id, grant.clientId))?.client.name ?? grant.clientId,
        apiName: (await keygate.store.findApiById(grant.apiId))?.name ?? '',
      })),
    );
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
    const grant = await keygate.store.findGrantById(portal.tenant.id, grantId);
    if (grant !== null && grant.userId === portal.user.id) {
      await keygate.delegation.revokeGrant({ id: portal.user.id, requestId: request.id, ip: request.ip }, portal.tenant, grantId);
    }
    return reply.redirect(`${portal.base}/account/apps`, 303);
  });
}
