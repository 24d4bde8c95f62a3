import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from './config/schema.js';
import { buildApp } from './http/app.js';
import { createKeygate, type Keygate } from './services/keygate.js';

export interface RunningServer {
  keygate: Keygate;
  app: FastifyInstance;
  /** The URL the server listens on (with the real port when port 0 was asked for). */
  url: string;
  /** Set at a first start without any root key: the one it made, to print once. */
  bootstrapRootKey: string | null;
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
  options: { logger?: boolean; env?: Record<string, string | undefined> } = {},
): Promise<RunningServer> {
  const base = loadConfig({ env: options.env ?? process.env });
  const keygate = await createKeygate({ config: { ...base, ...overrides } });
  const bootstrapRootKey = keygate.config.rootKey ? null : await keygate.rootKeys.bootstrapIfNone();
  const app = await buildApp(keygate, options.logger === false ? { logger: false } : {});
  try {
    await app.listen({ port: keygate.config.port, host: keygate.config.host });
  } catch (err) {
    await keygate.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : keygate.config.port;
  const host = keygate.config.host.includes(':') ? `[${keygate.config.host}]` : keygate.config.host;
  return {
    keygate,
    app,
    url: `http://${host}:${port}`,
    bootstrapRootKey,
    async close() {
      await app.close();
      await keygate.close();
    },
  };
}
