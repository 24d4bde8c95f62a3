import { createServer, type Server } from 'node:http';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Keygate } from '../services/keygate.js';
import { requireScope } from './auth.js';
import { ERROR_RESPONSES } from './schemas.js';

/**
 * `GET /metrics` on the main port: the instance's Prometheus text, for a global root key with
 * `metrics:read` (a scrape config's `authorization: { credentials: … }`). The numbers span every
 * tenant, so a root key limited to one tenant is refused.
 */
export const metricsRoutes = (keygate: Keygate): FastifyPluginAsyncTypebox => async (app) => {
  app.get(
    '/metrics',
    {
      onRequest: requireScope(keygate, 'metrics:read', { instanceWide: true }),
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics of this instance (text exposition format 0.0.4)',
        description: 'Needs `metrics:read` on a root key not limited to a tenant. See docs/observability.md for the metrics and METRICS_PORT for a listener without authentication.',
        response: { 200: { description: 'Prometheus text', content: { 'text/plain': { schema: Type.String() } } }, ...ERROR_RESPONSES },
      },
    },
    async (_request, reply) => {
      const text = await keygate.metrics.registry.metrics();
      return reply.type(keygate.metrics.registry.contentType).send(text);
    },
  );
};

/** A listener that serves only `GET /metrics`, without authentication. */
export interface MetricsListener {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` without authentication on its own port (`METRICS_PORT`), for a
 * Prometheus that reaches Keygate over a private interface: bound to `METRICS_HOST`
 * (127.0.0.1 unless set), apart from the public listener, so the public port never answers it
 * without a key.
 *
 * @example
 * const listener = await listenForMetrics(keygate, { port: 9464, host: '127.0.0.1' });
 */
export async function listenForMetrics(keygate: Keygate, options: { port: number; host: string }): Promise<MetricsListener> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('only GET /metrics is served here\n');
      return;
    }
    keygate.metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': keygate.metrics.registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
      () => response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics failed\n'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
