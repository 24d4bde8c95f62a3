import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Client } from '../../domain/clients.js';
import { AUTH_METHOD_REGISTRY, GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS, type GrantType, type TokenEndpointAuthMethod } from '../../domain/oauth/registry.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, NotBeforeView, PageQuery, ScopeName, TenantParams, pageOf } from '../schemas.js';

const ClientParams = Type.Object({ slug: Type.String({ maxLength: 64 }), id: Type.String({ maxLength: 128 }) });
const GrantTypeSchema = Type.Unsafe<GrantType>({ type: 'string', enum: [...GRANT_TYPES] });
const AuthMethodSchema = Type.Unsafe<TokenEndpointAuthMethod>({
  type: 'string',
  enum: [...TOKEN_ENDPOINT_AUTH_METHODS],
  description: `How the client authenticates: ${TOKEN_ENDPOINT_AUTH_METHODS.map((method) => `${method} (${AUTH_METHOD_REGISTRY[method].spec})`).join('; ')}.`,
});
export const Jwks = Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.Unknown()), { minItems: 1, maxItems: 20 }) }, { additionalProperties: false });

const clientFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  grantTypes: Type.Array(GrantTypeSchema, { minItems: 1, maxItems: GRANT_TYPES.length }),
  scopes: Type.Record(Type.String({ maxLength: 512 }), Type.Array(ScopeName, { maxItems: 1000 }), { description: 'API identifier → the scopes the client may get for it.' }),
  tokenEndpointAuthMethod: AuthMethodSchema,
  jwks: Type.Union([Jwks, Type.Null()]),
  redirectUris: Type.Array(Type.String({ maxLength: 2048 }), { maxItems: 50 }),
  canIntrospect: Type.Boolean({ description: 'May introspect any token of the tenant, not only its own.' }),
};

export const ClientView = Type.Object({
  clientId: Type.String(),
  tenant: Type.String(),
  ...clientFields,
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

export const IssuedClientView = Type.Intersect([ClientView, Type.Object({ clientSecret: Type.Union([Type.String(), Type.Null()]) })]);

function view(client: Client, slug: string) {
  return {
    clientId: client.id,
    tenant: slug,
    name: client.name,
    grantTypes: client.grantTypes,
    scopes: client.scopes,
    tokenEndpointAuthMethod: client.tokenEndpointAuthMethod,
    jwks: client.jwks,
    redirectUris: client.redirectUris,
    canIntrospect: client.canIntrospect,
    createdAt: new Date(client.createdAt).toISOString(),
    updatedAt: new Date(client.updatedAt).toISOString(),
  };
}

export const clientRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['clients'];

  app.post(
    '/v1/tenants/:slug/clients',
    {
      onRequest: requireScope(keygate, 'clients:write'),
      schema: {
        tags,
        summary: 'Register an OAuth client (the secret is in this response only)',
        params: TenantParams,
        body: Type.Object(
          {
            name: clientFields.name,
            grantTypes: clientFields.grantTypes,
            scopes: clientFields.scopes,
            tokenEndpointAuthMethod: Type.Optional(clientFields.tokenEndpointAuthMethod),
            jwks: Type.Optional(clientFields.jwks),
            redirectUris: Type.Optional(clientFields.redirectUris),
            canIntrospect: Type.Optional(clientFields.canIntrospect),
          },
          { additionalProperties: false },
        ),
        response: { 201: IssuedClientView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { client, secret } = await keygate.clients.create(actorOf(request), tenant, request.body);
      return reply.code(201).send({ ...view(client, tenant.slug), clientSecret: secret });
    },
  );

  app.get(
    '/v1/tenants/:slug/clients',
    {
      onRequest: requireScope(keygate, 'clients:read'),
      schema: {
        tags,
        summary: 'List clients, optionally those whose name or client id contains a text',
        params: TenantParams,
        querystring: Type.Object({ search: Type.Optional(Type.String({ maxLength: 200, description: 'A part of the name or client id, any case.' })), ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(ClientView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { search } = request.query;
      return pageResponse(await keygate.clients.list(tenant, pageRequest(request.query), search ? { search } : {}), (c) => view(c, tenant.slug));
    },
  );

  app.get(
    '/v1/tenants/:slug/clients/:id',
    { onRequest: requireScope(keygate, 'clients:read'), schema: { tags, summary: 'Get a client', params: ClientParams, response: { 200: ClientView, ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return view(await keygate.clients.get(tenant, request.params.id), tenant.slug);
    },
  );

  app.patch(
    '/v1/tenants/:slug/clients/:id',
    {
      onRequest: requireScope(keygate, 'clients:write'),
      schema: {
        tags,
        summary: 'Update a client',
        params: ClientParams,
        body: Type.Object(
          {
            name: Type.Optional(clientFields.name),
            grantTypes: Type.Optional(clientFields.grantTypes),
            scopes: Type.Optional(clientFields.scopes),
            jwks: Type.Optional(clientFields.jwks),
            redirectUris: Type.Optional(clientFields.redirectUris),
            canIntrospect: Type.Optional(clientFields.canIntrospect),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ClientView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return view(await keygate.clients.update(actorOf(request), tenant, request.params.id, request.body), tenant.slug);
    },
  );

  app.delete(
    '/v1/tenants/:slug/clients/:id',
    { onRequest: requireScope(keygate, 'clients:write'), schema: { tags, summary: 'Delete a client and revoke every token it was issued', params: ClientParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } } },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.clients.delete(actorOf(request), tenant, request.params.id);
      // A deleted client's tokens must not outlive it.
      await keygate.revocations.cutOff(actorOf(request), tenant, 'client', request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tenants/:slug/clients/:id/secret',
    {
      onRequest: requireScope(keygate, 'clients:write'),
      schema: {
        tags,
        summary: 'Rotate the client secret; the old one works for the grace period',
        params: ClientParams,
        body: Type.Object({ gracePeriodMs: Type.Integer({ minimum: 0, maximum: 2_592_000_000 }) }, { additionalProperties: false }),
        response: { 200: IssuedClientView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { client, secret } = await keygate.clients.rotateSecret(actorOf(request), tenant, request.params.id, request.body.gracePeriodMs);
      return { ...view(client, tenant.slug), clientSecret: secret };
    },
  );

  app.post(
    '/v1/tenants/:slug/clients/:id/revoke-tokens',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: { tags, summary: 'Revoke every token the client was issued until now', params: ClientParams, response: { 200: NotBeforeView, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.clients.get(tenant, request.params.id);
      const { notBefore } = await keygate.revocations.cutOff(actorOf(request), tenant, 'client', request.params.id);
      return { notBefore: new Date(notBefore * 1000).toISOString() };
    },
  );
};
