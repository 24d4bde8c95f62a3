import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createKeygateVerifier, denialResponse, type KeygateIdentity, type KeygateVerifierOptions, type ScopeMatch } from '../core/index.js';

export type { DenialReason, KeygateIdentity, KeygateVerifierOptions as KeygateAuthOptions, ScopeMatch } from '../core/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `keygateAuth(…).requireScopes(…)` once the credential is verified. */
    keygate?: KeygateIdentity | null;
  }
}

export type KeygatePreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

export interface KeygateFastify {
  /** A preHandler hook that lets the request through only with a valid credential holding the scopes. */
  requireScopes(scopes: readonly string[], options?: { match?: ScopeMatch }): KeygatePreHandler;
  /**
   * Optional plugin: decorates `request.keygate` (one object shape for every request, as Fastify
   * recommends) and closes the verifier with the server.
   */
  plugin: (app: FastifyInstance, options: unknown, done: (error?: Error) => void) => void;
  /** Stops the revocation poll; the plugin calls it on the server's onClose. */
  close(): Promise<void>;
}

/**
 * Fastify middleware as preHandler hooks: `requireScopes` answers 401/403/429/503 per RFC 6750
 * or puts the verified identity on `request.keygate`. The caller's address comes from the socket,
 * or from `X-Forwarded-For` as the `trustProxy` option says (Fastify's own `trustProxy` is not read).
 *
 * @example
 * const auth = keygateAuth({ issuer: 'https://keygate.example.com/t/acme', audience: 'https://api.acme.com', rootKey: process.env.KEYGATE_ROOT_KEY });
 * await app.register(auth.plugin);
 * app.get('/users', { preHandler: auth.requireScopes(['read:users']) }, async (request) => ({ caller: request.keygate!.subject }));
 */
export function keygateAuth(options: KeygateVerifierOptions): KeygateFastify {
  const verifier = createKeygateVerifier(options);
  const close = (): Promise<void> => verifier.close();
  const plugin = Object.assign(
    function keygatePlugin(app: FastifyInstance, _options: unknown, done: (error?: Error) => void): void {
      app.decorateRequest('keygate', null);
      app.addHook('onClose', close);
      done();
    },
    // What fastify-plugin sets: decorate the app that registers it, not an encapsulated child.
    { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'keygate' },
  );
  return {
    requireScopes(scopes, scopeOptions = {}) {
      const guard = verifier.requireScopes(scopes, scopeOptions);
      return async function keygateRequireScopes(request, reply) {
        const outcome = await guard(request.headers.authorization, { socketAddress: request.socket.remoteAddress, forwardedFor: request.headers['x-forwarded-for'] });
        if (outcome.ok) {
          request.keygate = outcome.identity;
          return undefined;
        }
        const { status, headers, body } = denialResponse(outcome);
        // Returning the reply tells Fastify the hook has answered.
        return reply.code(status).headers(headers).send(body);
      };
    },
    plugin,
    close,
  };
}
