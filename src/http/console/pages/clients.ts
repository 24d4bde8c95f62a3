import type { FastifyInstance, FastifyReply } from 'fastify';
import { AUTH_METHOD_REGISTRY, GRANT_TYPE_REGISTRY, GRANT_TYPES, SECRET_AUTH_METHODS, TOKEN_ENDPOINT_AUTH_METHODS } from '../../../domain/oauth/registry.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { formProblem, listQuery } from './form-input.js';
import { when } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consoleAsset, consolePage, consoleReply, doneNotice, pager, problemBox, refused, tenantPath } from '../layout.js';

/** A client as `/v1/tenants/{slug}/clients` answers it. */
interface ClientView {
  clientId: string;
  name: string;
  grantTypes: string[];
  scopes: Record<string, string[]>;
  tokenEndpointAuthMethod: string;
  jwks: { keys: unknown[] } | null;
  redirectUris: string[];
  canIntrospect: boolean;
  createdAt: string;
  updatedAt: string;
}

/** An API as `/v1/tenants/{slug}/apis` answers it, reduced to what the allowance editor shows. */
interface ApiView {
  identifier: string;
  name: string;
  scopes: { name: string; description: string }[];
}

const DAY_MS = 86_400_000;

/** How long the old secret keeps working after a rotation: /v1 takes up to 30 days. */
const GRACE_PERIODS: readonly { ms: number; label: string }[] = [
  { ms: 0, label: 'none: the old secret stops now' },
  { ms: 3_600_000, label: '1 hour' },
  { ms: DAY_MS, label: '24 hours' },
  { ms: 7 * DAY_MS, label: '7 days' },
  { ms: 30 * DAY_MS, label: '30 days' },
];

/** At most this many pages of APIs are read for the allowance editor (100 each). */
const API_PAGES = 10;

const DONE: Record<string, string> = {
  created: 'The client is registered.',
  updated: 'The client is saved: the next token it asks for gets the new allowances.',
  revoked: 'Every token the client was issued until now is revoked.',
  deleted: 'The client is deleted and every token it was issued is revoked.',
};

/**
 * The OAuth clients of a tenant: list with search, register (the secret shown once, in the
 * POST's own answer), and a client's page to change its redirect URIs and allowances, rotate
 * its secret with a grace period, revoke its tokens and delete it. Every read and change is a
 * call to `/v1/tenants/{slug}/clients…` as the operator, so /v1 authorizes, validates and
 * audits it; a refusal is shown as /v1 gave it and changes nothing.
 *
 * @example
 * clientPages(app, keygate); // in the console's plugin, beside the other pages
 */
