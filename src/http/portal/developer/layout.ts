import type { FastifyReply } from 'fastify';
import type { Tenant } from '../../../domain/tenants.js';
import { Html, escapeHtml, html } from '../html.js';

export type DeveloperSection = 'home' | 'keys' | 'usage' | 'apis' | 'debugger';

export interface DeveloperPageInput {
  title: string;
  tenant: Tenant;
  member: { email: string };
  /** The consumer the member acts for; null on pages shown before one is known. */
  consumer: { id: string; name: string } | null;
  /** Every consumer the member belongs to: more than one shows the picker. */
  consumers: { id: string; name: string }[];
  csrf: string;
  active: DeveloperSection;
  body: Html;
  /** Script URLs under `/t/{slug}/portal/assets/` (the CSP allows nothing else). */
  scripts?: string[];
}

const NAV: { section: DeveloperSection; label: string; path: string }[] = [
  { section: 'home', label: 'Home', path: '' },
  { section: 'keys', label: 'Keys', path: '/keys' },
  { section: 'usage', label: 'Usage', path: '/usage' },
  { section: 'apis', label: 'APIs', path: '/apis' },
  { section: 'debugger', label: 'Debugger', path: '/debugger' },
];

/** The portal's stylesheet, which the console shares. */
/**
 * The stylesheet of the developer portal and the console. Contrast: every text colour is at
 * least 4.5:1 on its background in both schemes (WCAG AA).
 */
export const PORTAL_STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--ink:#16181d;--muted:#545b68;--line:#d5dae1;--accent:#2450b2;--accent-ink:#fff;--danger:#b42318;--warn:#8a4b00;--ok:#1d6b34}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--ink:#e8eaee;--muted:#a7aebb;--line:#2e3440;--accent:#8fb0ff;--accent-ink:#0f1115;--danger:#ff9a90;--warn:#ffc46b;--ok:#7dd99a}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--ink)}
a{color:var(--accent)}code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;overflow-wrap:anywhere}
.skip{position:absolute;left:-999px;top:0;background:var(--accent);color:var(--accent-ink);padding:.5rem 1rem;z-index:2}.skip:focus{left:0}
header{background:var(--card);border-bottom:1px solid var(--line)}
.bar{max-width:64rem;margin:0 auto;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
.brand{font-weight:700;margin-right:auto}.who{color:var(--muted);font-size:.92rem;overflow-wrap:anywhere}
nav ul{list-style:none;margin:0;padding:0 1rem;display:flex;flex-wrap:wrap;gap:.25rem;max-width:64rem;margin:0 auto}
nav a{display:inline-block;padding:.5rem .75rem;text-decoration:none;border-bottom:3px solid transparent;color:var(--ink)}
nav a[aria-current=page]{border-bottom-color:var(--accent);font-weight:600}
main{max-width:64rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}p.lead{color:var(--muted);margin:0 0 1.5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.25rem;margin:0 0 1rem}
label{font-weight:600}.field{margin:0 0 1rem}.field label{display:block;margin:0 0 .35rem}.hint{display:block;color:var(--muted);font-size:.9rem;font-weight:400}
input[type=text],input[type=number],input[type=date],input[type=datetime-local],select,textarea{width:100%;max-width:32rem;padding:.55rem .65rem;border:1px solid var(--muted);border-radius:8px;background:var(--bg);color:var(--ink);font:inherit}
input:focus-visible,button:focus-visible,select:focus-visible,textarea:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
button{font:inherit;font-weight:600;padding:.5rem 1rem;border-radius:8px;border:1px solid var(--muted);background:var(--card);color:var(--ink);cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:var(--accent-ink)}button.danger{color:var(--danger);border-color:var(--danger)}
.inline{display:inline}.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
.error{border:1px solid var(--danger);color:var(--danger);border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}
.notice{border:1px solid var(--ok);border-radius:8px;padding:.6rem .8rem;margin:0 0 1rem}
.warn{color:var(--warn);font-weight:600}
fieldset{border:1px solid var(--line);border-radius:8px;padding:.5rem 1rem;margin:0 0 1rem}legend{font-weight:600;padding:0 .25rem}
.check{display:flex;gap:.6rem;align-items:flex-start;padding:.45rem 0}.check label{font-weight:400}.check input{margin-top:.3rem}
.table-wrap{overflow-x:auto;position:relative}table{width:100%;border-collapse:collapse}caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{text-align:left;padding:.45rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}.secret{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}.secret input{font-family:ui-monospace,monospace}
.picker{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}.picker select{width:auto}
details>summary{cursor:pointer;font-weight:600;padding:.25rem 0}h3{font-size:1.05rem;margin:0 0 .75rem}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.usage-grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start}
svg.chart{width:100%;height:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}svg.chart text{fill:var(--muted);font-size:12px}svg.chart .grid{stroke:var(--line)}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}.swatch{display:inline-block;width:.9rem;height:.9rem;border-radius:3px;margin-right:.35rem;vertical-align:-.1rem}
.filters{display:flex;flex-wrap:wrap;gap:0 1rem;align-items:flex-end}.filters .field select{width:auto;max-width:100%}
@media (max-width:800px){.usage-grid{grid-template-columns:minmax(0,1fr)}}
@media (max-width:600px){main{padding:1rem .75rem 2rem}.card{padding:1rem}th,td{padding:.4rem .25rem}}
`;

/**
 * The developer portal's page shell: skip link, header with the tenant and the member, the
 * consumer picker (a CSRF-protected form), the section nav, sign-out and the main landmark.
 * Every value is escaped; `body` is already `Html`.
 *
 * @example
 * htmlReply(reply, 200, developerPage({ title: 'Keys', tenant, member: user, consumer, consumers, csrf, active: 'keys', body: html`<h1>Keys</h1>` }));
 */
export function developerPage(input: DeveloperPageInput): string {
  const base = `/t/${input.tenant.slug}`;
  const portal = `${base}/portal`;
  const picker =
    input.consumers.length > 1
      ? html`<form class="picker" method="post" action="${portal}/consumer"><input type="hidden" name="csrf" value="${input.csrf}">
