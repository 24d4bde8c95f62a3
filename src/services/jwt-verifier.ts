import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { expandScopes, type ScopeMatch } from '../domain/scopes.js';
import { SIGNING_ALGORITHMS, audienceOf, isHs256Kid, scopesOf, type JwtHeader, type TokenClaims } from '../domain/tokens/jwt.js';
import {
  admitJwt,
  authenticateJwt,
  isRejection,
  type AdmissionSources,
  type Awaitable,
  type AuthenticatedJwt,
  type JwtIssuer,
  type JwtKey,
  type JwtSource,
  type Rejection,
  type TokenProfile,
} from '../domain/tokens/pipeline.js';
import { emptyResult, type RatelimitState, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import { hashSecret } from '../crypto/secrets.js';
import type { ServiceContext } from './context.js';
import type { SignatureVerifier } from '../crypto/signing.js';
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
  /** Frozen: shared by the tokens of one scope text, and handed out in results. */
  scopes: readonly string[];
  expiresAtIso: string;
  /** When the cache entry dies: the token's exp. */
  expiresAtMs: number;
  /** The scopes with the API's implications, for the API object they were computed from. */
  held: { api: Api; scopes: ReadonlySet<string> } | null;
}

/** One presentation of a verified token: what steps 8 and 9 look things up for. */
interface Presentation {
  token: VerifiedToken;
  check: JwtCheck;
}

/** Tokens remembered: between this many and twice as many (`RecentTokens`). */
const VERIFIED_CACHE_SIZE = 5_000;

/**
 * Token hash → what authentication established, for the last `max` to `2 × max` tokens
 * authenticated, in two generations: new tokens go into the young Map, and when it holds `max`
 * the old one is dropped whole and the young one takes its place. Every first-seen token is
 * added, so adding must cost little: lru-cache's bookkeeping, or deleting a Map's oldest entry
 * (and a Map's `keys().next()`, which walks over deleted entries), cost more than the rest of
 * the lookup. A token seen in the old generation is moved to the young one.
 */
class RecentTokens {
  private young = new Map<string, VerifiedToken>();
  private old = new Map<string, VerifiedToken>();

  constructor(private readonly max: number) {}

  get(hash: string): VerifiedToken | undefined {
    const found = this.young.get(hash);
    if (found !== undefined || this.old.size === 0) return found;
    const older = this.old.get(hash);
    if (older !== undefined) this.set(hash, older);
    return older;
  }

  set(hash: string, token: VerifiedToken): void {
    if (this.young.size >= this.max) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(hash, token);
  }

  delete(hash: string): void {
    this.young.delete(hash);
    this.old.delete(hash);
  }
}

/** Keygate's own access tokens (RFC 9068): signed by a tenant's signing key, `typ` at+jwt. */
const KEYGATE_TOKENS: TokenProfile = Object.freeze({ algorithms: SIGNING_ALGORITHMS, requireAtJwt: true, requireKid: true, clockToleranceSec: 0 });

/** A tenant's self-issued token: HS256 with a secret it holds, claims it chose, bounded by its cap. */
function selfIssuedTokens(tenant: Tenant): TokenProfile {
  let profile = selfIssuedProfiles.get(tenant);
  if (profile === undefined) {
    profile = Object.freeze({ algorithms: ['HS256'], requireAtJwt: false, requireKid: true, clockToleranceSec: 0, selfIssued: { maxLifetimeSec: tenant.hs256MaxLifetime } } as const);
    selfIssuedProfiles.set(tenant, profile);
  }
  return profile;
}

/**
 * What is made once per tenant object, HS256 secret or scope text rather than per token (a
 * tenant object is replaced when the tenant changes, so its rules are never stale).
 */
