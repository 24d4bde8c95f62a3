import type { FastifyInstance } from 'fastify';
import { KeygateError } from '../../../domain/errors.js';
import type { ApiKey } from '../../../domain/keys/key.js';
import type { UsagePoint } from '../../../domain/usage.js';
import type { Keygate } from '../../../services/keygate.js';
import { USAGE_WINDOWS, type ConsumerDenial, type ConsumerUsage, type UsageTotal, type UsageWindow } from '../../../services/portal-usage-service.js';
import { Html, html } from '../html.js';
import { KEY_ID, outcomeText, refusalText, when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { requireMember, shellOf } from './member.js';

const DENIALS_SHOWN = 50;

/** Bar colours per outcome: allowed first; each denial code gets the next colour in order of appearance. */
const ALLOWED_COLOUR = '#2e7d32';
const DENIAL_COLOURS = ['#c62828', '#e65100', '#6a1b9a', '#00838f', '#ad1457', '#4e342e', '#546e7a', '#827717', '#1565c0', '#ff6f00', '#283593', '#5d4037'];

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
    const colours = new Map(usage.outcomes.map((o, i) => [o, o === 'allowed' ? ALLOWED_COLOUR : DENIAL_COLOURS[(i - (usage.outcomes[0] === 'allowed' ? 1 : 0)) % DENIAL_COLOURS.length]!]));
    const scope = keyId !== undefined || operation !== undefined ? html` of ${keyId !== undefined ? html`key ${names.get(keyId) ?? keyId}` : ''}${keyId !== undefined && operation !== undefined ? ' and ' : ''}${operation !== undefined ? html`operation <code>${operation}</code>` : ''}` : html` of all your keys`;
    const body = html`<h1>Usage</h1><p class="lead">Requests${scope} through the gateway and the verify API, by outcome. Times are UTC; counts are up to a few seconds behind.</p>
${filters(member.portal, usage, names, { window, keyId, operation })}
<h2 id="chart-title">${USAGE_WINDOWS[window].label}, by ${usage.granularity}</h2>
<div class="usage-grid"><div>${chart(usage, colours)}${legend(usage.outcomes, colours)}</div>${pointsTable(usage)}</div>
<h2 id="by-key">By key</h2>${totalsTable(usage.byKey, usage.outcomes, 'Key', (name) => names.get(name) ?? name, 'by-key')}
<h2 id="by-operation">By operation</h2>${totalsTable(usage.byOperation, usage.outcomes, 'Operation', (name) => name, 'by-operation')}
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

function bucketLabel(at: number, granularity: ConsumerUsage['granularity']): string {
  const iso = new Date(at).toISOString();
  return granularity === 'day' ? iso.slice(0, 10) : granularity === 'hour' ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/** Stacked bars, one per bucket, each outcome a segment; the table beside holds the same numbers. */
function chart(usage: ConsumerUsage, colours: ReadonlyMap<string, string>): Html {
  const width = 640;
  const height = 220;
  const left = 44;
  const top = 10;
  const bottom = 190;
  const plotWidth = width - left - 8;
  const max = Math.max(1, ...usage.points.map((p) => p.requests));
  const slot = plotWidth / usage.points.length;
  const y = (n: number): number => bottom - (n / max) * (bottom - top);
  const total = usage.points.reduce((sum, p) => sum + p.requests, 0);
  const summary = usage.outcomes.map((o) => `${usage.points.reduce((sum, p) => sum + (p.outcomes[o] ?? 0), 0)} ${outcomeText(o)}`).join(', ');
  const bars = usage.points.flatMap((point, i) => {
    let base = bottom;
    return usage.outcomes
      .filter((o) => (point.outcomes[o] ?? 0) > 0)
      .map((o) => {
        const count = point.outcomes[o]!;
        const h = (count / max) * (bottom - top);
        base -= h;
        return html`<rect x="${(left + i * slot + slot * 0.1).toFixed(1)}" y="${base.toFixed(1)}" width="${Math.max(1, slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours.get(o)}" data-outcome="${o}" data-count="${count}"><title>${bucketLabel(point.at, usage.granularity)}: ${count} ${outcomeText(o)}</title></rect>`;
      });
  });
  const ticks = [0, Math.round(max / 2), max].filter((v, i, all) => all.indexOf(v) === i);
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title chart-summary" preserveAspectRatio="none">
<desc id="chart-summary">${total} requests: ${summary || 'none'}.</desc>
${ticks.map((v) => html`<line x1="${left}" x2="${width - 8}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`)}
${bars}
<text x="${left}" y="${height - 8}">${bucketLabel(usage.points[0]!.at, usage.granularity)}</text><text x="${width - 8}" y="${height - 8}" text-anchor="end">${bucketLabel(usage.points.at(-1)!.at, usage.granularity)}</text></svg>`;
}

function legend(outcomes: readonly string[], colours: ReadonlyMap<string, string>): Html {
  if (outcomes.length === 0) return html`<p class="muted">No requests in this window yet.</p>`;
  return html`<ul class="legend">${outcomes.map((o) => html`<li><span class="swatch" style="background:${colours.get(o)}"></span>${outcomeText(o)}</li>`)}</ul>`;
}

function pointsTable(usage: ConsumerUsage): Html {
  const used: UsagePoint[] = usage.points.filter((p) => p.requests > 0);
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Requests per ${usage.granularity}"><table><caption>Requests per ${usage.granularity} (UTC)</caption><thead><tr><th scope="col">${usage.granularity === 'day' ? 'Day' : 'From'}</th><th scope="col" class="num">Total</th>${usage.outcomes.map((o) => html`<th scope="col" class="num">${outcomeText(o)}</th>`)}</tr></thead>
<tbody>${used.length === 0 ? html`<tr><td colspan="${2 + usage.outcomes.length}" class="muted">No requests</td></tr>` : used.map((p) => html`<tr><th scope="row">${bucketLabel(p.at, usage.granularity)}</th><td class="num">${p.requests}</td>${usage.outcomes.map((o) => html`<td class="num">${p.outcomes[o] ?? 0}</td>`)}</tr>`)}</tbody></table></div>`;
}

