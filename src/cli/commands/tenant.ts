import { Option, type Command } from 'commander';
import { SIGNING_ALGORITHMS } from '../../domain/tokens/jwt.js';
import type { SigningAlg, Tenant } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { parseSecondsArg, required } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { UsageError } from '../cli-errors.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface CreateFlags extends ConnectionFlags {
  slug?: string;
  name?: string;
  selfSignup?: boolean;
  signingAlg?: SigningAlg;
  hs256MaxLifetime?: number;
}

interface UpdateFlags extends ConnectionFlags {
  name?: string;
  signingAlg?: string;
  selfSignup?: boolean;
  hs256MaxLifetime?: number;
}

function hs256MaxLifetimeOption(): Option {
  return new Option('--hs256-max-lifetime <duration>', 'longest lifetime of a self-issued HS256 token, e.g. 1h, 24h (server default 24h)').argParser(
    parseSecondsArg,
  );
}

/**
 * `keygate tenant create|list|get|update|delete`.
 *
 * @example
 * registerTenantCommands(program);
 */
export function registerTenantCommands(program: Command): void {
  const tenant = commandGroup(program, 'tenant', 'Create, list, change and delete tenants');

  const create = tenant
    .command('create')
    .description('Create a tenant')
    .option('--slug <slug>', 'URL name: lowercase letters, digits, dashes (required)')
    .option('--name <name>', 'display name (required)')
    .addOption(new Option('--signing-alg <alg>', 'algorithm of the tenant\'s token signing keys (server default EdDSA)').choices(SIGNING_ALGORITHMS))
    .option('--self-signup', 'let people create their own accounts on the portal (default off)')
    .addOption(hs256MaxLifetimeOption());
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const body = {
        slug: required(flags.slug, { flag: '--slug <slug>' }),
        name: required(flags.name, { flag: '--name <name>' }),
        ...(flags.signingAlg !== undefined ? { signingAlg: flags.signingAlg } : {}),
        ...(flags.selfSignup ? { selfSignup: true } : {}),
        ...(flags.hs256MaxLifetime !== undefined ? { hs256MaxLifetime: flags.hs256MaxLifetime } : {}),
      };
      showTenant(await connect(flags).request<Tenant>('POST', '/v1/tenants', { body }), flags);
    }),
  );

  withConnection(withPaging(tenant.command('list').description('List tenants').option('--search <text>', 'only tenants whose slug or name contains the text, ignoring case'))).action(
    runAction(async (flags: ConnectionFlags & PagingFlags & { search?: string }) => {
      const page = await fetchList<Tenant>(connect(flags), '/v1/tenants', { search: flags.search }, flags);
      printPage(page, flags, {
        empty: 'No tenants.',
        headers: ['SLUG', 'NAME', 'ALG', 'ID', 'CREATED'],
        row: (t) => [t.slug, t.name, t.signingAlg, t.id, t.createdAt],
      });
    }),
  );

  withConnection(tenant.command('get').description('Show one tenant').argument('<slug>', 'tenant slug')).action(
    runAction(async (slug: string, flags: ConnectionFlags) => {
      showTenant(await connect(flags).request<Tenant>('GET', `/v1/tenants/${encodeURIComponent(slug)}`), flags);
    }),
  );

  const update = tenant
    .command('update')
    .description('Change a tenant (needs the tenants:write scope)')
    .argument('<slug>', 'tenant slug')
    .option('--name <name>', 'display name')
    .option('--self-signup', 'let people create their own accounts on the portal')
    .option('--no-self-signup', 'only operators create accounts')
    .addOption(hs256MaxLifetimeOption())
    .addOption(new Option('--signing-alg <alg>', 'algorithm of the keys later rotations make (keygate signing-key rotate); the current key signs until then').choices(SIGNING_ALGORITHMS));
  withConnection(update).action(
    runAction(async (slug: string, flags: UpdateFlags) => {
      const body = {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.selfSignup !== undefined ? { selfSignup: flags.selfSignup } : {}),
        ...(flags.hs256MaxLifetime !== undefined ? { hs256MaxLifetime: flags.hs256MaxLifetime } : {}),
        ...(flags.signingAlg !== undefined ? { signingAlg: flags.signingAlg } : {}),
      };
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change; give at least one of --name, --self-signup, --no-self-signup, --hs256-max-lifetime, --signing-alg');
      showTenant(await connect(flags).request<Tenant>('PATCH', `/v1/tenants/${encodeURIComponent(slug)}`, { body }), flags);
    }),
  );

  const remove = withYes(
    tenant
      .command('delete')
      .description('Delete a tenant and everything in it (needs tenants:write); root keys limited to it are revoked')
      .argument('<slug>', 'tenant slug'),
  );
  withConnection(remove).action(
    runAction(async (slug: string, flags: ConnectionFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Delete tenant "${slug}" with its APIs, keys, clients, users, tokens, signing keys and audit log`);
      const answer = await connect(flags).request<{ deleted: string; revokedRootKeys: string[] }>('DELETE', `/v1/tenants/${encodeURIComponent(slug)}`);
      if (flags.json) return printJson(answer);
      const revoked = answer.revokedRootKeys.length;
      print(`Deleted tenant ${answer.deleted}${revoked > 0 ? `; revoked ${revoked} root key${revoked === 1 ? '' : 's'} limited to it: ${answer.revokedRootKeys.join(' ')}` : ''}.`);
    }),
  );
}

function showTenant(tenant: Tenant, flags: ConnectionFlags): void {
  if (flags.json) return printJson(tenant);
  print(
    formatFields([
      ['slug', tenant.slug],
      ['name', tenant.name],
      ['id', tenant.id],
      ['signingAlg', tenant.signingAlg],
      ['issuer', tenant.issuer],
      ['selfSignup', tenant.selfSignup ? 'yes' : 'no'],
      ['hs256MaxLifetime', `${tenant.hs256MaxLifetime}s`],
      ['createdAt', tenant.createdAt],
    ]),
  );
}
