import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Api } from '../domain/apis.js';
import type { Clock } from '../domain/clock.js';
import { normalisePath, type Operation, type RouteMatch } from '../domain/gateway/routes.js';
import { decodeJwt, looksLikeJwt } from '../domain/tokens/jwt.js';
import type { UsageSeriesKey } from '../domain/usage.js';
import type { RatelimitState, VerificationResult } from '../domain/verification.js';
import { ExternalIssuerVerifier, JwksUnavailableError } from './external-issuers.js';
import type { SigningKeysService } from './signing-keys-service.js';
import { issuerOf } from './tokens-service.js';
import type { UpstreamAddressRules } from './upstream-connector.js';
import type { VerifyOptions, VerifyRequest } from './verify-service.js';

/** An API behind the gateway, as the routing table gives it for a Host. */
export interface GatewayTarget {
  api: Api;
  tenantSlug: string;
  /** The API's compiled OpenAPI routes (`compileRouter`); an API without a document matches nothing. */
  match(method: string, rawPath: string): RouteMatch;
}

/** Which API a Host reaches: the part of the routing table (`GatewayRoutesService`) the policy reads. */
export interface GatewayRouteTable {
  /** The API for a Host header value, or null when none is behind the gateway there. */
  find(host: string | undefined): GatewayTarget | null;
}

/** A request as the gateway received it: nothing is read from the body, which streams through. */
export interface GatewayRequest {
  host: string | undefined;
  method: string;
  /** The raw request target: path and query, as sent. */
  url: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The caller's address (after KEYGATE_TRUST_PROXY). */
  ip: string;
}

/** What the analytics record of a request is counted under, once the gateway knows it. */
export type GatewayUsage = UsageSeriesKey;

/** The gateway answers the caller itself: a denial, or a path or method it does not serve. */
export interface GatewayRefusal {
  kind: 'refuse';
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
  /** `application/json` for RFC 6750 bodies, `application/problem+json` otherwise. */
  contentType: string;
  /** Null when no API was found for the Host (nothing to count it against). */
  usage: GatewayUsage | null;
}

/** The request goes on to the upstream. */
export interface GatewayForward {
  kind: 'forward';
  /** The absolute upstream URL without query: the API's upstream and the normalised path. */
  url: string;
  /** The query to send, without `?`: the caller's, less the credential parameter. */
  query: string;
  /** `Keygate-*` identity headers (and `Keygate-Token`) the upstream receives. */
  identity: Record<string, string>;
  /** The API's extra credential header (lower-case), removed like `Authorization`. */
  credentialHeader: string | null;
  /** `RateLimit` / `RateLimit-Policy` for the caller's response, when the credential has limits. */
  responseHeaders: Record<string, string> | null;
  usage: GatewayUsage;
}

export type GatewayDecision = GatewayRefusal | GatewayForward;

export interface GatewayServiceDeps {
  clock: Clock;
  /** `{PUBLIC_URL}`: the phantom token's issuer is the tenant's, `{publicUrl}/t/{slug}`. */
  publicUrl: string;
  routes: GatewayRouteTable;
  /** `VerifyService.verify`: API keys and Keygate JWTs, exactly as `POST /v1/verify`. */
  verify(request: VerifyRequest, options: VerifyOptions): Promise<VerificationResult>;
  signingKeys: SigningKeysService;
  /**
   * Where Keygate may connect for this API owner's choices (upstreams, JWKS URLs), at every
   * connection: link-local and metadata addresses and Keygate's own ports are refused unless
   * GATEWAY_LINK_LOCAL_UPSTREAMS=allow. Without it, link-local is refused and no port is Keygate's.
   */
  addresses?: UpstreamAddressRules;
}

const REALM = 'keygate';
const REFUSE_LINK_LOCAL: UpstreamAddressRules = Object.freeze({ allowLinkLocal: false, ownPorts: Object.freeze([]) });
const INVALID_TOKEN_DESCRIPTION = 'The access token is invalid';
/** Any valid credential, no particular scope: an undeclared path under passthrough. */
const ANY_CREDENTIAL: readonly (readonly string[])[] = Object.freeze([Object.freeze([])]);
/** Lifetime of a phantom token (`Keygate-Token`): long enough for one request, short enough to need no revocation. */
export const PHANTOM_TOKEN_TTL_SEC = 60;
/** A cached phantom token is reused only while it has at least this long to live. */
const PHANTOM_REUSE_MARGIN_SEC = 20;
const PROBLEM_TYPE = 'https://keygate.dev/errors#';

