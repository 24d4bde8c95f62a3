import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { when } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consoleAsset, consolePage, consoleReply, doneNotice, pager, problemBox, refused, secretField, tenantPath } from '../layout.js';
import {
  creditsWords,
  limitFields,
  parseCredits,
  parseExpiry,
  parseRatelimits,
  ratelimitWords,
  readForm,
  scopeBoxes,
  scopeTokens,
  tenantApis,
  FormProblem,
  type ApiView,
  type Credits,
  type Ratelimit,
} from './key-fields.js';
import { formProblem, lines, listQuery, text } from './form-input.js';

/** A key as `/v1/tenants/{slug}/keys` answers it (never its secret). */
export interface KeyView {
  id: string;
  start: string;
  api: string;
  parentId: string | null;
  name: string | null;
  consumer: string | null;
  scopes: string[];
  meta: Record<string, unknown>;
  expiresAt: string | null;
  enabled: boolean;
  revokedAt: string | null;
  ratelimits: Ratelimit[];
  credits: Credits | null;
  ipAllowlist: string[] | null;
  createdAt: string;
  updatedAt: string;
  lastUsedAt: string | null;
}

interface KeyTree {
  ancestors: KeyView[];
  key: KeyView;
  descendants: KeyView[];
}

const DAY_MS = 86_400_000;

/** How long the old secret keeps working after a roll. */
const GRACE_PERIODS: readonly { ms: number; label: string }[] = [
  { ms: 0, label: 'none: the old secret stops now' },
  { ms: 3_600_000, label: '1 hour' },
  { ms: DAY_MS, label: '24 hours' },
  { ms: 7 * DAY_MS, label: '7 days' },
];

const DONE: Record<string, string> = {
  revoked: 'The key and every sub-key under it are revoked: verify answers REVOKED from now on.',
  disabled: 'The key is disabled: verify answers DISABLED for it and its sub-keys until it is enabled.',
  enabled: 'The key is enabled again.',
};

/** The list's filters, each sent to /v1 as it is. */
const FILTERS = ['start', 'name', 'consumer', 'api'] as const;

/**
 * The keys of a tenant: a list found by start, name, consumer or API; create a key (its secret
 * shown once, in the POST's own answer); a key's page with its settings, its chain and its
 * sub-keys as a tree, and revoke (after a page showing the subtree that goes with it), roll and
 * disable/enable. Every read and change is a call to `/v1/tenants/{slug}/keys…` as the
 * operator, so /v1 authorizes, validates and audits it; a refusal changes nothing.
 */
