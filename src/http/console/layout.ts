import type { FastifyReply } from 'fastify';
import { Html, escapeHtml, html } from '../portal/html.js';
import { PORTAL_STYLE } from '../portal/developer/layout.js';
import type { ConsoleContext, V1Result } from './context.js';

export type ConsoleSection = 'home' | 'tenants' | 'apis' | 'consumers' | 'keys' | 'clients' | 'users' | 'signing-keys' | 'audit' | 'usage' | 'debugger' | 'operators';

export interface ConsolePageInput {
  title: string;
  c: ConsoleContext;
  section: ConsoleSection;
  /** The tenant the page is about: shows the tenant's own navigation. */
  tenant?: string | null;
  body: Html;
  /** Script URLs from `consoleAsset` (the CSP allows nothing else). */
  scripts?: string[];
}

/** Sections across the instance, each shown only to an operator holding its scope. */
const INSTANCE_NAV: { section: ConsoleSection; label: string; path: string; scope: string }[] = [
  { section: 'tenants', label: 'Tenants', path: '/console/tenants', scope: 'tenants:read' },
  { section: 'debugger', label: 'Verify & debug', path: '/console/debugger', scope: 'keys:verify' },
  { section: 'operators', label: 'Operators', path: '/console/operators', scope: 'root_keys:read' },
];

/** A tenant's sections, each shown only to an operator holding its scope. */
export const TENANT_NAV: { section: ConsoleSection; label: string; path: string; scope: string }[] = [
  { section: 'apis', label: 'APIs', path: '/apis', scope: 'apis:read' },
  { section: 'consumers', label: 'Consumers', path: '/consumers', scope: 'consumers:read' },
  { section: 'keys', label: 'Keys', path: '/keys', scope: 'keys:read' },
  { section: 'clients', label: 'Clients', path: '/clients', scope: 'clients:read' },
  { section: 'users', label: 'Users', path: '/users', scope: 'users:read' },
  { section: 'signing-keys', label: 'Signing keys', path: '/signing-keys', scope: 'tokens:read' },
  { section: 'audit', label: 'Audit log', path: '/audit', scope: 'audit:read' },
  { section: 'usage', label: 'Usage', path: '/usage', scope: 'usage:read' },
];

const CONSOLE_STYLE = `.bar .brand a{color:inherit;text-decoration:none}nav.tenant{background:var(--bg);border-top:1px solid var(--line)}nav.tenant .label{color:var(--muted);padding:.5rem .75rem .5rem 0;display:inline-block}
.tree,.tree ul{list-style:none;margin:0;padding-left:1.25rem;border-left:1px solid var(--line)}.tree{padding-left:0;border-left:0}.tree li{padding:.2rem 0}
.crumbs{color:var(--muted);margin:0 0 .5rem;font-size:.92rem}.crumbs a{color:var(--accent)}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.75rem}`;

/** The path of a tenant's console pages. */
export function tenantPath(slug: string): string {
  return `/console/tenants/${encodeURIComponent(slug)}`;
}

/** The URL of a console script in `src/http/console/assets/` (or the portal's shared ones). */
export function consoleAsset(name: string): string {
  return `/console/assets/${name}`;
}

/**
 * The console's page shell: skip link, header with the operator and their reach, the
 * instance navigation, the tenant's navigation on a tenant's pages, sign-out and the main
 * landmark. Navigation lists only what the operator's scopes allow; every value is escaped.
 *
 * @example
 * consoleReply(reply, 200, consolePage({ title: 'Keys', c, section: 'keys', tenant: 'acme', body: html`<h1>Keys</h1>` }));
 */
