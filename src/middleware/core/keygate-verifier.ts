import { LRUCache } from 'lru-cache';
import { hashSecret } from '../../crypto/secrets.js';
import { clientAddress, compileTrustProxy, type TrustProxy } from '../../domain/client-address.js';
import { checkKeyShape } from '../../domain/keys/format.js';
import { isScopeToken, type ScopeMatch } from '../../domain/scopes.js';
import { MAX_TOKEN_LENGTH, SIGNING_ALGORITHMS, isHs256Kid, looksLikeJwt, scopesOf, type TokenClaims } from '../../domain/tokens/jwt.js';
import {
  admitJwt,
  checkSignature,
  claimsStep,
  type AdmissionSources,
  isRejection,
  precheckJwt,
  revocationStep,
  type JwtIssuer,
  type JwtSource,
  type PrecheckedJwt,
  type Rejection,
  type TokenProfile,
} from '../../domain/tokens/pipeline.js';
import type { RevocationState } from '../../domain/tokens/revocation.js';
import type { VerificationResult } from '../../domain/verification.js';
import { bearerToken } from './denial-response.js';
import { JwksCache } from './jwks-cache.js';
import { KeygateHttp, KeygateUnavailableError } from './keygate-http.js';
import {
  INVALID_TOKEN,
  MISSING_TOKEN,
  UNAVAILABLE,
  type Denial,
  type DenialReason,
  type KeygateIdentity,
  type Requirement,
  type VerificationOutcome,
} from './outcome.js';
import { RemoteVerifier } from './remote-verifier.js';
import { RevocationFeed } from './revocation-feed.js';
import { resolveOptions, type KeygateVerifierOptions, type ResolvedOptions } from './verifier-options.js';

/**
 * Where a request came from, as the framework saw it: the socket peer's address and the
 * `X-Forwarded-For` header. The verifier picks the caller's address from them by `trustProxy`.
 */
export interface CallerAddress {
  socketAddress: string | undefined;
  forwardedFor?: string | readonly string[] | undefined;
}

/**
 * Checks the Authorization header of one request against the route's requirement. With the
 * caller's address, keys with an IP allowlist are checked against it (without, they are refused).
 */
export type ScopeGuard = (authorization: string | undefined, caller?: CallerAddress) => Promise<VerificationOutcome>;

export interface KeygateVerifier {
  /**
   * A guard for routes that need these scopes (all of them, or any with `match: 'any'`; none:
   * any valid credential). The scopes are validated here: a bad one throws a TypeError.
   */
  requireScopes(scopes: readonly string[], options?: { match?: ScopeMatch }): ScopeGuard;
  /**
   * Verifies a bare token (for transports without an Authorization header). `ip` is the caller's
   * address as you determined it, for keys with an IP allowlist.
   */
  verify(token: string, requirement?: { scopes?: readonly string[]; match?: ScopeMatch; ip?: string }): Promise<VerificationOutcome>;
  /** Stops the revocation poll and aborts calls to Keygate; later checks answer 503. */
  close(): Promise<void>;
}

const MAX_CACHED_TOKENS = 10_000;
/** As many scopes as `POST /v1/verify` accepts. */
const MAX_REQUIRED_SCOPES = 100;
const EMPTY_META: Readonly<Record<string, unknown>> = Object.freeze({});
const RATE_LIMITED: Denial = Object.freeze({ ok: false, status: 429, error: 'rate_limited' });
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const TRUST_NO_PROXY = compileTrustProxy(false);

/** A Keygate-signed token that authenticated (pipeline steps 1–6), kept until evicted; steps 7–10 run on every request. */
interface VerifiedToken {
  identity: KeygateIdentity;
  held: ReadonlySet<string>;
  payload: TokenClaims;
}

/** Steps 8 and 9 in the middleware: the token's own scopes, and the revocation state read before. */
const ADMISSION: AdmissionSources<{ verified: VerifiedToken; state: RevocationState | null }> = {
  held: ({ verified }) => verified.held,
  revocations: ({ state }) => state,
};

/** Whether the token's kid names one of the tenant's HS256 secrets, which only Keygate holds. */
type TokenKind = { hs: boolean };

