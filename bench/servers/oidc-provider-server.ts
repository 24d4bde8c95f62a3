/**
 * The baseline authorization server for bench/token-endpoint.ts, in its own process:
 * `oidc-provider` (panva) configured to do what Keygate's token endpoint does — one confidential
 * client (client_secret_basic, grant client_credentials, scope read:users), RFC 8707 resource
 * indicators with the resource answered as an RFC 9068 JWT access token signed with an Ed25519
 * key (EdDSA, like Keygate's default), lifetime 3600 s (Keygate's default), nothing persisted
 * (JWT-format tokens are not stored by oidc-provider, nor by Keygate).
 *
 *   node --import tsx bench/servers/oidc-provider-server.ts <resource>
 *
 * Prints one JSON line (OidcProviderServerInfo) on stdout when listening; stops on SIGTERM or
 * stdin end. oidc-provider's notices (console.info) go to stderr so stdout stays one JSON line.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { stopOnParentExit } from './bench-key.js';
import { oidcProviderBase } from './oidc-provider-base.js';

export interface OidcProviderServerInfo {
  url: string;
  issuer: string;
  tokenEndpoint: string;
  jwksUrl: string;
  clientId: string;
  clientSecret: string;
  resource: string;
  version: string;
}

const resource = process.argv[2];
if (resource === undefined) throw new Error('usage: oidc-provider-server.ts <resource>');
const SCOPE = 'read:users';
const TTL_SECONDS = 3600;

/** The part of oidc-provider@9's API used here (the package ships no types). */
interface ProviderClass {
  new (issuer: string, configuration: Record<string, unknown>): { callback(): (req: IncomingMessage, res: ServerResponse) => void };
  errors: { InvalidTarget: new () => Error };
}

const { Provider, version, jwk, http, url } = await oidcProviderBase<ProviderClass>();
const clientId = 'bench-client';
const clientSecret = randomBytes(32).toString('base64url');

const provider = new Provider(url, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPE,
    },
  ],
  jwks: { keys: [jwk] },
  scopes: [SCOPE],
  // Only EdDSA is in the key set; nothing here signs ID tokens, but the client defaults must name a usable alg.
  clientDefaults: { id_token_signed_response_alg: 'EdDSA', grant_types: ['client_credentials'], response_types: [] },
  enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
  // The resource server's lifetime, said explicitly (the default function logs a notice).
  ttl: { ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? TTL_SECONDS },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, indicator: string) => {
        if (indicator !== resource) throw new Provider.errors.InvalidTarget();
        return { scope: SCOPE, audience: resource, accessTokenTTL: TTL_SECONDS, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } };
      },
    },
  },
});
http.on('request', provider.callback());

const info: OidcProviderServerInfo = {
  url,
  issuer: url,
  tokenEndpoint: `${url}/token`,
  jwksUrl: `${url}/jwks`,
  clientId,
  clientSecret,
  resource,
  version,
};
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(async () => {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
});
