import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { expectTypeOf } from 'vitest';
import { keygateAuth, type KeygateIdentity } from '../../src/middleware/fastify/index.js';
import { ROUTES, runMiddlewareContract } from './contract.js';

runMiddlewareContract({
  name: 'fastify',
  keygateAuth,
  async start(options) {
    const auth = keygateAuth(options);
    const app = Fastify();
    await app.register(auth.plugin);
    for (const route of ROUTES) {
      app.route({
        method: route.method,
        url: route.path,
        preHandler: auth.requireScopes(route.scopes, { match: route.match ?? 'all' }),
        handler: async (request) => {
          expectTypeOf(request.keygate).toEqualTypeOf<KeygateIdentity | null | undefined>();
          return { identity: request.keygate };
        },
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
      closeVerifier: () => auth.close(),
      // The plugin closes the verifier on the server's onClose.
      close: () => app.close(),
    };
  },
});
