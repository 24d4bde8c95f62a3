import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { isoOrNull } from '../../domain/clock.js';
import type { Operator, OperatorsCaller } from '../../domain/operators.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, PageQuery, Problem, ScopeName, Timestamp, pageOf } from '../schemas.js';

const tags = ['operators'];

/** An operator as the management API shows it: never a password, nor its hash. */
export const OperatorView = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.Union([Type.String(), Type.Null()]),
  scopes: Type.Array(Type.String()),
  tenant: Type.Union([Type.String(), Type.Null()], { description: 'The one tenant the operator may act on; null for all tenants.' }),
  disabled: Type.Boolean(),
  disabledAt: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
});

export const OperatorWithPasswordView = Type.Intersect([
  OperatorView,
  Type.Object({ password: Type.Optional(Type.String({ description: 'The generated password, when none was given. Shown only in this response.' })) }),
]);

const OperatorParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const Scopes = Type.Array(ScopeName, { minItems: 1, maxItems: 32 });

function operatorView(operator: Operator) {
  return {
    id: operator.id,
    email: operator.email,
    name: operator.name,
    scopes: operator.scopes,
    tenant: operator.tenant,
    disabled: operator.disabledAt !== null,
    disabledAt: isoOrNull(operator.disabledAt),
    createdAt: new Date(operator.createdAt).toISOString(),
  };
}

/** The caller's reach; `requireScope` without `allowKeyHolder` admits only root keys (and operators acting through the console). */
/** The caller's reach; an operator signed in to the console is named, for `operatorChangeRefusal`. */
function callerOf(request: FastifyRequest): OperatorsCaller {
  const principal = request.principal!;
  if (principal.kind !== 'root') throw new Error('unreachable: requireScope admits only root keys here');
  return principal.operator === true ? { scopes: principal.scopes, tenant: principal.tenant, operatorId: principal.keyId } : { scopes: principal.scopes, tenant: principal.tenant };
}

/**
 * `/v1/operators`: the people who sign in to the console. An operator is a root credential held
 * by a person, so these routes need `root_keys:read` / `root_keys:write` and reach only the
 * operators the caller could have created (`rootKeyOverreach`); any other answers 404.
 */
export const operatorRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.post(
    '/v1/operators',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: {
        tags,
        summary: 'Create an operator with some of your scopes, optionally for one tenant (without a password, one is generated and shown once)',
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 320 }),
            name: Type.Optional(Type.String({ maxLength: 200 })),
            password: Type.Optional(Password),
            scopes: Scopes,
            tenant: Type.Optional(Type.String({ maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: OperatorWithPasswordView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const created = await keygate.operators.create(actorOf(request), callerOf(request), request.body);
      return reply.code(201).send({ ...operatorView(created.operator), ...(created.password !== undefined ? { password: created.password } : {}) });
    },
  );

  app.get(
    '/v1/operators',
    {
      onRequest: requireScope(keygate, 'root_keys:read'),
      schema: {
        tags,
        summary: 'List the operators you could have created',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(OperatorView), ...ERROR_RESPONSES },
      },
    },
    async (request) => pageResponse(await keygate.operators.list(callerOf(request), pageRequest(request.query)), operatorView),
  );

  app.get(
    '/v1/operators/:id',
    {
      onRequest: requireScope(keygate, 'root_keys:read'),
      schema: { tags, summary: 'Get an operator', params: OperatorParams, response: { 200: OperatorView, ...ERROR_RESPONSES } },
    },
    async (request) => operatorView(await keygate.operators.get(callerOf(request), request.params.id)),
  );

  app.patch(
    '/v1/operators/:id',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: {
        tags,
        summary: 'Change an operator: name, scopes, tenant (null: all tenants), disabled (disabling ends their console sessions)',
        params: OperatorParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
            disabled: Type.Optional(Type.Boolean()),
            scopes: Type.Optional(Scopes),
            tenant: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: OperatorView, ...ERROR_RESPONSES },
      },
    },
    async (request) => operatorView(await keygate.operators.update(actorOf(request), callerOf(request), request.params.id, request.body)),
  );

  app.delete(
    '/v1/operators/:id',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      schema: { tags, summary: 'Delete an operator; their console sessions end', params: OperatorParams, response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      await keygate.operators.delete(actorOf(request), callerOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/operators/:id/password',
    {
      onRequest: requireScope(keygate, 'root_keys:write'),
      // No body at all means a generated password: resetting one should be one bare POST.
      preValidation: async (request) => {
        request.body ??= {};
      },
      schema: {
        tags,
        summary: "Set an operator's password (without one, a generated password is shown once); their console sessions end",
        params: OperatorParams,
        body: Type.Object({ password: Type.Optional(Password) }, { additionalProperties: false }),
        response: { 200: OperatorWithPasswordView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      const reset = await keygate.operators.resetPassword(actorOf(request), caller, request.params.id, request.body);
      const operator = await keygate.operators.get(caller, request.params.id);
      return { ...operatorView(operator), ...(reset.password !== undefined ? { password: reset.password } : {}) };
    },
  );
};
