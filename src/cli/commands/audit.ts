import type { Command } from 'commander';
import type { AuditEvent } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { required, tenantOption } from '../option-parsers.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

/**
 * `keygate audit list`: the tenant's audit events, oldest first.
 *
 * @example
 * registerAuditCommands(program);
 */
export function registerAuditCommands(program: Command): void {
  const audit = commandGroup(program, 'audit', 'Read the audit log');

  const list = audit.command('list').description('List audit events of a tenant, oldest first').addOption(tenantOption());
  withConnection(withPaging(list)).action(
    runAction(async (flags: ConnectionFlags & PagingFlags & { tenant?: string }) => {
      const slug = required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' });
      const page = await fetchList<AuditEvent>(connect(flags), `/v1/tenants/${encodeURIComponent(slug)}/audit`, {}, flags);
      printPage(page, flags, {
        empty: 'No audit events.',
        headers: ['AT', 'ACTION', 'ACTOR', 'TARGET', 'IP', 'REQUEST'],
        row: (e) => [e.at, e.action, e.actor, e.target, e.ip, e.requestId],
      });
    }),
  );
}
