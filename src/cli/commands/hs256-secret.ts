import type { Command } from 'commander';
import type { Hs256Secret, Hs256SecretCreated } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { formatFields, formatTable } from '../format-table.js';
import { required, tenantOption } from '../option-parsers.js';
import { print, printJson, printSecret } from '../output.js';
import { commandGroup, runAction } from '../run-action.js';
import { confirmDestructive, withYes, type ConfirmFlags } from '../confirm.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate hs256-secret create|list|revoke`: secrets with which a tenant's own services mint
 * HS256 tokens that Keygate verifies.
 *
 * @example
 * registerHs256SecretCommands(program);
 */
export function registerHs256SecretCommands(program: Command): void {
  const secret = commandGroup(program, 'hs256-secret', 'Create, list and revoke secrets for minting HS256 tokens yourself');

  withConnection(secret.command('create').description('Create an HS256 secret (shown once)').addOption(tenantOption())).action(
    runAction(async (flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      const created = await connect(flags).request<Hs256SecretCreated>('POST', secretsPath(slug));
      if (flags.json) return printJson(created);
      print(formatFields([['kid', created.kid], ['tenant', slug]]));
      // Keygate must check HMACs with the secret itself, so it keeps it sealed rather than hashed.
      printSecret('HS256 secret', created.secret, { kept: 'it sealed and never shows it again' });
      print(`Sign with header {"alg":"HS256","kid":"${created.kid}"}, iss = the tenant issuer ("keygate tenant get ${slug}"), aud = an API identifier, an iat, and an exp at most the tenant's hs256MaxLifetime after it.`);
    }),
  );

  withConnection(secret.command('list').description('List HS256 secrets (never the secret)').addOption(tenantOption())).action(
    runAction(async (flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      const answer = await connect(flags).request<{ items: Hs256Secret[] }>('GET', secretsPath(slug));
      if (flags.json) return printJson(answer);
      print(
        answer.items.length === 0
          ? 'No HS256 secrets.'
          : formatTable(['KID', 'STATUS', 'CREATED', 'REVOKED'], answer.items.map((s) => [s.kid, s.revokedAt === null ? 'active' : 'revoked', s.createdAt, s.revokedAt])),
      );
    }),
  );

  const revoke = secret
    .command('revoke')
    .description('Revoke an HS256 secret: tokens signed with it stop verifying at once')
    .argument('<kid>', 'the secret\'s kid')
    .addOption(tenantOption());
  withConnection(withYes(revoke)).action(
    runAction(async (kid: string, flags: TenantFlags & ConfirmFlags) => {
      const slug = required(flags.tenant, TENANT);
      await confirmDestructive(flags, `Revoke HS256 secret ${kid}`);
      await connect(flags).request<undefined>('POST', `${secretsPath(slug)}/${encodeURIComponent(kid)}/revoke`);
      // The server answers 204 without a body; scripts still get one JSON value to parse.
      if (flags.json) return printJson({ kid, revoked: true });
      print(`Revoked HS256 secret ${kid}; tokens signed with it no longer verify.`);
    }),
  );
}

function secretsPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/hs256-secrets`;
}
