/**
 * The framework-neutral part of Keygate's middleware: the verifier, the denial → HTTP mapping,
 * and the types every adapter (`../express`, `../fastify`, `../hono`) shares.
 */
export { createKeygateVerifier, type CallerAddress, type KeygateVerifier, type ScopeGuard } from './keygate-verifier.js';
export type { TrustProxySetting } from '../../domain/client-address.js';
export { bearerToken, denialResponse, INVALID_TOKEN_DESCRIPTION, type DenialResponse } from './denial-response.js';
export type { Denial, DenialError, DenialReason, KeygateIdentity, VerificationOutcome } from './outcome.js';
export type { KeygateVerifierOptions } from './verifier-options.js';
export type { ScopeMatch } from '../../domain/scopes.js';
