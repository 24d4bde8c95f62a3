import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { Keygate } from '../../../services/keygate.js';
import { outcomeText, when } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import type { AuditEventView as AuditEventSchema } from '../../schemas.js';
import { requireOperator, type ConsoleContext } from '../context.js';
import { consolePage, consoleReply, pager, problemBox, refused, tenantPath } from '../layout.js';
import { v1Items } from './v1-lists.js';

/** An event as `GET /v1/tenants/{slug}/audit` answers it (its response schema). */
type AuditEventView = Static<typeof AuditEventSchema>;

const FILTERS = ['action', 'actor', 'target', 'from', 'to'] as const;
type Filter = (typeof FILTERS)[number];

/** How many pages of operators are read to name the operators among the actors (100 each). */
const OPERATOR_PAGES = 5;

/**
 * A tenant's audit log (docs/audit.md), newest first, from `GET /v1/tenants/{slug}/audit` as the
 * operator (`audit:read`): filters as a GET form, pagination by /v1's cursor, aggregated refusals
 * in words ("RATE_LIMITED × 1,204 between 10:01:07 and 10:01:59 UTC"), and an actor that is an
 * operator shown as the operator.
 */
export function auditPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/audit', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const raw = request.query as Record<string, unknown>;
    const chosen = Object.fromEntries(FILTERS.map((name) => [name, typeof raw[name] === 'string' ? (raw[name] as string).trim().slice(0, 256) : ''])) as Record<Filter, string>;
    const cursor = typeof raw['cursor'] === 'string' ? raw['cursor'] : '';
    const query = new URLSearchParams({ limit: '50' });
    for (const name of FILTERS) if (chosen[name] !== '') query.set(name, name === 'from' || name === 'to' ? utcInstant(chosen[name]) : chosen[name]);
    if (cursor !== '') query.set('cursor', cursor);
    const form = filterForm(slug, chosen);
    const badFilter = (problem: { status: number; body: unknown }) =>
      consoleReply(reply, 400, consolePage({ title: 'Audit log', c, section: 'audit', tenant: slug, body: html`<h1>Audit log</h1>${form}${problemBox(problem)}` }));

    // Operators are shown by email, so an email is taken as the actor too: the operator's id.
    const byEmail = chosen.actor.includes('@');
    let operators = await operatorEmails(c, byEmail);
    const operatorId = byEmail ? [...operators].find(([, email]) => email === chosen.actor.toLowerCase())?.[0] : undefined;
    if (operatorId !== undefined) query.set('actor', operatorId);

    const result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/audit?${query}`);
    // A filter /v1 refuses (a bad time, from after to) is the operator's to fix on the page; a 403 or 404 is the whole answer.
    if (result.status === 400) return badFilter(result);
    if (result.status !== 200) return refused(reply, c, 'audit', result, slug);
    // Only once /v1 has let the operator read this log: an unknown email is then theirs to fix.
    if (byEmail && operatorId === undefined) {
      return badFilter({ status: 400, body: { title: 'No such operator', detail: `no operator you may see has the email ${chosen.actor}; give an actor's id instead` } });
    }
    const events = result.body.items as AuditEventView[];
    if (!byEmail) operators = await operatorEmails(c, events.some((e) => e.actor.startsWith('usr_') && !operators.has(e.actor)));
    const body = html`<h1>Audit log</h1>
<p class="lead">Every change and every refused attempt in tenant <strong>${slug}</strong>, newest first. Times are UTC. Refusals are folded per key, reason and minute.</p>
${form}
${denialSummary(events)}
${eventsTable(slug, events, operators, c)}
${pager(`${tenantPath(slug)}/audit`, { ...chosen }, result.body.nextCursor)}`;
    return consoleReply(reply, 200, consolePage({ title: 'Audit log', c, section: 'audit', tenant: slug, body }));
  });
}

/** A time from the form as /v1 takes it: `datetime-local` gives no zone, and the page says UTC. */
function utcInstant(value: string): string {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(value) ? `${value.length === 16 ? `${value}:00` : value}Z` : value;
}

function filterForm(slug: string, chosen: Record<Filter, string>): Html {
  const field = (name: Filter, label: string, hint: string, type = 'text') =>
    html`<div class="field"><label for="${name}">${label} <span class="hint">${hint}</span></label><input type="${type}" id="${name}" name="${name}" value="${chosen[name]}"${type === 'datetime-local' ? new Html(' step="1"') : ''}></div>`;
  return html`<form class="card filters" method="get" action="${tenantPath(slug)}/audit" aria-label="Filter the log">
${field('action', 'Action', 'e.g. key.revoke, key.verify.denied')}
${field('actor', 'Actor', 'an operator\'s email or id, a root key or key id, verify, oauth')}
${field('target', 'Target', 'a key, client, API or token id')}
${field('from', 'From (UTC)', 'at or after', 'datetime-local')}
${field('to', 'To (UTC)', 'before', 'datetime-local')}
<button type="submit">Filter</button> <a href="${tenantPath(slug)}/audit">Clear</a></form>`;
}

/**
 * The operators the signed-in operator may see, email by id, read through `/v1/operators` as the
 * operator (an operator's actions are audited under their own id, a user of the system tenant);
 * only when `needed`, since it costs a few /v1 calls. The signed-in operator is always known;
 * others only to an operator who may list operators (`root_keys:read`, and within their reach).
 */
async function operatorEmails(c: ConsoleContext, needed: boolean): Promise<Map<string, string>> {
  const emails = new Map([[c.operator.id, c.operator.email]]);
  if (!needed) return emails;
  for (const operator of (await v1Items<{ id: string; email: string }>(c, '/v1/operators', { pages: OPERATOR_PAGES })) ?? []) emails.set(operator.id, operator.email);
  return emails;
}

