import type { FastifyReply, FastifyRequest } from 'fastify';
import { KeygateError } from '../domain/errors.js';
import { isReservedSlug } from '../domain/management.js';
import type { Actor } from '../services/context.js';
import type { Principal } from '../services/management-auth.js';
import type { Keygate } from '../services/keygate.js';
import type { AccessTagged } from './route-table.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Reads `Authorization: Bearer <secret>`; anything else is no credential. */
export function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header === undefined || header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') return null;
  return header.slice(7).trim();
}

/**
 * An onRequest hook that authenticates the caller (before the body is parsed) and requires a management scope. With a `slug`
 * route param, a reserved slug (`_system`, see `isReservedSlug`) and, for a root key limited to
 * another tenant, any other tenant get 404, as if the tenant did not exist.
 * `allowKeyHolder` lets an ordinary key through (sub-key creation checks the rest itself).
 * `instanceWide` marks a route beyond any one tenant (metrics, creating a tenant): a root key limited to
 * one tenant gets 403 there, whatever its scopes.
 */
export function requireScope(
  keygate: Keygate,
  scope: string,
  options: { allowKeyHolder?: boolean; instanceWide?: boolean } = {},
): ((request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void) & AccessTagged {
  const access = { kind: 'management' as const, scope, allowKeyHolder: options.allowKeyHolder === true };
  const admit = (request: FastifyRequest, principal: Principal | null): KeygateError | undefined => {
    if (principal === null) return new KeygateError('UNAUTHORIZED', 'send a valid root key as "Authorization: Bearer <key>"');
    const slug = (request.params as { slug?: string } | undefined)?.slug;
    if (slug !== undefined && isReservedSlug(slug)) return new KeygateError('TENANT_NOT_FOUND', `no tenant "${slug}"`);
    if (principal.kind === 'key') {
      if (!options.allowKeyHolder) return new KeygateError('FORBIDDEN', 'this route needs a root key, not an API key');
      if (slug !== principal.tenant) return new KeygateError('TENANT_NOT_FOUND', `no tenant "${slug}"`);
    } else {
      if (slug !== undefined && principal.tenant !== null && principal.tenant !== slug) {
        return new KeygateError('TENANT_NOT_FOUND', `no tenant "${slug}"`);
      }
      if (!principal.scopes.has(scope)) return new KeygateError('FORBIDDEN', `this root key lacks the "${scope}" scope`);
      if (options.instanceWide && principal.tenant !== null) {
        return new KeygateError('FORBIDDEN', `this route spans every tenant; a root key limited to tenant "${principal.tenant}" cannot use it`);
      }
    }
    request.principal = principal;
    return undefined;
  };
  // A callback hook, not an async one: a cached bearer is answered at once (`authenticateNow`),
  // without a promise and a microtask on every management request and every /v1/verify.
  return Object.assign(function authenticate(request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const bearer = bearerOf(request);
    const found = bearer === null ? null : keygate.auth.authenticateNow(bearer, request.ip);
    if (found === null || !(found instanceof Promise)) return done(admit(request, found));
    found.then((principal) => done(admit(request, principal)), done);
  }, { access });
}

/** The audit actor for an authenticated request. */
export function actorOf(request: FastifyRequest): Actor {
  return { id: request.principal?.keyId ?? 'anonymous', requestId: request.id, ip: request.ip };
}
