import { LRUCache } from 'lru-cache';
import { hashSecret } from '../../crypto/secrets.js';
import { VERIFICATION_CODES, type VerificationResult } from '../../domain/verification.js';
import { KeygateUnavailableError, type KeygateHttp } from './keygate-http.js';
import type { Requirement } from './outcome.js';

const MAX_CACHED_RESULTS = 10_000;

interface CachedResult {
  until: number;
  result: VerificationResult;
}

/**
 * Asks `POST /v1/verify` about credentials only Keygate can check (API keys: state it holds;
 * HS256 tokens: a secret it holds), and reuses each answer for `cacheMs`. The cache is keyed by
 * the SHA-256 of the credential, never the credential itself, plus the caller's address (an IP
 * allowlist's answer holds for that address only) and the route's requirement (the scope check,
 * implications included, is Keygate's). Answers of keys with rate limits or credits
 * are never reused: every request must be counted.
 */
export class RemoteVerifier {
  private readonly cache = new LRUCache<string, CachedResult>({ max: MAX_CACHED_RESULTS });
  private warnedStatus = 0;

  constructor(
    private readonly options: {
      url: string;
      rootKey: string;
      audience: string;
      cacheMs: number;
      http: KeygateHttp;
      clock: () => number;
      warn: (message: string) => void;
    },
  ) {}

  /** Keygate's answer. Throws KeygateUnavailableError when it could not be had. */
  async verify(credential: string, requirement: Requirement, ip: string | undefined): Promise<VerificationResult> {
    const now = this.options.clock();
    const key = `${hashSecret(credential)} ${ip ?? '-'} ${requirement.cacheKey}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      if (cached.until > now) return cached.result;
      this.cache.delete(key);
    }
    const result = await this.ask(credential, requirement, ip);
    if (this.options.cacheMs > 0 && reusable(result)) {
      // Counted from before the call: the answer is at least as fresh as that instant, so a
      // revocation is seen at most cacheMs later. Never past the credential's own expiry.
      const expiresAt = result.expiresAt === null ? Infinity : Date.parse(result.expiresAt);
      this.cache.set(key, { until: Math.min(now + this.options.cacheMs, expiresAt), result });
    }
    return result;
  }

  private async ask(credential: string, requirement: Requirement, ip: string | undefined): Promise<VerificationResult> {
    const response = await this.options.http.request(this.options.url, {
      method: 'POST',
      authorization: `Bearer ${this.options.rootKey}`,
      json: { credential, api: this.options.audience, scopes: requirement.scopes, match: requirement.match, ...(ip === undefined ? {} : { ip }) },
    });
    if (response.status !== 200 || !isResult(response.body)) {
      if (response.status === 401 || response.status === 403) {
        // A configuration fault the API owner must hear about, once per status, not per request.
        if (this.warnedStatus !== response.status) {
          this.warnedStatus = response.status;
          this.options.warn(`keygate: POST /v1/verify refused the root key (HTTP ${response.status}); it needs the keys:verify scope`);
        }
      }
      throw new KeygateUnavailableError(`POST ${this.options.url} answered HTTP ${response.status}`);
    }
    return response.body;
  }
}

function reusable(result: VerificationResult): boolean {
  return result.ratelimits.length === 0 && result.credits === null && result.code !== 'RATE_LIMITED' && result.code !== 'USAGE_EXCEEDED';
}

function isResult(body: unknown): body is VerificationResult {
  if (typeof body !== 'object' || body === null) return false;
  const r = body as Record<string, unknown>;
  return (
    typeof r['valid'] === 'boolean' &&
    (VERIFICATION_CODES as readonly unknown[]).includes(r['code']) &&
    Array.isArray(r['scopes']) &&
    Array.isArray(r['ratelimits']) &&
    typeof r['meta'] === 'object'
  );
}