/** `12:01:07`: the time of day, UTC. */
function clock(iso: string): string {
  return iso.slice(11, 19);
}

/** What a refusal is about: its code (verify) or reason (client authentication, sign-in). */
function reasonOf(event: AuditEventView): string | null {
  const reason = event.data['code'] ?? event.data['reason'];
  return typeof reason === 'string' ? reason : null;
}

/**
 * When refusals came, in words: "between 10:01:07 and 10:01:59 UTC", "at 10:01:07 UTC" within
 * one second; `withDate` puts the day first, and a span into another day names that day too.
 */
function spanInWords(first: string, last: string, options: { withDate: boolean }): string {
  const start = options.withDate ? `${first.slice(0, 10)} ${clock(first)}` : clock(first);
  const sameDay = first.slice(0, 10) === last.slice(0, 10);
  if (sameDay && clock(first) === clock(last)) return `at ${start} UTC`;
  return `between ${start} and ${sameDay ? '' : `${last.slice(0, 10)} `}${clock(last)} UTC`;
}

/**
 * A refusal in words: "RATE_LIMITED × 1,204 between 10:01:07 and 10:01:59 UTC" for a folded row
 * ("… × 3 at 10:01:07 UTC" within one second), "RATE_LIMITED once" for one.
 */
export function refusalInWords(event: Pick<AuditEventView, 'at' | 'lastAt' | 'count'> & { reason: string | null }): string {
  const reason = event.reason ?? 'refused';
  if (event.count <= 1 || event.lastAt === null) return `${reason} once`;
  return `${reason} × ${event.count.toLocaleString('en-US')} ${spanInWords(event.at, event.lastAt, { withDate: false })}`;
}

/** The page's refusals folded once more, per action and reason: how many, and over what span. */
function denialSummary(events: readonly AuditEventView[]): Html {
  const groups = new Map<string, { action: string; reason: string | null; count: number; first: string; last: string; targets: Set<string> }>();
  for (const event of events) {
    if (!event.action.endsWith('.denied')) continue;
    const reason = reasonOf(event);
    const key = JSON.stringify([event.action, reason]);
    const last = event.lastAt ?? event.at;
    const group = groups.get(key) ?? { action: event.action, reason, count: 0, first: event.at, last, targets: new Set<string>() };
    group.count += event.count;
    if (event.at < group.first) group.first = event.at;
    if (last > group.last) group.last = last;
    if (event.target !== null) group.targets.add(event.target);
    groups.set(key, group);
  }
  if (groups.size === 0) return html``;
  const rows = [...groups.values()].sort((a, b) => b.count - a.count);
  return html`<section aria-labelledby="refusals"><h2 id="refusals">Refusals on this page</h2><ul>${rows.map(
    (g) =>
      html`<li><strong>${g.reason ?? g.action}</strong> × ${g.count.toLocaleString('en-US')} ${spanInWords(g.first, g.last, { withDate: true })} <span class="muted">(${g.action}${g.reason !== null && outcomeText(g.reason) !== g.reason ? `: ${outcomeText(g.reason)}` : ''}${g.targets.size > 0 ? `, ${g.targets.size} ${g.targets.size === 1 ? 'target' : 'targets'}` : ''})</span></li>`,
  )}</ul></section>`;
}

function actorCell(slug: string, actor: string, operators: ReadonlyMap<string, string>, c: ConsoleContext): Html {
  const filter = html`<a href="${tenantPath(slug)}/audit?actor=${encodeURIComponent(actor)}" class="muted" aria-label="Only events of ${actor}">filter</a>`;
  const operator = operators.get(actor);
  if (operator !== undefined) {
    return html`Operator <strong>${operator}</strong>${actor === c.operator.id ? ' (you)' : ''}<br><code>${actor}</code> ${filter}`;
  }
  return html`<code>${actor}</code> ${filter}`;
}

function eventsTable(slug: string, events: readonly AuditEventView[], operators: ReadonlyMap<string, string>, c: ConsoleContext): Html {
  if (events.length === 0) return html`<p class="muted">No events match.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="events-caption"><table><caption id="events-caption">Events, newest first</caption>
<thead><tr><th scope="col">When (UTC)</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Details</th></tr></thead>
<tbody>${events.map((e) => {
    const reason = reasonOf(e);
    const denied = e.action.endsWith('.denied');
    return html`<tr><td>${when(Date.parse(e.at))}</td><td>${actorCell(slug, e.actor, operators, c)}</td><td><code>${e.action}</code></td>
<td>${e.target === null ? html`<span class="muted">none</span>` : html`<code>${e.target}</code> <a href="${tenantPath(slug)}/audit?target=${encodeURIComponent(e.target)}" class="muted" aria-label="Only events about ${e.target}">filter</a>`}</td>
<td>${denied ? html`<strong>${refusalInWords({ ...e, reason })}</strong><br>` : ''}${details(e)}</td></tr>`;
  })}</tbody></table></div>`;
}

/** The event's data, request id and address, compactly; the data never holds a secret (docs/audit.md). */
function details(event: AuditEventView): Html {
  const data = Object.entries(event.data).filter(([name]) => name !== 'code' && name !== 'reason');
  return html`${data.length === 0 ? '' : html`<code class="data">${JSON.stringify(Object.fromEntries(data))}</code><br>`}<span class="muted">${event.requestId ?? ''}${event.ip === null ? '' : ` · ${event.ip}`}</span>`;
}
