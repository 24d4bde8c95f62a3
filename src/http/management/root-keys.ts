import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isoOrNull } from '../../domain/clock.js';
import type { ApiKey } from '../../domain/keys/key.js';
import type { RootKeyReach } from '../../domain/management.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { AuditEventView, ERROR_RESPONSES, NullableTimestamp, PageQuery, Problem, ScopeName, Timestamp, pageOf } from '../schemas.js';
import { AuditQuery, auditFilterOf } from './audit.js';
import { eventView } from './views.js';

const tags = ['root keys'];

/** A root key as the management API shows it: never its secret, nor the hash of it. */
export const RootKeyView = Type.Object({
  id: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  start: Type.String({ description: 'The first characters of the secret, to recognise it.' }),
  scopes: Type.Array(Type.String()),
  tenant: Type.Union([Type.String(), Type.Null()], { description: 'The one tenant the key may act on; null for all tenants.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  revokedAt: NullableTimestamp,
  lastUsedAt: NullableTimestamp,
});

export const IssuedRootKeyView = Type.Intersect([
  RootKeyView,
  Type.Object({ key: Type.String({ description: 'The secret. Shown only in this response.' }) }),
]);

const RootKeyParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

function rootKeyView(key: ApiKey) {
  return {
    id: key.id,
    name: key.name,
    start: key.start,
    scopes: key.scopes,
    tenant: key.consumer,
    createdAt: new Date(key.createdAt).toISOString(),
    updatedAt: new Date(key.updatedAt).toISOString(),
    revokedAt: isoOrNull(key.revokedAt),
    lastUsedAt: isoOrNull(key.lastUsedAt),
  };
}

/** The calling root key's reach; `requireScope` without `allowKeyHolder` admits only root keys. */
function callerOf(request: FastifyRequest): RootKeyReach {
  const principal = request.principal!;
  if (principal.kind !== 'root') throw new Error('unreachable: requireScope admits only root keys here');
  return principal;
}

/**
 * `/v1/root-keys`: the only way to manage root keys. Every route reaches only the root keys the
 * caller could have created (`rootKeyOverreach`); any other answers 404, as if it did not exist.
 */
export const rootKeyRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.post(
    '/v1/root-keys',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: {
        tags,
        summary: 'Create a management key with some of your scopes, optionally for one tenant',
        body: Type.Object(
          {
            scopes: Type.Array(ScopeName, { minItems: 1, maxItems: 32 }),
            tenant: Type.Optional(Type.String({ maxLength: 64 })),
            name: Type.Optional(Type.String({ maxLength: 200 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: IssuedRootKeyView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const issued = await keygate.rootKeys.create(actorOf(request), callerOf(request), request.body);
      return reply.code(201).send({ ...rootKeyView(issued.key), key: issued.secret });
    },
  );

  app.get(
    '/v1/root-keys',
    {
      onRequest: requireScope(keygate, 'root_keys:read'),
      schema: {
        tags,
        summary: 'List the root keys you could have created (never their secrets)',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(RootKeyView), ...ERROR_RESPONSES },
      },
    },
    async (request) => pageResponse(await keygate.rootKeys.list(callerOf(request), pageRequest(request.query)), rootKeyView),
  );

  app.get(
    '/v1/root-keys/audit',
    {
      onRequest: requireScope(keygate, 'audit:read'),
      schema: {
        tags,
        summary: 'Audit events of root keys, newest first (for a root key with every scope, for all tenants)',
        description: 'The same filters and aggregation as a tenant\'s audit log; see docs/audit.md.',
        querystring: AuditQuery,
        response: { 200: pageOf(AuditEventView), ...ERROR_RESPONSES },
      },
    },
    async (request) => pageResponse(await keygate.rootKeys.auditLog(callerOf(request), auditFilterOf(request.query), pageRequest(request.query)), eventView),
  );

  app.get(
    '/v1/root-keys/:id',
    {
      onRequest: requireScope(keygate, 'root_keys:read'),
      schema: { tags, summary: 'Get a root key (never its secret)', params: RootKeyParams, response: { 200: RootKeyView, ...ERROR_RESPONSES } },
    },
    async (request) => rootKeyView(await keygate.rootKeys.get(callerOf(request), request.params.id)),
  );

  app.post(
    '/v1/root-keys/:id/revoke',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: { tags, summary: 'Revoke a root key: it answers 401 from now on', params: RootKeyParams, response: { 200: RootKeyView, ...ERROR_RESPONSES } },
    },
    async (request) => rootKeyView(await keygate.rootKeys.revoke(actorOf(request), callerOf(request), request.params.id)),
  );

  app.delete(
    '/v1/root-keys/:id',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: { tags, summary: 'Delete a root key for good', params: RootKeyParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      await keygate.rootKeys.delete(actorOf(request), callerOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/root-keys/:id/roll',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      // No body at all means the defaults: rolling a leaked root key should be one bare POST.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: 'Issue a new secret for the root key; the old one works for the grace period (default 0)',
        params: RootKeyParams,
        body: Type.Object({ gracePeriodMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 31_536_000_000 })) }, { additionalProperties: false }),
        response: { 200: IssuedRootKeyView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const issued = await keygate.rootKeys.roll(actorOf(request), callerOf(request), request.params.id, request.body.gracePeriodMs ?? 0);
      return { ...rootKeyView(issued.key), key: issued.secret };
    },
  );
};
