import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { HostAuthority } from '../../domain/gateway/host-policy.js';
import type { Keygate } from '../../services/keygate.js';
import { InvalidOpenApiError, MAX_OPENAPI_BYTES } from '../../services/openapi-document.js';
import { actorOf, requireScope } from '../auth.js';
import { pageRequest, pageResponse } from '../pagination.js';
import { problem, sendProblem } from '../problem.js';
import { ApiDocumentView, ApiView, ERROR_RESPONSES, GatewayInputFields, PageQuery, Problem, RefreshTokensSettings, ScopeDefinition, TenantParams, pageOf } from '../schemas.js';
import { apiDocumentView, apiView } from './views.js';

/** `identifier`: the API's identifier, URL-encoded (`https%3A%2F%2Fapi.example.com`), or its id (`api_…`). */
const ApiParams = Type.Object({
  slug: Type.String({ maxLength: 64 }),
  identifier: Type.String({ maxLength: 512, description: 'The API identifier, URL-encoded, or the API id (`api_…`).' }),
});
// Query strings are not coerced: `force` is the text `true` or `false`.
const ForceQuery = Type.Object(
  { force: Type.Optional(Type.Union([Type.Literal('true'), Type.Literal('false')], { description: 'Go ahead although keys or clients are affected (see the summary).' })) },
  { additionalProperties: false },
);

