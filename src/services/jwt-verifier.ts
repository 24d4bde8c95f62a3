import type { Tenant } from '../domain/keys/key.js';
import { SYSTEM_TENANT_SLUG } from '../domain/management.js';
import { expandScopes, satisfies, type ScopeMatch } from '../domain/scopes.js';
import { audienceOf, checkClaims, decodeJwt, headerProblem, scopesOf, type TokenClaims } from '../domain/tokens/jwt.js';
import { isRevoked } from '../domain/tokens/revocation.js';
import { emptyResult, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import type { ServiceContext } from './context.js';
import { Hs256SecretsService, isHs256Kid } from './hs256-secrets-service.js';
import type { RevocationsService } from './revocations-service.js';
import type { SigningKeysService } from './signing-keys-service.js';

export interface JwtCheck {
  /** The API identifier the token must be for, or null to accept any of the tenant's APIs (introspection). */
  api: string | null;
  scopes: readonly string[];
  match: ScopeMatch;
  /** Only tokens of this tenant (a tenant-limited root key, or a tenant's own endpoint). */
  tenant?: string;
}

export interface JwtOutcome {
  result: VerificationResult;
  claims: TokenClaims | null;
  tenant: Tenant | null;
}

/**
 * Verifies a JWT presented as a credential — Keygate's own tokens and tenants' self-issued HS256
 * tokens — into the same result as an API key. The issuer names the tenant; the header's kid
 * names the key, and the token's `alg` must be that key's algorithm (no algorithm confusion).
 */
export class JwtVerifier {
  private readonly issuerPrefix: string;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly signingKeys: SigningKeysService,
    private readonly hs256: Hs256SecretsService,
    private readonly revocations: RevocationsService,
  ) {
    this.issuerPrefix = `${ctx.publicUrl}/t/`;
  }

  async verify(token: string, check: JwtCheck): Promise<JwtOutcome> {
    const decoded = decodeJwt(token);
    if (decoded === null) return fail('MALFORMED');
    const { header, payload } = decoded;
    const now = this.ctx.clock();
    if (typeof payload.iss !== 'string' || !payload.iss.startsWith(this.issuerPrefix)) return fail('NOT_FOUND');
    const slug = payload.iss.slice(this.issuerPrefix.length);
    if (slug === SYSTEM_TENANT_SLUG || (check.tenant !== undefined && slug !== check.tenant)) return fail('NOT_FOUND');
    const tenant = await this.ctx.directory.tenant(slug);
    if (tenant === null) return fail('NOT_FOUND');

    const kid = typeof header.kid === 'string' ? header.kid : '';
    const hs = isHs256Kid(kid);
    const key = hs ? { alg: 'HS256' as const, verify: await this.hs256.verifier(tenant.id, kid) } : await this.signingKeys.verifier(tenant.id, kid);
    if (key === null || key.verify === null) return fail(kid === '' ? 'MALFORMED' : 'NOT_FOUND');
    if (headerProblem(header, [key.alg], { requireAtJwt: !hs }) !== null) return fail('MALFORMED');
    try {
      key.verify(token);
    } catch {
      return fail('MALFORMED');
    }

    const claimsCode = checkClaims(payload, { issuer: payload.iss, audience: check.api, now });
    const audience = audienceOf(payload);
    const api = audience === null ? null : await this.ctx.directory.api(tenant.id, audience);
    const scopes = scopesOf(payload);
    const build = (code: VerificationCode): JwtOutcome => ({
      result: {
        valid: code === 'VALID',
        code,
        keyId: typeof payload.jti === 'string' ? payload.jti : null,
        tenant: slug,
        api: audience,
        consumer: payload.sub ?? null,
        scopes,
        meta: typeof payload.client_id === 'string' ? { clientId: payload.client_id } : {},
        expiresAt: typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : null,
        ratelimits: [],
        credits: null,
      },
      claims: payload,
      tenant,
    });
    if (claimsCode !== 'VALID') return build(claimsCode);
    if (api === null) return build(check.api === null ? 'NOT_FOUND' : 'WRONG_AUDIENCE');
    if (isRevoked(payload, await this.revocations.state(tenant.id))) return build('REVOKED');
    if (!satisfies(expandScopes(scopes, api.scopes), check.scopes, check.match)) return build('INSUFFICIENT_SCOPE');
    return build('VALID');
  }
}

function fail(code: 'MALFORMED' | 'NOT_FOUND'): JwtOutcome {
  return { result: emptyResult(code), claims: null, tenant: null };
}