export function consolePage(input: ConsolePageInput): string {
  const { c } = input;
  const current = (active: boolean) => (active ? new Html(' aria-current="page"') : '');
  const instanceNav = INSTANCE_NAV.filter((item) => c.can(item.scope) && (item.section !== 'tenants' || c.operator.tenant === null)).map(
    (item) => html`<li><a href="${item.path}"${current(item.section === input.section && !input.tenant)}>${item.label}</a></li>`,
  );
  const tenant = input.tenant ?? null;
  const tenantNav =
    tenant === null
      ? ''
      : html`<nav class="tenant" aria-label="Tenant ${tenant}"><ul><li><a class="label" href="${tenantPath(tenant)}"${current(input.section === 'tenants')}>Tenant <strong>${tenant}</strong></a></li>${TENANT_NAV.filter((item) => c.can(item.scope)).map(
          (item) => html`<li><a href="${tenantPath(tenant)}${item.path}"${current(item.section === input.section)}>${item.label}</a></li>`,
        )}</ul></nav>`;
  const reach = c.operator.tenant === null ? 'all tenants' : `tenant ${c.operator.tenant}`;
  const scripts = (input.scripts ?? []).map((src) => `<script type="module" src="${escapeHtml(src)}"></script>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(input.title)} · Keygate console</title><style>${PORTAL_STYLE}${CONSOLE_STYLE}</style>${scripts}</head>
<body><a class="skip" href="#main">Skip to content</a>
<header>${
    html`<div class="bar"><span class="brand"><a href="/console">Keygate console</a></span><span class="who">${c.operator.email} · ${reach}</span>
<form class="inline" method="post" action="/console/logout"><input type="hidden" name="csrf" value="${c.csrf}"><button type="submit">Sign out</button></form></div>
<nav aria-label="Console"><ul><li><a href="/console"${current(input.section === 'home')}>Home</a></li>${instanceNav}</ul></nav>${tenantNav}`.value
  }</header>
<main id="main" tabindex="-1">${input.body.value}</main></body></html>`;
}

/** Sends a console page: never cached, never framed, no referrer, scripts only from the console's own assets. */
export function consoleReply(reply: FastifyReply, status: number, page: string): FastifyReply {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .type('text/html; charset=utf-8')
    .send(page);
}

/** A /v1 problem as an alert box (title, detail and code), or nothing for a success. */
export function problemBox(result: V1Result): Html {
  if (result.status < 400) return html``;
  const body = (result.body ?? {}) as { title?: string; detail?: string; code?: string };
  return html`<div class="error" role="alert"><strong>${body.title ?? `HTTP ${result.status}`}</strong>${body.detail ? html`: ${body.detail}` : ''}${body.code ? html` <code>${body.code}</code>` : ''}</div>`;
}

/**
 * A whole page for a /v1 refusal (403, 404, …), with its status: what the operator may not see
 * or do, said plainly, and nothing of what they may not see.
 */
export function refused(reply: FastifyReply, c: ConsoleContext, section: ConsoleSection, result: V1Result, tenant: string | null = null): FastifyReply {
  const title = result.status === 404 ? 'Not found' : result.status === 403 ? 'Not allowed' : 'Something went wrong';
  const lead =
    result.status === 404
      ? 'There is nothing here, or nothing your operator account may see.'
      : result.status === 403
        ? 'Your operator account may not do this. Ask an operator with more scopes.'
        : 'The management API refused the request.';
  const status = result.status >= 400 ? result.status : 500;
  return consoleReply(reply, status, consolePage({ title, c, section, tenant: status === 404 ? null : tenant, body: html`<h1>${title}</h1><p class="lead">${lead}</p>${problemBox(result)}` }));
}

/** The "Next page" link of a list: the cursor /v1 answered, in the query with the list's filters. */
export function pager(basePath: string, query: Record<string, string>, nextCursor: string | null): Html {
  if (nextCursor === null) return html``;
  const params = new URLSearchParams({ ...Object.fromEntries(Object.entries(query).filter(([name, value]) => name !== 'cursor' && value !== '')), cursor: nextCursor });
  return html`<nav aria-label="Pagination" class="actions"><a href="${basePath}?${params.toString()}" rel="next">Next page</a></nav>`;
}

/** A notice after a redirect (`?done=…`), in words. */
export function doneNotice(done: string | undefined, words: Record<string, string>): Html {
  const text = done === undefined ? undefined : words[done];
  return text === undefined ? html`` : html`<p class="notice" role="status">${text}</p>`;
}

/**
 * A secret shown once (a new key, client secret or password): a read-only field with a copy
 * button (the shared copy.js; add `consoleAsset('copy.js')` to the page's scripts). Only ever in
 * the answer to the POST that made it: never in a URL, a redirect or storage.
 */
export function secretField(label: string, value: string, id = 'secret'): Html {
  return html`<div class="secret"><label for="${id}">${label}</label><input type="text" id="${id}" value="${value}" readonly autocomplete="off" spellcheck="false" size="48">
<button type="button" data-copy="${id}" hidden>Copy</button><span id="${id}-status" role="status" aria-live="polite"></span></div>
<p class="warn">Copy it now: it is shown only this once and Keygate keeps only its hash.</p>`;
}
