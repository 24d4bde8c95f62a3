import type { FastifyInstance, FastifyReply } from 'fastify';
import { KeygateError } from '../../../domain/errors.js';
import type { ApiKey } from '../../../domain/keys/key.js';
import type { GrantDetails } from '../../../services/consumers-service.js';
import type { Actor } from '../../../services/context.js';
import type { IssuedKey, KeyWithApi } from '../../../services/keys-service.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { html, type Html } from '../html.js';
import { assetUrl } from './assets.js';
import { KEY_ID, keyStatus, refusalText, when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { consumerKeys, memberForm, requireMember, shellOf, type MemberContext } from './member.js';

const PAGE_SIZE = 50;
const DAY_MS = 86_400_000;

/** Grace periods a member may pick when rolling a key: how long the old secret keeps working. */
const GRACE_PERIODS: readonly { ms: number; label: string }[] = [
  { ms: 0, label: 'none: the old secret stops now' },
  { ms: 3_600_000, label: '1 hour' },
  { ms: DAY_MS, label: '24 hours' },
  { ms: 7 * DAY_MS, label: '7 days' },
];

/**
 * The keys page: the consumer's keys, and a member's create, roll, revoke and sub-key actions.
 * Each action is one ConsumersService member method (the same the management API's consumer
 * routes and the service tests use), which checks membership and that the key is the consumer's;
 * a refusal is shown in words and changes nothing. A secret appears only in the answer to the
 * POST that made it (no-store), never in a URL.
 */
export function keysRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal/keys', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const query = request.query as { after?: string; done?: string };
    const after = query.after !== undefined && KEY_ID.test(query.after) ? query.after : null;
    const notice = query.done === 'revoked' ? 'The key and its sub-keys are revoked: they stop working at once.' : undefined;
    return keysPage(keygate, reply, member, { status: 200, after, notice });
  });

  app.post('/t/:slug/portal/keys', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form } = posted;
    return issue(keygate, reply, member, {
      title: 'Your new key',
      call: async () => {
        const input = keyInput(form);
        const api = param(form, 'api') ?? '';
        return keygate.consumers.createKey(actorOf(member, request), member.tenant, member.consumer.consumer.id, member.user.id, { api, ...input });
      },
      refused: (error) => keysPage(keygate, reply, member, { status: error.status, error: refusalText(error) }),
    });
  });

  app.post('/t/:slug/portal/keys/:keyId/roll', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form } = posted;
    const { keyId } = request.params as { keyId: string };
    return issue(keygate, reply, member, {
      title: 'The key’s new secret',
      call: async () => {
        const grace = Number(param(form, 'grace') ?? '');
        if (!GRACE_PERIODS.some((g) => g.ms === grace)) throw new KeygateError('INVALID_REQUEST', 'pick one of the grace periods offered');
        return keygate.consumers.rollKey(actorOf(member, request), member.tenant, member.consumer.consumer.id, member.user.id, keyId, grace);
      },
      refused: (error) => keysPage(keygate, reply, member, { status: error.status, error: refusalText(error) }),
    });
  });

  app.post('/t/:slug/portal/keys/:keyId/revoke', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member } = posted;
    const { keyId } = request.params as { keyId: string };
    try {
      await keygate.consumers.revokeKey(actorOf(member, request), member.tenant, member.consumer.consumer.id, member.user.id, keyId);
    } catch (err) {
      if (!(err instanceof KeygateError)) throw err;
      return keysPage(keygate, reply, member, { status: err.status, error: refusalText(err) });
    }
    return reply.redirect(`${member.portal}/keys?done=revoked`, 303);
  });

  app.get('/t/:slug/portal/keys/:keyId/subkey', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    const parent = await consumerKey(keygate, member, (request.params as { keyId: string }).keyId);
    if (parent === null) return keysPage(keygate, reply, member, { status: 404, error: refusalText(new KeygateError('KEY_NOT_FOUND', '')) });
    return subkeyPage(reply, member, parent, { status: 200 });
  });

  app.post('/t/:slug/portal/keys/:keyId/subkey', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const { member, form } = posted;
    const { keyId } = request.params as { keyId: string };
    return issue(keygate, reply, member, {
      title: 'Your new sub-key',
      call: async () => {
        const { scopes, expiresAt, name } = keyInput(form);
        return keygate.consumers.createSubkey(actorOf(member, request), member.tenant, member.consumer.consumer.id, member.user.id, keyId, { scopes, expiresAt, name });
      },
      refused: async (error) => {
        const parent = await consumerKey(keygate, member, keyId);
        const shown = { status: error.status, error: refusalText(error) };
        return parent === null ? keysPage(keygate, reply, member, shown) : subkeyPage(reply, member, parent, shown);
      },
    });
  });
}

function actorOf(member: MemberContext, request: { id: string; ip: string }): Actor {
  return { id: member.user.id, requestId: request.id, ip: request.ip };
}

