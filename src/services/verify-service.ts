import { hashSecret } from '../crypto/secrets.js';
import type { AuditEvent } from '../domain/audit.js';
import { checkKey } from '../domain/keys/check-key.js';
import type { CreditHolder, RatelimitChain } from '../domain/keys/effective-key.js';
import { MAX_KEY_LENGTH, checkKeyShape } from '../domain/keys/format.js';
import { looksLikeJwt } from '../domain/tokens/jwt.js';
import { refillPeriodStart } from '../domain/keys/key.js';
import { isReservedSlug } from '../domain/management.js';
import type { ScopeMatch } from '../domain/scopes.js';
import { emptyResult, type RatelimitState, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import type { VerificationCounters } from '../observability/metrics.js';
import type { ServiceContextWith } from './context.js';
import type { Awaitable } from '../domain/tokens/pipeline.js';
import type { JwtOutcome, JwtVerifier } from './jwt-verifier.js';
import type { CachedKey } from './key-lookup.js';
import type { UsageRecorder } from './usage-recorder.js';

export interface VerifyRequest {
  /** An API key, or a JWT (Keygate-issued or self-issued HS256). */
  credential: string;
  /** The API identifier (audience) the credential is presented to. */
  api: string;
  scopes?: readonly string[];
  match?: ScopeMatch;
  /**
   * An OpenAPI operation's requirement (the gateway's): every scope of at least one alternative.
   * When set, `scopes` and `match` are not read.
   */
  anyOf?: readonly (readonly string[])[];
  /** Credits to spend on success (default 1; 0 checks without spending). */
  cost?: number;
  /** The caller's IP, required for keys with an allowlist. */
  ip?: string;
}

export interface VerifyOptions {
  /** Only keys of this tenant are found (a tenant-scoped root key is verifying). */
  tenant?: string;
  /** Request id for the audit event of a denial. */
  requestId?: string;
}

const NO_SCOPES: readonly string[] = Object.freeze([]);
const NO_OPTIONS: VerifyOptions = Object.freeze({});
const NO_RATELIMITS: RatelimitState[] = [];

/**
 * The verify use case, shared by `POST /v1/verify` and the in-process verifier. A bad
 * credential is a result, never an exception; only faults (store down) throw.
 *
 * Hot path for a cached key without credits: shape + checksum, one SHA-256, one Map lookup,
 * the stateless checks, and in-memory rate-limit counters. No store I/O. Results are read-only
 * (frozen): a key's unchanging VALID answer is built once and shared.
 */
export class VerifyService {
  // Bound once: counting a verification is one increment, with nothing allocated per call.
  private readonly apiKeyCounts: VerificationCounters;
  private readonly jwtCounts: VerificationCounters;

  constructor(
    private readonly ctx: ServiceContextWith<'keys'>,
    private readonly usage: UsageRecorder,
    private readonly jwts: JwtVerifier,
  ) {
    this.apiKeyCounts = ctx.metrics.verifications.api_key;
    this.jwtCounts = ctx.metrics.verifications.jwt;
  }

  async verify(request: VerifyRequest, options: VerifyOptions = NO_OPTIONS): Promise<VerificationResult> {
    return this.verifyNow(request, options);
  }

  /**
   * `verify`, answered at once (not as a promise) when nothing needs waiting for: a cached key
   * without rate limits or credits, any refusal of a cached key, a JWT whose tenant, key and API
   * are in memory. `POST /v1/verify` then answers without a promise of its own.
   */
  verifyNow(request: VerifyRequest, options: VerifyOptions = NO_OPTIONS): Awaitable<VerificationResult> {
    const { credential } = request;
    if (typeof credential !== 'string') return this.refuse('MALFORMED');
    if (credential.length > MAX_KEY_LENGTH) {
      return looksLikeJwt(credential) ? this.verifyJwt(credential, request, options) : this.refuse('MALFORMED');
    }
    const now = this.ctx.clock();
    const hash = hashSecret(credential);
    const facts = this.ctx.lookup.cached(hash, now);
    if (facts !== undefined) return this.decide(facts, request, options, now);
    // Only a secret that was issued can be in the cache, so the shape and checksum are checked
    // on a miss: a typo or an invented string is MALFORMED before any store lookup.
    if (checkKeyShape(credential) === 0) return this.refuse('MALFORMED');
    return this.ctx.lookup.load(hash, now).then((loaded) => this.decide(loaded, request, options, now));
  }

  private decide(facts: CachedKey | null, request: VerifyRequest, options: VerifyOptions, now: number): Awaitable<VerificationResult> {
    // Root keys live in the system tenant; verify never reveals them.
    if (facts === null || isReservedSlug(facts.tenantSlug) || (options.tenant !== undefined && facts.tenantSlug !== options.tenant)) {
      return this.refuse('NOT_FOUND');
    }
    const code = checkKey(
      facts,
      { api: request.api, scopes: request.scopes ?? NO_SCOPES, match: request.match ?? 'all', anyOf: request.anyOf, ip: request.ip },
      now,
    );
    if (code !== 'VALID') return this.deny({ facts, code, request, options });
    if (facts.effective.ratelimits !== null || facts.effective.credits.length > 0) return this.limit(facts, request, options, now);
    this.usage.record(facts.key.id, now);
    this.apiKeyCounts.VALID.inc();
    // Nothing in this answer varies between calls: build it once per cached key.
    return (facts.validResult ??= Object.freeze(result(facts, 'VALID', NO_RATELIMITS, null)));
  }

  /** A key that passed the stateless checks and has rate limits or credits: the shared state decides. */
  private async limit(facts: CachedKey, request: VerifyRequest, options: VerifyOptions, now: number): Promise<VerificationResult> {
    const { key, effective } = facts;
    let ratelimits = NO_RATELIMITS;
    if (effective.ratelimits !== null) {
      // A sub-key's request counts against its own limits and every ancestor's, atomically.
      const outcome = await this.ctx.cluster.rateLimiter.limit(effective.ratelimits, now);
      const subjects = effective.ratelimits.subjects;
      ratelimits = outcome.states.map((s) => ({
        name: s.name,
        limit: s.limit,
        remaining: s.remaining,
        reset: new Date(s.resetAt).toISOString(),
        window: windowOf(subjects, s.keyId, s.name),
      }));
      if (!outcome.allowed) return this.deny({ facts, code: 'RATE_LIMITED', request, options, ratelimits });
    }

    let credits: { remaining: number } | null = null;
    if (effective.credits.length > 0) {
      const cost = request.cost ?? 1;
      const remaining = cost > 0 ? await this.spendCredits(effective.credits, cost, now) : await this.readCredits(effective.credits);
      if (remaining === null) {
        const left = { remaining: await this.readCredits(effective.credits) };
        return this.deny({ facts, code: 'USAGE_EXCEEDED', request, options, ratelimits, credits: left });
      }
      credits = { remaining };
    }

    this.usage.record(key.id, now);
    this.apiKeyCounts.VALID.inc();
    return result(facts, 'VALID', ratelimits, credits);
  }

  /**
   * Spends from every key of the chain that has credits, all or none; returns the smallest
   * remaining over them, or null when any has too few.
   */
  private async spendCredits(holders: readonly CreditHolder[], cost: number, now: number): Promise<number | null> {
    if (holders.length === 1) {
      const { keyId, refill } = holders[0]!;
      return this.ctx.store.keys.spendCredits(keyId, cost, now, refill === null ? null : refillPeriodStart(refill.interval, now));
    }
    const spends = holders.map(({ keyId, refill }) => ({ keyId, refillDueBefore: refill === null ? null : refillPeriodStart(refill.interval, now) }));
    const left = await this.ctx.store.keys.spendChainCredits(spends, cost, now);
    return left === null ? null : Math.min(...left);
  }

  /** The smallest remaining credits over the chain's keys with credits. */
  private async readCredits(holders: readonly CreditHolder[]): Promise<number> {
    let smallest = Infinity;
    for (const { keyId } of holders) smallest = Math.min(smallest, (await this.ctx.store.keys.readCredits(keyId)) ?? 0);
    return smallest;
  }

  private verifyJwt(token: string, request: VerifyRequest, options: VerifyOptions): Awaitable<VerificationResult> {
    const outcome = this.jwts.verify(token, {
      api: request.api,
      scopes: request.scopes ?? NO_SCOPES,
      match: request.match ?? 'all',
      anyOf: request.anyOf,
      tenant: options.tenant,
    });
    return outcome instanceof Promise ? outcome.then((found) => this.answerJwt(found, request, options)) : this.answerJwt(outcome, request, options);
  }

  /** A JWT's outcome counted, and audited when it is a refusal of a token of a known tenant. */
  private answerJwt({ result, tenant }: JwtOutcome, request: VerifyRequest, options: VerifyOptions): VerificationResult {
    this.jwtCounts[result.code].inc();
    if (!result.valid && tenant !== null) {
      this.ctx.audit.enqueue(
        this.ctx.audit.event(tenant.id, { id: 'verify', requestId: options.requestId ?? null, ip: request.ip ?? null }, 'token.verify.denied', result.keyId, {
          code: result.code,
          api: request.api,
          requiredScopes: requiredScopesOf(request),
        }),
      );
    }
    return result;
  }

  /** A refusal of a known key: audited, counted, answered. Only refusals build the argument object. */
  private deny({ facts, code, request, options, ratelimits = NO_RATELIMITS, credits = null }: Denial): VerificationResult {
    const event: AuditEvent = this.ctx.audit.event(
      facts.key.tenantId,
      { id: 'verify', requestId: options.requestId ?? null, ip: request.ip ?? null },
      'key.verify.denied',
      facts.key.id,
      { code, api: request.api, requiredScopes: requiredScopesOf(request) },
    );
    this.ctx.audit.enqueue(event);
    this.apiKeyCounts[code].inc();
    return result(facts, code, ratelimits, credits);
  }

  /** An API-key answer about no key at all (malformed or unknown), counted. */
  private refuse(code: 'MALFORMED' | 'NOT_FOUND'): VerificationResult {
    this.apiKeyCounts[code].inc();
    return emptyResult(code);
  }
}

/** What a refusal of a known key is about; limits and credits as far as they were checked. */
interface Denial {
  facts: CachedKey;
  code: VerificationCode;
  request: VerifyRequest;
  options: VerifyOptions;
  ratelimits?: RatelimitState[];
  credits?: { remaining: number } | null;
}

/**
 * What a denial's audit event says was required: the scopes, or for an OpenAPI requirement its
 * alternatives, each as one space-separated string (`["admin", "read:users write:users"]`).
 */
function requiredScopesOf(request: VerifyRequest): readonly string[] {
  return request.anyOf === undefined ? (request.scopes ?? []) : request.anyOf.map((alternative) => alternative.join(' '));
}

/** The window, in whole seconds, of the named limit of a key of the chain. */
function windowOf(subjects: RatelimitChain['subjects'], keyId: string, name: string): number {
  for (const subject of subjects) {
    if (subject.keyId !== keyId) continue;
    for (const limit of subject.limits) if (limit.name === name) return Math.ceil(limit.duration / 1000);
  }
  return 0;
}

function result(
  facts: CachedKey,
  code: VerificationCode,
  ratelimits: RatelimitState[],
  credits: { remaining: number } | null,
): VerificationResult {
  return {
    valid: code === 'VALID',
    code,
    keyId: facts.key.id,
    tenant: facts.tenantSlug,
    api: facts.apiIdentifier,
    consumer: facts.key.consumer,
    scopes: facts.scopeList as string[],
    meta: facts.meta,
    expiresAt: facts.expiresAtIso,
    ratelimits,
    credits,
  };
}
