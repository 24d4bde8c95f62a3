import { LRUCache } from 'lru-cache';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { expandScopes, type ScopeMatch } from '../domain/scopes.js';
import { SIGNING_ALGORITHMS, audienceOf, isHs256Kid, scopesOf, type JwtHeader, type TokenClaims } from '../domain/tokens/jwt.js';
import {
  admitJwt,
  authenticateJwt,
  isRejection,
  type AdmissionSources,
  type AuthenticatedJwt,
  type JwtIssuer,
  type JwtKey,
  type JwtSource,
  type Rejection,
  type TokenProfile,
} from '../domain/tokens/pipeline.js';
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
  /** An OpenAPI requirement (ORs of ANDs, the gateway's): when set, checked instead of `scopes`/`match`. */
  anyOf?: readonly (readonly string[])[] | undefined;
  /** Only tokens of this tenant (a tenant-limited root key, or a tenant's own endpoint). */
  tenant?: string | undefined;
}

export interface JwtOutcome {
  result: VerificationResult;
  /** The token's claims once its signature verified; null when they are MALFORMED (not to be acted on). */
  claims: TokenClaims | null;
  tenant: Tenant | null;
  /**
   * Signed by one of the tenant's signing keys: a token Keygate issued. A tenant's self-issued
   * HS256 token is not, whatever `client_id` or `jti` it claims.
   */
  issuedByKeygate: boolean;
}

/** The tenant a token's issuer names, and whether its kid names one of the tenant's HS256 secrets. */
interface TokenTenant {
  slug: string;
  tenant: Tenant;
  hs: boolean;
}

/** A token whose issuer, header, claims and signature were checked: what a second presentation may skip. */
interface VerifiedToken {
  payload: TokenClaims;
  slug: string;
  tenant: Tenant;
  kid: string;
  hs: boolean;
  audience: string | null;
  scopes: string[];
  expiresAtIso: string;
  /** When the cache entry dies: the token's exp. */
  expiresAtMs: number;
  /** The scopes with the API's implications, for the API object they were computed from. */
  held: { api: Api; scopes: ReadonlySet<string> } | null;
  /** The rules of an HS256 token, for the tenant object (and so the lifetime cap) they were made from. */
  profile: { tenant: Tenant; profile: TokenProfile } | null;
}

/** One presentation of a verified token: what steps 8 and 9 look things up for. */
interface Presentation {
  token: VerifiedToken;
  check: JwtCheck;
}

const VERIFIED_CACHE_SIZE = 10_000;

/** Keygate's own access tokens (RFC 9068): signed by a tenant's signing key, `typ` at+jwt. */
const KEYGATE_TOKENS: TokenProfile = Object.freeze({ algorithms: SIGNING_ALGORITHMS, requireAtJwt: true, requireKid: true, clockToleranceSec: 0 });

/** A tenant's self-issued token: HS256 with a secret it holds, claims it chose, bounded by its cap. */
function selfIssuedTokens(tenant: Tenant): TokenProfile {
  return { algorithms: ['HS256'], requireAtJwt: false, requireKid: true, clockToleranceSec: 0, selfIssued: { maxLifetimeSec: tenant.hs256MaxLifetime } };
}

const NO_SUCH_API: Rejection = Object.freeze({ code: 'NOT_FOUND', detail: 'the API of the token is gone' });
const OTHER_API: Rejection = Object.freeze({ code: 'WRONG_AUDIENCE', detail: 'aud names no API of the tenant' });

/**
 * Verifies a JWT presented as a credential — Keygate's own tokens and tenants' self-issued HS256
 * tokens — into the same result as an API key, through the one pipeline
 * (`domain/tokens/pipeline.ts`). The issuer names the tenant; the header's kid names the key,
 * and the token's `alg` must be that key's algorithm (no algorithm confusion).
 *
 * A token that authenticated is remembered until its `exp`, keyed by its SHA-256 (never the
 * token itself), so presenting it again skips decoding and the signature; the claim, revocation
 * and scope checks (`admitJwt`) run every time.
 */
