import { Option, type Command } from 'commander';
import type { User } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { readStdin } from '../read-stdin.js';
import { commandGroup, runAction } from '../run-action.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

interface CreateFlags extends TenantFlags {
  email?: string;
  name?: string;
  passwordStdin?: boolean;
}

interface UpdateFlags extends TenantFlags {
  name?: string;
  clearName?: boolean;
  email?: string;
  disable?: boolean;
  enable?: boolean;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

const usersPath = (slug: string): string => `/v1/tenants/${encodeURIComponent(slug)}/users`;
const userPath = (flags: TenantFlags, id: string): string => `${usersPath(required(flags.tenant, TENANT))}/${encodeURIComponent(id)}`;

/**
 * `keygate user create|list|get|update|delete|reset-password`: the people who sign in to a
 * tenant's portal.
 *
 * @example
 * registerUserCommands(program);
 */
export function registerUserCommands(program: Command): void {
  const user = commandGroup(program, 'user', 'Create, list, change, disable and delete the people who sign in to a tenant');
  const withUserId = (command: Command): Command => command.argument('<id>', 'user id (usr_…)').addOption(tenantOption());

  const create = user
    .command('create')
    .description('Create a user who signs in with email and password (the password is read from stdin)')
    .addOption(tenantOption())
    .option('--email <email>', 'the address they sign in with (required)')
    .option('--name <name>', 'display name')
    .option('--password-stdin', 'read the password from stdin (required: a flag would show it to anyone listing processes)');
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const email = required(flags.email, { flag: '--email <email>' });
      if (flags.passwordStdin !== true) throw new UsageError('give the password on stdin with --password-stdin, e.g. keygate user create … --password-stdin < password.txt');
      const password = await readStdin({ what: 'password' });
      const body = { email, password, ...(flags.name !== undefined ? { name: flags.name } : {}) };
      showUser(await connect(flags).request<User>('POST', usersPath(slug), { body }), flags);
    }),
  );

  withConnection(
    withPaging(user.command('list').description('List the users of a tenant').addOption(tenantOption()).option('--search <text>', 'only users whose email or name contains the text, ignoring case')),
  ).action(
    runAction(async (flags: TenantFlags & PagingFlags & { search?: string }) => {
      const page = await fetchList<User>(connect(flags), usersPath(required(flags.tenant, TENANT)), { search: flags.search }, flags);
      printPage(page, flags, {
        empty: 'No users.',
        headers: ['ID', 'EMAIL', 'NAME', 'STATUS', 'CREATED'],
        row: (u) => [u.id, u.email, u.name, u.disabled ? 'disabled' : 'active', u.createdAt],
      });
    }),
  );

  withConnection(withUserId(user.command('get').description('Show one user'))).action(
    runAction(async (id: string, flags: TenantFlags) => {
      showUser(await connect(flags).request<User>('GET', userPath(flags, id)), flags);
    }),
  );

  const update = withUserId(user.command('update').description('Change a user; --disable also ends their sessions, refresh tokens and the access tokens of their grants'))
    .option('--name <name>', 'display name')
    .addOption(new Option('--clear-name', 'remove the name').conflicts('name'))
    .option('--email <email>', 'the address they sign in with')
    .addOption(new Option('--disable', 'no sign-in until enabled again').conflicts('enable'))
    .addOption(new Option('--enable', 'let a disabled user sign in again'));
  withConnection(update).action(
    runAction(async (id: string, flags: UpdateFlags) => {
      const body = {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.clearName ? { name: null } : {}),
        ...(flags.email !== undefined ? { email: flags.email } : {}),
        ...(flags.disable ? { disabled: true } : {}),
        ...(flags.enable ? { disabled: false } : {}),
      };
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change; give at least one of --name, --clear-name, --email, --disable, --enable');
      showUser(await connect(flags).request<User>('PATCH', userPath(flags, id), { body }), flags);
    }),
  );

  withConnection(withYes(withUserId(user.command('delete').description('Delete a user: sessions end, grants go, the access tokens of those grants die')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      const path = userPath(flags, id);
      await confirmDestructive(flags, `Delete user ${id} with their sessions and grants`);
      await connect(flags).request<undefined>('DELETE', path);
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: id });
      print(`Deleted user ${id}; their sessions, grants and refresh tokens ended.`);
    }),
  );

  withConnection(withUserId(user.command('reset-password').description('Send the user a password-reset link through the server\'s SMTP or webhook delivery'))).action(
    runAction(async (id: string, flags: TenantFlags) => {
      const answer = await connect(flags).request<{ sent: true; expiresAt: string }>('POST', `${userPath(flags, id)}/password-reset`);
      if (flags.json) return printJson(answer);
      print(`Sent a password-reset link to user ${id}; it works once, until ${answer.expiresAt}.`);
    }),
  );
}

function showUser(user: User, flags: ConnectionFlags): void {
  if (flags.json) return printJson(user);
  print(
    formatFields([
      ['id', user.id],
      ['email', user.email],
      ['name', user.name],
      ['status', user.disabled ? `disabled since ${user.disabledAt}` : 'active'],
      ['createdAt', user.createdAt],
    ]),
  );
}
