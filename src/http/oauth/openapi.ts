import { Type, type TSchema } from 'typebox';
import { OAUTH_ERRORS } from '../../domain/oauth/errors.js';
import { CODE_CHALLENGE_METHODS } from '../../domain/oauth/pkce.js';
import { ASSERTION_ALGORITHMS, CLIENT_ASSERTION_TYPE, GRANT_TYPE_REGISTRY, GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS } from '../../domain/oauth/registry.js';

/**
 * The OpenAPI description of the tenant authorization servers. Their routes parse form bodies
 * themselves (repeated parameters are refused, RFC 6749 §3.2) and answer RFC error bodies, so
 * Fastify schemas cannot validate them: they are described here, next to the code, and merged
 * into /openapi.json by http/api-docs.ts.
 */

type Operation = Record<string, unknown>;
type PathItem = Record<string, Operation>;

const FORM = 'application/x-www-form-urlencoded';
const ERROR_REF = { $ref: '#/components/schemas/OAuthError' };

/** A string that is one of `values` (the registry's lists), as an OpenAPI enum. */
function oneOf(values: readonly string[], options: { description?: string } = {}): TSchema {
  return Type.Unsafe<string>({ type: 'string', enum: [...values], ...options });
}

/** RFC 6749 §5.1: what the token endpoint answers (the CLI's `TokenResponse` is derived from it). */
export const TokenResponse = Type.Object(
  {
    access_token: Type.String({ description: 'A JWT (RFC 9068) signed by the tenant\'s current key; verify it with the tenant JWKS.' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'Seconds until the access token expires.' }),
    scope: Type.String({ description: 'The granted scopes, space-separated.' }),
    refresh_token: Type.Optional(Type.String({ description: 'Authorization code and refresh grants: a rotating refresh token (`kgrt_…`).' })),
    issued_token_type: Type.Optional(Type.String({ description: 'Token exchange (RFC 8693) only.' })),
  },
  { description: 'RFC 6749 §5.1 successful token response, sent with `Cache-Control: no-store`.' },
);

/** Schemas the OAuth paths refer to, for `components.schemas`. */
export const OAUTH_COMPONENTS: Record<string, TSchema> = {
  OAuthError: Type.Object(
    {
      error: Type.Union(
        Object.keys(OAUTH_ERRORS).map((code) => Type.Literal(code)),
        { description: 'The RFC error code (RFC 6749 §5.2, RFC 7009, RFC 7662, RFC 8707).' },
      ),
      error_description: Type.String({ description: 'What went wrong, for the developer.' }),
    },
    { description: 'RFC 6749 §5.2 error response, sent with `Cache-Control: no-store`.' },
  ),
  TokenResponse,
};

const CLIENT_AUTH_FIELDS = {
  client_id: Type.Optional(Type.String({ description: 'client_secret_post, private_key_jwt and public clients: the client id.' })),
  client_secret: Type.Optional(Type.String({ description: 'client_secret_post: the client secret (prefer HTTP Basic).' })),
  client_assertion_type: Type.Optional(Type.Literal(CLIENT_ASSERTION_TYPE, { description: 'private_key_jwt (RFC 7523).' })),
  client_assertion: Type.Optional(Type.String({ description: `private_key_jwt: a JWT signed with a key of the client's JWKS (alg ${ASSERTION_ALGORITHMS.join(', ')}), \`aud\` the token endpoint or issuer, one-time \`jti\`.` })),
};

const TokenForm = Type.Object(
  {
    grant_type: oneOf(GRANT_TYPES, { description: GRANT_TYPES.map((grant) => `\`${grant}\`: ${GRANT_TYPE_REGISTRY[grant].spec}`).join('; ') }),
    scope: Type.Optional(Type.String({ description: 'Space-separated scopes; default: everything the client may have on the API (client credentials), the original grant (refresh).' })),
    resource: Type.Optional(Type.String({ description: 'RFC 8707: the API identifier the token is for (`audience` is accepted too). May be left out when the client reaches exactly one API.' })),
    audience: Type.Optional(Type.String({ description: 'The same as `resource` (Auth0\'s spelling).' })),
    code: Type.Optional(Type.String({ description: 'authorization_code: the code from the redirect (single use).' })),
    redirect_uri: Type.Optional(Type.String({ description: 'authorization_code: the redirect URI of the authorization request.' })),
    code_verifier: Type.Optional(Type.String({ description: 'authorization_code: the PKCE verifier (RFC 7636, S256).' })),
    refresh_token: Type.Optional(Type.String({ description: 'refresh_token: the refresh token; it is rotated, and reusing an old one revokes the grant.' })),
    subject_token: Type.Optional(Type.String({ description: 'Token exchange (RFC 8693): the access token received.' })),
    subject_token_type: Type.Optional(Type.String({ description: 'Token exchange: `urn:ietf:params:oauth:token-type:access_token` or `urn:ietf:params:oauth:token-type:jwt`.' })),
    actor_token: Type.Optional(Type.String({ description: 'Token exchange: not supported; sending one is `invalid_request`.' })),
    ...CLIENT_AUTH_FIELDS,
  },
  { description: 'Each parameter at most once (RFC 6749 §3.2); at most 64 KiB.' },
);

