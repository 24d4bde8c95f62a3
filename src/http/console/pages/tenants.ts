import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { param } from '../../oauth/form.js';
import { when } from '../../portal/developer/format.js';
import { html, type Html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { TENANT_NAV, consolePage, consoleReply, doneNotice, pager, problemBox, refused, tenantPath } from '../layout.js';
import { checked, queryText } from './form-input.js';

/** A tenant as `GET /v1/tenants/{slug}` answers it. */
interface TenantView {
  id: string;
  slug: string;
  name: string;
  signingAlg: 'EdDSA' | 'ES256' | 'RS256';
  issuer: string;
  selfSignup: boolean;
  hs256MaxLifetime: number;
  createdAt: string;
}

const SIGNING_ALGS = [
  { value: 'EdDSA', label: 'EdDSA (Ed25519): small and fast; the default' },
  { value: 'ES256', label: 'ES256 (P-256): for verifiers without Ed25519' },
  { value: 'RS256', label: 'RS256 (RSA 2048): for the oldest verifiers' },
] as const;

const LIST_DONE = { deleted: 'The tenant is deleted, with everything in it. Root keys limited to it are revoked.' };
const DETAIL_DONE = { created: 'The tenant is created, with its first signing key.', saved: 'The settings are saved.' };

/** What the operator typed into the create form, to fill it again after a refusal. */
interface CreateFields {
  slug: string;
  name: string;
  signingAlg: string;
  selfSignup: boolean;
}

/** What the operator typed into the settings form. */
interface SettingsFields {
  name: string;
  selfSignup: boolean;
  hs256MaxLifetime: string;
  signingAlg: string;
}

/**
 * The tenants pages: `/console/tenants` (find, page through, create) and
 * `/console/tenants/{slug}` (the tenant's settings, its sections and its deletion). Every read
 * and change is a /v1 call as the operator (`c.v1`), so /v1 decides what they may see and do;
 * a form shows only to an operator holding its scope, and a refusal is shown with /v1's words.
 */
export function tenantPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const query = queryText(request.query, ['search', 'cursor', 'done']);
    return listPage(reply, c, { status: 200, query });
  });

  app.post('/console/tenants', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const fields: CreateFields = {
      slug: (param(form, 'slug') ?? '').trim(),
      name: (param(form, 'name') ?? '').trim(),
      signingAlg: param(form, 'signingAlg') ?? 'EdDSA',
      selfSignup: checked(form, 'selfSignup'),
    };
    const result = await c.v1('POST', '/v1/tenants', fields);
    if (result.status === 201) return reply.redirect(`${tenantPath(result.body.slug)}?done=created`, 303);
    return listPage(reply, c, { status: result.status, query: {}, refusal: result, fields });
  });

  app.get('/console/tenants/:slug', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    const tenant = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}`);
    // Without tenants:read the settings stay hidden, but the tenant's label in the navigation still
    // leads somewhere: to the sections the operator's other scopes reach (never another tenant's).
    if (tenant.status === 403 && (c.operator.tenant === null || c.operator.tenant === slug)) return sectionsPage(reply, c, slug);
    if (tenant.status !== 200) return refused(reply, c, 'tenants', tenant);
    return detailPage(reply, c, tenant.body, { status: 200, done: queryText(request.query, ['done'])['done'] });
  });

  app.post('/console/tenants/:slug/settings', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const fields: SettingsFields = {
      name: (param(form, 'name') ?? '').trim(),
      selfSignup: checked(form, 'selfSignup'),
      hs256MaxLifetime: (param(form, 'hs256MaxLifetime') ?? '').trim(),
      signingAlg: param(form, 'signingAlg') ?? '',
    };
    const path = `/v1/tenants/${encodeURIComponent(slug)}`;
    // A text that is no whole number goes to /v1 as it is, whose problem names the field.
    const lifetime = /^\d{1,12}$/.test(fields.hs256MaxLifetime) ? Number(fields.hs256MaxLifetime) : fields.hs256MaxLifetime;
    const result = await c.v1('PATCH', path, { name: fields.name, selfSignup: fields.selfSignup, hs256MaxLifetime: lifetime, ...(fields.signingAlg === '' ? {} : { signingAlg: fields.signingAlg }) });
    if (result.status === 200) return reply.redirect(`${tenantPath(slug)}?done=saved`, 303);
    return againOnDetail(reply, c, path, result, { settings: fields });
  });

  app.post('/console/tenants/:slug/delete', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const path = `/v1/tenants/${encodeURIComponent(slug)}`;
    const confirm = (param(form, 'confirm') ?? '').trim();
    if (confirm !== slug) {
      // Nothing is deleted on a mistyped confirmation; /v1 is asked only to draw the page (and to refuse a tenant out of reach).
      const refusal = { status: 400, body: { title: 'Not deleted', detail: `type the tenant's slug, ${slug}, to confirm the deletion`, code: 'CONFIRMATION_MISMATCH' } };
      return againOnDetail(reply, c, path, refusal, {});
    }
    const result = await c.v1('DELETE', path);
    if (result.status === 200) return reply.redirect('/console/tenants?done=deleted', 303);
    return againOnDetail(reply, c, path, result, {});
  });
}

