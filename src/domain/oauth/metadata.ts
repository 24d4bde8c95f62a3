import { clientPowerRefusal } from '../clients.js';
import { CODE_CHALLENGE_METHODS } from './pkce.js';
import { ASSERTION_ALGORITHMS, GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS, type GrantType, type TokenEndpointAuthMethod } from './registry.js';

/** The URLs of a tenant's authorization server. */
export interface AuthorizationServerEndpoints {
  issuer: string;
  authorization: string;
  token: string;
  jwks: string;
  revocation: string;
  introspection: string;
}

/** RFC 8414 §2 authorization server metadata. */
export interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  revocation_endpoint: string;
  introspection_endpoint: string;
  grant_types_supported: readonly GrantType[];
  response_types_supported: readonly string[];
  response_modes_supported: readonly string[];
  code_challenge_methods_supported: readonly string[];
  authorization_response_iss_parameter_supported: boolean;
  token_endpoint_auth_methods_supported: readonly TokenEndpointAuthMethod[];
  token_endpoint_auth_signing_alg_values_supported: readonly string[];
  revocation_endpoint_auth_methods_supported: readonly TokenEndpointAuthMethod[];
  revocation_endpoint_auth_signing_alg_values_supported: readonly string[];
  introspection_endpoint_auth_methods_supported: readonly TokenEndpointAuthMethod[];
  introspection_endpoint_auth_signing_alg_values_supported: readonly string[];
}

/**
 * The methods with which a client can be let in to introspect, asked of `clientPowerRefusal`
 * itself: a public client authenticates with `none` and is refused, so `none` is not advertised.
 */
const INTROSPECTION_AUTH_METHODS = TOKEN_ENDPOINT_AUTH_METHODS.filter(
  (method) => clientPowerRefusal({ tokenEndpointAuthMethod: method, grantTypes: [], canIntrospect: false }, { introspect: 'own' }) === null,
);

/**
 * A tenant's RFC 8414 metadata, every list taken from the registry (domain/oauth/registry.ts),
 * so what is advertised is what the endpoints accept. RFC 8414 §2: the signing algorithms are
 * required wherever `private_key_jwt` is listed; revocation accepts every method (a public client
 * revokes its own tokens, RFC 7009 §2.1).
 *
 * @example
 * authorizationServerMetadata(endpointsOf(keygate, 'acme')).grant_types_supported // GRANT_TYPES
 */
export function authorizationServerMetadata(endpoints: AuthorizationServerEndpoints): AuthorizationServerMetadata {
  return {
    issuer: endpoints.issuer,
    authorization_endpoint: endpoints.authorization,
    token_endpoint: endpoints.token,
    jwks_uri: endpoints.jwks,
    revocation_endpoint: endpoints.revocation,
    introspection_endpoint: endpoints.introspection,
    grant_types_supported: GRANT_TYPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: CODE_CHALLENGE_METHODS,
    authorization_response_iss_parameter_supported: true,
    token_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    revocation_endpoint_auth_methods_supported: TOKEN_ENDPOINT_AUTH_METHODS,
    revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
    introspection_endpoint_auth_methods_supported: INTROSPECTION_AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
  };
}
