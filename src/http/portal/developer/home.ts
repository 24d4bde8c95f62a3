import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { html } from '../html.js';
import { developerPage, developerReply } from './layout.js';
import { requireMember, shellOf } from './member.js';

/** The portal's home: what the member's consumer is granted, and what needs attention. */
export function homeRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const grants = member.consumer.grants.map((g) => html`<li><strong>${g.api.name}</strong> <span class="muted">(${g.api.identifier})</span>: ${g.key.scopes.map((s) => html`<code>${s}</code> `)}</li>`);
    return developerReply(
      reply,
      200,
      developerPage({
        ...shellOf(member),
        title: 'Home',
        active: 'home',
        body: html`<h1>${member.consumer.consumer.name}</h1><p class="lead">Create and manage your keys, watch your usage and try the APIs you were granted.</p>
<h2>Granted APIs</h2>${grants.length > 0 ? html`<ul>${grants}</ul>` : html`<p class="muted">No API is granted to ${member.consumer.consumer.name} yet.</p>`}`,
      }),
    );
  });
}
