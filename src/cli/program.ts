import { Command } from 'commander';
import { registerStart } from './start-command.js';
import { registerManagementCommands } from './management-commands.js';

/** The `keygate` command and its subcommands. */
export function buildProgram(): Command {
  const program = new Command('keygate')
    .description('Keygate: API keys, JWTs and OAuth 2.0 tokens under one scope model')
    .version('0.1.0');
  registerStart(program);
  registerManagementCommands(program);
  return program;
}
