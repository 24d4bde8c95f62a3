import type { FastifyReply, FastifyRequest } from 'fastify';
import { operatorReach, type Operator as StoredOperator } from '../../domain/operators.js';
import type { Keygate } from '../../services/keygate.js';
import { safeEqual } from '../../crypto/secrets.js';
import { formOf, param, type Form } from '../oauth/form.js';
import { CONSOLE_SESSION_COOKIE, sessionCsrf } from './cookies.js';
import { consoleReply } from './layout.js';
import { consoleErrorPage } from './views.js';

/** The signed-in operator as the console sees them: scopes with their implications. */
export interface Operator {
  id: string;
  email: string;
  name: string | null;
  scopes: ReadonlySet<string>;
  /** The one tenant the operator may act on, or null for all tenants. */
  tenant: string | null;
}

export type V1Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** A management API answer as a page gets it: the status and the parsed JSON (problem details on error), or null. */
export type V1Result = { status: number; body: any };

/** What every console handler needs: who is signed in, the CSRF token of their forms, and the management API as them. */
export interface ConsoleContext {
  operator: Operator;
  /** Goes in every form as `<input type="hidden" name="csrf" value="…">`. */
  csrf: string;
  /** Whether the operator holds `scope` (implications included): show an action only then. */
  can(scope: string): boolean;
  /**
   * Calls the management API as the operator (see `ManagementAuth.delegate`): /v1 authorizes,
   * validates and audits it exactly as it would a root key with the operator's scopes and
   * tenant limit. `body` is sent as JSON, or as it is when it is a string and `headers` name
   * its content-type. The answer's `body` is its parsed JSON (problem details on error), or null.
   */
  v1(method: V1Method, path: string, body?: unknown, headers?: Record<string, string>): Promise<V1Result>;
}

/**
 * The operator behind a console request, or null once a reply was sent: a redirect to sign-in
 * (coming back to this page after it). The session is checked on every request, so a disabled
 * or deleted operator, or one idle too long, is signed out at once.
 *
 * @example
 * const c = await requireOperator(keygate, request, reply);
 * if (c === null) return reply;
 */
export async function requireOperator(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<ConsoleContext | null> {
  const session = request.cookies[CONSOLE_SESSION_COOKIE];
  const operator = await keygate.operators.resolveSession(session);
  if (operator === null || session === undefined) {
    const back = request.method === 'GET' ? request.url.split('?')[0]! : '/console';
    reply.redirect(`/console/login?next=${encodeURIComponent(back)}`, 303);
    return null;
  }
  return contextOf(keygate, request, operator, sessionCsrf(session));
}

/**
 * A posted console form and its operator, or null once a reply was sent: the session first,
 * then the form's CSRF token, bound to the session (each a 403 page).
 *
 * @example
 * const posted = await operatorForm(keygate, request, reply);
 * if (posted === null) return reply;
 * const { c, form } = posted;
 */
export async function operatorForm(keygate: Keygate, request: FastifyRequest, reply: FastifyReply): Promise<{ c: ConsoleContext; form: Form } | null> {
  const session = request.cookies[CONSOLE_SESSION_COOKIE];
  const operator = await keygate.operators.resolveSession(session);
  if (operator === null || session === undefined) {
    // A form posted without a live session is not replayed after sign-in: say so, change nothing.
    consoleReply(reply, 403, consoleErrorPage('Signed out', 'Your console session has ended, so nothing was done. Sign in again, then repeat what you were doing.'));
    return null;
  }
  const c = contextOf(keygate, request, operator, sessionCsrf(session));
  const form = formOf(request.body);
  const submitted = param(form, 'csrf');
  if (submitted === undefined || !safeEqual(submitted, c.csrf)) {
    consoleReply(reply, 403, consoleErrorPage('Request refused', 'The form expired or did not come from this console. Go back, reload the page and try again.'));
    return null;
  }
  return { c, form };
}

function contextOf(keygate: Keygate, request: FastifyRequest, stored: StoredOperator, csrf: string): ConsoleContext {
  const { scopes } = operatorReach(stored);
  const operator: Operator = { id: stored.id, email: stored.email, name: stored.name, scopes, tenant: stored.tenant };
  return {
    operator,
    csrf,
    can: (scope) => scopes.has(scope),
    async v1(method, path, body, headers = {}) {
      // Only the management API: a console page can never be made to call anything else as the operator.
      if (!path.startsWith('/v1/')) throw new Error(`the console calls only /v1, not ${path}`);
      // A dot segment (`..` from a URL parameter: encodeURIComponent keeps dots) would be resolved
      // into another route; /v1 would still authorize it, but a page must reach the route it names.
      if (/\/\.\.?(\/|\?|$)/.test(path)) return { status: 404, body: { title: 'Not Found', status: 404, code: 'ROUTE_NOT_FOUND', detail: 'there is no such resource' } };
      const bearer = keygate.auth.delegate({ kind: 'root', keyId: operator.id, scopes, tenant: operator.tenant, operator: true });
      try {
        const response = await request.server.inject({
          method,
          url: path,
          remoteAddress: request.ip,
          headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers, authorization: `Bearer ${bearer}` },
          // A body of another type (an OpenAPI document in YAML) is sent as the text it is.
          ...(body === undefined ? {} : { payload: typeof body === 'string' && headers['content-type'] !== undefined ? body : JSON.stringify(body) }),
        });
        const type = String(response.headers['content-type'] ?? '');
        return { status: response.statusCode, body: response.body === '' ? null : type.includes('json') ? response.json() : response.body };
      } finally {
        keygate.auth.forget(bearer);
      }
    },
  };
}

/**
 * Whether `next` is a console page to return to after sign-in: a path under `/console` and
 * nothing else (no scheme, host, `//`, backslash, dot segment or query), so the sign-in page
 * can never redirect anywhere else.
 */
export function consoleReturnPath(next: unknown): string | null {
  // A repeated `?next=` arrives as an array: no return path, not a crash.
  if (typeof next !== 'string') return null;
  if (next !== '/console' && !next.startsWith('/console/')) return null;
  return /^[A-Za-z0-9_/%.-]+$/.test(next) && !next.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(next) && !/%2e|%2f|%5c/i.test(next) ? next : null;
}
