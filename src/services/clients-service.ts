import { randomBytes } from 'node:crypto';
import { hashSecret, newId } from '../crypto/secrets.js';
import { clientPowerRefusal, powersHeld, redirectUriRefusal, type Client } from '../domain/clients.js';
import { KeygateError } from '../domain/errors.js';
import { DEFAULT_AUTH_METHOD, GRANT_TYPES, SECRET_AUTH_METHODS, TOKEN_ENDPOINT_AUTH_METHODS, type GrantType, type TokenEndpointAuthMethod } from '../domain/oauth/registry.js';
import type { Tenant } from '../domain/tenants.js';
import { assertInCatalog } from '../domain/scopes.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';

export interface ClientInput {
  name: string;
  grantTypes: GrantType[];
  scopes: Record<string, string[]>;
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  jwks?: { keys: Record<string, unknown>[] } | null;
  redirectUris?: string[];
  canIntrospect?: boolean;
}

/** Client secrets carry 256 random bits, so SHA-256 is the right hash (as for API keys). */
function newClientSecret(): string {
  return `kgcs_${randomBytes(32).toString('base64url')}`;
}

/** OAuth client registration: validated against the tenant's APIs, secrets hashed, rotatable. */
export class ClientsService {
  constructor(private readonly ctx: ServiceContextWith<'directory'>) {}

  async create(actor: Actor, tenant: Tenant, input: ClientInput): Promise<{ client: Client; secret: string | null }> {
    const now = this.ctx.clock();
    const client = await this.validated(tenant, {
      id: newId('client', now),
      tenantId: tenant.id,
      name: input.name,
      grantTypes: input.grantTypes,
      scopes: input.scopes,
      tokenEndpointAuthMethod: input.tokenEndpointAuthMethod ?? DEFAULT_AUTH_METHOD,
      jwks: input.jwks ?? null,
      redirectUris: input.redirectUris ?? [],
      canIntrospect: input.canIntrospect ?? false,
      createdAt: now,
      updatedAt: now,
    });
    const secret = usesSecret(client) ? newClientSecret() : null;
    const event = this.ctx.audit.event(tenant.id, actor, 'client.create', client.id, { grantTypes: client.grantTypes });
    await this.ctx.store.directory.createClient(client, secret === null ? null : hashSecret(secret), event);
    return { client, secret };
  }

  async get(tenant: Tenant, id: string): Promise<Client> {
    const client = await this.ctx.store.directory.findClient(tenant.id, id);
    if (client === null) throw new KeygateError('CLIENT_NOT_FOUND', `no client "${id}" in tenant "${tenant.slug}"`);
    return client;
  }

  /** A page of the tenant's clients; `search` keeps those whose name or id contains it, ignoring case. */
  list(tenant: Tenant, page: PageRequest, options: { search?: string } = {}): Promise<Page<Client>> {
    return this.ctx.store.directory.listClients(tenant.id, page, options);
  }

  async update(actor: Actor, tenant: Tenant, id: string, changes: Partial<ClientInput>): Promise<Client> {
    const current = await this.get(tenant, id);
    const defined = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) as Partial<ClientInput>;
    const client = await this.validated(tenant, { ...current, ...defined, jwks: defined.jwks === undefined ? current.jwks : defined.jwks, updatedAt: this.ctx.clock() });
    await this.ctx.store.directory.updateClient(client, this.ctx.audit.event(tenant.id, actor, 'client.update', id, { fields: Object.keys(defined) }));
    await this.ctx.directory.changed([id]);
    return client;
  }

  async delete(actor: Actor, tenant: Tenant, id: string): Promise<void> {
    const deleted = await this.ctx.store.directory.deleteClient(tenant.id, id, this.ctx.audit.event(tenant.id, actor, 'client.delete', id));
    if (!deleted) throw new KeygateError('CLIENT_NOT_FOUND', `no client "${id}" in tenant "${tenant.slug}"`);
    await this.ctx.directory.changed([id]);
  }

  /** A new secret; the old ones keep working for `gracePeriodMs` so deployments can roll over. */
  async rotateSecret(actor: Actor, tenant: Tenant, id: string, gracePeriodMs: number): Promise<{ client: Client; secret: string }> {
    const client = await this.get(tenant, id);
    if (!usesSecret(client)) throw new KeygateError('INVALID_CLIENT_METADATA', `a ${client.tokenEndpointAuthMethod} client has no secret`);
    const secret = newClientSecret();
    const now = this.ctx.clock();
    const event = this.ctx.audit.event(tenant.id, actor, 'client.secret.rotate', id, { gracePeriodMs });
    await this.ctx.store.directory.addClientSecret(id, hashSecret(secret), now + gracePeriodMs, event);
    await this.ctx.directory.changed([id]);
    return { client, secret };
  }

  private async validated(tenant: Tenant, client: Client): Promise<Client> {
    if (client.grantTypes.length === 0) throw new KeygateError('INVALID_CLIENT_METADATA', 'grantTypes must name at least one grant type');
    for (const grant of client.grantTypes) {
      if (!GRANT_TYPES.includes(grant)) throw new KeygateError('INVALID_CLIENT_METADATA', `unknown grant type "${grant}"`);
    }
    if (!TOKEN_ENDPOINT_AUTH_METHODS.includes(client.tokenEndpointAuthMethod)) {
      throw new KeygateError('INVALID_CLIENT_METADATA', `unknown tokenEndpointAuthMethod "${client.tokenEndpointAuthMethod}"`);
    }
    for (const power of powersHeld(client)) {
      const refusal = clientPowerRefusal(client, power);
      if (refusal !== null) throw new KeygateError('INVALID_CLIENT_METADATA', refusal);
    }
    if (client.tokenEndpointAuthMethod === 'private_key_jwt') {
      const keys = client.jwks?.keys;
      if (!Array.isArray(keys) || keys.length === 0 || keys.some((k) => typeof k !== 'object' || k === null || 'd' in k)) {
        throw new KeygateError('INVALID_CLIENT_METADATA', 'private_key_jwt needs jwks with at least one public key (and no private parts)');
      }
    }
    for (const [identifier, scopes] of Object.entries(client.scopes)) {
      const api = await this.ctx.store.directory.findApi(tenant.id, identifier);
      if (api === null) throw new KeygateError('API_NOT_FOUND', `no API "${identifier}" in tenant "${tenant.slug}"`);
      assertInCatalog(scopes, api.scopes);
    }
    for (const uri of client.redirectUris) {
      const refusal = redirectUriRefusal(uri);
      if (refusal !== null) throw new KeygateError('INVALID_CLIENT_METADATA', refusal);
    }
    return client;
  }
}

/** Whether the client authenticates with a secret, and so is issued one (`SECRET_AUTH_METHODS`). */
export function usesSecret(client: Client): boolean {
  return SECRET_AUTH_METHODS.includes(client.tokenEndpointAuthMethod);
}
