import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { when } from '../../portal/developer/format.js';
import { html, type Html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consoleAsset, consolePage, consoleReply, doneNotice, problemBox, refused, tenantPath } from '../layout.js';
import { queryText, text, whole } from './form-input.js';

/** A signing key as `GET /v1/tenants/{slug}/signing-keys` answers it. */
interface SigningKeyView {
  kid: string;
  alg: string;
  state: 'next' | 'current' | 'retired';
  createdAt: string;
  activatesAt: string;
  retiredAt: string | null;
  publishUntil: string | null;
}

interface Hs256SecretView {
  kid: string;
  createdAt: string;
  revokedAt: string | null;
}

const DONE = {
  rotated: 'A new signing key is published. It signs from its activation time; the current key retires then and stays published while its tokens live.',
  revoked: 'The HS256 secret is revoked: tokens signed with it no longer verify.',
};

const ALGS = ['EdDSA', 'ES256', 'RS256'] as const;

/** Delays offered before a new key signs: verifiers cache the JWKS up to its max-age (300 s). */
const DELAYS: readonly { seconds: number; label: string }[] = [
  { seconds: 300, label: 'in 5 minutes: every verifier has fetched it by then (recommended)' },
  { seconds: 3600, label: 'in 1 hour' },
  { seconds: 86_400, label: 'in 24 hours' },
  { seconds: 0, label: 'now: a verifier holding a cached JWKS may refuse new tokens for up to 5 minutes' },
];

/**
 * `/console/tenants/{slug}/signing-keys`: the keys that sign the tenant's tokens (next, current,
 * retired; what the JWKS publishes), a rotation now, and the tenant's HS256 secrets (made here,
 * the secret shown once in the POST's own answer, and revoked). Reads need tokens:read, changes
 * tokens:write; every call is /v1's, as the operator.
 */
export function signingKeyPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/signing-keys', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    return keysPage(reply, c, slug, { status: 200, done: queryText(request.query, ['done'])['done'] });
  });

  app.post('/console/tenants/:slug/signing-keys/rotate', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const alg = text(form, 'alg');
    const body = { activateAfterSeconds: whole(text(form, 'activateAfterSeconds')), ...(alg === '' ? {} : { alg }) };
    const result = await c.v1('POST', `${v1Path(slug)}/signing-keys/rotate`, body);
    if (result.status === 201) return reply.redirect(`${tenantPath(slug)}/signing-keys?done=rotated`, 303);
    return refusedHere(reply, c, slug, result);
  });

  app.post('/console/tenants/:slug/signing-keys/hs256-secrets', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug } = request.params as { slug: string };
    const result = await c.v1('POST', `${v1Path(slug)}/hs256-secrets`);
    if (result.status !== 201) return refusedHere(reply, c, slug, result);
    return consoleReply(reply, 200, consolePage({ title: 'New HS256 secret', c, section: 'signing-keys', tenant: slug, scripts: [consoleAsset('copy.js')], body: secretBody(slug, result.body) }));
  });

  app.post('/console/tenants/:slug/signing-keys/hs256-secrets/:kid/revoke', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug, kid } = request.params as { slug: string; kid: string };
    const result = await c.v1('POST', `${v1Path(slug)}/hs256-secrets/${encodeURIComponent(kid)}/revoke`);
    if (result.status === 204) return reply.redirect(`${tenantPath(slug)}/signing-keys?done=revoked`, 303);
    return refusedHere(reply, c, slug, result);
  });
}

function v1Path(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}`;
}

/** A refused change: the refusal page for 403/404, else the page again with /v1's problem. */
async function refusedHere(reply: FastifyReply, c: ConsoleContext, slug: string, result: V1Result): Promise<FastifyReply> {
  if (result.status === 403 || result.status === 404) return refused(reply, c, 'signing-keys', result, slug);
  return keysPage(reply, c, slug, { status: result.status, refusal: result });
}

async function keysPage(reply: FastifyReply, c: ConsoleContext, slug: string, options: { status: number; done?: string | undefined; refusal?: V1Result }): Promise<FastifyReply> {
  const keys = await c.v1('GET', `${v1Path(slug)}/signing-keys`);
  if (keys.status !== 200) return refused(reply, c, 'signing-keys', keys, slug);
  const items = keys.body.items as SigningKeyView[];
  const secrets = await c.v1('GET', `${v1Path(slug)}/hs256-secrets`);
  // The tenant's own algorithm is the default of a rotation; without tenants:read, the current key's.
  const tenant = await c.v1('GET', v1Path(slug));
  const current = items.find((k) => k.state === 'current');
  const defaultAlg: string = tenant.status === 200 ? tenant.body.signingAlg : (current?.alg ?? 'EdDSA');
  const mayWrite = c.can('tokens:write');
  const base = `${tenantPath(slug)}/signing-keys`;
  const body = html`<p class="crumbs"><a href="${tenantPath(slug)}">${slug}</a> / Signing keys</p>
