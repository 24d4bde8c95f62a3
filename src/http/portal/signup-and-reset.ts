import type { FastifyInstance } from 'fastify';
import { isKeygateError } from '../../domain/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { passwordResetUrl } from '../../services/users-service.js';
import { param } from '../oauth/form.js';
import { checkedForm, htmlReply, portalRequest, signInAs } from './context.js';
import { errorPage, simpleFormPage, waitText } from './views.js';

/** Self sign-up (when the tenant allows it) and password reset through a one-time token. */
export function signupAndResetRoutes(app: FastifyInstance, keygate: Keygate): void {
  const signupFields = [
    { name: 'name', label: 'Name', type: 'text', autocomplete: 'name' },
    { name: 'email', label: 'Email', type: 'email', autocomplete: 'email' },
    { name: 'password', label: 'Password (at least 10 characters)', type: 'password', autocomplete: 'new-password' },
  ];

  const signupForm = (portal: { base: string; csrf: string; tenant: { name: string } }, interaction: string | undefined, error?: string) =>
    simpleFormPage({ title: 'Create an account', lead: `for ${portal.tenant.name}`, action: `${portal.base}/signup`, csrf: portal.csrf, fields: signupFields, hidden: interaction ? { interaction } : {}, submit: 'Create account', ...(error ? { error } : {}) });

  app.get('/t/:slug/signup', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (!portal.tenant.selfSignup) return htmlReply(reply, 404, errorPage('Sign-up is closed', 'Ask an administrator for an account.'));
    const interaction = (request.query as { interaction?: string }).interaction;
    return htmlReply(reply, 200, signupForm(portal, interaction));
  });

  app.post('/t/:slug/signup', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (!portal.tenant.selfSignup) return htmlReply(reply, 404, errorPage('Sign-up is closed', 'Ask an administrator for an account.'));
    const form = checkedForm(request, reply);
    if (form === null) return reply;
    const interaction = param(form, 'interaction');
    try {
      const outcome = await keygate.users.signUp({ id: 'self-signup', requestId: request.id, ip: request.ip }, portal.tenant, {
        email: param(form, 'email') ?? '',
        password: param(form, 'password') ?? '',
        name: param(form, 'name') || null,
      });
      if ('error' in outcome) {
        reply.header('retry-after', String(outcome.retryAfter));
        return htmlReply(reply, 429, signupForm(portal, interaction, `Too many sign-ups from here. Try again in ${waitText(outcome.retryAfter)}.`));
      }
      await signInAs(keygate, reply, portal.tenant, outcome.user);
      return reply.redirect(interaction ? `${portal.base}/consent?interaction=${encodeURIComponent(interaction)}` : `${portal.base}/account/apps`, 303);
    } catch (err) {
      if (!isKeygateError(err) || err.status >= 500) throw err;
      // USER_EXISTS is shown like any other problem: the page reveals no more than sign-in would.
      const error = err.code === 'USER_EXISTS' ? 'An account with this email already exists. Sign in instead.' : err.message;
      return htmlReply(reply, 400, signupForm(portal, interaction, error));
    }
  });

  const requestForm = (portal: { base: string; csrf: string }, notice?: string) =>
    simpleFormPage({ title: 'Reset your password', lead: 'We will send a link to the account\'s email.', action: `${portal.base}/password-reset`, csrf: portal.csrf, fields: [{ name: 'email', label: 'Email', type: 'email', autocomplete: 'email' }], submit: 'Send link', ...(notice ? { notice } : {}) });

  // With no delivery configured there is nowhere safe to send a link (never the log): say so.
  const resetsDisabled = (portal: { tenant: { name: string } }) =>
    errorPage('Password reset is disabled', `${portal.tenant.name} cannot send password-reset links. Ask an administrator for help.`);

  app.get('/t/:slug/password-reset', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (!keygate.users.resetsEnabled) return htmlReply(reply, 404, resetsDisabled(portal));
    return htmlReply(reply, 200, requestForm(portal));
  });

  app.post('/t/:slug/password-reset', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    if (!keygate.users.resetsEnabled) return htmlReply(reply, 404, resetsDisabled(portal));
    const form = checkedForm(request, reply);
    if (form === null) return reply;
    const outcome = await keygate.users.requestPasswordReset(portal.tenant, param(form, 'email') ?? '', passwordResetUrl(keygate.publicUrl, portal.tenant.slug), request.ip);
    if (outcome.throttled) {
      reply.header('retry-after', String(outcome.retryAfter));
      return htmlReply(reply, 429, requestForm(portal, `Too many requests from here. Try again in ${waitText(outcome.retryAfter)}.`));
    }
    return htmlReply(reply, 200, requestForm(portal, 'If an account uses that email, a reset link is on its way.'));
  });

  const confirmForm = (portal: { base: string; csrf: string }, token: string, error?: string) =>
    simpleFormPage({ title: 'Choose a new password', lead: 'At least 10 characters.', action: `${portal.base}/password-reset/confirm`, csrf: portal.csrf, fields: [{ name: 'password', label: 'New password', type: 'password', autocomplete: 'new-password' }], hidden: { token }, submit: 'Set password', ...(error ? { error } : {}) });

  app.get('/t/:slug/password-reset/confirm', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    // This page's URL carries the reset token: no Referer may take it anywhere.
    reply.header('referrer-policy', 'no-referrer');
    return htmlReply(reply, 200, confirmForm(portal, (request.query as { token?: string }).token ?? ''));
  });

  app.post('/t/:slug/password-reset/confirm', { schema: { hide: true } }, async (request, reply) => {
    const portal = await portalRequest(keygate, request, reply);
    const form = checkedForm(request, reply);
    if (form === null) return reply;
    const token = param(form, 'token') ?? '';
    try {
      const done = await keygate.users.resetPassword(portal.tenant, token, param(form, 'password') ?? '', { ip: request.ip, requestId: request.id });
      if (!done) return htmlReply(reply, 400, errorPage('This link has expired', 'Ask for a new password-reset link.'));
      return reply.redirect(`${portal.base}/login`, 303);
    } catch (err) {
      if (!isKeygateError(err) || err.code !== 'WEAK_PASSWORD') throw err;
      return htmlReply(reply, 400, confirmForm(portal, token, err.message));
    }
  });
}
