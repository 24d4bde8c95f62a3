import { newId } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import { SYSTEM_TENANT_SLUG, isReservedSlug } from '../domain/management.js';
import { DEFAULT_HS256_MAX_LIFETIME_SEC, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../domain/tokens/jwt.js';
import type { Page, PageRequest } from '../store/store.js';
import { newSigningKey } from './signing-keys-service.js';
import type { Actor, ServiceContextWith } from './context.js';
import type { GatewayRoutesService } from './gateway-routes-service.js';

export const TENANT_SLUG_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';

export class TenantsService {
  constructor(
    private readonly ctx: ServiceContextWith<'directory'>,
    private readonly gatewayRoutes: Pick<GatewayRoutesService, 'changed'>,
  ) {}

  async create(
    actor: Actor,
    input: { slug: string; name: string; signingAlg?: SigningAlgorithm; selfSignup?: boolean; hs256MaxLifetime?: number },
  ): Promise<Tenant> {
    if (!new RegExp(TENANT_SLUG_PATTERN).test(input.slug)) {
      throw new KeygateError('INVALID_REQUEST', 'slug must be lowercase letters, digits and dashes, starting with a letter or digit');
    }
    const now = this.ctx.clock();
    const signingAlg = input.signingAlg ?? 'EdDSA';
    if (!SIGNING_ALGORITHMS.includes(signingAlg)) throw new KeygateError('INVALID_REQUEST', `signingAlg must be one of ${SIGNING_ALGORITHMS.join(', ')}`);
    const tenant: Tenant = {
      id: newId('tenant', now),
      slug: input.slug,
      name: input.name,
      signingAlg,
      selfSignup: input.selfSignup ?? false,
      hs256MaxLifetime: input.hs256MaxLifetime ?? DEFAULT_HS256_MAX_LIFETIME_SEC,
      createdAt: now,
    };
    const firstKey = newSigningKey(this.ctx.envelope, tenant.id, signingAlg, now, now);
    const event = this.ctx.audit.event(tenant.id, actor, 'tenant.create', tenant.id, { slug: tenant.slug, signingAlg });
    await this.ctx.store.directory.createTenant(tenant, event, firstKey);
    // A lookup of this slug before it existed may be cached as "no such tenant".
    await this.ctx.directory.changed([tenant.id]);
    // A second tenant ends the gateway's "the only API takes every Host" here before this answers.
    await this.gatewayRoutes.changed();
    return tenant;
  }

  /**
   * The tenant a request names, or TENANT_NOT_FOUND. A reserved slug (`_system`) is never found,
   * whoever asks: the system tenant is reached only through `/v1/root-keys`.
   */
  async get(slug: string): Promise<Tenant> {
    const tenant = isReservedSlug(slug) ? null : await this.ctx.store.directory.findTenantBySlug(slug);
    if (tenant === null) throw new KeygateError('TENANT_NOT_FOUND', `no tenant "${slug}"`);
    return tenant;
  }

  /**
   * Changes name, self sign-up, the HS256 lifetime cap or the signing algorithm; hot paths see it
   * at once here and, through the bus, elsewhere (a lower cap refuses self-issued tokens already
   * out). A new signing algorithm is the one of the keys later rotations make: the key that signs
   * now keeps signing until the next rotation, so no verifier meets a key it has not fetched.
   */
  async update(actor: Actor, tenant: Tenant, changes: { name?: string; selfSignup?: boolean; hs256MaxLifetime?: number; signingAlg?: SigningAlgorithm }): Promise<Tenant> {
    const updated: Tenant = { ...tenant, ...changes };
    const fields = (['name', 'selfSignup', 'hs256MaxLifetime', 'signingAlg'] as const).filter((field) => changes[field] !== undefined);
    await this.ctx.store.directory.updateTenant(updated, fields, this.ctx.audit.event(tenant.id, actor, 'tenant.update', tenant.id, { fields: Object.keys(changes) }));
    await this.ctx.directory.changed([tenant.id]);
    // What the row holds now: a concurrent change of another field shows, and is not undone.
    return this.get(tenant.slug);
  }

  /**
   * Deletes the tenant and every row it owns, in one transaction, and revokes the root keys
   * limited to its slug (so a tenant made later under that slug starts with no key that reaches
   * it). The event goes to the root-key audit log (the system tenant's), since the tenant's own
   * log goes with it. Every cache that may hold the tenant, its APIs, clients and keys drops them,
   * and the gateway stops serving its APIs here before the delete answers (elsewhere through the
   * bus): their public operations need no key, so dead keys alone would not close them.
   */
  async delete(actor: Actor, tenant: Tenant): Promise<{ revokedRootKeys: string[] }> {
    const system = await this.ctx.store.directory.findTenantBySlug(SYSTEM_TENANT_SLUG);
    if (system === null) throw new Error('the system tenant is missing');
    // Denials queued here for the tenant are written first, so the cascade takes them too.
    await this.ctx.audit.flush();
    const now = this.ctx.clock();
    const event = this.ctx.audit.event(system.id, actor, 'tenant.delete', tenant.id, { slug: tenant.slug });
    const removed = await this.ctx.store.directory.deleteTenant(tenant, now, event);
    if (removed === null) throw new KeygateError('TENANT_NOT_FOUND', `no tenant "${tenant.slug}"`);
    await this.ctx.lookup.invalidate([...removed.keyIds, ...removed.rootKeyIds]);
    await this.ctx.directory.changed([tenant.id, ...removed.apiIds, ...removed.clientIds]);
    await this.gatewayRoutes.changed();
    return { revokedRootKeys: removed.rootKeyIds };
  }

  /** A page of tenants; `search` keeps those whose slug or name contains it, ignoring case. */
  list(page: PageRequest, options: { search?: string } = {}): Promise<Page<Tenant>> {
    return this.ctx.store.directory.listTenants(page, options);
  }
}
