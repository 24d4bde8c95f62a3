import type { Api } from '../../domain/apis.js';
import type { Grant } from '../../domain/people.js';
import { html, page, type Html } from './html.js';

/** The server-rendered pages. Every value is escaped by `html`; forms carry the CSRF token. */
export function errorPage(title: string, message: string): string {
  return page(title, html`<h1>${title}</h1><p class="lead">${message}</p>`);
}

/** "a minute" or "N minutes": how long a throttled person waits, for a Retry-After in seconds. */
export function waitText(retryAfterSeconds: number): string {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return minutes <= 1 ? 'a minute' : `${minutes} minutes`;
}

export function signInPage(input: { tenantName: string; action: string; csrf: string; interaction: string | null; next?: string | null; email?: string; error?: string; signupUrl: string | null; resetUrl: string | null }): string {
  return page(
    `Sign in · ${input.tenantName}`,
    html`<h1>Sign in</h1><p class="lead">to continue to ${input.tenantName}</p>
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}">
${input.interaction ? html`<input type="hidden" name="interaction" value="${input.interaction}">` : ''}${input.next ? html`<input type="hidden" name="next" value="${input.next}">` : ''}
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required value="${input.email ?? ''}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<div class="actions"><button class="primary" type="submit">Sign in</button></div>
</form>
<p class="muted">${input.resetUrl ? html`<a href="${input.resetUrl}">Forgot your password?</a>` : ''}${input.resetUrl && input.signupUrl ? ' · ' : ''}${input.signupUrl ? html`<a href="${input.signupUrl}">Create an account</a>` : ''}</p>`,
  );
}

export function consentPage(input: { clientName: string; api: Api; scopes: string[]; userEmail: string; action: string; csrf: string; interaction: string }): string {
  const descriptions = new Map(input.api.scopes.map((s) => [s.name, s.description]));
  const items: Html[] = input.scopes.map(
    (scope, i) => html`<div class="scope"><input type="checkbox" id="scope-${i}" name="scope" value="${scope}" checked>
<label for="scope-${i}"><code>${scope}</code><span class="desc">${descriptions.get(scope) ?? ''}</span></label></div>`,
  );
  return page(
    `Authorize ${input.clientName}`,
    html`<h1>${input.clientName} wants access</h1>
<p class="lead">to ${input.api.name} as <strong>${input.userEmail}</strong>. Untick anything you do not want to allow.</p>
<form method="post" action="${input.action}">
<input type="hidden" name="csrf" value="${input.csrf}"><input type="hidden" name="interaction" value="${input.interaction}">
<fieldset><legend>Permissions</legend>${items.length > 0 ? items : html`<p class="muted">No permissions: only that you are signed in.</p>`}</fieldset>
<div class="actions"><button class="primary" type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Deny</button></div>
</form>`,
  );
}

export function connectedAppsPage(input: { userEmail: string; apps: { grant: Grant; clientName: string; apiName: string }[]; csrf: string; revokeAction: (grantId: string) => string; signOutAction: string }): string {
  const date = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().slice(0, 16).replace('T', ' ') + ' UTC');
  const rows = input.apps.map(
    ({ grant, clientName, apiName }) => html`<tr><td><strong>${clientName}</strong><br><span class="muted">${apiName}</span></td>
<td>${grant.scopes.map((s) => html`<code>${s}</code> `)}</td><td>${date(grant.createdAt)}</td><td>${date(grant.lastUsedAt)}</td>
<td><form method="post" action="${input.revokeAction(grant.id)}"><input type="hidden" name="csrf" value="${input.csrf}"><button class="danger" type="submit" aria-label="Revoke access for ${clientName}">Revoke</button></form></td></tr>`,
  );
  return page(
    'Connected apps',
    html`<h1>Connected apps</h1><p class="lead">Apps you allowed to act for <strong>${input.userEmail}</strong>. Revoking one ends all of its access at once.</p>
${rows.length === 0 ? html`<p class="muted">No apps have access.</p>` : html`<table><thead><tr><th scope="col">App</th><th scope="col">Permissions</th><th scope="col">Allowed</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>${rows}</tbody></table>`}
<form method="post" action="${input.signOutAction}"><input type="hidden" name="csrf" value="${input.csrf}"><div class="actions"><button type="submit">Sign out</button></div></form>`,
    { wide: true },
  );
}

export function simpleFormPage(input: { title: string; lead: string; action: string; csrf: string; fields: { name: string; label: string; type: string; autocomplete: string }[]; hidden?: Record<string, string>; submit: string; error?: string; notice?: string }): string {
  return page(
    input.title,
    html`<h1>${input.title}</h1><p class="lead">${input.lead}</p>
${input.error ? html`<p class="error" role="alert">${input.error}</p>` : ''}${input.notice ? html`<p role="status">${input.notice}</p>` : ''}
<form method="post" action="${input.action}"><input type="hidden" name="csrf" value="${input.csrf}">
${Object.entries(input.hidden ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`)}
${input.fields.map((f) => html`<label for="${f.name}">${f.label}</label><input id="${f.name}" name="${f.name}" type="${f.type}" autocomplete="${f.autocomplete}" required>`)}
<div class="actions"><button class="primary" type="submit">${input.submit}</button></div></form>`,
  );
}
