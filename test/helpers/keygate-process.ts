import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `keygate start` as a real child process (through tsx, no build), its stdout read as JSON log
 * lines: for tests and benchmarks that need the process itself (`--workers N`, signals, exit codes).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

export type LogLine = Record<string, any>;

export interface KeygateProcess {
  child: ChildProcess;
  /** The main listener's URL. */
  url: string;
  /** The workers' pids from the primary's ready line (`--workers N`), else the process's own. */
  pids: number[];
  stdout(): string;
  stderr(): string;
  /** The JSON lines written to stdout so far (other lines, such as the root key printed once, left out). */
  lines(): LogLine[];
  /** Resolves with the first line, already written or to come, that `match` accepts; fails once the process exits. */
  line(match: (line: LogLine) => boolean): Promise<LogLine>;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Starts `keygate start --workers <workers> <args>` with exactly `env` (plus PATH and HOME) and
 * resolves once it serves: once it says where it listens, or with several workers once the
 * primary says every worker is ready.
 *
 * @example
 * const kg = await startKeygateProcess({ workers: 2, args: ['--port', '0'], env: { REDIS_URL, KEYGATE_DATA_DIR: dir } });
 */
export function startKeygateProcess(options: { workers: number; args: string[]; env: Record<string, string | undefined> }): Promise<KeygateProcess> {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], LOG_FORMAT: 'json', ...options.env };
  const args = ['--import', 'tsx', MAIN, 'start', '--workers', String(options.workers), ...options.args];
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = (): LogLine[] =>
    stdout
      .split('\n')
      .slice(0, -1) // the last piece is a line still being written
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as LogLine);
  const line = (match: (line: LogLine) => boolean): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines().find(match);
        if (found === undefined) return;
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      void exited.then((code) => {
        waiters.delete(check);
        reject(new Error(`keygate start exited (${code}) before the line was written:\n${stdout}\n${stderr}`));
      });
      check();
    });
  const ready = (candidate: LogLine): boolean => typeof candidate['msg'] === 'string' && (options.workers > 1 ? /^\d+ workers ready on / : /^Keygate listening on /).test(candidate['msg']);
  return line(ready).then((first) => ({
    child,
    url: String(first['url']),
    pids: Array.isArray(first['pids']) ? (first['pids'] as number[]) : [child.pid!],
    stdout: () => stdout,
    stderr: () => stderr,
    lines,
    line,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  }));
}