/** The detail page again after a refused change, showing the refusal; a tenant the operator may not read is the refusal page. */
async function againOnDetail(reply: FastifyReply, c: ConsoleContext, path: string, refusal: V1Result, options: { settings?: SettingsFields }): Promise<FastifyReply> {
  const tenant = await c.v1('GET', path);
  if (tenant.status !== 200) return refused(reply, c, 'tenants', tenant);
  if (refusal.status === 403 || refusal.status === 404) return refused(reply, c, 'tenants', refusal, tenant.body.slug);
  return detailPage(reply, c, tenant.body, { status: refusal.status, refusal, ...options });
}

async function listPage(
  reply: FastifyReply,
  c: ConsoleContext,
  options: { status: number; query: Record<string, string>; refusal?: V1Result; fields?: CreateFields },
): Promise<FastifyReply> {
  const { query } = options;
  const search = query['search'] ?? '';
  const params = new URLSearchParams({ limit: '50' });
  if (search !== '') params.set('search', search);
  if (query['cursor']) params.set('cursor', query['cursor']);
  const list = await c.v1('GET', `/v1/tenants?${params.toString()}`);
  if (list.status === 401 || list.status === 403) return refused(reply, c, 'tenants', list);
  const tenants: TenantView[] = list.status === 200 ? list.body.items : [];
  const mayCreate = c.can('tenants:write') && c.operator.tenant === null;
  const body = html`<h1>Tenants</h1>
<p class="lead">Each tenant has its own APIs, consumers, keys, clients, people, signing keys and audit log.</p>
${doneNotice(query['done'], LIST_DONE)}${options.refusal ? problemBox(options.refusal) : ''}${list.status === 200 ? '' : problemBox(list)}
<form class="filters" method="get" action="/console/tenants" role="search" aria-label="Find tenants">
<div class="field"><label for="tenant-search">Slug or name contains</label><input type="text" id="tenant-search" name="search" value="${search}" maxlength="200"></div>
<div class="field"><button type="submit">Find</button>${search !== '' ? html` <a href="/console/tenants">Show all</a>` : ''}</div></form>
${
  tenants.length === 0
    ? html`<p class="muted">${search !== '' ? html`No tenant’s slug or name contains “${search}”.` : 'No tenants yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="tenants-caption"><table><caption id="tenants-caption">Tenants${search !== '' ? html` whose slug or name contains “${search}”` : ''}</caption>
<thead><tr><th scope="col">Slug</th><th scope="col">Name</th><th scope="col">Signing</th><th scope="col">Self sign-up</th><th scope="col">Created</th></tr></thead>
<tbody>${tenants.map(
        (t) => html`<tr><th scope="row"><a href="${tenantPath(t.slug)}">${t.slug}</a></th><td>${t.name}</td><td>${t.signingAlg}</td><td>${t.selfSignup ? 'on' : 'off'}</td><td>${when(Date.parse(t.createdAt))}</td></tr>`,
      )}</tbody></table></div>`
}
${list.status === 200 ? pager('/console/tenants', { search }, list.body.nextCursor) : ''}
${mayCreate ? createForm(c, options.fields) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: 'Tenants', c, section: 'tenants', body }));
}

function createForm(c: ConsoleContext, fields: CreateFields | undefined): Html {
  const alg = fields?.signingAlg ?? 'EdDSA';
  return html`<h2 id="create-heading">Create a tenant</h2>
<form class="card" method="post" action="/console/tenants" aria-labelledby="create-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="new-slug">Slug <span class="hint">Its name in URLs, for good: lowercase letters, digits and dashes, e.g. “acme”</span></label><input type="text" id="new-slug" name="slug" required maxlength="63" pattern="[a-z0-9][a-z0-9\\-]{0,62}" autocapitalize="none" spellcheck="false" value="${fields?.slug ?? ''}"></div>
<div class="field"><label for="new-name">Name <span class="hint">Shown to people on the tenant's portal</span></label><input type="text" id="new-name" name="name" required maxlength="200" value="${fields?.name ?? ''}"></div>
<div class="field"><label for="new-alg">Signing algorithm <span class="hint">Of the keys that sign the tenant's tokens</span></label><select id="new-alg" name="signingAlg">${SIGNING_ALGS.map(
    (a) => html`<option value="${a.value}"${a.value === alg ? html` selected` : ''}>${a.label}</option>`,
  )}</select></div>
