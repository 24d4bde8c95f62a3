import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { Granularity, UsagePoint } from '../../../domain/usage.js';
import type { Keygate } from '../../../services/keygate.js';
import { outcomeText } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import { outcomesOf, usageChartWithTable, usageTotalsTable } from '../../portal/usage-chart.js';
import type { UsageBreakdownView, UsageSeriesView } from '../../management/usage.js';
import { requireOperator } from '../context.js';
import { consolePage, consoleReply, problemBox, refused, tenantPath } from '../layout.js';
import { apisOf, type ApiChoice } from './v1-lists.js';

/** The periods the page offers, each with the granularity /v1 draws it by (and /v1's default span for it). */
const PERIODS = {
  hour: { granularity: 'minute', label: 'Last hour', by: 'minute' },
  day: { granularity: 'hour', label: 'Last day', by: 'hour' },
  month: { granularity: 'day', label: 'Last 30 days', by: 'day' },
} as const satisfies Record<string, { granularity: Granularity; label: string; by: string }>;

type Period = keyof typeof PERIODS;

// A minute series has 60 rows: the table beside the chart scrolls (it is a focusable region) instead of running on.
const STYLE = '.usage-grid .table-wrap{max-height:26rem;overflow-y:auto}';

/** How many of the busiest consumers and keys are shown. */
const TOP = 10;

/** A series and a breakdown as `GET /v1/tenants/{slug}/usage` and `…/usage/breakdown` answer them (their response schemas). */
type SeriesView = Static<typeof UsageSeriesView>;
type BreakdownView = Static<typeof UsageBreakdownView>;

/**
 * A tenant's usage (docs/usage.md): requests by outcome over the last hour, day or 30 days, of
 * every API or one, as the portal's SVG chart with its numbers in a table; the busiest consumers,
 * keys and gateway operations; and the denial reasons with their counts. Everything comes from
 * `GET /v1/tenants/{slug}/usage` and `…/usage/breakdown` as the operator (`usage:read`).
 */
export function usagePages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/usage', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const query = request.query as { period?: string; api?: string };
    const period: Period = query.period === 'hour' || query.period === 'month' ? query.period : 'day';
    const api = typeof query.api === 'string' && query.api !== '' ? query.api.slice(0, 512) : undefined;
    const filter = { granularity: PERIODS[period].granularity, ...(api !== undefined ? { api } : {}) };
    const base = `/v1/tenants/${encodeURIComponent(slug)}/usage`;

    const series = await c.v1('GET', `${base}?${new URLSearchParams(filter)}`);
    // An unknown API is the operator's input to fix, on the page; any other refusal (no usage:read, another tenant) is the whole answer.
    const badApi = series.status === 404 && series.body?.code === 'API_NOT_FOUND';
    if (series.status !== 200 && !badApi) return refused(reply, c, 'usage', series, slug);
    const apis = await apisOf(c, slug);
    const form = filters(slug, apis, { period, api });
    if (badApi) {
      const body = html`<h1>Usage</h1>${form}${problemBox(series)}`;
      return consoleReply(reply, 404, consolePage({ title: 'Usage', c, section: 'usage', tenant: slug, body }));
    }
    const [consumers, keys, operations] = await Promise.all(
      (['consumer', 'key', 'operation'] as const).map((by) => c.v1('GET', `${base}/breakdown?${new URLSearchParams({ ...filter, by, limit: String(TOP) })}`)),
    );
    const view = series.body as SeriesView;
    const points: UsagePoint[] = view.points.map((p) => ({ ...p, at: Date.parse(p.at) }));
    const outcomes = outcomesOf(points);
    const chosenApi = api === undefined ? 'every API' : (apis?.find((a) => a.identifier === api)?.name ?? api);
    const body = html`<style>${new Html(STYLE)}</style><h1>Usage</h1>
<p class="lead">Requests of ${chosenApi} through the gateway and the verify API, by outcome. Times are UTC; counts are up to a few seconds behind.</p>
${form}
<h2 id="chart-title">${PERIODS[period].label}, by ${PERIODS[period].by}</h2>
${usageChartWithTable({ granularity: view.granularity, points, outcomes }, 'chart-title')}
<h2 id="denials">Denial reasons</h2>${denialReasons(points, slug)}
<h2 id="top-consumers">Top consumers</h2>${breakdown(consumers!, outcomes, { heading: 'Consumer', labelledBy: 'top-consumers', link: (id) => `${tenantPath(slug)}/keys?consumer=${encodeURIComponent(id)}`, none: 'no consumer' })}
<h2 id="top-keys">Top keys</h2>${breakdown(keys!, outcomes, { heading: 'Key', labelledBy: 'top-keys', link: (id) => `${tenantPath(slug)}/keys/${encodeURIComponent(id)}`, none: 'no key (a credential that matched none)' })}
<h2 id="top-operations">Top operations</h2>${breakdown(operations!, outcomes, { heading: 'Operation', labelledBy: 'top-operations', link: null, none: 'none (verify calls, paths the API does not declare)' })}`;
    return consoleReply(reply, 200, consolePage({ title: 'Usage', c, section: 'usage', tenant: slug, body }));
  });
}

