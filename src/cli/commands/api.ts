import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Option, type Command } from 'commander';
import { CORS_PREFLIGHT_MODES, type CorsPreflight } from '../../domain/gateway/settings.js';
import type { Api, ApiDocument, RefreshTokens, ScopeDefinition } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields, formatTable } from '../format-table.js';
import { formatDuration } from '../../domain/durations.js';
import { collectExternalIssuer, collectImplication, collectScopeDefinition, parseSecondsArg, required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

/** Token settings, in seconds as the server keeps them; `create` and `update` share them. */
interface TokenSettingsFlags {
  accessTokenTtl?: number;
  refreshTokens?: boolean;
  refreshIdleTtl?: number;
  refreshAbsoluteTtl?: number;
  refreshReuseInterval?: number;
}

/** Gateway settings; `false` from a --no-… flag clears the setting. */
interface GatewayFlags {
  upstream?: string | false;
  gatewayHosts?: string;
  externalIssuer?: { issuer: string; jwksUri: string; audience?: string }[];
  /** `--no-external-issuers` alone sets it (false); commander defaults a lone --no-… flag to true. */
  externalIssuers?: boolean;
  phantomToken?: boolean;
  credentialHeader?: string | false;
  credentialQuery?: string | false;
  passthrough?: boolean;
  corsPreflight?: CorsPreflight;
}

interface CreateFlags extends TenantFlags, TokenSettingsFlags, GatewayFlags {
  identifier?: string;
  name?: string;
  scope?: ScopeDefinition[];
  implies?: Record<string, string[]>;
  keyPrefix?: string;
}

interface UpdateFlags extends TenantFlags, TokenSettingsFlags, GatewayFlags {
  name?: string;
  scope?: ScopeDefinition[];
  implies?: Record<string, string[]>;
  force?: boolean;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate api create|list|get|update|delete`: APIs and their scope catalogs.
 *
 * @example
 * registerApiCommands(program);
 */
export function registerApiCommands(program: Command): void {
  const api = commandGroup(program, 'api', 'Create, list and change APIs (resource servers) and their scope catalogs');

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
  withTokenSettings(create);
  withGatewaySettings(create);
  withConnection(create).action(
    runAction(async (flags: CreateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        identifier: required(flags.identifier, { flag: '--identifier <audience>' }),
        name: required(flags.name, { flag: '--name <name>' }),
        scopes: catalog(flags.scope ?? [], flags.implies ?? {}),
        ...(flags.keyPrefix !== undefined ? { keyPrefix: flags.keyPrefix } : {}),
        ...tokenSettingsBody(flags),
        ...gatewaySettingsBody(flags),
      };
      const created = await connect(flags).request<Api>('POST', `/v1/tenants/${encodeURIComponent(slug)}/apis`, { body });
      showApi(created, flags);
    }),
  );

  withConnection(withPaging(api.command('list').description('List the APIs of a tenant').addOption(tenantOption()).option('--search <text>', 'only APIs whose identifier or name contains the text, any case'))).action(
    runAction(async (flags: TenantFlags & PagingFlags & { search?: string }) => {
      const slug = required(flags.tenant, TENANT);
      const page = await fetchList<Api>(connect(flags), `/v1/tenants/${encodeURIComponent(slug)}/apis`, { search: flags.search }, flags);
      printPage(page, flags, {
        empty: 'No APIs.',
        headers: ['IDENTIFIER', 'NAME', 'PREFIX', 'SCOPES', 'ID'],
        row: (a) => [a.identifier, a.name, a.keyPrefix, a.scopes.map((s) => s.name).join(' '), a.id],
      });
    }),
  );

  const get = api.command('get').description('Show one API and its scope catalog').argument('<identifier>', 'API identifier or id (api_…)').addOption(tenantOption());
  withConnection(get).action(
    runAction(async (identifier: string, flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      showApi(await connect(flags).request<Api>('GET', apiPath(slug, identifier)), flags);
    }),
  );

  const update = api
    .command('update')
    .description('Change an API\'s name, scope catalog, token lifetimes or gateway settings')
    .argument('<identifier>', 'API identifier')
    .addOption(tenantOption())
    .option('--name <name>', 'display name')
    .addOption(new Option('--scope <name[=description]>', 'a scope of the new catalog; repeat for each (replaces the whole catalog)').argParser(collectScopeDefinition))
    .addOption(new Option('--implies <scope=implied[,implied]>', 'an implication of the new catalog; needs --scope; repeatable').argParser(collectImplication))
    .option('--force', 'when the new catalog drops scopes keys, JWT API keys or clients hold, narrow the keys and clients and revoke those JWT API keys (without it the change is refused with their count)');
  withTokenSettings(update);
  withGatewaySettings(update);
  withConnection(update).action(
    runAction(async (identifier: string, flags: UpdateFlags) => {
      const slug = required(flags.tenant, TENANT);
      if (flags.implies !== undefined && flags.scope === undefined) {
        throw new UsageError('--implies needs --scope: the catalog is replaced as a whole, so give every scope again');
      }
      const body = {
        ...(flags.name !== undefined ? { name: flags.name } : {}),
        ...(flags.scope !== undefined ? { scopes: catalog(flags.scope, flags.implies ?? {}) } : {}),
        ...tokenSettingsBody(flags),
        ...gatewaySettingsBody(flags),
      };
      if (Object.keys(body).length === 0) {
        throw new UsageError(
          'nothing to change; give at least one of --name, --scope, --access-token-ttl, --refresh-tokens, --no-refresh-tokens, --refresh-idle-ttl, --refresh-absolute-ttl, or a gateway setting (--upstream, --gateway-hosts, --external-issuer, --phantom-token, --credential-header, --credential-query, --passthrough and their --no-… forms, --cors-preflight)',
        );
      }
      const path = `${apiPath(slug, identifier)}${flags.force ? '?force=true' : ''}`;
      showApi(await connect(flags).request<Api>('PATCH', path, { body }), flags);
    }),
  );

  const remove = withYes(
    api
      .command('delete')
      .description('Delete an API; refused while keys or clients use it, unless --force')
      .argument('<identifier>', 'API identifier or id (api_…)')
      .addOption(tenantOption())
      .option('--force', 'delete it although keys, JWT API keys or clients use it: its keys go with it, its JWT API keys are revoked, clients lose their allowance for it'),
  );
  withConnection(remove).action(
    runAction(async (identifier: string, flags: TenantFlags & ConfirmFlags & { force?: boolean }) => {
      const slug = required(flags.tenant, TENANT);
      await confirmDestructive(flags, `Delete API ${identifier}${flags.force ? ' with every key, JWT API key and client allowance that uses it' : ''}`);
      await connect(flags).request<undefined>('DELETE', `${apiPath(slug, identifier)}${flags.force ? '?force=true' : ''}`);
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ deleted: identifier });
      print(`Deleted API ${identifier}.`);
    }),
  );

  const openapi = commandGroup(api, 'openapi', 'Upload or show the OpenAPI document whose operations the gateway enforces for an API');
  const set = openapi
    .command('set')
    .description('Upload the API\'s OpenAPI 3.0/3.1 document (JSON or YAML) and show the operations compiled from it')
    .argument('<identifier>', 'API identifier or id (api_…)')
    .addOption(tenantOption())
    .option('--file <path>', 'the document; .yaml/.yml is sent as YAML, anything else as JSON (required)');
  withConnection(set).action(
    runAction(async (identifier: string, flags: TenantFlags & { file?: string }) => {
      const slug = required(flags.tenant, TENANT);
      const file = required(flags.file, { flag: '--file <path>' });
      const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read ${file}: ${err.code ?? err.message}`);
      });
      const contentType = ['.yaml', '.yml'].includes(extname(file).toLowerCase()) ? 'application/yaml' : 'application/json';
      const document = await connect(flags).request<ApiDocument>('PUT', `${apiPath(slug, identifier)}/openapi`, { text: { body: text, contentType } });
      showDocument(document, flags);
    }),
  );

  const operations = openapi.command('operations').description('Show the operations the gateway enforces, compiled from the uploaded document, and the scopes each requires').argument('<identifier>', 'API identifier or id (api_…)').addOption(tenantOption());
  withConnection(operations).action(
    runAction(async (identifier: string, flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      showDocument(await connect(flags).request<ApiDocument>('GET', `${apiPath(slug, identifier)}/operations`), flags);
    }),
  );

  const show = openapi.command('get').description('Print the API\'s OpenAPI document as uploaded').argument('<identifier>', 'API identifier or id (api_…)').addOption(tenantOption());
  withConnection(show).action(
    runAction(async (identifier: string, flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      const { text } = await connect(flags).requestText('GET', `${apiPath(slug, identifier)}/openapi`);
      // The document as stored, also with --json: it is the upload, byte for byte.
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }),
  );
}

