import { newId } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import { KEY_PREFIX_PATTERN } from '../domain/keys/format.js';
import { DEFAULT_REFRESH_TOKENS, MAX_REFRESH_REUSE_INTERVAL, type Api, type RefreshTokenSettings, type Tenant } from '../domain/keys/key.js';
import { validateCatalog, type ScopeDefinition } from '../domain/scopes.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContext } from './context.js';

export interface CreateApiInput {
  identifier: string;
  name: string;
  scopes: ScopeDefinition[];
  keyPrefix?: string;
  accessTokenTtl?: number;
  refreshTokens?: Partial<RefreshTokenSettings>;
}

export interface UpdateApiInput {
  name?: string;
  scopes?: ScopeDefinition[];
  accessTokenTtl?: number;
  refreshTokens?: Partial<RefreshTokenSettings>;
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
      scopes: normaliseCatalog(input.scopes),
      accessTokenTtl: validTtl(input.accessTokenTtl ?? 3600),
      refreshTokens: refreshSettings(DEFAULT_REFRESH_TOKENS, input.refreshTokens),
      createdAt: now,
    };
    await this.ctx.store.createApi(api, this.ctx.audit.event(tenant.id, actor, 'api.create', api.id, { identifier: api.identifier }));
    await this.ctx.directory.changed([api.id]);
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

  /**
   * Changes settings. A catalog change may drop scopes keys still hold; they simply stop
   * matching. Cached keys are dropped because implications are baked into the cache.
   */
  async update(actor: Actor, tenant: Tenant, identifier: string, input: UpdateApiInput): Promise<Api> {
    const api = await this.get(tenant, identifier);
    if (input.scopes !== undefined) validateCatalog(input.scopes);
    const updated: Api = {
      ...api,
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.scopes !== undefined ? { scopes: normaliseCatalog(input.scopes) } : {}),
      ...(input.accessTokenTtl !== undefined ? { accessTokenTtl: validTtl(input.accessTokenTtl) } : {}),
      refreshTokens: refreshSettings(api.refreshTokens, input.refreshTokens),
    };
    await this.ctx.store.updateApi(updated, this.ctx.audit.event(tenant.id, actor, 'api.update', api.id, { fields: Object.keys(input) }));
    this.ctx.lookup.clear();
    await this.ctx.directory.changed([api.id]);
    return updated;
  }
}

function normaliseCatalog(scopes: ScopeDefinition[]): ScopeDefinition[] {
  return scopes.map((s) => (s.implies?.length ? { name: s.name, description: s.description, implies: s.implies } : { name: s.name, description: s.description }));
}

function validTtl(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds > 31_536_000) {
    throw new KeygateError('INVALID_REQUEST', 'accessTokenTtl must be 1–31536000 seconds');
  }
  return seconds;
}

function refreshSettings(base: RefreshTokenSettings, change: Partial<RefreshTokenSettings> | undefined): RefreshTokenSettings {
  const next = { ...base, ...change };
  for (const field of ['idleTtl', 'absoluteTtl'] as const) {
    if (!Number.isSafeInteger(next[field]) || next[field] < 1) throw new KeygateError('INVALID_REQUEST', `refreshTokens.${field} must be a positive number of seconds`);
  }
  if (next.idleTtl > next.absoluteTtl) throw new KeygateError('INVALID_REQUEST', 'refreshTokens.idleTtl cannot exceed absoluteTtl');
  if (!Number.isSafeInteger(next.reuseInterval) || next.reuseInterval < 0 || next.reuseInterval > MAX_REFRESH_REUSE_INTERVAL) {
    throw new KeygateError('INVALID_REQUEST', `refreshTokens.reuseInterval must be 0–${MAX_REFRESH_REUSE_INTERVAL} seconds`);
  }
  return { enabled: next.enabled === true, idleTtl: next.idleTtl, absoluteTtl: next.absoluteTtl, reuseInterval: next.reuseInterval };
}
