import { Type, type Static } from 'typebox';
import { MAX_REFRESH_REUSE_INTERVAL } from '../domain/apis.js';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../domain/tokens/jwt.js';

/**
 * Shared request and response schemas. Each is at once the validator (Ajv, with unknown fields
 * rejected), the OpenAPI 3.1 document and the TypeScript type — the server's, and the CLI's
 * (`cli/api-types.ts` derives its wire types from the exported response schemas).
 */
const SCOPE_TOKEN = '^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,128}$';

export const ScopeName = Type.String({ pattern: SCOPE_TOKEN, description: 'An RFC 6749 scope token, by convention `action:resource`.', examples: ['read:users'] });
export const Timestamp = Type.String({ format: 'date-time', description: 'UTC ISO-8601.' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);
export const Meta = Type.Record(Type.String(), Type.Unknown(), { description: 'Free-form JSON returned by verify (at most 16 KiB).' });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code; see docs/errors.md.' }),
    detail: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    affected: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'API_IN_USE, SCOPES_IN_USE: how many keys, tokens and clients stand in the way; SCOPES_IN_DOCUMENT: how many operations of the OpenAPI document.' })),
  },
  { description: 'RFC 9457 problem details.' },
);

export const Ratelimit = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 64 }),
    limit: Type.Integer({ minimum: 1 }),
    duration: Type.Integer({ minimum: 1, description: 'Window length in milliseconds.' }),
  },
  { additionalProperties: false },
);

export const Refill = Type.Object(
  {
    amount: Type.Integer({ minimum: 1 }),
    interval: Type.Union([Type.Literal('daily'), Type.Literal('monthly')]),
  },
  { additionalProperties: false },
);

export const CreditsInput = Type.Object(
  {
    remaining: Type.Integer({ minimum: 0 }),
    refill: Type.Optional(Type.Union([Refill, Type.Null()])),
  },
  { additionalProperties: false },
);

/** Algorithm of a tenant's signing keys. */
export const SigningAlg = Type.Unsafe<SigningAlgorithm>({ type: 'string', enum: [...SIGNING_ALGORITHMS] });

/** The answer of every "revoke everything issued until now": tokens issued at or before it are revoked. */
export const NotBeforeView = Type.Object({ notBefore: Type.String() });

export const Cidr = Type.String({ minLength: 2, maxLength: 64, description: 'IPv4 or IPv6 address or CIDR.' });

export const KeyView = Type.Object({
  id: Type.String(),
  start: Type.String({ description: 'The first characters of the secret, for display.' }),
  api: Type.String(),
  tenant: Type.String(),
  parentId: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  consumer: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  meta: Meta,
  expiresAt: NullableTimestamp,
  enabled: Type.Boolean(),
  revokedAt: NullableTimestamp,
  ratelimits: Type.Array(Ratelimit),
  credits: Type.Union([
    Type.Object({ remaining: Type.Integer(), refill: Type.Union([Refill, Type.Null()]) }),
    Type.Null(),
  ]),
  ipAllowlist: Type.Union([Type.Array(Type.String()), Type.Null()]),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  lastUsedAt: NullableTimestamp,
});
export type KeyViewType = Static<typeof KeyView>;

export const IssuedKeyView = Type.Intersect([
  KeyView,
  Type.Object({ key: Type.String({ description: 'The secret. Shown only in this response.' }) }),
]);

export const ScopeDefinition = Type.Object(
  {
    name: ScopeName,
    description: Type.String({ maxLength: 1024 }),
    implies: Type.Optional(Type.Array(ScopeName, { maxItems: 64 })),
  },
  { additionalProperties: false },
);

export const ExternalIssuerInput = Type.Object(
  {
    issuer: Type.String({ minLength: 1, maxLength: 512, description: 'The `iss` its tokens carry.' }),
    jwksUri: Type.String({ minLength: 1, maxLength: 2048, description: 'Where its signing keys are published (https; http only on loopback).' }),
    audience: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 512 }), Type.Null()], { description: 'The `aud` its tokens must carry; null: not checked.' })),
  },
  { additionalProperties: false },
);

/** The gateway settings, top-level fields of an API on create and update (docs/gateway.md). */
export const GatewayInputFields = {
  upstream: Type.Optional(
    Type.Union([Type.String({ minLength: 1, maxLength: 2048 }), Type.Null()], {
      description: 'Absolute http(s) URL the gateway forwards this API\'s requests to; null takes the API out of the gateway.',
    }),
  ),
  gatewayHosts: Type.Optional(
    Type.Array(Type.String({ minLength: 1, maxLength: 261 }), { maxItems: 32, description: 'Host values (host or host:port) besides the identifier\'s host that reach this API; each in one API only.' }),
  ),
  externalIssuers: Type.Optional(Type.Array(ExternalIssuerInput, { maxItems: 8, description: 'JWT issuers outside Keygate whose tokens the gateway accepts for this API.' })),
  phantomToken: Type.Optional(Type.Boolean({ description: 'Also send the upstream a short-lived JWT signed by the tenant (`Keygate-Token`).' })),
  credentialHeader: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: 'A header read for the credential besides `Authorization: Bearer`, e.g. `x-api-key`.' })),
  credentialQuery: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()], { description: 'A query parameter read for the credential (off unless set: URLs end up in logs).' })),
  passthrough: Type.Optional(Type.Boolean({ description: 'Forward paths and methods the OpenAPI document does not declare (404/405 otherwise).' })),
  corsPreflight: Type.Optional(
    Type.Union([Type.Literal('refuse'), Type.Literal('forward')], {
      description: 'A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) on a declared path without a declared OPTIONS: `refuse` answers 405 (the default); `forward` sends it to the upstream without a credential or identity headers.',
    }),
  ),
};

