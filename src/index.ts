/**
 * `keygate`: the offline verifier, the result types and the errors — everything that needs no
 * store, so importing it loads no native addon (better-sqlite3) and no database or Redis client.
 * `createKeygate` and `startServer` live at `keygate/server`; middleware at
 * `keygate/middleware/{express,fastify,hono}`.
 */
export type { Keygate, KeygateOptions } from './services/keygate.js';
export type { VerifyRequest, VerifyOptions } from './services/verify-service.js';
export type { PasswordResetHook, PasswordResetMessage } from './services/password-reset-delivery.js';
export { VERIFICATION_CODES, type VerificationCode, type VerificationResult, type RatelimitState } from './domain/verification.js';
export { KeygateError, ERROR_REGISTRY, type ErrorCode } from './domain/errors.js';
/** Thrown by createKeygate when it cannot start (store unreachable, master key that does not fit the database). */
export { StartupError } from './services/startup-errors.js';
export { parseKey } from './domain/keys/format.js';
export { toStructured, fromStructured, type StructuredScopes } from './domain/scopes.js';
export type { Config } from './config/schema.js';
export {
  createKeygateVerifier,
  denialResponse,
  type CallerAddress,
  type TrustProxySetting,
  type KeygateIdentity,
  type KeygateVerifierOptions,
  type VerificationOutcome,
} from './middleware/core/index.js';
