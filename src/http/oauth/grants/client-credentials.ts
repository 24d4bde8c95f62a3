import type { Client } from '../../../domain/clients.js';
import type { TokenResponse } from '../../../domain/oauth/token-request.js';
import type { Tenant } from '../../../domain/tenants.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, type Form } from '../form.js';

/** RFC 6749 §4.4: a confidential client gets a token for itself (`ClientTokensService.clientCredentials`). */
export function clientCredentialsGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<TokenResponse> {
  return keygate.clientTokens.clientCredentials(tenant, client, {
    resource: param(form, 'resource'),
    audience: param(form, 'audience'),
    scope: param(form, 'scope'),
  });
}
