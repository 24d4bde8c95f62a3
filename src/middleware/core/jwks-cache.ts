import { publicKeyFromJwk, signatureVerifier, type SignatureVerifier } from '../../crypto/signing.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../domain/tokens/jwt.js';
import { KeygateUnavailableError, type KeygateHttp } from './keygate-http.js';

/** A published signing key, ready to check signatures (node:crypto, synchronous). */
export interface PublishedKey {
  alg: SigningAlgorithm;
  verify: SignatureVerifier;
}

/** Used when the JWKS answer has no max-age; Keygate sends 300. */
const DEFAULT_MAX_AGE_MS = 300_000;
/** A failed first fetch is retried at most this often, so a verifier started before Keygate recovers quickly. */
const FIRST_FETCH_RETRY_MS = 1000;

/**
 * The tenant's JWKS, fetched once and kept. A kid it does not know causes one refetch, and
 * refetches for unknown kids are at least `cooldownMs` apart: a flood of tokens with invented
 * kids costs Keygate one request per cooldown, not one per token. Concurrent callers share one
 * fetch. Past the answer's max-age the set is refreshed in the background while known keys keep
 * working.
 */
export class JwksCache {
  private keys = new Map<string, PublishedKey>();
  private loaded = false;
  private fetchedAt = 0;
  private attemptedAt = -Infinity;
  private maxAgeMs = DEFAULT_MAX_AGE_MS;
  private inflight: Promise<void> | null = null;

  constructor(
    private readonly options: { url: string; cooldownMs: number; http: KeygateHttp; clock: () => number },
  ) {}

  /**
   * The key for a kid, or null when the JWKS does not publish it. Throws KeygateUnavailableError
   * when the JWKS could not be read (never read at all, or the refetch for this kid failed).
   */
  async find(kid: string): Promise<PublishedKey | null> {
    const now = this.options.clock();
    if (!this.loaded) {
      if (this.inflight === null && now - this.attemptedAt < Math.min(this.options.cooldownMs, FIRST_FETCH_RETRY_MS)) {
        throw new KeygateUnavailableError('the JWKS could not be fetched yet');
      }
      await this.refresh(now);
    }
    const known = this.keys.get(kid);
    if (known !== undefined) {
      if (now - this.fetchedAt > this.maxAgeMs && this.inflight === null && now - this.attemptedAt >= this.options.cooldownMs) {
        this.refresh(now).catch(() => {
          // The keys in hand stay valid; the next request after the cooldown tries again.
        });
      }
      return known;
    }
    if (this.inflight !== null) {
      await this.inflight;
    } else if (now - this.attemptedAt >= this.options.cooldownMs) {
      await this.refresh(now);
    }
    return this.keys.get(kid) ?? null;
  }

  private refresh(now: number): Promise<void> {
    if (this.inflight !== null) return this.inflight;
    this.attemptedAt = now;
    this.inflight = this.fetchKeys().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    const response = await this.options.http.request(this.options.url, { method: 'GET' });
    const body = response.body as { keys?: unknown } | null;
    if (response.status !== 200 || body === null || !Array.isArray(body.keys)) {
      throw new KeygateUnavailableError(`GET ${this.options.url} answered HTTP ${response.status} without a JWKS`);
    }
    const keys = new Map<string, PublishedKey>();
    for (const jwk of body.keys as unknown[]) {
      const key = publishedKey(jwk);
      if (key !== null) keys.set(key.kid, key.key);
    }
    this.keys = keys;
    this.loaded = true;
    this.fetchedAt = this.options.clock();
    this.maxAgeMs = maxAgeOf(response.headers.get('cache-control')) ?? DEFAULT_MAX_AGE_MS;
  }
}

/**
 * A JWK the verifier will trust: a kid, a signing algorithm Keygate uses (the token's `alg` must
 * then equal it), meant for signatures, and key material Node can import. Anything else is skipped.
 */
function publishedKey(jwk: unknown): { kid: string; key: PublishedKey } | null {
  if (typeof jwk !== 'object' || jwk === null) return null;
  const { kid, alg, use } = jwk as Record<string, unknown>;
  if (typeof kid !== 'string' || kid.length === 0) return null;
  if (!(SIGNING_ALGORITHMS as readonly unknown[]).includes(alg)) return null;
  if (use !== undefined && use !== 'sig') return null;
  try {
    const verify = signatureVerifier({ alg: alg as SigningAlgorithm, key: publicKeyFromJwk(jwk as Record<string, unknown>) });
    return { kid, key: { alg: alg as SigningAlgorithm, verify } };
  } catch {
    return null;
  }
}

function maxAgeOf(cacheControl: string | null): number | null {
  const match = cacheControl === null ? null : /(?:^|[,\s])max-age=(\d+)/i.exec(cacheControl);
  return match === null ? null : Number(match[1]) * 1000;
}
