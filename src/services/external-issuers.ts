import { LRUCache } from 'lru-cache';
import type { Dispatcher } from 'undici';
import { jwksKeys, type JwksKeys } from '../crypto/jwks.js';
import { hashSecret } from '../crypto/secrets.js';
import type { Api } from '../domain/apis.js';
import type { Clock } from '../domain/clock.js';
import type { ExternalIssuer } from '../domain/gateway/settings.js';
import { expandScopes } from '../domain/scopes.js';
import type { JwsAlgorithm, JwtHeader, TokenClaims } from '../domain/tokens/jwt.js';
import {
  admitJwt,
  authenticateJwt,
  isRejection,
  type AdmissionSources,
  type JwtIssuer,
  type JwtKey,
  type JwtSource,
  type TokenProfile,
} from '../domain/tokens/pipeline.js';
import { emptyResult, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import { upstreamConnector, type UpstreamAddressRules } from './upstream-connector.js';

/** What an external issuer may sign with: asymmetric algorithms only, so no shared secret is ever configured. */
const EXTERNAL_ALGORITHMS: readonly JwsAlgorithm[] = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

/**
 * The rules for an identity provider's access tokens (Entra ID, Okta, Auth0, …): its own `typ`
 * (Entra sends `JWT`, not `at+jwt`), a kid when its set has several keys, and a little clock
 * tolerance, since its clock is not ours.
 */
const EXTERNAL_TOKENS: TokenProfile = Object.freeze({ algorithms: EXTERNAL_ALGORITHMS, requireAtJwt: false, requireKid: false, clockToleranceSec: 30 });

/** Used when the JWKS answer has no max-age. */
const DEFAULT_MAX_AGE_MS = 300_000;
/** Refetches for unknown kids are at least this far apart: invented kids cost the IdP one request per cooldown. */
const REFETCH_COOLDOWN_MS = 30_000;
/** A failed first fetch is retried at most this often. */
const FIRST_FETCH_RETRY_MS = 1_000;
const FETCH_TIMEOUT_MS = 5_000;
/** The largest JWK Set read: a set is a few kilobytes. */
const MAX_JWKS_BYTES = 256 * 1024;
const VERIFIED_CACHE_SIZE = 10_000;

/** Thrown when an issuer's JWKS cannot be read: the token cannot be checked now (503, not 401). */
export class JwksUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksUnavailableError';
  }
}

/** How a JWK Set is fetched: undici's `request` through the verifier's one agent. */
interface JwksHttp {
  request: typeof import('undici').request;
  dispatcher: Dispatcher;
}

