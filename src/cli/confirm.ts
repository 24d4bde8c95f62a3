import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { NotConfirmedError } from './cli-errors.js';

/** The flag every destructive command takes. */
export interface ConfirmFlags {
  yes?: boolean;
}

/**
 * Adds `--yes` to a destructive command (a delete, a revoke, a cut-off).
 *
 * @example
 * withYes(tenant.command('delete'));
 */
export function withYes(command: Command): Command {
  return command.option('-y, --yes', 'do it without asking; required when there is no terminal to ask on (scripts, pipes)');
}

/**
 * Asks before a change that cannot be undone. With `--yes` it goes ahead; on a terminal it asks
 * `what? [y/N]` on stderr and goes ahead only on "y"/"yes"; without a terminal (a script, a pipe)
 * there is nobody to ask, so it refuses and says to pass `--yes`. Refusals exit 2, with nothing
 * sent to the server.
 *
 * @example
 * await confirmDestructive(flags, `Delete tenant "acme" and everything in it`);
 */
export async function confirmDestructive(flags: ConfirmFlags, what: string): Promise<void> {
  if (flags.yes === true) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new NotConfirmedError(`${what}: not confirmed. There is no terminal to ask on; pass --yes to confirm. Nothing was changed`);
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${what}? [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new NotConfirmedError('not confirmed; nothing was changed');
  } finally {
    prompt.close();
  }
}