const selfIssuedProfiles = new WeakMap<Tenant, TokenProfile>();
const tenantIssuers = new WeakMap<Tenant, { hs: JwtIssuer<TokenTenant>; signed: JwtIssuer<TokenTenant> }>();
const hs256Keys = new WeakMap<SignatureVerifier, JwtKey>();

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
  private lastIssuer = { iss: '', slug: '' };
  private readonly verified = new RecentTokens(VERIFIED_CACHE_SIZE);
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

  /**
   * The outcome at once, not a promise, when everything it needs is in memory: the tenant, the
   * HS256 secret or signing key, the API and the revocations (every token after a tenant's first).
   */
  verify(token: string, check: JwtCheck): Awaitable<JwtOutcome> {
    const now = this.ctx.clock();
    const hash = hashSecret(token);
    const verified = this.verified.get(hash);
    if (verified === undefined) return this.authenticate(token, hash, check, now);
    if (verified.expiresAtMs <= now) return this.forget(token, hash, check, now);
    if (!verified.hs) return this.admit(verified, check, now);
    // A revoked HS256 secret takes the tokens it signed with it, however recently they were seen.
    const live = this.hs256.verifierIfCached(verified.tenant.id, verified.kid);
    if (live === undefined) return this.hs256.verifier(verified.tenant.id, verified.kid).then((found) => (found === null ? this.forget(token, hash, check, now) : this.admit(verified, check, now)));
    return live === null ? this.forget(token, hash, check, now) : this.admit(verified, check, now);
  }

  private forget(token: string, hash: string, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
    this.verified.delete(hash);
    return this.authenticate(token, hash, check, now);
  }

  /** Pipeline steps 1–6 for a token not (or no longer) remembered, then 7–10. */
  private authenticate(token: string, hash: string, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
    const authenticated = authenticateJwt(token, this.source);
    if (authenticated instanceof Promise) return authenticated.then((found) => this.remember(found, hash, check, now));
    return this.remember(authenticated, hash, check, now);
  }

  private remember(authenticated: AuthenticatedJwt<TokenTenant> | Rejection, hash: string, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
    if (isRejection(authenticated)) return fail(authenticated.code);
    const verified = verifiedToken(authenticated);
    this.verified.set(hash, verified);
    return this.admit(verified, check, now);
  }

  private admit(verified: VerifiedToken, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
    if (check.tenant !== undefined && verified.slug !== check.tenant) return fail('NOT_FOUND');
    return this.evaluate(verified, check, now);
  }

  /** Pipeline step 2: the tenant the issuer names. The directory answers a reserved slug (`_system`) as unknown: no token is ever of it. */
  private issuerOf(iss: string, header: JwtHeader): Awaitable<JwtIssuer<TokenTenant> | null> {
    if (!iss.startsWith(this.issuerPrefix)) return null;
    // The slug of the last issuer again when it is the same (one string, whose hash the Map keeps).
    if (iss !== this.lastIssuer.iss) this.lastIssuer = { iss, slug: iss.slice(this.issuerPrefix.length) };
    const { slug } = this.lastIssuer;
    const cached = this.ctx.directory.tenantIfCached(slug);
    if (cached === undefined) return this.ctx.directory.tenant(slug).then((tenant) => issuerFor(iss, slug, tenant, header));
    return issuerFor(iss, slug, cached, header);
  }

  /** Pipeline step 5: a signing key of the tenant, or one of its live HS256 secrets. */
  private keyOf({ tenant, hs }: TokenTenant, header: JwtHeader): Awaitable<JwtKey | null> {
    const kid = header.kid as string;
    if (!hs) return this.signingKeys.verifier(tenant.id, kid);
    const cached = this.hs256.verifierIfCached(tenant.id, kid);
    if (cached === undefined) return this.hs256.verifier(tenant.id, kid).then(hs256Key);
    return hs256Key(cached);
  }

  /** Pipeline steps 7–10 on every presentation, with the tenant's current rules. */
  private evaluate(token: VerifiedToken, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
    // A self-issued token is held to its tenant's current cap, so lowering the cap binds tokens already out.
    const cachedTenant = token.hs ? this.ctx.directory.tenantIfCached(token.slug) : token.tenant;
    if (cachedTenant === undefined) return this.ctx.directory.tenant(token.slug).then((current) => this.evaluateFor(token, current, check, now));
    return this.evaluateFor(token, cachedTenant, check, now);
  }

  private evaluateFor(token: VerifiedToken, current: Tenant | null, check: JwtCheck, now: number): Awaitable<JwtOutcome> {
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
    if (admitted instanceof Promise) return admitted.then((rejection) => outcome(token, rejection === null ? 'VALID' : rejection.code));
    return outcome(token, admitted === null ? 'VALID' : admitted.code);
  }

  private profileOf(token: VerifiedToken, current: Tenant): TokenProfile {
    return token.hs ? selfIssuedTokens(current) : KEYGATE_TOKENS;
  }

  /** Pipeline step 8: the token's scopes with its API's implications. The common case needs no promise: the API is in memory. */
  private heldScopes({ token, check }: Presentation): ReadonlySet<string> | Rejection | Promise<ReadonlySet<string> | Rejection> {
    const { tenant, audience } = token;
    const cachedApi = audience === null ? null : this.ctx.directory.apiIfCached(tenant.id, audience);
    if (cachedApi === undefined) return this.ctx.directory.api(tenant.id, audience!).then((api) => heldFor(token, api, check));
    return heldFor(token, cachedApi, check);
  }
}

