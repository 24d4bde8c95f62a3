import type { Command, CommanderError } from 'commander';
import { CliError, OAuthResponseError, ProblemError, UsageError } from './cli-errors.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import { printJson } from './output.js';

const HELP_HINT = '(add --help for usage)';

/**
 * Creates a subcommand group (`keygate key ...`) whose parse errors exit with code 2 instead
 * of commander's 1, which `key verify` uses for "not valid". Subcommands added to the group
 * inherit this.
 *
 * @example
 * const key = commandGroup(program, 'key', 'Create, inspect and revoke API keys');
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .showHelpAfterError(HELP_HINT)
    .exitOverride((err: CommanderError) => {
      process.exit(err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage);
    });
}

/**
 * Wraps a command action: the exit code it returns (default 0) becomes the process exit
 * code; an expected failure is printed as one line, without a stack trace, and exits with
 * its code (docs/cli.md). The last argument commander passes is the command itself.
 *
 * @example
 * command.action(runAction(async (flags: Flags) => { ... }));
 */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<ExitCode | void>): (...args: A) => Promise<void> {
  return async (...args: A): Promise<void> => {
    const command = args[args.length - 1] as Command;
    try {
      process.exitCode = (await action(...args)) ?? EXIT_CODES.ok;
    } catch (err) {
      process.exitCode = report(err, { json: command.opts<{ json?: boolean }>().json === true });
    }
  };
}

function report(err: unknown, options: { json: boolean }): ExitCode {
  if (err instanceof ProblemError) {
    // With --json a script gets the problem body on stdout, as it gets any other answer.
    if (options.json) printJson(err.body);
    const lines = [`error: ${err.message}`, ...err.errors.map((e) => `  ${e.path}: ${e.message}`)];
    const hint = PROBLEM_HINTS[err.code];
    if (hint) lines.push(hint);
    process.stderr.write(`${lines.join('\n')}\n`);
    return err.exitCode;
  }
  if (err instanceof OAuthResponseError) {
    if (options.json) printJson(err.body);
    process.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n${HELP_HINT}\n`);
    return err.exitCode;
  }
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: unexpected failure: ${message}\n`);
  if (process.env['KEYGATE_DEBUG'] && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  else process.stderr.write('This is a bug in the keygate CLI; set KEYGATE_DEBUG=1 to see the stack trace.\n');
  return EXIT_CODES.internal;
}

const PROBLEM_HINTS: Partial<Record<string, string>> = {
  UNAUTHORIZED: 'Check --root-key (or KEYGATE_ROOT_KEY): the server does not know this key.',
  FORBIDDEN: 'The root key lacks a scope this command needs; "keygate root-key create" can make one that has it.',
};