/** An issuer's JWK Set, fetched once and kept, refetched for an unknown kid (throttled) and past its max-age. */
class RemoteJwks {
  private keys: JwksKeys | null = null;
  private fetchedAt = 0;
  private attemptedAt = -Infinity;
  private maxAgeMs = DEFAULT_MAX_AGE_MS;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly uri: string,
    private readonly clock: Clock,
    private readonly http: () => Promise<JwksHttp>,
  ) {}

  async find(header: JwtHeader): Promise<JwtKey | null> {
    const now = this.clock();
    if (this.keys === null) {
      if (this.inflight === null && now - this.attemptedAt < FIRST_FETCH_RETRY_MS) throw new JwksUnavailableError(`the JWKS at ${this.uri} could not be fetched yet`);
      await this.refresh(now);
    }
    const known = this.keys!.find(header);
    if (known !== null) {
      if (now - this.fetchedAt > this.maxAgeMs && this.inflight === null && now - this.attemptedAt >= FIRST_FETCH_RETRY_MS) {
        // The keys in hand stay valid while the set is refreshed; a failure is retried on a later request.
        this.refresh(now).catch(() => undefined);
      }
      return known;
    }
    if (this.inflight !== null) await this.inflight.catch(() => undefined);
    else if (now - this.attemptedAt >= REFETCH_COOLDOWN_MS) await this.refresh(now).catch(() => undefined);
    return this.keys!.find(header);
  }

  /** One fetch at a time: callers during a fetch share it. */
  private refresh(now: number): Promise<void> {
    if (this.inflight === null) this.attemptedAt = now;
    return (this.inflight ??= this.fetchKeys().finally(() => (this.inflight = null)));
  }

  private async fetchKeys(): Promise<void> {
    let body: unknown;
    let cacheControl: string | null;
    try {
      const controller = new AbortController();
      const timeout = setTimeout(() => controller.abort(new Error('timed out')), FETCH_TIMEOUT_MS);
      try {
        const { request, dispatcher } = await this.http();
        // No redirect is followed (undici's request follows none): the JWKS is at the URL that was checked.
        const response = await request(this.uri, { dispatcher, headers: { accept: 'application/json' }, signal: controller.signal });
        if (response.statusCode !== 200) {
          controller.abort();
          throw new Error(`HTTP ${response.statusCode}`);
        }
        body = JSON.parse(await boundedText(response, MAX_JWKS_BYTES, controller));
        const header = response.headers['cache-control'];
        cacheControl = typeof header === 'string' ? header : null;
      } finally {
        clearTimeout(timeout);
      }
    } catch (err) {
      throw new JwksUnavailableError(`GET ${this.uri} failed: ${(err as Error).message}`);
    }
    this.keys = jwksKeys(body, EXTERNAL_ALGORITHMS);
    this.fetchedAt = this.clock();
    const maxAge = cacheControl === null ? null : /(?:^|[,\s])max-age=(\d+)/i.exec(cacheControl);
    this.maxAgeMs = maxAge === null ? DEFAULT_MAX_AGE_MS : Math.max(Number(maxAge[1]) * 1000, FIRST_FETCH_RETRY_MS);
  }
}

/**
 * The body as text, read only up to `limit` bytes: an answer announced or found larger is
 * refused and its connection aborted, so an issuer's JWKS endpoint (any API owner's server)
 * cannot make the gateway buffer an unbounded body.
 */
