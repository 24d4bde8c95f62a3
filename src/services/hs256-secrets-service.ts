import { randomBytes } from 'node:crypto';
import { newId } from '../crypto/secrets.js';
import { signatureVerifier, type SignatureVerifier } from '../crypto/signing.js';
import type { Hs256Secret } from '../domain/clients.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import type { Actor, ServiceContext } from './context.js';

const CACHE_MS = 5_000;

/**
 * Secrets with which a tenant's own services mint HS256 tokens (decentralised issuance).
 * Keygate must read a secret back to check an HMAC, so it is sealed, not hashed; it is shown
 * once. Verifiers for a kid are cached for a few seconds; a revocation here drops them at once.
 */
export class Hs256SecretsService {
  private readonly verifiers = new Map<string, { tenantId: string; verify: SignatureVerifier | null; at: number }>();

  constructor(private readonly ctx: ServiceContext) {}

  async create(actor: Actor, tenant: Tenant): Promise<{ kid: string; secret: string }> {
    const now = this.ctx.clock();
    const kid = newId('hs256Secret', now);
    const secret = randomBytes(32).toString('base64url');
    const record: Hs256Secret = { kid, tenantId: tenant.id, createdAt: now, revokedAt: null };
    const sealed = this.ctx.envelope.seal(Buffer.from(secret), `hs256:${kid}`);
    await this.ctx.store.tokens.createHs256Secret(record, sealed, this.ctx.audit.event(tenant.id, actor, 'hs256_secret.create', kid));
    return { kid, secret };
  }

  list(tenant: Tenant): Promise<Hs256Secret[]> {
    return this.ctx.store.tokens.listHs256Secrets(tenant.id);
  }

  async revoke(actor: Actor, tenant: Tenant, kid: string): Promise<void> {
    const revoked = await this.ctx.store.tokens.revokeHs256Secret(tenant.id, kid, this.ctx.clock(), this.ctx.audit.event(tenant.id, actor, 'hs256_secret.revoke', kid));
    this.verifiers.delete(kid);
    if (!revoked && (await this.ctx.store.tokens.findHs256Secret(kid))?.tenantId !== tenant.id) {
      throw new KeygateError('SECRET_NOT_FOUND', `no HS256 secret "${kid}" in tenant "${tenant.slug}"`);
    }
  }

  /** The verifier for a live secret of the tenant, or null (unknown, revoked, other tenant). */
  async verifier(tenantId: string, kid: string): Promise<SignatureVerifier | null> {
    const now = this.ctx.clock();
    const cached = this.verifierIfCached(tenantId, kid, now);
    if (cached !== undefined) return cached;
    const found = await this.ctx.store.tokens.findHs256Secret(kid);
    const verify =
      found && found.revokedAt === null ? signatureVerifier({ alg: 'HS256', key: this.ctx.envelope.open(found.sealed, `hs256:${kid}`) }) : null;
    if (this.verifiers.size > 10_000) this.verifiers.clear();
    this.verifiers.set(kid, { tenantId: found?.tenantId ?? '', verify, at: now });
    return found?.tenantId === tenantId ? verify : null;
  }

  /** `verifier` when its answer is in memory and fresh, else undefined: lets the verify path skip a promise. */
  verifierIfCached(tenantId: string, kid: string, now: number = this.ctx.clock()): SignatureVerifier | null | undefined {
    const cached = this.verifiers.get(kid);
    if (cached === undefined || now - cached.at >= CACHE_MS) return undefined;
    return cached.tenantId === tenantId ? cached.verify : null;
  }
}
