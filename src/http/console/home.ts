import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { html } from '../portal/html.js';
import { requireOperator } from './context.js';
import { TENANT_NAV, consolePage, consoleReply, tenantPath } from './layout.js';

/**
 * `/console`: who is signed in, what they may reach and where to go. An operator limited to one
 * tenant goes straight to that tenant's sections.
 */
export function consoleHomeRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { operator } = c;
    const tenant = operator.tenant;
    const places =
      tenant === null
        ? c.can('tenants:read')
          ? html`<li><a href="/console/tenants">Tenants</a>: create tenants and manage their APIs, consumers, keys, clients and users</li>`
          : ''
        : html`${TENANT_NAV.filter((item) => c.can(item.scope)).map((item) => html`<li><a href="${tenantPath(tenant)}${item.path}">${item.label}</a></li>`)}`;
    const body = html`<h1>Welcome, ${operator.name ?? operator.email}</h1>
<p class="lead">You act on ${tenant === null ? 'every tenant of this Keygate' : html`tenant <strong>${tenant}</strong> only`}. Every action here goes through the management API with your scopes and is audited with you as the actor.</p>
<div class="card"><h2>Go to</h2><ul>${places}${c.can('keys:verify') ? html`<li><a href="/console/debugger">Verify &amp; debug a credential</a></li>` : ''}${
      c.can('root_keys:read') ? html`<li><a href="/console/operators">Operators</a></li>` : ''
    }</ul></div>
<div class="card"><h2>Your scopes</h2><ul>${[...operator.scopes].sort().map((scope) => html`<li><code>${scope}</code></li>`)}</ul></div>`;
    return consoleReply(reply, 200, consolePage({ title: 'Home', c, section: 'home', tenant, body }));
  });
}
