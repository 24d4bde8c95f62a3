import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Api } from '../../../domain/apis.js';
import { KeygateError } from '../../../domain/errors.js';
import type { ApiDoc, OperationDoc, TryValues } from '../../../domain/gateway/explorer.js';
import type { Requirement } from '../../../domain/gateway/routes.js';
import { expandScopes } from '../../../domain/scopes.js';
import type { TryOutcome } from '../../../services/api-explorer-service.js';
import { MAX_MINTED_TOKEN_TTL_SEC, MINT_LIMIT, type GrantDetails, type MintedToken } from '../../../services/consumers-service.js';
import type { Actor } from '../../../services/context.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { Html, html } from '../html.js';
import { assetUrl } from './assets.js';
import { when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { memberForm, requireMember, shellOf, type MemberContext } from './member.js';

/** What a POST left for one operation of the page: a token, an answer, or why not. */
export interface OperationState {
  index: number;
  minted?: MintedToken;
  token?: string;
  tried?: TryOutcome;
  error?: string;
  /** The try form's values as posted, to fill it in again. */
  form?: Form;
}

const STYLE = `.op h3{font-size:1.05rem;margin:0 0 .5rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:baseline}
.method{display:inline-block;min-width:4.5rem;text-align:center;font:700 .85rem ui-monospace,monospace;padding:.15rem .4rem;border-radius:6px;border:1px solid var(--ink)}
.req{margin:.5rem 0}.req ul{margin:.25rem 0;padding-left:1.25rem}.outside{color:var(--warn);font-weight:600}
pre{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.75rem;overflow:auto;max-height:28rem;white-space:pre-wrap;overflow-wrap:anywhere}
textarea.token{font-family:ui-monospace,monospace;font-size:.85rem}`;

/**
 * The API explorer (docs/portal.md): the APIs the member's consumer holds a grant on, and for
 * each its OpenAPI document, every operation with its requirement marked against the grant. "Get
 * a token" mints through `ConsumersService.mintToken`; "Try it" (try-it.ts) sends through the
 * gateway. Both work as plain form posts (the answer is the page again, no-store) and, with
 * explorer.js, in place; a token is only ever in a POST body and in the page.
 */
export function explorerRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal/apis', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const rows = await Promise.all(
      member.consumer.grants.map(async (grant) => {
        const doc = await keygate.explorer.describe(grant.api);
        return html`<li><a href="${member.portal}/apis/${grant.api.id}">${grant.api.name}</a> <span class="muted">${grant.api.identifier} · ${doc === null ? 'no OpenAPI document yet' : `${doc.operations.length} operation${doc.operations.length === 1 ? '' : 's'}`}</span></li>`;
      }),
    );
    return developerReply(
      reply,
      200,
      developerPage({
        ...shellOf(member),
        title: 'APIs',
        active: 'apis',
        body: html`<h1>APIs</h1><p class="lead">The APIs ${member.consumer.consumer.name} holds a grant on. Open one to read its operations, get a short-lived token for one and try it.</p>
${rows.length > 0 ? html`<ul>${rows}</ul>` : html`<p class="muted">No API is granted to ${member.consumer.consumer.name} yet.</p>`}
<p><a href="${member.portal}/debugger">Token debugger</a>: decode a token and check it against ${member.tenant.name}'s keys.</p>`,
      }),
    );
  });

  app.get('/t/:slug/portal/apis/:api', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const grant = grantOf(member, request);
    if (grant === null) return notGranted(reply, member);
    return explorerPage(keygate, reply, member, grant, 200, null);
  });

  app.post('/t/:slug/portal/apis/:api/token', { schema: { hide: true } }, async (request, reply) => {
    const posted = await grantForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form, grant } = posted;
    const index = operationIndex(form);
    if ((await keygate.explorer.describe(grant.api))?.operations[index] === undefined) {
      const error = 'Refused: the API declares no such operation.';
      return wantsJson(request) ? reply.code(400).header('cache-control', 'no-store').send({ error }) : explorerPage(keygate, reply, member, grant, 400, { index, error });
    }
    try {
      const minted = await keygate.consumers.mintToken(actorOf(member, request), member.tenant, member.consumer.consumer.id, member.user.id, {
        api: grant.api.id,
        scopes: form.get('scope') ?? [],
        ttlSeconds: ttlOf(form),
      });
      if (wantsJson(request)) return reply.code(201).header('cache-control', 'no-store').send({ token: minted.token, scopes: minted.scopes, expiresAt: new Date(minted.expiresAt).toISOString() });
      return explorerPage(keygate, reply, member, grant, 201, { index, minted, token: minted.token });
    } catch (err) {
      if (!(err instanceof KeygateError)) throw err;
      const error = mintRefusalText(err);
      if (wantsJson(request)) return reply.code(err.status).header('cache-control', 'no-store').send({ error });
      return explorerPage(keygate, reply, member, grant, err.status, { index, error });
    }
  });

  app.post('/t/:slug/portal/apis/:api/try', { schema: { hide: true } }, async (request, reply) => {
    const posted = await grantForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form, grant } = posted;
    const index = operationIndex(form);
    const token = (param(form, 'token') ?? '').trim();
    const tried = await keygate.explorer.tryOperation(grant.api, index, token === '' ? null : token, tryValues(form));
    const status = tried.kind === 'answered' ? 200 : tried.kind === 'refused' ? 400 : 503;
    if (wantsJson(request)) return reply.code(status).header('cache-control', 'no-store').send(tried);
    return explorerPage(keygate, reply, member, grant, status, { index, tried, token, form });
  });
}

