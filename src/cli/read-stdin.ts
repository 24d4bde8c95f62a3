import { UsageError } from './cli-errors.js';

/**
 * Reads a secret given as `-` from stdin, trimmed: it keeps the value out of shell history and
 * out of `ps`. A terminal on stdin is refused rather than waited on.
 *
 * @example
 * const credential = arg === '-' ? await readStdin({ what: 'credential' }) : arg;
 */
export async function readStdin(options: { what: string }): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError(`"-" reads the ${options.what} from stdin, but stdin is a terminal; pipe it in`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}
