import { Option, type Command } from 'commander';
import type { RootKeyCreated } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { collect, required } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { commandGroup, runAction } from '../run-action.js';

interface CreateFlags extends ConnectionFlags {
  scope?: string[];
  tenant?: string;
  name?: string;
}

/**
 * `keygate root-key create`: management keys with some of the caller's scopes.
 *
 * @example
 * registerRootKeyCommands(program);
 */
export function registerRootKeyCommands(program: Command): void {
  const rootKey = commandGroup(program, 'root-key', 'Create management (root) keys');

  const create = rootKey
    .command('create')
    .description('Create a root key with some of your scopes (its secret is shown once)')
    .addOption(
      new Option('--scope <scope>', 'a management scope, e.g. keys:write, keys:verify, tenants:read; repeatable (required)').argParser(collect),
    )
    // Deliberately no KEYGATE_TENANT fallback: an env var left over must not silently narrow a new root key.
    .option('--tenant <slug>', 'limit the key to this one tenant (default: all tenants)')
    .option('--name <name>', 'display name');
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const body = {
        scopes: required(flags.scope, { flag: '--scope <scope>' }),
        ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
      };
      const created = await connect(flags).request<RootKeyCreated>('POST', '/v1/root-keys', { body });
      if (flags.json) return printJson(created);
      print(formatFields([['id', created.id], ['scopes', created.scopes.join(' ')], ['tenant', created.tenant ?? 'all tenants']]));
      printSecret('Root key', created.key);
    }),
  );
}
