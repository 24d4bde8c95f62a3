import { lookup } from 'node:dns/promises';
import { newId } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import { KEY_PREFIX_PATTERN } from '../domain/keys/format.js';
import { operationsRequiring } from '../domain/gateway/openapi.js';
import { hostWithinSuffixes, type HostAuthority } from '../domain/gateway/host-policy.js';
import { applyGatewaySettings, DEFAULT_GATEWAY_SETTINGS, gatewayHostsOf, isLoopbackAddress, upstreamAddressProblem, type ExternalIssuer, type GatewaySettings } from '../domain/gateway/settings.js';
import { DEFAULT_REFRESH_TOKENS, MAX_REFRESH_REUSE_INTERVAL, type Api, type RefreshTokenSettings } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { validateCatalog, type ScopeDefinition } from '../domain/scopes.js';
import type { ApiDocument, Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import type { GatewayRoutesService } from './gateway-routes-service.js';
import { compileDocument } from './openapi-document.js';
import type { RevocationsService } from './revocations-service.js';

/** The gateway settings as the API takes them: top-level fields of an API, each optional. */
export type GatewayInput = Partial<Omit<GatewaySettings, 'externalIssuers'>> & {
  externalIssuers?: (Omit<ExternalIssuer, 'audience'> & { audience?: string | null })[];
};

const GATEWAY_FIELDS = ['upstream', 'gatewayHosts', 'externalIssuers', 'phantomToken', 'credentialHeader', 'credentialQuery', 'passthrough', 'corsPreflight'] as const;

/** How many operations a SCOPES_IN_DOCUMENT message names before it counts the rest. */
const MAX_NAMED_OPERATIONS = 10;

export interface ApisServiceOptions {
  /** Whether an upstream may be a link-local or cloud-metadata address (GATEWAY_LINK_LOCAL_UPSTREAMS=allow). */
  allowLinkLocalUpstreams: boolean;
  /** Keygate's own ports (management, gateway): an upstream on loopback at one of them would loop back into Keygate. */
  ownPorts: readonly number[];
  /** GATEWAY_HOST_SUFFIXES, parsed: where a root key limited to one tenant may claim gateway hosts. */
  hostSuffixes: readonly string[];
}

/** Who asks for a change: an operator's root key for every tenant, or a tenant's own administrator. */
export interface ChangeOptions {
  /** Which hosts the caller may claim for the gateway (`HostAuthority`); an operator's when not said. */
  hostAuthority?: HostAuthority;
}

export interface CreateApiInput extends GatewayInput {
  identifier: string;
  name: string;
  scopes: ScopeDefinition[];
  keyPrefix?: string;
  accessTokenTtl?: number;
  refreshTokens?: Partial<RefreshTokenSettings>;
}

export interface UpdateApiInput extends GatewayInput {
  name?: string;
  scopes?: ScopeDefinition[];
  accessTokenTtl?: number;
  refreshTokens?: Partial<RefreshTokenSettings>;
}

export class ApisService {
  constructor(
    private readonly ctx: ServiceContextWith<'directory'>,
    private readonly revocations: RevocationsService,
    private readonly gatewayRoutes: GatewayRoutesService,
    private readonly options: ApisServiceOptions,
  ) {}

  async create(actor: Actor, tenant: Tenant, input: CreateApiInput, options: ChangeOptions = {}): Promise<Api> {
    validateCatalog(input.scopes);
    const keyPrefix = input.keyPrefix ?? 'kg';
    if (!KEY_PREFIX_PATTERN.test(keyPrefix)) {
      throw new KeygateError('INVALID_REQUEST', 'keyPrefix must be 1–16 lowercase letters and digits, starting with a letter');
    }
    const gateway = applyGatewaySettings(DEFAULT_GATEWAY_SETTINGS, gatewayChange(input));
    this.checkHostClaims(tenant, options, input.identifier, gateway, DEFAULT_GATEWAY_SETTINGS);
    await this.checkReachable(gateway, DEFAULT_GATEWAY_SETTINGS);
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
      gateway,
      createdAt: now,
    };
    await this.ctx.store.directory.createApi(api, this.ctx.audit.event(tenant.id, actor, 'api.create', api.id, { identifier: api.identifier }));
    await this.ctx.directory.changed([api.id]);
    await this.gatewayRoutes.changed();
    return api;
  }

  /**
   * The API a route names, by its identifier or, failing that, by its id (`api_…`), within the
   * tenant; else API_NOT_FOUND. An id of another tenant's API is not found either.
   */
  async get(tenant: Tenant, identifierOrId: string): Promise<Api> {
    const byIdentifier = await this.ctx.store.directory.findApi(tenant.id, identifierOrId);
    if (byIdentifier !== null) return byIdentifier;
    const byId = identifierOrId.startsWith('api_') ? await this.ctx.store.directory.findApiById(identifierOrId) : null;
    if (byId !== null && byId.tenantId === tenant.id) return byId;
    throw new KeygateError('API_NOT_FOUND', `no API "${identifierOrId}" in tenant "${tenant.slug}"`);
  }

  /** A page of the tenant's APIs; `search` keeps those whose identifier or name contains it, ignoring case. */
  list(tenant: Tenant, page: PageRequest, options: { search?: string } = {}): Promise<Page<Api>> {
    return this.ctx.store.directory.listApis(tenant.id, page, options);
  }

  /**
   * Changes settings. A catalog that drops (or renames) scopes the API's OpenAPI document
   * requires is refused with SCOPES_IN_DOCUMENT, `force` or not. A catalog that drops scopes still
   * held by keys (not revoked) or clients is refused with SCOPES_IN_USE and the counts, unless
   * `force`: then those keys and clients are narrowed to the scopes that remain, in the same
   * transaction. Cached keys are dropped because implications are baked into the cache; the
   * gateway's routes need no new compile, since they hold scope names and implications apply at
   * verification.
   */
  async update(actor: Actor, tenant: Tenant, identifierOrId: string, input: UpdateApiInput, options: ChangeOptions & { force?: boolean } = {}): Promise<Api> {
    const api = await this.get(tenant, identifierOrId);
    if (input.scopes !== undefined) validateCatalog(input.scopes);
    const gateway = applyGatewaySettings(api.gateway, gatewayChange(input));
    this.checkHostClaims(tenant, options, api.identifier, gateway, api.gateway);
    await this.checkReachable(gateway, api.gateway);
    const updated: Api = {
      ...api,
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.scopes !== undefined ? { scopes: normaliseCatalog(input.scopes) } : {}),
      ...(input.accessTokenTtl !== undefined ? { accessTokenTtl: validTtl(input.accessTokenTtl) } : {}),
      refreshTokens: refreshSettings(api.refreshTokens, input.refreshTokens),
      gateway,
    };
    const event = this.ctx.audit.event(tenant.id, actor, 'api.update', api.id, { fields: Object.keys(input) });
    const dropped = droppedScopes(api.scopes, updated.scopes);
    if (dropped.length > 0) await this.refuseScopesInDocument(api, dropped);
    let narrowedKeys: string[] = [];
    if (dropped.length === 0) await this.ctx.store.directory.updateApi(updated, event);
    else {
      const result = await this.ctx.store.directory.replaceCatalog(
        updated,
        dropped,
        { force: options.force === true, at: this.ctx.clock(), revocation: this.revocations.factory(tenant.id) },
        event,
      );
      if (!result.applied) {
        throw new KeygateError(
          'SCOPES_IN_USE',
          `${result.keyIds.length} key(s), ${result.tokenIds.length} JWT API key(s) and ${result.clientIds.length} client(s) hold ${dropped.join(', ')}, which the new catalog drops; repeat with force=true (keygate api update --force) to narrow the keys and clients and revoke those JWT API keys`,
          { affected: { keys: result.keyIds.length, tokens: result.tokenIds.length, clients: result.clientIds.length } },
        );
      }
      narrowedKeys = result.keyIds;
      await this.revocations.recorded(tenant.id, result.revocations);
      await this.ctx.directory.changed(result.clientIds);
    }
    this.ctx.lookup.clear();
    await this.ctx.lookup.invalidate(narrowedKeys);
    await this.ctx.directory.changed([api.id]);
    await this.gatewayRoutes.changed();
    return updated;
  }

  /**
   * Deletes the API. While keys (not revoked), live JWT API keys or clients use it, refused with
   * API_IN_USE and the counts, unless `force`: then its keys are deleted, its live JWT API keys
   * revoked, people's grants on it cut off and the clients' allowances for it removed, in one
   * transaction with the event.
   */
  async delete(actor: Actor, tenant: Tenant, identifierOrId: string, options: { force?: boolean } = {}): Promise<void> {
    const api = await this.get(tenant, identifierOrId);
    const result = await this.ctx.store.directory.deleteApi(
      api,
      { force: options.force === true, at: this.ctx.clock(), revocation: this.revocations.factory(tenant.id) },
      this.ctx.audit.event(tenant.id, actor, 'api.delete', api.id, { identifier: api.identifier }),
    );
    if (!result.deleted) {
      const { keys, tokens, clients } = result.inUse;
      throw new KeygateError('API_IN_USE', `${keys} key(s), ${tokens} JWT API key(s) and ${clients} client(s) use "${api.identifier}"; revoke them, or repeat with force=true (keygate api delete --force) to delete the API with them`, {
        affected: { ...result.inUse },
      });
    }
    await this.ctx.lookup.invalidate(result.keyIds);
    await this.revocations.recorded(tenant.id, result.revocations);
    await this.ctx.directory.changed([api.id, ...result.clientIds]);
    await this.gatewayRoutes.changed();
  }

  /**
   * Replaces the API's OpenAPI document, from which the gateway's routes are compiled against the
   * API's catalog; INVALID_OPENAPI (InvalidOpenApiError) with every reason, and nothing stored,
   * when it cannot be enforced as written.
   */
  async setDocument(actor: Actor, tenant: Tenant, identifierOrId: string, upload: { text: string; format: 'json' | 'yaml' }): Promise<ApiDocument> {
    const api = await this.get(tenant, identifierOrId);
    const routes = await compileDocument(upload.text, upload.format, api.scopes);
    const document: ApiDocument = {
      apiId: api.id,
      tenantId: tenant.id,
      document: upload.text,
      format: upload.format,
      size: Buffer.byteLength(upload.text),
      routes,
      uploadedAt: this.ctx.clock(),
    };
    const event = this.ctx.audit.event(tenant.id, actor, 'api.openapi.set', api.id, { operations: routes.operations.length, size: document.size });
    await this.ctx.store.directory.putApiDocument(document, event);
    await this.ctx.directory.changed([api.id]);
    await this.gatewayRoutes.changed();
    return document;
  }

  /**
   * Refuses a catalog that drops scopes an operation of the uploaded document requires: no key
   * could hold them any more, so the operation would stay closed to every caller without a word,
   * as the upload refuses scopes outside the catalog.
   */
  private async refuseScopesInDocument(api: Api, dropped: readonly string[]): Promise<void> {
    const document = await this.ctx.store.directory.findApiDocument(api.id);
    if (document === null) return;
    const operations = operationsRequiring(document.routes, dropped);
    if (operations.length === 0) return;
    const required = dropped.filter((scope) => operationsRequiring(document.routes, [scope]).length > 0);
    const shown = operations.length > MAX_NAMED_OPERATIONS ? `${operations.slice(0, MAX_NAMED_OPERATIONS).join(', ')} and ${operations.length - MAX_NAMED_OPERATIONS} more` : operations.join(', ');
    throw new KeygateError(
      'SCOPES_IN_DOCUMENT',
      `the API's OpenAPI document requires ${required.join(', ')}, which the new catalog drops, in ${shown}; upload a document that no longer requires ${required.length === 1 ? 'it' : 'them'} (PUT …/openapi), then change the catalog`,
      { affected: { operations: operations.length } },
    );
  }

  /** The API's OpenAPI document as uploaded; DOCUMENT_NOT_FOUND when none was. */
  async getDocument(tenant: Tenant, identifierOrId: string): Promise<ApiDocument> {
    const api = await this.get(tenant, identifierOrId);
    const document = await this.ctx.store.directory.findApiDocument(api.id);
    if (document === null) throw new KeygateError('DOCUMENT_NOT_FOUND', `API "${api.identifier}" has no OpenAPI document; upload one with PUT …/openapi`);
    return document;
  }

  /**
   * A tenant's own administrator claims only hosts under the operator's suffixes: every host the
   * API would newly answer to (its identifier's host once it has an upstream, each new gateway
   * host) must be within `GATEWAY_HOST_SUFFIXES`. An operator's key claims any host.
   */
  private checkHostClaims(tenant: Tenant, options: ChangeOptions, identifier: string, next: GatewaySettings, previous: GatewaySettings): void {
    if ((options.hostAuthority ?? 'instance') === 'instance') return;
    const held = new Set(gatewayHostsOf(identifier, previous));
    for (const host of gatewayHostsOf(identifier, next)) {
      if (held.has(host) || hostWithinSuffixes(host, tenant.slug, this.options.hostSuffixes)) continue;
      const where =
        this.options.hostSuffixes.length === 0
          ? 'this Keygate lets only a root key for every tenant claim gateway hosts (GATEWAY_HOST_SUFFIXES is empty)'
          : `a root key limited to tenant "${tenant.slug}" may claim hosts under ${this.options.hostSuffixes.map((suffix) => suffix.replaceAll('{tenant}', tenant.slug)).join(', ')} only`;
      throw new KeygateError('GATEWAY_HOST_NOT_ALLOWED', `the gateway would answer to "${host}", but ${where}; ask an operator to set it`);
    }
  }

  /**
   * Refuses the URLs of new settings that Keygate must not request (UPSTREAM_NOT_ALLOWED): the
   * upstream, and each external issuer's JWKS URL, which the gateway fetches too. Only URLs that
   * changed are checked, so a setting allowed once is not refused on an unrelated update.
   */
  private async checkReachable(next: GatewaySettings, current: GatewaySettings): Promise<void> {
    if (next.upstream !== null && next.upstream !== current.upstream) await this.checkUrl('upstream', next.upstream);
    const known = new Set(current.externalIssuers.map((issuer) => issuer.jwksUri));
    for (const { jwksUri } of next.externalIssuers) if (!known.has(jwksUri)) await this.checkUrl('jwksUri', jwksUri);
  }

  /**
   * A link-local or metadata address, unless allowed, an unspecified one, or Keygate's own port
   * on loopback is refused — by the name as written and by every address it resolves to now. A
   * name that does not resolve yet (a container not started) is accepted.
   */
  private async checkUrl(field: string, value: string): Promise<void> {
    const url = new URL(value);
    const options = { allowLinkLocal: this.options.allowLinkLocalUpstreams };
    const named = upstreamAddressProblem(url.hostname, options);
    if (named !== null) throw new KeygateError('UPSTREAM_NOT_ALLOWED', `${field} "${value}" is ${named}`);
    const addresses = await lookup(url.hostname.replace(/^\[|\]$/g, ''), { all: true, verbatim: true }).catch(() => []);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    for (const { address } of addresses) {
      const problem = upstreamAddressProblem(address, options);
      if (problem !== null) throw new KeygateError('UPSTREAM_NOT_ALLOWED', `${field} "${value}" resolves to ${address}, ${problem}`);
      if (isLoopbackAddress(address) && this.options.ownPorts.includes(port)) {
        throw new KeygateError('UPSTREAM_NOT_ALLOWED', `${field} "${value}" is Keygate's own port ${port}`);
      }
    }
  }
}

/** The gateway fields the input sets, as a change to apply. */
function gatewayChange(input: GatewayInput): Partial<GatewaySettings> {
  const change: Partial<GatewaySettings> = {};
  for (const field of GATEWAY_FIELDS) {
    if (input[field] === undefined) continue;
    if (field === 'externalIssuers') change.externalIssuers = input.externalIssuers!.map((issuer) => ({ ...issuer, audience: issuer.audience ?? null }));
    else Object.assign(change, { [field]: input[field] });
  }
  return change;
}

/** Scope names of the old catalog that the new one no longer has. */
function droppedScopes(before: readonly ScopeDefinition[], after: readonly ScopeDefinition[]): string[] {
  const kept = new Set(after.map((s) => s.name));
  return before.map((s) => s.name).filter((name) => !kept.has(name));
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
