import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../services/keygate.js';
import { Problem } from './schemas.js';

export const healthRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: '200 once the store answers; 503 while it does not',
        response: { 200: Type.Object({ status: Type.Literal('ok'), store: Type.String(), cluster: Type.String() }), 503: Problem },
      },
    },
    async () => {
      await keygate.store.ping();
      return { status: 'ok' as const, store: keygate.store.backend, cluster: keygate.cluster.kind };
    },
  );
};
