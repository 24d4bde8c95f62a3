import type { Client } from '../../../domain/clients.js';
import type { Tenant } from '../../../domain/tenants.js';
import { OAuthError } from '../../../domain/oauth/errors.js';
import { decideExchange } from '../../../domain/tokens/exchange.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, requiredParam, type Form } from '../form.js';
import { targetApi, type TokenResponse } from './client-credentials.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

/**
 * RFC 8693: a service exchanges a token it received for a down-scoped token for a downstream
 * API, acting for the same subject. The new token names the service in `act.sub`. What may be
 * had is `decideExchange`'s call (domain/tokens/exchange.ts): the subject token must be for an
 * API this client serves, the scopes within the subject's and the client's allowance for the
 * downstream API, the lifetime within the subject's; and the token carries its lineage so it is
 * revoked with its subject.
 */
export async function tokenExchangeGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<TokenResponse> {
  const subjectToken = requiredParam(form, 'subject_token');
  const subjectType = requiredParam(form, 'subject_token_type');
  if (subjectType !== ACCESS_TOKEN_TYPE && subjectType !== 'urn:ietf:params:oauth:token-type:jwt') {
    throw new OAuthError('invalid_request', 'subject_token_type must be an access token or a JWT');
  }
  if (param(form, 'actor_token') !== undefined) throw new OAuthError('invalid_request', 'actor_token is not supported; the authenticated client is the actor');
  const api = await targetApi(keygate, tenant, client, form);
  const { result, claims } = await keygate.jwts.verify(subjectToken, { api: null, scopes: [], match: 'all', tenant: tenant.slug });
  // RFC 8693 §2.2.2: an invalid or unacceptable subject token is invalid_request.
  if (!result.valid || claims === null || result.api === null) throw new OAuthError('invalid_request', 'the subject token is not valid');
  const requested = param(form, 'scope');
  const decision = decideExchange({
    allowance: client.scopes,
    subject: { audience: result.api, scopes: result.scopes, claims },
    target: api.identifier,
    requested: requested === undefined ? null : requested.split(' ').filter((s) => s.length > 0),
  });
  if (!decision.ok) throw new OAuthError(decision.error, decision.description);
  const issued = await keygate.tokens.issueAccessToken({
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
