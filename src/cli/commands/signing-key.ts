import { Option, type Command } from 'commander';
import { SIGNING_ALGORITHMS } from '../../domain/tokens/jwt.js';
import type { SigningAlg, SigningKey } from '../api-types.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { timeInWords } from '../../domain/durations.js';
import { formatFields, formatTable } from '../format-table.js';
import { parseSecondsArg, required, tenantOption } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { commandGroup, runAction } from '../run-action.js';

interface TenantFlags extends ConnectionFlags {
  tenant?: string;
}

interface RotateFlags extends TenantFlags {
  activateAfter?: number;
  alg?: SigningAlg;
}

const TENANT = { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' };

/**
 * `keygate signing-key list|rotate`: the keys a tenant signs its tokens with, published in its
 * JWKS before they sign and after they stop.
 *
 * @example
 * registerSigningKeyCommands(program);
 */
export function registerSigningKeyCommands(program: Command): void {
  const signingKey = commandGroup(program, 'signing-key', 'List and rotate a tenant\'s token signing keys');

  withConnection(signingKey.command('list').description('List the published signing keys and their state').addOption(tenantOption())).action(
    runAction(async (flags: TenantFlags) => {
      const slug = required(flags.tenant, TENANT);
      const answer = await connect(flags).request<{ items: SigningKey[] }>('GET', signingKeysPath(slug));
      if (flags.json) return printJson(answer);
      print(
        answer.items.length === 0
          ? 'No signing keys yet; the first token the tenant issues creates one.'
          : formatTable(
              ['KID', 'ALG', 'STATE', 'ACTIVATES', 'RETIRED', 'PUBLISHED UNTIL'],
              answer.items.map((k) => [k.kid, k.alg, k.state, k.activatesAt, k.retiredAt, k.publishUntil]),
            ),
      );
    }),
  );

  const rotate = signingKey
    .command('rotate')
    .description('Publish a new signing key now; it starts signing after --activate-after')
    .addOption(tenantOption())
    .addOption(
      new Option('--activate-after <duration>', 'publish now, sign from then on: 0 or e.g. 5m, 1h (server default 5m, the JWKS cache time)').argParser(
        parseSecondsArg,
      ),
    )
    .addOption(new Option('--alg <alg>', 'algorithm of the new key (default: the tenant\'s)').choices(SIGNING_ALGORITHMS));
  withConnection(rotate).action(
    runAction(async (flags: RotateFlags) => {
      const slug = required(flags.tenant, TENANT);
      const body = {
        ...(flags.activateAfter !== undefined ? { activateAfterSeconds: flags.activateAfter } : {}),
        ...(flags.alg !== undefined ? { alg: flags.alg } : {}),
      };
      const key = await connect(flags).request<SigningKey>('POST', `${signingKeysPath(slug)}/rotate`, { body });
      if (flags.json) return printJson(key);
      print(
        formatFields([
          ['kid', key.kid],
          ['alg', key.alg],
          ['state', key.state],
          ['activatesAt', key.activatesAt],
          ['retiredAt', key.retiredAt],
          ['publishUntil', key.publishUntil],
        ]),
      );
      if (key.state === 'next') {
        const when = timeInWords(Date.parse(key.activatesAt), { now: Date.now() });
        print(`\nThe key is in the JWKS now and signs from ${key.activatesAt} (${when}); the current key signs until then.`);
      }
    }),
  );
}

function signingKeysPath(slug: string): string {
  return `/v1/tenants/${encodeURIComponent(slug)}/signing-keys`;
}
