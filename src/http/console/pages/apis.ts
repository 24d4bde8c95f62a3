import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { when } from '../../portal/developer/format.js';
import { html, type Html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consoleAsset, consolePage, consoleReply, doneNotice, pager, problemBox, refused, tenantPath } from '../layout.js';
import { checked, lines, orNull, queryText, text, whole, zipRows } from './form-input.js';

interface ScopeDefinition {
  name: string;
  description: string;
  implies?: string[];
}

/** An API as `GET /v1/tenants/{slug}/apis/{api}` answers it. */
interface ApiView {
  id: string;
  identifier: string;
  name: string;
  keyPrefix: string;
  scopes: ScopeDefinition[];
  accessTokenTtl: number;
  refreshTokens: { enabled: boolean; idleTtl: number; absoluteTtl: number; reuseInterval: number };
  upstream: string | null;
  gatewayHosts: string[];
  externalIssuers: { issuer: string; jwksUri: string; audience: string | null }[];
  phantomToken: boolean;
  credentialHeader: string | null;
  credentialQuery: string | null;
  passthrough: boolean;
  corsPreflight: 'refuse' | 'forward';
  createdAt: string;
}

/** What `GET …/apis/{api}/operations` answers: the operations compiled from the OpenAPI document. */
interface DocumentView {
  format: 'json' | 'yaml';
  size: number;
  uploadedAt: string;
  basePath: string;
  operations: { method: string; path: string; operationId: string | null; public: boolean; anyOf: string[][]; cost: number }[];
}

/** A row of the catalog editor as typed: implications as one text. */
interface ScopeRow {
  name: string;
  description: string;
  implies: string;
}

/** The forms of the detail page as the operator last sent them, to fill them again after a refusal. */
interface Sent {
  scopes?: ScopeRow[];
  gateway?: Form;
  tokens?: Form;
  name?: string;
  document?: { text: string; format: string };
}

const LIST_DONE = { deleted: 'The API is deleted.' };
const DETAIL_DONE = {
  created: 'The API is created.',
  saved: 'The changes are saved; verification and the gateway use them at once.',
  scopes: 'The scope catalog is saved.',
  forced: 'The scope catalog is saved: keys and clients that held dropped scopes are narrowed, and JWT API keys holding them revoked.',
  uploaded: 'The OpenAPI document is uploaded: the gateway enforces the operations below.',
};

/** Blank rows the catalog editor offers for new scopes. */
const NEW_SCOPE_ROWS = 3;
/** Blank rows the gateway form offers for new external issuers. */
const NEW_ISSUER_ROWS = 1;

/**
 * The APIs pages: `/console/tenants/{slug}/apis` (find, page through, create) and
 * `/console/tenants/{slug}/apis/{identifier}` (name, scope catalog, token lifetimes, gateway
 * settings, the OpenAPI document and the operations compiled from it, deletion). Every read and
 * change is a /v1 call as the operator; /v1's refusals are shown as they come, and where /v1
 * offers `force` (a catalog dropping scopes still held, an API in use) the page explains what it
 * does and offers it as a second, explicit step.
 */