<h1>Signing keys</h1>
<p class="lead">The keys that sign tenant ${slug}’s tokens. Verifiers find them in the JWKS, <a href="/t/${slug}/.well-known/jwks.json"><code>/t/${slug}/.well-known/jwks.json</code></a>, which publishes the next key before it signs and a retired one while its tokens live.</p>
${doneNotice(options.done, DONE)}${options.refusal ? problemBox(options.refusal) : ''}
${keyTable('current', 'Signing now', items, 'No key signs now.')}
${keyTable('next', 'Next: published, signing from its activation', items, 'No key is waiting: the next rotation publishes one.')}
${keyTable('retired', 'Retired: published while tokens they signed live', items, 'No retired key is still published.')}
${mayWrite ? rotateForm(c, base, defaultAlg) : ''}
<h2 id="hs256-heading">HS256 secrets</h2>
<p>Shared secrets with which your own services mint HS256 tokens for this tenant’s APIs (header <code>{"alg":"HS256","kid":"…"}</code>), each at most the tenant’s HS256 lifetime cap long.</p>
${secrets.status === 200 ? secretTable(c, base, secrets.body.items as Hs256SecretView[], mayWrite) : problemBox(secrets)}
${
  mayWrite
    ? html`<form method="post" action="${base}/hs256-secrets"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit">New HS256 secret</button> <span class="hint">The secret is shown once, on the next page.</span></form>`
    : ''
}`;
  return consoleReply(reply, options.status, consolePage({ title: `Signing keys · ${slug}`, c, section: 'signing-keys', tenant: slug, body }));
}

function keyTable(state: SigningKeyView['state'], caption: string, items: readonly SigningKeyView[], empty: string): Html {
  const keys = items.filter((k) => k.state === state);
  const id = `keys-${state}`;
  if (keys.length === 0) return html`<h2 id="${id}">${caption}</h2><p class="muted">${empty}</p>`;
  return html`<h2 id="${id}">${caption}</h2><div class="table-wrap" tabindex="0" role="region" aria-labelledby="${id}"><table aria-labelledby="${id}">
<thead><tr><th scope="col">Key id (kid)</th><th scope="col">Algorithm</th><th scope="col">Created</th><th scope="col">Activates</th><th scope="col">Retires</th><th scope="col">Published until</th></tr></thead>
<tbody>${keys.map(
    (k) =>
      html`<tr><th scope="row"><code>${k.kid}</code></th><td>${k.alg}</td><td>${time(k.createdAt)}</td><td>${time(k.activatesAt)}</td><td>${time(k.retiredAt, 'not yet')}</td><td>${time(k.publishUntil, state === 'retired' ? 'until its tokens expire' : '—')}</td></tr>`,
  )}</tbody></table></div>`;
}

function rotateForm(c: ConsoleContext, base: string, defaultAlg: string): Html {
  return html`<h2 id="rotate-heading">Rotate now</h2>
<form class="card" method="post" action="${base}/rotate" aria-labelledby="rotate-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<p>Publishes a new key at once. The key signing now retires when the new one activates, and stays published while tokens it signed can still be valid.</p>
<div class="field"><label for="rotate-delay">The new key signs</label><select id="rotate-delay" name="activateAfterSeconds">${DELAYS.map((d) => html`<option value="${d.seconds}">${d.label}</option>`)}</select></div>
<div class="field"><label for="rotate-alg">Algorithm <span class="hint">The tenant’s is ${defaultAlg}; another applies to this key only (change the tenant’s in its settings)</span></label><select id="rotate-alg" name="alg">${ALGS.map(
    (alg) => html`<option value="${alg}"${alg === defaultAlg ? html` selected` : ''}>${alg}</option>`,
  )}</select></div>
<div class="actions"><button class="primary" type="submit">Rotate the signing key</button></div></form>`;
}

function secretTable(c: ConsoleContext, base: string, secrets: readonly Hs256SecretView[], mayWrite: boolean): Html {
  if (secrets.length === 0) return html`<p class="muted">No HS256 secrets.</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="hs256-heading"><table aria-labelledby="hs256-heading">
<thead><tr><th scope="col">Key id (kid)</th><th scope="col">Created</th><th scope="col">Status</th>${mayWrite ? html`<th scope="col">Action</th>` : ''}</tr></thead>
<tbody>${secrets.map(
    (s) =>
      html`<tr><th scope="row"><code>${s.kid}</code></th><td>${time(s.createdAt)}</td><td>${s.revokedAt === null ? 'active' : html`revoked ${time(s.revokedAt)}`}</td>${
        mayWrite
          ? html`<td>${
              s.revokedAt === null
                ? html`<form class="inline" method="post" action="${base}/hs256-secrets/${encodeURIComponent(s.kid)}/revoke"><input type="hidden" name="csrf" value="${c.csrf}"><button class="danger" type="submit">Revoke<span class="visually-hidden"> ${s.kid}</span></button></form>`
                : html`<span class="muted">none</span>`
            }</td>`
          : ''
      }</tr>`,
  )}</tbody></table></div>`;
}

function secretBody(slug: string, created: { kid: string; secret: string }): Html {
  return html`<h1>New HS256 secret</h1>
<div class="card"><p class="warn" role="alert">Copy this secret now. You won’t see it again.</p>
<p>Key id: <code>${created.kid}</code></p>
<div class="secret"><label for="secret">HS256 secret</label><input type="text" id="secret" value="${created.secret}" readonly autocomplete="off" spellcheck="false" size="48">
<button type="button" data-copy="secret" hidden>Copy secret</button><span id="secret-status" role="status" aria-live="polite"></span></div>
<p>Sign with header <code>{"alg":"HS256","kid":"${created.kid}"}</code>, the tenant’s issuer as <code>iss</code>, an API identifier as <code>aud</code>, and an <code>iat</code> and <code>exp</code>.</p></div>
<p><a href="${tenantPath(slug)}/signing-keys">Back to signing keys</a></p>`;
}

/** An ISO time from /v1 for people, or `missing` when there is none. */
function time(iso: string | null, missing = 'never'): string {
  return iso === null ? missing : when(Date.parse(iso));
}