export function clientPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/clients', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    return listPage(reply, c, slug, { status: 200, query: listQuery(request.query, ['search', 'cursor']), done: (request.query as { done?: string }).done });
  });

  app.post('/console/tenants/:slug/clients', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const input = clientInput(form, { create: true });
    const result = input.problem ?? (await c.v1('POST', clientsPath(slug), input.body));
    if (result.status === 201) {
      const created = result.body as ClientView & { clientSecret: string | null };
      if (created.clientSecret === null) return reply.redirect(`${clientsUrl(slug)}/${encodeURIComponent(created.clientId)}?done=created`, 303);
      return secretPage(reply, c, slug, { client: created, secret: created.clientSecret, title: `${created.name} is registered`, graceMs: null, now: keygate.clock() });
    }
    if (result.status === 404) return refused(reply, c, 'clients', result, slug);
    return listPage(reply, c, slug, { status: result.status, query: {}, problem: result, form });
  });

  app.get('/console/tenants/:slug/clients/:id', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, id } = request.params as { slug: string; id: string };
    return detailPage(reply, c, slug, id, { status: 200, done: (request.query as { done?: string }).done });
  });

  app.post('/console/tenants/:slug/clients/:id/update', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const input = clientInput(form, { create: false });
    const result = input.problem ?? (await c.v1('PATCH', clientPath(slug, id), input.body));
    if (result.status === 200) return reply.redirect(`${clientUrl(slug, id)}?done=updated`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, form });
  });

  app.post('/console/tenants/:slug/clients/:id/rotate', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const grace = Number(param(form, 'grace') ?? '');
    const result = GRACE_PERIODS.some((g) => g.ms === grace)
      ? await c.v1('POST', `${clientPath(slug, id)}/secret`, { gracePeriodMs: grace })
      : formProblem('Pick one of the grace periods offered.');
    if (result.status === 200) {
      const rotated = result.body as ClientView & { clientSecret: string };
      return secretPage(reply, c, slug, { client: rotated, secret: rotated.clientSecret, title: `New secret for ${rotated.name}`, graceMs: grace, now: keygate.clock() });
    }
    return detailPage(reply, c, slug, id, { status: result.status, problem: result });
  });

  app.post('/console/tenants/:slug/clients/:id/revoke-tokens', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = await c.v1('POST', `${clientPath(slug, id)}/revoke-tokens`);
    if (result.status === 200) return reply.redirect(`${clientUrl(slug, id)}?done=revoked`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result });
  });

  app.post('/console/tenants/:slug/clients/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = param(form, 'confirm') === 'yes' ? await c.v1('DELETE', clientPath(slug, id)) : formProblem('Tick the box to confirm that the client and its tokens go.');
    if (result.status === 204) return reply.redirect(`${clientsUrl(slug)}?done=deleted`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result });
  });
}

function clientsPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/clients`;
}

function clientPath(slug: string, id: string): string {
  return `${clientsPath(slug)}/${encodeURIComponent(id)}`;
}

function clientsUrl(slug: string): string {
  return `${tenantPath(slug)}/clients`;
}

function clientUrl(slug: string, id: string): string {
  return `${clientsUrl(slug)}/${encodeURIComponent(id)}`;
}


/**
 * The client fields of the register and edit forms, as /v1's body. Checks only what the form
 * itself can get wrong (JSON that does not parse); everything else is /v1's to refuse.
 */
function clientInput(form: Form, options: { create: boolean }): { body: Record<string, unknown>; problem?: V1Result } {
  const body: Record<string, unknown> = {};
  const name = param(form, 'name');
  if (name !== undefined) body['name'] = name.trim();
  if (options.create) {
    body['grantTypes'] = form.get('grantType') ?? [];
    body['tokenEndpointAuthMethod'] = param(form, 'authMethod') ?? '';
  }
  body['redirectUris'] = lines(param(form, 'redirectUris') ?? '');
  body['canIntrospect'] = param(form, 'canIntrospect') === 'yes';
  body['scopes'] = allowancesOf(form);
  const jwks = (param(form, 'jwks') ?? '').trim();
  if (jwks !== '') {
    try {
      body['jwks'] = JSON.parse(jwks);
    } catch {
      return { body, problem: formProblem('The JWKS is not JSON: paste the client’s public keys as {"keys": [...]}.') };
    }
  }
  return { body };
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * The allowances ticked in the form: each checkbox `allow` carries `<scope> <API identifier>`
 * (a scope token has no space), and the text field `allowances` (for an operator who cannot
 * read the APIs) one API per line, `<identifier> <scope> <scope>…`.
 */
function allowancesOf(form: Form): Record<string, string[]> {
  const allowances: Record<string, string[]> = {};
  const add = (identifier: string, scopes: string[]): void => {
    const held = (allowances[identifier] ??= []);
    for (const scope of scopes) if (!held.includes(scope)) held.push(scope);
  };
  for (const value of form.get('allow') ?? []) {
    const space = value.indexOf(' ');
    if (space > 0) add(value.slice(space + 1), [value.slice(0, space)]);
  }
  for (const line of lines(param(form, 'allowances') ?? '')) {
    const [identifier, ...scopes] = line.split(/\s+/);
    add(identifier!, scopes);
  }
  for (const identifier of form.get('allowApi') ?? []) add(identifier, []);
  return allowances;
}

/** Every API of the tenant with its catalog, or null when the operator may not read them. */
async function tenantApis(c: ConsoleContext, slug: string): Promise<ApiView[] | null> {
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

async function listPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  options: { status: number; query: Record<string, string>; done?: string | undefined; problem?: V1Result; form?: Form },
): Promise<FastifyReply> {
  const { query } = options;
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  const list = await c.v1('GET', `${clientsPath(slug)}${search.size === 0 ? '' : `?${search.toString()}`}`);
  if (list.status !== 200) return refused(reply, c, 'clients', options.problem ?? list, slug);
  const clients = list.body.items as ClientView[];
  const apis = c.can('clients:write') ? await tenantApis(c, slug) : null;
  const searching = (query['search'] ?? '') !== '';
  const body = html`<h1>Clients</h1>