export function keyPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/keys', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const query = request.query as Record<string, unknown>;
    return listPage(reply, c, slug, { query: listQuery(query, [...FILTERS, 'cursor', 'limit']), done: typeof query['done'] === 'string' ? query['done'] : undefined, now: keygate.clock() });
  });

  app.get('/console/tenants/:slug/keys/new', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const { api } = request.query as { api?: unknown };
    return newKeyPage(reply, c, slug, { status: 200, api: typeof api === 'string' ? api.trim() : '' });
  });

  app.post('/console/tenants/:slug/keys', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const input = readForm(() => keyInput(form));
    const result = input.problem ?? (await c.v1('POST', keysPath(slug), input.value));
    if (result.status === 201) return secretPage(reply, c, slug, { key: result.body as KeyView, secret: result.body.key as string, title: 'Your new key', graceMs: null, now: keygate.clock() });
    if (result.status === 404 && result.body?.code !== 'API_NOT_FOUND') return refused(reply, c, 'keys', result, slug);
    return newKeyPage(reply, c, slug, { status: result.status, api: text(form, 'api'), problem: result, form });
  });

  app.get('/console/tenants/:slug/keys/:id', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, id } = request.params as { slug: string; id: string };
    const { done } = request.query as { done?: unknown };
    return detailPage(reply, c, slug, id, { status: 200, done: typeof done === 'string' ? done : undefined, now: keygate.clock() });
  });

  app.get('/console/tenants/:slug/keys/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, id } = request.params as { slug: string; id: string };
    return revokePage(reply, c, slug, id, { status: 200, now: keygate.clock() });
  });

  app.post('/console/tenants/:slug/keys/:id/revoke', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = await c.v1('POST', `${keyPath(slug, id)}/revoke`);
    if (result.status === 200) return reply.redirect(`${keyUrl(slug, id)}?done=revoked`, 303);
    return revokePage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
  });

  app.post('/console/tenants/:slug/keys/:id/roll', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const grace = Number(param(form, 'grace') ?? '');
    const result = GRACE_PERIODS.some((g) => g.ms === grace) ? await c.v1('POST', `${keyPath(slug, id)}/roll`, { gracePeriodMs: grace }) : formProblem('Pick one of the grace periods offered.');
    if (result.status === 200) return secretPage(reply, c, slug, { key: result.body as KeyView, secret: result.body.key as string, title: 'The key’s new secret', graceMs: grace, now: keygate.clock() });
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
  });

  for (const [verb, enabled] of [['disable', false], ['enable', true]] as const) {
    app.post(`/console/tenants/:slug/keys/:id/${verb}`, { schema: { hide: true } }, async (request, reply) => {
      const posted = await operatorForm(keygate, request, reply);
      if (posted === null) return reply;
      const { c } = posted;
      const { slug, id } = request.params as { slug: string; id: string };
      const result = await c.v1('PATCH', keyPath(slug, id), { enabled });
      if (result.status === 200) return reply.redirect(`${keyUrl(slug, id)}?done=${enabled ? 'enabled' : 'disabled'}`, 303);
      return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
    });
  }
}

function keysPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/keys`;
}

function keyPath(slug: string, id: string): string {
  return `${keysPath(slug)}/${encodeURIComponent(id)}`;
}

function keysUrl(slug: string): string {
  return `${tenantPath(slug)}/keys`;
}

/** A key's console page; exported for the consumer pages, which link to their keys. */
export function keyUrl(slug: string, id: string): string {
  return `${keysUrl(slug)}/${encodeURIComponent(id)}`;
}


export type KeyStatus = 'active' | 'revoked' | 'expired' | 'disabled';

/** A key's own state at `now` (as the portal's `keyStatus`, over /v1's view). */
export function keyStatus(key: KeyView, now: number): KeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  if (key.expiresAt !== null && Date.parse(key.expiresAt) <= now) return 'expired';
  if (!key.enabled) return 'disabled';
  return 'active';
}

/** The key's name, or its start for an unnamed key: how a person tells keys apart. */
function labelOf(key: KeyView): string {
  return key.name ?? key.start;
}

/** The body of POST …/keys from the create form. */
function keyInput(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = { api: text(form, 'api') };
  if (body['api'] === '') throw new FormProblem('Pick the API the key is for.');
  body['scopes'] = [...(form.get('scope') ?? []), ...scopeTokens(text(form, 'scopes'))];
  const name = text(form, 'name');
  if (name !== '') body['name'] = name;
  const consumer = text(form, 'consumer');
  if (consumer !== '') body['consumer'] = consumer;
  const expiresAt = parseExpiry(text(form, 'expires'));
  if (expiresAt !== null) body['expiresAt'] = expiresAt;
  const ratelimits = parseRatelimits(param(form, 'ratelimits') ?? '');
  if (ratelimits.length > 0) body['ratelimits'] = ratelimits;
  const credits = parseCredits(form);
  if (credits !== undefined) body['credits'] = credits;
  const ips = lines((param(form, 'ips') ?? '').replace(/,/g, '\n'));
  if (ips.length > 0) body['ipAllowlist'] = ips;
  const meta = text(form, 'meta');
  if (meta !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(meta);
    } catch {
      throw new FormProblem('The meta is not JSON: write an object such as {"plan": "gold"}.');
    }
    body['meta'] = parsed;
  }
  return body;
}

async function listPage(reply: FastifyReply, c: ConsoleContext, slug: string, options: { query: Record<string, string>; done?: string | undefined; now: number }): Promise<FastifyReply> {
  const { query } = options;
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  const list = await c.v1('GET', `${keysPath(slug)}${search.size === 0 ? '' : `?${search.toString()}`}`);
  // A filter /v1 refuses (a start longer than any start) is the form's problem, not a refusal of the page.
  if (list.status !== 200 && list.status !== 400) return refused(reply, c, 'keys', list, slug);
  const keys = list.status === 200 ? (list.body.items as KeyView[]) : [];
  const searching = FILTERS.some((name) => (query[name] ?? '') !== '');
  const body = html`<h1>Keys</h1>
