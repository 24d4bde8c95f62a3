/**
 * RFC 7636 PKCE rules. Only S256 is accepted (RFC 9700 §2.1.1: `plain` offers no protection
 * when the challenge leaks). The hashing itself is in crypto/pkce.ts.
 */
/** The challenge methods accepted and advertised. */
export const CODE_CHALLENGE_METHODS = ['S256'] as const;

const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function isCodeVerifier(value: string): boolean {
  return VERIFIER.test(value);
}

/** A problem with the challenge parameters of an authorization request, or null. */
export function challengeProblem(challenge: string | undefined, method: string | undefined, required: boolean): string | null {
  if (challenge === undefined) {
    if (method !== undefined) return 'code_challenge_method without code_challenge';
    return required ? 'code_challenge is required (PKCE, S256)' : null;
  }
  if (!(CODE_CHALLENGE_METHODS as readonly string[]).includes(method ?? 'plain')) return 'code_challenge_method must be S256';
  if (!CHALLENGE.test(challenge)) return 'code_challenge must be a base64url SHA-256 (43 characters)';
  return null;
}
