import { randomBytes } from 'node:crypto';
import { hashSecret, newId } from '../crypto/secrets.js';
import { allowanceFor, redirectUriRefusal, type Client } from '../domain/clients.js';
import { throttleSource } from '../domain/throttle-source.js';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { challengeProblem } from '../domain/oauth/pkce.js';
import { AUTHORIZATION_CODE_TTL_MS, INTERACTION_BOUNDS, INTERACTION_TTL_MS, type Grant, type Interaction, type User } from '../domain/people.js';
import type { Actor, ServiceContextWith } from './context.js';
import { issuerOf } from './tokens-service.js';

/** What `/authorize` should do with a request. */
export type AuthorizeDecision =
  /** The client or redirect URI cannot be trusted: show an error page, never redirect. */
  | { kind: 'error-page'; message: string }
  /** Redirect back to the client with an RFC 6749 §4.1.2.1 error. */
  | { kind: 'redirect'; url: string }
  /** Continue with the person: sign-in, then consent. */
  | { kind: 'interaction'; interaction: Interaction };

const MAX_STATE = 2048;

/**
 * The authorization-code flow up to the code: validating `/authorize` requests (RFC 6749 §4.1,
 * RFC 7636, RFC 8707, RFC 9700), remembering them while the person signs in and consents, and
 * issuing single-use codes bound to client, redirect URI, PKCE challenge and API.
 */
export class AuthorizationService {
  constructor(private readonly ctx: ServiceContextWith<'directory' | 'people'>) {}

  /** Validates an `/authorize` request from the address `from.ip` and, if good, remembers it (bounded per address and client). */
  async begin(tenant: Tenant, params: URLSearchParams, from: { ip: string }): Promise<AuthorizeDecision> {
    // Until client and redirect URI are known good, nothing may redirect (no open redirector).
    for (const name of ['client_id', 'redirect_uri']) {
      if (params.getAll(name).length > 1) return { kind: 'error-page', message: `the ${name} parameter is repeated` };
    }
    const clientId = params.get('client_id');
    if (!clientId) return { kind: 'error-page', message: 'client_id is missing' };
    const found = clientId.length <= 128 ? await this.ctx.directory.client(tenant.id, clientId) : null;
    if (found === null) return { kind: 'error-page', message: 'the client is not registered with this tenant' };
    const { client } = found;
    const redirectUri = params.get('redirect_uri') ?? (client.redirectUris.length === 1 ? client.redirectUris[0]! : null);
    // Exact string match (RFC 9700 §4.1.3): no prefix, no wildcard, no normalisation.
    if (redirectUri === null || !client.redirectUris.includes(redirectUri)) {
      return { kind: 'error-page', message: 'the redirect_uri is not registered for this client' };
    }
    // A client stored before the redirect-URI rule may hold a URI it now refuses (javascript:…).
    if (redirectUriRefusal(redirectUri) !== null) return { kind: 'error-page', message: 'the redirect_uri is not one Keygate redirects to' };
    const state = params.get('state');
    const fail = (error: string, description: string): AuthorizeDecision => ({
      kind: 'redirect',
      url: this.redirectUrl(tenant, redirectUri, { error, error_description: description, ...(state !== null ? { state: state.slice(0, MAX_STATE) } : {}) }),
    });
    for (const name of new Set(params.keys())) if (params.getAll(name).length > 1) return fail('invalid_request', `the ${name} parameter is repeated`);
    if (state !== null && state.length > MAX_STATE) return fail('invalid_request', 'state is too long');
    if (params.get('request') !== null || params.get('request_uri') !== null) return fail('request_not_supported', 'request objects are not supported');
    const responseType = params.get('response_type');
    if (responseType !== 'code') return fail('unsupported_response_type', 'only response_type=code is supported');
    if (!client.grantTypes.includes('authorization_code')) return fail('unauthorized_client', 'the client may not use the authorization code flow');
    const isPublic = client.tokenEndpointAuthMethod === 'none';
    const challenge = params.get('code_challenge') ?? undefined;
    const pkce = challengeProblem(challenge, params.get('code_challenge_method') ?? undefined, isPublic);
    if (pkce !== null) return fail('invalid_request', pkce);

    const resource = params.get('resource') ?? params.get('audience');
    const allowed = Object.keys(client.scopes);
    const identifier = resource ?? (allowed.length === 1 ? allowed[0]! : null);
    if (identifier === null) return fail('invalid_target', 'name the API with the resource parameter');
    const allowance = allowanceFor(client.scopes, identifier);
    const api = allowance === undefined ? null : await this.ctx.directory.api(tenant.id, identifier);
    if (allowance === undefined || api === null) return fail('invalid_target', 'the client may not get tokens for this resource');
    const requested = params.get('scope');
    const scopes = requested === null ? [...allowance] : [...new Set(requested.split(' ').filter(Boolean))];
    const outside = scopes.find((s) => !allowance.includes(s));
    if (outside !== undefined) return fail('invalid_scope', `scope "${outside}" is not allowed for this client`);

    const now = this.ctx.clock();
    const interaction: Interaction = {
      id: newId('interaction', now),
      tenantId: tenant.id,
      clientId: client.id,
      apiId: api.id,
      redirectUri,
      state,
      codeChallenge: challenge ?? null,
      scopes,
      // Counted like every throttle counts callers: an IPv6 host walks through its whole /64.
      source: throttleSource(from.ip),
      createdAt: now,
      expiresAt: now + INTERACTION_TTL_MS,
    };
    await this.ctx.store.people.createInteraction(interaction, INTERACTION_BOUNDS);
    return { kind: 'interaction', interaction };
  }

