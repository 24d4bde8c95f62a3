import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { expectTypeOf } from 'vitest';
import type { KeygateIdentity } from '../../src/middleware/hono/index.js';
import { keygateAuth } from '../../src/middleware/hono/index.js';
import { ROUTES, runMiddlewareContract } from './contract.js';

runMiddlewareContract({
  name: 'hono',
  keygateAuth,
  async start(options) {
    const auth = keygateAuth(options);
    const app = new Hono();
    for (const route of ROUTES) {
      app.on(route.method, route.path, auth.requireScopes(route.scopes, { match: route.match ?? 'all' }), (c) => {
        // The middleware's env types the variable for the handlers after it.
        expectTypeOf(c.get('keygate')).toEqualTypeOf<KeygateIdentity>();
        return c.json({ identity: c.get('keygate') });
      });
    }
    const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((resolve) => {
      const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ server: started, port: info.port }));
    });
    return {
      url: `http://127.0.0.1:${port}`,
      closeVerifier: () => auth.close(),
      async close() {
        if ('closeAllConnections' in server) server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await auth.close();
      },
    };
  },
});