export const apiRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.post(
    '/v1/tenants/:slug/apis',
    {
      onRequest: requireScope(keygate, 'apis:write'),
      schema: {
        tags: ['apis'],
        summary: 'Create an API with its scope catalog',
        params: TenantParams,
        body: Type.Object(
          {
            identifier: Type.String({ minLength: 1, maxLength: 512, description: 'The audience, e.g. `https://api.example.com`.' }),
            name: Type.String({ minLength: 1, maxLength: 200 }),
            scopes: Type.Array(ScopeDefinition, { maxItems: 1000 }),
            keyPrefix: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9]{0,15}$', description: 'Prefix of this API\'s keys (default `kg`).' })),
            accessTokenTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000, description: 'Access-token lifetime in seconds (default 3600).' })),
            refreshTokens: Type.Optional(RefreshTokensSettings),
            ...GatewayInputFields,
          },
          { additionalProperties: false },
        ),
        response: { 201: ApiView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const api = await keygate.apis.create(actorOf(request), tenant, request.body, { hostAuthority: hostAuthorityOf(request) });
      return reply.code(201).send(apiView(api, tenant.slug));
    },
  );

  app.get(
    '/v1/tenants/:slug/apis',
    {
      onRequest: requireScope(keygate, 'apis:read'),
      schema: {
        tags: ['apis'],
        summary: 'List APIs',
        params: TenantParams,
        querystring: Type.Object(
          { search: Type.Optional(Type.String({ maxLength: 200, description: 'Only APIs whose identifier or name contains this text, in any case.' })), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: pageOf(ApiView), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const search = request.query.search ?? '';
      return pageResponse(await keygate.apis.list(tenant, pageRequest(request.query), { search }), (api) => apiView(api, tenant.slug));
    },
  );

  app.patch(
    '/v1/tenants/:slug/apis/:identifier',
    {
      onRequest: requireScope(keygate, 'apis:write'),
      schema: {
        tags: ['apis'],
        summary: 'Update an API: name, scope catalog, token lifetimes, gateway settings. A catalog dropping scopes that keys or clients hold answers 409 SCOPES_IN_USE unless force=true, which narrows them; one dropping scopes the OpenAPI document requires answers 409 SCOPES_IN_DOCUMENT',
        params: ApiParams,
        querystring: ForceQuery,
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            scopes: Type.Optional(Type.Array(ScopeDefinition, { maxItems: 1000 })),
            accessTokenTtl: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
            refreshTokens: Type.Optional(RefreshTokensSettings),
            ...GatewayInputFields,
          },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: ApiView, 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      const api = await keygate.apis.update(actorOf(request), tenant, request.params.identifier, request.body, {
        force: request.query.force === 'true',
        hostAuthority: hostAuthorityOf(request),
      });
      return apiView(api, tenant.slug);
    },
  );

  app.delete(
    '/v1/tenants/:slug/apis/:identifier',
    {
      onRequest: requireScope(keygate, 'apis:write'),
      schema: {
        tags: ['apis'],
        summary: 'Delete an API. While keys, JWT API keys or clients use it, 409 API_IN_USE unless force=true, which revokes them with it',
        params: ApiParams,
        querystring: ForceQuery,
        response: { 204: Type.Null(), 409: Problem, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      await keygate.apis.delete(actorOf(request), tenant, request.params.identifier, { force: request.query.force === 'true' });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/tenants/:slug/apis/:identifier',
    {
      onRequest: requireScope(keygate, 'apis:read'),
      schema: {
        tags: ['apis'],
        summary: 'Get an API by its identifier (URL-encoded) or its id',
        params: ApiParams,
        response: { 200: ApiView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return apiView(await keygate.apis.get(tenant, request.params.identifier), tenant.slug);
    },
  );

  app.get(
    '/v1/tenants/:slug/apis/:identifier/operations',
    {
      onRequest: requireScope(keygate, 'apis:read'),
      schema: {
        tags: ['apis'],
        summary: 'The operations the gateway enforces for this API, compiled from its OpenAPI document, each with the scopes it requires (as the upload answered); 404 DOCUMENT_NOT_FOUND before an upload',
        params: ApiParams,
        response: { 200: ApiDocumentView, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const tenant = await keygate.tenants.get(request.params.slug);
      return apiDocumentView(await keygate.apis.getDocument(tenant, request.params.identifier), request.params.identifier);
    },
  );

  // The document is the body as it is, JSON or YAML: it gets its own parsers and size bound, and
  // the parser (not a route schema) says what is wrong with it.
  await app.register(async (plain) => {
    const documents = plain.withTypeProvider<TypeBoxTypeProvider>();
    documents.removeAllContentTypeParsers();
    documents.addContentTypeParser([...DOCUMENT_TYPES], { parseAs: 'string', bodyLimit: MAX_OPENAPI_BYTES }, (_request, body, done) => done(null, body));

    documents.put(
      '/v1/tenants/:slug/apis/:identifier/openapi',
      {
        onRequest: requireScope(keygate, 'apis:write'),
        bodyLimit: MAX_OPENAPI_BYTES,
        config: { body: { limit: "an OpenAPI document's own (KEYGATE_BODY_LIMIT does not apply)", mediaTypes: DOCUMENT_TYPES } },
        schema: {
          tags: ['apis'],
          summary:
            'Upload the OpenAPI 3.0/3.1 document the gateway enforces for this API, as JSON (application/json) or YAML (application/yaml), at most 8 MiB; answers the operations compiled from it. 400 INVALID_OPENAPI lists every reason, each naming its operation',
          params: ApiParams,
          response: { 200: ApiDocumentView, ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const tenant = await keygate.tenants.get(request.params.slug);
        const text = typeof request.body === 'string' ? request.body : '';
        try {
          if (text.trim() === '') throw new InvalidOpenApiError(['the body is empty; send the OpenAPI document as JSON or YAML']);
          const format = /yaml|vnd\.oai\.openapi$/.test(request.headers['content-type'] ?? '') ? 'yaml' : 'json';
          const document = await keygate.apis.setDocument(actorOf(request), tenant, request.params.identifier, { text, format });
          return apiDocumentView(document, request.params.identifier);
        } catch (err) {
          if (!(err instanceof InvalidOpenApiError)) throw err;
          return sendProblem(reply, problem('INVALID_OPENAPI', err.message, request.id, err.problems.map((message) => ({ path: '', message }))));
        }
      },
    );

    documents.get(
      '/v1/tenants/:slug/apis/:identifier/openapi',
      {
        onRequest: requireScope(keygate, 'apis:read'),
        schema: {
          tags: ['apis'],
          summary: 'The API\'s OpenAPI document as uploaded, in its format (application/json or application/yaml); 404 DOCUMENT_NOT_FOUND before one is',
          params: ApiParams,
          response: { 200: Type.String({ description: 'The document, byte for byte as uploaded.' }), ...ERROR_RESPONSES },
        },
      },
      async (request, reply) => {
        const tenant = await keygate.tenants.get(request.params.slug);
        const document = await keygate.apis.getDocument(tenant, request.params.identifier);
        // Sent as stored: a JSON serializer would quote the text.
        return reply
          .type(document.format === 'json' ? 'application/json' : 'application/yaml')
          .serializer((payload) => payload as string)
          .send(document.document);
      },
    );
  });
};

/** The media types an OpenAPI document arrives as (`application/vnd.oai.openapi` is YAML, RFC 9512). */
const DOCUMENT_TYPES = ['application/json', 'application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'application/vnd.oai.openapi', 'application/vnd.oai.openapi+json'] as const;

/** Which gateway hosts the caller may claim: any for a root key of every tenant, the operator's suffixes for one limited to a tenant. */
function hostAuthorityOf(request: FastifyRequest): HostAuthority {
  const principal = request.principal;
  return principal !== null && principal.kind === 'root' && principal.tenant === null ? 'instance' : 'tenant';
}