<p class="lead">The API keys of tenant <strong>${slug}</strong>, sub-keys and consumers' keys included. A consumer's grant is held by a hidden key shown on the consumer's page.</p>
${doneNotice(options.done, DONE)}${problemBox(list)}
<form class="filters" method="get" action="${keysUrl(slug)}" role="search" aria-label="Find keys">
<div class="field"><label for="f-start">Starts with <span class="hint">The first characters shown for a key, e.g. kg_QmG; never paste a whole key</span></label><input type="text" id="f-start" name="start" value="${query['start']}" maxlength="21" autocomplete="off" spellcheck="false"></div>
<div class="field"><label for="f-name">Name contains</label><input type="text" id="f-name" name="name" value="${query['name']}" maxlength="200"></div>
<div class="field"><label for="f-consumer">Consumer <span class="hint">Exactly, e.g. cus_42</span></label><input type="text" id="f-consumer" name="consumer" value="${query['consumer']}" maxlength="256"></div>
<div class="field"><label for="f-api">API <span class="hint">Identifier or id</span></label><input type="text" id="f-api" name="api" value="${query['api']}" maxlength="512"></div>
<div class="field"><button type="submit">Search</button>${searching ? html` <a href="${keysUrl(slug)}">Show all</a>` : ''}</div></form>
${
  keys.length === 0
    ? html`<p class="muted">${searching ? 'No key matches the search.' : 'No keys yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="keys-caption"><table><caption id="keys-caption">${searching ? 'Keys matching the search' : 'Keys'}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">API</th><th scope="col">Consumer</th><th scope="col">Scopes</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Status</th></tr></thead>
<tbody>${keys.map(
        (key) => html`<tr><th scope="row"><a href="${keyUrl(slug, key.id)}">${key.name ?? html`<span class="muted">unnamed</span>`}</a>${key.parentId !== null ? html`<br><span class="muted">sub-key</span>` : ''}</th>
<td><code>${key.start}</code></td><td><code>${key.api}</code></td><td>${key.consumer === null ? html`<span class="muted">none</span>` : html`<code>${key.consumer}</code>`}</td>
<td>${key.scopes.length === 0 ? html`<span class="muted">none</span>` : key.scopes.map((s) => html`<code>${s}</code> `)}</td><td>${when(isoMs(key.expiresAt))}</td><td>${when(isoMs(key.lastUsedAt))}</td><td>${keyStatus(key, options.now)}</td></tr>`,
      )}</tbody></table></div>`
}
${list.status === 200 ? pager(keysUrl(slug), query, list.body.nextCursor) : ''}
${c.can('keys:write') ? html`<h2>Create a key</h2><p><a href="${keysUrl(slug)}/new">Create a key</a>: pick its API, scopes and limits; its secret is shown once.</p>` : ''}`;
  return consoleReply(reply, list.status === 200 ? 200 : list.status, consolePage({ title: 'Keys', c, section: 'keys', tenant: slug, body }));
}

function isoMs(iso: string | null): number | null {
  return iso === null ? null : Date.parse(iso);
}

/** The create page: first the API (its catalog gives the scopes to tick), then the key's settings. */
async function newKeyPage(reply: FastifyReply, c: ConsoleContext, slug: string, options: { status: number; api: string; problem?: V1Result; form?: Form }): Promise<FastifyReply> {
  if (!c.can('keys:write')) return refused(reply, c, 'keys', { status: 403, body: { title: 'Forbidden', detail: 'creating a key needs the keys:write scope', code: 'FORBIDDEN' } }, slug);
  const apis = await tenantApis(c, slug);
  const chosen = options.api !== '' ? options.api : apis?.length === 1 ? apis[0]!.identifier : '';
  const api = apis?.find((a) => a.identifier === chosen || a.id === chosen) ?? null;
  const crumbs = html`<p class="crumbs"><a href="${keysUrl(slug)}">Keys</a> › New key</p>`;
  if (chosen === '' || (apis !== null && api === null && options.form === undefined)) {
    const picker =
      apis === null
        ? html`<div class="field"><label for="pick-api">API identifier</label><input type="text" id="pick-api" name="api" required maxlength="512" value="${chosen}"></div>`
        : html`<div class="field"><label for="pick-api">API</label><select id="pick-api" name="api">${apis.map((a) => html`<option value="${a.identifier}">${a.name} (${a.identifier})</option>`)}</select></div>`;
    const body = html`${crumbs}<h1>New key</h1><p class="lead">Which API is the key for?</p>
