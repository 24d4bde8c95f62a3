import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from 'typebox';
import type { AuditFilter } from '../../domain/audit.js';
import { KeygateError } from '../../domain/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { AuditEventView, ERROR_RESPONSES, PageQuery, TenantParams, Timestamp, pageOf } from '../schemas.js';
import { eventView } from './views.js';

/** The audit listings' query: filters and paging, the same for a tenant's log and the root keys'. */
export const AuditQuery = Type.Object(
  {
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Only this action, e.g. `key.verify.denied`.' })),
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Only events of this actor (a root key id, `verify`, `oauth`, …).' })),
    target: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: 'Only events about this key, client, API or token id.' })),
    from: Type.Optional({ ...Timestamp, description: 'UTC ISO-8601; only events at or after it (an aggregated denial counts until its last occurrence).' }),
    to: Type.Optional({ ...Timestamp, description: 'UTC ISO-8601; only events before it.' }),
    ...PageQuery,
  },
  { additionalProperties: false },
);

/** The filter a validated `AuditQuery` asks for, times in ms. */
export function auditFilterOf(query: Static<typeof AuditQuery>): AuditFilter {
  const { action, actor, target, from, to } = query;
  return {
    ...(action !== undefined ? { action } : {}),
    ...(actor !== undefined ? { actor } : {}),
    ...(target !== undefined ? { target } : {}),
    ...(from !== undefined ? { from: instant('from', from) } : {}),
    ...(to !== undefined ? { to: instant('to', to) } : {}),
  };
}

/** Milliseconds of a schema-valid date-time; a leap second (`23:59:60`) passes the format but is no instant. */
export function instant(name: string, value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new KeygateError('INVALID_REQUEST', `\`${name}\` is not a time Keygate can compare (leap seconds are not)`);
  return ms;
}

export const auditRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/v1/tenants/:slug/audit',
    {
      onRequest: requireScope(keygate, 'audit:read'),
      schema: {
        tags: ['audit'],
        summary: 'Audit events of the tenant, newest first',
        description: 'Every change is its own event; denials are aggregated per key, reason and minute (`count`, `lastAt`). See docs/audit.md.',
        params: TenantParams,
        querystring: AuditQuery,
        response: { 200: pageOf(AuditEventView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return pageResponse(await keygate.audit.list(tenant.id, auditFilterOf(request.query), pageRequest(request.query)), eventView);
    },
  );
};
