import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Api } from '../../domain/apis.js';
import { CONSUMER_ID_PATTERN, CONSUMER_ID_RULE } from '../../domain/consumers.js';
import type { ApiKey } from '../../domain/keys/key.js';
import type { ConsumerDetails, GrantInput } from '../../services/consumers-service.js';
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
  NullableTimestamp,
  PageQuery,
  Problem,
  Ratelimit,
  Refill,
  ScopeName,
  TenantParams,
  Timestamp,
  pageOf,
} from '../schemas.js';
import { keyView } from './views.js';

const CONSUMER_ID = new RegExp(CONSUMER_ID_PATTERN);

const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()]);
const isoOrNull = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
const ms = (iso: string | null | undefined): number | null | undefined => (iso === undefined ? undefined : iso === null ? null : Date.parse(iso));

export const GrantBody = Type.Object(
  {
    api: Type.String({ minLength: 1, maxLength: 512, description: 'The API identifier (or id) the grant is on.' }),
    scopes: Type.Array(ScopeName, { maxItems: 1000, description: "The most the consumer's keys may hold: a subset of the API's catalog." }),
    maxKeys: Type.Optional(nullable(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'Most unrevoked keys the consumer may hold on the API; null: no cap of its own.' }))),
    ratelimits: Type.Optional(Type.Array(Ratelimit, { maxItems: 16, description: "Shared by every key of the consumer on the API." })),
    credits: Type.Optional(nullable(CreditsInput)),
    expiresAt: Type.Optional(NullableTimestamp),
  },
  { additionalProperties: false, description: 'On update, an omitted maxKeys, ratelimits, credits or expiresAt stays as it is.' },
);

const Members = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000, description: 'User ids of the same tenant.' });
const Grants = Type.Array(GrantBody, { maxItems: 100 });
const Name = Type.String({ minLength: 1, maxLength: 200 });

const ConsumerId = Type.String({
  pattern: CONSUMER_ID_PATTERN,
  description: `Your own id for the consumer, e.g. your customer id; unique in the tenant (another tenant may use the same one): ${CONSUMER_ID_RULE}. Omitted: a generated con_… id.`,
  examples: ['cus_42', 'initech'],
});

const CreateConsumerBody = Type.Object({ id: Type.Optional(ConsumerId), name: Name, members: Type.Optional(Members), grants: Type.Optional(Grants) }, { additionalProperties: false });

