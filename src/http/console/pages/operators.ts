import type { FastifyInstance } from 'fastify';
import { MANAGEMENT_SCOPES } from '../../../domain/management.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../../oauth/form.js';
import { html, type Html } from '../../portal/html.js';
import { when } from '../../portal/developer/format.js';
import { operatorForm, requireOperator, type ConsoleContext } from '../context.js';
import { consoleAsset, consolePage, consoleReply, doneNotice, pager, problemBox, refused, secretField } from '../layout.js';

interface OperatorView {
  id: string;
  email: string;
  name: string | null;
  scopes: string[];
  tenant: string | null;
  createdAt: string;
  disabledAt: string | null;
}

const OPERATOR_ID = /^usr_[0-9a-f]{12}[0-9A-Za-z]{16}$/;

const DONE: Record<string, string> = { disabled: 'The operator is disabled: their sessions have ended.', enabled: 'The operator may sign in again.', deleted: 'The operator is deleted.' };

/**
 * `/console/operators`: the operators the signed-in operator could have created (the root keys'
 * rule, decided by /v1/operators), new ones with a password shown once, and disabling, password
 * resets and deletion.
 */
export function operatorPages(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/operators', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const query = request.query as { cursor?: string; done?: string };
    const cursor = typeof query.cursor === 'string' ? query.cursor : '';
    const result = await c.v1('GET', `/v1/operators?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (result.status !== 200) return refused(reply, c, 'operators', result);
    const body = html`<h1>Operators</h1><p class="lead">People who sign in to this console. You see the operators you could have created yourself: their scopes are among yours${
      c.operator.tenant === null ? '' : html`, and they are limited to tenant <strong>${c.operator.tenant}</strong>`
    }.</p>${doneNotice(query.done, DONE)}${listOf(result.body.items)}${pager('/console/operators', {}, result.body.nextCursor)}${c.can('root_keys:write') ? createForm(c) : ''}`;
    return consoleReply(reply, 200, consolePage({ title: 'Operators', c, section: 'operators', body }));
  });

  app.post('/console/operators', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c, form } = posted;
    const tenant = param(form, 'tenant')?.trim() ?? '';
    const name = param(form, 'name')?.trim() ?? '';
    const input = { email: param(form, 'email') ?? '', scopes: form.get('scope') ?? [], ...(tenant ? { tenant } : {}), ...(name ? { name } : {}) };
    const result = await c.v1('POST', '/v1/operators', input);
    if (result.status !== 201) {
      const page = consolePage({ title: 'Operators', c, section: 'operators', body: html`<h1>New operator</h1>${problemBox(result)}${createForm(c, form)}` });
      return consoleReply(reply, result.status === 403 || result.status === 404 ? result.status : 400, page);
    }
    const created = result.body as OperatorView & { password: string };
    const body = html`<h1>Operator created</h1><p class="lead"><strong>${created.email}</strong> can sign in at <code>/console/login</code> with this password. Hand it over safely; they keep it until an operator resets it.</p>
${secretField('Password', created.password)}<p><a href="/console/operators/${created.id}">Go to the operator</a></p>`;
    return consoleReply(reply, 201, consolePage({ title: 'Operator created', c, section: 'operators', body, scripts: [consoleAsset('copy.js')] }));
  });

  app.get('/console/operators/:id', { schema: { hide: true } }, async (request, reply) => {
    const c = await requireOperator(keygate, request, reply);
    if (c === null) return reply;
    const id = (request.params as { id: string }).id;
    const result = OPERATOR_ID.test(id) ? await c.v1('GET', `/v1/operators/${id}`) : { status: 404, body: null };
    if (result.status !== 200) return refused(reply, c, 'operators', result);
    const done = (request.query as { done?: string }).done;
    return consoleReply(reply, 200, consolePage({ title: result.body.email, c, section: 'operators', body: detail(c, result.body, doneNotice(done, DONE)) }));
  });

  app.post('/console/operators/:id/:action', { schema: { hide: true } }, async (request, reply) => {
    const posted = await operatorForm(keygate, request, reply);
    if (posted === null) return reply;
    const { c } = posted;
    const { id, action } = request.params as { id: string; action: string };
    if (!OPERATOR_ID.test(id) || !['disable', 'enable', 'password', 'delete'].includes(action)) return refused(reply, c, 'operators', { status: 404, body: null });
    const path = `/v1/operators/${id}`;
    const result =
      action === 'delete' ? await c.v1('DELETE', path) : action === 'password' ? await c.v1('POST', `${path}/password`, {}) : await c.v1('PATCH', path, { disabled: action === 'disable' });
    if (result.status >= 400) return refused(reply, c, 'operators', result);
    if (action === 'delete') return reply.redirect('/console/operators?done=deleted', 303);
    if (action === 'password') {
      const body = html`<h1>New password</h1><p class="lead">The operator's sessions have ended; the old password no longer works. Hand this one over safely.</p>${secretField('New password', result.body.password)}<p><a href="/console/operators/${id}">Back to the operator</a></p>`;
      return consoleReply(reply, 200, consolePage({ title: 'New password', c, section: 'operators', body, scripts: [consoleAsset('copy.js')] }));
    }
    return reply.redirect(`/console/operators/${id}?done=${action}d`, 303);
  });
}