/** The try form's values: `path.{name}`, `query.{name}`, `header.{name}`, `body`, `contentType`; which are used is the operation's to say. */
function tryValues(form: Form): TryValues {
  const values = { path: new Map<string, string>(), query: new Map<string, string>(), header: new Map<string, string>() };
  for (const [name, list] of form) {
    const dot = name.indexOf('.');
    const location = name.slice(0, dot);
    if (dot > 0 && (location === 'path' || location === 'query' || location === 'header')) values[location].set(name.slice(dot + 1), list[0] ?? '');
  }
  return { ...values, body: param(form, 'body') ?? null, contentType: param(form, 'contentType') ?? null };
}

function wantsJson(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('application/json');
}

function actorOf(member: MemberContext, request: { id: string; ip: string }): Actor {
  return { id: member.user.id, requestId: request.id, ip: request.ip };
}

/** The grant of the API the path names, among the member's consumer's grants only. */
function grantOf(member: MemberContext, request: FastifyRequest): GrantDetails | null {
  const { api } = request.params as { api: string };
  return member.consumer.grants.find((g) => g.api.id === api) ?? null;
}

/** A member's checked form posted to one of its grant's APIs; null once the refusal is sent (no member, no CSRF, no grant). */
async function grantForm(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<{ member: MemberContext; form: Form; grant: GrantDetails } | null> {
  const posted = await memberForm(keygate, request, reply);
  if (posted === null) return null;
  const grant = grantOf(posted.member, request);
  if (grant !== null) return { ...posted, grant };
  if (wantsJson(request)) void reply.code(404).send({ error: 'Your consumer holds no grant on that API.' });
  else void notGranted(reply, posted.member);
  return null;
}

function notGranted(reply: FastifyReply, member: MemberContext): FastifyReply {
  return developerReply(
    reply,
    404,
    developerPage({ ...shellOf(member), title: 'No such API', active: 'apis', body: html`<h1>No such API</h1><p class="error" role="alert">Your consumer holds no grant on that API.</p><p><a href="${member.portal}/apis">Your APIs</a></p>` }),
  );
}

function operationIndex(form: Form): number {
  const index = Number(param(form, 'op') ?? '');
  return Number.isSafeInteger(index) && index >= 0 ? index : -1;
}

/** Minutes in the form; anything but a whole number of minutes goes to the service as is, to be refused there. */
function ttlOf(form: Form): number {
  const minutes = (param(form, 'ttl') ?? '').trim();
  return minutes === '' ? MAX_MINTED_TOKEN_TTL_SEC : /^\d{1,4}$/.test(minutes) ? Number(minutes) * 60 : Number.NaN;
}

function mintRefusalText(err: KeygateError): string {
  const quoted = /"([^"]+)"$/.exec(err.message)?.[1];
  switch (err.code) {
    case 'SCOPE_NOT_ALLOWED':
      return `Refused: your consumer's grant does not hold “${quoted ?? 'that scope'}”, so no token of yours can.`;
    case 'UNKNOWN_SCOPE':
      return `Refused: ${err.message}.`;
    case 'INVALID_REQUEST':
      return `Refused: the lifetime must be a whole number of minutes from 1 to ${MAX_MINTED_TOKEN_TTL_SEC / 60}.`;
    case 'KEY_CANNOT_MINT':
      return `Refused: ${err.message}.`;
    case 'TOKEN_MINT_LIMIT_REACHED':
      return `Refused: your consumer got ${MINT_LIMIT.limit} tokens in the last minute. Try again shortly.`;
    case 'API_NOT_GRANTED':
    case 'API_NOT_FOUND':
      return 'Refused: your consumer holds no grant on that API.';
    case 'NOT_A_MEMBER':
      return 'Refused: you are no longer a member of this consumer.';
    case 'GRANT_IS_METERED':
      return "Refused: your consumer's grant on this API has rate limits or credits, which a token's requests would escape. Try the operation with one of your keys instead: paste it in the token field.";
    default:
      return `Refused: ${err.message}.`;
  }
}

