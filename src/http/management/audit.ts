import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../../services/keygate.js';
import { requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { AuditEventView, ERROR_RESPONSES, PageQuery, TenantParams, pageOf } from '../schemas.js';
import { eventView } from './views.js';

export const auditRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/v1/tenants/:slug/audit',
    {
      onRequest: requireScope(keygate, 'audit:read'),
      schema: {
        tags: ['audit'],
        summary: 'Audit events of the tenant, oldest first',
        params: TenantParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: pageOf(AuditEventView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return pageResponse(await keygate.audit.list(tenant.id, pageRequest(request.query)), eventView);
    },
  );
};
