import type { Client } from '../../../domain/clients.js';
import type { Tenant } from '../../../domain/keys/key.js';
import { OAuthError } from '../../../domain/oauth/errors.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, requiredParam, type Form } from '../form.js';
import { grantedScopes, targetApi, type TokenResponse } from './client-credentials.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * RFC 8693: a service exchanges a token it received for a down-scoped token for a downstream
 * API, acting for the same subject. The new token names the service in `act.sub`. Its scopes are
 * within both the subject token's scopes and the client's allowance for the downstream API.
 */
export async function tokenExchangeGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<TokenResponse> {
  const subjectToken = requiredParam(form, 'subject_token');
  const subjectType = requiredParam(form, 'subject_token_type');
  if (subjectType !== ACCESS_TOKEN_TYPE && subjectType !== 'urn:ietf:params:oauth:token-type:jwt') {
    throw new OAuthError('invalid_request', 'subject_token_type must be an access token or a JWT');
  }
  if (param(form, 'actor_token') !== undefined) throw new OAuthError('invalid_request', 'actor_token is not supported; the authenticated client is the actor');
  const { result, claims } = await keygate.jwts.verify(subjectToken, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
  if (!result.valid || claims === null) throw new OAuthError('invalid_grant', 'the subject token is not valid');
  const api = await targetApi(keygate, tenant, client, form);
  const requested = grantedScopes(client, api, form);
  const held = new Set(result.scopes);
  const scopes = param(form, 'scope') === undefined ? requested.filter((s) => held.has(s)) : requested;
  const outside = scopes.find((s) => !held.has(s));
  if (outside !== undefined) throw new OAuthError('invalid_scope', `the subject token does not hold "${outside}"`);
  const issued = await keygate.tokens.issueAccessToken({
    tenant,
    api,
    subject: claims.sub,
    clientId: client.id,
    scopes,
    act: { sub: client.id },
    ...(typeof claims.gid === 'string' ? { grantId: claims.gid } : {}),
  });
  return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope, issued_token_type: ACCESS_TOKEN_TYPE };
}
