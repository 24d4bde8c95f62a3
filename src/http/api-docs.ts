import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Config } from '../config/schema.js';
import { lazyCompilers } from './lazy-compilers.js';

const TITLE = 'Keygate';

const DESCRIPTION = [
  'Keygate is a self-hosted access layer for HTTP APIs: API keys, JWTs and OAuth 2.0 tokens under one scope model.',
  '',
  '- **Management API** (`/v1/…`): JSON, protected by root keys with management scopes (`Authorization: Bearer kgroot_…`). Errors are RFC 9457 problem details with a stable `code` (docs/errors.md).',
  '- **Verify** (`POST /v1/verify`): any credential (API key or JWT) against an API and required scopes.',
  '- **OAuth 2.0** per tenant (`/t/{slug}/oauth/…`, issuer `{PUBLIC_URL}/t/{slug}`): token, introspection, revocation, authorization; RFC 8414 metadata and the JWKS. Errors are RFC 6749 `{error, error_description}` bodies.',
  '- **Portal** pages for people (sign-in, consent, connected apps, sign-up, password reset) and **health** probes.',
].join('\n');

/** The logo in the page's top bar: the product's name, where the UI would show its own. */
const LOGO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="180" height="40" viewBox="0 0 180 40"><rect x="2" y="6" width="28" height="28" rx="6" fill="#2f6f4f"/><path d="M11 27v-14M11 20l9-7M11 20l9 7" stroke="#fff" stroke-width="3" fill="none" stroke-linecap="round"/><text x="40" y="28" font-family="system-ui, sans-serif" font-size="22" font-weight="600" fill="#fff">Keygate</text></svg>`;
const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f6f4f"/><path d="M11 24v-16M11 16l10-8M11 16l10 8" stroke="#fff" stroke-width="3.5" fill="none" stroke-linecap="round"/></svg>`;

/**
 * /openapi.json (OpenAPI 3.1) and its browsable form at /docs, branded Keygate. Management and
 * verify routes are described by the schemas that validate them; the OAuth endpoints and portal
 * pages, which parse their own forms, by oauth/openapi.ts and portal/openapi.ts. Routes that
 * need no root key say so (`security: []`), read off the route table.
 *
 * Both are made by the first request for either, not at start: @fastify/swagger and
 * @fastify/swagger-ui (with @fastify/static and yaml) were a tenth of a start's CPU
 * (bench/startup.ts). Each route is noted as it is registered; the first request builds a docs
 * app from those notes (`buildDocsApp`), and a /docs request is answered by it through `inject`,
 * then sent as this app's own answer, so this app's hooks, not-found answer and error handler
 * apply to /docs as before.
 *
 * @example
 * await registerApiDocs(app, config);
 */
export async function registerApiDocs(app: FastifyInstance, config: Pick<Config, 'publicUrl'>): Promise<void> {
  const routes: RouteOptions[] = [];
  // @fastify/swagger leaves hidden and HEAD routes out of the document: they are not noted.
  app.addHook('onRoute', (route) => {
    if (route.method !== 'HEAD' && (route.schema as { hide?: boolean } | undefined)?.hide !== true) routes.push(route);
  });
  let docs: Promise<DocsApp> | null = null;
  const docsApp = (): Promise<DocsApp> => {
    docs ??= buildDocsApp(app, config, routes).catch((err: unknown) => {
      docs = null;
      throw err;
    });
    return docs;
  };
  app.get('/openapi.json', { schema: { hide: true } }, async () => (await docsApp()).app.swagger());
  const forward = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => (await docsApp()).forward(request, reply);
  app.get('/docs', { schema: { hide: true } }, forward);
  app.get('/docs/*', { schema: { hide: true } }, forward);
}

interface DocsApp {
  app: FastifyInstance;
  /** Answers a /docs request from the docs app, as the main app's own answer. */
  forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>;
}

/** Headers of the docs app's answer that the main app sets itself, or that belong to a connection. */
const OWN_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

/**
 * A Fastify app of its own holding what @fastify/swagger describes (each noted route again, by
 * method, URL, schema and config, with a handler never called) and the branded UI under /docs,
 * as the main app held them when they were loaded at start.
 */
