import { Option, type Command } from 'commander';
import type { VerificationResult } from '../api-types.js';
import { UsageError } from '../cli-errors.js';
import { connect, withConnection, type ConnectionFlags } from '../connection.js';
import { EXIT_CODES, type ExitCode } from '../exit-codes.js';
import { collect, parseCount, required } from '../option-parsers.js';
import { print, printJson } from '../output.js';
import { readStdin } from '../read-stdin.js';
import { runAction } from '../run-action.js';
import { formatVerification } from './key-format.js';

interface VerifyFlags extends ConnectionFlags {
  api?: string;
  scope?: string[];
  match?: 'all' | 'any';
  cost?: number;
  ip?: string;
}

/**
 * `keygate key verify`: exits 0 when the credential is valid and 1 when it is not, printing
 * the result either way, so `if keygate key verify ...; then` reads naturally in a script.
 *
 * @example
 * registerKeyVerify(keyGroup);
 */
export function registerKeyVerify(key: Command): void {
  const verify = key
    .command('verify')
    .description('Verify a credential (API key or JWT) against an API; exit 0 when valid, 1 when not')
    .argument('<credential>', 'the credential, or - to read it from stdin (keeps it out of shell history)')
    .option('--api <identifier>', 'the API (audience) the credential was presented to (required)')
    .addOption(new Option('--scope <scope>', 'a scope the credential must have; repeatable').argParser(collect))
    .addOption(new Option('--match <mode>', 'with several --scope: all of them or any one').choices(['all', 'any']))
    .addOption(new Option('--cost <n>', 'credits this call spends (server default 1)').argParser(parseCount))
    .option('--ip <address>', 'the caller address, checked against the key\'s IP allowlist');
  withConnection(verify).action(
    runAction(async (credentialArg: string, flags: VerifyFlags): Promise<ExitCode> => {
      const api = required(flags.api, { flag: '--api <identifier>' });
      const credential = credentialArg === '-' ? await readStdin({ what: 'credential' }) : credentialArg;
      if (!credential) throw new UsageError('the credential is empty');
      const body = {
        credential,
        api,
        ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
        ...(flags.match !== undefined ? { match: flags.match } : {}),
        ...(flags.cost !== undefined ? { cost: flags.cost } : {}),
        ...(flags.ip !== undefined ? { ip: flags.ip } : {}),
      };
      const result = await connect(flags).request<VerificationResult>('POST', '/v1/verify', { body });
      if (flags.json) printJson(result);
      else print(formatVerification(result));
      return result.valid ? EXIT_CODES.ok : EXIT_CODES.notValid;
    }),
  );
}
