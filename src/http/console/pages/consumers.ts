import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { when } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consolePage, consoleReply, doneNotice, pager, problemBox, refused, tenantPath } from '../layout.js';
import {
  creditsWords,
  dateOf,
  limitFields,
  parseCredits,
  parseExpiry,
  parseRatelimits,
  ratelimitWords,
  ratelimitsText,
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
import { keyStatus, keyUrl, secretPage, type KeyView } from './keys.js';

/** A grant as `/v1/tenants/{slug}/consumers` answers it. */
interface GrantView {
  api: string;
  apiId: string;
  scopes: string[];
  maxKeys: number | null;
  ratelimits: Ratelimit[];
  credits: Credits | null;
  expiresAt: string | null;
  grantKeyId: string;
}

/** A consumer as `/v1/tenants/{slug}/consumers` answers it. */
interface ConsumerView {
  id: string;
  name: string;
  members: string[];
  grants: GrantView[];
  createdAt: string;
  updatedAt: string;
}

interface UserView {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
}

/** The grant body /v1 takes (`GrantBody` of the consumer routes). */
type GrantInput = Record<string, unknown> & { api: string; scopes: string[] };

/** At most this many pages (100 each) of a consumer's keys are drawn in its tree. */
const KEY_PAGES = 10;
/** At most this many members are looked up by id to show their email. */
const MEMBER_LOOKUPS = 50;
/** At most this many grant rows are read from a form (/v1 takes 100 grants). */
const MAX_GRANT_ROWS = 100;

const DONE: Record<string, string> = {
  created: 'The consumer is created. Its members can now create keys within its grants in the portal.',
  updated: 'The grants are saved; every key under them follows at once.',
  renamed: 'The consumer is renamed.',
  'member-added': 'The member is added: they can manage the consumer’s keys in the portal.',
  'member-removed': 'The member is removed. Keys they made stay: they are the consumer’s.',
  deleted: 'The consumer is deleted and every key under its grants is revoked.',
};

/**
 * The consumers of a tenant: a list with search and a create form (id, name, members, a grant
 * per API), and a consumer's page that shows its grants from above — each grant, the members'
 * keys under it, their sub-keys — with its members (add, remove), its grants to change (a change
 * that narrows or removes a grant is shown with the keys it narrows or revokes, and applied only
 * once confirmed), a rename and delete. Every read and change is a call to
 * `/v1/tenants/{slug}/consumers…` as the operator, so /v1 authorizes, validates and audits it.
 */
export function consumerPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/consumers', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const query = request.query as Record<string, unknown>;
    return listPage(reply, c, slug, { status: 200, query: listQuery(query, ['search', 'cursor', 'limit']), done: typeof query['done'] === 'string' ? query['done'] : undefined });
  });

  app.post('/console/tenants/:slug/consumers', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const input = readForm(() => createInput(form));
    const result = input.problem ?? (await c.v1('POST', consumersPath(slug), input.value));
    if (result.status === 201) return reply.redirect(`${consumerUrl(slug, (result.body as ConsumerView).id)}?done=created`, 303);
    if (result.status === 404 && result.body?.code === 'TENANT_NOT_FOUND') return refused(reply, c, 'consumers', result, slug);
    return listPage(reply, c, slug, { status: result.status, query: {}, problem: result, form });
  });

  app.get('/console/tenants/:slug/consumers/:id', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, id } = request.params as { slug: string; id: string };
    const { done } = request.query as { done?: unknown };
    return detailPage(reply, c, slug, id, { status: 200, done: typeof done === 'string' ? done : undefined, now: keygate.clock() });
  });

  app.post('/console/tenants/:slug/consumers/:id/grants', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const now = keygate.clock();
    const current = await c.v1('GET', consumerPath(slug, id));
    if (current.status !== 200) return refused(reply, c, 'consumers', current, slug);
    const input = readForm(() => grantsOf(form, { create: false }));
    if (input.problem !== undefined) return detailPage(reply, c, slug, id, { status: 400, problem: input.problem, form, now });
    // Narrowing reaches keys at once: say which, and apply only once the operator confirms.
    const narrowing = narrowingOf((current.body as ConsumerView).grants, input.value);
    if (narrowing.length > 0 && param(form, 'confirm') !== 'yes' && c.can('consumers:write')) return detailPage(reply, c, slug, id, { status: 200, form, narrowing, now });
    const result = await c.v1('PATCH', consumerPath(slug, id), { grants: input.value });
    if (result.status === 200) return reply.redirect(`${consumerUrl(slug, id)}?done=updated`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, form, now });
  });

  app.post('/console/tenants/:slug/consumers/:id/keys', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const input = readForm(() => memberKeyInput(form));
    const result = input.problem ?? (await c.v1('POST', `${consumerPath(slug, id)}/keys`, input.value));
    if (result.status === 201) return secretPage(reply, c, slug, { key: result.body as KeyView, secret: result.body.key as string, title: 'The member’s new key', graceMs: null, now: keygate.clock() });
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
  });

  app.post('/console/tenants/:slug/consumers/:id/rename', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = await c.v1('PATCH', consumerPath(slug, id), { name: text(form, 'name') });
    if (result.status === 200) return reply.redirect(`${consumerUrl(slug, id)}?done=renamed`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
  });

  for (const verb of ['add', 'remove'] as const) {
    app.post(`/console/tenants/:slug/consumers/:id/members/${verb}`, { schema: { hide: true } }, async (request, reply) => {
      const posted = await operatorForm(keygate, request, reply);
      if (posted === null) return reply;
      const { c, form } = posted;
      const { slug, id } = request.params as { slug: string; id: string };
      const current = await c.v1('GET', consumerPath(slug, id));
      if (current.status !== 200) return refused(reply, c, 'consumers', current, slug);
      const members = (current.body as ConsumerView).members;
      const user = text(form, 'user');
      const result =
        user === ''
          ? formProblem('Give the user id of the member.')
          : await c.v1('PATCH', consumerPath(slug, id), { members: verb === 'add' ? [...members.filter((m) => m !== user), user] : members.filter((m) => m !== user) });
      if (result.status === 200) return reply.redirect(`${consumerUrl(slug, id)}?done=member-${verb === 'add' ? 'added' : 'removed'}`, 303);
      return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
    });
  }

  app.post('/console/tenants/:slug/consumers/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = param(form, 'confirm') === 'yes' ? await c.v1('DELETE', consumerPath(slug, id)) : formProblem('Tick the box to confirm that the consumer goes and its keys are revoked.');
    if (result.status === 200) return reply.redirect(`${consumersUrl(slug)}?done=deleted`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, now: keygate.clock() });
  });
}

function consumersPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/consumers`;
}

function consumerPath(slug: string, id: string): string {
  return `${consumersPath(slug)}/${encodeURIComponent(id)}`;
}

function consumersUrl(slug: string): string {
  return `${tenantPath(slug)}/consumers`;
}

function consumerUrl(slug: string, id: string): string {
  return `${consumersUrl(slug)}/${encodeURIComponent(id)}`;
}


/** The body of POST …/consumers from the create form. */
function createInput(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = { name: text(form, 'name') };
  const id = text(form, 'id');
  if (id !== '') body['id'] = id;
  const members = lines((param(form, 'members') ?? '').replace(/,/g, '\n'));
  if (members.length > 0) body['members'] = members;
  const grants = grantsOf(form, { create: true });
  if (grants.length > 0) body['grants'] = grants;
  return body;
}

/**
 * The grants of the grant editor: row `g{i}-…` per API, taken when its box `g{i}-on` is ticked.
 * On a change, an emptied max-keys field clears the cap, empty credits keep the credits left (a
 * number sets them anew, as /v1 does), and the expiry is sent only when it was changed, so
 * saving a form never moves an expiry by the time of day it had.
 */
function grantsOf(form: Form, options: { create: boolean }): GrantInput[] {
  const rows = Math.min(Number(text(form, 'grantRows')) || 0, MAX_GRANT_ROWS);
  const grants: GrantInput[] = [];
  for (let i = 0; i < rows; i++) {
    const p = `g${i}-`;
    if (text(form, `${p}on`) !== 'yes') continue;
    const api = text(form, `${p}api`);
    if (api === '') throw new FormProblem('Give the identifier of each API the consumer is granted.');
    const grant: GrantInput = { api, scopes: [...(form.get(`${p}scope`) ?? []), ...scopeTokens(text(form, `${p}scopes`))] };
    const maxKeys = text(form, `${p}maxKeys`);
    if (maxKeys !== '' && !/^\d+$/.test(maxKeys)) throw new FormProblem(`The most keys on ${api} must be a whole number, or empty for no cap.`);
    if (maxKeys !== '' || !options.create) grant['maxKeys'] = maxKeys === '' ? null : Number(maxKeys);
    const ratelimits = parseRatelimits(param(form, `${p}ratelimits`) ?? '');
    if (ratelimits.length > 0 || !options.create) grant['ratelimits'] = ratelimits;
    const credits = parseCredits(form, p);
    if (credits !== undefined) grant['credits'] = credits;
    else if (text(form, `${p}noCredits`) === 'yes') grant['credits'] = null;
    const expires = text(form, `${p}expires`);
    if (expires !== text(form, `${p}expiresWas`) || (options.create && expires !== '')) grant['expiresAt'] = parseExpiry(expires);
    grants.push(grant);
  }
  return grants;
}

/** The body of POST …/consumers/{id}/keys: a key for a member within one grant. */
function memberKeyInput(form: Form): Record<string, unknown> {
  const body: Record<string, unknown> = { api: text(form, 'api'), member: text(form, 'member'), scopes: form.get('scope') ?? [] };
  if (body['member'] === '') throw new FormProblem('Pick the member the key is for.');
  const name = text(form, 'name');
  if (name !== '') body['name'] = name;
  const expiresAt = parseExpiry(text(form, 'expires'));
  if (expiresAt !== null) body['expiresAt'] = expiresAt;
  return body;
}

/** One way a grant change narrows keys, in words, with the grant it touches. */
interface Narrowing {
  grantKeyId: string;
  api: string;
  words: string;
}

/** What the new grants take from keys under the current ones: removed grants, dropped scopes, an earlier expiry. */
function narrowingOf(current: readonly GrantView[], next: readonly GrantInput[]): Narrowing[] {
  const out: Narrowing[] = [];
  for (const grant of current) {
    const kept = next.find((g) => g.api === grant.api || g.api === grant.apiId);
    if (kept === undefined) {
      out.push({ grantKeyId: grant.grantKeyId, api: grant.api, words: 'the grant is removed: every key under it is revoked' });
      continue;
    }
    const dropped = grant.scopes.filter((s) => !kept.scopes.includes(s));
    if (dropped.length > 0) out.push({ grantKeyId: grant.grantKeyId, api: grant.api, words: `${dropped.join(', ')} ${dropped.length === 1 ? 'is' : 'are'} taken from every key under it` });
    const expiresAt = kept['expiresAt'] as string | null | undefined;
    if (typeof expiresAt === 'string' && (grant.expiresAt === null || Date.parse(expiresAt) < Date.parse(grant.expiresAt))) {
      out.push({ grantKeyId: grant.grantKeyId, api: grant.api, words: `every key under it expires by ${when(Date.parse(expiresAt))}` });
    }
  }
  return out;
}

async function listPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  options: { status: number; query: Record<string, string>; done?: string | undefined; problem?: V1Result; form?: Form },
): Promise<FastifyReply> {
  const { query } = options;
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  const list = await c.v1('GET', `${consumersPath(slug)}${search.size === 0 ? '' : `?${search.toString()}`}`);
  if (list.status !== 200) return refused(reply, c, 'consumers', options.problem?.status === 404 ? options.problem : list, slug);
  const consumers = list.body.items as ConsumerView[];
  const canWrite = c.can('consumers:write');
  const apis = canWrite ? await tenantApis(c, slug) : null;
  const searching = (query['search'] ?? '') !== '';
  const body = html`<h1>Consumers</h1>
