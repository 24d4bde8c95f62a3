import { Option, type Command } from 'commander';
import type { Consumer, GrantSpec, IssuedKey, KeyView, NotBefore, Ratelimit, Refill } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { collect, collectGrant, collectRatelimit, parseCount, parseExpiryArg, parseRefill, required, tenantOption } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { formatKey, keyStatus } from './key-format.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

interface CreateFlags extends TenantFlags {
  id?: string;
  name?: string;
  member?: string[];
  grant?: GrantSpec[];
}

interface UpdateFlags extends TenantFlags, ConfirmFlags {
  name?: string;
  member?: string[];
  addMember?: string[];
  removeMember?: string[];
  grant?: GrantSpec[];
  removeGrant?: string[];
}

interface KeyCreateFlags extends TenantFlags {
  api?: string;
  member?: string;
  scope?: string[];
  name?: string;
  expiresAt?: string;
  ip?: string[];
  ratelimit?: Ratelimit[];
  credits?: number;
  refill?: Refill;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };
const GRANT_HELP =
  "a grant: 'api=<identifier>,scopes=<scope> <scope>[,maxKeys=<n>|none][,ratelimit=<name:limit:window>][,credits=<n>[,refill=<n/monthly>]][,expires=<when>|never]'; repeatable";

const consumersPath = (slug: string): string => `/v1/tenants/${encodeURIComponent(slug)}/consumers`;
const consumerPath = (flags: TenantFlags, id: string): string => `${consumersPath(required(flags.tenant, TENANT))}/${encodeURIComponent(id)}`;

/**
 * `keygate consumer create|list|get|update|delete|key|revoke-tokens`: consumers with their
 * members and grants (docs/consumers.md), keys for their members within the grants, and cutting
 * off every JWT a consumer holds.
 *
 * @example
 * registerConsumerCommands(program);
 */
