import type { Command } from 'commander';
import { ConfigError, SETTINGS, loadConfig, type Config } from '../config/schema.js';

/** `keygate start`: one flag per setting of the config schema, env vars as fallback. */
export function registerStart(program: Command): void {
  const start = program.command('start').description('Run the Keygate server (SQLite in ./.keygate unless DATABASE_URL is set)');
  for (const setting of SETTINGS) {
    const placeholder = setting.key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    start.option(`${setting.flag} <${placeholder}>`, `${setting.description} [env ${setting.env}]`);
  }
  start.action(async (flags: Record<string, string>) => {
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
    // Loaded here, not at the top: management subcommands should not pay for the server's imports.
    const { startServer } = await import('../server.js');
    const server = await startServer(config);
    const { keygate } = server;
    const log = server.app.log;
    log.info(`Keygate listening on ${server.url} (store: ${keygate.store.backend}, cluster: ${keygate.cluster.kind})`);
    log.info(`OpenAPI: ${server.url}/openapi.json · docs: ${server.url}/docs`);
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
    const stop = async (signal: string): Promise<void> => {
      log.info(`${signal}: shutting down`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });
}
