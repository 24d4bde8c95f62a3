import type { Granularity, UsagePoint, UsageTotal } from '../../domain/usage.js';
import { Html, html } from './html.js';
import { outcomeText } from './developer/format.js';

/**
 * The usage chart of the developer portal and the console: a server-drawn SVG of stacked bars,
 * one per bucket and a segment per outcome, with the same numbers in a table beside it, so the
 * chart needs no script and a screen reader reads the table. Times are UTC.
 */

/** A series to draw: evenly spaced points (zero where nothing came), times in ms. */
export interface ChartSeries {
  granularity: Granularity;
  points: readonly UsagePoint[];
  /** The outcomes to show, in order (`allowed` first): the bars' segments, the legend and the columns. */
  outcomes: readonly string[];
}

/** Bar colours per outcome: allowed first; each denial code gets the next colour in order of appearance. */
const ALLOWED_COLOUR = '#2e7d32';
const DENIAL_COLOURS = ['#c62828', '#e65100', '#6a1b9a', '#00838f', '#ad1457', '#4e342e', '#546e7a', '#827717', '#1565c0', '#ff6f00', '#283593', '#5d4037'];

/** Each outcome's colour: green for allowed, the denials in order. */
export function outcomeColours(outcomes: readonly string[]): Map<string, string> {
  const offset = outcomes[0] === 'allowed' ? 1 : 0;
  return new Map(outcomes.map((o, i) => [o, o === 'allowed' ? ALLOWED_COLOUR : DENIAL_COLOURS[(i - offset) % DENIAL_COLOURS.length]!]));
}

/**
 * Every outcome the points hold, `allowed` first, then the denials by name.
 *
 * @example
 * outcomesOf([{ outcomes: { RATE_LIMITED: 2, allowed: 5 } }]) // ['allowed', 'RATE_LIMITED']
 */
export function outcomesOf(points: readonly Pick<UsagePoint, 'outcomes'>[]): string[] {
  const all = new Set(points.flatMap((p) => Object.keys(p.outcomes)));
  return [...all].sort((a, b) => (a === 'allowed' ? -1 : b === 'allowed' ? 1 : a.localeCompare(b)));
}

/** A bucket's start as a label: the day for days, else the time (and date for hours). */
export function bucketLabel(at: number, granularity: Granularity): string {
  const iso = new Date(at).toISOString();
  return granularity === 'day' ? iso.slice(0, 10) : granularity === 'hour' ? `${iso.slice(5, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

/**
 * The chart, its legend and the table of its numbers side by side; `titleId` names the heading
 * above it, which labels the SVG with the summary (`#chart-summary`: one chart a page).
 *
 * @example
 * html`<h2 id="chart-title">Last day, by hour</h2>${usageChartWithTable(series, 'chart-title')}`
 */
export function usageChartWithTable(series: ChartSeries, titleId: string): Html {
  const colours = outcomeColours(series.outcomes);
  return html`<div class="usage-grid"><div>${chart(series, colours, titleId)}${legend(series.outcomes, colours)}</div>${pointsTable(series)}</div>`;
}

/** Stacked bars, one per bucket, each outcome a segment; the table beside holds the same numbers. */
function chart(series: ChartSeries, colours: ReadonlyMap<string, string>, titleId: string): Html {
  const { points, outcomes, granularity } = series;
  const width = 640;
  const height = 220;
  const left = 44;
  const top = 10;
  const bottom = 190;
  const plotWidth = width - left - 8;
  const max = Math.max(1, ...points.map((p) => p.requests));
  const slot = plotWidth / Math.max(1, points.length);
  const y = (n: number): number => bottom - (n / max) * (bottom - top);
  const total = points.reduce((sum, p) => sum + p.requests, 0);
  const summary = outcomes.map((o) => `${points.reduce((sum, p) => sum + (p.outcomes[o] ?? 0), 0)} ${outcomeText(o)}`).join(', ');
  const bars = points.flatMap((point, i) => {
    let base = bottom;
    return outcomes
      .filter((o) => (point.outcomes[o] ?? 0) > 0)
      .map((o) => {
        const count = point.outcomes[o]!;
        const h = (count / max) * (bottom - top);
        base -= h;
        return html`<rect x="${(left + i * slot + slot * 0.1).toFixed(1)}" y="${base.toFixed(1)}" width="${Math.max(1, slot * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${colours.get(o)}" data-outcome="${o}" data-count="${count}"><title>${bucketLabel(point.at, granularity)}: ${count} ${outcomeText(o)}</title></rect>`;
      });
  });
  const ticks = [0, Math.round(max / 2), max].filter((v, i, all) => all.indexOf(v) === i);
  const ends = points.length === 0 ? '' : html`<text x="${left}" y="${height - 8}">${bucketLabel(points[0]!.at, granularity)}</text><text x="${width - 8}" y="${height - 8}" text-anchor="end">${bucketLabel(points.at(-1)!.at, granularity)}</text>`;
  return html`<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${titleId} chart-summary" preserveAspectRatio="none">
<desc id="chart-summary">${total} requests: ${summary || 'none'}.</desc>
${ticks.map((v) => html`<line x1="${left}" x2="${width - 8}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`)}
${bars}
${ends}</svg>`;
}

function legend(outcomes: readonly string[], colours: ReadonlyMap<string, string>): Html {
  if (outcomes.length === 0) return html`<p class="muted">No requests in this window yet.</p>`;
  return html`<ul class="legend">${outcomes.map((o) => html`<li><span class="swatch" style="background:${colours.get(o)}"></span>${outcomeText(o)}</li>`)}</ul>`;
}

function pointsTable(series: ChartSeries): Html {
  const { granularity, outcomes } = series;
  const used = series.points.filter((p) => p.requests > 0);
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Requests per ${granularity}"><table><caption>Requests per ${granularity} (UTC)</caption><thead><tr><th scope="col">${granularity === 'day' ? 'Day' : 'From'}</th><th scope="col" class="num">Total</th>${outcomes.map((o) => html`<th scope="col" class="num">${outcomeText(o)}</th>`)}</tr></thead>
<tbody>${used.length === 0 ? html`<tr><td colspan="${2 + outcomes.length}" class="muted">No requests</td></tr>` : used.map((p) => html`<tr><th scope="row">${bucketLabel(p.at, granularity)}</th><td class="num">${p.requests}</td>${outcomes.map((o) => html`<td class="num">${p.outcomes[o] ?? 0}</td>`)}</tr>`)}</tbody></table></div>`;
}

/**
 * Requests per key, consumer or operation by outcome, as a table labelled by the heading
 * `labelledBy`; `label` gives a row's name (plain text is put in `<code>`).
 */
export function usageTotalsTable<N>(totals: readonly UsageTotal<N>[], outcomes: readonly string[], input: { heading: string; label: (name: N) => Html | string; labelledBy: string }): Html {
  if (totals.length === 0) return html`<p class="muted">No requests in this window.</p>`;
  const name = (n: N): Html => {
    const label = input.label(n);
    return label instanceof Html ? label : html`<code>${label}</code>`;
  };
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="${input.labelledBy}"><table aria-labelledby="${input.labelledBy}"><thead><tr><th scope="col">${input.heading}</th><th scope="col" class="num">Requests</th>${outcomes.map((o) => html`<th scope="col" class="num">${outcomeText(o)}</th>`)}</tr></thead>
<tbody>${totals.map((t) => html`<tr><th scope="row">${name(t.name)}</th><td class="num">${t.requests}</td>${outcomes.map((o) => html`<td class="num">${t.outcomes[o] ?? 0}</td>`)}</tr>`)}</tbody></table></div>`;
}
