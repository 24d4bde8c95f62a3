import type { FastifyInstance, RouteOptions } from 'fastify';

/** How a route authenticates its caller, read off the route's own hooks. */
export type RouteAccess =
  /** The management API: a root key with `scope` (and, for a few routes, the key holder itself). */
  | { kind: 'management'; scope: string; allowKeyHolder: boolean }
  /** Everything else: public pages, OAuth endpoints (client authentication happens inside). */
  | { kind: 'open' };

export interface RouteEntry {
  method: string;
  url: string;
  access: RouteAccess;
  /** Whether the route's schema takes a JSON body. */
  hasBody: boolean;
  /** Whether the route's schema validates its query string (unknown parameters are refused). */
  hasQuery: boolean;
}

/** A hook that `requireScope` made carries what it requires, so the route table can say it. */
export interface AccessTagged {
  access?: RouteAccess;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on the app, with how it is protected (for the shared security test and docs). */
    routeTable: readonly RouteEntry[];
  }
}

/**
 * Records every route as it is registered. Call before registering any route; routes of child
 * plugins are recorded too (the hook is inherited).
 */
export function recordRoutes(app: FastifyInstance): void {
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const access = accessOf(route);
    const hasBody = route.schema?.body !== undefined;
    const hasQuery = route.schema?.querystring !== undefined;
    for (const method of methods) table.push({ method, url: route.url, access, hasBody, hasQuery });
  });
}

function accessOf(route: RouteOptions): RouteAccess {
  const hooks = [route.onRequest, route.preHandler].flat().filter((hook) => typeof hook === 'function') as AccessTagged[];
  return hooks.find((hook) => hook.access !== undefined)?.access ?? { kind: 'open' };
}
