import type { FastifyInstance } from 'fastify';
import { keyAlerts, type KeyAlert } from '../../../domain/keys/key-alerts.js';
import type { Keygate } from '../../../services/keygate.js';
import { html, type Html } from '../html.js';
import { when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { consumerKeys, requireMember, shellOf } from './member.js';

/**
 * The portal's home: what the member's consumer is granted, and what needs attention — keys
 * expiring within 14 days, credits under 10 % (a key's own, or the grant's shared ones), keys
 * unused for 90 days (domain/keys/key-alerts.ts).
 */
export function homeRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const now = keygate.clock();
    const consumerName = member.consumer.consumer.name;
    const keys = await consumerKeys(keygate, member);
    const grantAlerts = keyAlerts(member.consumer.grants.map((g) => g.key), now).filter((a) => a.kind !== 'unused');
    const apiNames = new Map(member.consumer.grants.map((g) => [g.key.id, g.api.name]));
    const alerts = [
      ...grantAlerts.map((a) => alertItem(a, `${consumerName}'s grant on ${apiNames.get(a.key.id)}`, true)),
      ...keyAlerts(keys.map((k) => k.key), now).map((a) => alertItem(a, `Key ${a.key.name ?? 'unnamed'} (${a.key.start}…)`, false)),
    ];
    const grants = member.consumer.grants.map(
      (g) => html`<li><strong>${g.api.name}</strong> <span class="muted">(${g.api.identifier})</span>: ${g.key.scopes.map((s) => html`<code>${s}</code> `)}${g.key.expiresAt !== null ? html` · until ${when(g.key.expiresAt)}` : ''}${g.key.credits !== null ? html` · ${g.key.credits.remaining} shared credits left` : ''}</li>`,
    );
    return developerReply(
      reply,
      200,
      developerPage({
        ...shellOf(member),
        title: 'Home',
        active: 'home',
        body: html`<h1>${consumerName}</h1><p class="lead">Create and manage your keys, watch your usage and try the APIs you were granted.</p>
<h2 id="alerts">Needs attention</h2>${alerts.length === 0 ? html`<p class="muted">Nothing: no key expires within 14 days, runs low on credits or has gone unused for 90 days.</p>` : html`<ul class="alerts" aria-labelledby="alerts">${alerts}</ul>`}
<h2>Granted APIs</h2>${grants.length > 0 ? html`<ul>${grants}</ul>` : html`<p class="muted">No API is granted to ${consumerName} yet.</p>`}
<p><a href="${member.portal}/keys">Manage your keys</a> · <a href="${member.portal}/usage">See your usage</a></p>`,
      }),
    );
  });
}

function alertItem(alert: KeyAlert, subject: string, shared: boolean): Html {
  switch (alert.kind) {
    case 'expiring':
      return html`<li><strong>${subject}</strong> expires ${when(alert.expiresAt)}.${shared ? ' Every key under it stops then: ask the API owner to extend it.' : ' Create a replacement before then.'}</li>`;
    case 'low-credits':
      return html`<li><strong>${subject}</strong> ${alert.remaining === 0 ? 'has no credits left' : html`has ${alert.remaining} credits left`}${alert.refillAmount !== null ? ` of the ${alert.refillAmount} each refill tops up` : ''}${shared ? ', shared by all of your keys on it' : ''}.</li>`;
    case 'unused':
      return html`<li><strong>${subject}</strong> ${alert.lastUsedAt === null ? 'has never been used' : html`was last used ${when(alert.lastUsedAt)}`}: revoke it if nobody needs it.</li>`;
  }
}