<p class="lead">The customers of tenant <strong>${slug}</strong>: each has members (users who manage its keys in the portal) and, per API, a grant — the most its keys may hold.</p>
${doneNotice(options.done, DONE)}${options.problem && !canWrite ? problemBox(options.problem) : ''}
<form class="filters" method="get" action="${consumersUrl(slug)}" role="search" aria-label="Find consumers">
<div class="field"><label for="search">Name or id contains</label><input type="text" id="search" name="search" value="${query['search'] ?? ''}" maxlength="200"></div>
<div class="field"><button type="submit">Search</button>${searching ? html` <a href="${consumersUrl(slug)}">Show all</a>` : ''}</div></form>
${
  consumers.length === 0
    ? html`<p class="muted">${searching ? 'No consumer matches the search.' : 'No consumers yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="consumers-caption"><table><caption id="consumers-caption">${searching ? `Consumers matching “${query['search']}”` : 'Consumers'}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Members</th><th scope="col">Grants</th><th scope="col">Created</th></tr></thead>
<tbody>${consumers.map(
        (consumer) => html`<tr><th scope="row"><a href="${consumerUrl(slug, consumer.id)}">${consumer.name}</a></th><td><code>${consumer.id}</code></td><td class="num">${consumer.members.length}</td>
<td>${consumer.grants.length === 0 ? html`<span class="muted">none</span>` : consumer.grants.map((g) => html`<code>${g.api}</code>: ${g.scopes.length === 0 ? 'no scopes' : g.scopes.join(' ')}<br>`)}</td><td>${when(Date.parse(consumer.createdAt))}</td></tr>`,
      )}</tbody></table></div>`
}
${pager(consumersUrl(slug), query, list.body.nextCursor)}
${canWrite ? createForm(c, slug, apis, options) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: 'Consumers', c, section: 'consumers', tenant: slug, body }));
}

