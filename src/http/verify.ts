import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { ALLOWED, type UsageSeriesKey } from '../domain/usage.js';
import { VERIFICATION_CODES, type VerificationCode, type VerificationResult } from '../domain/verification.js';
import type { Keygate } from '../services/keygate.js';
import type { UsageEvent } from '../services/usage-analytics.js';
import { requireScope } from './auth.js';
import { ERROR_RESPONSES, Meta, ScopeName } from './schemas.js';

const VerifyBody = Type.Object(
  {
    // Any string up to 16 KiB is accepted and answered with a result: garbage is MALFORMED, not a 400.
    credential: Type.String({ maxLength: 16_384 }),
    api: Type.String({ minLength: 1, maxLength: 512, description: 'The API identifier (audience) the credential was presented to.' }),
    scopes: Type.Optional(Type.Array(ScopeName, { maxItems: 100 })),
    match: Type.Optional(Type.Union([Type.Literal('all'), Type.Literal('any')])),
    cost: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
    ip: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

export const VerificationResultSchema = Type.Object({
  valid: Type.Boolean(),
  code: Type.Unsafe<VerificationCode>({ type: 'string', enum: [...VERIFICATION_CODES] }),
  keyId: Nullable(Type.String()),
  tenant: Nullable(Type.String()),
  api: Nullable(Type.String()),
  consumer: Nullable(Type.String()),
  scopes: Type.Array(Type.String()),
  meta: Meta,
  expiresAt: Nullable(Type.String()),
  ratelimits: Type.Array(Type.Object({ name: Type.String(), limit: Type.Integer(), remaining: Type.Integer(), reset: Type.String() })),
  credits: Nullable(Type.Object({ remaining: Type.Integer() })),
});

export const verifyRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const duration = keygate.metrics.verifyDuration;
  app.post(
    '/v1/verify',
    {
      onRequest: requireScope(keygate, 'keys:verify'),
      // Refusals (401, 403, 400) are timed too: they are answers the caller waited for.
      onResponse: (_request, reply, done) => {
        duration.observe(reply.elapsedTime / 1000);
        done();
      },
      schema: {
        tags: ['verify'],
        summary: 'Verify a credential against an API and required scopes',
        description: 'Always 200 for any credential content; `valid` and `code` say what was found.',
        body: VerifyBody,
        response: { 200: VerificationResultSchema, ...ERROR_RESPONSES },
      },
    },
    // Not an async handler: a cached key's answer is sent at once, without a promise (verifyNow).
    (request, reply) => {
      const principal = request.principal!;
      const tenant = principal.kind === 'root' && principal.tenant !== null ? principal.tenant : undefined;
      const found = keygate.verifyNow(request.body, tenant === undefined ? { requestId: request.id } : { tenant, requestId: request.id });
      if (found instanceof Promise) return found.then((result) => answer(keygate, request, reply, result, tenant));
      return answer(keygate, request, reply, found, tenant);
    },
  );
};

/**
 * Counts the call in usage analytics and answers it. A frozen result is a cached key's
 * unchanging VALID answer (VerifyService): its usage series and its JSON are worked out once,
 * and sent as they are (undefined: the reply is sent).
 */
function answer(
  keygate: Keygate,
  request: { body: { api: string }; log: FastifyBaseLogger },
  reply: FastifyReply,
  result: VerificationResult,
  tenant: string | undefined,
): VerificationResult | undefined {
  const shared = Object.isFrozen(result) ? answers.get(result) : undefined;
  if (shared !== undefined) {
    keygate.analytics.count(shared.series, null, reply.elapsedTime, keygate.clock());
    reply.type(JSON_TYPE).send(shared.json);
    return undefined;
  }
  const series = recordUsage(keygate, result, { tenant: result.tenant ?? tenant ?? null, api: result.api ?? request.body.api, latencyMs: reply.elapsedTime, log: request.log });
  if (series !== undefined && Object.isFrozen(result)) answers.set(result, { series, json: reply.serialize(result) as string });
  return result;
}

/** Fastify's own content type for a serialized object, sent with a JSON string we serialized. */
const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * What was worked out for a shared (frozen) result: the usage series it counts under and its
 * response body as the route's schema serializes it. Weak: an entry goes with its result, which
 * goes when the key cache drops the key (so a changed key, tenant or API is never answered from here).
 */
const answers = new WeakMap<VerificationResult, { series: UsageSeriesKey; json: string }>();

/**
 * Counts a verify call in usage analytics under the tenant and API it was about: the key's, or,
 * for a credential that matched nothing, the API asked about in the tenant the root key is limited
 * to. A call that names no tenant (a global root key and an unknown credential) belongs to no
 * tenant's usage and is not counted. Slugs and identifiers become ids through the directory cache:
 * at once when cached, else after the answer, never delaying it.
 */
function recordUsage(
  keygate: Keygate,
  result: VerificationResult,
  about: { tenant: string | null; api: string; latencyMs: number; log: FastifyBaseLogger },
): UsageSeriesKey | undefined {
  if (about.tenant === null) return undefined;
  const at = keygate.clock();
  const tenant = keygate.directory.tenantIfCached(about.tenant);
  const api = tenant ? keygate.directory.apiIfCached(tenant.id, about.api) : undefined;
  if (tenant && api) {
    const event = verifyEvent(result, tenant.id, api.id, about.latencyMs, at);
    keygate.analytics.record(event);
    return event;
  }
  if (tenant === null || api === null) return undefined;
  void (async () => {
    const found = tenant ?? (await keygate.directory.tenant(about.tenant!));
    const foundApi = found === null ? null : await keygate.directory.api(found.id, about.api);
    if (found !== null && foundApi !== null) keygate.analytics.record(verifyEvent(result, found.id, foundApi.id, about.latencyMs, at));
  })().catch((err: unknown) => about.log.warn({ err }, 'a verify call could not be counted in usage analytics'));
  return undefined;
}

function verifyEvent(result: VerificationResult, tenantId: string, apiId: string, latencyMs: number, at: number): UsageEvent {
  return {
    tenantId,
    apiId,
    keyId: result.keyId,
    consumer: result.consumer,
    operation: null,
    outcome: result.valid ? ALLOWED : result.code,
    upstreamStatus: null,
    latencyMs,
    at,
  };
}
