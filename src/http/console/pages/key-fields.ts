import { formatDuration, parseDuration } from '../../../domain/durations.js';
import type { Form } from '../../oauth/form.js';
import { Html, html } from '../../portal/html.js';
import type { ConsoleContext, V1Result } from '../context.js';
import { formProblem, lines, text } from './form-input.js';

/**
 * The fields the key and consumer pages share — rate limits, credits, an expiry date, scopes —
 * read from a form into /v1's JSON and written back into a form. A field the form itself cannot
 * read (a rate limit line without a window) is a `FormProblem`; everything else is /v1's to refuse.
 */

/** A /v1 answer: status and parsed body (problem details on error). */

/** A rate limit as /v1 takes and gives it. */
export interface Ratelimit {
  name: string;
  limit: number;
  duration: number;
}

/** Credits as /v1 gives them. */
export interface Credits {
  remaining: number;
  refill: { amount: number; interval: 'daily' | 'monthly' } | null;
}

/** A scope of an API's catalog. */
export interface CatalogScope {
  name: string;
  description: string;
}

/** An API as `/v1/tenants/{slug}/apis` answers it, reduced to what the forms show. */
export interface ApiView {
  id: string;
  identifier: string;
  name: string;
  scopes: CatalogScope[];
}

/** What the page's form got wrong before /v1 was asked: shown as /v1's problems are. */
export class FormProblem extends Error {}

/** Runs `read`; a FormProblem it throws becomes a 400 result instead. */
export function readForm<T>(read: () => T): { value: T; problem?: undefined } | { value?: undefined; problem: V1Result } {
  try {
    return { value: read() };
  } catch (err) {
    if (err instanceof FormProblem) return { problem: formProblem(err.message) };
    throw err;
  }
}


/** Rate limits, one per line as `name limit window` (`per-minute 600 1m`). */
export function parseRatelimits(value: string): Ratelimit[] {
  return lines(value).map((line) => {
    const parts = line.split(/\s+/);
    if (parts.length !== 3) throw new FormProblem(`Write each rate limit as “name limit window”, e.g. “per-minute 600 1m”, not “${line}”.`);
    const [name, limit, window] = parts as [string, string, string];
    if (!/^[1-9]\d*$/.test(limit)) throw new FormProblem(`The limit of “${name}” must be a whole number above 0.`);
    try {
      return { name, limit: Number(limit), duration: parseDuration(window) };
    } catch (err) {
      throw new FormProblem(`The window of “${name}”: ${(err as Error).message}.`);
    }
  });
}

export function ratelimitsText(ratelimits: readonly Ratelimit[]): string {
  return ratelimits.map((r) => `${r.name} ${r.limit} ${formatDuration(r.duration)}`).join('\n');
}

/** A rate limit in words: `600 per 1m (per-minute)`. */
export function ratelimitWords(r: Ratelimit): string {
  return `${r.limit.toLocaleString('en')} per ${formatDuration(r.duration)} (${r.name})`;
}

export function creditsWords(credits: Credits | null): string {
  if (credits === null) return 'unlimited';
  const left = `${credits.remaining.toLocaleString('en')} left`;
  return credits.refill === null ? left : `${left}, refilled to ${credits.refill.amount.toLocaleString('en')} ${credits.refill.interval}`;
}

/**
 * Credits from `credits` (remaining), `refillAmount` and `refillInterval`; undefined when
 * `credits` is empty (the caller decides whether that keeps or clears them).
 */
export function parseCredits(form: Form, prefix = ''): { remaining: number; refill: { amount: number; interval: string } | null } | undefined {
  const remaining = text(form, `${prefix}credits`);
  if (remaining === '') return undefined;
  if (!/^\d+$/.test(remaining)) throw new FormProblem('The credits must be a whole number (0 or more).');
  const amount = text(form, `${prefix}refillAmount`);
  const interval = text(form, `${prefix}refillInterval`);
  if (amount === '' || interval === '' || interval === 'none') return { remaining: Number(remaining), refill: null };
  if (!/^[1-9]\d*$/.test(amount)) throw new FormProblem('The refill must be a whole number above 0.');
  return { remaining: Number(remaining), refill: { amount: Number(amount), interval } };
}

