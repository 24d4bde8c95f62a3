import { LRUCache } from 'lru-cache';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { expandScopes, satisfies, type ScopeMatch } from '../domain/scopes.js';
import { audienceOf, checkClaims, claimsAreWellFormed, decodeJwt, headerProblem, isHs256Kid, scopesOf, type TokenClaims } from '../domain/tokens/jwt.js';
import { isRevoked } from '../domain/tokens/revocation.js';
import { emptyResult, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import { hashSecret } from '../crypto/secrets.js';
import type { ServiceContext } from './context.js';
import type { Hs256SecretsService } from './hs256-secrets-service.js';
import type { RevocationsService } from './revocations-service.js';
import type { SigningKeysService } from './signing-keys-service.js';

export interface JwtCheck {
  /** The API identifier the token must be for, or null to accept any of the tenant's APIs (introspection). */
  api: string | null;
  scopes: readonly string[];
  match: ScopeMatch;
  /** Only tokens of this tenant (a tenant-limited root key, or a tenant's own endpoint). */
  tenant?: string | undefined;
}

export interface JwtOutcome {
  result: VerificationResult;
  /** The token's claims once its signature verified; null when they are MALFORMED (not to be acted on). */
  claims: TokenClaims | null;
  tenant: Tenant | null;
}

/** A token whose signature and shape were checked: what a second presentation may skip. */
interface VerifiedToken {
  payload: TokenClaims;
  slug: string;
  tenant: Tenant;
  kid: string;
  hs: boolean;
  audience: string | null;
  scopes: string[];
  expiresAtIso: string | null;
  /** When the cache entry dies: the token's exp. */
  expiresAtMs: number;
  /** The scopes with the API's implications, for the API object they were computed from. */
  held: { api: Api; scopes: ReadonlySet<string> } | null;
}

const VERIFIED_CACHE_SIZE = 10_000;

/**
 * Verifies a JWT presented as a credential — Keygate's own tokens and tenants' self-issued HS256
 * tokens — into the same result as an API key. The issuer names the tenant; the header's kid
 * names the key, and the token's `alg` must be that key's algorithm (no algorithm confusion).
 *
 * A token whose signature verified is remembered until its `exp`, keyed by its SHA-256 (never the
 * token itself), so presenting it again skips decoding and the signature; the claim, revocation
 * and scope checks run every time.
 */
export class JwtVerifier {
  private readonly issuerPrefix: string;
  private readonly verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_CACHE_SIZE });

  constructor(
    private readonly ctx: ServiceContext,
    private readonly signingKeys: SigningKeysService,
    private readonly hs256: Hs256SecretsService,
    private readonly revocations: RevocationsService,
  ) {
    this.issuerPrefix = `${ctx.publicUrl}/t/`;
  }

  async verify(token: string, check: JwtCheck): Promise<JwtOutcome> {
    const now = this.ctx.clock();
    const hash = hashSecret(token);
    let verified = this.verified.get(hash);
    if (verified !== undefined && (verified.expiresAtMs <= now || (verified.hs && (await this.hs256.verifier(verified.tenant.id, verified.kid)) === null))) {
      this.verified.delete(hash);
      verified = undefined;
    }
    if (verified === undefined) {
      const authenticated = await this.authenticate(token);
      if ('code' in authenticated) return fail(authenticated.code);
      verified = authenticated;
      this.verified.set(hash, verified);
    }
    if (check.tenant !== undefined && verified.slug !== check.tenant) return fail('NOT_FOUND');
    return this.evaluate(verified, check, now);
  }

  /** Issuer, key, header and signature: everything that does not change between presentations. */
  private async authenticate(token: string): Promise<VerifiedToken | { code: 'MALFORMED' | 'NOT_FOUND' }> {
    const decoded = decodeJwt(token);
    if (decoded === null) return { code: 'MALFORMED' };
    const { header, payload } = decoded;
    if (typeof payload.iss !== 'string' || !payload.iss.startsWith(this.issuerPrefix)) return { code: 'NOT_FOUND' };
    const slug = payload.iss.slice(this.issuerPrefix.length);
    // The directory answers a reserved slug (`_system`) as unknown: no token is ever of it.
    const tenant = await this.ctx.directory.tenant(slug);
    if (tenant === null) return { code: 'NOT_FOUND' };
    const kid = typeof header.kid === 'string' ? header.kid : '';
    const hs = isHs256Kid(kid);
    const key = hs ? { alg: 'HS256' as const, verify: await this.hs256.verifier(tenant.id, kid) } : await this.signingKeys.verifier(tenant.id, kid);
    if (key === null || key.verify === null) return { code: kid === '' ? 'MALFORMED' : 'NOT_FOUND' };
    if (headerProblem(header, [key.alg], { requireAtJwt: !hs }) !== null) return { code: 'MALFORMED' };
    if (!key.verify(token)) return { code: 'MALFORMED' };
    // Dates are checked before anything computes with them: `exp` 1e15 is no Date (RangeError).
    if (!claimsAreWellFormed(payload)) return { code: 'MALFORMED' };
    return {
      payload,
      slug,
      tenant,
      kid,
      hs,
      audience: audienceOf(payload),
      scopes: scopesOf(payload),
      expiresAtIso: new Date(payload.exp! * 1000).toISOString(),
      expiresAtMs: payload.exp! * 1000,
      held: null,
    };
  }

  /** Lifetime, audience, revocation and scopes: checked on every presentation. */
  private async evaluate(token: VerifiedToken, check: JwtCheck, now: number): Promise<JwtOutcome> {
    const { payload, tenant } = token;
    const build = (code: VerificationCode): JwtOutcome => ({
      result: {
        valid: code === 'VALID',
        code,
        keyId: typeof payload.jti === 'string' ? payload.jti : null,
        tenant: token.slug,
        api: token.audience,
        consumer: payload.sub ?? null,
        scopes: token.scopes,
        meta: typeof payload.client_id === 'string' ? { clientId: payload.client_id } : {},
        expiresAt: token.expiresAtIso,
        ratelimits: [],
        credits: null,
      },
      // Claims Keygate refuses to accept are nobody's to act on (revocation, introspection).
      claims: code === 'MALFORMED' ? null : payload,
      tenant,
    });
    // A self-issued token is held to its tenant's current cap, so lowering the cap binds tokens already out.
    const cachedTenant = token.hs ? this.ctx.directory.tenantIfCached(token.slug) : tenant;
    const current = cachedTenant !== undefined ? cachedTenant : await this.ctx.directory.tenant(token.slug);
    if (current === null) return build('NOT_FOUND');
    const claimsCode = checkClaims(payload, {
      issuer: payload.iss,
      audience: check.api,
      now,
      ...(token.hs ? { selfIssued: { maxLifetimeSec: current.hs256MaxLifetime } } : {}),
    });
    if (claimsCode !== 'VALID') return build(claimsCode);
    // The common case needs no promise: the API and the revocations are already in memory.
    const cachedApi = token.audience === null ? null : this.ctx.directory.apiIfCached(tenant.id, token.audience);
    const api = cachedApi !== undefined ? cachedApi : await this.ctx.directory.api(tenant.id, token.audience!);
    if (api === null) return build(check.api === null ? 'NOT_FOUND' : 'WRONG_AUDIENCE');
    const revoked = this.revocations.stateIfLoaded(tenant.id) ?? (await this.revocations.state(tenant.id));
    if (isRevoked(payload, revoked)) return build('REVOKED');
    if (token.held === null || token.held.api !== api) token.held = { api, scopes: expandScopes(token.scopes, api.scopes) };
    if (!satisfies(token.held.scopes, check.scopes, check.match)) return build('INSUFFICIENT_SCOPE');
    return build('VALID');
  }
}

function fail(code: 'MALFORMED' | 'NOT_FOUND'): JwtOutcome {
  return { result: emptyResult(code), claims: null, tenant: null };
}