/** The API's management path: identifiers are URLs, so they are always encoded. */
function apiPath(slug: string, identifier: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/apis/${encodeURIComponent(identifier)}`;
}

/** Adds the flags for the API's token lifetimes; each takes a duration with a unit (1h, 30d). */
function withTokenSettings(command: Command): Command {
  return command
    .addOption(new Option('--access-token-ttl <duration>', 'access-token lifetime, e.g. 10m, 1h (server default 1h)').argParser(parseSecondsArg))
    .option('--refresh-tokens', 'issue refresh tokens with access tokens')
    .option('--no-refresh-tokens', 'do not issue refresh tokens')
    .addOption(new Option('--refresh-idle-ttl <duration>', 'how long a refresh token may go unused, e.g. 14d').argParser(parseSecondsArg))
    .addOption(new Option('--refresh-absolute-ttl <duration>', 'how long a refresh-token family may live, e.g. 90d').argParser(parseSecondsArg))
    .addOption(
      new Option('--refresh-reuse-interval <duration>', 'how long after a rotation a reused refresh token counts as a concurrent refresh, not a replay that revokes the family; 0 to 60s (server default 0)').argParser(parseSecondsArg),
    );
}

/** Adds the flags for the API's gateway settings (docs/gateway.md); each --no-… form clears one. */
function withGatewaySettings(command: Command): Command {
  return command
    .option('--upstream <url>', 'the URL the gateway forwards this API\'s requests to')
    .option('--no-upstream', 'take the API out of the gateway')
    .option('--gateway-hosts <hosts>', 'comma-separated Host values (host or host:port) that reach this API besides its identifier\'s host; "" for none')
    .addOption(new Option('--external-issuer <issuer=…,jwks=…[,audience=…]>', 'a JWT issuer outside Keygate whose tokens the gateway accepts; repeat for each (replaces the list)').argParser(collectExternalIssuer))
    .option('--no-external-issuers', 'accept no external issuer\'s tokens')
    .option('--phantom-token', 'also send the upstream a short-lived JWT signed by the tenant (Keygate-Token)')
    .option('--no-phantom-token', 'send no Keygate-Token')
    .option('--credential-header <name>', 'a header the gateway reads the credential from besides Authorization: Bearer, e.g. x-api-key')
    .option('--no-credential-header', 'read the credential from Authorization: Bearer only')
    .option('--credential-query <name>', 'a query parameter the gateway reads the credential from (URLs end up in logs: only when callers cannot send headers)')
    .option('--no-credential-query', 'read no credential from the query')
    .option('--passthrough', 'forward paths and methods the OpenAPI document does not declare (404/405 otherwise)')
    .option('--no-passthrough', 'answer undeclared paths 404 and undeclared methods 405')
    .addOption(
      new Option('--cors-preflight <mode>', 'a CORS preflight on a declared path without a declared OPTIONS: refuse answers 405 (server default), forward sends it to the upstream without a credential').choices(CORS_PREFLIGHT_MODES),
    );
}

function gatewaySettingsBody(flags: GatewayFlags): Record<string, unknown> {
  const cleared = <T>(value: T | false | undefined): T | null | undefined => (value === false ? null : value);
  const body: Record<string, unknown> = {
    upstream: cleared(flags.upstream),
    gatewayHosts: flags.gatewayHosts === undefined ? undefined : flags.gatewayHosts.split(',').map((host) => host.trim()).filter((host) => host !== ''),
    externalIssuers: flags.externalIssuers === false ? [] : flags.externalIssuer,
    phantomToken: flags.phantomToken,
    credentialHeader: cleared(flags.credentialHeader),
    credentialQuery: cleared(flags.credentialQuery),
    passthrough: flags.passthrough,
    corsPreflight: flags.corsPreflight,
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

function tokenSettingsBody(flags: TokenSettingsFlags): Record<string, unknown> {
  for (const [name, value] of [['--access-token-ttl', flags.accessTokenTtl], ['--refresh-idle-ttl', flags.refreshIdleTtl], ['--refresh-absolute-ttl', flags.refreshAbsoluteTtl]] as const) {
    if (value === 0) throw new UsageError(`${name} must be at least 1s`);
  }
  const refreshTokens: Partial<RefreshTokens> = {
    ...(flags.refreshTokens !== undefined ? { enabled: flags.refreshTokens } : {}),
    ...(flags.refreshIdleTtl !== undefined ? { idleTtl: flags.refreshIdleTtl } : {}),
    ...(flags.refreshAbsoluteTtl !== undefined ? { absoluteTtl: flags.refreshAbsoluteTtl } : {}),
    ...(flags.refreshReuseInterval !== undefined ? { reuseInterval: flags.refreshReuseInterval } : {}),
  };
  return {
    ...(flags.accessTokenTtl !== undefined ? { accessTokenTtl: flags.accessTokenTtl } : {}),
    ...(Object.keys(refreshTokens).length > 0 ? { refreshTokens } : {}),
  };
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
      ['accessTokenTtl', formatDuration(api.accessTokenTtl * 1000)],
      ['refreshTokens', formatRefreshTokens(api.refreshTokens)],
      ['upstream', api.upstream ?? '(not behind the gateway)'],
      ...(api.upstream === null
        ? []
        : ([
            ['gatewayHosts', api.gatewayHosts.join(' ') || '(the identifier\'s host only)'],
            ['externalIssuers', api.externalIssuers.map((i) => i.issuer).join(' ') || '(none)'],
            ['credential', ['Authorization: Bearer', ...(api.credentialHeader ? [`${api.credentialHeader} header`] : []), ...(api.credentialQuery ? [`?${api.credentialQuery}=`] : [])].join(', ')],
            ['phantomToken', api.phantomToken ? 'yes' : 'no'],
            ['passthrough', api.passthrough ? 'yes' : 'no'],
            ['corsPreflight', api.corsPreflight],
          ] as [string, string][])),
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

function formatRefreshTokens(settings: RefreshTokens): string {
  const lifetimes = `idle ${formatDuration(settings.idleTtl * 1000)}, absolute ${formatDuration(settings.absoluteTtl * 1000)}, reuse interval ${settings.reuseInterval}s`;
  return settings.enabled ? `enabled (${lifetimes})` : `disabled (when enabled: ${lifetimes})`;
}

function showDocument(document: ApiDocument, flags: ConnectionFlags): void {
  if (flags.json) return printJson(document);
  print(`Uploaded ${document.format.toUpperCase()} document (${document.size} bytes); served under ${document.basePath || '/'}.`);
  print('');
  print(
    document.operations.length === 0
      ? 'No operations: every request answers 404 unless passthrough is on.'
      : formatTable(
          ['METHOD', 'PATH', 'OPERATION', 'REQUIRES', 'COST'],
          document.operations.map((o) => [o.method, o.path, o.operationId ?? '', o.public ? 'public' : o.anyOf.map((scopes) => scopes.join(' + ') || 'any valid credential').join(' or '), String(o.cost)]),
        ),
  );
}