${chosen !== '' ? html`<div class="error" role="alert">Tenant ${slug} has no API ${chosen} that you can see.</div>` : ''}
${apis !== null && apis.length === 0 ? html`<p class="muted">The tenant has no API yet: create one first.</p>` : html`<form class="card" method="get" action="${keysUrl(slug)}/new">${picker}<button class="primary" type="submit">Next</button></form>`}`;
    return consoleReply(reply, chosen === '' ? options.status : 404, consolePage({ title: 'New key', c, section: 'keys', tenant: slug, body }));
  }
  const body = html`${crumbs}<h1>New key for ${api?.name ?? chosen}</h1>
<p class="lead">The secret is shown once, on the next page. Keygate keeps only its hash.</p>
${createForm(c, slug, { identifier: api?.identifier ?? chosen, api, problem: options.problem, form: options.form })}`;
  return consoleReply(reply, options.status, consolePage({ title: 'New key', c, section: 'keys', tenant: slug, body }));
}

function createForm(c: ConsoleContext, slug: string, options: { identifier: string; api: ApiView | null; problem?: V1Result | undefined; form?: Form | undefined }): Html {
  const { form, api } = options;
  const value = (name: string): string => form?.get(name)?.[0] ?? '';
  const ticked = form?.get('scope') ?? [];
  return html`<form class="card" method="post" action="${keysUrl(slug)}" aria-label="New key"><input type="hidden" name="csrf" value="${c.csrf}"><input type="hidden" name="api" value="${options.identifier}">
${options.problem ? problemBox(options.problem) : ''}
<div class="field"><label for="new-name">Name <span class="hint">So people recognise it later, e.g. “CI” or “billing job”</span></label><input type="text" id="new-name" name="name" maxlength="200" value="${value('name')}"></div>
${
  api === null
    ? html`<div class="field"><label for="new-scopes">Scopes <span class="hint">Separated by spaces, from the API's catalog</span></label><input type="text" id="new-scopes" name="scopes" value="${value('scopes')}"></div>`
    : html`<fieldset><legend>Scopes <span class="hint">What the key may do at ${api.identifier}</span></legend>${scopeBoxes('new', 'scope', api.scopes, ticked)}</fieldset>`
}
<div class="field"><label for="new-consumer">Consumer <span class="hint">Who owns the key, e.g. your customer id; optional</span></label><input type="text" id="new-consumer" name="consumer" maxlength="256" value="${value('consumer')}"></div>
<div class="field"><label for="new-expires">Expires at the end of <span class="hint">A UTC date; empty: never</span></label><input type="date" id="new-expires" name="expires" value="${value('expires')}"></div>
${limitFields('', 'new', { ratelimits: value('ratelimits'), credits: value('credits'), refillAmount: value('refillAmount'), refillInterval: value('refillInterval') || 'none' }, { credits: 'Empty: unlimited. Each request spends one (or the operation’s cost)' })}
<div class="field"><label for="new-ips">Allowed IP addresses <span class="hint">Addresses or CIDR ranges, one per line; empty: any address</span></label><textarea id="new-ips" name="ips" rows="2">${value('ips')}</textarea></div>
<div class="field"><label for="new-meta">Meta <span class="hint">A JSON object verify returns with the key, e.g. {"plan": "gold"}; optional</span></label><textarea id="new-meta" name="meta" rows="2">${value('meta')}</textarea></div>
<button class="primary" type="submit">Create key</button></form>`;
}

/** The page of a secret just issued (a new or rolled key): shown once, in the POST's own answer; the consumer pages use it too. */
export function secretPage(reply: FastifyReply, c: ConsoleContext, slug: string, options: { key: KeyView; secret: string; title: string; graceMs: number | null; now: number }): FastifyReply {
  const { key, secret, title, graceMs, now } = options;
  const grace = graceMs === null ? '' : graceMs === 0 ? html`<p>The old secret stopped working now.</p>` : html`<p>The old secret keeps working until about ${when(now + graceMs)}.</p>`;
  const body = html`<h1>${title}</h1>