const TokenOnlyForm = (purpose: string): TSchema =>
  Type.Object({
    token: Type.String({ description: purpose }),
    token_type_hint: Type.Optional(Type.Union([Type.Literal('access_token'), Type.Literal('refresh_token')])),
    ...CLIENT_AUTH_FIELDS,
  });

const IntrospectionResponse = Type.Object(
  {
    active: Type.Boolean(),
    scope: Type.Optional(Type.String()),
    client_id: Type.Optional(Type.String()),
    sub: Type.Optional(Type.String()),
    aud: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
    iss: Type.Optional(Type.String()),
    exp: Type.Optional(Type.Integer()),
    iat: Type.Optional(Type.Integer()),
    jti: Type.Optional(Type.String()),
    token_type: Type.Optional(Type.Literal('Bearer')),
  },
  { description: 'RFC 7662 §2.2. An inactive token, or one the client may not see, is `{"active": false}` and nothing else.' },
);

const Metadata = Type.Object(
  {
    issuer: Type.String({ description: '`{PUBLIC_URL}/t/{slug}`' }),
    authorization_endpoint: Type.String(),
    token_endpoint: Type.String(),
    jwks_uri: Type.String(),
    revocation_endpoint: Type.String(),
    introspection_endpoint: Type.String(),
    grant_types_supported: Type.Array(oneOf(GRANT_TYPES)),
    response_types_supported: Type.Array(Type.String()),
    response_modes_supported: Type.Array(Type.String()),
    code_challenge_methods_supported: Type.Array(oneOf(CODE_CHALLENGE_METHODS)),
    authorization_response_iss_parameter_supported: Type.Boolean(),
    token_endpoint_auth_methods_supported: Type.Array(oneOf(TOKEN_ENDPOINT_AUTH_METHODS)),
    token_endpoint_auth_signing_alg_values_supported: Type.Array(oneOf(ASSERTION_ALGORITHMS)),
    revocation_endpoint_auth_methods_supported: Type.Array(oneOf(TOKEN_ENDPOINT_AUTH_METHODS)),
    revocation_endpoint_auth_signing_alg_values_supported: Type.Array(oneOf(ASSERTION_ALGORITHMS)),
    introspection_endpoint_auth_methods_supported: Type.Array(oneOf(TOKEN_ENDPOINT_AUTH_METHODS)),
    introspection_endpoint_auth_signing_alg_values_supported: Type.Array(oneOf(ASSERTION_ALGORITHMS)),
  },
  { description: 'RFC 8414 authorization server metadata.' },
);

const Jwks = Type.Object(
  { keys: Type.Array(Type.Object({ kid: Type.String(), kty: Type.String(), alg: Type.String(), use: Type.Literal('sig') }, { additionalProperties: true })) },
  { description: 'RFC 7517 JSON Web Key Set: the public halves of the tenant\'s signing keys, current and recently retired.' },
);

const NO_TENANT = { '404': { description: 'No such tenant (`invalid_request`).', content: { 'application/json': { schema: ERROR_REF } } } };

const SLUG = { name: 'slug', in: 'path', required: true, description: 'The tenant.', schema: { type: 'string' } };

/** Client authentication: HTTP Basic, or the form fields of client_secret_post / private_key_jwt / a public client. */
const CLIENT_AUTH = [{ clientSecretBasic: [] }, {}];