export function registerConsumerCommands(program: Command): void {
  const consumer = commandGroup(program, 'consumer', 'Consumers: their members, their grants per API, their keys');
  const withConsumerId = (command: Command): Command => command.argument('<id>', 'consumer id (con_…, or the id it was created with)').addOption(tenantOption());

  const create = consumer
    .command('create')
    .description('Create a consumer with its members and grants')
    .addOption(tenantOption())
    .option('--id <id>', "your own id for the consumer (e.g. your customer id), unique in the tenant: 1–64 of A–Z a–z 0–9 . _ : -, starting with a letter or digit; default: a generated con_… id")
    .option('--name <name>', 'display name (required)')
    .addOption(new Option('--member <user-id>', 'a user of the tenant who may create the consumer\'s keys; repeatable').argParser(collect))
    .addOption(new Option('--grant <grant>', GRANT_HELP).argParser(collectGrant));
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        ...(flags.id !== undefined ? { id: flags.id } : {}),
        name: required(flags.name, { flag: '--name <name>' }),
        members: flags.member ?? [],
        grants: flags.grant ?? [],
      };
      showConsumer(await connect(flags).request<Consumer>('POST', consumersPath(slug), { body }), flags);
    }),
  );

  const list = consumer.command('list').description('List the consumers of a tenant').addOption(tenantOption()).option('--search <text>', 'only consumers whose id or name contains this, in any case');
  withConnection(withPaging(list)).action(
    runAction(async (flags: TenantFlags & PagingFlags & { search?: string }) => {
      const page = await fetchList<Consumer>(connect(flags), consumersPath(required(flags.tenant, TENANT)), { search: flags.search }, flags);
      printPage(page, flags, {
        empty: 'No consumers.',
        headers: ['ID', 'NAME', 'MEMBERS', 'GRANTS', 'CREATED'],
        row: (c) => [c.id, c.name, c.members.length, c.grants.map((g) => g.api).join(' '), c.createdAt],
      });
    }),
  );

  withConnection(withConsumerId(consumer.command('get').description('Show a consumer with its members and grants'))).action(
    runAction(async (id: string, flags: TenantFlags) => {
      showConsumer(await connect(flags).request<Consumer>('GET', consumerPath(flags, id)), flags);
    }),
  );

  const update = withConsumerId(consumer.command('update').description("Change a consumer; a narrower grant narrows its keys at once, a removed grant revokes them"))
    .option('--name <name>', 'display name')
    .addOption(new Option('--member <user-id>', 'the members, replacing the current ones; repeatable').argParser(collect).conflicts(['addMember', 'removeMember']))
    .addOption(new Option('--add-member <user-id>', 'add a member; repeatable').argParser(collect))
    .addOption(new Option('--remove-member <user-id>', 'remove a member; repeatable').argParser(collect))
    .addOption(new Option('--grant <grant>', `${GRANT_HELP}; sets the grant of that API, fields left out keep their value`).argParser(collectGrant))
    .addOption(new Option('--remove-grant <api>', 'remove the grant of this API and revoke every key under it; repeatable').argParser(collect));
  withConnection(withYes(update)).action(
    runAction(async (id: string, flags: UpdateFlags) => {
      const path = consumerPath(flags, id);
      const client = connect(flags);
      const edits = flags.addMember ?? flags.removeMember ?? flags.grant ?? flags.removeGrant;
      const current = edits === undefined ? null : await client.request<Consumer>('GET', path);
      const body = updateBody(flags, current);
      if (flags.removeGrant !== undefined) await confirmDestructive(flags, `Remove the grants of ${flags.removeGrant.join(', ')} and revoke every key under them`);
      showConsumer(await client.request<Consumer>('PATCH', path, { body }), flags);
    }),
  );

  withConnection(withYes(withConsumerId(consumer.command('delete').description('Delete a consumer and revoke every key under its grants')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      const path = consumerPath(flags, id);
      await confirmDestructive(flags, `Delete consumer ${id} and revoke every key under its grants`);
      const answer = await connect(flags).request<{ revoked: string[] }>('DELETE', path);
      if (flags.json) return printJson({ deleted: id, ...answer });
      print(`Deleted consumer ${id}; revoked ${answer.revoked.length} key${answer.revoked.length === 1 ? '' : 's'}.`);
    }),
  );

  registerConsumerKeyCommands(consumer, withConsumerId);

  const revoke = consumer
    .command('revoke-tokens')
    .description('Revoke every JWT issued to a consumer until now')
    .argument('<consumer>', 'the consumer id (the sub claim of its tokens)')
    .addOption(tenantOption());
  withConnection(withYes(revoke)).action(
    runAction(async (id: string, flags: ConnectionFlags & ConfirmFlags & { tenant?: string }) => {
      const slug = required(flags.tenant, TENANT);
      await confirmDestructive(flags, `Revoke every JWT issued to consumer ${id} until now`);
      const path = `/v1/tenants/${encodeURIComponent(slug)}/consumers/${encodeURIComponent(id)}/revoke-tokens`;
      const answer = await connect(flags).request<NotBefore>('POST', path);
      if (flags.json) return printJson(answer);
      print(`Revoked every JWT issued to consumer ${id} up to ${answer.notBefore}. Tokens issued from now on are valid.`);
    }),
  );
}