<div class="card"><p class="warn" role="alert">Copy this key now. You won't see it again: Keygate keeps only a hash of it.</p>
${secretField(`Secret key for ${key.api}`, secret)}
${grace}
<p>Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<p>Name: ${key.name ?? 'unnamed'} · starts with <code>${key.start}</code> · scopes: ${key.scopes.map((s) => html`<code>${s}</code> `)}· expires: ${when(isoMs(key.expiresAt))} · status: ${keyStatus(key, now)}</p></div>
<p><a href="${keyUrl(slug, key.id)}">Go to the key</a> · <a href="${keysUrl(slug)}">Back to keys</a></p>`;
  return consoleReply(reply, 200, consolePage({ title, c, section: 'keys', tenant: slug, body, scripts: [consoleAsset('copy.js')] }));
}

/** The key's tree from /v1, or the refusal to show instead. */
async function treeOf(c: ConsoleContext, slug: string, id: string): Promise<{ tree: KeyTree; result?: undefined } | { tree?: undefined; result: V1Result }> {
  const result = await c.v1('GET', `${keyPath(slug, id)}/tree`);
  return result.status === 200 ? { tree: result.body as KeyTree } : { result };
}

/** One key in a tree: a link (but for `current`), its start, status and scopes. */
function treeItem(slug: string, key: KeyView, now: number, current: string): Html {
  const label = key.id === current ? html`<strong aria-current="true">${labelOf(key)} (this key)</strong>` : html`<a href="${keyUrl(slug, key.id)}">${labelOf(key)}</a>`;
  return html`${label} <code>${key.start}</code> · ${keyStatus(key, now)} · ${key.scopes.length === 0 ? 'no scopes' : key.scopes.join(' ')}${key.consumer !== null ? html` · consumer <code>${key.consumer}</code>` : ''}`;
}

/** The key's descendants as nested lists, children under their parent. */
function subtree(slug: string, parentId: string, descendants: readonly KeyView[], now: number, current: string): Html {
  const children = descendants.filter((k) => k.parentId === parentId);
  if (children.length === 0) return html``;
  return html`<ul>${children.map((child) => html`<li>${treeItem(slug, child, now, current)}${subtree(slug, child.id, descendants, now, current)}</li>`)}</ul>`;
}

/**
 * The chain above the key and the family below it as one nested list: the root first, each
 * ancestor holding the next, the key, then its descendants.
 */
function familyTree(slug: string, tree: KeyTree, now: number, label: string): Html {
  const chain = [...tree.ancestors].reverse();
  const keyItem = html`<li>${treeItem(slug, tree.key, now, tree.key.id)}${subtree(slug, tree.key.id, tree.descendants, now, tree.key.id)}</li>`;
  const nested = chain.reduceRight<Html>((inner, ancestor) => html`<li>${treeItem(slug, ancestor, now, tree.key.id)}<ul>${inner}</ul></li>`, keyItem);
  return html`<ul class="tree" aria-label="${label}">${nested}</ul>`;
}

/**
 * The consumer whose grant `key` holds, or null. Grant keys are changed through their consumer
 * (/v1's key routes answer 409 KEY_IS_GRANT), so their page offers no key action. Without
 * consumers:read the page cannot tell, shows the actions, and /v1's refusal says it.
 */
async function grantHolder(c: ConsoleContext, slug: string, key: KeyView): Promise<string | null> {
  if (key.consumer === null || key.parentId !== null || !c.can('consumers:read')) return null;
  const result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/consumers/${encodeURIComponent(key.consumer)}`);
  if (result.status !== 200) return null;
  return (result.body.grants as { grantKeyId: string }[]).some((g) => g.grantKeyId === key.id) ? key.consumer : null;
}