/**
 * The framework-neutral verifier behind every middleware. Keygate-signed JWTs are verified
 * offline against the tenant's JWKS and then cost a Map lookup; API keys and HS256 tokens are
 * asked of `POST /v1/verify` (with the root key) and the answer reused for `apiKeyCacheMs`;
 * JWT revocations come from the revocation feed, polled every `revocationPollMs`. A bad
 * credential is an outcome, never an exception; options are checked here and throw TypeError.
 *
 * @example
 * const verifier = createKeygateVerifier({ issuer: 'https://keygate.example.com/t/acme', audience: 'https://api.acme.com', rootKey });
 * const canReadUsers = verifier.requireScopes(['read:users']);
 * const outcome = await canReadUsers(request.headers.authorization);
 * if (!outcome.ok) { const { status, headers, body } = denialResponse(outcome); … }
 */
export function createKeygateVerifier(options: KeygateVerifierOptions): KeygateVerifier {
  return new Verifier(resolveOptions(options));
}

class Verifier implements KeygateVerifier {
  private readonly tokens = new LRUCache<string, VerifiedToken>({ max: MAX_CACHED_TOKENS });
  private readonly http: KeygateHttp;
  private readonly jwks: JwksCache;
  private readonly revocations: RevocationFeed | null = null;
  private readonly remote: RemoteVerifier | null = null;
  private readonly source: JwtSource<TokenKind>;
  /** The rules of the tokens this verifier checks itself: the tenant's signed access tokens. */
  private readonly keygateTokens: TokenProfile;
  /** The rules of a tenant's HS256 tokens, which Keygate checks (the middleware pre-checks what needs no secret). */
  private readonly selfIssuedTokens: TokenProfile;
  private closed = false;

  constructor(private readonly config: ResolvedOptions) {
    const { clock, onWarning: warn } = config;
    ({ source: this.source, signed: this.keygateTokens, selfIssued: this.selfIssuedTokens } = tokenSource(config, (kid) => this.jwks.find(kid)));
    this.http = new KeygateHttp(config.fetch, config.requestTimeoutMs);
    this.jwks = new JwksCache({ url: `${config.issuer}/.well-known/jwks.json`, cooldownMs: config.jwksRefetchCooldownMs, http: this.http, clock });
    for (const [name, url] of [['issuer', config.issuer], ['keygateUrl', config.keygateUrl]] as const) {
      const { protocol, hostname } = new URL(url);
      if (protocol === 'http:' && !LOOPBACK_HOSTS.has(hostname)) {
        warn(`keygate: ${name} ${url} is plain http: anyone on the path can read the root key or swap the signing keys; use https`);
        break;
      }
    }
    if (config.rootKey === null) {
      warn(
        'keygate: no rootKey: revoked JWTs are accepted until they expire, and API keys and HS256 tokens cannot be verified (they get 401)',
      );
      return;
    }
    const tenantPath = `${config.keygateUrl}/v1/tenants/${encodeURIComponent(config.tenant)}`;
    this.revocations = new RevocationFeed({ url: `${tenantPath}/revocations`, rootKey: config.rootKey, pollMs: config.revocationPollMs, http: this.http, clock, warn });
    this.remote = new RemoteVerifier({
      url: `${config.keygateUrl}/v1/verify`,
      rootKey: config.rootKey,
      audience: config.audience,
      cacheMs: config.apiKeyCacheMs,
      http: this.http,
      clock,
      warn,
    });
    this.revocations.start();
  }

  requireScopes(scopes: readonly string[], options: { match?: ScopeMatch } = {}): ScopeGuard {
    const requirement = requirementOf(scopes, options);
    return (authorization, caller) => this.check(bearerToken(authorization), requirement, caller, this.config.trustProxy);
  }

  verify(token: string, requirement: { scopes?: readonly string[]; match?: ScopeMatch; ip?: string } = {}): Promise<VerificationOutcome> {
    if (typeof token !== 'string') throw new TypeError('keygate: verify() takes the token as a string');
    if (requirement.ip !== undefined && typeof requirement.ip !== 'string') throw new TypeError('keygate: verify() takes ip as a string');
    const caller = requirement.ip === undefined ? undefined : { socketAddress: requirement.ip };
    return this.check(token, requirementOf(requirement.scopes ?? [], requirement.match === undefined ? {} : { match: requirement.match }), caller, TRUST_NO_PROXY);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.revocations?.stop();
    this.http.close();
  }

