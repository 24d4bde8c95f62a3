import { Option, type Command } from 'commander';
import type { AuditEvent } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { parseInstantArg, required, tenantOption } from '../option-parsers.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

interface AuditFlags extends ConnectionFlags, PagingFlags {
  tenant?: string;
  rootKeys?: boolean;
  action?: string;
  actor?: string;
  target?: string;
  from?: string;
  to?: string;
}

/**
 * `keygate audit list`: the tenant's audit events, or with `--root-keys` those of root keys,
 * newest first, filtered by `--action`, `--actor`, `--target`, `--from`, `--to`. The table shows
 * a denial's reason (`data.code`) and how many occurrences an aggregated row stands for.
 *
 * @example
 * registerAuditCommands(program);
 */
export function registerAuditCommands(program: Command): void {
  const audit = commandGroup(program, 'audit', 'Read the audit log');

  const list = audit
    .command('list')
    .description('List audit events of a tenant, or of root keys, newest first')
    .addOption(tenantOption())
    // No conflict with --tenant: KEYGATE_TENANT left in the environment must not break --root-keys.
    .addOption(new Option('--root-keys', 'the audit events of root keys instead of a tenant\'s (needs a root key with every scope, for all tenants)'))
    .option('--action <action>', 'only this action, e.g. key.verify.denied')
    .option('--actor <actor>', 'only events of this actor (a root key id, verify, oauth, …)')
    .option('--target <id>', 'only events about this key, client, API or token')
    .addOption(new Option('--from <time>', 'only events at or after this ISO-8601 time (UTC unless it has an offset)').argParser(parseInstantArg))
    .addOption(new Option('--to <time>', 'only events before this ISO-8601 time (UTC unless it has an offset)').argParser(parseInstantArg));
  withConnection(withPaging(list)).action(
    runAction(async (flags: AuditFlags) => {
      const path = flags.rootKeys
        ? '/v1/root-keys/audit'
        : `/v1/tenants/${encodeURIComponent(required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' }))}/audit`;
      const { action, actor, target, from, to } = flags;
      const page = await fetchList<AuditEvent>(connect(flags), path, { action, actor, target, from, to }, flags);
      printPage(page, flags, {
        empty: 'No audit events.',
        headers: ['AT', 'ACTION', 'ACTOR', 'TARGET', 'REASON', 'COUNT', 'IP', 'REQUEST'],
        row: (e) => [e.at, e.action, e.actor, e.target, reasonOf(e), e.count, e.ip, e.requestId],
      });
    }),
  );
}

/** Why a denial was refused: verify's result code, or the reason of an authentication failure. */
function reasonOf(event: AuditEvent): string | null {
  const reason = event.data['code'] ?? event.data['reason'];
  return typeof reason === 'string' ? reason : null;
}
