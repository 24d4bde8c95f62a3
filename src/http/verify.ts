import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';
import { ALLOWED } from '../domain/usage.js';
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
    async (request, reply) => {
      const principal = request.principal!;
      const tenant = principal.kind === 'root' && principal.tenant !== null ? principal.tenant : undefined;
      const result = await keygate.verify(request.body, { ...(tenant ? { tenant } : {}), requestId: request.id });
      recordUsage(keygate, result, { tenant: result.tenant ?? tenant ?? null, api: result.api ?? request.body.api, latencyMs: reply.elapsedTime, log: request.log });
      return result;
    },
  );
};

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
): void {
  if (about.tenant === null) return;
  const at = keygate.clock();
  const tenant = keygate.directory.tenantIfCached(about.tenant);
  const api = tenant ? keygate.directory.apiIfCached(tenant.id, about.api) : undefined;
  if (tenant && api) return keygate.analytics.record(verifyEvent(result, tenant.id, api.id, about.latencyMs, at));
  if (tenant === null || api === null) return;
  void (async () => {
    const found = tenant ?? (await keygate.directory.tenant(about.tenant!));
    const foundApi = found === null ? null : await keygate.directory.api(found.id, about.api);
    if (found !== null && foundApi !== null) keygate.analytics.record(verifyEvent(result, found.id, foundApi.id, about.latencyMs, at));
  })().catch((err: unknown) => about.log.warn({ err }, 'a verify call could not be counted in usage analytics'));
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
