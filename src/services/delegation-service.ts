import { verifiesChallenge } from '../crypto/pkce.js';
import { hashSecret, newId, randomBase64url } from '../crypto/secrets.js';
import { allowanceFor, type Client } from '../domain/clients.js';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { OAuthError } from '../domain/oauth/errors.js';
import { isCodeVerifier } from '../domain/oauth/pkce.js';
import { scopeParameter, type TokenResponse } from '../domain/oauth/token-request.js';
import { isRefreshReplay, type Grant, type RefreshToken } from '../domain/people.js';
import type { GrantInUse, Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import type { RevocationsService } from './revocations-service.js';
import type { TokensService } from './tokens-service.js';

const GRANT_TOUCH_INTERVAL_MS = 60_000;

/**
 * Tokens from a person's consent: the code exchange, refresh-token rotation with reuse detection
 * (RFC 9700 §4.14.2; `isRefreshReplay` decides, with the API's `refreshTokens.reuseInterval`),
 * and revocation of a whole grant. Access tokens carry the grant id (`gid`),
 * so revoking the grant revokes them through a not-before mark.
 */
export class DelegationService {
  constructor(
    private readonly ctx: ServiceContextWith<'directory' | 'people'>,
    private readonly tokens: TokensService,
    private readonly revocations: RevocationsService,
  ) {}

  async exchangeCode(actor: Actor, tenant: Tenant, client: Client, input: { code: string; redirectUri: string | undefined; codeVerifier: string | undefined; resource: string | undefined }): Promise<TokenResponse> {
    const now = this.ctx.clock();
    const consumed = await this.ctx.store.people.consumeCode(hashSecret(input.code), now);
    if (consumed === null || consumed.code.tenantId !== tenant.id) throw new OAuthError('invalid_grant', 'the code is invalid');
    const { code, first } = consumed;
    if (!first) {
      // A second use means the code leaked: everything issued from it dies (RFC 6749 §4.1.2).
      await this.revokeGrant(actor, tenant, code.grantId);
      throw new OAuthError('invalid_grant', 'the code was already used');
    }
    if (code.clientId !== client.id) throw new OAuthError('invalid_grant', 'the code was issued to another client');
    if (code.expiresAt <= now) throw new OAuthError('invalid_grant', 'the code has expired');
    if (input.redirectUri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    if (code.codeChallenge !== null) {
      if (input.codeVerifier === undefined || !isCodeVerifier(input.codeVerifier) || !verifiesChallenge(input.codeVerifier, code.codeChallenge)) {
        throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge');
      }
    } else if (input.codeVerifier !== undefined) {
      // PKCE downgrade: a verifier for a code requested without a challenge.
      throw new OAuthError('invalid_grant', 'the authorization request had no code_challenge');
    }
    const api = await this.liveApi(tenant, code.apiId, input.resource);
    const grant = await this.liveGrant(tenant, code.grantId);
    return this.issue(tenant, client, api, grant, stillAllowed(client, api, code.scopes), null, now);
  }

  async refresh(actor: Actor, tenant: Tenant, client: Client, input: { refreshToken: string; scope: string | undefined; resource: string | undefined }): Promise<TokenResponse> {
    const now = this.ctx.clock();
    const hash = hashSecret(input.refreshToken);
    const rotated = await this.ctx.store.people.rotateRefreshToken(hash, now);
    if (rotated === null || rotated.token.tenantId !== tenant.id) throw new OAuthError('invalid_grant', 'the refresh token is invalid');
    const { token } = rotated;
    if (token.clientId !== client.id) throw new OAuthError('invalid_grant', 'the refresh token was issued to another client');
    if (!rotated.won) {
      const reuseInterval = (await this.ctx.directory.apiById(token.apiId))?.refreshTokens.reuseInterval ?? 0;
      if (isRefreshReplay(token, now, reuseInterval)) {
        // The grant ends, as for a replayed code: a mark alone would leave it live, so the app's
        // next authorization would reuse it silently and get tokens the mark revokes at birth.
        await this.revokeGrant(actor, tenant, token.grantId);
        this.ctx.audit.enqueue(this.ctx.audit.event(tenant.id, actor, 'refresh_token.reuse', token.familyId, { grantId: token.grantId }));
      }
      throw new OAuthError('invalid_grant', 'the refresh token was already used or revoked');
    }
    if (token.expiresAt <= now || token.familyExpiresAt <= now) throw new OAuthError('invalid_grant', 'the refresh token has expired');
    const api = await this.liveApi(tenant, token.apiId, input.resource);
    // The grant and its person were read by the rotating statement itself.
    const grant = usableGrant(rotated.grant, rotated.personEnabled);
    let scopes = stillAllowed(client, api, token.scopes.filter((s) => grant.scopes.includes(s)));
    const asked = scopeParameter(input.scope);
    if (asked !== null) {
      const extra = asked.find((s) => !scopes.includes(s));
      if (extra !== undefined) throw new OAuthError('invalid_scope', `scope "${extra}" was not granted`);
      scopes = asked;
    }
    return this.issue(tenant, client, api, grant, scopes, token, now);
  }

  /**
   * RFC 7009 for a refresh token of this client: the grant ends, with its refresh tokens and (via
   * a not-before mark on the grant) its access tokens. Returns false when the token is not one.
   */
  async revokeRefreshToken(actor: Actor, tenant: Tenant, client: Client, value: string): Promise<boolean> {
    const token = await this.ctx.store.people.findRefreshToken(hashSecret(value));
    if (token === null || token.tenantId !== tenant.id || token.clientId !== client.id) return false;
    await this.revokeGrant(actor, tenant, token.grantId);
    return true;
  }

  /** A person's live grants. */
  grantsOf(tenant: Tenant, userId: string, page: PageRequest): Promise<Page<Grant>> {
    return this.ctx.store.people.listGrants(tenant.id, userId, page);
  }

  /** A person's connected apps, with the names the page shows. */
  async connectedApps(tenant: Tenant, userId: string): Promise<{ grant: Grant; clientName: string; apiName: string }[]> {
    const grants = await this.ctx.store.people.listGrants(tenant.id, userId, { after: null, limit: 100 });
    return Promise.all(
      grants.items.map(async (grant) => ({
        grant,
        clientName: (await this.ctx.directory.client(tenant.id, grant.clientId))?.client.name ?? grant.clientId,
        apiName: (await this.ctx.store.directory.findApiById(grant.apiId))?.name ?? '',
      })),
    );
  }

  /** Ends one of this person's grants; false when they hold no live grant with that id. */
  async revokeGrantOf(actor: Actor, tenant: Tenant, userId: string, grantId: string): Promise<boolean> {
    const grant = await this.ctx.store.people.findGrantById(tenant.id, grantId);
    if (grant === null || grant.userId !== userId || grant.revokedAt !== null) return false;
    return this.revokeGrant(actor, tenant, grant.id);
  }

  /** Ends a grant: refresh tokens revoked in the store, access tokens by a mark on the grant. */
  async revokeGrant(actor: Actor, tenant: Tenant, grantId: string): Promise<boolean> {
    const now = this.ctx.clock();
    const revoked = await this.ctx.store.people.revokeGrant(tenant.id, grantId, now, this.ctx.audit.event(tenant.id, actor, 'grant.revoke', grantId));
    await this.revocations.cutOff(actor, tenant, 'grant', grantId);
    return revoked;
  }

  private async issue(tenant: Tenant, client: Client, api: Api, grant: GrantInUse, scopes: string[], previous: RefreshToken | null, now: number): Promise<TokenResponse> {
    // The access token is signed on the thread pool while the refresh token is written.
    const signing = this.tokens.issueAccessToken({ tenant, api, subject: grant.userId, clientId: client.id, scopes, grantId: grant.id });
    // "Last used" is shown by the minute: one write a minute per grant is enough.
    const touchGrantAt = grant.lastUsedAt === null || now - grant.lastUsedAt > GRANT_TOUCH_INTERVAL_MS ? now : undefined;
    const refreshToken = client.grantTypes.includes('refresh_token') && api.refreshTokens.enabled ? `kgrt_${randomBase64url(32)}` : undefined;
    let writing: Promise<boolean>;
    if (refreshToken !== undefined) {
      const familyExpiresAt = previous?.familyExpiresAt ?? now + api.refreshTokens.absoluteTtl * 1000;
      const token: RefreshToken = {
        hash: hashSecret(refreshToken),
        familyId: previous?.familyId ?? newId('family', now),
        tenantId: tenant.id,
        grantId: grant.id,
        clientId: client.id,
        userId: grant.userId,
        apiId: api.id,
        scopes: previous?.scopes ?? scopes,
        createdAt: now,
        expiresAt: Math.min(now + api.refreshTokens.idleTtl * 1000, familyExpiresAt),
        familyExpiresAt,
        rotatedAt: null,
        revokedAt: null,
      };
      // `replaces`: a password reset or disable that revoked the rotated token since also stops this one.
      writing = this.ctx.store.people.createRefreshTokenOfLiveGrant(token, {
        ...(touchGrantAt === undefined ? {} : { touchGrantAt }),
        ...(previous === null ? {} : { replaces: previous.hash }),
      });
    } else {
      writing = touchGrantAt === undefined ? Promise.resolve(true) : this.ctx.store.people.touchGrant(grant.id, touchGrantAt).then(() => true);
    }
    const [live, access] = await Promise.all([writing, signing]);
    // A revoke, disable or reset committed after the grant was read: nothing is handed out.
    if (!live) throw new OAuthError('invalid_grant', 'the person can no longer use this app');
    const response: TokenResponse = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, scope: access.scope };
    if (refreshToken !== undefined) response.refresh_token = refreshToken;
    return response;
  }

  private async liveApi(tenant: Tenant, apiId: string, resource: string | undefined): Promise<Api> {
    const api = await this.ctx.directory.apiById(apiId);
    if (api === null || api.tenantId !== tenant.id) throw new OAuthError('invalid_grant', 'the API no longer exists');
    if (resource !== undefined && resource !== api.identifier) throw new OAuthError('invalid_target', 'the resource differs from the one the grant is for');
    return api;
  }

  /**
   * The grant, while it is live and its person may still use it: a code exchange or refresh that
   * began before the person was disabled (their refresh tokens revoked) gets no tokens after it.
   */
  private async liveGrant(tenant: Tenant, grantId: string): Promise<Grant> {
    const grant = await this.ctx.store.people.findGrantById(tenant.id, grantId);
    if (grant === null || grant.revokedAt !== null) return usableGrant<Grant>(null, false);
    const person = await this.ctx.store.people.findUser(tenant.id, grant.userId);
    return usableGrant(grant, person !== null && person.disabledAt === null);
  }
}

/** The grant if it is live (null: revoked or gone) and its person exists and is enabled. */
function usableGrant<G extends GrantInUse>(grant: G | null, personEnabled: boolean): G {
  if (grant === null) throw new OAuthError('invalid_grant', 'the person has revoked this app');
  if (!personEnabled) throw new OAuthError('invalid_grant', 'the person can no longer use this app');
  return grant;
}

/**
 * What the client may still have of `scopes` on the API: its allowance may have been narrowed
 * since the person consented, and a grant or a refresh token never outlasts that (invariant 4).
 * An API taken out of the allowance altogether ends what the grant can produce: `invalid_grant`.
 */
function stillAllowed(client: Client, api: Api, scopes: readonly string[]): string[] {
  const allowance = allowanceFor(client.scopes, api.identifier);
  if (allowance === undefined) throw new OAuthError('invalid_grant', 'the client may no longer get tokens for this API');
  return scopes.filter((s) => allowance.includes(s));
}
