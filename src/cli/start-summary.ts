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
    console: string;
    gateway: string;
  };
}

/**
 * What `keygate start` (or `keygate gateway`) prints once it listens: the URLs, the store and
 * where its data is, Redis or not, the data directory, how metrics are served and where the
 * gateway is. No URL carries its password: the summary names hosts, ports, databases and paths only.
 *
 * @example
 * startSummary(config, { url: 'http://127.0.0.1:4000', metricsUrl: null, gatewayUrl: null }).fields.store; // "sqlite /srv/keygate/.keygate/keygate.db"
 */
export function startSummary(config: Config, listening: { url: string | null; metricsUrl: string | null; gatewayUrl: string | null }): StartSummary {
  const dataDir = resolve(config.dataDir);
  const store = config.databaseUrl ? `postgres ${where(config.databaseUrl, 5432)}` : `sqlite ${resolve(dataDir, 'keygate.db')}`;
  const redis = config.redisUrl ? `redis ${where(config.redisUrl, 6379)}` : 'off (rate limits and caches in this process only)';
  // `keygate gateway` serves no management API: metrics and docs are then on no port of its own.
  const url = listening.url ?? 'off (keygate gateway)';
  const metrics = listening.metricsUrl ? `${listening.metricsUrl} (no authentication)` : listening.url ? `${listening.url}/metrics (root key with metrics:read)` : 'off (set METRICS_PORT)';
  const docs = listening.url ? `${listening.url}/docs (OpenAPI: ${listening.url}/openapi.json)` : 'off (keygate gateway)';
  const consoleUrl = listening.url ? `${listening.url}/console (operators sign in here; docs/console.md)` : 'off (keygate gateway)';
  const gateway = listening.gatewayUrl ?? 'off (GATEWAY_PORT unset)';
  const head = listening.url === null ? `Keygate gateway listening on ${listening.gatewayUrl}` : `Keygate listening on ${listening.url}`;
  const tail = listening.url !== null && listening.gatewayUrl !== null ? ` · gateway ${listening.gatewayUrl}` : '';
  return {
    msg: `${head} · ${store} · ${config.redisUrl ? redis : 'no Redis'}${tail}`,
    fields: { url, publicUrl: config.publicUrl, store, redis, dataDir, metrics, docs, console: consoleUrl, gateway },
  };
}

/** `host:port/database` of a connection URL, without user or password. */
function where(url: string, defaultPort: number): string {
  const parsed = new URL(url);
  const database = parsed.pathname.replace(/^\//, '');
  return `${parsed.hostname}:${parsed.port || defaultPort}${database ? `/${database}` : ''}`;
}