function createForm(c: ConsoleContext, slug: string, apis: ApiView[] | null, options: { problem?: V1Result; form?: Form }): Html {
  const { form } = options;
  const value = (name: string): string => form?.get(name)?.[0] ?? '';
  return html`<h2 id="create-heading">Create a consumer</h2>
<form class="card" method="post" action="${consumersUrl(slug)}" aria-labelledby="create-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${options.problem ? problemBox(options.problem) : ''}
<div class="field"><label for="new-name">Name <span class="hint">The customer, e.g. “Initech”</span></label><input type="text" id="new-name" name="name" maxlength="200" required value="${value('name')}"></div>
<div class="field"><label for="new-id">Id <span class="hint">Your own id for the customer (e.g. cus_42): letters, digits, . _ : - ; empty: a generated con_… id. It cannot be changed later</span></label><input type="text" id="new-id" name="id" maxlength="64" value="${value('id')}"></div>
<div class="field"><label for="new-members">Members <span class="hint">User ids of this tenant (usr_…), one per line: they manage the consumer's keys in the portal</span></label><textarea id="new-members" name="members" rows="2">${value('members')}</textarea></div>
${grantEditor('new', apis, [], form)}
<button class="primary" type="submit">Create consumer</button></form>`;
}

/**
 * The grant editor: a fieldset per API (the tenant's APIs when readable, else the current grants
 * and one free row), each with a box to grant it, its scopes, most keys, rate limits, credits
 * and expiry. Filled from `form` when it comes back, else from the current grants.
 */
