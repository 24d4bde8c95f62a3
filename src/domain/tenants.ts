import type { SigningAlgorithm } from './tokens/jwt.js';

/** An isolated customer space: its own signing keys, issuer, APIs, clients, people and keys. */
export interface Tenant {
  id: string;
  slug: string;
  name: string;
  signingAlg: SigningAlgorithm;
  /** People may create their own account on the tenant's sign-in page. */
  selfSignup: boolean;
  /** The longest lifetime (`exp - iat`, seconds) a self-issued HS256 token of the tenant may have. */
  hs256MaxLifetime: number;
  createdAt: number;
}