async function explorerPage(keygate: Keygate, reply: FastifyReply, member: MemberContext, grant: GrantDetails, status: number, state: OperationState | null): Promise<FastifyReply> {
  const { api } = grant;
  const doc = await keygate.explorer.describe(api);
  const held = expandScopes(grant.key.scopes, api.scopes);
  const base = `${member.portal}/apis/${api.id}`;
  // A post naming no operation of the document (a forged form): its refusal goes at the top.
  const stray = state === null || doc?.operations[state.index] !== undefined ? null : (state.error ?? (state.tried?.kind === 'answered' ? null : state.tried?.message) ?? null);
  const body =
    doc === null
      ? html`<h1>${api.name}</h1><p class="lead">${api.identifier}</p><p class="muted">The API owner has not published an OpenAPI document for this API yet.</p>`
      : html`<style>${new Html(STYLE)}</style><h1>${doc.title || api.name}</h1>
<p class="lead">${api.identifier}${doc.version ? ` · version ${doc.version}` : ''}</p>${doc.description ? html`<p>${doc.description}</p>` : ''}
${stray === null ? '' : html`<p class="error" role="alert">${stray}</p>`}
<p>Your grant: ${grant.key.scopes.map((s) => html`<code>${s}</code> `)}· <a href="${member.portal}/debugger">Token debugger</a></p>
${keygate.config.gatewayPort === undefined ? html`<p class="notice" role="note">Try it is off here: Keygate runs no gateway (GATEWAY_PORT is not set). You can still get tokens.</p>` : ''}
${groupByPath(doc).map(
  ([path, operations]) => html`<section aria-labelledby="path-${operations[0]!.index}"><h2 id="path-${operations[0]!.index}"><code>${doc.basePath}${path}</code></h2>
${operations.map(({ op, index }) => operationCard({ member, api, base, held, op, index, state: state?.index === index ? state : null }))}</section>`,
)}`;
  return developerReply(
    reply,
    status,
    developerPage({ ...shellOf(member), title: api.name, active: 'apis', scripts: [assetUrl(member.tenant.slug, 'explorer.js')], body }),
  );
}

