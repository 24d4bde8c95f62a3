/**
 * OAuth 2.0 errors, spelled exactly as the RFCs spell them. The token, revocation and
 * introspection endpoints answer `{error, error_description}` (RFC 6749 §5.2) with these codes;
 * bearer-token failures use RFC 6750's `invalid_token` and `insufficient_scope`.
 */
export const OAUTH_ERRORS = {
  invalid_request: { status: 400, rfc: 'RFC 6749 §5.2' },
  invalid_client: { status: 401, rfc: 'RFC 6749 §5.2' },
  invalid_grant: { status: 400, rfc: 'RFC 6749 §5.2' },
  unauthorized_client: { status: 400, rfc: 'RFC 6749 §5.2' },
  unsupported_grant_type: { status: 400, rfc: 'RFC 6749 §5.2' },
  invalid_scope: { status: 400, rfc: 'RFC 6749 §5.2' },
  invalid_target: { status: 400, rfc: 'RFC 8707 §2' },
  unsupported_token_type: { status: 400, rfc: 'RFC 7009 §2.2.1' },
  invalid_token: { status: 401, rfc: 'RFC 6750 §3.1' },
  insufficient_scope: { status: 403, rfc: 'RFC 6750 §3.1' },
  server_error: { status: 500, rfc: 'RFC 6749 §4.1.2.1' },
  temporarily_unavailable: { status: 503, rfc: 'RFC 6749 §4.1.2.1' },
} as const;

export type OAuthErrorCode = keyof typeof OAUTH_ERRORS;

/**
 * @example
 * throw new OAuthError('invalid_scope', 'read:admin is not allowed for this client');
 */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  /** Seconds to wait, sent as Retry-After (client-authentication lockout). */
  readonly retryAfter: number | undefined;

  constructor(code: OAuthErrorCode, description: string, options: { status?: number; retryAfter?: number } = {}) {
    super(description);
    this.name = 'OAuthError';
    this.code = code;
    this.status = options.status ?? OAUTH_ERRORS[code].status;
    this.retryAfter = options.retryAfter;
  }
}