async function boundedText(response: Dispatcher.ResponseData, limit: number, controller: AbortController): Promise<string> {
  const announced = Number(response.headers['content-length'] ?? '0');
  if (announced > limit) {
    controller.abort();
    throw new Error(`answer of ${announced} bytes, over ${limit}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      controller.abort();
      throw new Error(`answer over ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** One token of an external issuer that authenticated for one API. */
interface VerifiedExternal {
  payload: TokenClaims;
  issuer: ExternalIssuer;
  audience: string;
  scopes: string[];
  expiresAtMs: number;
  expiresAtIso: string;
  held: { api: Api; scopes: ReadonlySet<string> } | null;
}

interface Presentation {
  token: VerifiedExternal;
  api: Api;
}

const NO_REVOCATIONS = null;

/**
 * Verifies JWTs of the identity providers an API names in its gateway settings
 * (`externalIssuers`: issuer, JWKS URL, audience) through the one pipeline, with the issuer's
 * JWK Set as the key source. The API's audience is the issuer's `audience`, else the API
 * identifier. Scopes are read from `scope` (a space-separated string) or `scp` (Entra ID and
 * Okta: a string or an array) and take the API catalog's implications. Such tokens have no
 * revocation in Keygate: their issuer revokes by letting them expire.
 */
export class ExternalIssuerVerifier {
  private readonly sets = new Map<string, RemoteJwks>();
  private readonly verified = new LRUCache<string, VerifiedExternal>({ max: VERIFIED_CACHE_SIZE });
  private readonly admission: AdmissionSources<Presentation> = {
    held: ({ token, api }) => {
      if (token.held === null || token.held.api !== api) token.held = { api, scopes: expandScopes(token.scopes, api.scopes) };
      return token.held.scopes;
    },
    revocations: () => NO_REVOCATIONS,
  };

  /** Made by the first JWKS fetch (with undici, which a Keygate without external issuers never loads). */
  private http: Promise<JwksHttp> | null = null;

  /**
   * `addresses`: where a JWKS URL may lead, checked at each connection as for the gateway's
   * upstreams (an issuer's JWKS server is any API owner's choice, and its name may resolve
   * elsewhere later). By default link-local and metadata addresses are refused.
   */
  constructor(
    private readonly clock: Clock,
    private readonly addresses: UpstreamAddressRules = { allowLinkLocal: false, ownPorts: [] },
  ) {}

  /** Whether the token names one of the API's external issuers (read without trusting it: only to pick the verifier). */
  static names(api: Api, iss: string | null): boolean {
    return iss !== null && api.gateway.externalIssuers.some((issuer) => issuer.issuer === iss);
  }

  /**
   * The verification result of an external issuer's token for `api`, under an OpenAPI requirement.
   * Throws JwksUnavailableError when the issuer's keys cannot be read.
   */
  async verify(token: string, api: Api, tenantSlug: string, anyOf: readonly (readonly string[])[]): Promise<VerificationResult> {
    const now = this.clock();
    const cacheKey = `${api.id} ${hashSecret(token)}`;
    let verified = this.verified.get(cacheKey);
    if (verified !== undefined && (verified.expiresAtMs <= now || !api.gateway.externalIssuers.includes(verified.issuer))) {
      this.verified.delete(cacheKey);
      verified = undefined;
    }
    if (verified === undefined) {
      const authenticated = await authenticateJwt(token, this.sourceFor(api));
      if (isRejection(authenticated)) return emptyResult(authenticated.code);
      const { payload, issuer } = authenticated;
      verified = {
        payload,
        issuer: issuer.context,
        audience: issuer.context.audience ?? api.identifier,
        scopes: externalScopes(payload),
        // The shape step admitted only a NumericDate.
        expiresAtMs: payload.exp! * 1000,
        expiresAtIso: new Date(payload.exp! * 1000).toISOString(),
        held: null,
      };
      this.verified.set(cacheKey, verified);
    }
    const admitted = admitJwt(verified.payload, verified.issuer.issuer, {
      profile: EXTERNAL_TOKENS,
      audience: verified.audience,
      now,
      required: [],
      match: 'all',
      anyOf,
      sources: this.admission,
      subject: { token: verified, api },
    });
    const rejection = admitted instanceof Promise ? await admitted : admitted;
    return resultOf(verified, api, tenantSlug, rejection === null ? 'VALID' : rejection.code);
  }

  private sourceFor(api: Api): JwtSource<ExternalIssuer> {
    return {
      issuer: (iss: string): JwtIssuer<ExternalIssuer> | null => {
        const found = api.gateway.externalIssuers.find((issuer) => issuer.issuer === iss);
        return found === undefined ? null : { issuer: found.issuer, profile: EXTERNAL_TOKENS, context: found };
      },
      key: (issuer: JwtIssuer<ExternalIssuer>, header: JwtHeader) => this.setFor(issuer.context.jwksUri).find(header),
    };
  }

  private jwksHttp(): Promise<JwksHttp> {
    this.http ??= import('undici').then(({ Agent, request }) => ({
      request,
      dispatcher: new Agent({ connect: upstreamConnector({ ...this.addresses, timeoutMs: FETCH_TIMEOUT_MS }) }),
    }));
    return this.http;
  }

  private setFor(uri: string): RemoteJwks {
    let set = this.sets.get(uri);
    if (set === undefined) {
      set = new RemoteJwks(uri, this.clock, () => this.jwksHttp());
      this.sets.set(uri, set);
    }
    return set;
  }
}

/** `scope` as a space-separated string, else `scp` as a string or an array of strings. */
export function externalScopes(payload: TokenClaims): string[] {
  if (typeof payload.scope === 'string') return payload.scope.split(' ').filter((s) => s.length > 0);
  const scp = payload['scp'];
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(scp)) return scp.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return [];
}

function resultOf(token: VerifiedExternal, api: Api, tenantSlug: string, code: VerificationCode): VerificationResult {
  const { payload } = token;
  return {
    valid: code === 'VALID',
    code,
    keyId: typeof payload.jti === 'string' ? payload.jti : null,
    tenant: tenantSlug,
    api: api.identifier,
    consumer: typeof payload.sub === 'string' ? payload.sub : null,
    scopes: token.scopes,
    meta: { issuer: token.issuer.issuer },
    expiresAt: token.expiresAtIso,
    ratelimits: [],
    credits: null,
  };
}
