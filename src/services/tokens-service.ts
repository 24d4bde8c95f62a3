import { randomUUID } from 'node:crypto';
import { newId } from '../crypto/secrets.js';
import type { IssuedToken } from '../domain/clients.js';
import { KeygateError } from '../domain/errors.js';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { assertInCatalog, expandScopes, toStructured } from '../domain/scopes.js';
import { EXCHANGED_FROM_CLAIM, type SubjectLink } from '../domain/tokens/exchange.js';
import { revocationCause, type RevocationState } from '../domain/tokens/revocation.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import type { RevocationsService } from './revocations-service.js';
import type { SigningKeysService } from './signing-keys-service.js';

/** JWT API keys without an explicit expiry live this long: every Keygate JWT has an `exp`. */
export const DEFAULT_JWT_KEY_LIFETIME_MS = 365 * 86_400_000;

export interface AccessTokenRequest {
  tenant: Tenant;
  api: Api;
  subject: string;
  clientId: string;
  scopes: readonly string[];
  /** RFC 8693 actor, for exchanged tokens. */
  act?: { sub: string };
  /** The person's grant the token comes from. */
  grantId?: string;
  /** For exchanged tokens: the subject token and its ancestors, so their revocations apply. */
  exchangedFrom?: SubjectLink[];
  /** A latest `exp` (seconds): an exchanged token dies no later than its subject token. */
  notAfter?: number;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
  scope: string;
}

/**
 * The granted scopes plus what they imply, granted first: a token carries every scope it
 * allows, so an offline verifier (which has no catalog) decides exactly as Keygate would.
 */
function withImplied(scopes: readonly string[], api: Api): string[] {
  return [...new Set([...scopes, ...expandScopes(scopes, api.scopes)])];
}

export function issuerOf(publicUrl: string, slug: string): string {
  return `${publicUrl}/t/${slug}`;
}

/** Signs tokens: RFC 9068 access tokens for OAuth grants, and JWT API keys for consumers. */
export class TokensService {
  constructor(
    private readonly ctx: ServiceContextWith<'directory' | 'tokens'>,
    private readonly signingKeys: SigningKeysService,
    private readonly revocations: RevocationsService,
  ) {}

  /** An RFC 9068 access token (`typ: at+jwt`) with the API's lifetime. Not stored: it is self-contained. */
  async issueAccessToken(request: AccessTokenRequest): Promise<IssuedAccessToken> {
    const { sign } = await this.signingKeys.signer(request.tenant.id, 'at+jwt');
    const iat = Math.floor(this.ctx.clock() / 1000);
    // randomUUID draws from a pre-filled entropy buffer: cheaper than randomBytes per token.
    const jti = randomUUID();
    const scope = withImplied(request.scopes, request.api).join(' ');
    const exp = Math.min(iat + request.api.accessTokenTtl, request.notAfter ?? Infinity);
    const token = await sign({
      iss: issuerOf(this.ctx.publicUrl, request.tenant.slug),
      sub: request.subject,
      aud: request.api.identifier,
      exp,
      iat,
      jti,
      client_id: request.clientId,
      scope,
      ...(request.act ? { act: request.act } : {}),
      ...(request.grantId ? { gid: request.grantId } : {}),
      ...(request.exchangedFrom ? { [EXCHANGED_FROM_CLAIM]: request.exchangedFrom } : {}),
    });
    return { token, jti, expiresIn: exp - iat, scope };
  }

