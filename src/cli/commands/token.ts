import { Option, type Command } from 'commander';
import { DEFAULT_AUTH_METHOD, SECRET_AUTH_METHODS, type TokenEndpointAuthMethod } from '../../domain/oauth/registry.js';
import type { IssuedToken, TokenResponse, TokenView } from '../api-types.js';
import { OAuthResponseError, UnexpectedResponseError, UsageError, type OAuthErrorBody } from '../cli-errors.js';
import { snippet } from '../client.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields, type Cell } from '../format-table.js';
import { collect, parseExpiryArg, required, tenantOption } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { fetchList, printPage, withPaging, type PagingFlags } from '../paging.js';
import { httpUrl, requestPublic } from '../public-http.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';
import { EXIT_CODES } from '../exit-codes.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

interface IssueFlags extends TenantFlags {
  api?: string;
  consumer?: string;
  scope?: string[];
  expiresAt?: string;
  claimsFormat?: 'scope' | 'scopes';
}

interface ListFlags extends TenantFlags, PagingFlags {
  api?: string;
  consumer?: string;
}

interface GetFlags {
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  authMethod: TokenEndpointAuthMethod;
  resource?: string;
  scope?: string[];
  json?: boolean;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate token issue|list|revoke` (JWT API keys, through the management API) and
 * `keygate token get` (an access token from a tenant's token endpoint, as a client gets one).
 *
 * @example
 * registerTokenCommands(program);
 */
export function registerTokenCommands(program: Command): void {
  const token = commandGroup(program, 'token', 'Issue, list and revoke JWT API keys; get an access token as a client');

  const issue = token
    .command('issue')
    .description('Issue a JWT API key for a consumer (the token is shown once)')
    .addOption(tenantOption())
    .option('--api <identifier>', 'the API (audience) the token is for (required)')
    .option('--consumer <id>', 'who the token is for; becomes its sub claim (required)')
    .addOption(new Option('--scope <scope>', 'a scope from the API catalog; repeatable').argParser(collect))
    .addOption(new Option('--expires-at <when>', 'ISO-8601 date-time or a duration from now (30d); server default 1 year').argParser(parseExpiryArg))
    .addOption(new Option('--claims-format <format>', 'scopes as an RFC 9068 "scope" string or a structured "scopes" object (server default scope)').choices(['scope', 'scopes']));
  withConnection(issue).action(
    runAction(async (flags: IssueFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        api: required(flags.api, { flag: '--api <identifier>' }),
        consumer: required(flags.consumer, { flag: '--consumer <id>' }),
        scopes: flags.scope ?? [],
        ...(flags.expiresAt !== undefined ? { expiresAt: flags.expiresAt } : {}),
        ...(flags.claimsFormat !== undefined ? { claimsFormat: flags.claimsFormat } : {}),
      };
      const issued = await connect(flags).request<IssuedToken>('POST', tokensPath(slug), { body });
      if (flags.json) return printJson(issued);
      const { token: jwt, ...view } = issued;
      print(formatToken(view, { now: Date.now() }));
      printSecret('JWT API key', jwt, { kept: 'only its jti' });
    }),
  );

  const list = token
    .command('list')
    .description('List JWT API keys, optionally of one API or consumer')
    .addOption(tenantOption())
    .option('--api <identifier>', 'only tokens of this API')
    .option('--consumer <id>', 'only tokens of this consumer');
  withConnection(withPaging(list)).action(
    runAction(async (flags: ListFlags) => {
      const slug = required(flags.tenant, TENANT);
      const page = await fetchList<TokenView>(connect(flags), tokensPath(slug), { api: flags.api, consumer: flags.consumer }, flags);
      const now = Date.now();
      printPage(page, flags, {
        empty: 'No JWT API keys.',
        headers: ['JTI', 'STATUS', 'API', 'CONSUMER', 'SCOPES', 'KID', 'ISSUED', 'EXPIRES'],
        row: (t) => [t.jti, tokenStatus(t, { now }), t.api, t.consumer, t.scopes.join(' '), t.kid, t.issuedAt, t.expiresAt ?? 'never'],
      });
    }),
  );

  const revoke = token
    .command('revoke')
    .description('Revoke one JWT by its jti: a JWT API key or any access token of the tenant')
    .argument('<jti>', 'the jti claim of the token')
    .addOption(tenantOption());
  withConnection(withYes(revoke)).action(
    runAction(async (jti: string, flags: TenantFlags & ConfirmFlags) => {
      const slug = required(flags.tenant, TENANT);
      await confirmDestructive(flags, `Revoke token ${jti}`);
      const answer = await connect(flags).request<{ jti: string; revoked: boolean; recorded: boolean }>('POST', `${tokensPath(slug)}/${encodeURIComponent(jti)}/revoke`);
      if (flags.json) printJson(answer);
      else print(answer.revoked ? `Revoked token ${answer.jti}.` : `Token ${answer.jti} was already revoked.`);
      if (answer.recorded) return EXIT_CODES.ok;
      // A typo must not pass for a revocation: access tokens are not recorded, so the server revokes any jti.
      process.stderr.write(
        `Keygate issued no JWT API key with jti ${answer.jti}: an access token or a self-issued token with this jti is refused from now on, ` +
          'but if you meant a JWT API key, check the jti with "keygate token list".\n',
      );
      return EXIT_CODES.notValid;
    }),
  );

  token
    .command('get')
    .description('Get an access token from a tenant\'s token endpoint with client credentials (for testing a client)')
    .addOption(new Option('--issuer <url>', 'the tenant issuer, e.g. http://127.0.0.1:4000/t/acme ("keygate tenant get" shows it) (required)').env('KEYGATE_ISSUER'))
    .addOption(new Option('--client-id <id>', 'the client id (required)').env('KEYGATE_CLIENT_ID'))
    .addOption(new Option('--client-secret <secret>', 'the client secret (required); prefer the env var').env('KEYGATE_CLIENT_SECRET'))
    .addOption(
      new Option('--auth-method <method>', 'how to send the secret: HTTP Basic or in the form').choices(SECRET_AUTH_METHODS).default(DEFAULT_AUTH_METHOD),
    )
    .option('--resource <api>', 'the API the token is for (RFC 8707); may be left out when the client may reach one API only')
    .addOption(new Option('--scope <scope>', 'a scope to ask for; repeatable (default: every scope the client may get)').argParser(collect))
    .option('--json', 'print the token endpoint\'s JSON answer instead of the bare token')
    .action(
      runAction(async (flags: GetFlags) => {
        const response = await clientCredentials(flags);
        if (flags.json) return printJson(response);
        print(response.access_token);
        process.stderr.write(`${response.token_type} token for scope "${response.scope ?? ''}", expires in ${response.expires_in} s.\n`);
      }),
    );
}

/** Runs the client credentials grant against `{issuer}/oauth/token`. */
async function clientCredentials(flags: GetFlags): Promise<TokenResponse> {
  const issuerText = required(flags.issuer, { flag: '--issuer <url>', env: 'KEYGATE_ISSUER' });
  const issuer = httpUrl(issuerText);
  if (issuer === null) throw new UsageError(`--issuer "${issuerText}" is not an http:// or https:// URL`);
  const clientId = required(flags.clientId, { flag: '--client-id <id>', env: 'KEYGATE_CLIENT_ID' });
  const secret = required(flags.clientSecret, { flag: '--client-secret <secret>', env: 'KEYGATE_CLIENT_SECRET' });

  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (flags.resource !== undefined) form.set('resource', flags.resource);
  if (flags.scope !== undefined) form.set('scope', flags.scope.join(' '));
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (flags.authMethod === 'client_secret_basic') {
    // RFC 6749 §2.3.1: id and secret are form-encoded before they are joined and base64-encoded.
    headers['authorization'] = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  } else {
    form.set('client_id', clientId);
    form.set('client_secret', secret);
  }

