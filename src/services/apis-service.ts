import { newId } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import { KEY_PREFIX_PATTERN } from '../domain/keys/format.js';
import type { Api, Tenant } from '../domain/keys/key.js';
import { validateCatalog, type ScopeDefinition } from '../domain/scopes.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContext } from './context.js';

export interface CreateApiInput {
  identifier: string;
  name: string;
  scopes: ScopeDefinition[];
  keyPrefix?: string;
}

export class ApisService {
  constructor(private readonly ctx: ServiceContext) {}

  async create(actor: Actor, tenant: Tenant, input: CreateApiInput): Promise<Api> {
    validateCatalog(input.scopes);
    const keyPrefix = input.keyPrefix ?? 'kg';
    if (!KEY_PREFIX_PATTERN.test(keyPrefix)) {
      throw new KeygateError('INVALID_REQUEST', 'keyPrefix must be 1–16 lowercase letters and digits, starting with a letter');
    }
    const now = this.ctx.clock();
    const api: Api = {
      id: newId('api', now),
      tenantId: tenant.id,
      identifier: input.identifier,
      name: input.name,
      keyPrefix,
      scopes: input.scopes.map((s) => (s.implies?.length ? { ...s } : { name: s.name, description: s.description })),
      createdAt: now,
    };
    await this.ctx.store.createApi(api, this.ctx.audit.event(tenant.id, actor, 'api.create', api.id, { identifier: api.identifier }));
    return api;
  }

  /** The API with this identifier in the tenant, or API_NOT_FOUND. */
  async get(tenant: Tenant, identifier: string): Promise<Api> {
    const api = await this.ctx.store.findApi(tenant.id, identifier);
    if (api === null) throw new KeygateError('API_NOT_FOUND', `no API "${identifier}" in tenant "${tenant.slug}"`);
    return api;
  }

  list(tenant: Tenant, page: PageRequest): Promise<Page<Api>> {
    return this.ctx.store.listApis(tenant.id, page);
  }
}