/** A `YYYY-MM-DD` date as the end of that day, UTC, in ISO-8601; null for an empty field. */
export function parseExpiry(value: string): string | null {
  if (value === '') return null;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T23:59:59.999Z`) : Number.NaN;
  if (Number.isNaN(ms)) throw new FormProblem('The expiry must be a date such as 2027-01-31.');
  return new Date(ms).toISOString();
}

/** The date part of an ISO time, for a date field ('' for none). */
export function dateOf(iso: string | null): string {
  return iso === null ? '' : iso.slice(0, 10);
}

/** Scope tokens from a text field: separated by spaces, commas or new lines. */
export function scopeTokens(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s !== '');
}

const checked = (on: boolean): Html | '' => (on ? new Html(' checked') : '');

/** A checkbox per scope of `catalog`, named `name`, ticked when in `held`. */
export function scopeBoxes(prefix: string, name: string, catalog: readonly CatalogScope[], held: readonly string[]): Html {
  if (catalog.length === 0) return html`<p class="muted">The API's catalog has no scopes.</p>`;
  return html`${catalog.map(
    (scope, i) => html`<div class="check"><input type="checkbox" id="${prefix}-scope-${i}" name="${name}" value="${scope.name}"${checked(held.includes(scope.name))}>
<label for="${prefix}-scope-${i}"><code>${scope.name}</code><span class="hint">${scope.description || 'No description'}</span></label></div>`,
  )}`;
}

/** The rate limit, credits and refill fields, named with `prefix`, filled from `values`. */
export function limitFields(prefix: string, idPrefix: string, values: { ratelimits: string; credits: string; refillAmount: string; refillInterval: string }, hints: { credits: string }): Html {
  return html`<div class="field"><label for="${idPrefix}-ratelimits">Rate limits <span class="hint">One per line: name, limit, window, e.g. “per-minute 600 1m” (windows: 500ms, 30s, 15m, 12h, 1d)</span></label><textarea id="${idPrefix}-ratelimits" name="${prefix}ratelimits" rows="2">${values.ratelimits}</textarea></div>
<fieldset><legend>Credits <span class="hint">${hints.credits}</span></legend>
<div class="field"><label for="${idPrefix}-credits">Credits</label><input type="text" inputmode="numeric" id="${idPrefix}-credits" name="${prefix}credits" value="${values.credits}" size="12"></div>
<div class="field"><label for="${idPrefix}-refill">Refilled to</label><input type="text" inputmode="numeric" id="${idPrefix}-refill" name="${prefix}refillAmount" value="${values.refillAmount}" size="12">
<label for="${idPrefix}-interval">every</label><select id="${idPrefix}-interval" name="${prefix}refillInterval">${(['none', 'daily', 'monthly'] as const).map(
    (interval) => html`<option value="${interval}"${values.refillInterval === interval ? new Html(' selected') : ''}>${interval === 'none' ? 'never' : interval === 'daily' ? 'day' : 'month'}</option>`,
  )}</select></div></fieldset>`;
}

/** At most this many pages of APIs are read for a form (100 each). */
const API_PAGES = 10;

/** Every API of the tenant with its catalog, or null when the operator may not read them. */
export async function tenantApis(c: ConsoleContext, slug: string): Promise<ApiView[] | null> {
  if (!c.can('apis:read')) return null;
  const apis: ApiView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < API_PAGES; page++) {
    const result: V1Result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/apis?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (result.status !== 200) return null;
    apis.push(...(result.body.items as ApiView[]));
    cursor = result.body.nextCursor;
    if (cursor === null) break;
  }
  return apis;
}
