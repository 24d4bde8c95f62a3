import { Option, type Command } from 'commander';
import type { OperatorView, OperatorWithPassword } from '../api-types.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { collect, required } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { readStdin } from '../read-stdin.js';
import { commandGroup, runAction } from '../run-action.js';

interface CreateFlags extends ConnectionFlags {
  email?: string;
  scope?: string[];
  tenant?: string;
  name?: string;
  passwordStdin?: boolean;
}

interface ResetFlags extends ConnectionFlags {
  passwordStdin?: boolean;
}

/**
 * `keygate operator create|list|get|disable|enable|reset|delete`: the people who sign in to the
 * console. An operator holds management scopes like a root key, and the server shows and acts
 * only on operators the calling key could have created (its scopes or fewer, its tenant).
 *
 * @example
 * registerOperatorCommands(program);
 */
export function registerOperatorCommands(program: Command): void {
  const operator = commandGroup(program, 'operator', 'Create, list, disable, reset and delete the people who sign in to the console');
  const withId = (command: Command): Command => command.argument('<id>', 'operator id (usr_…)');

  const create = operator
    .command('create')
    .description('Create an operator with some of your scopes (a generated password is shown once)')
    .option('--email <email>', 'the address they sign in with (required)')
    .addOption(new Option('--scope <scope>', 'a management scope, e.g. keys:write, tenants:read; repeatable (required)').argParser(collect))
    // Deliberately no KEYGATE_TENANT fallback: an env var left over must not silently narrow a new operator.
    .option('--tenant <slug>', 'limit the operator to this one tenant (default: all tenants, or your key\'s tenant)')
    .option('--name <name>', 'display name')
    .option('--password-stdin', 'read the password from stdin instead of generating one');
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const body = {
        email: required(flags.email, { flag: '--email <email>' }),
        scopes: required(flags.scope, { flag: '--scope <scope>' }),
        ...(flags.tenant !== undefined ? { tenant: flags.tenant } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.passwordStdin ? { password: await readStdin({ what: 'password' }) } : {}),
      };
      showWithPassword(await connect(flags).request<OperatorWithPassword>('POST', '/v1/operators', { body }), flags);
    }),
  );

  withConnection(withPaging(operator.command('list').description('List the operators you could have created'))).action(
    runAction(async (flags: ConnectionFlags & PagingFlags) => {
      const page = await fetchList<OperatorView>(connect(flags), '/v1/operators', {}, flags);
      printPage(page, flags, {
        empty: 'No operators.',
        headers: ['ID', 'EMAIL', 'NAME', 'STATUS', 'TENANT', 'SCOPES', 'CREATED'],
        row: (o) => [o.id, o.email, o.name, status(o), o.tenant ?? 'all', o.scopes.join(' '), o.createdAt],
      });
    }),
  );

  withConnection(withId(operator.command('get').description('Show one operator'))).action(
    runAction(async (id: string, flags: ConnectionFlags) => {
      showOperator(await connect(flags).request<OperatorView>('GET', operatorPath(id)), flags);
    }),
  );

  withConnection(withId(operator.command('disable').description('Disable an operator: no sign-in until enabled again, and their console sessions end now'))).action(
    runAction(async (id: string, flags: ConnectionFlags) => {
      showOperator(await connect(flags).request<OperatorView>('PATCH', operatorPath(id), { body: { disabled: true } }), flags);
    }),
  );

  withConnection(withId(operator.command('enable').description('Let a disabled operator sign in again'))).action(
    runAction(async (id: string, flags: ConnectionFlags) => {
      showOperator(await connect(flags).request<OperatorView>('PATCH', operatorPath(id), { body: { disabled: false } }), flags);
    }),
  );

  const reset = withId(operator.command('reset').description("Set a new password (generated and shown once); the operator's console sessions end")).option(
    '--password-stdin',
    'read the new password from stdin instead of generating one',
  );
  withConnection(reset).action(
    runAction(async (id: string, flags: ResetFlags) => {
      const body = flags.passwordStdin ? { password: await readStdin({ what: 'password' }) } : {};
      showWithPassword(await connect(flags).request<OperatorWithPassword>('POST', `${operatorPath(id)}/password`, { body }), flags);
    }),
  );

  withConnection(withYes(withId(operator.command('delete').description('Delete an operator for good; their console sessions end')))).action(
    runAction(async (id: string, flags: ConnectionFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Delete operator ${id}`);
      await connect(flags).request<undefined>('DELETE', operatorPath(id));
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: id });
      print(`Deleted operator ${id}; their console sessions ended.`);
    }),
  );
}

function operatorPath(id: string): string {
  return `/v1/operators/${encodeURIComponent(id)}`;
}

function status(operator: OperatorView): string {
  return operator.disabled ? 'disabled' : 'active';
}

function fields(operator: OperatorView): string {
  return formatFields([
    ['id', operator.id],
    ['email', operator.email],
    ['name', operator.name ?? ''],
    ['status', operator.disabled ? `disabled since ${operator.disabledAt}` : 'active'],
    ['scopes', operator.scopes.join(' ')],
    ['tenant', operator.tenant ?? 'all tenants'],
    ['created', operator.createdAt],
  ]);
}

function showOperator(operator: OperatorView, flags: ConnectionFlags): void {
  if (flags.json) return printJson(operator);
  print(fields(operator));
}

function showWithPassword(answer: OperatorWithPassword, flags: ConnectionFlags): void {
  if (flags.json) return printJson(answer);
  const { password, ...view } = answer;
  print(fields(view));
  if (password !== undefined) printSecret('Password', password, { kept: 'only its scrypt hash' });
}

