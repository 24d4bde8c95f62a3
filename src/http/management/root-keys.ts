import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { ERROR_RESPONSES, ScopeName } from '../schemas.js';

export const rootKeyRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.post(
    '/v1/root-keys',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: {
        tags: ['root keys'],
        summary: 'Create a management key with some of your scopes, optionally for one tenant',
        body: Type.Object(
          {
            scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 32 }),
            tenant: Type.Optional(Type.String({ maxLength: 64 })),
            name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            key: Type.String({ description: 'The secret. Shown only in this response.' }),
            scopes: Type.Array(Type.String()),
            tenant: Type.Union([Type.String(), Type.Null()]),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      if (principal.kind !== 'root') throw new Error('unreachable: requireScope admits only root keys here');
      const created = await keygate.rootKeys.create(actorOf(request), principal.scopes, principal.tenant, request.body);
      return reply.code(201).send({ id: created.id, key: created.secret, scopes: created.scopes, tenant: created.tenant });
    },
  );
};
