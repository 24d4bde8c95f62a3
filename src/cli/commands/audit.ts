import { Option, type Command } from 'commander';
import type { AuditEvent } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { required, tenantOption } from '../option-parsers.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

/**
 * `keygate audit list`: the tenant's audit events, or with `--root-keys` those of root keys,
 * oldest first.
 *
 * @example
 * registerAuditCommands(program);
 */
export function registerAuditCommands(program: Command): void {
  const audit = commandGroup(program, 'audit', 'Read the audit log');

  const list = audit
    .command('list')
    .description('List audit events of a tenant, or of root keys, oldest first')
    .addOption(tenantOption())
    // No conflict with --tenant: KEYGATE_TENANT left in the environment must not break --root-keys.
    .addOption(new Option('--root-keys', 'the audit events of root keys instead of a tenant\'s (needs a root key with every scope, for all tenants)'));
  withConnection(withPaging(list)).action(
    runAction(async (flags: ConnectionFlags & PagingFlags & { tenant?: string; rootKeys?: boolean }) => {
      const path = flags.rootKeys
        ? '/v1/root-keys/audit'
        : `/v1/tenants/${encodeURIComponent(required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' }))}/audit`;
      const page = await fetchList<AuditEvent>(connect(flags), path, {}, flags);
      printPage(page, flags, {
        empty: 'No audit events.',
        headers: ['AT', 'ACTION', 'ACTOR', 'TARGET', 'IP', 'REQUEST'],
        row: (e) => [e.at, e.action, e.actor, e.target, e.ip, e.requestId],
      });
    }),
  );
}