function reachOf(operator: OperatorView): string {
  return operator.tenant === null ? 'all tenants' : `tenant ${operator.tenant}`;
}

function listOf(operators: OperatorView[]): Html {
  if (operators.length === 0) return html`<p class="muted">No operators you could have created.</p>`;
  const rows = operators.map(
    (o) => html`<tr><td><a href="/console/operators/${o.id}">${o.email}</a>${o.name ? html`<br><span class="muted">${o.name}</span>` : ''}</td><td>${reachOf(o)}</td>
<td>${o.scopes.map((s) => html`<code>${s}</code> `)}</td><td>${o.disabledAt === null ? 'active' : html`<span class="warn">disabled</span>`}</td></tr>`,
  );
  return html`<div class="table-wrap"><table><caption>Operators</caption><thead><tr><th scope="col">Email</th><th scope="col">Reach</th><th scope="col">Scopes</th><th scope="col">Status</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

/** The new-operator form: only the scopes the signed-in operator holds can be given (/v1 refuses the others anyway). */
function createForm(c: ConsoleContext, form?: Form): Html {
  const ticked = new Set(form?.get('scope') ?? []);
  const scopes = MANAGEMENT_SCOPES.filter((s) => c.can(s.name));
  return html`<section class="card" aria-labelledby="new-operator"><h2 id="new-operator">New operator</h2>
<form method="post" action="/console/operators"><input type="hidden" name="csrf" value="${c.csrf}">
<div class="field"><label for="op-email">Email</label><input type="text" id="op-email" name="email" autocomplete="off" required value="${form ? (param(form, 'email') ?? '') : ''}"></div>
<div class="field"><label for="op-name">Name <span class="hint">optional</span></label><input type="text" id="op-name" name="name" autocomplete="off" value="${form ? (param(form, 'name') ?? '') : ''}"></div>
<div class="field"><label for="op-tenant">Limited to tenant <span class="hint">${c.operator.tenant === null ? 'a tenant slug, or empty for every tenant' : `your own limit, ${c.operator.tenant}, applies`}</span></label>
<input type="text" id="op-tenant" name="tenant" autocomplete="off" value="${form ? (param(form, 'tenant') ?? '') : (c.operator.tenant ?? '')}"></div>
<fieldset><legend>Scopes</legend>${scopes.map(
    (s, i) => html`<div class="check"><input type="checkbox" id="op-scope-${i}" name="scope" value="${s.name}"${ticked.has(s.name) ? html` checked` : ''}><label for="op-scope-${i}"><code>${s.name}</code> <span class="hint">${s.description}</span></label></div>`,
  )}</fieldset>
<p class="hint">A password is generated and shown once.</p><div class="actions"><button class="primary" type="submit">Create operator</button></div></form></section>`;
}

function detail(c: ConsoleContext, o: OperatorView, notice: Html): Html {
  const action = (verb: string, label: string, danger = false) =>
    html`<form class="inline" method="post" action="/console/operators/${o.id}/${verb}"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit"${danger ? html` class="danger"` : ''}>${label}</button></form>`;
  const actions = c.can('root_keys:write')
    ? html`<div class="actions">${o.disabledAt === null ? action('disable', 'Disable') : action('enable', 'Enable')}${action('password', 'Reset password')}</div>
<details><summary>Delete this operator</summary><p>Their sessions end and they can no longer sign in. What they did stays in the audit log.</p>${action('delete', `Delete ${o.email}`, true)}</details>`
    : '';
  return html`<p class="crumbs"><a href="/console/operators">Operators</a> / ${o.email}</p><h1>${o.email}</h1>${notice}
<div class="card"><dl><dt>Name</dt><dd>${o.name ?? '—'}</dd><dt>Reach</dt><dd>${reachOf(o)}</dd><dt>Scopes</dt><dd>${o.scopes.map((s) => html`<code>${s}</code> `)}</dd>
<dt>Created</dt><dd>${when(Date.parse(o.createdAt))}</dd><dt>Status</dt><dd>${o.disabledAt === null ? 'active' : `disabled since ${when(Date.parse(o.disabledAt))}`}</dd></dl></div>${actions}`;
}