  /**
   * `caller` is resolved to an address (`clientAddress`) only on the paths that send it to Keygate
   * (API keys, HS256 tokens): an offline JWT never reads it, and with proxy CIDRs in `trustProxy`
   * resolving costs about as much as a whole cached verify.
   */
  private async check(token: string | null, requirement: Requirement, caller: CallerAddress | undefined, trust: TrustProxy): Promise<VerificationOutcome> {
    if (token === null) return this.deny(MISSING_TOKEN, { code: 'MISSING_TOKEN', detail: 'no bearer token in the request' });
    if (this.closed) return this.deny(UNAVAILABLE, { code: 'CLOSED', detail: 'the verifier is closed' });
    if (checkKeyShape(token) !== 0) return this.checkWithKeygate(token, requirement, 'api_key', caller, trust);
    if (token.length > MAX_TOKEN_LENGTH || !looksLikeJwt(token)) return this.invalid('MALFORMED', 'neither an API key nor a compact JWT', null);
    // A token verified before costs a hash and a Map lookup: no decoding, no signature.
    const hash = hashSecret(token);
    const cached = this.tokens.get(hash);
    if (cached !== undefined) return this.admit(cached, requirement, hash);
    const { audience } = this.config;
    let prechecked: PrecheckedJwt<TokenKind> | Rejection;
    try {
      prechecked = await precheckJwt(token, this.source);
      if (isRejection(prechecked)) return this.invalid(prechecked.code, prechecked.detail, 'jwt');
      // Keygate holds the tenant's HS256 secrets: it checks the signature (and the rest again).
      if (prechecked.issuer.context.hs) return this.checkSelfIssued(token, prechecked.decoded.payload, requirement, caller, trust);
      const authenticated = await checkSignature(token, prechecked, this.source);
      if (isRejection(authenticated)) return this.invalid(authenticated.code, authenticated.detail, 'jwt');
      const verified = verifiedToken(authenticated.payload, this.config.tenant, audience);
      this.tokens.set(hash, verified);
      return this.admit(verified, requirement, hash);
    } catch (error) {
      return this.unavailable(error, 'jwt');
    }
  }

  /** Pipeline steps 7–10 for a token that authenticated, fresh or cached: on every request. */
  private async admit(verified: VerifiedToken, requirement: Requirement, hash: string): Promise<VerificationOutcome> {
    const tokenId = verified.identity.tokenId;
    let state: RevocationState | null = null;
    if (this.revocations !== null) {
      state = this.revocations.isSynced ? this.revocations.state : await this.revocations.ready();
      if (state === null) return this.deny(UNAVAILABLE, { code: 'KEYGATE_UNAVAILABLE', detail: 'the revocation feed has never been read', kind: 'jwt', tokenId });
    }
    const { audience, issuer, clock } = this.config;
    // Every source answers from memory here, so the answer is never a promise.
    const rejection = admitJwt(verified.payload, issuer, {
      profile: this.keygateTokens,
      audience,
      now: clock(),
      required: requirement.scopes,
      match: requirement.match,
      sources: ADMISSION,
      subject: { verified, state },
    }) as Rejection | null;
    if (rejection === null) return { ok: true, identity: verified.identity };
    if (rejection.code === 'INSUFFICIENT_SCOPE') return this.deny(requirement.insufficient, { code: 'INSUFFICIENT_SCOPE', detail: rejection.detail, kind: 'jwt', tokenId });
    // A token past its lifetime will not come back: drop it rather than keep it until evicted.
    if (rejection.code === 'EXPIRED') this.tokens.delete(hash);
    return this.invalid(rejection.code, rejection.detail, 'jwt', tokenId);
  }

