import { Option, type Command } from 'commander';
import type { UsageSeries } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatTable } from '../format-table.js';
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
}

const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const;

/**
 * `keygate usage`: a tenant's usage time series (gateway requests and verify calls), one row per
 * minute, hour or day: requests, allowed and denied, upstream status classes, latency
 * percentiles, and the denials by code.
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
    .addOption(new Option('--to <time>', 'end (exclusive), ISO-8601 (default now)').argParser(parseInstantArg));
  withConnection(usage).action(
    runAction(async (flags: UsageFlags) => {
      const slug = required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' });
      const { api, key, consumer, operation, from, to, granularity } = flags;
      const series = await connect(flags).request<UsageSeries>('GET', `/v1/tenants/${encodeURIComponent(slug)}/usage`, {
        query: { api, key, consumer, operation, from, to, granularity },
      });
      if (flags.json) return printJson(series);
      if (series.points.every((p) => p.requests === 0)) return print(`No usage from ${series.from} to ${series.to}.`);
      const rows = series.points.map((p) => {
        const allowed = p.outcomes['allowed'] ?? 0;
        const denials = Object.entries(p.outcomes)
          .filter(([outcome]) => outcome !== 'allowed')
          .map(([outcome, n]) => `${outcome}=${n}`)
          .join(' ');
        return [p.at, p.requests, allowed, p.requests - allowed, ...STATUS_CLASSES.map((c) => p.statusClasses[c] ?? 0), p.latencyMs.p50, p.latencyMs.p90, p.latencyMs.p99, denials];
      });
      print(formatTable(['AT', 'REQUESTS', 'ALLOWED', 'DENIED', '2XX', '3XX', '4XX', '5XX', 'P50 MS', 'P90 MS', 'P99 MS', 'DENIALS'], rows));
    }),
  );
}