/** Runs a call that issues a secret: the secret page titled `title`, or `refused`'s page when the service said no. */
async function issue(
  keygate: Keygate,
  reply: FastifyReply,
  member: MemberContext,
  options: { title: string; call: () => Promise<IssuedKey>; refused: (error: KeygateError) => Promise<FastifyReply> | FastifyReply },
): Promise<FastifyReply> {
  const { title, call, refused } = options;
  let issued: IssuedKey;
  try {
    issued = await call();
  } catch (err) {
    if (!(err instanceof KeygateError)) throw err;
    return refused(err);
  }
  return developerReply(reply, 201, developerPage({ ...shellOf(member), title, active: 'keys', scripts: [assetUrl(member.tenant.slug, 'copy.js')], body: secretBody(member, issued, title, keygate.clock()) }));
}

/** The fields of the create and sub-key forms, checked before any service call. */
function keyInput(form: Form): { name: string | null; scopes: string[]; expiresAt: number | undefined; ipAllowlist: string[] | null } {
  const name = (param(form, 'name') ?? '').trim();
  if (name.length > 100) throw new KeygateError('INVALID_REQUEST', 'the name is at most 100 characters');
  const scopes = form.get('scope') ?? [];
  if (scopes.length === 0) throw new KeygateError('INVALID_REQUEST', 'tick at least one scope');
  const expires = (param(form, 'expires') ?? '').trim();
  let expiresAt: number | undefined;
  if (expires !== '') {
    expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(expires) ? Date.parse(`${expires}T23:59:59.999Z`) : Number.NaN;
    if (Number.isNaN(expiresAt)) throw new KeygateError('INVALID_REQUEST', 'the expiry must be a date such as 2027-01-31');
  }
  const ips = (param(form, 'ips') ?? '').split(/[\s,]+/).filter((ip) => ip !== '');
  return { name: name === '' ? null : name, scopes, expiresAt, ipAllowlist: ips.length === 0 ? null : ips };
}

/** One key of the member's consumer, or null: ConsumersService lists only the keys under its grants. */
async function consumerKey(keygate: Keygate, member: MemberContext, keyId: string): Promise<KeyWithApi | null> {
  return (await consumerKeys(keygate, member)).find((k) => k.key.id === keyId) ?? null;
}

async function keysPage(keygate: Keygate, reply: FastifyReply, member: MemberContext, options: { status: number; after?: string | null; error?: string; notice?: string }): Promise<FastifyReply> {
  const page = await keygate.consumers.listKeys(member.tenant, member.consumer.consumer.id, { after: options.after ?? null, limit: PAGE_SIZE });
  const now = keygate.clock();
  const body = html`<h1>Keys</h1><p class="lead">The API keys of ${member.consumer.consumer.name}. A key can hold at most what your consumer was granted.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
<h2 id="keys-heading">Your keys</h2>
${page.items.length === 0 ? html`<p class="muted">No keys yet: create one below.</p>` : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="keys-heading"><table aria-labelledby="keys-heading"><thead><tr><th scope="col">Name</th><th scope="col">Starts with</th><th scope="col">Scopes</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead><tbody>${page.items.map((k) => keyRow(member, k, now))}</tbody></table></div>`}
${page.next !== null ? html`<p><a href="${member.portal}/keys?after=${page.next}">Next page of keys</a></p>` : ''}
<h2>Create a key</h2>
${member.consumer.grants.length === 0 ? html`<p class="muted">Your consumer holds no grant yet, so no key can be created.</p>` : member.consumer.grants.map((g) => createForm(member, g))}`;
  return developerReply(reply, options.status, developerPage({ ...shellOf(member), title: 'Keys', active: 'keys', body }));
}

function keyRow(member: MemberContext, { key, api }: KeyWithApi, now: number): Html {
  const status = keyStatus(key, now);
  const label = key.name ?? key.start;
  const actions =
    status === 'revoked'
      ? html`<span class="muted">none</span>`
      : html`<details><summary>Roll<span class="visually-hidden"> ${label}</span></summary><form method="post" action="${member.portal}/keys/${key.id}/roll"><input type="hidden" name="csrf" value="${member.csrf}">
<div class="field"><label for="grace-${key.id}">Old secret keeps working for</label><select id="grace-${key.id}" name="grace">${GRACE_PERIODS.map((g) => html`<option value="${g.ms}">${g.label}</option>`)}</select></div>
<button type="submit">Roll ${label}</button></form></details>
<a href="${member.portal}/keys/${key.id}/subkey">New sub-key<span class="visually-hidden"> of ${label}</span></a>
<form class="inline" method="post" action="${member.portal}/keys/${key.id}/revoke"><input type="hidden" name="csrf" value="${member.csrf}"><button class="danger" type="submit">Revoke<span class="visually-hidden"> ${label}</span></button></form>`;
  return html`<tr><td>${key.name ?? html`<span class="muted">unnamed</span>`}<br><span class="muted">${api.name}${key.parentId !== null && !isGrantChild(member, key) ? ' · sub-key' : ''}</span></td>