export function apiPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/apis', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    return listPage(reply, c, slug, { status: 200, query: queryText(request.query, ['search', 'cursor', 'done']) });
  });

  app.post('/console/tenants/:slug/apis', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const fields = { identifier: text(form, 'identifier'), name: text(form, 'name'), keyPrefix: text(form, 'keyPrefix'), scopes: param(form, 'scopes') ?? '' };
    const body = { identifier: fields.identifier, name: fields.name, scopes: catalogFromLines(fields.scopes), ...(fields.keyPrefix === '' ? {} : { keyPrefix: fields.keyPrefix }) };
    const result = await c.v1('POST', `/v1/tenants/${encodeURIComponent(slug)}/apis`, body);
    if (result.status === 201) return reply.redirect(`${apiPath(slug, result.body.identifier)}?done=created`, 303);
    if (result.status === 403 || result.status === 404) return refused(reply, c, 'apis', result, slug);
    return listPage(reply, c, slug, { status: result.status, query: {}, refusal: result, fields });
  });

  app.get('/console/tenants/:slug/apis/:identifier', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    return detailPage(reply, c, slug, identifier, { status: 200, done: queryText(request.query, ['done'])['done'] });
  });

  app.post('/console/tenants/:slug/apis/:identifier/name', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const name = text(form, 'name');
    const result = await c.v1('PATCH', v1ApiPath(slug, identifier), { name });
    return afterChange(reply, c, slug, identifier, result, 'saved', { name });
  });

  app.post('/console/tenants/:slug/apis/:identifier/scopes', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const rows = scopeRows(form);
    const force = param(form, 'force') === 'true';
    const result = await c.v1('PATCH', `${v1ApiPath(slug, identifier)}${force ? '?force=true' : ''}`, { scopes: rows.map(definitionOf) });
    return afterChange(reply, c, slug, identifier, result, force ? 'forced' : 'scopes', { scopes: rows });
  });

  app.post('/console/tenants/:slug/apis/:identifier/tokens', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const body = {
      accessTokenTtl: whole(text(form, 'accessTokenTtl')),
      refreshTokens: {
        enabled: checked(form, 'refreshEnabled'),
        idleTtl: whole(text(form, 'idleTtl')),
        absoluteTtl: whole(text(form, 'absoluteTtl')),
        reuseInterval: whole(text(form, 'reuseInterval')),
      },
    };
    const result = await c.v1('PATCH', v1ApiPath(slug, identifier), body);
    return afterChange(reply, c, slug, identifier, result, 'saved', { tokens: form });
  });

  app.post('/console/tenants/:slug/apis/:identifier/gateway', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const issuers = zipRows(form, ['issuer', 'jwksUri', 'audience'])
      .filter((row) => row.issuer !== '' || row.jwksUri !== '' || row.audience !== '')
      .map((row) => ({ issuer: row.issuer, jwksUri: row.jwksUri, audience: row.audience === '' ? null : row.audience }));
    const body = {
      upstream: orNull(text(form, 'upstream')),
      gatewayHosts: lines(param(form, 'gatewayHosts') ?? ''),
      externalIssuers: issuers,
      phantomToken: checked(form, 'phantomToken'),
      credentialHeader: orNull(text(form, 'credentialHeader')),
      credentialQuery: orNull(text(form, 'credentialQuery')),
      passthrough: checked(form, 'passthrough'),
      corsPreflight: param(form, 'corsPreflight') ?? 'refuse',
    };
    const result = await c.v1('PATCH', v1ApiPath(slug, identifier), body);
    return afterChange(reply, c, slug, identifier, result, 'saved', { gateway: form });
  });

  app.post('/console/tenants/:slug/apis/:identifier/openapi', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const document = { text: param(form, 'document') ?? '', format: param(form, 'format') ?? 'auto' };
    const yaml = document.format === 'yaml' || (document.format !== 'json' && !/^\s*\{/.test(document.text));
    // The document goes to /v1 as it is, byte for byte: /v1 stores it and serves it back so.
    const result = await c.v1('PUT', `${v1ApiPath(slug, identifier)}/openapi`, document.text, { 'content-type': yaml ? 'application/yaml' : 'application/json' });
    return afterChange(reply, c, slug, identifier, result, 'uploaded', { document });
  });

  app.post('/console/tenants/:slug/apis/:identifier/delete', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, identifier } = request.params as { slug: string; identifier: string };
    const api = await c.v1('GET', v1ApiPath(slug, identifier));
    if (api.status !== 200) return refused(reply, c, 'apis', api, slug);
    if (text(form, 'confirm') !== api.body.identifier) {
      const refusal = { status: 400, body: { title: 'Not deleted', detail: `type the API's identifier, ${api.body.identifier}, to confirm the deletion`, code: 'CONFIRMATION_MISMATCH' } };
      return detailPage(reply, c, slug, identifier, { status: 400, refusal });
    }
    const force = param(form, 'force') === 'true';
    const result = await c.v1('DELETE', `${v1ApiPath(slug, identifier)}${force ? '?force=true' : ''}`);
    if (result.status === 204) return reply.redirect(`${tenantPath(slug)}/apis?done=deleted`, 303);
    if (result.status === 403 || result.status === 404) return refused(reply, c, 'apis', result, slug);
    return detailPage(reply, c, slug, identifier, { status: result.status, refusal: result });
  });
}

/** The console path of an API's page: its identifier, URL-encoded, as one path segment. */
export function apiPath(slug: string, identifier: string): string {
  return `${tenantPath(slug)}/apis/${encodeURIComponent(identifier)}`;
}

