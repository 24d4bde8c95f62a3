import type { Client } from '../../../domain/clients.js';
import type { TokenResponse } from '../../../domain/oauth/token-request.js';
import type { Tenant } from '../../../domain/tenants.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, requiredParam, type Form } from '../form.js';

/** RFC 8693 token exchange (`ClientTokensService.exchange`, which `decideExchange` rules). */
export function tokenExchangeGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form): Promise<TokenResponse> {
  return keygate.clientTokens.exchange(tenant, client, {
    subjectToken: requiredParam(form, 'subject_token'),
    subjectTokenType: requiredParam(form, 'subject_token_type'),
    actorToken: param(form, 'actor_token'),
    resource: param(form, 'resource'),
    audience: param(form, 'audience'),
    scope: param(form, 'scope'),
  });
}
