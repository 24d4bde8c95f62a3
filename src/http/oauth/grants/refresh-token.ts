import type { Client } from '../../../domain/clients.js';
import type { TokenResponse } from '../../../domain/oauth/token-request.js';
import type { Tenant } from '../../../domain/tenants.js';
import type { Actor } from '../../../services/context.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, requiredParam, type Form } from '../form.js';

/** RFC 6749 §6: a rotating refresh token buys a new access token and a new refresh token. */
export function refreshTokenGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form, actor: Actor): Promise<TokenResponse> {
  return keygate.delegation.refresh(actor, tenant, client, {
    refreshToken: requiredParam(form, 'refresh_token'),
    scope: param(form, 'scope'),
    resource: param(form, 'resource'),
  });
}