function v1ApiPath(slug: string, identifier: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/apis/${encodeURIComponent(identifier)}`;
}

/** After a change: back to the API's page with a notice (PRG), or the page again with the refusal and the form as sent. */
async function afterChange(reply: FastifyReply, c: ConsoleContext, slug: string, identifier: string, result: V1Result, done: string, sent: Sent): Promise<FastifyReply> {
  if (result.status < 300) return reply.redirect(`${apiPath(slug, identifier)}?done=${done}`, 303);
  if (result.status === 403 || result.status === 404) return refused(reply, c, 'apis', result, slug);
  return detailPage(reply, c, slug, identifier, { status: result.status, refusal: result, sent });
}

async function listPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  options: { status: number; query: Record<string, string>; refusal?: V1Result; fields?: { identifier: string; name: string; keyPrefix: string; scopes: string } },
): Promise<FastifyReply> {
  const { query } = options;
  const search = query['search'] ?? '';
  const params = new URLSearchParams({ limit: '50' });
  if (search !== '') params.set('search', search);
  if (query['cursor']) params.set('cursor', query['cursor']);
  const list = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/apis?${params.toString()}`);
  if (list.status === 401 || list.status === 403 || list.status === 404) return refused(reply, c, 'apis', list, slug);
  const apis: ApiView[] = list.status === 200 ? list.body.items : [];
  const base = `${tenantPath(slug)}/apis`;
  const body = html`<p class="crumbs"><a href="${tenantPath(slug)}">${slug}</a> / APIs</p>
<h1>APIs</h1>
<p class="lead">The APIs tenant ${slug} protects: each has a scope catalog, and keys and tokens are issued for one of them.</p>
${doneNotice(query['done'], LIST_DONE)}${options.refusal ? problemBox(options.refusal) : ''}${list.status === 200 ? '' : problemBox(list)}
<form class="filters" method="get" action="${base}" role="search" aria-label="Find APIs">
<div class="field"><label for="api-search">Identifier or name contains</label><input type="text" id="api-search" name="search" value="${search}" maxlength="200"></div>
<div class="field"><button type="submit">Find</button>${search !== '' ? html` <a href="${base}">Show all</a>` : ''}</div></form>
${
  apis.length === 0
    ? html`<p class="muted">${search !== '' ? html`No API’s identifier or name contains “${search}”.` : 'No APIs yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="apis-caption"><table><caption id="apis-caption">APIs of ${slug}${search !== '' ? html` whose identifier or name contains “${search}”` : ''}</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Identifier</th><th scope="col" class="num">Scopes</th><th scope="col">Gateway upstream</th><th scope="col">Created</th></tr></thead>
<tbody>${apis.map(
        (a) =>
          html`<tr><th scope="row"><a href="${apiPath(slug, a.identifier)}">${a.name}</a></th><td><code>${a.identifier}</code></td><td class="num">${a.scopes.length}</td><td>${a.upstream === null ? html`<span class="muted">none</span>` : html`<code>${a.upstream}</code>`}</td><td>${when(Date.parse(a.createdAt))}</td></tr>`,
      )}</tbody></table></div>`
}
${list.status === 200 ? pager(base, { search }, list.body.nextCursor) : ''}
${c.can('apis:write') ? createForm(c, slug, options.fields) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: `APIs · ${slug}`, c, section: 'apis', tenant: slug, body }));
}

function createForm(c: ConsoleContext, slug: string, fields: { identifier: string; name: string; keyPrefix: string; scopes: string } | undefined): Html {
  return html`<h2 id="create-heading">Create an API</h2>
<form class="card" method="post" action="${tenantPath(slug)}/apis" aria-labelledby="create-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="new-identifier">Identifier <span class="hint">The audience of its tokens, usually its base URL, e.g. https://api.example.com</span></label><input type="text" id="new-identifier" name="identifier" required maxlength="512" spellcheck="false" autocapitalize="none" value="${fields?.identifier ?? ''}"></div>
<div class="field"><label for="new-name">Name</label><input type="text" id="new-name" name="name" required maxlength="200" value="${fields?.name ?? ''}"></div>
<div class="field"><label for="new-prefix">Key prefix <span class="hint">Optional: the start of this API's keys, lowercase letters and digits (default kg)</span></label><input type="text" id="new-prefix" name="keyPrefix" maxlength="16" spellcheck="false" autocapitalize="none" value="${fields?.keyPrefix ?? ''}"></div>
<div class="field"><label for="new-scopes">Scopes <span class="hint">One per line: the scope, a space, then what it allows, e.g. “read:orders Read orders”. Implications are set on the API's page.</span></label><textarea id="new-scopes" name="scopes" rows="4" spellcheck="false">${fields?.scopes ?? ''}</textarea></div>
<div class="actions"><button class="primary" type="submit">Create API</button></div></form>`;
}

async function detailPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  identifier: string,
  options: { status: number; done?: string | undefined; refusal?: V1Result; sent?: Sent },
): Promise<FastifyReply> {
  const found = await c.v1('GET', v1ApiPath(slug, identifier));
  if (found.status !== 200) return refused(reply, c, 'apis', found, slug);
  const api = found.body as ApiView;
  const compiled = await c.v1('GET', `${v1ApiPath(slug, identifier)}/operations`);
  const document = compiled.status === 200 ? (compiled.body as DocumentView) : null;
  const mayWrite = c.can('apis:write');
  const sent = options.sent ?? {};
  const path = apiPath(slug, api.identifier);
  const body = html`<p class="crumbs"><a href="${tenantPath(slug)}">${slug}</a> / <a href="${tenantPath(slug)}/apis">APIs</a> / ${api.name}</p>
<h1>${api.name}</h1>
<p class="lead"><code>${api.identifier}</code> · id <code>${api.id}</code> · keys start with <code>${api.keyPrefix}_</code> · created ${when(Date.parse(api.createdAt))}</p>
${doneNotice(options.done, DETAIL_DONE)}${options.refusal ? refusalBox(c, path, options.refusal, sent) : ''}
<nav aria-label="On this page"><ul class="actions"><li><a href="#scopes-heading">Scopes</a></li><li><a href="#openapi-heading">OpenAPI and operations</a></li><li><a href="#tokens-heading">Tokens</a></li><li><a href="#gateway-heading">Gateway</a></li>${
    mayWrite ? html`<li><a href="#delete-heading">Delete</a></li>` : ''
  }</ul></nav>
${mayWrite ? nameForm(c, path, sent.name ?? api.name) : ''}
<h2 id="scopes-heading">Scope catalog</h2>
${mayWrite ? catalogEditor(c, path, sent.scopes ?? api.scopes.map(rowOf)) : catalogTable(api.scopes)}
<h2 id="openapi-heading">OpenAPI document and operations</h2>
${operationsSection(document, compiled)}
${mayWrite ? documentForm(c, path, sent.document, document !== null) : ''}
<h2 id="tokens-heading">Tokens</h2>
${tokensSection(c, path, api, mayWrite, sent.tokens)}
<h2 id="gateway-heading">Gateway</h2>
${gatewaySection(c, path, api, mayWrite, sent.gateway)}
${mayWrite ? deleteForm(c, path, api) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: `${api.name} · APIs · ${slug}`, c, section: 'apis', tenant: slug, body, scripts: mayWrite ? [consoleAsset('openapi-file.js')] : [] }));
}