/**
 * The gateway's request policy, one fixed order of named steps: the API by Host → the operation
 * by method and normalised path → the credential (Bearer, the API's header, or its query
 * parameter when enabled) → verification with the operation's requirement and cost, exactly as
 * `POST /v1/verify` (rate limits, credits, IP allowlists, expiry) → the upstream URL and the
 * identity the upstream receives. Every bad credential gets the same 401 (RFC 6750): the caller
 * learns nothing about why; the reason is in the audit log, as for verify.
 */
export class GatewayService {
  private readonly external: ExternalIssuerVerifier;
  private readonly phantoms = new LRUCache<string, { token: string; exp: number }>({ max: 10_000 });

  /** The address rules the HTTP layer's connections to upstreams follow too. */
  readonly addresses: UpstreamAddressRules;

  constructor(private readonly deps: GatewayServiceDeps) {
    this.addresses = deps.addresses ?? REFUSE_LINK_LOCAL;
    this.external = new ExternalIssuerVerifier(deps.clock, this.addresses);
  }

  async decide(request: GatewayRequest): Promise<GatewayDecision> {
    const target = this.deps.routes.find(request.host);
    // The routing table holds only APIs with an upstream; one whose upstream was just removed is not served.
    if (target === null || target.api.gateway.upstream === null) return problem(404, 'NO_ROUTE', 'no API is served at this host', null);
    const { api } = target;
    const upstream = api.gateway.upstream!;
    const route = this.route(target, request);
    if (route.kind === 'refuse') return route;
    const { operation, path, anyOf, operationName, open } = route;
    const credentialHeader = api.gateway.credentialHeader;
    const found = credentialOf(request, api);
    const usage: GatewayUsage = { tenantId: target.api.tenantId, apiId: api.id, keyId: null, consumer: null, operation: operationName, outcome: 'allowed' };
    const { url, query } = upstreamTarget(upstream, path, request.url, api.gateway.credentialQuery);

    if (open) {
      return { kind: 'forward', url, query, identity: { 'keygate-tenant': target.tenantSlug, 'keygate-api': api.identifier }, credentialHeader, responseHeaders: null, usage };
    }
    if (found === null) {
      usage.outcome = 'NOT_FOUND';
      return rfc6750(401, { 'www-authenticate': `Bearer realm="${REALM}"` }, 'unauthorized', 'A bearer token is required', usage);
    }

    let result: VerificationResult;
    try {
      result = await this.verify(found, target, anyOf, operation?.cost ?? 1, request.ip);
    } catch (err) {
      if (!(err instanceof JwksUnavailableError)) throw err;
      usage.outcome = 'UNAVAILABLE';
      return problem(503, 'ISSUER_UNAVAILABLE', 'the credential could not be checked now; retry shortly', usage, { 'retry-after': '5' });
    }
    usage.keyId = result.keyId;
    usage.consumer = result.consumer;
    if (!result.valid) {
      usage.outcome = result.code;
      return denial(result, anyOf, this.deps.clock(), usage);
    }
    const identity = identityHeaders(result, target);
    if (api.gateway.phantomToken) identity['keygate-token'] = await this.phantomToken(result, target);
    return {
      kind: 'forward',
      url,
      query,
      identity,
      credentialHeader,
      responseHeaders: result.ratelimits.length === 0 ? null : rateLimitHeaders(result.ratelimits, this.deps.clock()),
      usage,
    };
  }

