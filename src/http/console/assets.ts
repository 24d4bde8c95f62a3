import { readFileSync, readdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

/**
 * The console's scripts: its own in `src/http/console/assets/` and the portal's shared ones
 * (copy.js, jwt-decode.js), read once at start and served from memory. Only names listed in the
 * folders are served, so a path can never leave them.
 */
const FOLDERS = [new URL('./assets/', import.meta.url), new URL('../portal/assets/', import.meta.url)];

function loadAssets(): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  for (const folder of FOLDERS) {
    for (const name of readdirSync(folder)) {
      if (/^[a-z0-9-]+\.js$/.test(name) && !assets.has(name)) assets.set(name, readFileSync(new URL(name, folder)));
    }
  }
  return assets;
}

export function consoleAssetRoutes(app: FastifyInstance): void {
  const assets = loadAssets();
  app.get('/console/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    const body = assets.get((request.params as { name: string }).name);
    if (body === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    return reply.header('cache-control', 'public, max-age=300').header('x-content-type-options', 'nosniff').type('text/javascript; charset=utf-8').send(body);
  });
}
