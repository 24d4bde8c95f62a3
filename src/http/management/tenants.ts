import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { TENANT_SLUG_PATTERN } from '../../services/tenants-service.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, Hs256MaxLifetime, PageQuery, Problem, TenantParams, TenantView, pageOf } from '../schemas.js';
import { tenantView } from './views.js';

export const tenantRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.post(
    '/v1/tenants',
    {
      // A new tenant is outside any one tenant: a root key limited to one cannot create it.
      onRequest: requireScope(keygate, 'tenants:write', { instanceWide: true }),
      schema: {
        tags: ['tenants'],
        summary: 'Create a tenant',
        body: Type.Object(
          {
            slug: Type.String({ pattern: TENANT_SLUG_PATTERN, description: 'URL name: lowercase letters, digits, dashes.' }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            signingAlg: Type.Optional(Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256'), Type.Literal('RS256')], { description: 'Algorithm of the tenant\'s signing keys (default EdDSA).' })),
            selfSignup: Type.Optional(Type.Boolean({ description: 'Let people create their own accounts on the portal (default false).' })),
            hs256MaxLifetime: Type.Optional(Hs256MaxLifetime),
          },
          { additionalProperties: false },
        ),
        response: { 201: TenantView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.create(actorOf(request), request.body);
      return reply.code(201).send(tenantView(tenant, keygate.publicUrl));
    },
  );

  app.get(
    '/v1/tenants',
    {
      onRequest: requireScope(keygate, 'tenants:read'),
      schema: {
        tags: ['tenants'],
        summary: 'List tenants',
        querystring: Type.Object(
          { search: Type.Optional(Type.String({ maxLength: 200, description: 'Only tenants whose slug or name contains this text, in any case.' })), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(TenantView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const principal = request.principal!;
      const search = request.query.search ?? '';
      if (principal.kind === 'root' && principal.tenant !== null) {
        const own = await keygate.tenants.get(principal.tenant);
        return { items: matches(own, search) ? [tenantView(own, keygate.publicUrl)] : [], nextCursor: null };
      }
      return pageResponse(await keygate.tenants.list(pageRequest(request.query), { search }), (t) => tenantView(t, keygate.publicUrl));
    },
  );

  app.get(
    '/v1/tenants/:slug',
    {
      onRequest: requireScope(keygate, 'tenants:read'),
      schema: { tags: ['tenants'], summary: 'Get a tenant', params: TenantParams, response: { 200: TenantView, ...ERROR_RESPONSES } },
    },
    async (request) => tenantView(await keygate.tenants.get(request.params.slug), keygate.publicUrl),
  );

  app.patch(
    '/v1/tenants/:slug',
    {
      // One scope for every field: each is a setting of the tenant (self sign-up opens it to
      // anyone; the HS256 cap bounds what a stolen secret can mint).
      onRequest: requireScope(keygate, 'tenants:write'),
      schema: {
        tags: ['tenants'],
        summary: 'Change a tenant: name, self sign-up, HS256 token lifetime cap, signing algorithm (of the keys later rotations make)',
        params: TenantParams,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            selfSignup: Type.Optional(Type.Boolean()),
            hs256MaxLifetime: Type.Optional(Hs256MaxLifetime),
            signingAlg: Type.Optional(
              Type.Union([Type.Literal('EdDSA'), Type.Literal('ES256'), Type.Literal('RS256')], {
                description: 'Algorithm of the keys later rotations make (POST …/signing-keys/rotate); the current key signs until the next rotation.',
              }),
            ),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: TenantView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return tenantView(await keygate.tenants.update(actorOf(request), tenant, request.body), keygate.publicUrl);
    },
  );

  app.delete(
    '/v1/tenants/:slug',
    {
      // A root key limited to this tenant may delete it when it holds tenants:write (its own
      // key is revoked with it); requireScope keeps it away from every other tenant.
      onRequest: requireScope(keygate, 'tenants:write'),
      schema: {
        tags: ['tenants'],
        summary: 'Delete a tenant and everything in it (APIs, keys, clients, users, tokens, signing keys, its audit log); root keys limited to it are revoked',
        params: TenantParams,
        response: { 200: Type.Object({ deleted: Type.String(), revokedRootKeys: Type.Array(Type.String()) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { revokedRootKeys } = await keygate.tenants.delete(actorOf(request), tenant);
      return { deleted: tenant.slug, revokedRootKeys };
    },
  );
};

/** The store's search, for the one tenant a limited key sees: slug or name contains `search`, ignoring case. */
function matches(tenant: { slug: string; name: string }, search: string): boolean {
  const needle = search.toLowerCase();
  return tenant.slug.includes(needle) || tenant.name.toLowerCase().includes(needle);
}