function filters(slug: string, apis: readonly ApiChoice[] | null, chosen: { period: Period; api: string | undefined }): Html {
  const selected = (yes: boolean): Html | '' => (yes ? new Html(' selected') : '');
  const apiField =
    apis === null
      ? html`<label for="api">API identifier <span class="hint">Empty for every API</span></label><input type="text" id="api" name="api" value="${chosen.api ?? ''}">`
      : html`<label for="api">API</label><select id="api" name="api"><option value="">Every API</option>${apis.map((a) => html`<option value="${a.identifier}"${selected(a.identifier === chosen.api)}>${a.name} (${a.identifier})</option>`)}${
          chosen.api !== undefined && !apis.some((a) => a.identifier === chosen.api) ? html`<option value="${chosen.api}" selected>${chosen.api}</option>` : ''
        }</select>`;
  return html`<form class="card filters" method="get" action="${tenantPath(slug)}/usage" aria-label="What to show">
<div class="field"><label for="period">Period</label><select id="period" name="period">${(Object.keys(PERIODS) as Period[]).map((p) => html`<option value="${p}"${selected(p === chosen.period)}>${PERIODS[p].label}</option>`)}</select></div>
<div class="field">${apiField}</div>
<button type="submit">Show</button></form>`;
}

/** Every denial of the period by reason, most first, with its share of all requests. */
function denialReasons(points: readonly UsagePoint[], slug: string): Html {
  const totals = new Map<string, number>();
  for (const p of points) for (const [outcome, n] of Object.entries(p.outcomes)) if (outcome !== 'allowed') totals.set(outcome, (totals.get(outcome) ?? 0) + n);
  const all = points.reduce((sum, p) => sum + p.requests, 0);
  if (totals.size === 0) return html`<p class="muted">None: no request was refused in this period.</p>`;
  const rows = [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="denials"><table aria-labelledby="denials"><thead><tr><th scope="col">Reason</th><th scope="col">Code</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Share</th></tr></thead>
<tbody>${rows.map(([code, n]) => html`<tr><th scope="row">${outcomeText(code)}</th><td><code>${code}</code></td><td class="num">${n.toLocaleString('en-US')}</td><td class="num">${((n / all) * 100).toFixed(1)}%</td></tr>`)}</tbody></table></div>
<p><a href="${tenantPath(slug)}/audit?action=key.verify.denied">Refused verifications in the audit log</a></p>`;
}

/** A top table; a consumer links to its keys (a key's consumer is any name the owner gave, not always a consumer of the portal). */
function breakdown(result: { status: number; body: any }, outcomes: readonly string[], input: { heading: string; labelledBy: string; link: ((name: string) => string) | null; none: string }): Html {
  if (result.status !== 200) return problemBox(result);
  const view = result.body as BreakdownView;
  const table = usageTotalsTable(view.items, outcomes, {
    heading: input.heading,
    labelledBy: input.labelledBy,
    label: (name) => (name === null ? html`<span class="muted">${input.none}</span>` : input.link === null ? name : html`<a href="${input.link(name)}"><code>${name}</code></a>`),
  });
  return view.total > view.items.length ? html`${table}<p class="muted">The ${view.items.length} busiest of ${view.total}.</p>` : table;
}