const UpdateConsumerBody = Type.Object(
  {
    name: Type.Optional(Name),
    members: Type.Optional(Members),
    grants: Type.Optional(Type.Array(GrantBody, { maxItems: 100, description: 'The whole list: a grant left out is removed and its keys revoked.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

const ConsumerKeyBody = Type.Object(
  {
    api: Type.String({ minLength: 1, maxLength: 512, description: 'The API of one of the consumer\'s grants.' }),
    member: Type.String({ minLength: 1, maxLength: 64, description: 'The member (user id) the key is made for.' }),
    name: Type.Optional(nullable(Type.String({ maxLength: 200 }))),
    scopes: Type.Array(ScopeName, { maxItems: 1000 }),
    expiresAt: Type.Optional(NullableTimestamp),
    ipAllowlist: Type.Optional(nullable(Type.Array(Cidr, { maxItems: 256 }))),
    ratelimits: Type.Optional(Type.Array(Ratelimit, { maxItems: 16 })),
    credits: Type.Optional(nullable(CreditsInput)),
  },
  { additionalProperties: false },
);

const GrantView = Type.Object({
  api: Type.String(),
  apiId: Type.String(),
  scopes: Type.Array(Type.String()),
  maxKeys: Type.Union([Type.Integer(), Type.Null()]),
  ratelimits: Type.Array(Ratelimit),
  credits: Type.Union([Type.Object({ remaining: Type.Integer(), refill: Type.Union([Refill, Type.Null()]) }), Type.Null()]),
  expiresAt: NullableTimestamp,
  grantKeyId: Type.String({ description: 'The hidden key holding the grant; the consumer\'s keys are its children.' }),
});

export const ConsumerView = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  name: Type.String(),
  members: Type.Array(Type.String()),
  grants: Type.Array(GrantView),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});

function grantView(api: Api, key: ApiKey, maxKeys: number | null) {
  return {
    api: api.identifier,
    apiId: api.id,
    scopes: key.scopes,
    maxKeys,
    ratelimits: key.ratelimits,
    credits: key.credits,
    expiresAt: isoOrNull(key.expiresAt),
    grantKeyId: key.id,
  };
}

function consumerView({ consumer, grants }: ConsumerDetails, tenantSlug: string) {
  return {
    id: consumer.id,
    tenant: tenantSlug,
    name: consumer.name,
    members: consumer.members,
    grants: grants.map((g) => grantView(g.api, g.key, g.maxKeys)),
    createdAt: new Date(consumer.createdAt).toISOString(),
    updatedAt: new Date(consumer.updatedAt).toISOString(),
  };
}

type GrantBodyType = { api: string; scopes: string[]; maxKeys?: number | null; ratelimits?: GrantInput['ratelimits']; credits?: GrantInput['credits']; expiresAt?: string | null };

function toGrantInput(grant: GrantBodyType): GrantInput {
  const { expiresAt, ...rest } = grant;
  return { ...rest, ...(expiresAt !== undefined ? { expiresAt: ms(expiresAt) } : {}) };
}

/** `POST/GET/PATCH/DELETE /v1/tenants/{slug}/consumers[/{id}]` and the consumer's keys (docs/consumers.md). */
export const consumerRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['consumers'];

  app.post(
    '/v1/tenants/:slug/consumers',
    {
      onRequest: requireScope(keygate, 'consumers:write'),
      schema: {
        tags,
        summary: 'Create a consumer with its members and grants, under a generated id or your own',
        params: TenantParams,
        body: CreateConsumerBody,
        response: { 201: ConsumerView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { grants, ...rest } = request.body;
      const created = await keygate.consumers.create(actorOf(request), tenant, { ...rest, ...(grants ? { grants: grants.map(toGrantInput) } : {}) });
      return reply.code(201).send(consumerView(created, tenant.slug));
    },
  );

  app.get(
    '/v1/tenants/:slug/consumers',
    {
      onRequest: requireScope(keygate, 'consumers:read'),
      schema: {
        tags,
        summary: 'List consumers, optionally those whose id or name contains a text',
        params: TenantParams,
        querystring: Type.Object(
          { search: Type.Optional(Type.String({ maxLength: 200, description: 'Consumers whose id or name contains this, in any case.' })), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(ConsumerView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { search } = request.query;
      // An owner's own ids (`cus_42`) are not generated ones: the cursor names either.
      const page = await keygate.consumers.list(tenant, pageRequest(request.query, { ids: CONSUMER_ID }), search ? { search } : {});
      return pageResponse(page, (c) => consumerView(c, tenant.slug));
    },
  );

  app.get(
    '/v1/tenants/:slug/consumers/:id',
    { onRequest: requireScope(keygate, 'consumers:read'), schema: { tags, summary: 'Get a consumer with its grants', params: KeyParams, response: { 200: ConsumerView, ...ERROR_RESPONSES } } },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return consumerView(await keygate.consumers.get(tenant, request.params.id), tenant.slug);
    },
  );

  app.patch(
    '/v1/tenants/:slug/consumers/:id',
    {
      onRequest: requireScope(keygate, 'consumers:write'),
      schema: {
        tags,
        summary: 'Change a consumer; narrowing or removing a grant narrows or revokes its keys at once',
        params: KeyParams,
        body: UpdateConsumerBody,
        response: { 200: ConsumerView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { grants, ...rest } = request.body;
      const updated = await keygate.consumers.update(actorOf(request), tenant, request.params.id, { ...rest, ...(grants ? { grants: grants.map(toGrantInput) } : {}) });
      return consumerView(updated, tenant.slug);
    },
  );

  app.delete(
    '/v1/tenants/:slug/consumers/:id',
    {
      onRequest: requireScope(keygate, 'consumers:write'),
      schema: { tags, summary: 'Delete a consumer and revoke every key under its grants', params: KeyParams, response: { 200: Type.Object({ revoked: Type.Array(Type.String()) }), ...ERROR_RESPONSES } },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return { revoked: await keygate.consumers.delete(actorOf(request), tenant, request.params.id) };
    },
  );

  app.post(
    '/v1/tenants/:slug/consumers/:id/keys',
    {
      // A secret is minted: the scope that mints every key, not the one that manages consumers.
      onRequest: requireScope(keygate, 'keys:write'),
      schema: {
        tags,
        summary: "Create a key for a member within the consumer's grant (the secret is in this response only)",
        params: KeyParams,
        body: ConsumerKeyBody,
        response: { 201: IssuedKeyView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { member, expiresAt, ...rest } = request.body;
      const issued = await keygate.consumers.createKey(actorOf(request), tenant, request.params.id, member, {
        ...rest,
        ...(expiresAt !== undefined ? { expiresAt: ms(expiresAt) } : {}),
      });
      return reply.code(201).send({ ...keyView(issued.key, issued.api, tenant.slug), key: issued.secret });
    },
  );

  app.get(
    '/v1/tenants/:slug/consumers/:id/keys',
    {
      onRequest: requireScope(keygate, 'consumers:read'),
      schema: {
        tags,
        summary: "List the keys under the consumer's grants (its members' keys and their sub-keys)",
        params: KeyParams,
        querystring: Type.Object({ ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(KeyView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const page = await keygate.consumers.listKeys(tenant, request.params.id, pageRequest(request.query));
      return pageResponse(page, ({ key, api }) => keyView(key, api, tenant.slug));
    },
  );
};

