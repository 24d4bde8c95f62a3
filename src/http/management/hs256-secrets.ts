import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { ERROR_RESPONSES, TenantParams } from '../schemas.js';

export const Hs256SecretView = Type.Object({ kid: Type.String(), createdAt: Type.String(), revokedAt: Type.Union([Type.String(), Type.Null()]) });

export const Hs256SecretCreatedView = Type.Object({ kid: Type.String(), secret: Type.String() });

export const hs256SecretRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['tokens'];

  app.post(
    '/v1/tenants/:slug/hs256-secrets',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: {
        tags,
        summary: 'A secret for minting HS256 tokens yourself (shown only in this response)',
        description: 'Sign with header `{"alg":"HS256","kid":"<kid>"}`, `iss` = the tenant issuer, `aud` = an API identifier, an `iat` and an `exp` at most the tenant\'s `hs256MaxLifetime` after it.',
        params: TenantParams,
        response: { 201: Hs256SecretCreatedView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return reply.code(201).send(await keygate.hs256Secrets.create(actorOf(request), tenant));
    },
  );

  app.get(
    '/v1/tenants/:slug/hs256-secrets',
    { onRequest: requireScope(keygate, 'tokens:read'), schema: { tags, summary: 'List HS256 secrets (never the secret)', params: TenantParams, response: { 200: Type.Object({ items: Type.Array(Hs256SecretView) }), ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const items = (await keygate.hs256Secrets.list(tenant)).map((s) => ({
        kid: s.kid,
        createdAt: new Date(s.createdAt).toISOString(),
        revokedAt: s.revokedAt === null ? null : new Date(s.revokedAt).toISOString(),
      }));
      return { items };
    },
  );

  app.post(
    '/v1/tenants/:slug/hs256-secrets/:kid/revoke',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: { tags, summary: 'Revoke an HS256 secret: tokens signed with it stop verifying', params: Type.Object({ slug: Type.String({ maxLength: 64 }), kid: Type.String({ maxLength: 64 }) }), response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.hs256Secrets.revoke(actorOf(request), tenant, request.params.kid);
      return reply.code(204).send(null);
    },
  );
};
