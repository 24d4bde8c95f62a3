import { allowanceFor, type Client } from '../../../domain/clients.js';
import type { Api } from '../../../domain/apis.js';
import type { Tenant } from '../../../domain/tenants.js';
import { OAuthError } from '../../../domain/oauth/errors.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../form.js';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  issued_token_type?: string;
}

/**
 * The API a token request is for: RFC 8707 `resource` or the `audience` parameter (Auth0's
 * spelling); when neither is given and the client may reach exactly one API, that one.
 */
export async function targetApi(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<Api> {
  const resource = param(form, 'resource');
  const audience = param(form, 'audience');
  if (resource !== undefined && audience !== undefined && resource !== audience) {
    throw new OAuthError('invalid_target', 'resource and audience name different APIs');
  }
  let identifier = resource ?? audience;
  if (identifier === undefined) {
    const allowed = Object.keys(client.scopes);
    if (allowed.length !== 1) throw new OAuthError('invalid_target', 'name the API with the resource parameter');
    identifier = allowed[0]!;
  }
  const api = allowanceFor(client.scopes, identifier) === undefined ? null : await keygate.directory.api(tenant.id, identifier);
  if (api === null) throw new OAuthError('invalid_target', 'the client may not get tokens for this resource');
  return api;
}

/** The requested scopes, each within what the client may get for the API; none asked → all of it. */
export function grantedScopes(client: Client, api: Api, form: Form): string[] {
  const allowance = allowanceFor(client.scopes, api.identifier) ?? [];
  const requested = param(form, 'scope');
  if (requested === undefined) return [...allowance];
  const scopes = [...new Set(requested.split(' ').filter((s) => s.length > 0))];
  for (const scope of scopes) {
    if (!allowance.includes(scope)) throw new OAuthError('invalid_scope', `scope "${scope}" is not allowed for this client and resource`);
  }
  return scopes;
}

/** RFC 6749 §4.4: a confidential client gets a token for itself. */
export async function clientCredentialsGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<TokenResponse> {
  const api = await targetApi(keygate, tenant, client, form);
  const scopes = grantedScopes(client, api, form);
  const issued = await keygate.tokens.issueAccessToken({ tenant, api, subject: client.id, clientId: client.id, scopes });
  return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope };
}