/**
 * The refusal of the last change, with what the operator can do about it: for a catalog that drops
 * scopes still held, what `force` does and a form to apply it; for an API in use, the same for
 * deleting; for a document /v1 could not compile, every reason.
 */
function refusalBox(c: ConsoleContext, path: string, refusal: V1Result, sent: Sent): Html {
  const code = refusal.body?.code as string | undefined;
  const affected = (refusal.body?.affected ?? {}) as Record<string, number>;
  const reasons = Array.isArray(refusal.body?.errors) ? (refusal.body.errors as { message?: string }[]).map((e) => e.message ?? '').filter((m) => m !== '') : [];
  const list = reasons.length > 1 ? html`<ul class="error" aria-label="Every reason">${reasons.map((r) => html`<li>${r}</li>`)}</ul>` : '';
  if (code === 'SCOPES_IN_USE' && sent.scopes !== undefined) {
    return html`${problemBox(refusal)}<div class="card" role="region" aria-labelledby="force-heading"><h2 id="force-heading">Nothing changed: the new catalog drops scopes that are still held</h2>
<p>${count(affected['keys'], 'key')}, ${count(affected['tokens'], 'JWT API key')} and ${count(affected['clients'], 'client')} hold scopes the new catalog leaves out (named above). You can apply it anyway: the keys and clients are then narrowed to the scopes that remain, and those JWT API keys, being signed and so impossible to narrow, are revoked, all at once and audited. Access tokens already issued keep their scopes until they expire.</p>
<form method="post" action="${path}/scopes"><input type="hidden" name="csrf" value="${c.csrf}"><input type="hidden" name="force" value="true">${hiddenRows(sent.scopes)}
<button class="danger" type="submit">Apply the catalog anyway, narrowing what holds the dropped scopes</button></form>
<p class="muted">Or change the catalog below and save again.</p></div>`;
  }
  if (code === 'SCOPES_IN_DOCUMENT') {
    return html`${problemBox(refusal)}<p class="warn">Nothing changed. The API's OpenAPI document requires those scopes, so no key could call its operations any more; there is no way to force this. Upload a document that no longer requires them first, then change the catalog.</p>`;
  }
  if (code === 'API_IN_USE') {
    return html`${problemBox(refusal)}<div class="card" role="region" aria-labelledby="force-delete-heading"><h2 id="force-delete-heading">Nothing deleted: the API is in use</h2>
<p>${count(affected['keys'], 'key')}, ${count(affected['tokens'], 'JWT API key')} and ${count(affected['clients'], 'client')} use it. Deleting it anyway deletes its keys, revokes its JWT API keys, cuts off people's grants on it and removes it from the clients' allowances, at once.</p>
<form method="post" action="${path}/delete"><input type="hidden" name="csrf" value="${c.csrf}"><input type="hidden" name="force" value="true">
<div class="field"><label for="force-confirm">Type the identifier again to delete the API with everything that uses it</label><input type="text" id="force-confirm" name="confirm" required autocomplete="off" spellcheck="false" autocapitalize="none"></div>
<button class="danger" type="submit">Delete the API and what uses it</button></form></div>`;
  }
  return html`${problemBox(refusal)}${list}`;
}

