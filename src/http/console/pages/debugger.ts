import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Static } from 'typebox';
import { decodeJwt } from '../../../domain/tokens/jwt.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { expiryInWords } from '../../portal/developer/debugger.js';
import { outcomeText } from '../../portal/developer/format.js';
import { Html, html } from '../../portal/html.js';
import type { VerificationResultSchema } from '../../verify.js';
import { operatorForm, requireOperator, type ConsoleContext } from '../context.js';
import { consolePage, consoleReply, problemBox } from '../layout.js';
import { apisOf, v1Items, type ApiChoice } from './v1-lists.js';

/**
 * The picker lists the APIs of at most this many tenants (the first 100 APIs of each): every
 * view of the page reads them through /v1, so an instance with more tenants gets a text field
 * for the API identifier instead of thousands of reads per view.
 */
const PICKER_TENANTS = 25;

/** What the operator asked: kept to fill the form again. The credential stays in POST bodies and answers only. */
interface Asked {
  credential: string;
  /** `slug|identifier` of a listed API, or the identifier typed in. */
  api: string;
  scopes: string;
  match: 'all' | 'any';
  cost: string;
  ip: string;
}

const EMPTY: Asked = { credential: '', api: '', scopes: '', match: 'all', cost: '0', ip: '' };

/** An operator's tenants with their APIs, for the picker; null when the APIs cannot be listed. */
type ApiGroups = { slug: string; apis: ApiChoice[] }[] | null;

/**
 * The verify tool and token debugger (the portal debugger's big brother): paste any credential,
 * pick an API of the operator's tenants and scopes, and see the answer of `POST /v1/verify`
 * exactly as /v1 gives it (called as the operator: `keys:verify`, tenant limit and audit are
 * /v1's), its JSON too, and a JWT's header and claims decoded on the server without verifying.
 * The credential travels only in POST bodies and the answer, never in a URL; pages are no-store.
 * Credits are spent only when the operator asks (`cost`, 0 by default).
 */
export function debuggerPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/debugger', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    if (!c.can('keys:verify')) return notAllowed(reply, c);
    return debuggerPage(reply, c, { status: 200, asked: EMPTY, groups: await apiGroups(c), result: null, now: keygate.clock() });
  });

  app.post('/console/debugger', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    if (!c.can('keys:verify')) return notAllowed(reply, c);
    const asked = askedOf(form);
    const groups = await apiGroups(c);
    const identifier = apiIdentifierOf(asked.api);
    const scopes = asked.scopes.split(/[\s,]+/).filter((s) => s !== '');
    const body = {
      credential: asked.credential.trim(),
      api: identifier,
      ...(scopes.length > 0 ? { scopes, match: asked.match } : {}),
      cost: /^\d+$/.test(asked.cost) ? Number(asked.cost) : asked.cost,
      ...(asked.ip.trim() !== '' ? { ip: asked.ip.trim() } : {}),
    };
    const result = await c.v1('POST', '/v1/verify', body);
    return debuggerPage(reply, c, { status: result.status, asked, groups, result, now: keygate.clock() });
  });
}

function askedOf(form: Form): Asked {
  const match = param(form, 'match');
  return {
    credential: param(form, 'credential') ?? '',
    api: (param(form, 'api') ?? '').trim(),
    scopes: param(form, 'scopes') ?? '',
    match: match === 'any' ? 'any' : 'all',
    cost: (param(form, 'cost') ?? '0').trim() || '0',
    ip: param(form, 'ip') ?? '',
  };
}

/** The API identifier of a picked `slug|identifier` (slugs hold no `|`), or what was typed. */
function apiIdentifierOf(value: string): string {
  const bar = value.indexOf('|');
  return bar === -1 ? value : value.slice(bar + 1);
}

/** The slug of a picked API, or null for a typed identifier. */
function apiTenantOf(value: string): string | null {
  const bar = value.indexOf('|');
  return bar === -1 ? null : value.slice(0, bar);
}

