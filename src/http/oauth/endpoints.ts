import type { Keygate } from '../../services/keygate.js';
import { issuerOf } from '../../services/tokens-service.js';

/** The URLs of a tenant's authorization server, shared by metadata, audiences and tests. */
export function endpointsOf(keygate: Keygate, slug: string) {
  const issuer = issuerOf(keygate.publicUrl, slug);
  return {
    issuer,
    authorization: `${issuer}/oauth/authorize`,
    token: `${issuer}/oauth/token`,
    revocation: `${issuer}/oauth/revoke`,
    introspection: `${issuer}/oauth/introspect`,
    jwks: `${issuer}/.well-known/jwks.json`,
  };
}