  /**
   * A long-lived JWT for a consumer: the self-contained alternative to an opaque key, listable
   * and revocable by jti. Scopes go in the RFC `scope` string or Keygate's structured `scopes`.
   * `audit` names the event when the token is issued on another's behalf (a consumer's member
   * minting one in the portal: `consumer.token.mint`); `token.issue` otherwise.
   */
  async issueApiKeyToken(
    actor: Actor,
    tenant: Tenant,
    input: { api: string; consumer: string; scopes: string[]; expiresAt?: number | null; claimsFormat?: 'scope' | 'scopes' },
    audit: { action: string; data: Record<string, unknown> } = { action: 'token.issue', data: {} },
  ): Promise<{ record: IssuedToken; token: string }> {
    const api = await this.ctx.store.directory.findApi(tenant.id, input.api);
    if (api === null) throw new KeygateError('API_NOT_FOUND', `no API "${input.api}" in tenant "${tenant.slug}"`);
    assertInCatalog(input.scopes, api.scopes);
    const now = this.ctx.clock();
    const expiresAt = input.expiresAt ?? now + DEFAULT_JWT_KEY_LIFETIME_MS;
    if (!(expiresAt > now)) throw new KeygateError('EXPIRY_IN_PAST', 'expiresAt must be a time in the future');
    const claimsFormat = input.claimsFormat ?? 'scope';
    const scopes = withImplied(input.scopes, api);
    const { sign, kid } = await this.signingKeys.signer(tenant.id, 'at+jwt');
    const jti = newId('token', now);
    const iat = Math.floor(now / 1000);
    const token = await sign({
      iss: issuerOf(this.ctx.publicUrl, tenant.slug),
      sub: input.consumer,
      aud: api.identifier,
      exp: Math.floor(expiresAt / 1000),
      iat,
      jti,
      ...(claimsFormat === 'scope' ? { scope: scopes.join(' ') } : { scopes: toStructured(scopes) }),
    });
    const record: IssuedToken = { jti, tenantId: tenant.id, apiId: api.id, consumer: input.consumer, scopes, claimsFormat, kid, issuedAt: now, expiresAt, revokedAt: null };
    await this.ctx.store.tokens.createIssuedToken(record, this.ctx.audit.event(tenant.id, actor, audit.action, jti, { api: api.identifier, consumer: input.consumer, scopes, ...audit.data }));
    return { record, token };
  }

  /** Whether Keygate issued a JWT API key with this jti in the tenant (access tokens are not recorded). */
  async isIssued(tenant: Tenant, jti: string): Promise<boolean> {
    return (await this.ctx.store.tokens.findIssuedToken(tenant.id, jti)) !== null;
  }

  async getIssued(tenant: Tenant, jti: string): Promise<IssuedToken> {
    const token = await this.ctx.store.tokens.findIssuedToken(tenant.id, jti);
    if (token === null) throw new KeygateError('TOKEN_NOT_FOUND', `no issued token "${jti}" in tenant "${tenant.slug}"`);
    return token;
  }

  /**
   * The tenant's JWT API keys, each `revokedAt` as verify sees it: revoked by its jti, or cut off
   * with its consumer (the mark's second), decided by `revocationCause` like every verifier.
   */
  async listIssued(tenant: Tenant, filter: { api?: string; consumer?: string }, page: PageRequest): Promise<Page<IssuedToken>> {
    let apiId: string | undefined;
    if (filter.api !== undefined) {
      const api = await this.ctx.store.directory.findApi(tenant.id, filter.api);
      if (api === null) throw new KeygateError('API_NOT_FOUND', `no API "${filter.api}" in tenant "${tenant.slug}"`);
      apiId = api.id;
    }
    const found = await this.ctx.store.tokens.listIssuedTokens(tenant.id, { ...(apiId ? { apiId } : {}), ...(filter.consumer ? { consumer: filter.consumer } : {}) }, page);
    const state = await this.revocations.state(tenant.id);
    return { ...found, items: found.items.map((token) => withRevocation(token, state)) };
  }
}

/** The claims a JWT API key was signed with that revocation reads (see `issueApiKeyToken`). */
function withRevocation(token: IssuedToken, state: RevocationState): IssuedToken {
  if (token.revokedAt !== null) return token;
  const cause = revocationCause({ jti: token.jti, iat: Math.floor(token.issuedAt / 1000), sub: token.consumer }, state);
  return cause?.kind === 'mark' ? { ...token, revokedAt: cause.notBefore * 1000 } : token;
}