function count(n: number | undefined, noun: string): string {
  const value = n ?? 0;
  return `${value.toLocaleString('en-US')} ${noun}${value === 1 ? '' : 's'}`;
}

function nameForm(c: ConsoleContext, path: string, name: string): Html {
  return html`<form class="filters" method="post" action="${path}/name" aria-label="Rename the API"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="api-name">Name</label><input type="text" id="api-name" name="name" required maxlength="200" value="${name}"></div>
<div class="field"><button type="submit">Rename</button></div></form>`;
}

function catalogTable(scopes: readonly ScopeDefinition[]): Html {
  if (scopes.length === 0) return html`<p class="muted">The catalog is empty.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="scopes-heading"><table aria-labelledby="scopes-heading"><thead><tr><th scope="col">Scope</th><th scope="col">Description</th><th scope="col">Implies</th></tr></thead>
<tbody>${scopes.map((s) => html`<tr><th scope="row"><code>${s.name}</code></th><td>${s.description}</td><td>${(s.implies ?? []).map((i) => html`<code>${i}</code> `)}</td></tr>`)}</tbody></table></div>`;
}

/** The catalog as rows of inputs: edit a row, tick "remove", or fill a blank row; saving replaces the whole catalog. */
function catalogEditor(c: ConsoleContext, path: string, rows: readonly ScopeRow[]): Html {
  const all = [...rows, ...Array.from({ length: NEW_SCOPE_ROWS }, () => ({ name: '', description: '', implies: '' }))];
  return html`<form method="post" action="${path}/scopes" aria-labelledby="scopes-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p class="hint">Saving replaces the whole catalog. A scope's implications are the scopes it grants with it (write:orders implies read:orders), separated by spaces. Fill a blank row to add a scope; tick “Remove” to drop one.</p>
<div class="table-wrap" tabindex="0" role="region" aria-label="Scope catalog editor"><table><thead><tr><th scope="col">Scope</th><th scope="col">Description</th><th scope="col">Implies</th><th scope="col">Remove</th></tr></thead>
<tbody>${all.map((row, i) => {
    const label = row.name === '' ? `new scope ${i + 1 - rows.length}` : row.name;
    return html`<tr><td><input type="text" name="scopeName" value="${row.name}" maxlength="128" spellcheck="false" autocapitalize="none" aria-label="Scope name, ${label}"></td>
<td><input type="text" name="scopeDescription" value="${row.description}" maxlength="1024" aria-label="Description of ${label}"></td>
<td><input type="text" name="scopeImplies" value="${row.implies}" spellcheck="false" autocapitalize="none" aria-label="Scopes ${label} implies"></td>
<td>${i < rows.length ? html`<input type="checkbox" name="remove" value="${i}" id="remove-${i}"><label for="remove-${i}"><span class="visually-hidden">Remove ${label}</span></label>` : ''}</td></tr>`;
  })}</tbody></table></div>
<div class="actions"><button class="primary" type="submit">Save the catalog</button></div></form>`;
}

function operationsSection(document: DocumentView | null, compiled: V1Result): Html {
  if (document === null) {
    if (compiled.status === 404) return html`<p class="muted">No OpenAPI document yet: the gateway enforces no operations of this API.</p>`;
    return problemBox(compiled);
  }
  return html`<p>A ${document.format.toUpperCase()} document of ${document.size.toLocaleString('en-US')} bytes, uploaded ${when(Date.parse(document.uploadedAt))}${document.basePath === '' ? '' : html`, served under <code>${document.basePath}</code>`}.</p>
${
  document.operations.length === 0
    ? html`<p class="muted">The document declares no operations.</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="operations-caption"><table><caption id="operations-caption">Operations the gateway enforces, and what each requires</caption>
<thead><tr><th scope="col">Method</th><th scope="col">Path</th><th scope="col">Operation</th><th scope="col">Requires</th><th scope="col" class="num">Cost</th></tr></thead>
<tbody>${document.operations.map(
        (op) =>
          html`<tr><td>${op.method}</td><th scope="row"><code>${document.basePath}${op.path}</code></th><td>${op.operationId ?? html`<span class="muted">unnamed</span>`}</td><td>${requirement(op)}</td><td class="num">${op.cost}</td></tr>`,
      )}</tbody></table></div>`
}`;
}