function grantNotice(slug: string, consumer: string): Html {
  return html`<p class="notice">This key holds the grant of consumer <a href="${tenantPath(slug)}/consumers/${encodeURIComponent(consumer)}"><code>${consumer}</code></a>: the most its keys may hold. Its secret is never shown; change or remove the grant on the consumer's page.</p>`;
}

async function detailPage(reply: FastifyReply, c: ConsoleContext, slug: string, id: string, options: { status: number; done?: string | undefined; problem?: V1Result; now: number }): Promise<FastifyReply> {
  const got = await treeOf(c, slug, id);
  if (got.tree === undefined) return refused(reply, c, 'keys', got.result, slug);
  if (options.problem?.status === 404) return refused(reply, c, 'keys', options.problem, slug);
  const { key } = got.tree;
  const { now } = options;
  const status = keyStatus(key, now);
  const label = labelOf(key);
  const holder = await grantHolder(c, slug, key);
  const canWrite = c.can('keys:write') && holder === null;
  const meta = Object.keys(key.meta).length === 0 ? html`<span class="muted">none</span>` : html`<pre>${JSON.stringify(key.meta, null, 2)}</pre>`;
  const body = html`<p class="crumbs"><a href="${keysUrl(slug)}">Keys</a> › ${label}</p>
<h1>${label}</h1>
${doneNotice(options.done, DONE)}${options.problem ? problemBox(options.problem) : ''}${holder === null ? '' : grantNotice(slug, holder)}
<div class="card"><dl>
<dt>Status</dt><dd>${status}${status === 'revoked' ? html` since ${when(isoMs(key.revokedAt))}` : ''}</dd>
<dt>Key id</dt><dd><code>${key.id}</code></dd>
<dt>Starts with</dt><dd><code>${key.start}</code></dd>
<dt>API</dt><dd><code>${key.api}</code></dd>
<dt>Consumer</dt><dd>${key.consumer === null ? html`<span class="muted">none</span>` : html`<code>${key.consumer}</code>`}</dd>
<dt>Scopes</dt><dd>${key.scopes.length === 0 ? html`<span class="muted">none</span>` : key.scopes.map((s) => html`<code>${s}</code> `)}</dd>
<dt>Expires</dt><dd>${when(isoMs(key.expiresAt))}</dd>
<dt>Rate limits</dt><dd>${key.ratelimits.length === 0 ? html`<span class="muted">none of its own</span>` : html`<ul>${key.ratelimits.map((r) => html`<li>${ratelimitWords(r)}</li>`)}</ul>`}</dd>
<dt>Credits</dt><dd>${creditsWords(key.credits)}</dd>
<dt>Allowed IP addresses</dt><dd>${key.ipAllowlist === null ? html`<span class="muted">any</span>` : key.ipAllowlist.map((ip) => html`<code>${ip}</code> `)}</dd>
<dt>Meta</dt><dd>${meta}</dd>
<dt>Created</dt><dd>${when(isoMs(key.createdAt))}</dd><dt>Changed</dt><dd>${when(isoMs(key.updatedAt))}</dd><dt>Last used</dt><dd>${when(isoMs(key.lastUsedAt))}</dd></dl>
<p class="muted">A key's own settings: what it may do is also bounded by every key above it (the tree below). Verify applies the narrowest.</p></div>
<h2 id="tree-heading">Parent and sub-keys</h2>
${got.tree.ancestors.length === 0 && got.tree.descendants.length === 0 ? html`<p class="muted">No parent and no sub-keys.</p>` : familyTree(slug, got.tree, now, 'The key with its parents and sub-keys')}
${canWrite && status !== 'revoked' ? actions(c, slug, key) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: label, c, section: 'keys', tenant: slug, body }));
}

function actions(c: ConsoleContext, slug: string, key: KeyView): Html {
  const url = keyUrl(slug, key.id);
  return html`<h2 id="roll-heading">Roll the secret</h2>
<form class="card" method="post" action="${url}/roll" aria-labelledby="roll-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p>A new secret for the same key, shown once. Deploy it, then let the old one run out.</p>
<div class="field"><label for="grace">The old secret keeps working for</label><select id="grace" name="grace">${GRACE_PERIODS.map((g) => html`<option value="${g.ms}">${g.label}</option>`)}</select></div>
<button type="submit">Roll secret</button></form>
<h2 id="enable-heading">${key.enabled ? 'Disable' : 'Enable'} the key</h2>
<form class="card" method="post" action="${url}/${key.enabled ? 'disable' : 'enable'}" aria-labelledby="enable-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p>${key.enabled ? 'While disabled, verify answers DISABLED for the key and its sub-keys; enabling it again restores them.' : 'The key and its sub-keys verify again (unless something else stops them).'}</p>
<button type="submit"${key.enabled ? new Html(' class="danger"') : ''}>${key.enabled ? 'Disable key' : 'Enable key'}</button></form>
<h2 id="revoke-heading">Revoke the key</h2>
<p>Revoking is for good, and takes every sub-key with it. <a href="${url}/revoke">Revoke ${labelOf(key)}…</a> (you will see what goes first)</p>`;
}

/** The confirmation before a revoke: the key and every sub-key that goes with it. */
async function revokePage(reply: FastifyReply, c: ConsoleContext, slug: string, id: string, options: { status: number; problem?: V1Result; now: number }): Promise<FastifyReply> {
  const got = await treeOf(c, slug, id);
  if (got.tree === undefined) return refused(reply, c, 'keys', got.result, slug);
  if (options.problem !== undefined && (options.problem.status === 404 || options.problem.status === 403)) return refused(reply, c, 'keys', options.problem, slug);
  const { key, descendants } = got.tree;
  const { now } = options;
  const label = labelOf(key);
  const live = [key, ...descendants].filter((k) => k.revokedAt === null);
  const holder = await grantHolder(c, slug, key);
  const subtreeList = html`<ul class="tree" aria-label="The keys revoked"><li>${treeItem(slug, key, now, key.id)}${subtree(slug, key.id, descendants, now, key.id)}</li></ul>`;
  const body = html`<p class="crumbs"><a href="${keysUrl(slug)}">Keys</a> › <a href="${keyUrl(slug, id)}">${label}</a> › Revoke</p>
<h1>Revoke ${label}?</h1>
${options.problem ? problemBox(options.problem) : ''}
${
  holder !== null
    ? html`${grantNotice(slug, holder)}${subtreeList}`
    : key.revokedAt !== null
    ? html`<p class="lead">The key is already revoked.</p>${subtreeList}`
    : html`<p class="lead">${live.length === 1 ? 'This key is revoked, for good: verify answers REVOKED for it at once, on every instance.' : `These ${live.length} keys are revoked, for good: the key and every sub-key under it. Verify answers REVOKED for each at once, on every instance.`}</p>
<h2 id="subtree-heading">What is revoked</h2>${subtreeList}
${
  c.can('keys:write')
    ? html`<form class="card" method="post" action="${keyUrl(slug, id)}/revoke" aria-labelledby="subtree-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="actions"><button class="danger" type="submit">Revoke ${live.length === 1 ? 'the key' : `${live.length} keys`}</button><a href="${keyUrl(slug, id)}">Cancel</a></div></form>`
    : html`<p class="muted">Your operator account may not revoke keys (keys:write).</p>`
}`
}`;
  return consoleReply(reply, options.status, consolePage({ title: `Revoke ${label}`, c, section: 'keys', tenant: slug, body }));
}
