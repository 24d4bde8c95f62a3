import cookie from '@fastify/cookie';
import type { FastifyPluginAsync } from 'fastify';
import { KeygateError } from '../../domain/errors.js';
import { OAuthError } from '../../domain/oauth/errors.js';
import type { Keygate } from '../../services/keygate.js';
import { acceptForms } from '../oauth/form.js';
import { accountRoutes } from './account.js';
import { authorizeRoute } from './authorize.js';
import { consentRoutes } from './consent.js';
import { htmlReply } from './context.js';
import { developerPortalRoutes } from './developer/routes.js';
import { signInRoutes } from './sign-in.js';
import { signupAndResetRoutes } from './signup-and-reset.js';
import { errorPage } from './views.js';

/** The pages people see: authorize, sign-in, consent, connected apps, sign-up, password reset, the developer portal. */
export const portalRoutes =
  (keygate: Keygate): FastifyPluginAsync =>
  async (app) => {
    await app.register(cookie);
    acceptForms(app);
    app.setErrorHandler((err, request, reply) => {
      const status = err instanceof OAuthError || err instanceof KeygateError ? err.status : ((err as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) request.log.error({ err, requestId: request.id }, 'page failed');
      return htmlReply(reply, status >= 500 ? 500 : status, errorPage('Something went wrong', status >= 500 ? `Try again shortly. Reference: ${request.id}` : status === 404 ? 'There is nothing here.' : 'The request could not be understood.'));
    });
    authorizeRoute(app, keygate);
    signInRoutes(app, keygate);
    consentRoutes(app, keygate);
    accountRoutes(app, keygate);
    signupAndResetRoutes(app, keygate);
    developerPortalRoutes(app, keygate);
  };
