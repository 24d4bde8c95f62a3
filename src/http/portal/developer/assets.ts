import { readFileSync, readdirSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Keygate } from '../../../services/keygate.js';
import { tenantOf } from '../../oauth/tenant-of.js';

/**
 * The portal's scripts: plain hand-written ES modules in `src/http/portal/assets/` (copied to
 * `dist/` by the build), read once at start and served from memory. Only names listed in the
 * folder are served, so a path can never leave it.
 */
const ASSETS_DIR = new URL('../assets/', import.meta.url);

function loadAssets(): Map<string, Buffer> {
  return new Map(
    readdirSync(ASSETS_DIR)
      .filter((name) => /^[a-z0-9-]+\.js$/.test(name))
      .map((name) => [name, readFileSync(new URL(name, ASSETS_DIR))]),
  );
}

/** The URL of one portal script, for `developerPage`'s `scripts`. */
export function assetUrl(slug: string, name: string): string {
  return `/t/${slug}/portal/assets/${name}`;
}

export function assetRoutes(app: FastifyInstance, keygate: Keygate): void {
  const assets = loadAssets();
  app.get('/t/:slug/portal/assets/:name', { schema: { hide: true } }, async (request, reply) => {
    await tenantOf(keygate, request);
    const body = assets.get((request.params as { name: string }).name);
    if (body === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    return reply
      .header('cache-control', 'public, max-age=300')
      .header('x-content-type-options', 'nosniff')
      .type('text/javascript; charset=utf-8')
      .send(body);
  });
}