/** The operator's tenants (their one tenant, or every tenant /v1 lists for them) and each one's APIs. */
async function apiGroups(c: ConsoleContext): Promise<ApiGroups> {
  const tenants = c.operator.tenant !== null ? [{ slug: c.operator.tenant }] : await v1Items<{ slug: string }>(c, '/v1/tenants', { pages: 1 });
  if (tenants === null || tenants.length > PICKER_TENANTS) return null;
  const slugs = tenants.map((t) => t.slug);
  const groups: { slug: string; apis: ApiChoice[] }[] = [];
  for (const slug of slugs) {
    const apis = await apisOf(c, slug, { pages: 1 });
    if (apis === null) return null;
    if (apis.length > 0) groups.push({ slug, apis });
  }
  return groups;
}

function notAllowed(reply: FastifyReply, c: ConsoleContext): FastifyReply {
  const body = html`<h1>Not allowed</h1><p class="lead">Verifying credentials needs the <code>keys:verify</code> scope, which your operator account does not hold. Ask an operator with more scopes.</p>`;
  return consoleReply(reply, 403, consolePage({ title: 'Not allowed', c, section: 'debugger', body }));
}

function apiField(groups: ApiGroups, chosen: string): Html {
  const selected = (yes: boolean): Html | '' => (yes ? new Html(' selected') : '');
  if (groups === null || groups.length === 0) {
    return html`<div class="field"><label for="api">API identifier <span class="hint">The audience the credential is presented to${groups === null ? '' : ': no tenant of yours has an API yet'}</span></label><input type="text" id="api" name="api" value="${chosen}" required></div>`;
  }
  return html`<div class="field"><label for="api">Tenant and API</label><select id="api" name="api" required>${groups.map(
    (g) => html`<optgroup label="${g.slug}">${g.apis.map((a) => html`<option value="${g.slug}|${a.identifier}"${selected(`${g.slug}|${a.identifier}` === chosen)}>${g.slug}: ${a.name} (${a.identifier})</option>`)}</optgroup>`,
  )}</select></div>`;
}

/** The picked API's scope catalog, as a hint of what may be asked. */
function catalogHint(groups: ApiGroups, chosen: string): Html {
  const slug = apiTenantOf(chosen);
  const api = groups?.find((g) => g.slug === slug)?.apis.find((a) => a.identifier === apiIdentifierOf(chosen));
  if (api === undefined || api.scopes.length === 0) return html``;
  return html`<span class="hint">Scopes of ${api.name}: ${api.scopes.map((s) => html`<code>${s.name}</code> `)}</span>`;
}

function resultSection(result: { status: number; body: any }, asked: Asked, now: number): Html {
  if (result.status !== 200) return html`<section aria-labelledby="result-title"><h2 id="result-title">Result</h2>${problemBox(result)}</section>`;
  const r = result.body as Static<typeof VerificationResultSchema>;
  const picked = apiTenantOf(asked.api);
  const elsewhere = picked !== null && r.tenant !== null && r.tenant !== picked;
  const row = (label: string, value: Html | string | null) => html`<dt>${label}</dt><dd>${value === null ? html`<span class="muted">none</span>` : value}</dd>`;
  return html`<section aria-labelledby="result-title"><h2 id="result-title">Result</h2>
<p id="verdict" class="${r.valid ? 'notice' : 'error'}" role="status"><strong>${r.code}</strong>: ${r.valid ? 'valid' : outcomeText(r.code)}</p>
${elsewhere ? html`<p class="warn">The credential belongs to tenant ${r.tenant}, not ${picked}.</p>` : ''}
<dl class="verdict">${row('Key or token', r.keyId === null ? null : html`<code>${r.keyId}</code>`)}${row('Tenant', r.tenant)}${row('API', r.api)}${row('Consumer', r.consumer)}${row('Scopes', r.scopes.length === 0 ? null : html`${r.scopes.map((s) => html`<code>${s}</code> `)}`)}${row('Expires', r.expiresAt)}${row('Credits left', r.credits === null ? null : String(r.credits.remaining))}${row(
    'Rate limits',
    r.ratelimits.length === 0 ? null : html`${r.ratelimits.map((l) => html`${l.name}: ${l.remaining} of ${l.limit} left until ${l.reset}<br>`)}`,
  )}</dl>
<h3 id="json-title">As <code>POST /v1/verify</code> answered</h3><pre id="verify-json" tabindex="0" role="region" aria-labelledby="json-title">${JSON.stringify(r, null, 2)}</pre></section>
${jwtSection(asked.credential.trim(), now)}`;
}

