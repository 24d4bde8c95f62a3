import type { Context, MiddlewareHandler } from 'hono';
import { createKeygateVerifier, denialResponse, type KeygateIdentity, type KeygateVerifierOptions, type ScopeMatch } from '../core/index.js';

export type { DenialReason, KeygateIdentity, KeygateVerifierOptions as KeygateAuthOptions, ScopeMatch } from '../core/index.js';

/** The context variables the middleware sets: `c.get('keygate')` in the handlers after it. */
export interface KeygateEnv {
  Variables: { keygate: KeygateIdentity };
}

export interface KeygateHono {
  /** A middleware that lets the request through only with a valid credential holding the scopes. */
  requireScopes(scopes: readonly string[], options?: { match?: ScopeMatch }): MiddlewareHandler<KeygateEnv>;
  /** Stops the revocation poll; call it when the server shuts down. */
  close(): Promise<void>;
}

/**
 * Hono middleware: `requireScopes` answers 401/403/429/503 per RFC 6750 or sets the verified
 * identity as `c.get('keygate')`. Uses only the Fetch API, so it runs wherever Hono runs and
 * the verifier's timers and `node:crypto` exist (Node, Bun, Deno). The caller's address comes from
 * the runtime's connection (`@hono/node-server`, Bun, Deno), or from `X-Forwarded-For` as the
 * `trustProxy` option says; on a runtime that exposes neither, keys with an IP allowlist are refused.
 *
 * @example
 * const auth = keygateAuth({ issuer: 'https://keygate.example.com/t/acme', audience: 'https://api.acme.com', rootKey: process.env.KEYGATE_ROOT_KEY });
 * app.get('/users', auth.requireScopes(['read:users']), (c) => c.json({ caller: c.get('keygate').subject }));
 */
export function keygateAuth(options: KeygateVerifierOptions): KeygateHono {
  const verifier = createKeygateVerifier(options);
  return {
    requireScopes(scopes, scopeOptions = {}) {
      const guard = verifier.requireScopes(scopes, scopeOptions);
      return async function keygateRequireScopes(c, next) {
        const outcome = await guard(c.req.header('authorization'), { socketAddress: socketAddress(c), forwardedFor: c.req.header('x-forwarded-for') });
        if (outcome.ok) {
          c.set('keygate', outcome.identity);
          await next();
          return undefined;
        }
        const { status, headers, body } = denialResponse(outcome);
        return c.json(body, status, headers);
      };
    },
    close: () => verifier.close(),
  };
}

/**
 * The connection's peer, where the runtime puts it in `c.env` (as Hono's own `getConnInfo`
 * helpers read it): `@hono/node-server` (`incoming.socket`), Bun (`requestIP`), Deno (`remoteAddr`).
 */
function socketAddress(c: Context): string | undefined {
  const env = c.env as Record<string, unknown> | undefined;
  if (typeof env !== 'object' || env === null) return undefined;
  const bindings = (typeof env['server'] === 'object' && env['server'] !== null ? env['server'] : env) as {
    incoming?: { socket?: { remoteAddress?: string } };
    requestIP?: (request: Request) => { address?: string } | null;
    remoteAddr?: { hostname?: string };
  };
  if (bindings.incoming?.socket !== undefined) return bindings.incoming.socket.remoteAddress;
  if (typeof bindings.requestIP === 'function') return bindings.requestIP(c.req.raw)?.address;
  return bindings.remoteAddr?.hostname;
}
