import { Option, type Command } from 'commander';
import { UsageError } from './cli-errors.js';
import { KeygateClient } from './client.js';

export const DEFAULT_URL = 'http://127.0.0.1:4000';

/** The options every management subcommand takes. */
export interface ConnectionFlags {
  url?: string;
  rootKey?: string;
  json?: boolean;
}

/**
 * Adds `--url`, `--root-key` and `--json` to a management subcommand. The root key is best
 * given through KEYGATE_ROOT_KEY: a flag is visible to anyone who can list processes.
 *
 * @example
 * withConnection(group.command('list')).action(...)
 */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', `Keygate server URL (default ${DEFAULT_URL})`).env('KEYGATE_URL'))
    .addOption(new Option('--root-key <key>', 'root key to authenticate with; prefer the env var').env('KEYGATE_ROOT_KEY'))
    .option('--json', 'print the JSON body exactly as the server sent it');
}

/**
 * Builds the client from the connection flags, or explains which flag is missing.
 *
 * @throws UsageError when no root key is given or the URL is not http(s).
 * @example
 * const client = connect(command.opts<ConnectionFlags>());
 */
export function connect(flags: ConnectionFlags): KeygateClient {
  const url = flags.url?.trim() || DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`--url "${url}" is not a URL; give e.g. ${DEFAULT_URL} (or set KEYGATE_URL)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`--url must be an http:// or https:// URL, not "${url}"`);
  }
  if (parsed.search || parsed.hash) throw new UsageError(`--url "${url}" must not carry a query or fragment`);
  const rootKey = flags.rootKey?.trim();
  if (!rootKey) {
    throw new UsageError('missing required option --root-key <key> (or set KEYGATE_ROOT_KEY); "keygate start" prints one at first start');
  }
  return new KeygateClient({ url: parsed.origin + parsed.pathname, rootKey });
}