function totalsTable(totals: readonly UsageTotal[], outcomes: readonly string[], heading: string, label: (name: string) => string, labelledBy: string): Html {
  if (totals.length === 0) return html`<p class="muted">No requests in this window.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="${labelledBy}"><table aria-labelledby="${labelledBy}"><thead><tr><th scope="col">${heading}</th><th scope="col" class="num">Requests</th>${outcomes.map((o) => html`<th scope="col" class="num">${outcomeText(o)}</th>`)}</tr></thead>
<tbody>${totals.map((t) => html`<tr><th scope="row"><code>${label(t.name)}</code></th><td class="num">${t.requests}</td>${outcomes.map((o) => html`<td class="num">${t.outcomes[o] ?? 0}</td>`)}</tr>`)}</tbody></table></div>`;
}

function denialsTable(denials: readonly ConsumerDenial[], names: ReadonlyMap<string, string>): Html {
  if (denials.length === 0) return html`<p class="muted">None: no request of your keys was refused.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="denied"><table aria-labelledby="denied"><thead><tr><th scope="col">Last at</th><th scope="col">Key</th><th scope="col">Reason</th><th scope="col" class="num">Times</th></tr></thead>
<tbody>${denials.map(
    (d) => html`<tr><td>${when(d.lastAt)}</td><td><code>${names.get(d.keyId) ?? d.keyId}</code></td><td>${outcomeText(d.code)}${d.code === 'INSUFFICIENT_SCOPE' && d.requiredScopes.length > 0 ? html`: needs ${d.requiredScopes.map((s) => html`<code>${s}</code> `)}` : ''}</td><td class="num">${d.count}</td></tr>`,
  )}</tbody></table></div>`;
}
