import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { KeygateError } from '../../domain/errors.js';
import { isoOrNull } from '../../domain/clock.js';
import type { User } from '../../domain/people.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, PageQuery, Problem, TenantParams, pageOf } from '../schemas.js';

export const UserView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  disabled: Type.Boolean(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
});
const UserParams = Type.Object({ slug: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 64 }) });
const GrantView = Type.Object({ id: Type.String(), clientId: Type.String(), scopes: Type.Array(Type.String()), createdAt: Type.String(), lastUsedAt: Type.Union([Type.String(), Type.Null()]) });

const userView = (user: User) => ({
  id: user.id,
  email: user.email,
  name: user.name,
  disabled: user.disabledAt !== null,
  disabledAt: isoOrNull(user.disabledAt),
  createdAt: new Date(user.createdAt).toISOString(),
});

export const userRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['users'];

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
    {
      onRequest: requireScope(keygate, 'users:read'),
      schema: {
        tags,
        summary: 'List users, optionally those whose email or name contains a text',
        params: TenantParams,
        querystring: Type.Object({ search: Type.Optional(Type.String({ maxLength: 200, description: 'A part of the email or name, any case.' })), ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(UserView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { search } = request.query;
      return pageResponse(await keygate.users.list(tenant, pageRequest(request.query), search ? { search } : {}), userView);
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

  app.patch(
    '/v1/tenants/:slug/users/:id',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags,
        summary: 'Change a user: name, email, disabled (disabling ends their sessions, refresh tokens and the access tokens of their grants)',
        params: UserParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
            email: Type.Optional(Type.String({ minLength: 3, maxLength: 320 })),
            disabled: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: UserView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return userView(await keygate.users.update(actorOf(request), tenant, request.params.id, request.body));
    },
  );

  app.delete(
    '/v1/tenants/:slug/users/:id',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags,
        summary: 'Delete a user: sessions end, grants and their refresh tokens go, the access tokens of those grants die',
        params: UserParams,
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.users.delete(actorOf(request), tenant, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tenants/:slug/users/:id/password-reset',
    {
      onRequest: requireScope(keygate, 'users:write'),
      schema: {
        tags,
        summary: 'Send the user a password-reset link now, through the configured delivery (SMTP or webhook)',
        params: UserParams,
        response: { 202: Type.Object({ sent: Type.Literal(true), expiresAt: Type.String() }), 409: Problem, 502: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { expiresAt } = await keygate.users.sendPasswordReset(actorOf(request), tenant, request.params.id);
      return reply.code(202).send({ sent: true as const, expiresAt: new Date(expiresAt).toISOString() });
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