function groupByPath(doc: ApiDoc): [string, { op: OperationDoc; index: number }[]][] {
  const groups = new Map<string, { op: OperationDoc; index: number }[]>();
  doc.operations.forEach((op, index) => {
    const list = groups.get(op.operation.path) ?? [];
    list.push({ op, index });
    groups.set(op.operation.path, list);
  });
  return [...groups];
}

/** The operation's requirement in words, each alternative marked when the grant does not cover it. */
function requirementText(requirement: Requirement, held: ReadonlySet<string>): Html {
  if (requirement.public) return html`<p class="req"><strong>Public:</strong> no token needed.</p>`;
  if (requirement.anyOf.length === 1 && requirement.anyOf[0]!.length === 0) return html`<p class="req"><strong>Requires</strong> any valid token or key of this API, no particular scope.</p>`;
  const alternatives = requirement.anyOf.map((scopes) => {
    const covered = scopes.every((s) => held.has(s));
    return html`<li>${scopes.map((s, i) => html`${i > 0 ? ' and ' : ''}<code>${s}</code>`)}${covered ? '' : html` <span class="outside">(not within your grant)</span>`}</li>`;
  });
  return html`<div class="req"><strong>Requires</strong> ${requirement.anyOf.length > 1 ? 'one of:' : ''}<ul>${alternatives}</ul></div>`;
}

