import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeJwt } from '../../../domain/tokens/jwt.js';
import type { Keygate } from '../../../services/keygate.js';
import { tokenVerdict, type TokenVerdict } from '../../../services/token-verdict.js';
import { param } from '../../oauth/form.js';
import { html, Html } from '../html.js';
import { assetUrl } from './assets.js';
import { when } from './format.js';
import { developerPage, developerReply } from './layout.js';
import { memberForm, requireMember, shellOf, type MemberContext } from './member.js';

const STYLE = `pre{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:.75rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
textarea.token{font-family:ui-monospace,monospace;font-size:.85rem;max-width:none}dl.verdict{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dl.verdict dt{font-weight:600}dl.verdict dd{margin:0}`;

/**
 * The token debugger (docs/portal.md): a pasted JWT's header, claims and expiry, and the
 * server's verdict on it for this tenant (`tokenVerdict`: signature against the tenant's keys,
 * expiry, revocation). With debugger.js the token is decoded in the browser and only the verify
 * call reaches the server, as a POST body; without it, the form posts and the page comes back
 * decoded. The token is never in a URL, and the page is never cached.
 */
export function debuggerRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/t/:slug/portal/debugger', { schema: { hide: true } }, async (request, reply) => {
    const member = await requireMember(keygate, request, reply);
    if (member === null) return reply;
    return debuggerPage(reply, member, { token: '', verdict: null, now: keygate.clock() });
  });

  app.post('/t/:slug/portal/debugger', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const token = (param(posted.form, 'token') ?? '').trim();
    const verdict = token === '' ? null : await tokenVerdict(keygate, posted.member.tenant, token);
    return debuggerPage(reply, posted.member, { token, verdict, now: keygate.clock() });
  });

  app.post('/t/:slug/portal/debugger/verify', { schema: { hide: true } }, async (request, reply) => {
    const posted = await memberForm(keygate, request, reply);
    if (posted === null) return reply;
    const token = (param(posted.form, 'token') ?? '').trim();
    if (token === '') return reply.code(400).header('cache-control', 'no-store').send({ error: 'Paste a token first.' });
    return reply.header('cache-control', 'no-store').send(await tokenVerdict(keygate, posted.member.tenant, token));
  });
}

/** "Expires in 14 minutes (…)" / "Expired 3 hours ago (…)", for an expiry in seconds since the epoch: worded as jwt-decode.js words it in the browser. */
export function expiryInWords(exp: number, now: number): string {
  const seconds = Math.round(exp - now / 1000);
  const size = Math.abs(seconds);
  const [amount, unit] = size < 90 ? [size, 'second'] : size < 5400 ? [Math.round(size / 60), 'minute'] : size < 129_600 ? [Math.round(size / 3600), 'hour'] : [Math.round(size / 86_400), 'day'];
  const span = `${amount} ${unit}${amount === 1 ? '' : 's'}`;
  return seconds > 0 ? `Expires in ${span} (${when(exp * 1000)}).` : `Expired ${span} ago (${when(exp * 1000)}).`;
}

function verdictList(verdict: TokenVerdict): Html {
  const yesNo = (value: boolean | null): string => (value === null ? 'not checked' : value ? 'yes' : 'no');
  return html`<p><strong>${verdict.valid ? 'Valid' : 'Not valid'}</strong>: ${verdict.reason}</p>
<dl class="verdict"><dt>Signature</dt><dd>${verdict.signatureValid ? 'valid' : 'invalid'}</dd><dt>Expired</dt><dd>${yesNo(verdict.expired)}</dd><dt>Revoked</dt><dd>${yesNo(verdict.revoked)}</dd></dl>`;
}

function debuggerPage(reply: FastifyReply, member: MemberContext, input: { token: string; verdict: TokenVerdict | null; now: number }): FastifyReply {
  const decoded = input.token === '' ? null : decodeJwt(input.token);
  const exp = decoded?.payload.exp;
  const body = html`<style>${new Html(STYLE)}</style><h1>Token debugger</h1>
<p class="lead">Paste a JWT to read its header and claims and to check it against ${member.tenant.name}'s keys. The token is decoded in your browser; only the check is sent to the server, in the body of a request, never in a URL.</p>
<form id="debugger" method="post" action="${member.portal}/debugger" data-verify="${member.portal}/debugger/verify">
<input type="hidden" name="csrf" value="${member.csrf}">
<div class="field"><label for="token">Token</label><textarea class="token" id="token" name="token" rows="6" autocomplete="off" spellcheck="false" required>${input.token}</textarea></div>
<button class="primary" type="submit">Decode and verify</button></form>
<section aria-labelledby="verdict-title"><h2 id="verdict-title">Verdict</h2><div id="verdict" role="status">${input.verdict === null ? html`<p class="muted">Nothing checked yet.</p>` : verdictList(input.verdict)}</div></section>
<section aria-labelledby="header-title"><h2 id="header-title">Header</h2><pre id="jwt-header" tabindex="0" role="region" aria-label="Header">${decoded ? JSON.stringify(decoded.header, null, 2) : input.token === '' ? '' : 'Not a JWT: the parts could not be decoded.'}</pre></section>
<section aria-labelledby="claims-title"><h2 id="claims-title">Claims</h2><p id="jwt-expiry">${typeof exp === 'number' ? expiryInWords(exp, input.now) : ''}</p><pre id="jwt-claims" tabindex="0" role="region" aria-label="Claims">${decoded ? JSON.stringify(decoded.payload, null, 2) : ''}</pre></section>
<p><a href="${member.portal}/apis">Back to the APIs</a></p>`;
  return developerReply(reply, 200, developerPage({ ...shellOf(member), title: 'Token debugger', active: 'debugger', scripts: [assetUrl(member.tenant.slug, 'debugger.js')], body }));
}
