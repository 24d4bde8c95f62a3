import { InvalidArgumentError, Option, type Command } from 'commander';
import type { KeygateClient, Page } from './client.js';
import { formatTable, type Cell } from './format-table.js';
import { print, printJson } from './output.js';

/** The paging flags every list command takes. */
export interface PagingFlags {
  limit?: number;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/**
 * Adds `--limit`, `--cursor` and `--all` to a list command.
 *
 * @example
 * withPaging(withConnection(group.command('list')))
 */
export function withPaging(command: Command): Command {
  return command
    .option('--limit <n>', 'items per page, 1-100 (server default 50)', parseLimit)
    .option('--cursor <cursor>', 'continue from the nextCursor of an earlier page')
    .addOption(new Option('--all', 'follow nextCursor and list every item').conflicts('cursor'));
}

/**
 * Fetches one page, or with `--all` every page merged into one with `nextCursor: null`.
 *
 * @example
 * const page = await fetchList<Tenant>(client, '/v1/tenants', {}, flags);
 */
export async function fetchList<T>(
  client: KeygateClient,
  path: string,
  query: Record<string, string | undefined>,
  flags: PagingFlags,
): Promise<Page<T>> {
  if (flags.all) return { items: await client.listAll<T>(path, query), nextCursor: null };
  return client.request<Page<T>>('GET', path, { query: { ...query, limit: flags.limit, cursor: flags.cursor } });
}

/**
 * Prints a page: the body as JSON with `--json`, otherwise a table, then on stderr how to
 * get the next page when there is one.
 *
 * @example
 * printPage(page, flags, { empty: 'No tenants.', headers: ['SLUG', 'NAME'], row: (t) => [t.slug, t.name] });
 */
export function printPage<T>(
  page: Page<T>,
  flags: PagingFlags,
  view: { empty: string; headers: readonly string[]; row: (item: T) => readonly Cell[] },
): void {
  if (flags.json) return printJson(page);
  print(page.items.length === 0 ? view.empty : formatTable(view.headers, page.items.map(view.row)));
  if (page.nextCursor !== null) {
    process.stderr.write(`More results: repeat with --cursor ${page.nextCursor} (or --all for everything).\n`);
  }
}

/** A `--limit`: a whole number from 1 to 100, as the API's pages and breakdowns take. */
export function parseLimit(value: string): number {
  if (!/^(100|[1-9]\d?)$/.test(value.trim())) throw new InvalidArgumentError('Give a number from 1 to 100.');
  return Number(value);
}
