import type { Envelope } from '../crypto/envelope.js';
import { newId } from '../crypto/secrets.js';
import { generateSigningKeyPair, publicJwkFor, publicKeyFromJwk, signatureVerifier, tokenSigner, type SignatureVerifier, type TokenSigner } from '../crypto/signing.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import { currentKey, publishedKeys } from '../domain/signing-keys.js';
import type { SigningAlgorithm } from '../domain/tokens/jwt.js';
import type { StoredSigningKey } from '../store/store.js';
import type { Actor, ServiceContext } from './context.js';

/** Default delay between publishing a new key and signing with it: the JWKS max-age. */
export const JWKS_MAX_AGE_SECONDS = 300;

/** A fresh key pair for a tenant, its private half sealed under the master key. */
export function newSigningKey(envelope: Envelope, tenantId: string, alg: SigningAlgorithm, now: number, activatesAt: number): StoredSigningKey {
  const pair = generateSigningKeyPair(alg);
  const kid = newId('signingKey', now);
  return {
    kid,
    tenantId,
    alg,
    publicJwk: publicJwkFor(kid, alg, pair.publicJwk),
    sealedPrivateKey: envelope.seal(Buffer.from(pair.privatePem), `signing-key:${kid}`),
    createdAt: now,
    activatesAt,
    retiredAt: null,
    publishUntil: null,
  };
}

interface TenantKeys {
  keys: StoredSigningKey[];
  verifiers: Map<string, { alg: SigningAlgorithm; verify: SignatureVerifier }>;
  signers: Map<string, TokenSigner>;
  loadedAt: number;
}

const RELOAD_MS = 30_000;

/**
 * Per-tenant signing keys: rotation, the published JWKS, and cached signers and verifiers
 * (private keys are opened once per process, never per token). Keys are reloaded every 30 s
 * so that a rotation by another instance takes effect, and at once after a local rotation.
 */
export class SigningKeysService {
  private readonly tenants = new Map<string, TenantKeys>();

  constructor(private readonly ctx: ServiceContext) {}

  /**
   * Publishes a new key now; it starts signing after `activateAfterSeconds` (default: the JWKS
   * max-age, so every verifier has seen it first). The current key then retires and stays
   * published until the last token it signed has expired.
   */
  async rotate(actor: Actor, tenant: Tenant, options: { activateAfterSeconds?: number; alg?: SigningAlgorithm } = {}): Promise<StoredSigningKey> {
    const delay = options.activateAfterSeconds ?? JWKS_MAX_AGE_SECONDS;
    if (!Number.isSafeInteger(delay) || delay < 0 || delay > 86_400 * 30) throw new KeygateError('INVALID_REQUEST', 'activateAfterSeconds must be 0–2592000');
    const now = this.ctx.clock();
    const existing = await this.ctx.store.tokens.listSigningKeys(tenant.id);
    const next = newSigningKey(this.ctx.envelope, tenant.id, options.alg ?? tenant.signingAlg, now, now + delay * 1000);
    // Keys that would still be signing when the new one activates retire at that moment.
    const retiring = existing.filter((k) => k.retiredAt === null || k.retiredAt > next.activatesAt).map((k) => k.kid);
    const event = this.ctx.audit.event(tenant.id, actor, 'signing_key.rotate', next.kid, { alg: next.alg, activatesAt: new Date(next.activatesAt).toISOString(), retiring });
    await this.ctx.store.tokens.addSigningKey(next, { kids: retiring, retiredAt: next.activatesAt }, event);
    this.tenants.delete(tenant.id);
    return next;
  }

  /** The keys a verifier may need now, with their state. */
  async list(tenant: Tenant): Promise<StoredSigningKey[]> {
    const now = this.ctx.clock();
    await this.settleRetired(tenant, now);
    return publishedKeys((await this.load(tenant.id, now, true)).keys, now);
  }

  /** The JWKS document: public keys only. */
  async jwks(tenant: Tenant): Promise<{ keys: Record<string, unknown>[] }> {
    return { keys: (await this.list(tenant)).map((k) => k.publicJwk) };
  }

  /** The signer of the key that signs now, with its kid. */
  async signer(tenantId: string, typ: string): Promise<{ kid: string; alg: SigningAlgorithm; sign: TokenSigner }> {
    const now = this.ctx.clock();
    const loaded = await this.load(tenantId, now, false);
    const key = currentKey(loaded.keys, now);
    if (key === null) throw new KeygateError('INTERNAL', 'the tenant has no active signing key');
    const cacheKey = `${key.kid}:${typ}`;
    let sign = loaded.signers.get(cacheKey);
    if (sign === undefined) {
      const pem = this.ctx.envelope.open(key.sealedPrivateKey, `signing-key:${key.kid}`).toString();
      sign = tokenSigner({ alg: key.alg, kid: key.kid, key: pem, typ });
      loaded.signers.set(cacheKey, sign);
    }
    return { kid: key.kid, alg: key.alg, sign };
  }

  /** The signature verifier for a published key of the tenant, or null for an unknown kid. */
  async verifier(tenantId: string, kid: string): Promise<{ alg: SigningAlgorithm; verify: SignatureVerifier } | null> {
    const now = this.ctx.clock();
    let loaded = await this.load(tenantId, now, false);
    if (!loaded.verifiers.has(kid) && now - loaded.loadedAt > 1000) loaded = await this.load(tenantId, now, true);
    return loaded.verifiers.get(kid) ?? null;
  }

  /** Sets publishUntil on retired keys once the last expiry of their tokens is known. */
  private async settleRetired(tenant: Tenant, now: number): Promise<void> {
    const keys = (await this.load(tenant.id, now, false)).keys;
    const open = keys.filter((k) => k.retiredAt !== null && k.retiredAt <= now && k.publishUntil === null);
    if (open.length === 0) return;
    const accessTtlMs = (await this.ctx.store.directory.maxAccessTokenTtl(tenant.id)) * 1000;
    for (const key of open) {
      const lastApiKeyJwt = await this.ctx.store.tokens.lastIssuedTokenExpiry(key.kid);
      if (lastApiKeyJwt === Infinity) continue;
      await this.ctx.store.tokens.setPublishUntil(key.kid, Math.max(key.retiredAt! + accessTtlMs, lastApiKeyJwt ?? 0));
    }
    this.tenants.delete(tenant.id);
  }

  private async load(tenantId: string, now: number, force: boolean): Promise<TenantKeys> {
    const cached = this.tenants.get(tenantId);
    if (cached && !force && now - cached.loadedAt < RELOAD_MS) return cached;
    const keys = await this.ctx.store.tokens.listSigningKeys(tenantId);
    const verifiers = new Map<string, { alg: SigningAlgorithm; verify: SignatureVerifier }>();
    for (const key of publishedKeys(keys, now)) {
      verifiers.set(key.kid, { alg: key.alg, verify: signatureVerifier({ alg: key.alg, key: publicKeyFromJwk(key.publicJwk) }) });
    }
    const loaded: TenantKeys = { keys, verifiers, signers: cached?.signers ?? new Map(), loadedAt: now };
    this.tenants.set(tenantId, loaded);
    return loaded;
  }
}
