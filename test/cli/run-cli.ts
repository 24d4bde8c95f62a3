import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The CLI as a user runs it: a real child process, through tsx so no build is needed. Each
 * run costs about half a second of start-up.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

/** Env vars the CLI reads; a test sets the ones it means and never inherits the others. */
const CLI_ENV = ['KEYGATE_URL', 'KEYGATE_ROOT_KEY', 'KEYGATE_TENANT', 'KEYGATE_DEBUG', 'KEYGATE_ISSUER', 'KEYGATE_CLIENT_ID', 'KEYGATE_CLIENT_SECRET'];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `keygate <args>` with exactly the given KEYGATE_* variables and `stdin` piped in.
 *
 * @example
 * const run = await runCli(['tenant', 'list'], { env: { KEYGATE_URL: url, KEYGATE_ROOT_KEY: key } });
 */
export function runCli(args: string[], options: { env: Record<string, string | undefined>; stdin?: string }): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of CLI_ENV) delete env[name];
  for (const [name, value] of Object.entries(options.env)) if (value !== undefined) env[name] = value;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}