  const url = `${issuer.href.replace(/\/+$/, '')}/oauth/token`;
  const answer = await requestPublic(url, { method: 'POST', headers, body: form.toString() }, { hint: 'Is the server running? Check --issuer (or KEYGATE_ISSUER).' });
  if (answer.status === 200 && isTokenResponse(answer.json)) return answer.json;
  if (isOAuthError(answer.json)) throw new OAuthResponseError(answer.json, answer.status);
  throw new UnexpectedResponseError(answer.status, url, snippet(answer.text));
}

function isTokenResponse(value: unknown): value is TokenResponse {
  return typeof value === 'object' && value !== null && typeof (value as { access_token?: unknown }).access_token === 'string';
}

function isOAuthError(value: unknown): value is OAuthErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as { error?: unknown }).error === 'string';
}

function tokensPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/tokens`;
}

/**
 * One word for a JWT API key's state, most final first.
 *
 * @example
 * tokenStatus(token, { now: Date.now() }); // 'active'
 */
export function tokenStatus(token: TokenView, options: { now: number }): 'revoked' | 'expired' | 'active' {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && Date.parse(token.expiresAt) <= options.now) return 'expired';
  return 'active';
}

function formatToken(token: TokenView, options: { now: number }): string {
  const fields: [string, Cell][] = [
    ['jti', token.jti],
    ['status', tokenStatus(token, options)],
    ['api', token.api],
    ['tenant', token.tenant],
    ['consumer', token.consumer],
    ['scopes', token.scopes.join(' ')],
    ['claimsFormat', token.claimsFormat],
    ['kid', token.kid],
    ['issuedAt', token.issuedAt],
    ['expiresAt', token.expiresAt ?? 'never'],
  ];
  if (token.revokedAt !== null) fields.splice(2, 0, ['revokedAt', token.revokedAt]);
  return formatFields(fields);
}