  /** Step 2: the operation the method and path reach, or the refusal (400 bad path, 404, 405), passthrough aside. */
  private route(
    target: GatewayTarget,
    request: GatewayRequest,
  ): GatewayRefusal | { kind: 'operation'; operation: Operation | null; path: string; anyOf: readonly (readonly string[])[]; operationName: string | null; open: boolean } {
    const { api } = target;
    const match = target.match(request.method, request.url);
    const usage: GatewayUsage = { tenantId: target.api.tenantId, apiId: api.id, keyId: null, consumer: null, operation: null, outcome: 'NO_ROUTE' };
    switch (match.kind) {
      case 'operation': {
        const { operation } = match;
        return { kind: 'operation', operation, path: match.path, anyOf: operation.requirement.anyOf, operationName: operation.operationId ?? `${operation.method} ${operation.path}`, open: operation.requirement.public };
      }
      case 'bad_path':
        return problem(400, 'BAD_PATH', 'the request path is not in canonical form (encoded slashes, dot segments, or characters a path may not hold)', usage);
      case 'not_found':
      case 'method_not_allowed': {
        // A browser sends a preflight without credentials (Fetch standard, CORS-preflight fetch):
        // only where the API asks, only on a declared path, and never in place of a declared OPTIONS.
        if (match.kind === 'method_not_allowed' && api.gateway.corsPreflight === 'forward' && isCorsPreflight(request)) {
          return { kind: 'operation', operation: null, path: normalisePath(request.url)!, anyOf: ANY_CREDENTIAL, operationName: null, open: true };
        }
        // Another letter case of a declared path is not "undeclared": a case-insensitive upstream
        // (Express, ASP.NET Core) would run the declared operation for any valid credential.
        if (api.gateway.passthrough && !(match.kind === 'not_found' && match.shadows === true)) {
          // normalisePath accepted the path already: the router found it well formed.
          return { kind: 'operation', operation: null, path: normalisePath(request.url)!, anyOf: ANY_CREDENTIAL, operationName: null, open: false };
        }
        if (match.kind === 'not_found') return problem(404, 'NO_ROUTE', 'the API declares no such path', usage);
        return problem(405, 'METHOD_NOT_ALLOWED', `the path declares ${match.allow.join(', ')}`, usage, { allow: match.allow.join(', ') });
      }
    }
  }

  /** Step 4: the one verification of the credential, by kind: an external issuer's JWT, else verify (API keys, Keygate JWTs). */
  private verify(credential: string, target: GatewayTarget, anyOf: readonly (readonly string[])[], cost: number, ip: string): Promise<VerificationResult> {
    const { api } = target;
    if (api.gateway.externalIssuers.length > 0 && looksLikeJwt(credential)) {
      const iss = decodeJwt(credential)?.payload.iss;
      if (typeof iss === 'string' && ExternalIssuerVerifier.names(api, iss)) return this.external.verify(credential, api, target.tenantSlug, anyOf);
    }
    return this.deps.verify({ credential, api: api.identifier, anyOf, cost, ip }, { tenant: target.tenantSlug });
  }

  /**
   * The phantom token: a JWT signed by the tenant's current key for the caller's identity, short
   * lived, so the upstream can verify it offline (JWKS, the middleware) while the caller holds an
   * opaque, revocable key. One token per identity is reused while it has time left.
   */
  private async phantomToken(result: VerificationResult, target: GatewayTarget): Promise<string> {
    const nowSec = Math.floor(this.deps.clock() / 1000);
    const subject = result.consumer ?? result.keyId ?? 'anonymous';
    const scope = result.scopes.join(' ');
    const cacheKey = `${target.api.id} ${result.keyId ?? ''} ${subject} ${scope}`;
    const cached = this.phantoms.get(cacheKey);
    if (cached !== undefined && cached.exp - nowSec >= PHANTOM_REUSE_MARGIN_SEC) return cached.token;
    const { sign } = await this.deps.signingKeys.signer(target.api.tenantId, 'at+jwt');
    const exp = nowSec + PHANTOM_TOKEN_TTL_SEC;
    const token = await sign({
      iss: issuerOf(this.deps.publicUrl, target.tenantSlug),
      sub: subject,
      aud: target.api.identifier,
      exp,
      iat: nowSec,
      jti: randomUUID(),
      client_id: result.keyId ?? subject,
      scope,
    });
    this.phantoms.set(cacheKey, { token, exp });
    return token;
  }
}

