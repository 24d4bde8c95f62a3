import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { IssuedToken } from '../../domain/clients.js';
import { isKeygateError } from '../../domain/errors.js';
import type { Tenant } from '../../domain/tenants.js';
import type { Keygate } from '../../services/keygate.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { ERROR_RESPONSES, NotBeforeView, PageQuery, ScopeName, TenantParams, pageOf } from '../schemas.js';

export const TokenView = Type.Object({
  jti: Type.String(),
  tenant: Type.String(),
  api: Type.String(),
  consumer: Type.String(),
  scopes: Type.Array(Type.String()),
  claimsFormat: Type.Union([Type.Literal('scope'), Type.Literal('scopes')]),
  kid: Type.String(),
  issuedAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export const IssuedTokenView = Type.Intersect([TokenView, Type.Object({ token: Type.String() })]);

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export const tokenRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  const tags = ['tokens'];
  const view = (token: IssuedToken, slug: string, apis: ReadonlyMap<string, string>) => ({
    jti: token.jti,
    tenant: slug,
    api: apis.get(token.apiId) ?? '',
    consumer: token.consumer,
    scopes: token.scopes,
    claimsFormat: token.claimsFormat,
    kid: token.kid,
    issuedAt: new Date(token.issuedAt).toISOString(),
    expiresAt: iso(token.expiresAt),
    revokedAt: iso(token.revokedAt),
  });

  app.post(
    '/v1/tenants/:slug/tokens',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: {
        tags,
        summary: 'Issue a JWT API key for a consumer (the token is in this response only)',
        params: TenantParams,
        body: Type.Object(
          {
            api: Type.String({ minLength: 1, maxLength: 512 }),
            consumer: Type.String({ minLength: 1, maxLength: 256 }),
            scopes: Type.Array(ScopeName, { maxItems: 1000 }),
            expiresAt: Type.Optional(Type.String({ format: 'date-time', description: 'UTC ISO-8601; default one year from now. Every JWT has an expiry.' })),
            claimsFormat: Type.Optional(Type.Union([Type.Literal('scope'), Type.Literal('scopes')])),
          },
          { additionalProperties: false },
        ),
        response: { 201: IssuedTokenView, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { expiresAt, ...rest } = request.body;
      const { record, token } = await keygate.tokens.issueApiKeyToken(actorOf(request), tenant, {
        ...rest,
        ...(expiresAt ? { expiresAt: Date.parse(expiresAt) } : {}),
      });
      return reply.code(201).send({ ...view(record, tenant.slug, await apiIdentifiers(keygate, tenant, [record])), token });
    },
  );

  app.get(
    '/v1/tenants/:slug/tokens',
    {
      onRequest: requireScope(keygate, 'tokens:read'),
      schema: {
        tags,
        summary: 'List JWT API keys',
        params: TenantParams,
        querystring: Type.Object({ api: Type.Optional(Type.String({ maxLength: 512 })), consumer: Type.Optional(Type.String({ maxLength: 256 })), ...PageQuery }, { additionalProperties: false }),
        response: { 200: pageOf(TokenView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { api, consumer } = request.query;
      const page = await keygate.tokens.listIssued(tenant, { ...(api ? { api } : {}), ...(consumer ? { consumer } : {}) }, pageRequest(request.query));
      const apis = await apiIdentifiers(keygate, tenant, page.items);
      return pageResponse(page, (t) => view(t, tenant.slug, apis));
    },
  );

  app.post(
    '/v1/tenants/:slug/tokens/:jti/revoke',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: {
        tags,
        summary: 'Revoke a JWT by jti (JWT API keys and OAuth access tokens alike)',
        description: 'Any jti of the tenant can be revoked, issued here or not; verify then answers REVOKED for it.',
        params: Type.Object({ slug: Type.String({ maxLength: 64 }), jti: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: {
          200: Type.Object({
            jti: Type.String(),
            revoked: Type.Boolean({ description: 'False when the jti was revoked already.' }),
            recorded: Type.Boolean({ description: 'Whether Keygate issued a JWT API key with this jti; false for access tokens, self-issued tokens and typos alike.' }),
          }),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { jti } = request.params;
      const recorded = await keygate.tokens.isIssued(tenant, jti);
      return { jti, revoked: await keygate.revocations.revokeToken(actorOf(request), tenant, jti), recorded };
    },
  );

  app.post(
    '/v1/tenants/:slug/consumers/:consumer/revoke-tokens',
    {
      onRequest: requireScope(keygate, 'tokens:write'),
      schema: {
        tags,
        summary: 'Revoke every JWT issued to a consumer until now',
        params: Type.Object({ slug: Type.String({ maxLength: 64 }), consumer: Type.String({ minLength: 1, maxLength: 256 }) }),
        response: { 200: NotBeforeView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const { notBefore } = await keygate.revocations.cutOff(actorOf(request), tenant, 'consumer', request.params.consumer);
      return { notBefore: new Date(notBefore * 1000).toISOString() };
    },
  );

  app.get(
    '/v1/tenants/:slug/revocations',
    {
      onRequest: requireScope(keygate, 'keys:verify'),
      schema: {
        tags,
        summary: 'The revocation feed verifiers follow: revoked jtis and not-before marks, oldest first',
        params: TenantParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: {
          200: pageOf(
            Type.Object({
              id: Type.String(),
              kind: Type.String(),
              subject: Type.String(),
              notBefore: Type.Union([Type.Integer(), Type.Null()]),
              expiresAt: Type.Union([Type.String(), Type.Null()]),
              createdAt: Type.String(),
            }),
          ),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return pageResponse(await keygate.revocations.feed(tenant, pageRequest(request.query)), (r) => ({
        id: r.id,
        kind: r.kind,
        subject: r.subject,
        notBefore: r.notBefore,
        expiresAt: iso(r.expiresAt),
        createdAt: new Date(r.createdAt).toISOString(),
      }));
    },
  );
};

/**
 * The identifiers of the tokens' APIs, each API read once per response through the APIs
 * service. An API deleted meanwhile (its tokens go with it) shows as ''.
 */
async function apiIdentifiers(keygate: Keygate, tenant: Tenant, tokens: readonly IssuedToken[]): Promise<Map<string, string>> {
  const ids = [...new Set(tokens.map((t) => t.apiId))];
  const found = await Promise.all(
    ids.map((id) =>
      keygate.apis.get(tenant, id).then(
        (api) => [id, api.identifier] as const,
        (err: unknown) => {
          if (isKeygateError(err) && err.code === 'API_NOT_FOUND') return [id, ''] as const;
          throw err;
        },
      ),
    ),
  );
  return new Map(found);
}
