import { Option, type Command } from 'commander';
import type { IssuedKey, KeyView, Ratelimit, Refill } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatDuration } from '../../domain/durations.js';
import {
  collect,
  collectRatelimit,
  parseCount,
  parseDurationArg,
  parseExpiryArg,
  parseJsonObject,
  parseRefill,
  required,
  tenantOption,
} from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { formatKey, keyStatus } from './key-format.js';
import { registerKeyVerify } from './key-verify.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

/** The flags `key create` and `key update` share; each maps to one field of the body. */
interface SettingsFlags extends TenantFlags {
  scope?: string[];
  consumer?: string;
  name?: string;
  expiresAt?: string;
  meta?: Record<string, unknown>;
  ratelimit?: Ratelimit[];
  credits?: number;
  refill?: Refill;
  ip?: string[];
}

interface CreateFlags extends SettingsFlags {
  api?: string;
  disabled?: boolean;
}

interface UpdateFlags extends SettingsFlags {
  enable?: boolean;
  disable?: boolean;
  clearExpiry?: boolean;
  clearCredits?: boolean;
  clearIps?: boolean;
  clearRatelimits?: boolean;
  clearName?: boolean;
  clearConsumer?: boolean;
}

interface ListFlags extends TenantFlags, PagingFlags {
  api?: string;
  consumer?: string;
  start?: string;
  name?: string;
}