/** A CORS preflight: `OPTIONS` naming the origin and the method the browser means to send. */
function isCorsPreflight(request: GatewayRequest): boolean {
  const origin = request.headers['origin'];
  const method = request.headers['access-control-request-method'];
  return request.method === 'OPTIONS' && typeof origin === 'string' && origin.length > 0 && typeof method === 'string' && method.length > 0;
}

/**
 * Step 3: the credential, from `Authorization: Bearer`, else the API's credential header, else
 * its query parameter (only when the API enables one). Null when the request carries none.
 */
export function credentialOf(request: GatewayRequest, api: Api): string | null {
  const authorization = request.headers['authorization'];
  if (typeof authorization === 'string' && authorization.length > 7 && authorization.slice(0, 7).toLowerCase() === 'bearer ') {
    return authorization.slice(7).trim();
  }
  const { credentialHeader, credentialQuery } = api.gateway;
  if (credentialHeader !== null) {
    const value = request.headers[credentialHeader];
    if (typeof value === 'string' && value.length > 0) return value.trim();
  }
  if (credentialQuery !== null) {
    const query = request.url.indexOf('?');
    if (query >= 0) {
      const value = new URLSearchParams(request.url.slice(query + 1)).get(credentialQuery);
      if (value !== null && value.length > 0) return value;
    }
  }
  return null;
}

/**
 * Where the request goes: the API's upstream (its own path prefix kept) and the normalised path
 * the gateway matched (never the caller's raw spelling); and the query, without the credential
 * parameter and without `_method`, without its `?` ('' for none). `_method` is the method
 * override Laravel and Symfony read from the query: the upstream would run another method than
 * the one whose requirement the gateway checked.
 */
export function upstreamTarget(upstream: string, path: string, rawUrl: string, credentialQuery: string | null): { url: string; query: string } {
  const queryAt = rawUrl.indexOf('?');
  let query = queryAt < 0 ? '' : rawUrl.slice(queryAt + 1);
  // Only a query that could hold either parameter is taken apart (`%` may spell `_method`).
  if (query.length > 0 && (credentialQuery !== null || query.includes('method') || query.includes('%'))) {
    // The other parameters keep their exact spelling: only those pairs are cut out.
    query = query
      .split('&')
      .filter((pair) => {
        const name = new URLSearchParams(pair).keys().next().value;
        return name !== credentialQuery && !pair.split(';').some(isMethodOverride);
      })
      .join('&');
  }
  return { url: upstream + path, query };
}

/**
 * Whether a query pair is `_method` as PHP reads names (Laravel, Symfony): leading spaces
 * dropped, `.`, ` ` and `[` turned into `_`, an array suffix ignored, so `.method`, `+method`
 * and `_method[]` are `_method` too. `;`-separated pieces are each looked at, as some servers split there.
 */
function isMethodOverride(piece: string): boolean {
  const name = new URLSearchParams(piece).keys().next().value;
  if (name === undefined) return false;
  let base = name.split('\0')[0]!.trimStart();
  const open = base.indexOf('[');
  if (open >= 0 && base.indexOf(']', open) > open) base = base.slice(0, open);
  return base.replace(/[. []/g, '_') === METHOD_OVERRIDE;
}

const METHOD_OVERRIDE = '_method';

/** The identity the upstream receives in place of the credential. */
function identityHeaders(result: VerificationResult, target: GatewayTarget): Record<string, string> {
  const identity: Record<string, string> = {
    'keygate-tenant': target.tenantSlug,
    'keygate-api': target.api.identifier,
    'keygate-scopes': result.scopes.join(' '),
  };
  const subject = result.consumer ?? result.keyId;
  if (subject !== null) identity['keygate-subject'] = subject;
  if (result.keyId !== null) identity['keygate-key-id'] = result.keyId;
  return identity;
}

/**
 * A denied credential's answer (RFC 6750 §3): 403 naming the scopes for a credential without
 * them, 429 for a rate limit (with `Retry-After` and the IETF `RateLimit` headers) or used-up
 * credits, and one identical 401 for everything else.
 */
function denial(result: VerificationResult, anyOf: readonly (readonly string[])[], now: number, usage: GatewayUsage): GatewayRefusal {
  switch (result.code) {
    case 'INSUFFICIENT_SCOPE': {
      // Scope tokens cannot hold `"` or `\` (RFC 6749 §3.3): no escaping needed. One alternative
      // that suffices goes in the challenge; the body lists them all.
      const scope = (anyOf[0] ?? []).join(' ');
      return rfc6750(403, { 'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${scope}"` }, 'insufficient_scope', 'The access token lacks the scope this request needs', usage, {
        required_scopes: anyOf,
      });
    }
    case 'RATE_LIMITED': {
      const headers = rateLimitHeaders(result.ratelimits, now);
      headers['retry-after'] = String(retryAfter(result.ratelimits, now));
      return rfc6750(429, headers, 'rate_limited', 'Too many requests with this credential', usage);
    }
    case 'USAGE_EXCEEDED':
      return rfc6750(429, {}, 'rate_limited', 'The credential has used up its credits', usage);
    default:
      return rfc6750(401, { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${INVALID_TOKEN_DESCRIPTION}"` }, 'invalid_token', INVALID_TOKEN_DESCRIPTION, usage);
  }
}

/** Seconds until the first exhausted limit lets a request through again (at least 1). */
function retryAfter(limits: readonly RatelimitState[], now: number): number {
  let soonest = Infinity;
  for (const limit of limits) if (limit.remaining <= 0) soonest = Math.min(soonest, Date.parse(limit.reset));
  return Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - now) / 1000)) : 1;
}

