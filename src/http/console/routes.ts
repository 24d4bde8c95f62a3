import cookie from '@fastify/cookie';
import type { FastifyPluginAsync } from 'fastify';
import { KeygateError } from '../../domain/errors.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { acceptForms } from '../oauth/form.js';
import { consoleAssetRoutes } from './assets.js';
import { consoleHomeRoutes } from './home.js';
import { consoleReply } from './layout.js';
import { apiPages } from './pages/apis.js';
import { auditPages } from './pages/audit.js';
import { clientPages } from './pages/clients.js';
import { consumerPages } from './pages/consumers.js';
import { debuggerPages } from './pages/debugger.js';
import { keyPages } from './pages/keys.js';
import { signingKeyPages } from './pages/signing-keys.js';
import { tenantPages } from './pages/tenants.js';
import { usagePages } from './pages/usage.js';
import { userPages } from './pages/users.js';
import { operatorPages } from './pages/operators.js';
import { consoleSignInRoutes } from './sign-in.js';
import { consoleErrorPage } from './views.js';

/** Forms up to 1 MiB: an OpenAPI document is posted as a form field. */
const CONSOLE_FORM_LIMIT = 1024 * 1024;

/**
 * The owner's console (docs/console.md) at `/console`: operators sign in and manage every
 * resource through the management API as themselves (`ConsoleContext.v1`), so a page can do
 * nothing the operator's scopes and tenant limit would not let /v1 do.
 */
export const consoleRoutes =
  (keygate: Keygate): FastifyPluginAsync =>
  async (app) => {
    await app.register(cookie);
    acceptForms(app, CONSOLE_FORM_LIMIT);
    app.setErrorHandler((err, request, reply) => {
      const status = err instanceof OAuthError || err instanceof KeygateError ? err.status : ((err as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) request.log.error({ err, requestId: request.id }, 'console page failed');
      const message = status >= 500 ? `Try again shortly. Reference: ${request.id}` : status === 404 ? 'There is nothing here.' : status === 413 ? 'The form is too large.' : 'The request could not be understood.';
      return consoleReply(reply, status >= 500 ? 500 : status, consoleErrorPage('Something went wrong', message));
    });
    // A reserved or unknown tenant is answered before anything else, whoever asks, as every
    // tenant route does (`isReservedSlug`): the console never serves the system tenant.
    app.addHook('onRequest', async (request, reply) => {
      const slug = (request.params as { slug?: string } | undefined)?.slug;
      if (slug !== undefined && (slug.length > 64 || (await keygate.directory.tenant(slug)) === null)) {
        return consoleReply(reply, 404, consoleErrorPage('Not found', 'There is no such tenant.'));
      }
    });
    consoleAssetRoutes(app);
    consoleSignInRoutes(app, keygate);
    consoleHomeRoutes(app, keygate);
    tenantPages(app, keygate);
    apiPages(app, keygate);
    consumerPages(app, keygate);
    keyPages(app, keygate);
    clientPages(app, keygate);
    userPages(app, keygate);
    signingKeyPages(app, keygate);
    auditPages(app, keygate);
    usagePages(app, keygate);
    debuggerPages(app, keygate);
    operatorPages(app, keygate);
  };
