import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { formOf, param } from '../oauth/form.js';
import { signInPage, waitText } from '../portal/views.js';
import { CONSOLE_CSRF_COOKIE, CONSOLE_SESSION_COOKIE, consoleCookieOptions, consoleCsrfToken, consoleCsrfValid } from './cookies.js';
import { consoleReturnPath, operatorForm } from './context.js';
import { consoleReply } from './layout.js';
import { consoleErrorPage } from './views.js';

/**
 * Operators' sign-in and sign-out at `/console/login`. Failures are generic (no hint whether
 * the email is an operator's); throttled attempts get 429 with Retry-After, exactly as people's
 * sign-in to a tenant. Every sign-in starts a new session (no fixation).
 */
export function consoleSignInRoutes(app: FastifyInstance, keygate: Keygate): void {
  app.get('/console/login', { schema: { hide: true } }, async (request, reply) => {
    const next = consoleReturnPath((request.query as { next?: string }).next);
    return consoleReply(reply, 200, signInPage(view(request, reply, next)));
  });

  app.post('/console/login', { schema: { hide: true } }, async (request, reply) => {
    const form = formOf(request.body);
    if (!consoleCsrfValid(request, param(form, 'csrf'))) {
      return consoleReply(reply, 403, consoleErrorPage('Request refused', 'The form expired or did not come from this console. Go back, reload the page and try again.'));
    }
    const next = consoleReturnPath(param(form, 'next'));
    const email = param(form, 'email') ?? '';
    const outcome = await keygate.operators.signIn(email, param(form, 'password') ?? '', { ip: request.ip, requestId: request.id });
    if ('error' in outcome) {
      if (outcome.error === 'throttled') {
        reply.header('retry-after', String(outcome.retryAfter));
        return consoleReply(reply, 429, signInPage({ ...view(request, reply, next), email, error: `Too many attempts. Try again in ${waitText(outcome.retryAfter)}.` }));
      }
      return consoleReply(reply, 401, signInPage({ ...view(request, reply, next), email, error: 'That email and password do not match an operator account.' }));
    }
    await keygate.operators.endSession(request.cookies[CONSOLE_SESSION_COOKIE]);
    const session = await keygate.operators.startSession(outcome.operator);
    reply.setCookie(CONSOLE_SESSION_COOKIE, session.value, consoleCookieOptions(keygate.publicUrl, Math.max(1, Math.floor((session.expiresAt - Date.now()) / 1000))));
    // The pre-sign-in CSRF cookie has done its job: forms are now bound to the session.
    reply.clearCookie(CONSOLE_CSRF_COOKIE, consoleCookieOptions(keygate.publicUrl));
    return reply.redirect(next ?? '/console', 303);
  });

  app.post('/console/logout', { schema: { hide: true } }, async (request, reply) => {
    if ((await operatorForm(keygate, request, reply)) === null) return reply;
    await keygate.operators.endSession(request.cookies[CONSOLE_SESSION_COOKIE]);
    reply.clearCookie(CONSOLE_SESSION_COOKIE, consoleCookieOptions(keygate.publicUrl));
    return reply.redirect('/console/login', 303);
  });

  function view(request: FastifyRequest, reply: FastifyReply, next: string | null) {
    return { tenantName: 'the Keygate console', action: '/console/login', csrf: consoleCsrfToken(request, reply, keygate.publicUrl), interaction: null, next, signupUrl: null, resetUrl: null };
  }
}
