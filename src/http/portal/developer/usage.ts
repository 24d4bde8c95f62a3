import type { FastifyInstance } from 'fastify';
import { KeygateError } from '../../../domain/errors.js';
import type { ApiKey } from '../../../domain/keys/key.js';
import type { Keygate } from '../../../services/keygate.js';
import { USAGE_WINDOWS, type ConsumerDenial, type ConsumerUsage, type UsageWindow } from '../../../services/portal-usage-service.js';
import { Html, html } from '../html.js';
import { usageChartWithTable, usageTotalsTable } from '../usage-chart.js';
import { KEY_ID, outcomeText, refusalText, when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { requireMember, shellOf } from './member.js';

const DENIALS_SHOWN = 50;

/**
 * The usage page: the member's consumer's requests by outcome over the last hour, day or 30
 * days, per key and per operation, as a server-drawn SVG chart with its numbers in a table, and
 * the consumer's recent refused requests with the reason in words. PortalUsageService reads
 * only the consumer's own keys.
 */
export function usageRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal/usage', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const query = request.query as { window?: string; key?: string; operation?: string };
    const window: UsageWindow = query.window === 'hour' || query.window === 'month' ? query.window : 'day';
    const keyId = query.key === undefined || query.key === '' ? undefined : query.key;
    const operation = query.operation === undefined || query.operation === '' ? undefined : query.operation.slice(0, 200);
    const consumerId = member.consumer.consumer.id;
    let usage: ConsumerUsage;
    try {
      if (keyId !== undefined && !KEY_ID.test(keyId)) throw new KeygateError('KEY_NOT_FOUND', 'not a key id');
      usage = await keygate.portalUsage.usage(member.tenant, consumerId, { window, ...(keyId !== undefined ? { keyId } : {}), ...(operation !== undefined ? { operation } : {}) });
    } catch (err) {
      if (!(err instanceof KeygateError) || err.code !== 'KEY_NOT_FOUND') throw err;
      return developerReply(reply, 404, developerPage({ ...shellOf(member), title: 'Usage', active: 'usage', body: html`<h1>Usage</h1><p class="error" role="alert">${refusalText(err)}</p><p><a href="${member.portal}/usage">Show all of your keys</a></p>` }));
    }
    const denials = await keygate.portalUsage.denials(member.tenant, consumerId, { limit: DENIALS_SHOWN });
    const names = new Map(usage.keys.map((k) => [k.id, keyLabel(k)]));
    const scope = keyId !== undefined || operation !== undefined ? html` of ${keyId !== undefined ? html`key ${names.get(keyId) ?? keyId}` : ''}${keyId !== undefined && operation !== undefined ? ' and ' : ''}${operation !== undefined ? html`operation <code>${operation}</code>` : ''}` : html` of all your keys`;
    const body = html`<h1>Usage</h1><p class="lead">Requests${scope} through the gateway and the verify API, by outcome. Times are UTC; counts are up to a few seconds behind.</p>
${filters(member.portal, usage, names, { window, keyId, operation })}
<h2 id="chart-title">${USAGE_WINDOWS[window].label}, by ${usage.granularity}</h2>
${usageChartWithTable(usage, 'chart-title')}
<h2 id="by-key">By key</h2>${usageTotalsTable(usage.byKey, usage.outcomes, { heading: 'Key', label: (name) => names.get(name) ?? name, labelledBy: 'by-key' })}
<h2 id="by-operation">By operation</h2>${usageTotalsTable(usage.byOperation, usage.outcomes, { heading: 'Operation', label: (name) => name, labelledBy: 'by-operation' })}
<h2 id="denied">Recent refused requests</h2><p class="muted">The last 30 days, newest first; repeated refusals of a key for one reason are counted per minute.</p>${denialsTable(denials, names)}`;
    return developerReply(reply, 200, developerPage({ ...shellOf(member), title: 'Usage', active: 'usage', body }));
  });
}

function keyLabel(key: ApiKey): string {
  return key.name === null ? key.start : `${key.name} (${key.start}…)`;
}

function filters(portal: string, usage: ConsumerUsage, names: ReadonlyMap<string, string>, chosen: { window: UsageWindow; keyId: string | undefined; operation: string | undefined }): Html {
  const operations = [...new Set([...usage.byOperation.map((o) => o.name), ...(chosen.operation !== undefined ? [chosen.operation] : [])])];
  const selected = (yes: boolean): Html | '' => (yes ? new Html(' selected') : '');
  return html`<form class="card filters" method="get" action="${portal}/usage" aria-label="What to show">
<div class="field"><label for="window">Window</label><select id="window" name="window">${(Object.keys(USAGE_WINDOWS) as UsageWindow[]).map((w) => html`<option value="${w}"${selected(w === chosen.window)}>${USAGE_WINDOWS[w].label}</option>`)}</select></div>
<div class="field"><label for="key">Key</label><select id="key" name="key"><option value="">All keys</option>${usage.keys.map((k) => html`<option value="${k.id}"${selected(k.id === chosen.keyId)}>${names.get(k.id)}</option>`)}</select></div>
<div class="field"><label for="operation">Operation</label><select id="operation" name="operation"><option value="">All operations</option>${operations.map((o) => html`<option value="${o}"${selected(o === chosen.operation)}>${o}</option>`)}</select></div>
<button type="submit">Show</button></form>`;
}

function denialsTable(denials: readonly ConsumerDenial[], names: ReadonlyMap<string, string>): Html {
  if (denials.length === 0) return html`<p class="muted">None: no request of your keys was refused.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="denied"><table aria-labelledby="denied"><thead><tr><th scope="col">Last at</th><th scope="col">Key</th><th scope="col">Reason</th><th scope="col" class="num">Times</th></tr></thead>
<tbody>${denials.map(
    (d) => html`<tr><td>${when(d.lastAt)}</td><td><code>${names.get(d.keyId) ?? d.keyId}</code></td><td>${outcomeText(d.code)}${d.code === 'INSUFFICIENT_SCOPE' && d.requiredScopes.length > 0 ? html`: needs ${d.requiredScopes.map((s) => html`<code>${s}</code> `)}` : ''}</td><td class="num">${d.count}</td></tr>`,
  )}</tbody></table></div>`;
}