/** What an operation requires, in words: alternatives joined by “or”, the scopes of one by “and”. */
function requirement(op: { public: boolean; anyOf: string[][] }): Html {
  if (op.public) return html`nothing: <strong>public</strong>`;
  if (op.anyOf.some((item) => item.length === 0)) return html`any valid credential`;
  return html`${op.anyOf.map((item, i) => html`${i > 0 ? ' or ' : ''}${item.map((scope, j) => html`${j > 0 ? ' and ' : ''}<code>${scope}</code>`)}`)}`;
}

function documentForm(c: ConsoleContext, path: string, sent: { text: string; format: string } | undefined, replacing: boolean): Html {
  const format = sent?.format ?? 'auto';
  const formats = [
    { value: 'auto', label: 'Detect: JSON when it starts with {, YAML otherwise' },
    { value: 'json', label: 'JSON' },
    { value: 'yaml', label: 'YAML' },
  ];
  return html`<form class="card" method="post" action="${path}/openapi" aria-labelledby="upload-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<h3 id="upload-heading">${replacing ? 'Replace the document' : 'Upload a document'}</h3>
<p class="hint">An OpenAPI 3.0 or 3.1 document, JSON or YAML. Every scope it names must be in the catalog above; an operation's <code>security</code>, <code>x-keygate-scopes</code>, <code>x-keygate-public</code> and <code>x-keygate-cost</code> say what it requires. A document with errors is refused with every reason, and nothing changes.</p>
<div class="field" hidden><label for="openapi-file">Read from a file</label><input type="file" id="openapi-file" accept=".json,.yaml,.yml,application/json,application/yaml" data-read-into="openapi-document" data-format="openapi-format"><span id="openapi-file-status" role="status" aria-live="polite"></span></div>
<div class="field"><label for="openapi-document">Document</label><textarea id="openapi-document" name="document" rows="12" required spellcheck="false">${sent?.text ?? ''}</textarea></div>
<div class="field"><label for="openapi-format">Format</label><select id="openapi-format" name="format">${formats.map((f) => html`<option value="${f.value}"${f.value === format ? html` selected` : ''}>${f.label}</option>`)}</select></div>
<div class="actions"><button class="primary" type="submit">${replacing ? 'Replace the document' : 'Upload the document'}</button></div></form>`;
}

function tokensSection(c: ConsoleContext, path: string, api: ApiView, mayWrite: boolean, sent: Form | undefined): Html {
  const value = (name: string, fallback: number): string => (sent ? (param(sent, name) ?? '') : String(fallback));
  const refresh = sent ? checked(sent, 'refreshEnabled') : api.refreshTokens.enabled;
  if (!mayWrite) {
    return html`<div class="table-wrap"><table aria-labelledby="tokens-heading"><tbody>
<tr><th scope="row">Access-token lifetime</th><td>${api.accessTokenTtl} seconds</td></tr>
<tr><th scope="row">Refresh tokens</th><td>${api.refreshTokens.enabled ? html`issued; unused for ${api.refreshTokens.idleTtl} s or older than ${api.refreshTokens.absoluteTtl} s they expire; reuse interval ${api.refreshTokens.reuseInterval} s` : 'not issued'}</td></tr>
</tbody></table></div>`;
  }
  return html`<form class="card" method="post" action="${path}/tokens" aria-labelledby="tokens-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="access-ttl">Access-token lifetime, in seconds <span class="hint">Of the tokens issued for this API; 1 to 31536000</span></label><input type="number" id="access-ttl" name="accessTokenTtl" min="1" max="31536000" required value="${value('accessTokenTtl', api.accessTokenTtl)}"></div>
<fieldset><legend>Refresh tokens</legend>
<div class="check"><input type="checkbox" id="refresh-enabled" name="refreshEnabled" value="on"${refresh ? html` checked` : ''}><label for="refresh-enabled">Issue refresh tokens with access tokens</label></div>
<div class="field"><label for="refresh-idle">Idle lifetime, in seconds <span class="hint">How long a refresh token may go unused</span></label><input type="number" id="refresh-idle" name="idleTtl" min="1" required value="${value('idleTtl', api.refreshTokens.idleTtl)}"></div>
<div class="field"><label for="refresh-absolute">Absolute lifetime, in seconds <span class="hint">How long a refresh-token family may live</span></label><input type="number" id="refresh-absolute" name="absoluteTtl" min="1" required value="${value('absoluteTtl', api.refreshTokens.absoluteTtl)}"></div>
<div class="field"><label for="refresh-reuse">Reuse interval, in seconds <span class="hint">After a rotation, a reused refresh token within this time is taken for a concurrent refresh, not a replay that revokes the family; 0 to 60</span></label><input type="number" id="refresh-reuse" name="reuseInterval" min="0" max="60" required value="${value('reuseInterval', api.refreshTokens.reuseInterval)}"></div>
</fieldset>
<div class="actions"><button class="primary" type="submit">Save token settings</button></div></form>`;
}

