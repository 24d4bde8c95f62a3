import { Command, type CommanderError } from 'commander';
import { EXIT_CODES } from './exit-codes.js';
import { registerStart } from './start-command.js';
import { registerManagementCommands } from './management-commands.js';

/** The `keygate` command and its subcommands. */
export function buildProgram(): Command {
  const program = new Command('keygate')
    .description('Keygate: API keys, JWTs and OAuth 2.0 tokens under one scope model')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    // An unknown command is a usage error: exit 2 as docs/cli.md says, not commander's 1.
    .exitOverride((err: CommanderError) => {
      process.exit(err.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage);
    });
  registerStart(program);
  registerManagementCommands(program);
  return program;
}
