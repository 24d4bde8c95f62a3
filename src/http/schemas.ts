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
    affected: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'API_IN_USE, SCOPES_IN_USE: how many keys, tokens and clients stand in the way.' })),
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

export const ApiView = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  identifier: Type.String(),
  name: Type.String(),
  keyPrefix: Type.String(),
  scopes: Type.Array(ScopeDefinition),
  accessTokenTtl: Type.Integer(),
  refreshTokens: Type.Object({ enabled: Type.Boolean(), idleTtl: Type.Integer(), absoluteTtl: Type.Integer(), reuseInterval: Type.Integer() }),
  createdAt: Timestamp,
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
