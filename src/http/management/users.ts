import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { KeygateError } from '../../domain/errors.js';
import type { User } from '../../domain/people.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, Hs256MaxLifetime, PageQuery, Problem, TenantParams, TenantView, pageOf } from '../schemas.js';
import { tenantView } from './views.js';

const UserView = Type.Object({ id: Type.String(), email: Type.String(), name: Type.Union([Type.String(), Type.Null()]), createdAt: Type.String() });
const UserParams = Type.Object({ slug: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 64 }) });
const GrantView = Type.Object({ id: Type.String(), clientId: Type.String(), scopes: Type.Array(Type.String()), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) });

const userView = (user: User) => ({ id: user.id, email: user.email, name: user.name, createdAt: new Date(user.createdAt).toISOString() });

export const userRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['users'];

  app.patch(
    '/v1/tenants/:slug',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags: ['tenants'],
        summary: 'Change a tenant: name, self sign-up, HS256 token lifetime cap (that one needs tenants:write too)',
        params: TenantParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            selfSignup: Type.Optional(Type.Boolean()),
            hs256MaxLifetime: Type.Optional(Hs256MaxLifetime),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: TenantView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const principal = request.principal!;
      // The cap bounds what stolen HS256 secrets can mint: raising it is a tenant setting, not a people one.
      if (request.body.hs256MaxLifetime !== undefined && principal.kind === 'root' && !principal.scopes.has('tenants:write')) {
        throw new KeygateError('FORBIDDEN', 'changing hs256MaxLifetime needs the "tenants:write" scope');
      }
      const tenant = await keygate.tenants.get(request.params.slug);
      return tenantView(await keygate.tenants.update(actorOf(request), tenant, request.body), keygate.publicUrl);
    },
  );

  app.post(
    '/v1/tenants/:slug/users',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags,
        summary: 'Create a user who signs in with email and password',
        params: TenantParams,
        body: Type.Object(
          { email: Type.String({ minLength: 3, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }), name: Type.Optional(Type.String({ maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 201: UserView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return reply.code(201).send(userView(await keygate.users.create(actorOf(request), tenant, request.body)));
    },
  );

  app.get(
    '/v1/tenants/:slug/users',
    { onRequest: requireScope(keygate, 'users:read'), schema: { tags, summary: 'List users', params: TenantParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(UserView), ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return pageResponse(await keygate.users.list(tenant, pageRequest(request.query)), userView);
    },
  );

  app.get(
    '/v1/tenants/:slug/users/:id',
    { onRequest: requireScope(keygate, 'users:read'), schema: { tags, summary: 'Get a user', params: UserParams, response: { 200: UserView, ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return userView(await keygate.users.get(tenant, request.params.id));
    },
  );

  app.get(
    '/v1/tenants/:slug/users/:id/grants',
    {
      onRequest: requireScope(keygate, 'users:read'),
      schema: { tags, summary: 'The apps a user authorised (connected apps)', params: UserParams, querystring: Type.Object(PageQuery, { additionalProperties: false }), response: { 200: pageOf(GrantView), ...ERROR_RESPONSES } },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const user = await keygate.users.get(tenant, request.params.id);
      return pageResponse(await keygate.delegation.grantsOf(tenant, user.id, pageRequest(request.query)), (grant) => ({
        id: grant.id,
        clientId: grant.clientId,
        scopes: grant.scopes,
        createdAt: new Date(grant.createdAt).toISOString(),
        lastUsedAt: grant.lastUsedAt === null ? null : new Date(grant.lastUsedAt).toISOString(),
      }));
    },
  );

  app.delete(
    '/v1/tenants/:slug/users/:id/grants/:grantId',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags,
        summary: 'Revoke an app: its refresh tokens and access tokens die',
        params: Type.Object({ slug: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 64 }), grantId: Type.String({ maxLength: 64 }) }),
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      if (!(await keygate.delegation.revokeGrantOf(actorOf(request), tenant, request.params.id, request.params.grantId))) {
        throw new KeygateError('GRANT_NOT_FOUND', `user "${request.params.id}" has no live grant "${request.params.grantId}"`);
      }
      return reply.code(204).send(null);
    },
  );
};