<div class="check"><input type="checkbox" id="new-signup" name="selfSignup" value="on"${fields?.selfSignup ? html` checked` : ''} aria-describedby="new-signup-hint"><label for="new-signup">Self sign-up <span class="hint" id="new-signup-hint">Anyone may create an account on the tenant's portal</span></label></div>
<div class="actions"><button class="primary" type="submit">Create tenant</button></div></form>`;
}

function detailPage(
  reply: FastifyReply,
  c: ConsoleContext,
  tenant: TenantView,
  options: { status: number; done?: string | undefined; refusal?: V1Result; settings?: SettingsFields },
): FastifyReply {
  const base = tenantPath(tenant.slug);
  const sections = TENANT_NAV.filter((item) => c.can(item.scope));
  const mayWrite = c.can('tenants:write');
  const body = html`<p class="crumbs">${c.operator.tenant === null ? html`<a href="/console/tenants">Tenants</a> / ` : ''}${tenant.slug}</p>
<h1>${tenant.name}</h1>
<p class="lead">Tenant <code>${tenant.slug}</code>, created ${when(Date.parse(tenant.createdAt))}.</p>
${doneNotice(options.done, DETAIL_DONE)}${options.refusal ? problemBox(options.refusal) : ''}
<h2 id="sections-heading">Sections</h2>
${
  sections.length === 0
    ? html`<p class="muted">Your scopes reach none of the tenant's sections.</p>`
    : html`<nav aria-labelledby="sections-heading"><ul>${sections.map((item) => html`<li><a href="${base}${item.path}">${item.label}</a></li>`)}</ul></nav>`
}
<h2 id="facts-heading">Identity</h2>
<div class="table-wrap"><table aria-labelledby="facts-heading"><tbody>
<tr><th scope="row">Slug</th><td><code>${tenant.slug}</code></td></tr>
<tr><th scope="row">Id</th><td><code>${tenant.id}</code></td></tr>
<tr><th scope="row">Issuer</th><td><code>${tenant.issuer}</code></td></tr>
</tbody></table></div>
<h2 id="settings-heading">Settings</h2>
${mayWrite ? settingsForm(c, tenant, options.settings) : settingsTable(tenant)}
${mayWrite ? deleteForm(c, tenant) : ''}`;
  return consoleReply(reply, options.status, consolePage({ title: tenant.name, c, section: 'tenants', tenant: tenant.slug, body }));
}

function sectionsPage(reply: FastifyReply, c: ConsoleContext, slug: string): FastifyReply {
  const sections = TENANT_NAV.filter((item) => c.can(item.scope));
  const body = html`<h1>Tenant ${slug}</h1>
