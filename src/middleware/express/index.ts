import { createKeygateVerifier, denialResponse, type KeygateIdentity, type KeygateVerifierOptions, type ScopeMatch } from '../core/index.js';

export type { DenialReason, KeygateIdentity, KeygateVerifierOptions as KeygateAuthOptions, ScopeMatch } from '../core/index.js';

declare global {
  // Express's own types put request extensions on this global namespace (as passport does).
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by `keygateAuth(…).requireScopes(…)` once the credential is verified. */
      keygate?: KeygateIdentity;
    }
  }
}

/** The parts of Express's request and response the middleware uses, typed structurally. */
export interface ExpressLikeRequest {
  headers: { authorization?: string | undefined; 'x-forwarded-for'?: string | string[] | undefined };
  /** The connection; its peer is the caller unless `trustProxy` says to believe `X-Forwarded-For`. */
  socket?: { remoteAddress?: string | undefined } | undefined;
  keygate?: KeygateIdentity;
}

export interface ExpressLikeResponse {
  status(code: number): this;
  set(headers: Record<string, string>): this;
  json(body: unknown): unknown;
}

export type KeygateRequestHandler = (req: ExpressLikeRequest, res: ExpressLikeResponse, next: (error?: unknown) => void) => void;

export interface KeygateExpress {
  /** A request handler that lets the request through only with a valid credential holding the scopes. */
  requireScopes(scopes: readonly string[], options?: { match?: ScopeMatch }): KeygateRequestHandler;
  /** Stops the revocation poll; call it when the server shuts down. */
  close(): Promise<void>;
}

/**
 * Express middleware: `requireScopes` answers 401/403/429/503 per RFC 6750 or puts the verified
 * identity on `req.keygate`. Works with Express 4 and 5 (and any framework with the same
 * `req`/`res`). The caller's address comes from the socket, or from `X-Forwarded-For` as the
 * `trustProxy` option says (the app's own `trust proxy` setting is not read).
 *
 * @example
 * const auth = keygateAuth({ issuer: 'https://keygate.example.com/t/acme', audience: 'https://api.acme.com', rootKey: process.env.KEYGATE_ROOT_KEY });
 * app.get('/users', auth.requireScopes(['read:users']), (req, res) => res.json({ caller: req.keygate!.subject }));
 */
export function keygateAuth(options: KeygateVerifierOptions): KeygateExpress {
  const verifier = createKeygateVerifier(options);
  return {
    requireScopes(scopes, scopeOptions = {}) {
      const guard = verifier.requireScopes(scopes, scopeOptions);
      return function keygateRequireScopes(req, res, next) {
        guard(req.headers.authorization, { socketAddress: req.socket?.remoteAddress, forwardedFor: req.headers['x-forwarded-for'] })
          .then((outcome) => {
            if (outcome.ok) {
              req.keygate = outcome.identity;
              next();
              return;
            }
            const { status, headers, body } = denialResponse(outcome);
            res.status(status).set(headers).json(body);
          })
          .catch(next);
      };
    },
    close: () => verifier.close(),
  };
}
