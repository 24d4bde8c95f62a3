import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { formProblem, listQuery } from './form-input.js';
import { when } from '../../portal/developer/format.js';
import { html } from '../../portal/html.js';
import { operatorForm, requireOperator, type ConsoleContext, type V1Result } from '../context.js';
import { consolePage, consoleReply, doneNotice, pager, problemBox, refused, tenantPath } from '../layout.js';

/** A user as `/v1/tenants/{slug}/users` answers it. */
interface UserView {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
  disabledAt: string | null;
  createdAt: string;
}

/** A connected app: a grant as `/v1/tenants/{slug}/users/{id}/grants` answers it. */
interface GrantView {
  id: string;
  clientId: string;
  scopes: string[];
  createdAt: string;
  lastUsedAt: string | null;
}

const DONE: Record<string, string> = {
  created: 'The user is created: they can sign in with the password you gave them.',
  updated: 'The user is saved.',
  disabled: 'The user is disabled: their sessions, refresh tokens and the access tokens of their apps stopped working, and they cannot sign in.',
  enabled: 'The user is enabled again: they can sign in. Their apps get new tokens only through a new authorization.',
  'reset-sent': 'A password-reset link is on its way to the user.',
  'grant-revoked': 'The app is disconnected: its refresh and access tokens stopped working.',
  deleted: 'The user is deleted: their sessions, apps and tokens are gone.',
};

/** What a refused reset link means, in words an operator can act on (the /v1 code decides). */
const RESET_REFUSALS: Record<string, string> = {
  PASSWORD_RESET_DISABLED:
    'No reset link was sent: this Keygate has no way to deliver one. Configure SMTP (SMTP_URL and SMTP_FROM) or the signed webhook (KEYGATE_WEBHOOK_URL and KEYGATE_WEBHOOK_SECRET), see docs/people.md.',
  USER_DISABLED: 'No reset link was sent: the user is disabled. Enable them first.',
  RESET_DELIVERY_FAILED: 'No reset link was sent: the mail server or webhook refused it. The server log says why; try again later.',
};

/**
 * The people of a tenant: list with search, create with an initial password, and a person's
 * page to disable or enable them, send a reset link, delete them (confirmed) and see and revoke
 * the apps they connected. Every read and change is a call to `/v1/tenants/{slug}/users…` as
 * the operator, so /v1 authorizes, validates and audits it; a refusal is shown as /v1 gave it
 * and changes nothing.
 *
 * @example
 * userPages(app, keygate); // in the console's plugin, beside the other pages
 */
