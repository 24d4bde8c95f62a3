import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import type { Request, Response } from 'express';
import { expectTypeOf } from 'vitest';
import { keygateAuth, type KeygateAuthOptions, type KeygateIdentity } from '../../src/middleware/express/index.js';
import { ROUTES, type AppUnderTest } from './contract.js';

/**
 * A real Express app serving ROUTES through `keygateAuth`, for the contract suite. Express 4 and 5
 * are started by the same code: the middleware uses only what both versions have.
 */
export async function startExpressApp(createApp: typeof express, options: KeygateAuthOptions): Promise<AppUnderTest> {
  const auth = keygateAuth(options);
  const app = createApp();
  const respond = (req: Request, res: Response): void => {
    expectTypeOf(req.keygate).toEqualTypeOf<KeygateIdentity | undefined>();
    res.json({ identity: req.keygate });
  };
  for (const route of ROUTES) {
    const guard = auth.requireScopes(route.scopes, { match: route.match ?? 'all' });
    if (route.method === 'GET') app.get(route.path, guard, respond);
    else app.put(route.path, guard, respond);
  }
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    closeVerifier: () => auth.close(),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await auth.close();
    },
  };
}