<p class="lead">Your scopes do not include <code>tenants:read</code>, so the tenant's settings are not shown here.</p>
<h2 id="sections-heading">Sections</h2>
${
  sections.length === 0
    ? html`<p class="muted">Your scopes reach none of the tenant's sections.</p>`
    : html`<nav aria-labelledby="sections-heading"><ul>${sections.map((item) => html`<li><a href="${tenantPath(slug)}${item.path}">${item.label}</a></li>`)}</ul></nav>`
}`;
  return consoleReply(reply, 200, consolePage({ title: `Tenant ${slug}`, c, section: 'tenants', tenant: slug, body }));
}

function settingsTable(tenant: TenantView): Html {
  return html`<div class="table-wrap"><table aria-labelledby="settings-heading"><tbody>
<tr><th scope="row">Name</th><td>${tenant.name}</td></tr>
<tr><th scope="row">Self sign-up</th><td>${tenant.selfSignup ? 'on: anyone may create an account on the portal' : 'off'}</td></tr>
<tr><th scope="row">HS256 token lifetime cap</th><td>${tenant.hs256MaxLifetime} seconds</td></tr>
<tr><th scope="row">Signing algorithm</th><td>${tenant.signingAlg}</td></tr>
</tbody></table></div>`;
}

function settingsForm(c: ConsoleContext, tenant: TenantView, fields: SettingsFields | undefined): Html {
  const shown: SettingsFields = fields ?? { name: tenant.name, selfSignup: tenant.selfSignup, hs256MaxLifetime: String(tenant.hs256MaxLifetime), signingAlg: tenant.signingAlg };
  const keysLink = c.can('tokens:read') ? html` (<a href="${tenantPath(tenant.slug)}/signing-keys">signing keys</a>)` : '';
  return html`<form class="card" method="post" action="${tenantPath(tenant.slug)}/settings" aria-labelledby="settings-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="tenant-name">Name</label><input type="text" id="tenant-name" name="name" required maxlength="200" value="${shown.name}"></div>
<div class="check"><input type="checkbox" id="tenant-signup" name="selfSignup" value="on"${shown.selfSignup ? html` checked` : ''} aria-describedby="tenant-signup-hint"><label for="tenant-signup">Self sign-up <span class="hint" id="tenant-signup-hint">Anyone may create an account on the tenant's portal</span></label></div>
<div class="field"><label for="tenant-hs256">HS256 token lifetime cap, in seconds <span class="hint">The longest lifetime (exp − iat) of a token signed with one of the tenant's HS256 secrets; 1 to 31536000</span></label><input type="number" id="tenant-hs256" name="hs256MaxLifetime" min="1" max="31536000" step="1" required value="${shown.hs256MaxLifetime}"></div>
<div class="field"><label for="tenant-alg">Signing algorithm <span class="hint">Of the keys later rotations make${keysLink}: the key signing now keeps signing until the next rotation, so rotate to switch</span></label><select id="tenant-alg" name="signingAlg">${SIGNING_ALGS.map(
    (a) => html`<option value="${a.value}"${a.value === shown.signingAlg ? html` selected` : ''}>${a.label}</option>`,
  )}</select></div>
<div class="actions"><button class="primary" type="submit">Save settings</button></div></form>`;
}

function deleteForm(c: ConsoleContext, tenant: TenantView): Html {
  return html`<h2 id="delete-heading">Delete the tenant</h2>
<form class="card" method="post" action="${tenantPath(tenant.slug)}/delete" aria-labelledby="delete-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p class="warn">This deletes everything in the tenant at once: APIs, consumers, keys, clients, users and their sessions, tokens, signing keys and its audit log. Root keys limited to it are revoked. It cannot be undone.</p>
<div class="field"><label for="delete-confirm">Type the slug, <code>${tenant.slug}</code>, to confirm</label><input type="text" id="delete-confirm" name="confirm" required autocomplete="off" autocapitalize="none" spellcheck="false"></div>
<div class="actions"><button class="danger" type="submit">Delete ${tenant.slug} and everything in it</button></div></form>`;
}
