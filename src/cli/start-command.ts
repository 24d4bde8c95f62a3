import cluster from 'node:cluster';
import type { Command } from 'commander';
import { ConfigError, SETTINGS, loadConfig, plaintextDeliveryWarnings, type Config } from '../config/schema.js';
import { ALL_MANAGEMENT_SCOPES } from '../domain/management.js';
import { startSummary } from './start-summary.js';
import { StartupError } from '../services/startup-errors.js';

/**
 * `keygate start` (every surface, and the gateway when GATEWAY_PORT is set) and `keygate gateway`
 * (the gateway alone, on GATEWAY_PORT): one flag per setting of the config schema, env vars as
 * fallback.
 */
export function registerStart(program: Command): void {
  const start = program.command('start').description('Run the Keygate server (SQLite in ./.keygate unless DATABASE_URL is set)');
  const gateway = program.command('gateway').description('Run only the gateway on GATEWAY_PORT: requests to the APIs behind it, checked and forwarded (docs/gateway.md)');
  for (const command of [start, gateway]) {
    for (const setting of SETTINGS) {
      const placeholder = setting.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      command.option(`${setting.flag} <${placeholder}>`, `${setting.description} [env ${setting.env}]`);
    }
  }
  start.action((flags: Record<string, string>) => run(flags, { gatewayOnly: false }));
  gateway.action((flags: Record<string, string>) => run(flags, { gatewayOnly: true }));
}

async function run(flags: Record<string, string>, mode: { gatewayOnly: boolean }): Promise<void> {
  const given: Partial<Record<keyof Config, string>> = {};
  for (const setting of SETTINGS) if (flags[setting.key] !== undefined) given[setting.key] = flags[setting.key]!;
  let config: Config;
  try {
    config = loadConfig({ env: process.env, flags: given });
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  if (mode.gatewayOnly && config.gatewayPort === undefined) {
    console.error('keygate gateway: set GATEWAY_PORT (or --gateway-port) to the port the gateway listens on');
    process.exit(2);
  }
  // `--workers N`: this process supervises N workers running this same command (start-workers.ts).
  const workers = config.workers > 1 ? await import('./start-workers.js') : null;
  if (workers !== null && cluster.isPrimary) return workers.superviseWorkers(config, mode);
  // Loaded here, not at the top: management subcommands should not pay for the server's imports.
  const { startServer } = await import('../server.js');
  const publicUrlGiven = given.publicUrl !== undefined || Boolean(process.env['PUBLIC_URL']);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    // Without PUBLIC_URL the server derives it once the port is known (`--port 0` picks one).
    const { publicUrl: _derived, ...settings } = config;
    server = await startServer(publicUrlGiven ? config : settings, { gatewayOnly: mode.gatewayOnly });
  } catch (err) {
    // The message says what failed, where and what to do; a stack trace would bury it.
    if (err instanceof StartupError) {
      console.error(`keygate: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const { keygate } = server;
  const log = server.app.log;
  // Before anything says "listening": a SIGTERM sent on reading the summary must find its
  // handler, not Node's default, which ends the process before it has shut down.
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    // A worker may be told twice (its own signal, and the primary's request): one shutdown.
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  if (isWildcardHost(config.host) && !publicUrlGiven) {
    log.warn(
      `HOST is ${config.host} and PUBLIC_URL is not set: tenant issuers, metadata and links say ${keygate.publicUrl}, which clients cannot reach. ` +
        'Set PUBLIC_URL to the URL clients use (e.g. https://keygate.example.com).',
    );
  }
  if (server.metricsUrl !== null && isWildcardHost(keygate.config.metricsHost)) {
    log.warn(
      `METRICS_HOST is ${keygate.config.metricsHost}: anyone who can reach this host reads ${server.metricsUrl} without a key. ` +
        'Bind it to an address only Prometheus reaches (docs/observability.md).',
    );
  }
  for (const warning of plaintextDeliveryWarnings(keygate.config)) log.warn(warning);
  const summary = startSummary(keygate.config, { url: mode.gatewayOnly ? null : server.url, metricsUrl: server.metricsUrl, gatewayUrl: server.gatewayUrl });
  log.info(summary.fields, summary.msg);
  if (!keygate.users.resetsEnabled) {
    log.info('Password reset is disabled: set SMTP_URL and SMTP_FROM, or KEYGATE_WEBHOOK_URL and KEYGATE_WEBHOOK_SECRET (docs/people.md)');
  }
  if (server.bootstrapRootKey) {
    process.stdout.write(
      [
        '',
        '  No root key existed, so Keygate created one. It is shown only this once:',
        '',
        `    ${server.bootstrapRootKey}`,
        '',
        '  Use it as "Authorization: Bearer <key>", or export KEYGATE_ROOT_KEY=<key> for the CLI.',
        '',
      ].join('\n') + '\n',
    );
  }
  if (!mode.gatewayOnly && (await keygate.operators.list({ scopes: new Set(ALL_MANAGEMENT_SCOPES), tenant: null }, { after: null, limit: 1 })).items.length === 0) {
    log.info(
      `The console is at ${keygate.publicUrl}/console. No operator exists yet; create the first with the root key: ` +
        'KEYGATE_ROOT_KEY=<root key> keygate operator create --email you@example.com --scope tenants:write --scope apis:write --scope keys:write ' +
        '--scope consumers:write --scope clients:write --scope users:write --scope tokens:write --scope audit:read --scope usage:read --scope keys:verify. ' +
        '(keygate is node dist/cli/main.js, or on your PATH after npm link). It prints a password once: sign in with it (docs/console.md).',
    );
  }
  workers?.joinPrimary({ registry: keygate.metrics.registry, stop: (signal) => void stop(signal) });
}

/** An address that means "every interface": fine to listen on, never a URL a client can use. */
function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}