export function userPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/tenants/:slug/users', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug } = request.params as { slug: string };
    return listPage(reply, c, slug, { status: 200, query: listQuery(request.query, ['search', 'cursor']), done: (request.query as { done?: string }).done });
  });

  app.post('/console/tenants/:slug/users', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug } = request.params as { slug: string };
    const name = (param(form, 'name') ?? '').trim();
    const result = await c.v1('POST', usersPath(slug), { email: (param(form, 'email') ?? '').trim(), password: param(form, 'password') ?? '', ...(name === '' ? {} : { name }) });
    if (result.status === 201) return reply.redirect(`${userUrl(slug, (result.body as UserView).id)}?done=created`, 303);
    if (result.status === 404) return refused(reply, c, 'users', result, slug);
    return listPage(reply, c, slug, { status: result.status, query: {}, problem: result, form });
  });

  app.get('/console/tenants/:slug/users/:id', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const { slug, id } = request.params as { slug: string; id: string };
    const { done, cursor } = request.query as { done?: string; cursor?: string };
    return detailPage(reply, c, slug, id, { status: 200, done, cursor: typeof cursor === 'string' ? cursor : '' });
  });

  app.post('/console/tenants/:slug/users/:id/update', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const name = (param(form, 'name') ?? '').trim();
    const result = await c.v1('PATCH', userPath(slug, id), { email: (param(form, 'email') ?? '').trim(), name: name === '' ? null : name });
    if (result.status === 200) return reply.redirect(`${userUrl(slug, id)}?done=updated`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, form });
  });

  for (const [verb, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    app.post(`/console/tenants/:slug/users/:id/${verb}`, { schema: { hide: true } }, async (request, reply) => {
      const posted = await operatorForm(keygate, request, reply);
      if (posted === null) return reply;
      const { c } = posted;
      const { slug, id } = request.params as { slug: string; id: string };
      const result = await c.v1('PATCH', userPath(slug, id), { disabled });
      if (result.status === 200) return reply.redirect(`${userUrl(slug, id)}?done=${verb}d`, 303);
      return detailPage(reply, c, slug, id, { status: result.status, problem: result });
    });
  }

  app.post('/console/tenants/:slug/users/:id/reset', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = await c.v1('POST', `${userPath(slug, id)}/password-reset`);
    if (result.status === 202) return reply.redirect(`${userUrl(slug, id)}?done=reset-sent`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result, explain: RESET_REFUSALS[result.body?.code] });
  });

  app.post('/console/tenants/:slug/users/:id/delete', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const { slug, id } = request.params as { slug: string; id: string };
    const result = param(form, 'confirm') === 'yes' ? await c.v1('DELETE', userPath(slug, id)) : formProblem('Tick the box to confirm the deletion.');
    if (result.status === 204) return reply.redirect(`${usersUrl(slug)}?done=deleted`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result });
  });

  app.post('/console/tenants/:slug/users/:id/grants/:grantId/revoke', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { slug, id, grantId } = request.params as { slug: string; id: string; grantId: string };
    const result = await c.v1('DELETE', `${userPath(slug, id)}/grants/${encodeURIComponent(grantId)}`);
    if (result.status === 204) return reply.redirect(`${userUrl(slug, id)}?done=grant-revoked`, 303);
    return detailPage(reply, c, slug, id, { status: result.status, problem: result });
  });
}

function usersPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/users`;
}

function userPath(slug: string, id: string): string {
  return `${usersPath(slug)}/${encodeURIComponent(id)}`;
}

function usersUrl(slug: string): string {
  return `${tenantPath(slug)}/users`;
}

function userUrl(slug: string, id: string): string {
  return `${usersUrl(slug)}/${encodeURIComponent(id)}`;
}


function status(user: UserView): string {
  return user.disabled ? `disabled since ${when(Date.parse(user.disabledAt ?? user.createdAt))}` : 'active';
}

async function listPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  options: { status: number; query: Record<string, string>; done?: string | undefined; problem?: V1Result; form?: Form },
): Promise<FastifyReply> {
  const { query, form } = options;
  const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== ''));
  const list = await c.v1('GET', `${usersPath(slug)}${search.size === 0 ? '' : `?${search.toString()}`}`);
  if (list.status !== 200) return refused(reply, c, 'users', options.problem ?? list, slug);
  const users = list.body.items as UserView[];
  const searching = (query['search'] ?? '') !== '';
  // The password is never written back into the page.
  const value = (name: 'email' | 'name'): string => form?.get(name)?.[0] ?? '';
  const body = html`<h1>Users</h1>
