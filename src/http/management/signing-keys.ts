import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { StoredSigningKey } from '../../store/store.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { ERROR_RESPONSES, TenantParams } from '../schemas.js';

export const SigningKeyView = Type.Object({
  kid: Type.String(),
  alg: Type.String(),
  state: Type.Union([Type.Literal('next'), Type.Literal('current'), Type.Literal('retired')], { description: '`next` (published, not signing yet), `current` or `retired` (published until its tokens expire).' }),
  createdAt: Type.String({ description: 'When the key was made (and published).' }),
  activatesAt: Type.String(),
  retiredAt: Type.Union([Type.String(), Type.Null()]),
  publishUntil: Type.Union([Type.String(), Type.Null()]),
  publicJwk: Type.Record(Type.String(), Type.Unknown()),
});

function view(key: StoredSigningKey, now: number): Static<typeof SigningKeyView> {
  const state = key.activatesAt > now ? 'next' : key.retiredAt !== null && key.retiredAt <= now ? 'retired' : 'current';
  return {
    kid: key.kid,
    alg: key.alg,
    state,
    createdAt: new Date(key.createdAt).toISOString(),
    activatesAt: new Date(key.activatesAt).toISOString(),
    retiredAt: key.retiredAt === null ? null : new Date(key.retiredAt).toISOString(),
    publishUntil: key.publishUntil === null ? null : new Date(key.publishUntil).toISOString(),
    publicJwk: key.publicJwk,
  };
}

export const signingKeyRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['signing keys'];

  app.get(
    '/v1/tenants/:slug/signing-keys',
    { onRequest: requireScope(keygate, 'tokens:read'), schema: { tags, summary: 'The published signing keys and their state', params: TenantParams, response: { 200: Type.Object({ items: Type.Array(SigningKeyView) }), ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const now = keygate.clock();
      return { items: (await keygate.signingKeys.list(tenant)).map((k) => view(k, now)) };
    },
  );

  app.post(
    '/v1/tenants/:slug/signing-keys/rotate',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: {
        tags,
        summary: 'Publish a new signing key now; it signs after activateAfterSeconds (default 300, the JWKS max-age)',
        params: TenantParams,
        body: Type.Optional(
          Type.Object(
            {
              activateAfterSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 2_592_000 })),
              alg: Type.Optional(Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256'), Type.Literal('RS256')])),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 201: SigningKeyView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const key = await keygate.signingKeys.rotate(actorOf(request), tenant, request.body ?? {});
      return reply.code(201).send(view(key, keygate.clock()));
    },
  );
};