function errorResponses(codes: readonly (keyof typeof OAUTH_ERRORS)[]): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) byStatus.set(OAUTH_ERRORS[code].status, [...(byStatus.get(OAUTH_ERRORS[code].status) ?? []), code]);
  const responses: Record<string, unknown> = { ...NO_TENANT };
  for (const [status, list] of byStatus) {
    responses[String(status)] = { description: `RFC error: ${list.map((c) => `\`${c}\``).join(', ')}.`, content: { 'application/json': { schema: ERROR_REF } } };
  }
  responses['429'] = { description: 'Too many failed client authentications from this source (`invalid_client`), or too many inactive tokens introspected (`invalid_request`); `Retry-After` says when to retry.', content: { 'application/json': { schema: ERROR_REF } } };
  return responses;
}

function formBody(schema: TSchema): Record<string, unknown> {
  return { required: true, content: { [FORM]: { schema } } };
}

const metadataOperation = (where: string): Operation => ({
  tags: ['oauth'],
  summary: `Authorization server metadata (RFC 8414), ${where}`,
  operationId: `oauthMetadata${where.startsWith('RFC') ? 'WellKnown' : 'UnderIssuer'}`,
  security: [],
  parameters: [SLUG],
  responses: {
    '200': { description: 'The tenant\'s metadata; cacheable.', content: { 'application/json': { schema: Metadata } } },
    ...NO_TENANT,
  },
});

/**
 * The OAuth paths of every tenant, for /openapi.json.
 *
 * @example
 * document.paths = { ...document.paths, ...oauthPaths() };
 */
export function oauthPaths(): Record<string, PathItem> {
  return {
    '/t/{slug}/oauth/token': {
      post: {
        tags: ['oauth'],
        summary: 'Token endpoint (RFC 6749 §3.2): client credentials, authorization code with PKCE, refresh token, token exchange (RFC 8693)',
        operationId: 'oauthToken',
        security: CLIENT_AUTH,
        parameters: [SLUG],
        requestBody: formBody(TokenForm),
        responses: {
          '200': { description: 'An access token (and, for delegated grants, a refresh token).', content: { 'application/json': { schema: { $ref: '#/components/schemas/TokenResponse' } } } },
          ...errorResponses(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'temporarily_unavailable']),
        },
      },
    },
    '/t/{slug}/oauth/introspect': {
      post: {
        tags: ['oauth'],
        summary: 'Token introspection (RFC 7662): a confidential client sees tokens issued to itself, or any token of its tenant with `canIntrospect`',
        operationId: 'oauthIntrospect',
        security: CLIENT_AUTH,
        parameters: [SLUG],
        requestBody: formBody(TokenOnlyForm('The access token to look at.')),
        responses: {
          '200': { description: 'Active with its claims, or `{"active": false}`.', content: { 'application/json': { schema: IntrospectionResponse } } },
          ...errorResponses(['invalid_request', 'invalid_client', 'temporarily_unavailable']),
        },
      },
    },
    '/t/{slug}/oauth/revoke': {
      post: {
        tags: ['oauth'],
        summary: 'Token revocation (RFC 7009): an access token by its jti, a refresh token with its whole grant',
        operationId: 'oauthRevoke',
        security: CLIENT_AUTH,
        parameters: [SLUG],
        requestBody: formBody(TokenOnlyForm('The access or refresh token to revoke.')),
        responses: {
          '200': { description: 'Revoked, or unknown, invalid or another client\'s: the answer is the same (RFC 7009 §2.2). Empty body.' },
          ...errorResponses(['invalid_request', 'invalid_client', 'temporarily_unavailable']),
        },
      },
    },
    '/t/{slug}/oauth/authorize': {
      get: {
        tags: ['oauth'],
        summary: 'Authorization endpoint (RFC 6749 §4.1.1, PKCE S256): a person signs in and consents in the browser',
        operationId: 'oauthAuthorize',
        security: [],
        parameters: [
          SLUG,
          { name: 'response_type', in: 'query', required: true, schema: { type: 'string', enum: ['code'] } },
          { name: 'client_id', in: 'query', required: true, schema: { type: 'string' } },
          { name: 'redirect_uri', in: 'query', required: false, description: 'One of the client\'s registered URIs (may be left out when it has exactly one).', schema: { type: 'string' } },
          { name: 'scope', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'state', in: 'query', required: false, schema: { type: 'string' } },
          { name: 'code_challenge', in: 'query', required: false, description: 'Required for public clients.', schema: { type: 'string' } },
          { name: 'code_challenge_method', in: 'query', required: false, schema: { type: 'string', enum: [...CODE_CHALLENGE_METHODS] } },
          { name: 'resource', in: 'query', required: false, description: 'RFC 8707: the API identifier (`audience` is accepted too).', schema: { type: 'string' } },
        ],
        responses: {
          '303': {
            description:
              'To sign-in or consent, or back to the client\'s redirect URI with `code`, `state` and `iss` (RFC 9207) — or, for errors after the client and redirect URI are known, with `error` (`invalid_request`, `unauthorized_client`, `access_denied`, `unsupported_response_type`, `invalid_scope`, `invalid_target`, `request_not_supported`).',
          },
          '400': { description: 'Unknown client or redirect URI: an error page, never a redirect.', content: { 'text/html': { schema: { type: 'string' } } } },
          '404': { description: 'No such tenant: an error page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/.well-known/oauth-authorization-server/t/{slug}': { get: metadataOperation('RFC 8414 §3 path-insertion location') },
    '/t/{slug}/.well-known/oauth-authorization-server': { get: metadataOperation('under the issuer (what many clients try)') },
    '/t/{slug}/.well-known/jwks.json': {
      get: {
        tags: ['oauth'],
        summary: 'The tenant\'s JSON Web Key Set, to verify its tokens offline',
        operationId: 'oauthJwks',
        security: [],
        parameters: [SLUG],
        responses: {
          '200': { description: 'Public keys; cacheable.', content: { 'application/jwk-set+json': { schema: Jwks } } },
          ...NO_TENANT,
        },
      },
    },
  };
}