<p class="lead">The people of tenant <strong>${slug}</strong>: they sign in at the tenant's pages and authorize apps to act for them.</p>
${doneNotice(options.done, DONE)}${options.problem && !c.can('users:write') ? problemBox(options.problem) : ''}
<form class="filters" method="get" action="${usersUrl(slug)}" role="search" aria-label="Find users">
<div class="field"><label for="search">Email or name contains</label><input type="text" id="search" name="search" value="${query['search'] ?? ''}" maxlength="200"></div>
<div class="field"><button type="submit">Search</button>${searching ? html` <a href="${usersUrl(slug)}">Show all</a>` : ''}</div></form>
${
  users.length === 0
    ? html`<p class="muted">${searching ? 'No user matches the search.' : 'No users yet.'}</p>`
    : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="users-caption"><table><caption id="users-caption">${searching ? `Users matching “${query['search']}”` : 'Users'}</caption>
<thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
<tbody>${users.map(
        (user) => html`<tr><th scope="row"><a href="${userUrl(slug, user.id)}">${user.email}</a></th><td>${user.name ?? html`<span class="muted">none</span>`}</td><td>${status(user)}</td><td>${when(Date.parse(user.createdAt))}</td></tr>`,
      )}</tbody></table></div>`
}
${pager(usersUrl(slug), query, list.body.nextCursor)}
${
  c.can('users:write')
    ? html`<h2 id="create-heading">Create a user</h2>
<form class="card" method="post" action="${usersUrl(slug)}" aria-labelledby="create-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${options.problem ? problemBox(options.problem) : ''}
<div class="field"><label for="new-email">Email</label><input type="email" id="new-email" name="email" maxlength="320" required autocomplete="off" value="${value('email')}"></div>
<div class="field"><label for="new-name">Name <span class="hint">Optional</span></label><input type="text" id="new-name" name="name" maxlength="200" autocomplete="off" value="${value('name')}"></div>
<div class="field"><label for="new-password">Initial password <span class="hint">Tell it to the person in a safe way; they can change it with a reset link</span></label><input type="password" id="new-password" name="password" maxlength="1024" required autocomplete="new-password"></div>
<button class="primary" type="submit">Create user</button></form>`
    : ''
}`;
  return consoleReply(reply, options.status, consolePage({ title: 'Users', c, section: 'users', tenant: slug, body }));
}