/** `keygate consumer key create|list`: a member's keys within the consumer's grants. */
function registerConsumerKeyCommands(consumer: Command, withConsumerId: (command: Command) => Command): void {
  const key = consumer.command('key').description("The consumer's keys: create one for a member within a grant, list them");

  const create = withConsumerId(key.command('create').description("Create a key for a member within the consumer's grant on an API (its secret is shown once)"))
    .option('--api <identifier>', 'the API of one of the consumer\'s grants (required)')
    .option('--member <user-id>', 'the member the key is made for (required)')
    .addOption(new Option('--scope <scope>', 'a scope of the grant; repeatable').argParser(collect))
    .option('--name <name>', 'display name')
    .addOption(new Option('--expires-at <when>', "ISO-8601 date-time or a duration from now (30d); by the grant's expiry").argParser(parseExpiryArg))
    .addOption(new Option('--ip <cidr>', 'allow only this address or CIDR; repeatable').argParser(collect))
    .addOption(new Option('--ratelimit <name:limit:window>', "the key's own limit, on top of the grant's; repeatable").argParser(collectRatelimit))
    .addOption(new Option('--credits <n>', "the key's own credits, on top of the grant's").argParser(parseCount))
    .addOption(new Option('--refill <amount/interval>', 'refill the key\'s credits: N/daily or N/monthly (with --credits)').argParser(parseRefill));
  withConnection(create).action(
    runAction(async (id: string, flags: KeyCreateFlags) => {
      if (flags.refill !== undefined && flags.credits === undefined) throw new UsageError('--refill needs --credits <n>, the credits the key starts with');
      const body = {
        api: required(flags.api, { flag: '--api <identifier>' }),
        member: required(flags.member, { flag: '--member <user-id>' }),
        scopes: flags.scope ?? [],
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.expiresAt !== undefined ? { expiresAt: flags.expiresAt } : {}),
        ...(flags.ip !== undefined ? { ipAllowlist: flags.ip } : {}),
        ...(flags.ratelimit !== undefined ? { ratelimits: flags.ratelimit } : {}),
        ...(flags.credits !== undefined ? { credits: { remaining: flags.credits, ...(flags.refill ? { refill: flags.refill } : {}) } } : {}),
      };
      const issued = await connect(flags).request<IssuedKey>('POST', `${consumerPath(flags, id)}/keys`, { body });
      if (flags.json) return printJson(issued);
      const { key: secret, ...view } = issued;
      print(formatKey(view, { now: Date.now() }));
      printSecret('API key', secret);
    }),
  );

  withConnection(withPaging(withConsumerId(key.command('list').description("List the keys under the consumer's grants, sub-keys included")))).action(
    runAction(async (id: string, flags: TenantFlags & PagingFlags) => {
      const page = await fetchList<KeyView>(connect(flags), `${consumerPath(flags, id)}/keys`, {}, flags);
      const now = Date.now();
      printPage(page, flags, {
        empty: 'No keys.',
        headers: ['ID', 'START', 'STATUS', 'API', 'PARENT', 'NAME', 'SCOPES', 'EXPIRES', 'LAST USED'],
        row: (k) => [k.id, k.start, keyStatus(k, { now }), k.api, k.parentId, k.name, k.scopes.join(' '), k.expiresAt ?? 'never', k.lastUsedAt ?? 'never'],
      });
    }),
  );
}

/**
 * The PATCH body. Member and grant edits apply to `current` (read just before): a grant not
 * mentioned is sent with its API and scopes only, which leaves it as it is.
 */
function updateBody(flags: UpdateFlags, current: Consumer | null): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (flags.name !== undefined) body['name'] = flags.name;
  if (flags.member !== undefined) body['members'] = flags.member;
  if (current !== null && (flags.addMember !== undefined || flags.removeMember !== undefined)) {
    const removed = new Set(flags.removeMember ?? []);
    body['members'] = [...new Set([...current.members, ...(flags.addMember ?? [])])].filter((m) => !removed.has(m));
  }
  if (current !== null && (flags.grant !== undefined || flags.removeGrant !== undefined)) {
    const named = (api: string): ((g: Consumer['grants'][number]) => boolean) => (g) => g.api === api || g.apiId === api;
    for (const api of flags.removeGrant ?? []) {
      if (!current.grants.some(named(api))) throw new UsageError(`consumer ${current.id} has no grant on "${api}" to remove`);
    }
    const kept = current.grants.filter((g) => ![...(flags.removeGrant ?? []), ...(flags.grant ?? []).map((s) => s.api)].some((api) => named(api)(g)));
    body['grants'] = [...kept.map((g) => ({ api: g.apiId, scopes: g.scopes })), ...(flags.grant ?? [])];
  }
  if (Object.keys(body).length === 0) {
    throw new UsageError('nothing to change; give at least one of --name, --member, --add-member, --remove-member, --grant, --remove-grant');
  }
  return body;
}

function showConsumer(consumer: Consumer, flags: ConnectionFlags): void {
  if (flags.json) return printJson(consumer);
  const fields: [string, string][] = [
    ['id', consumer.id],
    ['name', consumer.name],
    ['members', consumer.members.length === 0 ? 'none' : consumer.members.join(' ')],
    ['created', consumer.createdAt],
    ['updated', consumer.updatedAt],
  ];
  for (const grant of consumer.grants) {
    const limits = [
      `scopes: ${grant.scopes.join(' ') || 'none'}`,
      `max keys: ${grant.maxKeys ?? 'no cap'}`,
      ...grant.ratelimits.map((r) => `limit ${r.name}: ${r.limit}/${r.duration} ms`),
      ...(grant.credits ? [`credits: ${grant.credits.remaining}${grant.credits.refill ? ` (+${grant.credits.refill.amount} ${grant.credits.refill.interval})` : ''}`] : []),
      `expires: ${grant.expiresAt ?? 'never'}`,
    ];
    fields.push([`grant ${grant.api}`, limits.join('; ')]);
  }
  print(formatFields(fields));
}
