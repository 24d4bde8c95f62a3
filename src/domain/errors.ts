/**
 * Every error Keygate raises on purpose has a stable `code`. Callers switch on `err.code`;
 * `docs/errors.md` lists the same registry and a test fails when the two disagree.
 *
 * These are the management and verify codes, UPPER_SNAKE. The OAuth endpoints answer the RFC
 * error codes of their own registry, `domain/oauth/errors.ts`, spelled as the RFCs spell them.
 */
export const ERROR_REGISTRY = {
  MALFORMED_JSON: { status: 400, title: 'The request body is not valid JSON' },
  JSON_TOO_DEEP: { status: 400, title: 'The JSON body nests arrays and objects deeper than the limit' },
  INVALID_REQUEST: { status: 400, title: 'The request does not match the schema' },
  BODY_TOO_LARGE: { status: 413, title: 'The request body is larger than the limit' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body must be application/json' },
  UNAUTHORIZED: { status: 401, title: 'A valid root key is required' },
  FORBIDDEN: { status: 403, title: 'The root key lacks the scope this action needs' },
  ROUTE_NOT_FOUND: { status: 404, title: 'No such route' },
  TENANT_NOT_FOUND: { status: 404, title: 'No such tenant' },
  API_NOT_FOUND: { status: 404, title: 'No such API in this tenant' },
  KEY_NOT_FOUND: { status: 404, title: 'No such key in this tenant' },
  TENANT_EXISTS: { status: 409, title: 'A tenant with this slug already exists' },
  API_EXISTS: { status: 409, title: 'An API with this identifier already exists in the tenant' },
  INVALID_SCOPE: { status: 400, title: 'A scope name is not a valid scope token' },
  UNKNOWN_SCOPE: { status: 400, title: 'A scope is not in the API scope catalog' },
  SCOPE_NOT_ALLOWED: { status: 403, title: 'A sub-key may not have scopes its parent lacks' },
  EXPIRY_IN_PAST: { status: 400, title: 'expiresAt must be in the future' },
  EXPIRY_AFTER_PARENT: { status: 400, title: 'A sub-key may not outlive its parent' },
  INVALID_CIDR: { status: 400, title: 'An IP allowlist entry is not a valid CIDR' },
  INVALID_CURSOR: { status: 400, title: 'The pagination cursor is not valid' },
  INVALID_TIME_RANGE: { status: 400, title: 'The time range selects nothing' },
  KEY_REVOKED: { status: 409, title: 'The key is revoked and cannot be changed' },
  KEY_CANNOT_MINT: { status: 409, title: 'The key or an ancestor is disabled, expired, rate limited or out of credits, or its chain is full' },
  SUBKEY_LIMIT_REACHED: { status: 409, title: 'The key already has the most sub-keys allowed' },
  META_KEY_INHERITED: { status: 400, title: 'A sub-key may not set a meta name its ancestors set' },
  KEY_IS_GRANT: { status: 409, title: "The key holds a consumer's grant: manage it through the consumer" },
  CONSUMER_NOT_FOUND: { status: 404, title: 'No such consumer in this tenant' },
  CONSUMER_EXISTS: { status: 409, title: 'A consumer with this id already exists in the tenant' },
  NOT_A_MEMBER: { status: 403, title: 'The user is not a member of the consumer' },
  API_NOT_GRANTED: { status: 403, title: 'The consumer holds no grant on this API' },
  CONSUMER_CHANGED: { status: 409, title: "The consumer's grants changed while this change was being made" },
  CONSUMER_KEY_LIMIT_REACHED: { status: 409, title: 'The consumer already holds the most keys its grant allows on this API' },
  GRANT_IS_METERED: { status: 409, title: "The grant has rate limits or credits, which a token's requests would not count against" },
  TOKEN_MINT_LIMIT_REACHED: { status: 429, title: "The consumer's members got as many tokens as they may in the last minute" },
  CLIENT_NOT_FOUND: { status: 404, title: 'No such client in this tenant' },
  TOKEN_NOT_FOUND: { status: 404, title: 'No such issued token in this tenant' },
  SECRET_NOT_FOUND: { status: 404, title: 'No such HS256 secret in this tenant' },
  INVALID_CLIENT_METADATA: { status: 400, title: 'The client registration is not consistent' },
  USER_EXISTS: { status: 409, title: 'A user with this email already exists in the tenant' },
  USER_NOT_FOUND: { status: 404, title: 'No such user in this tenant' },
  OPERATOR_NOT_FOUND: { status: 404, title: 'No such operator' },
  OPERATOR_EXISTS: { status: 409, title: 'An operator with this email already exists' },
  GRANT_NOT_FOUND: { status: 404, title: 'No such grant of this user' },
  WEAK_PASSWORD: { status: 400, title: 'The password does not meet the policy' },
  USER_DISABLED: { status: 409, title: 'The user is disabled' },
  PASSWORD_RESET_DISABLED: { status: 409, title: 'No password-reset delivery is configured' },
  RESET_DELIVERY_FAILED: { status: 502, title: 'The password-reset link could not be delivered' },
  API_IN_USE: { status: 409, title: 'Keys or clients still use the API' },
  SCOPES_IN_USE: { status: 409, title: 'Keys or clients still hold scopes the new catalog drops' },
  SCOPES_IN_DOCUMENT: { status: 409, title: "The API's OpenAPI document requires scopes the new catalog drops" },
  GATEWAY_HOST_TAKEN: { status: 409, title: 'Another API already answers to this gateway host' },
  UPSTREAM_NOT_ALLOWED: { status: 400, title: 'The upstream is an address the gateway may not reach' },
  GATEWAY_HOST_NOT_ALLOWED: { status: 403, title: 'This key may not make the gateway answer to this host' },
  INVALID_OPENAPI: { status: 400, title: 'The OpenAPI document is invalid or names scopes outside the catalog' },
  DOCUMENT_NOT_FOUND: { status: 404, title: 'The API has no OpenAPI document' },
  STORE_UNAVAILABLE: { status: 503, title: 'The store is unreachable; retry shortly' },
  PASSWORD_HASHING_BUSY: { status: 503, title: 'Too many password checks are running; retry shortly' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/**
 * The one error type Keygate throws for expected failures.
 *
 * @example
 * throw new KeygateError('TENANT_NOT_FOUND', `no tenant "${slug}"`);
 */
export class KeygateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Whether `message` may be shown to the caller; 5xx details stay in the log. */
  readonly expose: boolean;
  /** How many of what stand in the way (API_IN_USE, SCOPES_IN_USE, SCOPES_IN_DOCUMENT), e.g. `{ keys: 3, clients: 1 }`. */
  readonly affected: Readonly<Record<string, number>> | undefined;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown; affected?: Record<string, number> }) {
    const entry = ERROR_REGISTRY[code];
    super(message ?? entry.title, options);
    this.name = 'KeygateError';
    this.code = code;
    this.status = entry.status;
    this.expose = entry.status < 500 || entry.status === 502 || entry.status === 503;
    this.affected = options?.affected;
  }
}

export function isKeygateError(value: unknown): value is KeygateError {
  return value instanceof KeygateError;
}
