import type { Api } from '../domain/apis.js';
import { allowanceFor, type Client } from '../domain/clients.js';
import { OAuthError } from '../domain/oauth/errors.js';
import { grantedScopes, requestedApi, scopeParameter, type TokenResponse } from '../domain/oauth/token-request.js';
import type { Tenant } from '../domain/tenants.js';
import { decideExchange } from '../domain/tokens/exchange.js';
import type { ServiceContextWith } from './context.js';
import type { JwtVerifier } from './jwt-verifier.js';
import type { TokensService } from './tokens-service.js';

/** Which API a request names, and with which scopes: the parameters every grant here reads. */
export interface TargetRequest {
  resource: string | undefined;
  audience: string | undefined;
  scope: string | undefined;
}

/** RFC 8693 §2.1: what a token exchange presents besides its target. */
export interface ExchangeRequest extends TargetRequest {
  subjectToken: string;
  subjectTokenType: string;
  /** Present or not: an actor token is refused, the authenticated client is the actor. */
  actorToken: string | undefined;
}

const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TOKEN_TYPES: readonly string[] = [ACCESS_TOKEN_TYPE, 'urn:ietf:params:oauth:token-type:jwt'];

/**
 * Tokens a client gets on its own authority, without a person (the grants `clientPowerRefusal`
 * keeps from public clients): client credentials (RFC 6749 §4.4) and token exchange (RFC 8693).
 * Which API and scopes may be had is decided by the domain's rules (`requestedApi`,
 * `grantedScopes`, `decideExchange`); the grant files in http/oauth/grants/ only read the form.
 */
export class ClientTokensService {
  constructor(
    private readonly ctx: ServiceContextWith<never>,
    private readonly tokens: TokensService,
    private readonly jwts: JwtVerifier,
  ) {}

  /** RFC 6749 §4.4: a confidential client gets a token for itself. */
  async clientCredentials(tenant: Tenant, client: Client, request: TargetRequest): Promise<TokenResponse> {
    const api = await this.targetApi(tenant, client, request);
    const scopes = grantedScopes(allowanceFor(client.scopes, api.identifier) ?? [], scopeParameter(request.scope));
    const issued = await this.tokens.issueAccessToken({ tenant, api, subject: client.id, clientId: client.id, scopes });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope };
  }

  /**
   * RFC 8693: a service exchanges a token it received for a down-scoped token for a downstream
   * API, acting for the same subject; the new token names the service in `act.sub`. What may be
   * had is `decideExchange`'s call (domain/tokens/exchange.ts): the subject token must be for an
   * API this client serves, the scopes within the subject's and the client's allowance for the
   * downstream API, the lifetime within the subject's; and the token carries its lineage so it
   * is revoked with its subject.
   */
  async exchange(tenant: Tenant, client: Client, request: ExchangeRequest): Promise<TokenResponse> {
    if (!SUBJECT_TOKEN_TYPES.includes(request.subjectTokenType)) throw new OAuthError('invalid_request', 'subject_token_type must be an access token or a JWT');
    if (request.actorToken !== undefined) throw new OAuthError('invalid_request', 'actor_token is not supported; the authenticated client is the actor');
    const api = await this.targetApi(tenant, client, request);
    const { result, claims } = await this.jwts.verify(request.subjectToken, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
    // RFC 8693 §2.2.2: an invalid or unacceptable subject token is invalid_request.
    if (!result.valid || claims === null || result.api === null) throw new OAuthError('invalid_request', 'the subject token is not valid');
    const decision = decideExchange({
      allowance: client.scopes,
      subject: { audience: result.api, scopes: result.scopes, claims },
      target: api.identifier,
      requested: scopeParameter(request.scope),
    });
    if (!decision.ok) throw new OAuthError(decision.error, decision.description);
    const issued = await this.tokens.issueAccessToken({
      tenant,
      api,
      subject: claims.sub,
      clientId: client.id,
      scopes: decision.scopes,
      act: { sub: client.id },
      exchangedFrom: decision.exchangedFrom,
      ...(decision.notAfter !== null ? { notAfter: decision.notAfter } : {}),
      ...(typeof claims.gid === 'string' ? { grantId: claims.gid } : {}),
    });
    return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope, issued_token_type: ACCESS_TOKEN_TYPE };
  }

  /** The API the request names, while it is in the client's allowance and still exists. */
  private async targetApi(tenant: Tenant, client: Client, request: TargetRequest): Promise<Api> {
    const api = await this.ctx.directory.api(tenant.id, requestedApi(client.scopes, request));
    if (api === null) throw new OAuthError('invalid_target', 'the client may not get tokens for this resource');
    return api;
  }
}
