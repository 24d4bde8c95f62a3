import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../services/keygate.js';
import { Problem } from './schemas.js';

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  store: Type.String(),
  cluster: Type.String(),
  /** Why the status is `degraded`: empty when `ok`. No hosts or driver messages (anyone may call this); those go to the log. */
  reasons: Type.Array(
    Type.Object({
      component: Type.Literal('redis'),
      reason: Type.Union([Type.Literal('connecting'), Type.Literal('unreachable'), Type.Literal('timeout')]),
      since: Type.String({ format: 'date-time' }),
    }),
  ),
});

export const healthRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: '200 once the store answers, whether Redis does or not; 503 while the store does not',
        response: { 200: Type.Object({ status: Type.Literal('ok'), store: Type.String(), cluster: Type.String() }), 503: Problem },
      },
    },
    () => keygate.health.live(),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 `ok`, or 200 `degraded` with the reasons while Redis is away (requests are still served); 503 while the store does not answer',
        response: { 200: Readiness, 503: Problem },
      },
    },
    () => keygate.health.ready(),
  );
};