/** A JWT's header and claims, decoded without verification (the result above is the verification). */
function jwtSection(credential: string, now: number): Html {
  const decoded = decodeJwt(credential);
  if (decoded === null) return html``;
  const exp = decoded.payload.exp;
  return html`<section aria-labelledby="jwt-title"><h2 id="jwt-title">The token, decoded</h2><p class="muted">Decoded without checking the signature: the result above is the check.</p>
<h3 id="jwt-header-title">Header</h3><pre id="jwt-header" tabindex="0" role="region" aria-labelledby="jwt-header-title">${JSON.stringify(decoded.header, null, 2)}</pre>
<h3 id="jwt-claims-title">Claims</h3>${typeof exp === 'number' ? html`<p id="jwt-expiry">${expiryInWords(exp, now)}</p>` : ''}<pre id="jwt-claims" tabindex="0" role="region" aria-labelledby="jwt-claims-title">${JSON.stringify(decoded.payload, null, 2)}</pre></section>`;
}

const STYLE = `textarea.credential{font-family:ui-monospace,monospace;font-size:.85rem;max-width:none}dl.verdict{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0 0 1rem}dl.verdict dt{font-weight:600}dl.verdict dd{margin:0}`;

function debuggerPage(reply: FastifyReply, c: ConsoleContext, input: { status: number; asked: Asked; groups: ApiGroups; result: { status: number; body: any } | null; now: number }): FastifyReply {
  const { asked, groups } = input;
  const selected = (yes: boolean): Html | '' => (yes ? new Html(' selected') : '');
  const body = html`<style>${new Html(STYLE)}</style><h1>Verify and debug a credential</h1>
<p class="lead">Paste an API key or a JWT to see what <code>POST /v1/verify</code> answers for it, as you${c.operator.tenant === null ? '' : html` (tenant ${c.operator.tenant} only)`}. A refusal is audited and counted in usage like any verify call. The credential is sent in the body of a form, never in a URL, and the page is not stored.</p>
<form class="card" method="post" action="/console/debugger">
<input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="credential">Credential</label><textarea class="credential" id="credential" name="credential" rows="5" autocomplete="off" spellcheck="false" required>${asked.credential}</textarea></div>
${apiField(groups, asked.api)}
<fieldset><legend>Required scopes</legend>
<div class="field"><label for="scopes">Scopes <span class="hint">Separated by spaces; empty to check none</span></label><input type="text" id="scopes" name="scopes" value="${asked.scopes}" autocomplete="off">${catalogHint(groups, asked.api)}</div>
<div class="field"><label for="match">The credential must hold</label><select id="match" name="match"><option value="all"${selected(asked.match === 'all')}>all of them</option><option value="any"${selected(asked.match === 'any')}>any of them</option></select></div>
</fieldset>
<details${asked.cost !== '0' || asked.ip !== '' ? new Html(' open') : ''}><summary>Credits and address</summary>
<div class="field"><label for="cost">Credits to spend <span class="hint">0 checks without spending; a key's rate limits count the call either way</span></label><input type="number" id="cost" name="cost" min="0" value="${asked.cost}"></div>
<div class="field"><label for="ip">Caller's address <span class="hint">For a key with an IP allowlist</span></label><input type="text" id="ip" name="ip" value="${asked.ip}" autocomplete="off"></div>
</details>
<div class="actions"><button class="primary" type="submit">Verify</button></div></form>
${input.result === null ? '' : resultSection(input.result, asked, input.now)}`;
  return consoleReply(reply, input.status, consolePage({ title: 'Verify and debug', c, section: 'debugger', body }));
}