async function buildDocsApp(main: FastifyInstance, config: Pick<Config, 'publicUrl'>, routes: readonly RouteOptions[]): Promise<DocsApp> {
  const [{ default: Fastify }, { default: swagger }, { default: swaggerUi }, { OAUTH_COMPONENTS, oauthPaths }, { portalPaths }, { consolePaths }] = await Promise.all([
    import('fastify'),
    import('@fastify/swagger'),
    import('@fastify/swagger-ui'),
    import('./oauth/openapi.js'),
    import('./portal/openapi.js'),
    import('./console/openapi.js'),
  ]);
  const app = Fastify({ logger: false, schemaController: { compilersFactory: lazyCompilers().compilersFactory } });
  // A fault in the docs app is the main app's to answer and log: kept per request, thrown again there.
  const faults = new WeakMap<object, unknown>();
  app.setErrorHandler((err, request, reply) => {
    faults.set(request.raw, err);
    return reply.code(500).send();
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: TITLE, version: '0.1.0', description: DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
      servers: [{ url: config.publicUrl }],
      tags: [
        { name: 'verify', description: 'Verify any credential' },
        { name: 'oauth', description: 'The tenant authorization servers (RFC 6749, 7009, 7662, 8414, 8693)' },
        { name: 'portal', description: 'Pages for people: HTML, not an API' },
        { name: 'health', description: 'Liveness and readiness probes' },
      ],
      components: {
        securitySchemes: {
          rootKey: { type: 'http', scheme: 'bearer', description: 'A Keygate root key (`kgroot_…`) with the scope the operation names.' },
          clientSecretBasic: { type: 'http', scheme: 'basic', description: 'OAuth client authentication: client id and secret, each form-urlencoded (RFC 6749 §2.3.1).' },
        },
      },
      security: [{ rootKey: [] }],
    },
    // Only the OpenAPI form is ever built (the `openapi` option above), never Swagger 2.
    transformObject: (documentObject) => {
      const { openapiObject } = documentObject as { openapiObject: Record<string, unknown> };
      const document = openapiObject as { paths?: Record<string, Record<string, Record<string, unknown>>>; components?: Record<string, unknown> };
      document.paths = { ...document.paths, ...oauthPaths(), ...portalPaths(), ...consolePaths() };
      document.components = { ...document.components, schemas: { ...(document.components?.['schemas'] as object), ...OAUTH_COMPONENTS } };
      markOpenRoutes(main, document.paths);
      return openapiObject;
    },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    theme: {
      title: `${TITLE} API reference`,
      favicon: [{ filename: 'keygate.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: ICON_SVG }],
      css: [{ filename: 'keygate.css', content: '.swagger-ui .topbar { background-color: #1f3d2e; }' }],
    },
    logo: { type: 'image/svg+xml', content: LOGO_SVG, href: '/docs', target: '_self' },
    uiConfig: { docExpansion: 'list', defaultModelsExpandDepth: 0, tryItOutEnabled: false },
  });
  const described = (): never => {
    throw new Error('this route is registered to be described, not called');
  };
  for (const route of routes) app.route({ method: route.method, url: route.url, schema: route.schema ?? {}, config: route.config ?? {}, handler: described });
  await app.ready();
  return {
    app,
    async forward(request, reply) {
      // HEAD is asked as GET: the main app sends the answer without its body, as for any GET route.
      const answer = await app.inject({ method: 'GET', url: request.url, headers: request.headers });
      const fault = faults.get(answer.raw.req);
      if (fault !== undefined) throw fault;
      if (answer.statusCode === 404) {
        reply.callNotFound();
        return reply;
      }
      for (const [name, value] of Object.entries(answer.headers)) if (!OWN_HEADERS.has(name) && value !== undefined) void reply.header(name, value);
      return reply.code(answer.statusCode).send(answer.rawPayload.length === 0 ? undefined : answer.rawPayload);
    },
  };
}

/** Operations of routes that take no root key (health, OAuth, portal) need none in the document either. */
function markOpenRoutes(app: FastifyInstance, paths: Record<string, Record<string, Record<string, unknown>>>): void {
  for (const route of app.routeTable) {
    if (route.access.kind !== 'open') continue;
    const operation = paths[route.url.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
    if (operation && operation['security'] === undefined) operation['security'] = [];
  }
}
