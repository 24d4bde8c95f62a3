import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';

/** The start-up summary: one log line whose fields say where everything is. */
export interface StartSummary {
  msg: string;
  fields: {
    url: string;
    publicUrl: string;
    store: string;
    redis: string;
    dataDir: string;
    metrics: string;
    docs: string;
  };
}

/**
 * What `keygate start` prints once it listens: the URLs, the store and where its data is, Redis
 * or not, the data directory and how metrics are served. No URL carries its password: the
 * summary names hosts, ports, databases and paths only.
 *
 * @example
 * startSummary(config, { url: 'http://127.0.0.1:4000', metricsUrl: null }).fields.store; // "sqlite /srv/keygate/.keygate/keygate.db"
 */
export function startSummary(config: Config, listening: { url: string; metricsUrl: string | null }): StartSummary {
  const dataDir = resolve(config.dataDir);
  const store = config.databaseUrl ? `postgres ${where(config.databaseUrl, 5432)}` : `sqlite ${resolve(dataDir, 'keygate.db')}`;
  const redis = config.redisUrl ? `redis ${where(config.redisUrl, 6379)}` : 'off (rate limits and caches in this process only)';
  const metrics = listening.metricsUrl ? `${listening.metricsUrl} (no authentication)` : `${listening.url}/metrics (root key with metrics:read)`;
  return {
    msg: `Keygate listening on ${listening.url} · ${store} · ${config.redisUrl ? redis : 'no Redis'}`,
    fields: { url: listening.url, publicUrl: config.publicUrl, store, redis, dataDir, metrics, docs: `${listening.url}/docs (OpenAPI: ${listening.url}/openapi.json)` },
  };
}

/** `host:port/database` of a connection URL, without user or password. */
function where(url: string, defaultPort: number): string {
  const parsed = new URL(url);
  const database = parsed.pathname.replace(/^\//, '');
  return `${parsed.hostname}:${parsed.port || defaultPort}${database ? `/${database}` : ''}`;
}