<p class="lead">The OAuth clients of tenant <strong>${slug}</strong>: services that get tokens with client credentials, and apps that act for people.</p>
${doneNotice(options.done, DONE)}${options.problem && !c.can('clients:write') ? problemBox(options.problem) : ''}
<form class="filters" method="get" action="${clientsUrl(slug)}" role="search" aria-label="Find clients">
<div class="field"><label for="search">Name or client id contains</label><input type="text" id="search" name="search" value="${query['search'] ?? ''}" maxlength="200"></div>
<div class="field"><button type="submit">Search</button>${searching ? html` <a href="${clientsUrl(slug)}">Show all</a>` : ''}</div></form>
${
  clients.length === 0
    ? html`<p class="muted">${searching ? 'No client matches the search.' : 'No clients yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="clients-caption"><table><caption id="clients-caption">${searching ? `Clients matching “${query['search']}”` : 'Clients'}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Client id</th><th scope="col">Grant types</th><th scope="col">Authentication</th><th scope="col">APIs</th><th scope="col">Created</th></tr></thead>
<tbody>${clients.map(
        (client) => html`<tr><th scope="row"><a href="${clientUrl(slug, client.clientId)}">${client.name}</a></th><td><code>${client.clientId}</code></td><td>${client.grantTypes.map((g) => html`<code>${g}</code> `)}</td>
<td><code>${client.tokenEndpointAuthMethod}</code></td><td>${Object.keys(client.scopes).length === 0 ? html`<span class="muted">none</span>` : Object.keys(client.scopes).map((api) => html`<code>${api}</code> `)}</td><td>${when(Date.parse(client.createdAt))}</td></tr>`,
      )}</tbody></table></div>`
}
${pager(clientsUrl(slug), query, list.body.nextCursor)}
${c.can('clients:write') ? createForm(c, slug, apis, options) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: 'Clients', c, section: 'clients', tenant: slug, body }));
}