function grantEditor(prefix: string, apis: ApiView[] | null, grants: readonly GrantView[], form: Form | undefined): Html {
  type Row = { identifier: string; name: string; catalog: ApiView['scopes'] | null; grant: GrantView | undefined };
  const rows: Row[] = [];
  for (const api of apis ?? []) rows.push({ identifier: api.identifier, name: api.name, catalog: api.scopes, grant: grants.find((g) => g.apiId === api.id) });
  for (const grant of grants) if (!rows.some((r) => r.grant === grant)) rows.push({ identifier: grant.api, name: grant.api, catalog: null, grant });
  if (apis === null) rows.push({ identifier: '', name: 'Another API', catalog: null, grant: undefined });
  const value = (name: string, fallback: string): string => (form === undefined ? fallback : (form.get(name)?.[0] ?? ''));
  return html`<fieldset><legend>Grants <span class="hint">Per API: the most the consumer's keys may hold. Its members' keys share the rate limits and credits</span></legend><input type="hidden" name="grantRows" value="${rows.length}">
${rows.length === 0 ? html`<p class="muted">The tenant has no API yet.</p>` : ''}${rows.map((row, i) => {
    const p = `g${i}-`;
    const id = `${prefix}-g${i}`;
    const grant = row.grant;
    const on = form === undefined ? grant !== undefined : form.get(`${p}on`)?.[0] === 'yes';
    const held = form === undefined ? (grant?.scopes ?? []) : (form.get(`${p}scope`) ?? []);
    const expiresWas = dateOf(grant?.expiresAt ?? null);
    return html`<fieldset><legend>${row.name}${row.identifier !== '' && row.identifier !== row.name ? html` <code>${row.identifier}</code>` : ''}</legend>
<div class="check"><input type="checkbox" id="${id}-on" name="${p}on" value="yes"${on ? new Html(' checked') : ''}><label for="${id}-on">Grant ${row.identifier === '' ? 'this API' : row.identifier}${grant !== undefined ? html`<span class="hint">Unticking removes the grant and revokes every key under it</span>` : ''}</label></div>
${
  row.identifier === ''
    ? html`<div class="field"><label for="${id}-api">API identifier</label><input type="text" id="${id}-api" name="${p}api" maxlength="512" value="${value(`${p}api`, '')}"></div>`
    : html`<input type="hidden" name="${p}api" value="${row.identifier}">`
}
${
  row.catalog === null
    ? html`<div class="field"><label for="${id}-scopes">Scopes <span class="hint">Separated by spaces, from the API's catalog</span></label><input type="text" id="${id}-scopes" name="${p}scopes" value="${value(`${p}scopes`, (grant?.scopes ?? []).join(' '))}"></div>`
    : html`<fieldset><legend>Scopes</legend>${scopeBoxes(id, `${p}scope`, row.catalog, held)}</fieldset>`
}
<div class="field"><label for="${id}-max">Most keys <span class="hint">Unrevoked keys the consumer may hold on the API; empty: no cap of its own</span></label><input type="text" inputmode="numeric" id="${id}-max" name="${p}maxKeys" size="8" value="${value(`${p}maxKeys`, grant?.maxKeys === null || grant === undefined ? '' : String(grant.maxKeys))}"></div>
${limitFields(p, id, { ratelimits: value(`${p}ratelimits`, ratelimitsText(grant?.ratelimits ?? [])), credits: value(`${p}credits`, ''), refillAmount: value(`${p}refillAmount`, grant?.credits?.refill ? String(grant.credits.refill.amount) : ''), refillInterval: value(`${p}refillInterval`, grant?.credits?.refill?.interval ?? 'none') || 'none' }, { credits: grant === undefined ? 'Empty: unlimited. Shared by all the consumer’s keys on the API' : `Now: ${creditsWords(grant.credits)}. Empty keeps them; a number sets them anew` })}
${grant?.credits ? html`<div class="check"><input type="checkbox" id="${id}-nocredits" name="${p}noCredits" value="yes"${form?.get(`${p}noCredits`)?.[0] === 'yes' ? new Html(' checked') : ''}><label for="${id}-nocredits">Remove the credit limit</label></div>` : ''}
<div class="field"><label for="${id}-expires">Keys expire by the end of <span class="hint">A UTC date; empty: never</span></label><input type="date" id="${id}-expires" name="${p}expires" value="${value(`${p}expires`, expiresWas)}"><input type="hidden" name="${p}expiresWas" value="${expiresWas}"></div></fieldset>`;
  })}</fieldset>`;
}

