import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { assetRoutes } from './assets.js';
import { debuggerRoutes } from './debugger.js';
import { explorerRoutes } from './explorer.js';
import { homeRoutes } from './home.js';
import { keysRoutes } from './keys.js';
import { memberRoutes } from './member.js';
import { usageRoutes } from './usage.js';

/**
 * The developer portal (docs/portal.md) at `/t/{slug}/portal`: a consumer's members manage their
 * keys, read their usage and try their APIs, signed in like on the consent pages. Every page
 * acts through the same services as the management API.
 */
export function developerPortalRoutes(app: FastifyInstance, keygate: Keygate): void {
  assetRoutes(app, keygate);
  memberRoutes(app, keygate);
  homeRoutes(app, keygate);
  keysRoutes(app, keygate);
  usageRoutes(app, keygate);
  explorerRoutes(app, keygate);
  debuggerRoutes(app, keygate);
}