function createForm(c: ConsoleContext, slug: string, apis: ApiView[] | null, options: { problem?: V1Result; form?: Form }): Html {
  const form = options.form;
  const value = (name: string): string => (form === undefined ? '' : (form.get(name)?.[0] ?? ''));
  const grantTypes = form === undefined ? ['client_credentials'] : (form.get('grantType') ?? []);
  const method = form === undefined ? 'client_secret_basic' : value('authMethod');
  return html`<h2 id="create-heading">Register a client</h2>
<form class="card" method="post" action="${clientsUrl(slug)}" aria-labelledby="create-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${options.problem ? problemBox(options.problem) : ''}
<div class="field"><label for="new-name">Name <span class="hint">Who the client is, e.g. “billing service” or “mobile app”</span></label><input type="text" id="new-name" name="name" maxlength="200" required value="${value('name')}"></div>
<fieldset><legend>Grant types</legend>${GRANT_TYPES.map(
    (grant, i) => html`<div class="check"><input type="checkbox" id="new-grant-${i}" name="grantType" value="${grant}"${grantTypes.includes(grant) ? new Html(' checked') : ''}>
<label for="new-grant-${i}"><code>${grant}</code><span class="hint">${GRANT_TYPE_REGISTRY[grant].spec}</span></label></div>`,
  )}</fieldset>
<div class="field"><label for="new-auth">Authentication at the token endpoint</label><select id="new-auth" name="authMethod">${TOKEN_ENDPOINT_AUTH_METHODS.map(
    (m) => html`<option value="${m}"${m === method ? new Html(' selected') : ''}>${m}: ${AUTH_METHOD_REGISTRY[m].spec}</option>`,
  )}</select></div>
${allowanceEditor('new', apis, form === undefined ? {} : allowancesOf(form))}
${redirectField('new', value('redirectUris'))}
<div class="field"><label for="new-jwks">Public keys (JWKS) <span class="hint">For private_key_jwt only: {"keys": [...]}, public parts only</span></label><textarea id="new-jwks" name="jwks" rows="3">${value('jwks')}</textarea></div>
${introspectBox('new', value('canIntrospect') === 'yes')}
<button class="primary" type="submit">Register client</button></form>`;
}

function redirectField(prefix: string, text: string): Html {
  return html`<div class="field"><label for="${prefix}-redirects">Redirect URIs <span class="hint">One per line: https:, http: to 127.0.0.1 or localhost, or an app scheme such as com.example.app:/callback. Needed for authorization_code.</span></label><textarea id="${prefix}-redirects" name="redirectUris" rows="3">${text}</textarea></div>`;
}

function introspectBox(prefix: string, checked: boolean): Html {
  return html`<div class="check"><input type="checkbox" id="${prefix}-introspect" name="canIntrospect" value="yes"${checked ? new Html(' checked') : ''}>
<label for="${prefix}-introspect">May introspect any token of the tenant<span class="hint">Without it the client may introspect only its own tokens</span></label></div>`;
}

/**
 * The allowances: per API, the scopes the client may get. With the APIs readable, a fieldset of
 * checkboxes per API; without, a text field with one API per line. An allowance naming an API
 * no longer in the list is kept as text, so saving never drops it silently.
 */
function allowanceEditor(prefix: string, apis: ApiView[] | null, held: Record<string, string[]>): Html {
  if (apis === null) {
    const text = Object.entries(held)
      .map(([api, scopes]) => [api, ...scopes].join(' '))
      .join('\n');
    return html`<div class="field"><label for="${prefix}-allowances">Allowances <span class="hint">One API per line: its identifier, then the scopes the client may get, separated by spaces</span></label><textarea id="${prefix}-allowances" name="allowances" rows="3">${text}</textarea></div>`;
  }
  const known = new Set(apis.map((api) => api.identifier));
  const orphans = Object.entries(held).filter(([api]) => !known.has(api));
  return html`<fieldset><legend>Allowances <span class="hint">The scopes the client may get, per API</span></legend>${
    apis.length === 0 ? html`<p class="muted">The tenant has no API yet.</p>` : ''
  }${apis.map((api, a) => {
    const mine = held[api.identifier] ?? [];
    return html`<fieldset><legend>${api.name} <code>${api.identifier}</code></legend>${
      api.scopes.length === 0 ? html`<p class="muted">No scopes in its catalog.</p>` : ''
    }${mine.length === 0 && Object.hasOwn(held, api.identifier) ? html`<input type="hidden" name="allowApi" value="${api.identifier}">` : ''}${api.scopes.map(
      (scope, s) => html`<div class="check"><input type="checkbox" id="${prefix}-allow-${a}-${s}" name="allow" value="${scope.name} ${api.identifier}"${mine.includes(scope.name) ? new Html(' checked') : ''}>
<label for="${prefix}-allow-${a}-${s}"><code>${scope.name}</code><span class="hint">${scope.description || 'No description'}</span></label></div>`,
    )}</fieldset>`;
  })}${
    orphans.length === 0
      ? ''
      : html`<div class="field"><label for="${prefix}-allowances">Other allowances <span class="hint">APIs not in the list above, one per line</span></label><textarea id="${prefix}-allowances" name="allowances" rows="2">${orphans
          .map(([api, scopes]) => [api, ...scopes].join(' '))
          .join('\n')}</textarea></div>`
  }</fieldset>`;
}

