/**
 * The JSON shapes the management API answers with, as the CLI reads them: each derived from the
 * response schema the route serialises with, so the CLI cannot drift from the server. Only
 * `import type` from http/: it is erased at compile time, so the CLI loads no Fastify (nor any
 * server code) at run time. The OAuth lists and the signing algorithms are pure data from
 * domain/, so the CLI offers exactly what the server accepts.
 */
import type { Static } from 'typebox';
import type { SigningAlgorithm } from '../domain/tokens/jwt.js';
import type { ClientView as ClientViewSchema, IssuedClientView, Jwks as JwksSchema } from '../http/management/clients.js';
import type { ConsumerView as ConsumerViewSchema, GrantBody } from '../http/management/consumers.js';
import type { Hs256SecretCreatedView, Hs256SecretView } from '../http/management/hs256-secrets.js';
import type { OperatorView as OperatorViewSchema, OperatorWithPasswordView } from '../http/management/operators.js';
import type { IssuedRootKeyView, RootKeyView as RootKeyViewSchema } from '../http/management/root-keys.js';
import type { SigningKeyView } from '../http/management/signing-keys.js';
import type { IssuedTokenView, TokenView as TokenViewSchema } from '../http/management/tokens.js';
import type { UsageBreakdownView, UsageSeriesView } from '../http/management/usage.js';
import type { UserView } from '../http/management/users.js';
import type { TokenResponse as TokenResponseSchema } from '../http/oauth/openapi.js';
import type {
  ApiDocumentView,
  ApiView,
  AuditEventView,
  IssuedKeyView,
  KeyView as KeyViewSchema,
  NotBeforeView,
  Ratelimit as RatelimitSchema,
  Refill as RefillSchema,
  ScopeDefinition as ScopeDefinitionSchema,
  TenantView,
} from '../http/schemas.js';
import type { VerificationResultSchema } from '../http/verify.js';

export type SigningAlg = SigningAlgorithm;
export type Tenant = Static<typeof TenantView>;
/** A person who signs in to a tenant's portal. */
export type User = Static<typeof UserView>;
export type ScopeDefinition = Static<typeof ScopeDefinitionSchema>;
export type Api = Static<typeof ApiView>;
/** What an uploaded OpenAPI document compiled to. */
export type ApiDocument = Static<typeof ApiDocumentView>;
/** Refresh-token settings of an API; lifetimes and the reuse interval in seconds. */
export type RefreshTokens = Api['refreshTokens'];
export type Ratelimit = Static<typeof RatelimitSchema>;
export type Refill = Static<typeof RefillSchema>;
export type KeyView = Static<typeof KeyViewSchema>;
export type Credits = NonNullable<KeyView['credits']>;
/** A key view with its secret, as create, roll and sub-key creation answer (once). */
export type IssuedKey = Static<typeof IssuedKeyView>;
export type Consumer = Static<typeof ConsumerViewSchema>;
/** One grant of a consumer as sent (POST and PATCH …/consumers). */
export type GrantSpec = Static<typeof GrantBody>;
export type RootKeyView = Static<typeof RootKeyViewSchema>;
export type RootKeyCreated = Static<typeof IssuedRootKeyView>;
/** A person who signs in to the console with a root key's scopes and tenant limit. */
export type OperatorView = Static<typeof OperatorViewSchema>;
/** An operator with the password generated for them, as create and reset answer (once). */
export type OperatorWithPassword = Static<typeof OperatorWithPasswordView>;
export type VerificationResult = Static<typeof VerificationResultSchema>;
export type AuditEvent = Static<typeof AuditEventView>;
/** A usage time series: one point per bucket, oldest first. */
export type UsageSeries = Static<typeof UsageSeriesView>;
/** The busiest keys, consumers or operations over a range, each by outcome. */
export type UsageBreakdown = Static<typeof UsageBreakdownView>;
/** A public JWK Set, as `private_key_jwt` clients register it. */
export type Jwks = Static<typeof JwksSchema>;
export type ClientView = Static<typeof ClientViewSchema>;
/** A client with its secret, as create and secret rotation answer (once); null for clients without one. */
export type IssuedClient = Static<typeof IssuedClientView>;
/** A JWT API key as listed: the record of an issued token, never the token. */
export type TokenView = Static<typeof TokenViewSchema>;
export type IssuedToken = Static<typeof IssuedTokenView>;
export type SigningKey = Static<typeof SigningKeyView>;
export type Hs256Secret = Static<typeof Hs256SecretView>;
export type Hs256SecretCreated = Static<typeof Hs256SecretCreatedView>;
/** Tokens issued at or before this instant are revoked. */
export type NotBefore = Static<typeof NotBeforeView>;
/** RFC 6749 §5.1, as the token endpoint answers. */
export type TokenResponse = Static<typeof TokenResponseSchema>;