function issuerFor(iss: string, slug: string, tenant: Tenant | null, header: JwtHeader): JwtIssuer<TokenTenant> | null {
  if (tenant === null) return null;
  const hs = typeof header.kid === 'string' && isHs256Kid(header.kid);
  let issuers = tenantIssuers.get(tenant);
  if (issuers === undefined || issuers.hs.issuer !== iss) {
    issuers = Object.freeze({
      hs: Object.freeze({ issuer: iss, profile: selfIssuedTokens(tenant), context: Object.freeze({ slug, tenant, hs: true }) }),
      signed: Object.freeze({ issuer: iss, profile: KEYGATE_TOKENS, context: Object.freeze({ slug, tenant, hs: false }) }),
    });
    tenantIssuers.set(tenant, issuers);
  }
  return hs ? issuers.hs : issuers.signed;
}

function hs256Key(verify: SignatureVerifier | null): JwtKey | null {
  if (verify === null) return null;
  let key = hs256Keys.get(verify);
  if (key === undefined) hs256Keys.set(verify, (key = Object.freeze({ alg: 'HS256', verify } as const)));
  return key;
}

function heldFor(token: VerifiedToken, api: Api | null, check: JwtCheck): ReadonlySet<string> | Rejection {
  if (api === null) return check.api === null ? NO_SUCH_API : OTHER_API;
  if (token.held === null || token.held.api !== api) token.held = { api, scopes: heldScopesOf(api, token.payload.scope, token.scopes) };
  return token.held.scopes;
}

/**
 * The scopes a token holds at an API, with the API's implications, shared by the tokens whose
 * `scope` claim is the same text (a client's tokens mostly are): per API object, so a changed
 * catalog (a new object) starts afresh; at most MAX_HELD_PER_API texts per API. Read-only.
 */
const heldByApi = new WeakMap<Api, Map<string, ReadonlySet<string>>>();
const MAX_HELD_PER_API = 64;

function heldScopesOf(api: Api, scopeText: string | undefined, scopes: readonly string[]): ReadonlySet<string> {
  if (scopeText === undefined) return expandScopes(scopes, api.scopes);
  let byText = heldByApi.get(api);
  if (byText === undefined) heldByApi.set(api, (byText = new Map()));
  let held = byText.get(scopeText);
  if (held === undefined) {
    if (byText.size >= MAX_HELD_PER_API) byText.clear();
    held = expandScopes(scopes, api.scopes);
    byText.set(scopeText, held);
  }
  return held;
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
    scopes: scopeListOf(payload),
    expiresAtIso: isoOfExp(payload.exp!),
    expiresAtMs: payload.exp! * 1000,
    held: null,
  };
}

/** A token's scopes, shared (frozen) by the tokens whose `scope` claim is the same text; at most MAX_SCOPE_TEXTS kept. */
const scopeLists = new Map<string, readonly string[]>();
const MAX_SCOPE_TEXTS = 256;

function scopeListOf(payload: TokenClaims): readonly string[] {
  const text = payload.scope;
  if (text === undefined) return Object.freeze(scopesOf(payload));
  let scopes = scopeLists.get(text);
  if (scopes === undefined) {
    if (scopeLists.size >= MAX_SCOPE_TEXTS) scopeLists.clear();
    scopes = Object.freeze(scopesOf(payload));
    scopeLists.set(text, scopes);
  }
  return scopes;
}

const NO_META: Readonly<Record<string, unknown>> = Object.freeze({});
const NO_RATELIMITS: RatelimitState[] = Object.freeze([]) as unknown as RatelimitState[];

/** The last `exp` formatted, and its text: tokens minted in the same second share it, and a Date's ISO text costs a microsecond. */
let lastExp = -1;
let lastExpIso = '';

function isoOfExp(exp: number): string {
  if (exp !== lastExp) {
    // The claims step admitted only a NumericDate (up to year 9999), which every Date can hold.
    lastExpIso = new Date(exp * 1000).toISOString();
    lastExp = exp;
  }
  return lastExpIso;
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
      scopes: token.scopes as string[],
      meta: typeof payload.client_id === 'string' ? { clientId: payload.client_id } : NO_META,
      expiresAt: token.expiresAtIso,
      ratelimits: NO_RATELIMITS,
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
