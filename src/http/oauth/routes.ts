import type { FastifyPluginAsync } from 'fastify';
import type { Keygate } from '../../services/keygate.js';
import { discoveryRoutes } from './discovery.js';
import { acceptForms } from './form.js';
import { introspectRoute } from './introspect.js';
import { oauthErrorHandler } from './oauth-errors.js';
import { revokeRoute } from './revoke.js';
import { tokenRoute } from './token.js';

/** The tenant authorization servers, in their own scope: form bodies and RFC 6749 error bodies. */
export const oauthRoutes =
  (keygate: Keygate): FastifyPluginAsync =>
  async (app) => {
    acceptForms(app);
    app.setErrorHandler(oauthErrorHandler);
    discoveryRoutes(app, keygate);
    tokenRoute(app, keygate);
    revokeRoute(app, keygate);
    introspectRoute(app, keygate);
  };