export class JwtVerifier {
  private readonly issuerPrefix: string;
  private readonly verified = new LRUCache<string, VerifiedToken>({ max: VERIFIED_CACHE_SIZE });
  private readonly source: JwtSource<TokenTenant>;
  private readonly admission: AdmissionSources<Presentation>;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly signingKeys: SigningKeysService,
    private readonly hs256: Hs256SecretsService,
    private readonly revocations: RevocationsService,
  ) {
    this.issuerPrefix = `${ctx.publicUrl}/t/`;
    this.source = { issuer: (iss, header) => this.issuerOf(iss, header), key: (issuer, header) => this.keyOf(issuer.context, header) };
    this.admission = {
      held: (presentation) => this.heldScopes(presentation),
      revocations: ({ token }) => this.revocations.stateIfLoaded(token.tenant.id) ?? this.revocations.state(token.tenant.id),
    };
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
      const authenticated = await authenticateJwt(token, this.source);
      if (isRejection(authenticated)) return fail(authenticated.code);
      verified = verifiedToken(authenticated);
      this.verified.set(hash, verified);
    }
    if (check.tenant !== undefined && verified.slug !== check.tenant) return fail('NOT_FOUND');
    return this.evaluate(verified, check, now);
  }

  /** Pipeline step 2: the tenant the issuer names. The directory answers a reserved slug (`_system`) as unknown: no token is ever of it. */
  private async issuerOf(iss: string, header: JwtHeader): Promise<JwtIssuer<TokenTenant> | null> {
    if (!iss.startsWith(this.issuerPrefix)) return null;
    const slug = iss.slice(this.issuerPrefix.length);
    const tenant = await this.ctx.directory.tenant(slug);
    if (tenant === null) return null;
    const hs = typeof header.kid === 'string' && isHs256Kid(header.kid);
    return { issuer: iss, profile: hs ? selfIssuedTokens(tenant) : KEYGATE_TOKENS, context: { slug, tenant, hs } };
  }

  /** Pipeline step 5: a signing key of the tenant, or one of its live HS256 secrets. */
  private async keyOf({ tenant, hs }: TokenTenant, header: JwtHeader): Promise<JwtKey | null> {
    const kid = header.kid as string;
    if (!hs) return this.signingKeys.verifier(tenant.id, kid);
    const verify = await this.hs256.verifier(tenant.id, kid);
    return verify === null ? null : { alg: 'HS256', verify };
  }

  /** Pipeline steps 7–10 on every presentation, with the tenant's current rules. */
  private async evaluate(token: VerifiedToken, check: JwtCheck, now: number): Promise<JwtOutcome> {
    // A self-issued token is held to its tenant's current cap, so lowering the cap binds tokens already out.
    const cachedTenant = token.hs ? this.ctx.directory.tenantIfCached(token.slug) : token.tenant;
    const current = cachedTenant !== undefined ? cachedTenant : await this.ctx.directory.tenant(token.slug);
    if (current === null) return outcome(token, 'NOT_FOUND');
    const admitted = admitJwt(token.payload, token.payload.iss, {
      profile: this.profileOf(token, current),
      audience: check.api,
      now,
      required: check.scopes,
      match: check.match,
      anyOf: check.anyOf,
      sources: this.admission,
      subject: { token, check },
    });
    const rejection = admitted instanceof Promise ? await admitted : admitted;
    return outcome(token, rejection === null ? 'VALID' : rejection.code);
  }

  private profileOf(token: VerifiedToken, current: Tenant): TokenProfile {
    if (!token.hs) return KEYGATE_TOKENS;
    if (token.profile === null || token.profile.tenant !== current) token.profile = { tenant: current, profile: selfIssuedTokens(current) };
    return token.profile.profile;
  }

  /** Pipeline step 8: the token's scopes with its API's implications. The common case needs no promise: the API is in memory. */
  private heldScopes({ token, check }: Presentation): ReadonlySet<string> | Rejection | Promise<ReadonlySet<string> | Rejection> {
    const { tenant, audience } = token;
    const cachedApi = audience === null ? null : this.ctx.directory.apiIfCached(tenant.id, audience);
    if (cachedApi === undefined) return this.ctx.directory.api(tenant.id, audience!).then((api) => heldFor(token, api, check));
    return heldFor(token, cachedApi, check);
  }
}

function heldFor(token: VerifiedToken, api: Api | null, check: JwtCheck): ReadonlySet<string> | Rejection {
  if (api === null) return check.api === null ? NO_SUCH_API : OTHER_API;
  if (token.held === null || token.held.api !== api) token.held = { api, scopes: expandScopes(token.scopes, api.scopes) };
  return token.held.scopes;
}

function verifiedToken({ header, payload, issuer }: AuthenticatedJwt<TokenTenant>): VerifiedToken {
  const { slug, tenant, hs } = issuer.context;
  return {
    payload,
    slug,
    tenant,
    // The header step admitted only a token with a kid.
    kid: header.kid as string,
    hs,
    audience: audienceOf(payload),
    scopes: scopesOf(payload),
    // The claims step admitted only a NumericDate (up to year 9999), which every Date can hold.
    expiresAtIso: new Date(payload.exp! * 1000).toISOString(),
    expiresAtMs: payload.exp! * 1000,
    held: null,
    profile: null,
  };
}

function outcome(token: VerifiedToken, code: VerificationCode): JwtOutcome {
  const { payload } = token;
  return {
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
    tenant: token.tenant,
    issuedByKeygate: !token.hs,
  };
}

function fail(code: Rejection['code']): JwtOutcome {
  return { result: emptyResult(code), claims: null, tenant: null, issuedByKeygate: false };
}
