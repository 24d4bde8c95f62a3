import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { VERIFICATION_CODES, type VerificationCode } from '../domain/verification.js';
import type { Keygate } from '../services/keygate.js';
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
    async (request) => {
      const principal = request.principal!;
      const tenant = principal.kind === 'root' && principal.tenant !== null ? principal.tenant : undefined;
      return keygate.verify(request.body, { ...(tenant ? { tenant } : {}), requestId: request.id });
    },
  );
};
