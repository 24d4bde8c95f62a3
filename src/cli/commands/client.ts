import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_AUTH_METHOD, GRANT_TYPES, TOKEN_ENDPOINT_AUTH_METHODS, isGrantType, type GrantType, type TokenEndpointAuthMethod } from '../../domain/oauth/registry.js';
import type { ClientView, IssuedClient, Jwks, NotBefore } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatDuration } from '../../domain/durations.js';
import { formatFields } from '../format-table.js';
import { collect, collectAllowance, parseDurationArg, parseJwks, required, tenantOption } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

/** The flags `client create` and `client update` share; each maps to one field of the body. */
interface SettingsFlags extends TenantFlags {
  name?: string;
  grant?: GrantType[];
  scope?: Record<string, string[]>;
  jwks?: Jwks;
  redirectUri?: string[];
  canIntrospect?: boolean;
}

interface CreateFlags extends SettingsFlags {
  authMethod?: TokenEndpointAuthMethod;
}

interface UpdateFlags extends SettingsFlags {
  clearJwks?: boolean;
  clearRedirectUris?: boolean;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/** A machine's grant: the one a new client gets unless told. */
const DEFAULT_GRANT: GrantType = 'client_credentials';

/**
 * `keygate client create|list|get|update|delete|rotate-secret|revoke-tokens`: OAuth clients
 * (machines that get access tokens from the tenant's token endpoint).
 *
 * @example
 * registerClientCommands(program);
 */
export function registerClientCommands(program: Command): void {
  const client = commandGroup(program, 'client', 'Register, change and cut off OAuth clients');

  const create = client
    .command('create')
    .description('Register an OAuth client (its secret is shown once)')
    .addOption(tenantOption())
    .option('--name <name>', 'display name (required)');
  withSettings(create, { mode: 'create' }).addOption(
    new Option('--auth-method <method>', `how the client authenticates at the token endpoint (server default ${DEFAULT_AUTH_METHOD})`).choices(TOKEN_ENDPOINT_AUTH_METHODS),
  );
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        name: required(flags.name, { flag: '--name <name>' }),
        grantTypes: [DEFAULT_GRANT],
        scopes: required(flags.scope, { flag: '--scope <api=scope[,scope]>' }),
        ...settingsBody(flags),
        ...(flags.authMethod !== undefined ? { tokenEndpointAuthMethod: flags.authMethod } : {}),
      };
      showIssued(await connect(flags).request<IssuedClient>('POST', clientsPath(slug), { body }), flags);
    }),
  );

  withConnection(
    withPaging(client.command('list').description('List the OAuth clients of a tenant').addOption(tenantOption()).option('--search <text>', 'only clients whose name or client id contains the text, ignoring case')),
  ).action(
    runAction(async (flags: TenantFlags & PagingFlags & { search?: string }) => {
      const slug = required(flags.tenant, TENANT);
      const page = await fetchList<ClientView>(connect(flags), clientsPath(slug), { search: flags.search }, flags);
      printPage(page, flags, {
        empty: 'No clients.',
        headers: ['CLIENT ID', 'NAME', 'GRANTS', 'AUTH METHOD', 'APIS', 'CREATED'],
        row: (c) => [c.clientId, c.name, c.grantTypes.join(' '), c.tokenEndpointAuthMethod, Object.keys(c.scopes).join(' '), c.createdAt],
      });
    }),
  );

  withConnection(withClientId(client.command('get').description('Show one client (never its secret)'))).action(
    runAction(async (id: string, flags: TenantFlags) => {
      showClient(await connect(flags).request<ClientView>('GET', clientPath(flags, id)), flags);
    }),
  );

  const update = withClientId(client.command('update').description('Change a client; list flags replace the whole list'));
  withSettings(update, { mode: 'update' })
    .addOption(new Option('--clear-jwks', 'remove the registered public keys').conflicts('jwks'))
    .addOption(new Option('--clear-redirect-uris', 'remove every redirect URI').conflicts('redirectUri'));
  withConnection(update).action(
    runAction(async (id: string, flags: UpdateFlags) => {
      const body: Record<string, unknown> = {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
        ...settingsBody(flags),
        ...(flags.clearJwks ? { jwks: null } : {}),
        ...(flags.clearRedirectUris ? { redirectUris: [] } : {}),
      };
      if (Object.keys(body).length === 0) {
        throw new UsageError(
          'nothing to change; give at least one of --name, --grant, --scope, --jwks, --redirect-uri, --can-introspect, --no-can-introspect or a --clear-* flag',
        );
      }
      showClient(await connect(flags).request<ClientView>('PATCH', clientPath(flags, id), { body }), flags);
    }),
  );

  withConnection(withYes(withClientId(client.command('delete').description('Delete a client; its secret stops working at once')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Delete client ${id}`);
      await connect(flags).request<undefined>('DELETE', clientPath(flags, id));
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: id });
      // Deleting does not revoke: the tokens carry no reference to the client record that verify would miss.
      print(
        `Deleted client ${id}. Tokens it was already issued stay valid until they expire; ` +
          `"keygate consumer revoke-tokens ${id}" still cuts them off (their sub is the client id).`,
      );
    }),
  );

  const rotate = withClientId(client.command('rotate-secret').description('Issue a new client secret; the old one works for the grace period')).addOption(
    new Option('--grace <duration>', 'how long the old secret keeps working, e.g. 1h (at most 30d)').argParser(parseDurationArg).default(0, '0, it stops now'),
  );
  withConnection(rotate).action(
    runAction(async (id: string, flags: TenantFlags & { grace: number }) => {
      const path = `${clientPath(flags, id)}/secret`;
      showIssued(await connect(flags).request<IssuedClient>('POST', path, { body: { gracePeriodMs: flags.grace } }), flags);
      if (!flags.json) {
        print(flags.grace > 0 ? `The previous secret keeps working for ${formatDuration(flags.grace)}.` : 'The previous secret no longer works.');
      }
    }),
  );

  withConnection(withYes(withClientId(client.command('revoke-tokens').description('Revoke every token the client was issued until now')))).action(
    runAction(async (id: string, flags: TenantFlags & ConfirmFlags) => {
      await confirmDestructive(flags, `Revoke every token issued to client ${id} until now`);
      const answer = await connect(flags).request<NotBefore>('POST', `${clientPath(flags, id)}/revoke-tokens`);
      if (flags.json) return printJson(answer);
      print(`Revoked every token issued to client ${id} up to ${answer.notBefore}. The client can still get new ones; delete it or rotate its secret to stop that.`);
    }),
  );
}

/** Adds the flags that map to client settings; on update a list flag replaces the whole list. */
function withSettings(command: Command, options: { mode: 'create' | 'update' }): Command {
  const replaces = options.mode === 'update' ? ' (replaces the current ones)' : '';
  if (options.mode === 'update') command.option('--name <name>', 'display name');
  return command
    .addOption(
      new Option('--scope <api=scope[,scope]>', `an API and the scopes the client may get for it; repeatable${options.mode === 'create' ? ' (required)' : replaces}`).argParser(
        collectAllowance,
      ),
    )
    .addOption(
      new Option('--grant <type>', `a grant type, one of ${GRANT_TYPES.join(', ')}; repeatable${options.mode === 'create' ? ` (default ${DEFAULT_GRANT})` : replaces}`).argParser(
        collectGrant,
      ),
    )
    .addOption(new Option('--jwks <json|@file>', 'public keys for private_key_jwt, as a JWK Set or @file holding one').argParser(parseJwks))
    .addOption(new Option('--redirect-uri <uri>', `a redirect URI; repeatable${replaces}`).argParser(collect))
    .option('--can-introspect', 'may introspect any token of the tenant, not only its own')
    .option('--no-can-introspect', 'may introspect only its own tokens');
}

/** Commander's `choices` would replace a custom parser, so a repeatable choice checks itself. */
function collectGrant(value: string, previous: GrantType[] | undefined): GrantType[] {
  if (!isGrantType(value)) throw new InvalidArgumentError(`Allowed choices are ${GRANT_TYPES.join(', ')}.`);
  return [...(previous ?? []), value];
}

function settingsBody(flags: SettingsFlags): Record<string, unknown> {
  return {
    ...(flags.grant !== undefined ? { grantTypes: [...new Set(flags.grant)] } : {}),
    ...(flags.jwks !== undefined ? { jwks: flags.jwks } : {}),
    ...(flags.redirectUri !== undefined ? { redirectUris: flags.redirectUri } : {}),
    ...(flags.canIntrospect !== undefined ? { canIntrospect: flags.canIntrospect } : {}),
  };
}

/** Adds the `<client-id>` argument and `--tenant`. */
function withClientId(command: Command): Command {
  return command.argument('<client-id>', 'client id').addOption(tenantOption());
}

function clientsPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/clients`;
}

function clientPath(flags: TenantFlags, id: string): string {
  return `${clientsPath(required(flags.tenant, TENANT))}/${encodeURIComponent(id)}`;
}

/**
 * A client as `field  value` lines; one `scopes` line per API, so a long allowance stays
 * readable.
 *
 * @example
 * print(formatClient(client));
 */
export function formatClient(client: ClientView): string {
  const apis = Object.entries(client.scopes);
  return formatFields([
    ['clientId', client.clientId],
    ['name', client.name],
    ['tenant', client.tenant],
    ['grantTypes', client.grantTypes.join(' ')],
    ['tokenEndpointAuthMethod', client.tokenEndpointAuthMethod],
    ...(apis.length === 0 ? [['scopes', 'none'] as const] : apis.map(([api, scopes]) => ['scopes', `${api}: ${scopes.join(' ') || '(none)'}`] as const)),
    ['jwks', client.jwks === null ? null : `${client.jwks.keys.length} key${client.jwks.keys.length === 1 ? '' : 's'}`],
    ['redirectUris', client.redirectUris.join(' ')],
    ['canIntrospect', client.canIntrospect],
    ['createdAt', client.createdAt],
    ['updatedAt', client.updatedAt],
  ]);
}

function showClient(client: ClientView, flags: ConnectionFlags): void {
  if (flags.json) return printJson(client);
  print(formatClient(client));
}

function showIssued(issued: IssuedClient, flags: ConnectionFlags): void {
  if (flags.json) return printJson(issued);
  const { clientSecret, ...view } = issued;
  print(formatClient(view));
  if (clientSecret === null) print(`\nNo client secret: a ${view.tokenEndpointAuthMethod} client does not use one.`);
  else printSecret('Client secret', clientSecret);
}
