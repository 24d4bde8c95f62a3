import { resolve } from 'node:path';
import { KeygateError } from '../domain/errors.js';

/**
 * Keygate cannot start, for a reason the operator can fix: the message says what failed, where,
 * and what to do. `keygate start` prints it alone (no stack trace) and exits non-zero.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

/**
 * `host:port/database` of a PostgreSQL URL: enough to find the server, never the user's
 * password (nor the query string, which may carry one).
 *
 * @example
 * describeDatabaseUrl('postgres://app:secret@db.internal/keygate'); // "db.internal:5432/keygate"
 */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    return `${url.hostname || 'localhost'}:${url.port || '5432'}${url.pathname.length > 1 ? url.pathname : ''}`;
  } catch {
    return 'an unparseable URL';
  }
}

/**
 * The reason a driver or file-system error gives, in one line, with the URL's password taken
 * out should a driver ever echo it. pg reports a host with several addresses (`localhost`: ::1
 * and 127.0.0.1) as an AggregateError whose own message is empty.
 */
export function causeOf(err: unknown, secret?: string): string {
  const inner = err instanceof KeygateError && err.cause !== undefined ? err.cause : err;
  const parts =
    inner instanceof AggregateError && inner.errors.length > 0
      ? inner.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e)))
      : [inner instanceof Error ? inner.message || ((inner as { code?: string }).code ?? inner.name) : String(inner)];
  const text = [...new Set(parts)].join('; ').split('\n')[0]!;
  return secret ? text.split(secret).join('***') : text;
}

/**
 * A start-up failure of the store, turned into a message that names the PostgreSQL server
 * (host, port, database) or the SQLite data directory, and the cause.
 */
export function storeStartupError(err: unknown, where: { databaseUrl: string | undefined; dataDir: string }): StartupError {
  if (where.databaseUrl) {
    const password = passwordOf(where.databaseUrl);
    const unreachable = err instanceof KeygateError && err.code === 'STORE_UNAVAILABLE';
    return new StartupError(
      `${unreachable ? 'Cannot reach' : 'Cannot use'} PostgreSQL at ${describeDatabaseUrl(where.databaseUrl)} (DATABASE_URL): ${causeOf(err, password)}. ` +
        (unreachable ? 'Check that PostgreSQL runs and that this host can reach it, then start again.' : 'Check DATABASE_URL (user, database, permissions), then start again.'),
      { cause: err },
    );
  }
  return dataDirStartupError(err, where.dataDir);
}

/** The data directory (SQLite database, generated master key) cannot be created or written. */
export function dataDirStartupError(err: unknown, dataDir: string): StartupError {
  return new StartupError(
    `Cannot write the data directory ${resolve(dataDir)} (KEYGATE_DATA_DIR): ${causeOf(err)}. ` +
      'Make it writable by the user running Keygate, or point KEYGATE_DATA_DIR elsewhere, then start again.',
    { cause: err },
  );
}

/** What to do about a listen error, by its code; errors without one stay as they are. */
const LISTEN_HINTS: Record<string, string> = {
  EADDRINUSE: 'Another process listens there: stop it or choose another port',
  EACCES: 'Ports below 1024 need privileges: choose a higher port (and put a reverse proxy in front)',
  EADDRNOTAVAIL: 'No interface of this host has that address: use 127.0.0.1, 0.0.0.0 or one of its own addresses',
};

/**
 * A failure to listen, naming the address and the settings that chose it; any other error is
 * returned as it is.
 */
export function listenStartupError(err: unknown, where: { settings: string; host: string; port: number }): unknown {
  const hint = LISTEN_HINTS[String((err as { code?: unknown })?.code)];
  if (hint === undefined) return err;
  return new StartupError(`Cannot listen on ${where.host}:${where.port} (${where.settings}): ${causeOf(err)}. ${hint}, then start again.`, { cause: err });
}

function passwordOf(databaseUrl: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(databaseUrl).password);
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}