async function detailPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  id: string,
  options: { status: number; done?: string | undefined; problem?: V1Result; form?: Form },
): Promise<FastifyReply> {
  const got = await c.v1('GET', clientPath(slug, id));
  if (got.status !== 200) return refused(reply, c, 'clients', options.problem?.status === 404 ? options.problem : got, slug);
  if (options.problem?.status === 404) return refused(reply, c, 'clients', options.problem, slug);
  const client = got.body as ClientView;
  const canWrite = c.can('clients:write');
  const apis = canWrite ? await tenantApis(c, slug) : null;
  const form = options.form;
  const held = form === undefined ? client.scopes : allowancesOf(form);
  const redirects = form === undefined ? client.redirectUris.join('\n') : (form.get('redirectUris')?.[0] ?? '');
  const secretBased = SECRET_AUTH_METHODS.some((m) => m === client.tokenEndpointAuthMethod);
  const label = client.name;
  const body = html`<p class="crumbs"><a href="${clientsUrl(slug)}">Clients</a> › ${label}</p>
<h1>${label}</h1>
${doneNotice(options.done, DONE)}${options.problem && (form === undefined || !canWrite) ? problemBox(options.problem) : ''}
<div class="card"><dl>
<dt>Client id</dt><dd><code>${client.clientId}</code></dd>
<dt>Grant types</dt><dd>${client.grantTypes.map((g) => html`<code>${g}</code> `)}</dd>
<dt>Authentication</dt><dd><code>${client.tokenEndpointAuthMethod}</code>${secretBased ? ' (with a secret; Keygate keeps only its hash)' : ''}</dd>
<dt>Introspection</dt><dd>${client.canIntrospect ? 'any token of the tenant' : 'its own tokens only'}</dd>
<dt>Token endpoint</dt><dd><code>/t/${slug}/oauth/token</code></dd>
<dt>Created</dt><dd>${when(Date.parse(client.createdAt))}</dd><dt>Changed</dt><dd>${when(Date.parse(client.updatedAt))}</dd></dl></div>
<h2 id="allowances-heading">Allowances</h2>
${
  Object.keys(client.scopes).length === 0
    ? html`<p class="muted">No allowance: the client can get no token for any API.</p>`
    : html`<div class="table-wrap"><table aria-labelledby="allowances-heading"><thead><tr><th scope="col">API</th><th scope="col">Scopes the client may get</th></tr></thead><tbody>${Object.entries(client.scopes).map(
        ([api, scopes]) => html`<tr><th scope="row"><code>${api}</code></th><td>${scopes.length === 0 ? html`<span class="muted">none</span>` : scopes.map((s) => html`<code>${s}</code> `)}</td></tr>`,
      )}</tbody></table></div>`
}
<h2 id="redirects-heading">Redirect URIs</h2>
${client.redirectUris.length === 0 ? html`<p class="muted">None.</p>` : html`<ul aria-labelledby="redirects-heading">${client.redirectUris.map((uri) => html`<li><code>${uri}</code></li>`)}</ul>`}
${
  canWrite
    ? html`<h2 id="edit-heading">Change the client</h2>
<form class="card" method="post" action="${clientUrl(slug, id)}/update" aria-labelledby="edit-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${options.problem && form !== undefined ? problemBox(options.problem) : ''}
<div class="field"><label for="edit-name">Name</label><input type="text" id="edit-name" name="name" maxlength="200" required value="${form === undefined ? client.name : (form.get('name')?.[0] ?? '')}"></div>
${allowanceEditor('edit', apis, held)}
${redirectField('edit', redirects)}
${introspectBox('edit', form === undefined ? client.canIntrospect : form.get('canIntrospect')?.[0] === 'yes')}
<button class="primary" type="submit">Save changes</button></form>`
    : ''
}
${canWrite && secretBased ? rotateForm(c, slug, id) : ''}
${c.can('tokens:write') ? revokeForm(c, slug, id) : ''}
${canWrite ? deleteForm(c, slug, id, label) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: label, c, section: 'clients', tenant: slug, body }));
}

function rotateForm(c: ConsoleContext, slug: string, id: string): Html {
  return html`<h2 id="rotate-heading">Rotate the secret</h2>
<form class="card" method="post" action="${clientUrl(slug, id)}/rotate" aria-labelledby="rotate-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p>A new secret is shown once. Deploy it, then let the old one run out.</p>
<div class="field"><label for="grace">The old secret keeps working for</label><select id="grace" name="grace">${GRACE_PERIODS.map((g) => html`<option value="${g.ms}">${g.label}</option>`)}</select></div>
<button type="submit">Rotate secret</button></form>`;
}

function revokeForm(c: ConsoleContext, slug: string, id: string): Html {
  return html`<h2 id="revoke-heading">Revoke its tokens</h2>
<form class="card" method="post" action="${clientUrl(slug, id)}/revoke-tokens" aria-labelledby="revoke-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p>Every token the client was issued until now stops working, on every instance. It can still get new ones.</p>
<button class="danger" type="submit">Revoke all tokens</button></form>`;
}

function deleteForm(c: ConsoleContext, slug: string, id: string, label: string): Html {
  return html`<h2 id="delete-heading">Delete the client</h2>
<form class="card" method="post" action="${clientUrl(slug, id)}/delete" aria-labelledby="delete-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="check"><input type="checkbox" id="delete-confirm" name="confirm" value="yes" required><label for="delete-confirm">Delete ${label}: its secrets go and every token it was issued is revoked. This cannot be undone.</label></div>
<button class="danger" type="submit">Delete client</button></form>`;
}

function secretPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  options: { client: ClientView; secret: string; title: string; graceMs: number | null; now: number },
): FastifyReply {
  const { client, secret, title, graceMs, now } = options;
  const grace =
    graceMs === null
      ? ''
      : graceMs === 0
        ? html`<p>The old secret stopped working now.</p>`
        : html`<p>The old secret keeps working until about ${when(now + graceMs)}.</p>`;
  const body = html`<h1>${title}</h1>
<div class="card"><p class="warn" role="alert">Copy the secret now. You won't see it again: Keygate keeps only a hash of it.</p>
<div class="field"><label for="client-id">Client id</label><input type="text" id="client-id" value="${client.clientId}" readonly autocomplete="off" spellcheck="false" size="40"></div>
<div class="secret"><label for="secret">Client secret</label><input type="text" id="secret" value="${secret}" readonly autocomplete="off" spellcheck="false" size="52">
<button type="button" data-copy="secret" hidden>Copy secret</button><span id="secret-status" role="status" aria-live="polite"></span></div>
${grace}
<p>Get a token at <code>/t/${slug}/oauth/token</code> with <code>grant_type=client_credentials</code>, the client id and secret as HTTP Basic credentials${
    client.tokenEndpointAuthMethod === 'client_secret_post' ? ' (this client sends them in the form instead: client_id and client_secret)' : ''
  }.</p></div>
<p><a href="${clientUrl(slug, client.clientId)}">Go to ${client.name}</a> · <a href="${clientsUrl(slug)}">Back to clients</a></p>`;
  return consoleReply(reply, 200, consolePage({ title, c, section: 'clients', tenant: slug, body, scripts: [consoleAsset('copy.js')] }));
}