interface SubkeyFlags extends TenantFlags {
  scope?: string[];
  expiresAt?: string;
  name?: string;
  meta?: Record<string, unknown>;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate key create|list|get|update|revoke|delete|roll|subkey|verify`.
 *
 * @example
 * registerKeyCommands(program);
 */
export function registerKeyCommands(program: Command): void {
  const key = commandGroup(program, 'key', 'Create, inspect, change, revoke and verify API keys');

  const create = key
    .command('create')
    .description('Create an API key (its secret is shown once)')
    .addOption(tenantOption())
    .option('--api <identifier>', 'the API the key is for (required)');
  withSettings(create, { mode: 'create' }).option('--disabled', 'create the key disabled (enable it later with key update --enable)');
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const api = required(flags.api, { flag: '--api <identifier>' });
      const body = { api, scopes: [], ...settingsBody(flags), ...(flags.disabled ? { enabled: false } : {}) };
      showIssued(await connect(flags).request<IssuedKey>('POST', keysPath(slug), { body }), flags, 'API key');
    }),
  );

  const list = key
    .command('list')
    .description('List keys, optionally of one API or consumer')
    .addOption(tenantOption())
    .option('--api <identifier>', 'only keys of this API')
    .option('--consumer <id>', 'only keys of this consumer')
    .option('--start <characters>', 'only keys whose start begins with these characters (case-sensitive), e.g. kg_QmG')
    .option('--name <text>', 'only keys whose name contains this, in any case');
  withConnection(withPaging(list)).action(
    runAction(async (flags: ListFlags) => {
      const slug = required(flags.tenant, TENANT);
      const page = await fetchList<KeyView>(connect(flags), keysPath(slug), { api: flags.api, consumer: flags.consumer, start: flags.start, name: flags.name }, flags);
      const now = Date.now();
      printPage(page, flags, {
        empty: 'No keys.',
        headers: ['ID', 'START', 'STATUS', 'API', 'CONSUMER', 'NAME', 'SCOPES', 'EXPIRES', 'LAST USED'],
        row: (k) => [k.id, k.start, keyStatus(k, { now }), k.api, k.consumer, k.name, k.scopes.join(' '), k.expiresAt ?? 'never', k.lastUsedAt ?? 'never'],
      });
    }),
  );

  withConnection(withKeyId(key.command('get').description('Show one key (never its secret)'))).action(
    runAction(async (id: string, flags: TenantFlags) => {
      showKey(await connect(flags).request<KeyView>('GET', keyPath(flags, id)), flags);
    }),
  );

  const update = withKeyId(key.command('update').description('Change a key; takes effect on the next verify'));
  withSettings(update, { mode: 'update' })
    .addOption(new Option('--enable', 'enable the key').conflicts('disable'))
    .addOption(new Option('--disable', 'disable the key (verify answers DISABLED until enabled)'))
    .addOption(new Option('--clear-expiry', 'make the key never expire').conflicts('expiresAt'))
    .addOption(new Option('--clear-credits', 'remove the usage limit').conflicts(['credits', 'refill']))
    .addOption(new Option('--clear-ips', 'remove the IP allowlist').conflicts('ip'))
    .addOption(new Option('--clear-ratelimits', 'remove every rate limit').conflicts('ratelimit'))
    .addOption(new Option('--clear-name', 'remove the name').conflicts('name'))
    .addOption(new Option('--clear-consumer', 'remove the consumer').conflicts('consumer'));
  withConnection(update).action(
    runAction(async (id: string, flags: UpdateFlags) => {
      const path = keyPath(flags, id);
      showKey(await connect(flags).request<KeyView>('PATCH', path, { body: updateBody(flags) }), flags);
    }),
  );

  withConnection(withYes(withKeyId(key.command('revoke').description('Revoke a key and all its sub-keys')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Revoke key ${id} and all its sub-keys`);
      const answer = await connect(flags).request<{ revoked: string[] }>('POST', `${keyPath(flags, id)}/revoke`);
      if (flags.json) return printJson(answer);
      print(`Revoked ${answer.revoked.length} key${answer.revoked.length === 1 ? '' : 's'}: ${answer.revoked.join(' ')}`);
    }),
  );

  withConnection(withYes(withKeyId(key.command('delete').description('Delete a key and its sub-keys for good')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Delete key ${id} and its sub-keys for good`);
      await connect(flags).request<undefined>('DELETE', keyPath(flags, id));
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: id });
      print(`Deleted key ${id} and its sub-keys.`);
    }),
  );

  const roll = withKeyId(key.command('roll').description('Issue a new secret for a key; the old one works for the grace period')).addOption(
    new Option('--grace <duration>', 'how long the old secret keeps working, e.g. 1h').argParser(parseDurationArg).default(0, '0, it stops now'),
  );
  withConnection(roll).action(
    runAction(async (id: string, flags: TenantFlags & { grace: number }) => {
      const path = `${keyPath(flags, id)}/roll`;
      const issued = await connect(flags).request<IssuedKey>('POST', path, { body: { gracePeriodMs: flags.grace } });
      showIssued(issued, flags, 'New secret');
      if (!flags.json) {
        print(flags.grace > 0 ? `The previous secret keeps working for ${formatDuration(flags.grace)}.` : 'The previous secret no longer works.');
      }
    }),
  );

  const subkey = withKeyId(key.command('subkey').description('Create a sub-key with at most the parent\'s scopes and lifetime'), 'parent key id')
    .addOption(new Option('--scope <scope>', 'a scope of the sub-key, one the parent has; repeatable').argParser(collect))
    .addOption(new Option('--expires-at <when>', 'ISO-8601 date-time or a duration from now (30d); not after the parent\'s').argParser(parseExpiryArg))
    .option('--name <name>', 'display name')
    .addOption(new Option('--meta <json>', 'JSON object returned by verify').argParser(parseJsonObject));
  withConnection(subkey).action(
    runAction(async (parentId: string, flags: SubkeyFlags) => {
      const path = `${keyPath(flags, parentId)}/subkeys`;
      const body = {
        scopes: flags.scope ?? [],
        ...(flags.expiresAt !== undefined ? { expiresAt: flags.expiresAt } : {}),
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.meta !== undefined ? { meta: flags.meta } : {}),
      };
      showIssued(await connect(flags).request<IssuedKey>('POST', path, { body }), flags, 'Sub-key');
    }),
  );

  registerKeyVerify(key);
}

/** Adds the flags that map to key settings; on update a list flag replaces the whole list. */
function withSettings(command: Command, options: { mode: 'create' | 'update' }): Command {
  const replaces = options.mode === 'update' ? ' (replaces the current ones)' : '';
  return command
    .addOption(new Option('--scope <scope>', `a scope from the API catalog; repeatable${replaces}`).argParser(collect))
    .option('--consumer <id>', 'who owns the key, e.g. a customer account id')
    .option('--name <name>', 'display name')
    .addOption(new Option('--expires-at <when>', 'ISO-8601 date-time (UTC unless an offset is given) or a duration from now: 30d, 12h').argParser(parseExpiryArg))
    .addOption(new Option('--meta <json>', `JSON object returned by verify${options.mode === 'update' ? ' (replaces the current one)' : ''}`).argParser(parseJsonObject))
    .addOption(new Option('--ratelimit <name:limit:window>', `window in ms or 1s/1m/1h, e.g. requests:100:1m; repeatable${replaces}`).argParser(collectRatelimit))
    .addOption(new Option('--credits <n>', 'uses left; each verify spends its cost').argParser(parseCount))
    .addOption(new Option('--refill <amount/interval>', 'refill credits: N/daily or N/monthly (with --credits)').argParser(parseRefill))
    .addOption(new Option('--ip <cidr>', `allow only this address or CIDR; repeatable${replaces}`).argParser(collect));
}

/** Adds the `<id>` argument and `--tenant`. */
function withKeyId(command: Command, description = 'key id'): Command {
  return command.argument('<id>', description).addOption(tenantOption());
}

function settingsBody(flags: SettingsFlags): Record<string, unknown> {
  if (flags.refill !== undefined && flags.credits === undefined) {
    throw new UsageError('--refill needs --credits <n>, the credits the key starts with');
  }
  return {
    ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
    ...(flags.consumer !== undefined ? { consumer: flags.consumer } : {}),
    ...(flags.name !== undefined ? { name: flags.name } : {}),
    ...(flags.expiresAt !== undefined ? { expiresAt: flags.expiresAt } : {}),
    ...(flags.meta !== undefined ? { meta: flags.meta } : {}),
    ...(flags.ratelimit !== undefined ? { ratelimits: flags.ratelimit } : {}),
    ...(flags.credits !== undefined ? { credits: { remaining: flags.credits, ...(flags.refill ? { refill: flags.refill } : {}) } } : {}),
    ...(flags.ip !== undefined ? { ipAllowlist: flags.ip } : {}),
  };
}

function updateBody(flags: UpdateFlags): Record<string, unknown> {
  const body: Record<string, unknown> = {
    ...settingsBody(flags),
    ...(flags.enable ? { enabled: true } : {}),
    ...(flags.disable ? { enabled: false } : {}),
    ...(flags.clearExpiry ? { expiresAt: null } : {}),
    ...(flags.clearCredits ? { credits: null } : {}),
    ...(flags.clearIps ? { ipAllowlist: null } : {}),
    ...(flags.clearRatelimits ? { ratelimits: [] } : {}),
    ...(flags.clearName ? { name: null } : {}),
    ...(flags.clearConsumer ? { consumer: null } : {}),
  };
  if (Object.keys(body).length === 0) {
    throw new UsageError('nothing to change; give at least one of --scope, --expires-at, --enable, --disable, --meta, --ratelimit, --credits, --ip, --name, --consumer or a --clear-* flag');
  }
  return body;
}

function keysPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/keys`;
}

function keyPath(flags: TenantFlags, id: string): string {
  return `${keysPath(required(flags.tenant, TENANT))}/${encodeURIComponent(id)}`;
}

function showKey(key: KeyView, flags: ConnectionFlags): void {
  if (flags.json) return printJson(key);
  print(formatKey(key, { now: Date.now() }));
}

function showIssued(issued: IssuedKey, flags: ConnectionFlags, label: string): void {
  if (flags.json) return printJson(issued);
  const { key: secret, ...view } = issued;
  print(formatKey(view, { now: Date.now() }));
  printSecret(label, secret);
}
