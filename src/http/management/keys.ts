import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { KeygateError } from '../../domain/errors.js';
import type { ApiKey } from '../../domain/keys/key.js';
import type { KeySettings } from '../../services/keys-service.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import {
  Cidr,
  CreditsInput,
  ERROR_RESPONSES,
  IssuedKeyView,
  KeyParams,
  KeyView,
  Meta,
  NullableTimestamp,
  PageQuery,
  Problem,
  Ratelimit,
  ScopeName,
  TenantParams,
  pageOf,
} from '../schemas.js';
import { keyView } from './views.js';

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);

/** The settings a key can be created with and updated with. */
const settings = {
  name: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
  consumer: Type.Optional(nullable(Type.String({ minLength: 1, maxLength: 256, description: 'Who owns the key, e.g. a customer account id.' }))),
  expiresAt: Type.Optional(NullableTimestamp),
  meta: Type.Optional(Meta),
  ratelimits: Type.Optional(Type.Array(Ratelimit, { maxItems: 16 })),
  credits: Type.Optional(nullable(CreditsInput)),
  ipAllowlist: Type.Optional(nullable(Type.Array(Cidr, { maxItems: 256 }))),
};

const CreateKeyBody = Type.Object(
  {
    api: Type.String({ minLength: 1, maxLength: 512, description: 'The API identifier the key is for.' }),
    scopes: Type.Array(ScopeName, { maxItems: 1000 }),
    enabled: Type.Optional(Type.Boolean()),
    ...settings,
  },
  { additionalProperties: false },
);

const UpdateKeyBody = Type.Object(
  { scopes: Type.Optional(Type.Array(ScopeName, { maxItems: 1000 })), enabled: Type.Optional(Type.Boolean()), ...settings },
  { additionalProperties: false, minProperties: 1 },
);

const SubkeyBody = Type.Object(
  {
    scopes: Type.Array(ScopeName, { maxItems: 1000 }),
    expiresAt: Type.Optional(NullableTimestamp),
    name: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
    meta: Type.Optional(Meta),
  },
  { additionalProperties: false },
);

const ms = (iso: string | null | undefined): number | null | undefined =>
  iso === undefined ? undefined : iso === null ? null : Date.parse(iso);

function toSettings(body: { expiresAt?: string | null } & Omit<KeySettings, 'expiresAt'>): KeySettings {
  const { expiresAt, ...rest } = body;
  return { ...rest, ...(expiresAt !== undefined ? { expiresAt: ms(expiresAt) } : {}) };
}