<td><code>${key.start}</code></td><td>${key.scopes.map((s) => html`<code>${s}</code> `)}</td><td>${when(key.expiresAt)}</td><td>${when(key.lastUsedAt)}</td><td>${status}</td><td>${actions}</td></tr>`;
}

function isGrantChild(member: MemberContext, key: ApiKey): boolean {
  return member.consumer.grants.some((g) => g.key.id === key.parentId);
}

function scopeBoxes(prefix: string, scopes: readonly string[], descriptions: ReadonlyMap<string, string>): Html {
  return html`${scopes.map(
    (scope, i) => html`<div class="check"><input type="checkbox" id="${prefix}-scope-${i}" name="scope" value="${scope}" aria-describedby="${prefix}-scope-${i}-desc">
<label for="${prefix}-scope-${i}"><code>${scope}</code><span class="hint" id="${prefix}-scope-${i}-desc">${descriptions.get(scope) || 'No description'}</span></label></div>`,
  )}`;
}

function createForm(member: MemberContext, grant: GrantDetails): Html {
  const id = `new-${grant.api.id}`;
  const descriptions = new Map(grant.api.scopes.map((s) => [s.name, s.description]));
  return html`<form class="card" method="post" action="${member.portal}/keys" aria-labelledby="${id}-title"><input type="hidden" name="csrf" value="${member.csrf}"><input type="hidden" name="api" value="${grant.api.id}">
<h3 id="${id}-title">New key for ${grant.api.name}</h3>
<div class="field"><label for="${id}-name">Name <span class="hint">So you recognise it later, e.g. “CI” or “billing job”</span></label><input type="text" id="${id}-name" name="name" maxlength="100"></div>
<fieldset><legend>Scopes <span class="hint">What the key may do: at most what ${member.consumer.consumer.name} was granted</span></legend>${scopeBoxes(id, grant.key.scopes, descriptions)}</fieldset>
<div class="field"><label for="${id}-expires">Expires at the end of <span class="hint">A UTC date; empty: ${grant.key.expiresAt === null ? 'never' : `with your grant, ${when(grant.key.expiresAt)}`}</span></label><input type="date" id="${id}-expires" name="expires"></div>
<div class="field"><label for="${id}-ips">Allowed IP addresses <span class="hint">Addresses or CIDR ranges, one per line; empty: any address</span></label><textarea id="${id}-ips" name="ips" rows="2"></textarea></div>
<button class="primary" type="submit">Create key</button></form>`;
}

function subkeyPage(reply: FastifyReply, member: MemberContext, parent: KeyWithApi, options: { status: number; error?: string }): FastifyReply {
  const descriptions = new Map(parent.api.scopes.map((s) => [s.name, s.description]));
  const label = parent.key.name ?? parent.key.start;
  const body = html`<h1>New sub-key of ${label}</h1><p class="lead">A sub-key holds some of its parent's scopes, cannot outlive it, and is revoked with it.</p>
${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
<form class="card" method="post" action="${member.portal}/keys/${parent.key.id}/subkey"><input type="hidden" name="csrf" value="${member.csrf}">
<div class="field"><label for="sub-name">Name</label><input type="text" id="sub-name" name="name" maxlength="100"></div>
<fieldset><legend>Scopes <span class="hint">At most those of ${label}</span></legend>${scopeBoxes('sub', parent.key.scopes, descriptions)}</fieldset>
<div class="field"><label for="sub-expires">Expires at the end of <span class="hint">A UTC date; empty: with ${label}, ${when(parent.key.expiresAt)}</span></label><input type="date" id="sub-expires" name="expires"></div>
<div class="actions"><button class="primary" type="submit">Create sub-key</button><a href="${member.portal}/keys">Back to keys</a></div></form>`;
  return developerReply(reply, options.status, developerPage({ ...shellOf(member), title: `New sub-key of ${label}`, active: 'keys', body }));
}

function secretBody(member: MemberContext, issued: IssuedKey, title: string, now: number): Html {
  const { key, api, secret } = issued;
  return html`<h1>${title}</h1>
<div class="card"><p class="warn" role="alert">Copy this key now. You won't see it again: Keygate keeps only a hash of it.</p>
<div class="secret"><label for="secret">Secret key for ${api.name}</label><input type="text" id="secret" value="${secret}" readonly autocomplete="off" spellcheck="false" size="48">
<button type="button" data-copy="secret" hidden>Copy key</button><span id="secret-status" role="status" aria-live="polite"></span></div>
<p>Send it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<p>Name: ${key.name ?? 'unnamed'} · scopes: ${key.scopes.map((s) => html`<code>${s}</code> `)}· expires: ${when(key.expiresAt)} · status: ${keyStatus(key, now)}</p></div>
<p><a href="${member.portal}/keys">Back to keys</a></p>`;
}
