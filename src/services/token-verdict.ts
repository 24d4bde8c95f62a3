import type { Clock } from '../domain/clock.js';
import type { Tenant } from '../domain/tenants.js';
import { decodeJwt } from '../domain/tokens/jwt.js';
import { isRevoked } from '../domain/tokens/revocation.js';
import type { JwtVerifier } from './jwt-verifier.js';
import type { RevocationsService } from './revocations-service.js';
import { issuerOf } from './tokens-service.js';

/** The token debugger's answer (docs/portal.md): three verdicts and one sentence saying why. */
export interface TokenVerdict {
  /** Signed by one of this tenant's signing keys or live HS256 secrets. */
  signatureValid: boolean;
  /** Null when the signature did not verify: the claims of a forged token mean nothing. */
  expired: boolean | null;
  revoked: boolean | null;
  /** Whether the token would be accepted now, as `POST /v1/verify` decides for any API of the tenant. */
  valid: boolean;
  reason: string;
}

const NOT_A_JWT: TokenVerdict = Object.freeze({
  signatureValid: false,
  expired: null,
  revoked: null,
  valid: false,
  reason: 'This is not a JWT: it needs three base64url parts separated by dots, a JSON header and JSON claims.',
});

/**
 * What the portal's token debugger says about a pasted token, checked only against `tenant`:
 * a token naming any other issuer is answered alike without a lookup, so the answer says nothing
 * about other tenants — not whether one exists, nor whether its token is genuine. Otherwise the
 * token goes through `JwtVerifier`, the pipeline `POST /v1/verify` and introspection use, for
 * any API of the tenant, and an authenticated token's revocation is read even when it has expired.
 *
 * @example
 * const verdict = await tokenVerdict(keygate, tenant, pasted); // { signatureValid: true, expired: false, revoked: false, valid: true, … }
 */
export async function tokenVerdict(
  services: { jwts: JwtVerifier; revocations: RevocationsService; publicUrl: string; clock: Clock },
  tenant: Tenant,
  token: string,
): Promise<TokenVerdict> {
  const decoded = decodeJwt(token);
  if (decoded === null) return NOT_A_JWT;
  if (decoded.payload.iss !== issuerOf(services.publicUrl, tenant.slug)) {
    return { ...NOT_A_JWT, reason: `This token was not issued by ${tenant.name}: only its own tokens are checked here, and this one is not valid here.` };
  }
  const outcome = await services.jwts.verify(token, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
  const code = outcome.result.code;
  // The verifier names the tenant only for a token whose signature verified.
  if (outcome.tenant === null) {
    return {
      ...NOT_A_JWT,
      reason:
        code === 'NOT_FOUND'
          ? `No signing key or HS256 secret of ${tenant.name} has this token's kid: it was retired, deleted, or never ${tenant.name}'s.`
          : `The signature does not verify with ${tenant.name}'s keys, or the header is not one Keygate accepts: the token was changed or forged.`,
    };
  }
  const claims = decoded.payload;
  const now = services.clock();
  const expired = claims.exp !== undefined && claims.exp * 1000 <= now;
  const revoked = code === 'REVOKED' || isRevoked(claims, await services.revocations.state(tenant.id));
  return { signatureValid: true, expired, revoked, valid: code === 'VALID', reason: reasonOf(code, { expired, revoked }) };
}

function reasonOf(code: string, state: { expired: boolean; revoked: boolean }): string {
  switch (code) {
    case 'VALID':
      return 'Signed by this tenant, within its lifetime and not revoked.';
    case 'EXPIRED':
      return state.expired ? `Expired${state.revoked ? ', and revoked too' : ''}.` : 'Not valid yet: its nbf is still ahead.';
    case 'REVOKED':
      return 'Revoked: by its jti, or by a cut-off of its consumer, client or grant.';
    case 'NOT_FOUND':
      return 'The API the token is for no longer exists.';
    case 'WRONG_AUDIENCE':
      return 'Its aud names no API of this tenant.';
    default:
      return 'Its claims break the bounds on tokens of this tenant (lifetime or required claims).';
  }
}