  /**
   * A tenant's self-issued HS256 token, after pipeline steps 1–4 ran here: only Keygate holds the
   * secret, so it runs the whole pipeline. The claims and revocation steps, which need no secret,
   * run here too first, so a token that cannot pass costs no round trip.
   */
  private async checkSelfIssued(token: string, payload: TokenClaims, requirement: Requirement, caller: CallerAddress | undefined, trust: TrustProxy): Promise<VerificationOutcome> {
    const { issuer, audience, clock } = this.config;
    const claims = claimsStep(payload, issuer, { profile: this.selfIssuedTokens, audience, now: clock() });
    if (claims !== null) return this.invalid(claims.code, claims.detail, 'jwt');
    // Keygate checks revocations too; this makes one seen by the feed count before a cached answer expires.
    if (this.revocations?.isSynced === true) {
      const revoked = revocationStep(payload, this.revocations.state);
      if (revoked !== null) return this.invalid(revoked.code, revoked.detail, 'jwt');
    }
    return this.checkWithKeygate(token, requirement, 'jwt', caller, trust);
  }

  /** API keys and HS256 tokens: `POST /v1/verify`, answers reused for `apiKeyCacheMs`. */
  private async checkWithKeygate(token: string, requirement: Requirement, kind: 'jwt' | 'api_key', caller: CallerAddress | undefined, trust: TrustProxy): Promise<VerificationOutcome> {
    if (this.remote === null) return this.invalid('NO_ROOT_KEY', 'verifying API keys and HS256 tokens needs a rootKey', kind);
    // Not an IP address (junk from a header, or no socket): no address, so an allowlisted key is refused.
    const ip = caller === undefined ? undefined : clientAddress(caller.socketAddress, caller.forwardedFor, trust);
    let result: VerificationResult;
    try {
      result = await this.remote.verify(token, requirement, ip);
    } catch (error) {
      return this.unavailable(error, kind);
    }
    const tokenId = result.keyId;
    if (result.code === 'VALID' || result.code === 'INSUFFICIENT_SCOPE' || result.code === 'RATE_LIMITED' || result.code === 'USAGE_EXCEEDED') {
      // API identifiers are unique within a tenant only: a root key that may verify for several
      // tenants would find another tenant's key for an API of the same name.
      if (result.tenant !== this.config.tenant) {
        return this.invalid('NOT_FOUND', `a credential of tenant "${String(result.tenant)}"`, kind, tokenId);
      }
    }
    switch (result.code) {
      case 'VALID':
        return { ok: true, identity: remoteIdentity(result, kind, this.config.tenant, this.config.audience) };
      case 'INSUFFICIENT_SCOPE':
        return this.deny(requirement.insufficient, { code: 'INSUFFICIENT_SCOPE', detail: `holds "${result.scopes.join(' ')}"`, kind, tokenId });
      case 'RATE_LIMITED':
      case 'USAGE_EXCEEDED':
        return this.deny(rateLimited(result, this.config.clock()), { code: result.code, detail: 'over its rate limit or out of credits', kind, tokenId });
      default:
        return this.invalid(result.code, `Keygate answered ${result.code}`, kind, tokenId);
    }
  }

  private invalid(code: DenialReason['code'], detail: string, kind: DenialReason['kind'], tokenId: string | null = null): Denial {
    return this.deny(INVALID_TOKEN, { code, detail, kind, tokenId });
  }

  private unavailable(error: unknown, kind: DenialReason['kind']): Denial {
    if (!(error instanceof KeygateUnavailableError)) throw error;
    return this.deny(UNAVAILABLE, { code: 'KEYGATE_UNAVAILABLE', detail: error.message, kind });
  }

