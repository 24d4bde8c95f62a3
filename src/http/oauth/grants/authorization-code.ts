import type { Client } from '../../../domain/clients.js';
import type { TokenResponse } from '../../../domain/oauth/token-request.js';
import type { Tenant } from '../../../domain/tenants.js';
import type { Actor } from '../../../services/context.js';
import type { Keygate } from '../../../services/keygate.js';
import { param, requiredParam, type Form } from '../form.js';

/** RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5): a code, the same redirect URI, the verifier. */
export function authorizationCodeGrant(keygate: Keygate, tenant: Tenant, client: Client, form: Form, actor: Actor): Promise<TokenResponse> {
  return keygate.delegation.exchangeCode(actor, tenant, client, {
    code: requiredParam(form, 'code'),
    redirectUri: param(form, 'redirect_uri'),
    codeVerifier: param(form, 'code_verifier'),
    resource: param(form, 'resource'),
  });
}