function gatewaySection(c: ConsoleContext, path: string, api: ApiView, mayWrite: boolean, sent: Form | undefined): Html {
  if (!mayWrite) {
    return html`<div class="table-wrap"><table aria-labelledby="gateway-heading"><tbody>
<tr><th scope="row">Upstream</th><td>${api.upstream === null ? 'none: the API is not behind the gateway' : html`<code>${api.upstream}</code>`}</td></tr>
<tr><th scope="row">Other hosts</th><td>${api.gatewayHosts.length === 0 ? 'none' : api.gatewayHosts.map((h) => html`<code>${h}</code> `)}</td></tr>
<tr><th scope="row">External issuers</th><td>${api.externalIssuers.length === 0 ? 'none' : api.externalIssuers.map((i) => html`<code>${i.issuer}</code> `)}</td></tr>
<tr><th scope="row">Phantom token</th><td>${api.phantomToken ? 'on' : 'off'}</td></tr>
<tr><th scope="row">Credential header / query parameter</th><td>${api.credentialHeader ?? 'none'} / ${api.credentialQuery ?? 'none'}</td></tr>
<tr><th scope="row">Passthrough</th><td>${api.passthrough ? 'on' : 'off'}</td></tr>
<tr><th scope="row">CORS preflight</th><td>${api.corsPreflight}</td></tr>
</tbody></table></div>`;
  }
  const shown = sent
    ? {
        upstream: param(sent, 'upstream') ?? '',
        gatewayHosts: param(sent, 'gatewayHosts') ?? '',
        issuers: zipRows(sent, ['issuer', 'jwksUri', 'audience']).filter((r) => r.issuer !== '' || r.jwksUri !== '' || r.audience !== ''),
        phantomToken: checked(sent, 'phantomToken'),
        credentialHeader: param(sent, 'credentialHeader') ?? '',
        credentialQuery: param(sent, 'credentialQuery') ?? '',
        passthrough: checked(sent, 'passthrough'),
        corsPreflight: param(sent, 'corsPreflight') ?? 'refuse',
      }
    : {
        upstream: api.upstream ?? '',
        gatewayHosts: api.gatewayHosts.join('\n'),
        issuers: api.externalIssuers.map((i) => ({ issuer: i.issuer, jwksUri: i.jwksUri, audience: i.audience ?? '' })),
        phantomToken: api.phantomToken,
        credentialHeader: api.credentialHeader ?? '',
        credentialQuery: api.credentialQuery ?? '',
        passthrough: api.passthrough,
        corsPreflight: api.corsPreflight,
      };
  const issuers = [...shown.issuers, ...Array.from({ length: NEW_ISSUER_ROWS }, () => ({ issuer: '', jwksUri: '', audience: '' }))];
  return html`<form class="card" method="post" action="${path}/gateway" aria-labelledby="gateway-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="gw-upstream">Upstream <span class="hint">Absolute http(s) URL the gateway forwards this API's requests to; empty: the API is not behind the gateway</span></label><input type="text" id="gw-upstream" name="upstream" maxlength="2048" spellcheck="false" autocapitalize="none" value="${shown.upstream}"></div>
<div class="field"><label for="gw-hosts">Other hosts <span class="hint">Host values (host or host:port) besides the identifier's host that reach this API, one per line</span></label><textarea id="gw-hosts" name="gatewayHosts" rows="2" spellcheck="false">${shown.gatewayHosts}</textarea></div>
<fieldset><legend>External issuers <span class="hint">JWT issuers outside Keygate whose tokens the gateway accepts; empty a row to remove it</span></legend>
${issuers.map(
    (row, i) => html`<div class="filters"><div class="field"><label for="gw-issuer-${i}">Issuer</label><input type="text" id="gw-issuer-${i}" name="issuer" maxlength="512" spellcheck="false" value="${row.issuer}"></div>
<div class="field"><label for="gw-jwks-${i}">JWKS URI</label><input type="text" id="gw-jwks-${i}" name="jwksUri" maxlength="2048" spellcheck="false" value="${row.jwksUri}"></div>
<div class="field"><label for="gw-aud-${i}">Audience <span class="hint">Empty: not checked</span></label><input type="text" id="gw-aud-${i}" name="audience" maxlength="512" spellcheck="false" value="${row.audience}"></div></div>`,
  )}</fieldset>
<div class="check"><input type="checkbox" id="gw-phantom" name="phantomToken" value="on"${shown.phantomToken ? html` checked` : ''}><label for="gw-phantom">Phantom token <span class="hint">Also send the upstream a short-lived JWT signed by the tenant (Keygate-Token)</span></label></div>
<div class="field"><label for="gw-header">Credential header <span class="hint">A header read for the credential besides Authorization: Bearer, e.g. x-api-key; empty: none</span></label><input type="text" id="gw-header" name="credentialHeader" maxlength="64" spellcheck="false" autocapitalize="none" value="${shown.credentialHeader}"></div>
<div class="field"><label for="gw-query">Credential query parameter <span class="hint">Off unless set: URLs end up in logs</span></label><input type="text" id="gw-query" name="credentialQuery" maxlength="64" spellcheck="false" autocapitalize="none" value="${shown.credentialQuery}"></div>
<div class="check"><input type="checkbox" id="gw-passthrough" name="passthrough" value="on"${shown.passthrough ? html` checked` : ''}><label for="gw-passthrough">Passthrough <span class="hint">Forward paths and methods the OpenAPI document does not declare (otherwise 404 or 405)</span></label></div>
<div class="field"><label for="gw-cors">CORS preflight on a declared path without a declared OPTIONS</label><select id="gw-cors" name="corsPreflight"><option value="refuse"${shown.corsPreflight === 'refuse' ? html` selected` : ''}>Refuse (405)</option><option value="forward"${shown.corsPreflight === 'forward' ? html` selected` : ''}>Forward to the upstream, without credential or identity headers</option></select></div>
<div class="actions"><button class="primary" type="submit">Save gateway settings</button></div></form>`;
}

