import { pino } from 'pino';

/**
 * What Keygate's services and cluster parts log through: the part of pino's API they use, so the
 * server's own pino (`app.log`) or an embedder's pino fits as it is.
 */
export interface Logger {
  warn(message: string): void;
  error(details: { err: unknown }, message: string): void;
}

/**
 * The logger of an embedded Keygate that was given none: pino, writing JSON lines to stderr
 * synchronously, so a warning written just before the process exits is not lost.
 *
 * @example
 * const keygate = await createKeygate({ logger: defaultLogger() });
 */
export function defaultLogger(): Logger {
  return pino({ name: 'keygate' }, pino.destination({ dest: 2, sync: true }));
}
