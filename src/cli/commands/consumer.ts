import type { Command } from 'commander';
import type { NotBefore } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

/**
 * `keygate consumer revoke-tokens`: cuts off every JWT a consumer holds (JWT API keys, and
 * access tokens whose `sub` is the consumer) without touching the API keys of `keygate key`.
 *
 * @example
 * registerConsumerCommands(program);
 */
export function registerConsumerCommands(program: Command): void {
  const consumer = commandGroup(program, 'consumer', 'Act on everything one consumer holds');

  const revoke = consumer
    .command('revoke-tokens')
    .description('Revoke every JWT issued to a consumer until now')
    .argument('<consumer>', 'the consumer id (the sub claim of its tokens)')
    .addOption(tenantOption());
  withConnection(withYes(revoke)).action(
    runAction(async (id: string, flags: ConnectionFlags & ConfirmFlags & { tenant?: string }) => {
      const slug = required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' });
      await confirmDestructive(flags, `Revoke every JWT issued to consumer ${id} until now`);
      const path = `/v1/tenants/${encodeURIComponent(slug)}/consumers/${encodeURIComponent(id)}/revoke-tokens`;
      const answer = await connect(flags).request<NotBefore>('POST', path);
      if (flags.json) return printJson(answer);
      print(`Revoked every JWT issued to consumer ${id} up to ${answer.notBefore}. Tokens issued from now on are valid.`);
    }),
  );
}