function deleteForm(c: ConsoleContext, path: string, api: ApiView): Html {
  return html`<h2 id="delete-heading">Delete the API</h2>
<form class="card" method="post" action="${path}/delete" aria-labelledby="delete-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p class="warn">While keys, JWT API keys or clients use the API, it is not deleted: you are shown what uses it first.</p>
<div class="field"><label for="delete-confirm">Type the identifier, <code>${api.identifier}</code>, to confirm</label><input type="text" id="delete-confirm" name="confirm" required autocomplete="off" spellcheck="false" autocapitalize="none"></div>
<div class="actions"><button class="danger" type="submit">Delete ${api.name}</button></div></form>`;
}

/** The editor's rows as sent, without those ticked for removal and the blank ones. */
function scopeRows(form: Form): ScopeRow[] {
  const removed = new Set(form.get('remove') ?? []);
  return zipRows(form, ['scopeName', 'scopeDescription', 'scopeImplies'])
    .map((row, i) => ({ name: row.scopeName, description: row.scopeDescription, implies: row.scopeImplies, removed: removed.has(String(i)) }))
    .filter((row) => !row.removed && (row.name !== '' || row.description !== '' || row.implies !== ''))
    .map(({ name, description, implies }) => ({ name, description, implies }));
}

function rowOf(scope: ScopeDefinition): ScopeRow {
  return { name: scope.name, description: scope.description, implies: (scope.implies ?? []).join(' ') };
}

function definitionOf(row: ScopeRow): ScopeDefinition {
  const implies = row.implies.split(/[\s,]+/).filter((s) => s !== '');
  return { name: row.name, description: row.description, ...(implies.length === 0 ? {} : { implies }) };
}

/** The rows, as hidden fields, of a catalog the operator confirms with force. */
function hiddenRows(rows: readonly ScopeRow[]): Html {
  return html`${rows.map(
    (row) => html`<input type="hidden" name="scopeName" value="${row.name}"><input type="hidden" name="scopeDescription" value="${row.description}"><input type="hidden" name="scopeImplies" value="${row.implies}">`,
  )}`;
}

/** A create form's scope lines, `name description…`, as a catalog. */
function catalogFromLines(textValue: string): ScopeDefinition[] {
  return lines(textValue).map((line) => {
    const space = line.search(/\s/);
    return space === -1 ? { name: line, description: '' } : { name: line.slice(0, space), description: line.slice(space).trim() };
  });
}
