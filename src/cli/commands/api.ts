import { Option, type Command } from 'commander';
import type { Api, ScopeDefinition } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields, formatTable } from '../format-table.js';
import { collectImplication, collectScopeDefinition, required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

interface CreateFlags extends TenantFlags {
  identifier?: string;
  name?: string;
  scope?: ScopeDefinition[];
  implies?: Record<string, string[]>;
  keyPrefix?: string;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate api create|list|get`: APIs and their scope catalogs.
 *
 * @example
 * registerApiCommands(program);
 */
export function registerApiCommands(program: Command): void {
  const api = commandGroup(program, 'api', 'Create and list APIs (resource servers) and their scope catalogs');

  const create = api
    .command('create')
    .description('Create an API with its scope catalog')
    .addOption(tenantOption())
    .option('--identifier <audience>', 'the API identifier (audience), e.g. https://api.example.com (required)')
    .option('--name <name>', 'display name (required)')
    .addOption(new Option('--scope <name[=description]>', 'a scope of the catalog; repeat for each').argParser(collectScopeDefinition))
    .addOption(
      new Option('--implies <scope=implied[,implied]>', 'holding scope also grants the implied ones; repeatable').argParser(collectImplication),
    )
    .option('--key-prefix <prefix>', 'prefix of this API\'s keys: a-z then up to 15 of a-z0-9 (default kg)');
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        identifier: required(flags.identifier, { flag: '--identifier <audience>' }),
        name: required(flags.name, { flag: '--name <name>' }),
        scopes: catalog(flags.scope ?? [], flags.implies ?? {}),
        ...(flags.keyPrefix !== undefined ? { keyPrefix: flags.keyPrefix } : {}),
      };
      const created = await connect(flags).request<Api>('POST', `/v1/tenants/${encodeURIComponent(slug)}/apis`, { body });
      showApi(created, flags);
    }),
  );

  withConnection(withPaging(api.command('list').description('List the APIs of a tenant').addOption(tenantOption()))).action(
    runAction(async (flags: TenantFlags & PagingFlags) => {
      const slug = required(flags.tenant, TENANT);
      const page = await fetchList<Api>(connect(flags), `/v1/tenants/${encodeURIComponent(slug)}/apis`, {}, flags);
      printPage(page, flags, {
        empty: 'No APIs.',
        headers: ['IDENTIFIER', 'NAME', 'PREFIX', 'SCOPES', 'ID'],
        row: (a) => [a.identifier, a.name, a.keyPrefix, a.scopes.map((s) => s.name).join(' '), a.id],
      });
    }),
  );

  const get = api.command('get').description('Show one API and its scope catalog').argument('<identifier>', 'API identifier').addOption(tenantOption());
  withConnection(get).action(
    runAction(async (identifier: string, flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      const path = `/v1/tenants/${encodeURIComponent(slug)}/apis/${encodeURIComponent(identifier)}`;
      showApi(await connect(flags).request<Api>('GET', path), flags);
    }),
  );
}

/** Attaches `--implies` to the scopes given with `--scope`; an implication of an unlisted scope is a typo. */
function catalog(scopes: ScopeDefinition[], implies: Record<string, string[]>): ScopeDefinition[] {
  const names = new Set(scopes.map((s) => s.name));
  for (const scope of Object.keys(implies)) {
    if (!names.has(scope)) throw new UsageError(`--implies names "${scope}", which is not one of the --scope values`);
  }
  return scopes.map((s) => (implies[s.name] ? { ...s, implies: implies[s.name]! } : s));
}

function showApi(api: Api, flags: ConnectionFlags): void {
  if (flags.json) return printJson(api);
  print(
    formatFields([
      ['identifier', api.identifier],
      ['name', api.name],
      ['tenant', api.tenant],
      ['keyPrefix', api.keyPrefix],
      ['id', api.id],
      ['createdAt', api.createdAt],
    ]),
  );
  print('');
  print(
    api.scopes.length === 0
      ? 'No scopes in the catalog.'
      : formatTable(['SCOPE', 'DESCRIPTION', 'IMPLIES'], api.scopes.map((s) => [s.name, s.description, (s.implies ?? []).join(' ')])),
  );
}
