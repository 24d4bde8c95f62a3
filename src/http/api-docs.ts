import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import { OAUTH_COMPONENTS, oauthPaths } from './oauth/openapi.js';
import { portalPaths } from './portal/openapi.js';
import { consolePaths } from './console/openapi.js';

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
 * @example
 * await registerApiDocs(app, config);
 */
export async function registerApiDocs(app: FastifyInstance, config: Pick<Config, 'publicUrl'>): Promise<void> {
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
      markOpenRoutes(app, document.paths);
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
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

/** Operations of routes that take no root key (health, OAuth, portal) need none in the document either. */
function markOpenRoutes(app: FastifyInstance, paths: Record<string, Record<string, Record<string, unknown>>>): void {
  for (const route of app.routeTable) {
    if (route.access.kind !== 'open') continue;
    const operation = paths[route.url.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
    if (operation && operation['security'] === undefined) operation['security'] = [];
  }
}
