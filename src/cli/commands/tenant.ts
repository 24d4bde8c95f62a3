import { Option, type Command } from 'commander';
import { SIGNING_ALGS, type SigningAlg, type Tenant } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields } from '../format-table.js';
import { required } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

interface CreateFlags extends ConnectionFlags {
  slug?: string;
  name?: string;
  signingAlg?: SigningAlg;
}

/**
 * `keygate tenant create|list|get`.
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
    .addOption(new Option('--signing-alg <alg>', 'algorithm of the tenant\'s token signing keys (server default EdDSA)').choices(SIGNING_ALGS));
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const body = {
        slug: required(flags.slug, { flag: '--slug <slug>' }),
        name: required(flags.name, { flag: '--name <name>' }),
        ...(flags.signingAlg !== undefined ? { signingAlg: flags.signingAlg } : {}),
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
      ['createdAt', tenant.createdAt],
    ]),
  );
}