export const ApiView = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  identifier: Type.String(),
  name: Type.String(),
  keyPrefix: Type.String(),
  scopes: Type.Array(ScopeDefinition),
  accessTokenTtl: Type.Integer(),
  refreshTokens: Type.Object({ enabled: Type.Boolean(), idleTtl: Type.Integer(), absoluteTtl: Type.Integer(), reuseInterval: Type.Integer() }),
  upstream: Type.Union([Type.String(), Type.Null()]),
  gatewayHosts: Type.Array(Type.String()),
  externalIssuers: Type.Array(Type.Object({ issuer: Type.String(), jwksUri: Type.String(), audience: Type.Union([Type.String(), Type.Null()]) })),
  phantomToken: Type.Boolean(),
  credentialHeader: Type.Union([Type.String(), Type.Null()]),
  credentialQuery: Type.Union([Type.String(), Type.Null()]),
  passthrough: Type.Boolean(),
  corsPreflight: Type.Union([Type.Literal('refuse'), Type.Literal('forward')]),
  createdAt: Timestamp,
});

/** What an uploaded OpenAPI document compiled to: the operations the gateway enforces. */
export const ApiDocumentView = Type.Object({
  api: Type.String(),
  format: Type.Union([Type.Literal('json'), Type.Literal('yaml')]),
  size: Type.Integer({ description: 'Bytes of the document.' }),
  uploadedAt: Timestamp,
  basePath: Type.String({ description: 'The `servers` base path the operations are served under; empty for the root.' }),
  operations: Type.Array(
    Type.Object({
      method: Type.String(),
      path: Type.String(),
      operationId: Type.Union([Type.String(), Type.Null()]),
      public: Type.Boolean(),
      anyOf: Type.Array(Type.Array(Type.String()), { description: 'The caller must hold every scope of at least one item; `[[]]`: any valid credential.' }),
      cost: Type.Integer(),
    }),
  ),
});

export const TenantView = Type.Object({
  id: Type.String(),
  slug: Type.String(),
  name: Type.String(),
  signingAlg: SigningAlg,
  issuer: Type.String({ description: 'The tenant\'s OAuth issuer: `{PUBLIC_URL}/t/{slug}`.' }),
  selfSignup: Type.Boolean({ description: 'Whether people may create their own accounts on the tenant\'s portal.' }),
  hs256MaxLifetime: Type.Integer({ description: 'Longest lifetime (`exp - iat`, seconds) of a self-issued HS256 token.' }),
  createdAt: Timestamp,
});

/** The cap on self-issued HS256 token lifetimes a tenant may set: a second to a year. */
export const Hs256MaxLifetime = Type.Integer({
  minimum: 1,
  maximum: 31_536_000,
  description: 'Longest lifetime (`exp - iat`, seconds) of a self-issued HS256 token; longer ones, and ones without `iat`, are refused (default 86400).',
});

export const RefreshTokensSettings = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean()),
    idleTtl: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds a refresh token may go unused.' })),
    absoluteTtl: Type.Optional(Type.Integer({ minimum: 1, description: 'Seconds a refresh-token family may live.' })),
    reuseInterval: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_REFRESH_REUSE_INTERVAL,
        description: 'Seconds after a rotation during which the rotated refresh token, presented again, is taken for a concurrent refresh (refused, the family lives) rather than a replay (the family and the grant\'s access tokens are revoked). Default 0: every reuse is a replay.',
      }),
    ),
  },
  { additionalProperties: false },
);

export const AuditEventView = Type.Object({
  id: Type.String(),
  at: Timestamp,
  actor: Type.String(),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  data: Type.Record(Type.String(), Type.Unknown()),
  count: Type.Integer({ minimum: 1, description: 'Occurrences: 1 for a change; for a denial, how many of that key, reason and minute (`at`, `requestId` and `ip` are the first).' }),
  lastAt: Type.Union([Timestamp, Type.Null()], { description: 'The last occurrence of an aggregated denial; null for other events.' }),
  lastRequestId: Type.Union([Type.String(), Type.Null()]),
});

export const PageQuery = {
  cursor: Type.Optional(Type.String({ maxLength: 200, description: 'The `nextCursor` of the previous page.' })),
  limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$', description: 'Items per page, 1–100 (default 50).' })),
};

export function pageOf<T extends Parameters<typeof Type.Array>[0]>(item: T) {
  return Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
}

export const TenantParams = Type.Object({ slug: Type.String({ maxLength: 64 }) });
export const KeyParams = Type.Object({ slug: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 64 }) });

/** Response schemas every authenticated route shares, for the OpenAPI document. */
export const ERROR_RESPONSES = {
  400: Problem,
  401: Problem,
  403: Problem,
  404: Problem,
  413: Problem,
  503: Problem,
};