  /** The pending request, or null when unknown or expired. */
  async interaction(tenant: Tenant, id: string): Promise<{ interaction: Interaction; client: Client; api: Api } | null> {
    const interaction = id.length <= 64 ? await this.ctx.store.people.findInteraction(tenant.id, id) : null;
    if (interaction === null || interaction.expiresAt <= this.ctx.clock()) return null;
    const found = await this.ctx.directory.client(tenant.id, interaction.clientId);
    const api = await this.ctx.store.directory.findApiById(interaction.apiId);
    return found === null || api === null ? null : { interaction, client: found.client, api };
  }

  /** The person's live grant to the client, when it already covers every requested scope. */
  async rememberedGrant(tenant: Tenant, interaction: Interaction, user: User): Promise<Grant | null> {
    const grant = await this.ctx.store.people.findGrant(tenant.id, user.id, interaction.clientId, interaction.apiId);
    return grant !== null && interaction.scopes.every((s) => grant.scopes.includes(s)) ? grant : null;
  }

  /**
   * Records consent for `approved` (a subset of what was asked: people may untick scopes) and
   * answers the redirect carrying a fresh code. A remembered grant gains the newly approved scopes.
   * `source` is the consent request, audited with the grant.
   */
  async approve(tenant: Tenant, interaction: Interaction, user: User, approved: readonly string[], source: { ip: string; requestId: string }): Promise<string> {
    const scopes = interaction.scopes.filter((s) => approved.includes(s));
    const now = this.ctx.clock();
    const existing = await this.ctx.store.people.findGrant(tenant.id, user.id, interaction.clientId, interaction.apiId);
    const grant: Grant = existing
      ? { ...existing, scopes: [...new Set([...existing.scopes, ...scopes])] }
      : { id: newId('grant', now), tenantId: tenant.id, userId: user.id, clientId: interaction.clientId, apiId: interaction.apiId, scopes, createdAt: now, lastUsedAt: null, revokedAt: null };
    const actor: Actor = { id: user.id, requestId: source.requestId, ip: source.ip };
    await this.ctx.store.people.saveGrant(grant, this.ctx.audit.event(tenant.id, actor, existing ? 'grant.extend' : 'grant.create', grant.id, { clientId: grant.clientId, scopes }));
    return this.issueCode(tenant, interaction, user, grant, scopes);
  }

  /** A code for an interaction whose scopes a remembered grant already covers. */
  issueForGrant(tenant: Tenant, interaction: Interaction, user: User, grant: Grant): Promise<string> {
    return this.issueCode(tenant, interaction, user, grant, interaction.scopes);
  }

  /** The person said no: `access_denied` goes back to the client. */
  async deny(tenant: Tenant, interaction: Interaction): Promise<string> {
    await this.ctx.store.people.deleteInteraction(interaction.id);
    return this.redirectUrl(tenant, interaction.redirectUri, {
      error: 'access_denied',
      error_description: 'the person declined',
      ...(interaction.state !== null ? { state: interaction.state } : {}),
    });
  }

  private async issueCode(tenant: Tenant, interaction: Interaction, user: User, grant: Grant, scopes: readonly string[]): Promise<string> {
    const code = randomBytes(32).toString('base64url');
    const now = this.ctx.clock();
    await this.ctx.store.people.createCode({
      hash: hashSecret(code),
      tenantId: tenant.id,
      grantId: grant.id,
      clientId: interaction.clientId,
      userId: user.id,
      apiId: interaction.apiId,
      redirectUri: interaction.redirectUri,
      codeChallenge: interaction.codeChallenge,
      scopes: [...scopes],
      expiresAt: now + AUTHORIZATION_CODE_TTL_MS,
      usedAt: null,
    });
    await this.ctx.store.people.deleteInteraction(interaction.id);
    return this.redirectUrl(tenant, interaction.redirectUri, { code, ...(interaction.state !== null ? { state: interaction.state } : {}) });
  }

  /** The client's redirect URI with response parameters and RFC 9207 `iss`. */
  private redirectUrl(tenant: Tenant, redirectUri: string, values: Record<string, string>): string {
    const url = new URL(redirectUri);
    for (const [name, value] of Object.entries(values)) url.searchParams.set(name, value);
    url.searchParams.set('iss', issuerOf(this.ctx.publicUrl, tenant.slug));
    return url.toString();
  }
}