<label for="consumer-picker">Acting for</label><select id="consumer-picker" name="consumer">${input.consumers.map(
          (c) => html`<option value="${c.id}"${c.id === input.consumer?.id ? new Html(' selected') : ''}>${c.name}</option>`,
        )}</select><button type="submit">Switch</button></form>`
      : input.consumer !== null
        ? html`<span class="who">Acting for <strong>${input.consumer.name}</strong></span>`
        : '';
  const nav = NAV.map(
    (item) => html`<li><a href="${portal}${item.path}"${item.section === input.active ? new Html(' aria-current="page"') : ''}>${item.label}</a></li>`,
  );
  const scripts = (input.scripts ?? []).map((src) => `<script type="module" src="${escapeHtml(src)}"></script>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(input.title)} · ${escapeHtml(input.tenant.name)} developer portal</title><style>${PORTAL_STYLE}</style>${scripts}</head>
<body><a class="skip" href="#main">Skip to content</a>
<header><div class="bar"><span class="brand">${escapeHtml(input.tenant.name)} developer portal</span>${picker}
<span class="who">${escapeHtml(input.member.email)}</span>
<form class="inline" method="post" action="${base}/logout"><input type="hidden" name="csrf" value="${escapeHtml(input.csrf)}"><button type="submit">Sign out</button></form></div>
<nav aria-label="Portal"><ul>${nav.map((n) => n.value).join('')}</ul></nav></header>
<main id="main" tabindex="-1">${input.body.value}</main></body></html>`;
}

/** Sends a developer portal page: never cached, never framed, scripts only from the portal's own assets. */
export function developerReply(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    .type('text/html; charset=utf-8')
    .send(body);
}
