import { Option, type Command } from 'commander';
import { SIGNING_ALGS, type SigningAlg, type Tenant } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { parseSecondsArg, required } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

interface CreateFlags extends ConnectionFlags {
  slug?: string;
  name?: string;
  signingAlg?: SigningAlg;
  hs256MaxLifetime?: number;
}

interface UpdateFlags extends ConnectionFlags {
  name?: string;
  hs256MaxLifetime?: number;
}

function hs256MaxLifetimeOption(): Option {
  return new Option('--hs256-max-lifetime <duration>', 'longest lifetime of a self-issued HS256 token, e.g. 1h, 24h (server default 24h)').argParser(
    parseSecondsArg,
  );
}

/**
 * `keygate tenant create|list|get|update`.
 *
 * @example
 * registerTenantCommands(program);
 */
export function registerTenantCommands(program: Command): void {
  const tenant = commandGroup(program, 'tenant', 'Create and list tenants');

  const create = tenant
    .command('create')
    .description('Create a tenant')
    .option('--slug <slug>', 'URL name: lowercase letters, digits, dashes (required)')
    .option('--name <name>', 'display name (required)')
    .addOption(new Option('--signing-alg <alg>', 'algorithm of the tenant\'s token signing keys (server default EdDSA)').choices(SIGNING_ALGS))
    .addOption(hs256MaxLifetimeOption());
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const body = {
        slug: required(flags.slug, { flag: '--slug <slug>' }),
        name: required(flags.name, { flag: '--name <name>' }),
        ...(flags.signingAlg !== undefined ? { signingAlg: flags.signingAlg } : {}),
        ...(flags.hs256MaxLifetime !== undefined ? { hs256MaxLifetime: flags.hs256MaxLifetime } : {}),
      };
      showTenant(await connect(flags).request<Tenant>('POST', '/v1/tenants', { body }), flags);
    }),
  );

  withConnection(withPaging(tenant.command('list').description('List tenants'))).action(
    runAction(async (flags: ConnectionFlags & PagingFlags) => {
      const page = await fetchList<Tenant>(connect(flags), '/v1/tenants', {}, flags);
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
    .description('Change a tenant (the HS256 lifetime cap needs the tenants:write scope)')
    .argument('<slug>', 'tenant slug')
    .option('--name <name>', 'display name')
    .addOption(hs256MaxLifetimeOption());
  withConnection(update).action(
    runAction(async (slug: string, flags: UpdateFlags) => {
      const body = {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.hs256MaxLifetime !== undefined ? { hs256MaxLifetime: flags.hs256MaxLifetime } : {}),
      };
      showTenant(await connect(flags).request<Tenant>('PATCH', `/v1/tenants/${encodeURIComponent(slug)}`, { body }), flags);
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
      ['hs256MaxLifetime', `${tenant.hs256MaxLifetime}s`],
      ['createdAt', tenant.createdAt],
    ]),
  );
}
