import { Option, type Command } from 'commander';
import type { UsageBreakdown, UsageSeries } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatTable } from '../format-table.js';
import { parseLimit } from '../paging.js';
import { parseInstantArg, required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { runAction } from '../run-action.js';

interface UsageFlags extends ConnectionFlags {
  tenant?: string;
  api?: string;
  key?: string;
  consumer?: string;
  operation?: string;
  from?: string;
  to?: string;
  granularity?: string;
  by?: 'key' | 'consumer' | 'operation';
  limit?: number;
}

const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

/**
 * `keygate usage`: a tenant's usage time series (gateway requests and verify calls), one row per
 * minute, hour or day: requests, allowed and denied, upstream status classes, latency
 * percentiles, and the denials by code. With `--by`, the busiest keys, consumers or operations
 * over the same range instead, one row each (`GET …/usage/breakdown`).
 *
 * @example
 * registerUsageCommand(program);
 */
export function registerUsageCommand(program: Command): void {
  const usage = program
    .command('usage')
    .description('Show usage time series of a tenant: requests by outcome and status class, latency percentiles')
    .addOption(tenantOption())
    .option('--api <identifier>', 'only this API (identifier or id)')
    .option('--key <id>', 'only requests made with this key id')
    .option('--consumer <consumer>', 'only requests of keys of this consumer')
    .option('--operation <operation>', 'only this gateway operation (operationId, else "METHOD /template")')
    .addOption(new Option('--granularity <size>', 'bucket size (default hour)').choices(['minute', 'hour', 'day']))
    .addOption(new Option('--from <time>', 'start, ISO-8601 (default: an hour, a day or 30 days before --to)').argParser(parseInstantArg))
    .addOption(new Option('--to <time>', 'end (exclusive), ISO-8601 (default now)').argParser(parseInstantArg))
    .addOption(new Option('--by <what>', 'instead of the series: the busiest keys, consumers or operations, each by outcome').choices(['key', 'consumer', 'operation']))
    .option('--limit <n>', 'with --by: how many, 1-100 (default 10)', parseLimit);
  withConnection(usage).action(
    runAction(async (flags: UsageFlags) => {
      const slug = required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' });
      const { api, key, consumer, operation, from, to, granularity, by, limit } = flags;
      if (by !== undefined) {
        const breakdown = await connect(flags).request<UsageBreakdown>('GET', `/v1/tenants/${encodeURIComponent(slug)}/usage/breakdown`, {
          query: { api, key, consumer, operation, from, to, granularity, by, limit },
        });
        return printBreakdown(breakdown, flags);
      }
      if (limit !== undefined) throw new UsageError('--limit goes with --by: the series has one row per bucket');
      const series = await connect(flags).request<UsageSeries>('GET', `/v1/tenants/${encodeURIComponent(slug)}/usage`, {
        query: { api, key, consumer, operation, from, to, granularity },
      });
      if (flags.json) return printJson(series);
      if (series.points.every((p) => p.requests === 0)) return print(`No usage from ${series.from} to ${series.to}.`);
      const rows = series.points.map((p) => {
        const allowed = p.outcomes['allowed'] ?? 0;
        return [p.at, p.requests, allowed, p.requests - allowed, ...STATUS_CLASSES.map((c) => p.statusClasses[c] ?? 0), p.latencyMs.p50, p.latencyMs.p90, p.latencyMs.p99, denialsOf(p.outcomes)];
      });
      print(formatTable(['AT', 'REQUESTS', 'ALLOWED', 'DENIED', '2XX', '3XX', '4XX', '5XX', 'P50 MS', 'P90 MS', 'P99 MS', 'DENIALS'], rows));
    }),
  );
}

function printBreakdown(breakdown: UsageBreakdown, flags: UsageFlags): void {
  if (flags.json) return printJson(breakdown);
  if (breakdown.items.length === 0) return print(`No usage from ${breakdown.from} to ${breakdown.to}.`);
  const rows = breakdown.items.map((item) => {
    const allowed = item.outcomes['allowed'] ?? 0;
    return [item.name ?? '-', item.requests, allowed, item.requests - allowed, denialsOf(item.outcomes)];
  });
  print(formatTable([breakdown.by.toUpperCase(), 'REQUESTS', 'ALLOWED', 'DENIED', 'DENIALS'], rows));
  if (breakdown.total > breakdown.items.length) print(`The ${breakdown.items.length} busiest of ${breakdown.total}.`);
}

/** The denials of an outcome count by code: `INSUFFICIENT_SCOPE=2 RATE_LIMITED=104`. */
function denialsOf(outcomes: Record<string, number>): string {
  return Object.entries(outcomes)
    .filter(([outcome]) => outcome !== 'allowed')
    .map(([outcome, n]) => `${outcome}=${n}`)
    .join(' ');
}