function operationCard(input: { member: MemberContext; api: Api; base: string; held: ReadonlySet<string>; op: OperationDoc; index: number; state: OperationState | null }): Html {
  const { member, api, base, held, op, index, state } = input;
  const { operation } = op;
  const id = `op-${index}`;
  const preferred = operation.requirement.public ? [] : (operation.requirement.anyOf.find((scopes) => scopes.every((s) => held.has(s))) ?? []);
  const ticked = new Set(state?.minted?.scopes ?? preferred);
  const descriptions = new Map(api.scopes.map((s) => [s.name, s.description]));
  const required = new Set(operation.requirement.anyOf.flat());
  const grantScopes = [...held].sort();
  const posted = (name: string): string => (state?.form === undefined ? '' : (state.form.get(name)?.[0] ?? ''));
  const parameters = op.parameters.map((p) => {
    const field = `${id}-${p.in}-${p.name}`;
    return html`<div class="field"><label for="${field}">${p.name} <span class="hint">${p.in}${p.type ? `, ${p.type}` : ''}${p.required ? ', required' : ''}${p.description ? ` — ${p.description}` : ''}</span></label>
<input type="text" id="${field}" name="${p.in}.${p.name}" value="${posted(`${p.in}.${p.name}`)}"${p.required ? new Html(' required') : ''}></div>`;
  });
  const table = op.parameters.length === 0
    ? ''
    : html`<div class="table-wrap" tabindex="0" role="region" aria-label="Parameters of ${operation.method} ${operation.path}"><table><caption>Parameters</caption><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">Required</th><th scope="col">Description</th></tr></thead>
<tbody>${op.parameters.map((p) => html`<tr><td><code>${p.name}</code></td><td>${p.in}</td><td>${p.type ?? ''}</td><td>${p.required ? 'yes' : 'no'}</td><td>${p.description}</td></tr>`)}</tbody></table></div>`;
  const token = state?.token ?? '';
  return html`<article class="card op" id="${id}" aria-labelledby="${id}-title">
<h3 id="${id}-title"><span class="method">${operation.method}</span> <code>${operation.path}</code>${op.summary ? html` <span>${op.summary}</span>` : ''}</h3>
${op.deprecated ? html`<p class="warn">Deprecated</p>` : ''}${op.description ? html`<p class="muted">${op.description}</p>` : ''}
${requirementText(operation.requirement, held)}${table}
<details${state !== null ? new Html(' open') : ''}><summary>Get a token and try it</summary>
<form class="mint" method="post" action="${base}/token#${id}" data-op="${index}">
<input type="hidden" name="csrf" value="${member.csrf}"><input type="hidden" name="op" value="${index}">
<fieldset><legend>Scopes for the token</legend>${grantScopes.map(
    (scope, i) => html`<div class="check"><input type="checkbox" id="${id}-scope-${i}" name="scope" value="${scope}"${ticked.has(scope) ? new Html(' checked') : ''}>
<label for="${id}-scope-${i}"><code>${scope}</code>${required.has(scope) ? ' (this operation asks for it)' : ''}<span class="hint">${descriptions.get(scope) ?? ''}</span></label></div>`,
  )}</fieldset>
<div class="field"><label for="${id}-ttl">Lifetime in minutes <span class="hint">1 to ${MAX_MINTED_TOKEN_TTL_SEC / 60}</span></label><input type="number" id="${id}-ttl" name="ttl" min="1" max="${MAX_MINTED_TOKEN_TTL_SEC / 60}" value="${MAX_MINTED_TOKEN_TTL_SEC / 60}"></div>
<button class="primary" type="submit">Get a token for this operation</button></form>
<div id="${id}-minted" role="status">${state?.minted ? html`<p class="notice">A token for ${state.minted.scopes.join(' ') || 'no scope'}, valid until ${when(state.minted.expiresAt)}. It is filled in below; it is shown only on this page.</p>` : ''}${state?.error ? html`<p class="error">${state.error}</p>` : ''}</div>
<form class="try" method="post" action="${base}/try#${id}" data-op="${index}">
<input type="hidden" name="csrf" value="${member.csrf}"><input type="hidden" name="op" value="${index}">
<div class="field"><label for="${id}-token">Token <span class="hint">Sent as Authorization: Bearer${operation.requirement.public ? '; not needed here' : ''}.</span></label><textarea class="token" id="${id}-token" name="token" rows="3" autocomplete="off" spellcheck="false">${token}</textarea></div>
${parameters}
${op.body === null ? '' : html`<div class="field"><label for="${id}-type">Body type</label><select id="${id}-type" name="contentType">${op.body.contentTypes.map((t) => html`<option${posted('contentType') === t ? new Html(' selected') : ''}>${t}</option>`)}</select></div>
<div class="field"><label for="${id}-body">Body${op.body.required ? ' (required)' : ''}</label><textarea id="${id}-body" name="body" rows="6" spellcheck="false">${posted('body')}</textarea></div>`}
<button type="submit">Try it</button></form>
<div id="${id}-result" class="result">${state?.tried ? tryResult(state.tried) : ''}</div>
<form class="inspect" method="post" action="${member.portal}/debugger"${token === '' ? new Html(' hidden') : ''}><input type="hidden" name="csrf" value="${member.csrf}"><input type="hidden" name="token" value="${token}"><button type="submit">Inspect this token in the debugger</button></form>
</details></article>`;
}

/** What came back through the gateway, every value escaped; the script renders the same from JSON. */
function tryResult(outcome: TryOutcome): Html {
  if (outcome.kind !== 'answered') return html`<p class="error" role="alert">${outcome.message}</p>`;
  return html`<h4 tabindex="-1">Response: ${outcome.status} ${outcome.statusText}</h4>
<details><summary>Headers (${outcome.headers.length})</summary><div class="table-wrap" tabindex="0" role="region" aria-label="Response headers"><table><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>${outcome.headers.map(([name, value]) => html`<tr><td><code>${name}</code></td><td><code>${value}</code></td></tr>`)}</tbody></table></div></details>
${outcome.body === '' ? html`<p class="muted">No body.</p>` : html`<pre tabindex="0" role="region" aria-label="Response body"><code>${outcome.body}</code></pre>`}${outcome.truncated ? html`<p class="muted">The body was cut off after 256 KiB.</p>` : ''}`;
}