/** Client names for the connected apps, when the operator may read clients; else the ids stand alone. */
async function clientNames(c: ConsoleContext, slug: string, grants: GrantView[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  if (!c.can('clients:read')) return names;
  for (const clientId of new Set(grants.map((g) => g.clientId))) {
    const got = await c.v1('GET', `/v1/tenants/${encodeURIComponent(slug)}/clients/${encodeURIComponent(clientId)}`);
    if (got.status === 200) names.set(clientId, got.body.name);
  }
  return names;
}

async function detailPage(
  reply: FastifyReply,
  c: ConsoleContext,
  slug: string,
  id: string,
  options: { status: number; done?: string | undefined; problem?: V1Result; explain?: string | undefined; cursor?: string; form?: Form },
): Promise<FastifyReply> {
  const got = await c.v1('GET', userPath(slug, id));
  if (got.status !== 200) return refused(reply, c, 'users', options.problem?.status === 404 ? options.problem : got, slug);
  if (options.problem?.status === 404) return refused(reply, c, 'users', options.problem, slug);
  const user = got.body as UserView;
  const cursor = options.cursor ?? '';
  const grantsResult = await c.v1('GET', `${userPath(slug, id)}/grants${cursor === '' ? '' : `?cursor=${encodeURIComponent(cursor)}`}`);
  const grants = grantsResult.status === 200 ? (grantsResult.body.items as GrantView[]) : [];
  const names = await clientNames(c, slug, grants);
  const canWrite = c.can('users:write');
  const label = user.email;
  // A refused change of name or email shows in its form, re-filled; any other refusal at the top.
  const inForm = options.problem !== undefined && options.form !== undefined && canWrite;
  const problem =
    options.problem && !inForm ? html`${options.explain ? html`<p class="error" role="alert">${options.explain}</p>` : problemBox(options.problem)}` : '';
  const sent = (name: 'email' | 'name', current: string | null): string => (options.form === undefined ? (current ?? '') : (options.form.get(name)?.[0] ?? ''));
  const body = html`<p class="crumbs"><a href="${usersUrl(slug)}">Users</a> › ${label}</p>
<h1>${label}</h1>
${doneNotice(options.done, DONE)}${problem}
<div class="card"><dl>
<dt>Name</dt><dd>${user.name ?? html`<span class="muted">none</span>`}</dd>
<dt>User id</dt><dd><code>${user.id}</code></dd>
<dt>Status</dt><dd>${status(user)}</dd>
<dt>Created</dt><dd>${when(Date.parse(user.createdAt))}</dd></dl>
${
  canWrite
    ? html`<div class="actions">${
        user.disabled
          ? html`<form class="inline" method="post" action="${userUrl(slug, id)}/enable"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit">Enable user</button></form>`
          : html`<form class="inline" method="post" action="${userUrl(slug, id)}/disable"><input type="hidden" name="csrf" value="${c.csrf}"><button class="danger" type="submit">Disable user</button></form>
<form class="inline" method="post" action="${userUrl(slug, id)}/reset"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit">Send password-reset link</button></form>`
      }</div>`
    : ''
}</div>
${
  canWrite
    ? html`<h2 id="edit-heading">Change name or email</h2>
<form class="card" method="post" action="${userUrl(slug, id)}/update" aria-labelledby="edit-heading"><input type="hidden" name="csrf" value="${c.csrf}">
${inForm ? problemBox(options.problem!) : ''}
<div class="field"><label for="edit-email">Email <span class="hint">Reset links sent to the old email stop working</span></label><input type="email" id="edit-email" name="email" maxlength="320" required autocomplete="off" value="${sent('email', user.email)}"></div>
<div class="field"><label for="edit-name">Name <span class="hint">Optional</span></label><input type="text" id="edit-name" name="name" maxlength="200" autocomplete="off" value="${sent('name', user.name)}"></div>
<button type="submit">Save changes</button></form>`
    : ''
}
<h2 id="apps-heading">Connected apps</h2>
<p class="muted">The apps this person authorized to act for them.</p>
${
  grantsResult.status !== 200
    ? problemBox(grantsResult)
    : grants.length === 0
      ? html`<p class="muted">${cursor === '' ? 'No connected apps.' : 'No more connected apps.'}</p>`
      : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="apps-heading"><table aria-labelledby="apps-heading"><thead><tr><th scope="col">App</th><th scope="col">Scopes</th><th scope="col">Authorized</th><th scope="col">Last used</th>${
          canWrite ? html`<th scope="col">Actions</th>` : ''
        }</tr></thead><tbody>${grants.map((grant) => {
          const app = names.get(grant.clientId) ?? grant.clientId;
          return html`<tr><th scope="row">${names.has(grant.clientId) ? html`<a href="${tenantPath(slug)}/clients/${encodeURIComponent(grant.clientId)}">${app}</a><br><code>${grant.clientId}</code>` : html`<code>${grant.clientId}</code>`}</th>
<td>${grant.scopes.map((s) => html`<code>${s}</code> `)}</td><td>${when(Date.parse(grant.createdAt))}</td><td>${when(grant.lastUsedAt === null ? null : Date.parse(grant.lastUsedAt))}</td>${
            canWrite
              ? html`<td><form class="inline" method="post" action="${userUrl(slug, id)}/grants/${encodeURIComponent(grant.id)}/revoke"><input type="hidden" name="csrf" value="${c.csrf}"><button class="danger" type="submit">Revoke<span class="visually-hidden"> ${app}</span></button></form></td>`
              : ''
          }</tr>`;
        })}</tbody></table></div>`
}
${grantsResult.status === 200 ? pager(userUrl(slug, id), {}, grantsResult.body.nextCursor) : ''}
${
  canWrite
    ? html`<h2 id="delete-heading">Delete the user</h2>
<form class="card" method="post" action="${userUrl(slug, id)}/delete" aria-labelledby="delete-heading"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="check"><input type="checkbox" id="delete-confirm" name="confirm" value="yes" required><label for="delete-confirm">Delete ${label}: their sessions end, their apps are disconnected and the apps' tokens stop working. This cannot be undone.</label></div>
<button class="danger" type="submit">Delete user</button></form>`
    : ''
}`;
  return consoleReply(reply, options.status, consolePage({ title: label, c, section: 'users', tenant: slug, body }));
}
