import { Option, type Command } from 'commander';
import type { RootKeyCreated, RootKeyView } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatDuration } from '../../domain/durations.js';
import { formatFields } from '../format-table.js';
import { collect, parseDurationArg, required } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface CreateFlags extends ConnectionFlags {
  scope?: string[];
  tenant?: string;
  name?: string;
}

/**
 * `keygate root-key create|list|get|revoke|delete|roll`: management keys. The server shows and
 * acts only on root keys the calling key could have created (its scopes or fewer, its tenant).
 *
 * @example
 * registerRootKeyCommands(program);
 */
export function registerRootKeyCommands(program: Command): void {
  const rootKey = commandGroup(program, 'root-key', 'Create, list, roll and revoke management (root) keys');

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
      showIssued(await connect(flags).request<RootKeyCreated>('POST', '/v1/root-keys', { body }), flags, 'Root key');
    }),
  );

  const list = rootKey.command('list').description('List the root keys you could have created (never their secrets)');
  withConnection(withPaging(list)).action(
    runAction(async (flags: ConnectionFlags & PagingFlags) => {
      const page = await fetchList<RootKeyView>(connect(flags), '/v1/root-keys', {}, flags);
      printPage(page, flags, {
        empty: 'No root keys.',
        headers: ['ID', 'START', 'STATUS', 'TENANT', 'NAME', 'SCOPES', 'CREATED', 'LAST USED'],
        row: (k) => [k.id, k.start, status(k), k.tenant ?? 'all', k.name, k.scopes.join(' '), k.createdAt, k.lastUsedAt ?? 'never'],
      });
    }),
  );

  withConnection(rootKey.command('get').description('Show one root key (never its secret)').argument('<id>', 'root key id')).action(
    runAction(async (id: string, flags: ConnectionFlags) => {
      showRootKey(await connect(flags).request<RootKeyView>('GET', rootKeyPath(id)), flags);
    }),
  );

  withConnection(withYes(rootKey.command('revoke').description('Revoke a root key: it answers 401 from now on').argument('<id>', 'root key id'))).action(
    runAction(async (id: string, flags: ConnectionFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Revoke root key ${id}`);
      showRootKey(await connect(flags).request<RootKeyView>('POST', `${rootKeyPath(id)}/revoke`), flags);
    }),
  );

  withConnection(withYes(rootKey.command('delete').description('Delete a root key for good').argument('<id>', 'root key id'))).action(
    runAction(async (id: string, flags: ConnectionFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Delete root key ${id}`);
      await connect(flags).request<undefined>('DELETE', rootKeyPath(id));
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: id });
      print(`Deleted root key ${id}.`);
    }),
  );

  const roll = rootKey
    .command('roll')
    .description('Issue a new secret for a root key; the old one works for the grace period')
    .argument('<id>', 'root key id')
    .addOption(new Option('--grace <duration>', 'how long the old secret keeps working, e.g. 1h').argParser(parseDurationArg).default(0, '0, it stops now'));
  withConnection(roll).action(
    runAction(async (id: string, flags: ConnectionFlags & { grace: number }) => {
      const issued = await connect(flags).request<RootKeyCreated>('POST', `${rootKeyPath(id)}/roll`, { body: { gracePeriodMs: flags.grace } });
      showIssued(issued, flags, 'New secret');
      if (!flags.json) {
        print(flags.grace > 0 ? `The previous secret keeps working for ${formatDuration(flags.grace)}.` : 'The previous secret no longer works.');
      }
    }),
  );
}

function rootKeyPath(id: string): string {
  return `/v1/root-keys/${encodeURIComponent(id)}`;
}

function status(key: RootKeyView): string {
  return key.revokedAt === null ? 'active' : 'revoked';
}

function fields(key: RootKeyView): string {
  return formatFields([
    ['id', key.id],
    ['name', key.name ?? ''],
    ['start', key.start],
    ['status', status(key)],
    ['scopes', key.scopes.join(' ')],
    ['tenant', key.tenant ?? 'all tenants'],
    ['created', key.createdAt],
    ['revoked', key.revokedAt ?? ''],
    ['last used', key.lastUsedAt ?? 'never'],
  ]);
}

function showRootKey(key: RootKeyView, flags: ConnectionFlags): void {
  if (flags.json) return printJson(key);
  print(fields(key));
}

function showIssued(issued: RootKeyCreated, flags: ConnectionFlags, label: string): void {
  if (flags.json) return printJson(issued);
  const { key: secret, ...view } = issued;
  print(fields(view));
  printSecret(label, secret);
}
