import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Cluster } from './cluster/cluster.js';
import type { Clock } from './domain/clock.js';
import { loadConfig, type Config } from './config/schema.js';
import { buildApp } from './http/app.js';
import { listenForMetrics, type MetricsListener } from './http/metrics.js';
import type { Logger } from './observability/logger.js';
import { createKeygate, type Keygate } from './services/keygate.js';
import { listenStartupError } from './services/startup-errors.js';
import type { PasswordResetHook } from './services/password-reset-delivery.js';

/*
 * `keygate/server`: what opens a store and the cluster parts. Kept apart from `keygate` (the
 * offline verifier and the types) so that importing the verifier loads no database driver.
 */
export { createKeygate, type Keygate, type KeygateOptions } from './services/keygate.js';
export { StartupError } from './services/startup-errors.js';
export type { PasswordResetHook, PasswordResetMessage } from './services/password-reset-delivery.js';

export interface RunningServer {
  keygate: Keygate;
  app: FastifyInstance;
  /** The URL the server listens on (with the real port when port 0 was asked for). */
  url: string;
  /** Set at a first start without any root key: the one it made, to print once. */
  bootstrapRootKey: string | null;
  /** The unauthenticated metrics listener's URL (`METRICS_PORT`), or null when there is none. */
  metricsUrl: string | null;
  /** The gateway listener's URL (`GATEWAY_PORT`), or null when there is none. */
  gatewayUrl: string | null;
  close(): Promise<void>;
}

/**
 * Opens Keygate, builds the HTTP app and listens.
 *
 * @example
 * const server = await startServer({ port: 0 });
 * console.log(server.url);
 */
export async function startServer(
  overrides: Partial<Config> = {},
  options: {
    logger?: boolean | { level: string; stream: { write(line: string): void } };
    env?: Record<string, string | undefined>;
    onPasswordReset?: PasswordResetHook;
    /** Keygate's clock (tests move time forward to see throttle windows pass). */
    clock?: Clock;
    /** An already opened cluster (tests: Redis under their own key prefix). */
    cluster?: Cluster;
    /** Serve only the gateway (`keygate gateway`): no management, OAuth or portal listener. */
    gatewayOnly?: boolean;
  } = {},
): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const config = { ...loadConfig({ env }), ...overrides };
  // Issuer URLs must name the real port, so an ephemeral port is chosen before Keygate opens.
  if (config.port === 0) config.port = await freePort(config.host);
  // Likewise the gateway's: the portal's "Try it" sends to it, so its address must be known before it listens.
  if (config.gatewayPort === 0) config.gatewayPort = await freePort(config.gatewayHost ?? config.host);
  // And the metrics port's: it is one of Keygate's own, which no upstream may name.
  if (config.metricsPort === 0) config.metricsPort = await freePort(config.metricsHost);
  if (overrides.publicUrl === undefined && !env['PUBLIC_URL']) config.publicUrl = `http://${hostForUrl(config.host)}:${config.port}`;
  // Background failures (batched writes, deliveries) and warnings go to the server's log, so they
  // are lines like the rest; what is logged before the log exists (opening the store and Redis)
  // waits for it. Without a logger, Keygate's default logger writes them to stderr.
  let log: Logger | null = null;
  const early: Array<(to: Logger) => void> = [];
  const logger: Logger = {
    warn(message) {
      if (log) log.warn(message);
      else early.push((to) => to.warn(message));
    },
    error(details, message) {
      if (log) log.error(details, message);
      else early.push((to) => to.error(details, message));
    },
  };
  const keygate = await createKeygate({
    config,
    ...(options.logger === false ? {} : { logger }),
    ...(options.onPasswordReset ? { onPasswordReset: options.onPasswordReset } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.cluster ? { cluster: options.cluster } : {}),
  });
  const bootstrapRootKey = keygate.config.rootKey ? null : await keygate.rootKeys.bootstrapIfNone();
  const app = await buildApp(keygate, options.logger === undefined || options.logger === true ? {} : { logger: options.logger });
  log = app.log;
  for (const write of early) write(app.log);
  const gatewayHost = keygate.config.gatewayHost ?? keygate.config.host;
  // The gateway's engine (undici and its handlers) is loaded only where a gateway listens.
  const gateway =
    keygate.config.gatewayPort === undefined
      ? null
      : (await import('./http/gateway/gateway-app.js')).buildGatewayApp(keygate, keygate.gateway, options.logger === undefined || options.logger === true ? {} : { logger: options.logger });
  let metrics: MetricsListener | null = null;
  let gatewayUrl: string | null = null;
  let listening = { settings: 'HOST and PORT', host: keygate.config.host, port: keygate.config.port };
  try {
    if (!options.gatewayOnly) await app.listen({ port: keygate.config.port, host: keygate.config.host });
    if (gateway !== null) {
      listening = { settings: 'GATEWAY_HOST and GATEWAY_PORT', host: gatewayHost, port: keygate.config.gatewayPort! };
      // The routing table is read before the first request can arrive, and kept current from then on.
      await keygate.gatewayRoutes.start();
      const address = await gateway.listen({ port: keygate.config.gatewayPort!, host: gatewayHost });
      gatewayUrl = `http://${hostForUrl(gatewayHost)}:${new URL(address).port}`;
    }
    if (keygate.config.metricsPort !== undefined) {
      listening = { settings: 'METRICS_HOST and METRICS_PORT', host: keygate.config.metricsHost, port: keygate.config.metricsPort };
      metrics = await listenForMetrics(keygate, { port: keygate.config.metricsPort, host: keygate.config.metricsHost });
    }
  } catch (err) {
    await gateway?.close();
    await app.close();
    await keygate.close();
    throw listenStartupError(err, listening);
  }
  return {
    keygate,
    app,
    url: `http://${hostForUrl(keygate.config.host)}:${keygate.config.port}`,
    bootstrapRootKey,
    metricsUrl: metrics?.url ?? null,
    gatewayUrl,
    async close() {
      await metrics?.close();
      // The gateway first: requests in flight finish against a Keygate that is still open.
      await gateway?.close();
      await app.close();
      await keygate.close();
    },
  };
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