export const keyRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['keys'];

  app.post(
    '/v1/tenants/:slug/keys',
    {
      onRequest: requireScope(keygate, 'keys:write'),
      schema: { tags, summary: 'Create an API key (the secret is in this response only)', params: TenantParams, body: CreateKeyBody, response: { 201: IssuedKeyView, ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { api, scopes } = request.body;
      const issued = await keygate.keys.create(actorOf(request), tenant, { ...toSettings(request.body), api, scopes });
      return reply.code(201).send({ ...keyView(issued.key, issued.api, tenant.slug), key: issued.secret });
    },
  );

  app.get(
    '/v1/tenants/:slug/keys',
    {
      onRequest: requireScope(keygate, 'keys:read'),
      schema: {
        tags,
        summary: 'List keys, optionally of one API or consumer, by the first characters or by name',
        params: TenantParams,
        querystring: Type.Object(
          {
            api: Type.Optional(Type.String({ maxLength: 512 })),
            consumer: Type.Optional(Type.String({ maxLength: 256 })),
            // At most a start's length (a 16-character prefix, `_`, 4 characters): never room for a secret in a URL.
            start: Type.Optional(Type.String({ maxLength: 21, description: 'Keys whose `start` begins with this (case-sensitive), e.g. `kg_QmG`.' })),
            name: Type.Optional(Type.String({ maxLength: 200, description: 'Keys whose name contains this, in any case.' })),
            ...PageQuery,
          },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(KeyView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { api, consumer, start, name } = request.query;
      const filter = { ...(api ? { api } : {}), ...(consumer ? { consumer } : {}), ...(start ? { start } : {}), ...(name ? { name } : {}) };
      const page = await keygate.keys.list(tenant, filter, pageRequest(request.query));
      return pageResponse(page, ({ key, api: keyApi }) => keyView(key, keyApi, tenant.slug));
    },
  );

  app.get(
    '/v1/tenants/:slug/keys/:id',
    { onRequest: requireScope(keygate, 'keys:read'), schema: { tags, summary: 'Get a key', params: KeyParams, response: { 200: KeyView, ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { key, api } = await keygate.keys.get(tenant, request.params.id);
      return keyView(key, api, tenant.slug);
    },
  );

  app.get(
    '/v1/tenants/:slug/keys/:id/tree',
    {
      onRequest: requireScope(keygate, 'keys:read'),
      schema: {
        tags,
        summary: 'Get a key with its ancestors (parent first) and all its descendants (what revoking it revokes)',
        params: KeyParams,
        response: { 200: Type.Object({ ancestors: Type.Array(KeyView), key: KeyView, descendants: Type.Array(KeyView) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { ancestors, key, descendants, api } = await keygate.keys.tree(tenant, request.params.id);
      const view = (k: ApiKey) => keyView(k, api, tenant.slug);
      return { ancestors: ancestors.map(view), key: view(key), descendants: descendants.map(view) };
    },
  );

  app.patch(
    '/v1/tenants/:slug/keys/:id',
    {
      onRequest: requireScope(keygate, 'keys:write'),
      schema: { tags, summary: 'Update a key (effective on the next verify)', params: KeyParams, body: UpdateKeyBody, response: { 200: KeyView, 409: Problem, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { key, api } = await keygate.keys.update(actorOf(request), tenant, request.params.id, toSettings(request.body));
      return keyView(key, api, tenant.slug);
    },
  );

  app.post(
    '/v1/tenants/:slug/keys/:id/revoke',
    {
      onRequest: requireScope(keygate, 'keys:write'),
      schema: { tags, summary: 'Revoke a key and all its sub-keys', params: KeyParams, response: { 200: Type.Object({ revoked: Type.Array(Type.String()) }), ...ERROR_RESPONSES } },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return { revoked: await keygate.keys.revoke(actorOf(request), tenant, request.params.id) };
    },
  );

  app.delete(
    '/v1/tenants/:slug/keys/:id',
    {
      onRequest: requireScope(keygate, 'keys:write'),
      schema: { tags, summary: 'Delete a key and its sub-keys for good', params: KeyParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.keys.delete(actorOf(request), tenant, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/tenants/:slug/keys/:id/roll',
    {
      onRequest: requireScope(keygate, 'keys:write'),
      schema: {
        tags,
        summary: 'Issue a new secret for the key; the old one works for the grace period',
        params: KeyParams,
        body: Type.Object({ gracePeriodMs: Type.Integer({ minimum: 0, maximum: 31_536_000_000 }) }, { additionalProperties: false }),
        response: { 200: IssuedKeyView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const issued = await keygate.keys.roll(actorOf(request), tenant, request.params.id, request.body.gracePeriodMs);
      return { ...keyView(issued.key, issued.api, tenant.slug), key: issued.secret };
    },
  );

  app.post(
    '/v1/tenants/:slug/keys/:id/subkeys',
    {
      onRequest: requireScope(keygate, 'keys:write', { allowKeyHolder: true }),
      schema: {
        tags,
        summary: 'Create a sub-key with at most the parent\'s scopes and lifetime',
        description: 'Authenticate with a root key holding `keys:write`, or with the parent key itself.',
        params: KeyParams,
        body: SubkeyBody,
        response: { 201: IssuedKeyView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      if (principal.kind === 'key' && principal.keyId !== request.params.id) {
        throw new KeygateError('FORBIDDEN', 'an API key may only create sub-keys of itself');
      }
      const tenant = await keygate.tenants.get(request.params.slug);
      const { expiresAt, ...rest } = request.body;
      const issued = await keygate.keys.createSubkey(actorOf(request), tenant, request.params.id, {
        ...rest,
        ...(expiresAt !== undefined ? { expiresAt: ms(expiresAt) } : {}),
      });
      return reply.code(201).send({ ...keyView(issued.key, issued.api, tenant.slug), key: issued.secret });
    },
  );
};