/**
 * `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers): one item per limit
 * of the credential's chain, `q` its quota and `w` its window; `r` what is left and `t` the
 * seconds until it is whole again.
 */
export function rateLimitHeaders(limits: readonly RatelimitState[], now: number): Record<string, string> {
  const policies: string[] = [];
  const states: string[] = [];
  for (const limit of limits) {
    // A limit name is free text: the structured-field string keeps only what it may hold.
    const name = `"${limit.name.replace(/[^\x20-\x7e]|["\\]/g, '')}"`;
    policies.push(limit.window === undefined ? `${name};q=${limit.limit}` : `${name};q=${limit.limit};w=${limit.window}`);
    states.push(`${name};r=${Math.max(0, limit.remaining)};t=${Math.max(0, Math.ceil((Date.parse(limit.reset) - now) / 1000))}`);
  }
  return { 'ratelimit-policy': policies.join(', '), ratelimit: states.join(', ') };
}

function rfc6750(status: number, headers: Record<string, string>, error: string, description: string, usage: GatewayUsage, extra: Record<string, unknown> = {}): GatewayRefusal {
  return { kind: 'refuse', status, headers: { 'cache-control': 'no-store', ...headers }, body: { error, error_description: description, ...extra }, contentType: 'application/json; charset=utf-8', usage };
}

function problem(status: number, code: string, detail: string, usage: GatewayUsage | null, headers: Record<string, string> = {}): GatewayRefusal {
  return {
    kind: 'refuse',
    status,
    headers,
    body: { type: `${PROBLEM_TYPE}${code.toLowerCase()}`, title: GATEWAY_PROBLEMS[code] ?? code, status, code, detail },
    contentType: 'application/problem+json',
    usage,
  };
}

/** The gateway's own problem codes (docs/gateway.md lists them). */
export const GATEWAY_PROBLEMS: Readonly<Record<string, string>> = Object.freeze({
  NO_ROUTE: 'No API operation at this host and path',
  METHOD_NOT_ALLOWED: 'The path does not declare this method',
  BAD_PATH: 'The request path is not in canonical form',
  BAD_HOST: 'The request names its Host more than once',
  ISSUER_UNAVAILABLE: "The credential's issuer could not be reached",
  UPSTREAM_UNAVAILABLE: 'The upstream could not be reached',
  UPSTREAM_TIMEOUT: 'The upstream did not answer in time',
  UPSTREAM_BUSY: 'Too many requests to the upstream are under way through the gateway',
  UNAVAILABLE: 'Keygate cannot check credentials now (its store is unreachable)',
  INTERNAL: 'Internal error',
});

/** A problem the HTTP layer answers itself (the upstream failed): the same body shape as the policy's. */
export function gatewayProblem(status: number, code: string, detail: string): { status: number; body: Record<string, unknown> } {
  const refusal = problem(status, code, detail, null);
  return { status, body: refusal.body };
}