  private deny(denial: Denial, reason: Omit<DenialReason, 'status' | 'kind' | 'tokenId'> & Partial<Pick<DenialReason, 'kind' | 'tokenId'>>): Denial {
    const hook = this.config.onDenied;
    if (hook !== null) {
      try {
        hook({ kind: null, tokenId: null, ...reason, status: denial.status });
      } catch (error) {
        // A logging hook must not turn a clean denial into a 500.
        this.config.onWarning(`keygate: onDenied threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return denial;
  }
}

/** Validates a route's requirement once, when the route is defined (a bad one is a caller bug). */
function requirementOf(scopes: readonly string[], options: { match?: ScopeMatch }): Requirement {
  if (!Array.isArray(scopes)) throw new TypeError('keygate: requireScopes() takes an array of scope names');
  if (scopes.length > MAX_REQUIRED_SCOPES) throw new TypeError(`keygate: at most ${MAX_REQUIRED_SCOPES} scopes per route`);
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !isScopeToken(scope)) throw new TypeError(`keygate: "${String(scope)}" is not a scope name (RFC 6749 §3.3)`);
  }
  if (typeof options !== 'object' || options === null) throw new TypeError('keygate: requireScopes() options must be an object');
  const match = options.match ?? 'all';
  if (match !== 'all' && match !== 'any') throw new TypeError(`keygate: match must be "all" or "any", got "${String(match)}"`);
  const required = Object.freeze([...scopes]);
  return Object.freeze({
    scopes: required,
    match,
    cacheKey: `${match} ${required.join(' ')}`,
    insufficient: Object.freeze({ ok: false, status: 403, error: 'insufficient_scope', requiredScopes: required }) as Denial,
  });
}

/**
 * Pipeline steps 2 and 5 for the middleware: one issuer (the tenant's), whose kid picks the
 * rules — a signing key published in the JWKS, or an HS256 secret only Keygate holds.
 */
function tokenSource(config: ResolvedOptions, findKey: (kid: string) => ReturnType<JwksCache['find']>): { source: JwtSource<TokenKind>; signed: TokenProfile; selfIssued: TokenProfile } {
  const profile = (hs: boolean): TokenProfile =>
    Object.freeze({ algorithms: hs ? (['HS256'] as const) : SIGNING_ALGORITHMS, requireAtJwt: !hs, requireKid: true, clockToleranceSec: config.clockToleranceSec });
  const issuers: Record<'hs' | 'signed', JwtIssuer<TokenKind>> = {
    hs: { issuer: config.issuer, profile: profile(true), context: { hs: true } },
    signed: { issuer: config.issuer, profile: profile(false), context: { hs: false } },
  };
  const source: JwtSource<TokenKind> = {
    issuer: (iss, header) => (iss !== config.issuer ? null : typeof header.kid === 'string' && isHs256Kid(header.kid) ? issuers.hs : issuers.signed),
    key: (_issuer, header) => findKey(header.kid as string),
  };
  return { source, signed: issuers.signed.profile, selfIssued: issuers.hs.profile };
}

function verifiedToken(payload: TokenClaims, tenant: string, api: string): VerifiedToken {
  const scopes = Object.freeze(scopesOf(payload));
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
  const identity: KeygateIdentity = Object.freeze({
    kind: 'jwt',
    subject: payload.sub,
    tenant,
    api,
    scopes,
    tokenId: typeof payload.jti === 'string' ? payload.jti : null,
    ...(clientId !== undefined ? { clientId } : {}),
    // The claims step admitted only a NumericDate (up to year 9999), which every Date can hold.
    expiresAt: new Date(payload.exp! * 1000).toISOString(),
    meta: EMPTY_META,
  });
  return { identity, held: new Set(scopes), payload };
}

function remoteIdentity(result: VerificationResult, kind: 'jwt' | 'api_key', tenant: string, api: string): KeygateIdentity {
  const clientId = kind === 'jwt' ? result.meta['clientId'] : undefined;
  return Object.freeze({
    kind,
    subject: result.consumer,
    tenant,
    api,
    scopes: Object.freeze(result.scopes),
    tokenId: result.keyId,
    ...(typeof clientId === 'string' ? { clientId } : {}),
    expiresAt: result.expiresAt,
    meta: kind === 'api_key' ? Object.freeze(result.meta) : EMPTY_META,
  });
}

/** 429 for a key over its limits; Retry-After when the exhausted limits say when they reset. */
function rateLimited(result: VerificationResult, now: number): Denial {
  let until = -Infinity;
  for (const limit of result.ratelimits) if (limit.remaining <= 0) until = Math.max(until, Date.parse(limit.reset));
  if (!Number.isFinite(until)) return RATE_LIMITED;
  return Object.freeze({ ok: false, status: 429, error: 'rate_limited', retryAfterSec: Math.max(1, Math.ceil((until - now) / 1000)) });
}