/** Every key under the consumer's grants (members' keys and sub-keys), or the refusal. */
async function consumerKeys(c: ConsoleContext, slug: string, id: string): Promise<KeyView[] | V1Result> {
  const keys: KeyView[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < KEY_PAGES; page++) {
    const result: V1Result = await c.v1('GET', `${consumerPath(slug, id)}/keys?limit=100${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (result.status !== 200) return result;
    keys.push(...(result.body.items as KeyView[]));
    cursor = result.body.nextCursor;
    if (cursor === null) break;
  }
  return keys;
}

/** The members with their emails when the operator may read users (else their ids alone). */
async function memberUsers(c: ConsoleContext, slug: string, members: readonly string[]): Promise<Map<string, UserView>> {
  const users = new Map<string, UserView>();
  if (!c.can('users:read')) return users;
  for (const id of members.slice(0, MEMBER_LOOKUPS)) {
    const result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/users/${encodeURIComponent(id)}`);
    if (result.status === 200) users.set(id, result.body as UserView);
  }
  return users;
}

/** The tenant's first users, offered when adding a member (when the operator may read them). */
async function someUsers(c: ConsoleContext, slug: string): Promise<UserView[]> {
  if (!c.can('users:read')) return [];
  const result = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/users?limit=100`);
  return result.status === 200 ? (result.body.items as UserView[]) : [];
}

/** A key of the consumer in the tree: a link to its key page when the operator may read keys. */
function keyItem(c: ConsoleContext, slug: string, key: KeyView, now: number): Html {
  const label = key.name ?? key.start;
  return html`${c.can('keys:read') ? html`<a href="${keyUrl(slug, key.id)}">${label}</a>` : label} <code>${key.start}</code> · ${keyStatus(key, now)} · ${key.scopes.length === 0 ? 'no scopes' : key.scopes.join(' ')}`;
}

function keyBranch(c: ConsoleContext, slug: string, parentId: string, keys: readonly KeyView[], now: number): Html {
  const children = keys.filter((k) => k.parentId === parentId);
  if (children.length === 0) return html``;
  return html`<ul>${children.map((key) => html`<li>${keyItem(c, slug, key, now)}${keyBranch(c, slug, key.id, keys, now)}</li>`)}</ul>`;
}

/** A grant seen from above: its ceiling, then the members' keys under it and their sub-keys. */
function grantTree(c: ConsoleContext, slug: string, grant: GrantView, keys: readonly KeyView[] | null, now: number): Html {
  const under = keys === null ? null : keys.filter((k) => k.parentId === grant.grantKeyId);
  return html`<li><strong>Grant on <code>${grant.api}</code></strong>: ${grant.scopes.length === 0 ? 'no scopes' : html`${grant.scopes.map((s) => html`<code>${s}</code> `)}`}
<br><span class="muted">most keys: ${grant.maxKeys ?? 'no cap'} · rate limits: ${grant.ratelimits.length === 0 ? 'none' : grant.ratelimits.map(ratelimitWords).join(', ')} · credits: ${creditsWords(grant.credits)} · keys expire: ${when(grant.expiresAt === null ? null : Date.parse(grant.expiresAt))}</span>
${
  under === null
    ? ''
    : under.length === 0
      ? html`<ul><li class="muted">No keys under this grant yet.</li></ul>`
      : html`<ul>${under.map((key) => html`<li>${keyItem(c, slug, key, now)}${keyBranch(c, slug, key.id, keys!, now)}</li>`)}</ul>`
}</li>`;
}

async function detailPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  id: string,
  options: { status: number; done?: string | undefined; problem?: V1Result; form?: Form; narrowing?: Narrowing[]; now: number },
): Promise<FastifyReply> {
  const got = await c.v1('GET', consumerPath(slug, id));
  if (got.status !== 200) return refused(reply, c, 'consumers', options.problem?.status === 404 ? options.problem : got, slug);
  if (options.problem?.status === 404 && options.problem.body?.code === 'CONSUMER_NOT_FOUND') return refused(reply, c, 'consumers', options.problem, slug);
  const consumer = got.body as ConsumerView;
  const { now } = options;
  const canWrite = c.can('consumers:write');
  const keysResult = await consumerKeys(c, slug, id);
  const keys = Array.isArray(keysResult) ? keysResult : null;
  const [users, apis, offered] = await Promise.all([memberUsers(c, slug, consumer.members), canWrite ? tenantApis(c, slug) : Promise.resolve(null), canWrite ? someUsers(c, slug) : Promise.resolve([])]);
  const live = (grantKeyId: string): number => {
    if (keys === null) return 0;
    const ids = new Set([grantKeyId]);
    let count = 0;
    for (let grew = true; grew; ) {
      grew = false;
      for (const key of keys) if (key.parentId !== null && ids.has(key.parentId) && !ids.has(key.id)) {
        ids.add(key.id);
        if (key.revokedAt === null) count++;
        grew = true;
      }
    }
    return count;
  };
  const narrowing = options.narrowing ?? [];
  const body = html`<p class="crumbs"><a href="${consumersUrl(slug)}">Consumers</a> › ${consumer.name}</p>
<h1>${consumer.name}</h1>
${doneNotice(options.done, DONE)}${options.problem && options.form === undefined ? problemBox(options.problem) : ''}
<div class="card"><dl><dt>Id</dt><dd><code>${consumer.id}</code> <span class="muted">(the consumer of its keys, the sub of its tokens)</span></dd><dt>Created</dt><dd>${when(Date.parse(consumer.createdAt))}</dd><dt>Changed</dt><dd>${when(Date.parse(consumer.updatedAt))}</dd></dl></div>
<h2 id="grants-heading">Grants and their keys</h2>
<p class="muted">From above: each grant is the most any key under it may hold; its members' keys hold at most the grant, their sub-keys at most their parent. Narrowing a grant narrows every key under it at once.</p>
${keys === null ? problemBox(keysResult as V1Result) : ''}
${consumer.grants.length === 0 ? html`<p class="muted">No grants: the consumer's members cannot create keys.</p>` : html`<ul class="tree" aria-labelledby="grants-heading">${consumer.grants.map((g) => grantTree(c, slug, g, keys, now))}</ul>`}
${c.can('keys:read') && consumer.grants.length > 0 ? html`<p><a href="${tenantPath(slug)}/keys?consumer=${encodeURIComponent(consumer.id)}">Find the consumer's keys in the key list</a></p>` : ''}
${c.can('keys:write') && consumer.members.length > 0 && consumer.grants.length > 0 ? memberKeyForms(c, slug, consumer, users) : ''}
<h2 id="members-heading">Members</h2>
${
  consumer.members.length === 0
    ? html`<p class="muted">No members: nobody can manage this consumer's keys in the portal.</p>`
    : html`<ul aria-labelledby="members-heading">${consumer.members.map((member) => {
        const user = users.get(member);
        return html`<li>${user ? html`${user.email}${user.name ? ` (${user.name})` : ''}${user.disabled ? ' · disabled' : ''} ` : ''}<code>${member}</code>${
          canWrite
            ? html` <form class="inline" method="post" action="${consumerUrl(slug, id)}/members/remove"><input type="hidden" name="csrf" value="${c.csrf}"><input type="hidden" name="user" value="${member}"><button type="submit" class="danger">Remove<span class="visually-hidden"> ${user?.email ?? member}</span></button></form>`
            : ''
        }</li>`;
      })}</ul>`
}
${
  canWrite
    ? html`<form class="card" method="post" action="${consumerUrl(slug, id)}/members/add" aria-label="Add a member"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="add-user">Add a member <span class="hint">A user id of this tenant (usr_…)</span></label><input type="text" id="add-user" name="user" maxlength="64" required${offered.length > 0 ? new Html(' list="tenant-users"') : ''}>${
        offered.length > 0 ? html`<datalist id="tenant-users">${offered.filter((u) => !consumer.members.includes(u.id)).map((u) => html`<option value="${u.id}">${u.email}</option>`)}</datalist>` : ''
      }</div><button type="submit">Add member</button></form>
<h2 id="edit-heading">Change the grants</h2>
<form class="card" method="post" action="${consumerUrl(slug, id)}/grants" aria-labelledby="edit-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${options.problem && options.form !== undefined ? problemBox(options.problem) : ''}
${
  narrowing.length > 0
    ? html`<div class="warn" role="alert"><p><strong>This change narrows keys at once.</strong> Nothing is saved yet:</p><ul>${narrowing.map(
        (n) => html`<li><code>${n.api}</code>: ${n.words} (${live(n.grantKeyId)} ${live(n.grantKeyId) === 1 ? 'key' : 'keys'} now)</li>`,
      )}</ul>
<div class="check"><input type="checkbox" id="confirm-narrow" name="confirm" value="yes" required><label for="confirm-narrow">Narrow or revoke those keys</label></div></div>`
    : html`<p class="muted">Taking scopes away, an earlier expiry or removing a grant narrows or revokes the keys under it at once; you will be asked to confirm first.</p>`
}
${grantEditor('edit', apis, consumer.grants, options.form)}
<button class="primary" type="submit">Save grants</button></form>
<h2 id="rename-heading">Rename</h2>
<form class="card" method="post" action="${consumerUrl(slug, id)}/rename" aria-labelledby="rename-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="rename">Name</label><input type="text" id="rename" name="name" maxlength="200" required value="${consumer.name}"></div><button type="submit">Rename</button></form>
<h2 id="delete-heading">Delete the consumer</h2>
<form class="card" method="post" action="${consumerUrl(slug, id)}/delete" aria-labelledby="delete-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="check"><input type="checkbox" id="delete-confirm" name="confirm" value="yes" required><label for="delete-confirm">Delete ${consumer.name}: every key under its grants is revoked (${consumer.grants.reduce((n, g) => n + live(g.grantKeyId), 0)} now) and its tokens are cut off. This cannot be undone.</label></div>
<button class="danger" type="submit">Delete consumer</button></form>`
    : ''
}`;
  return consoleReply(reply, options.status, consolePage({ title: consumer.name, c, section: 'consumers', tenant: slug, body }));
}

/** A form per grant to create a key for a member within it (keys:write: it mints a secret). */
function memberKeyForms(c: ConsoleContext, slug: string, consumer: ConsumerView, users: ReadonlyMap<string, UserView>): Html {
  return html`<h2 id="member-key-heading">Create a key for a member</h2>
<p class="muted">As the member would in the portal: within the grant, counted against its most keys. The secret is shown once, to you.</p>
${consumer.grants.map((grant, g) => {
    const id = `mk-${g}`;
    return html`<form class="card" method="post" action="${consumerUrl(slug, consumer.id)}/keys" aria-labelledby="${id}-title"><input type="hidden" name="csrf" value="${c.csrf}"><input type="hidden" name="api" value="${grant.api}">
<h3 id="${id}-title">Key on ${grant.api}</h3>
<div class="field"><label for="${id}-member">Member</label><select id="${id}-member" name="member">${consumer.members.map((m) => html`<option value="${m}">${users.get(m)?.email ?? m}</option>`)}</select></div>
<div class="field"><label for="${id}-name">Name</label><input type="text" id="${id}-name" name="name" maxlength="200"></div>
<fieldset><legend>Scopes <span class="hint">At most the grant's</span></legend>${scopeBoxes(id, 'scope', grant.scopes.map((name) => ({ name, description: '' })), [])}</fieldset>
<div class="field"><label for="${id}-expires">Expires at the end of <span class="hint">A UTC date; empty: with the grant</span></label><input type="date" id="${id}-expires" name="expires"></div>
<button type="submit">Create key</button></form>`;
  })}`;
}
