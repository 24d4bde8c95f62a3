/**
 * Runs a benchmark server in a child process (`node --import tsx <script>`), so the load
 * generator and the server never share a thread. The child prints one JSON line when ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { treeCpuSeconds } from './common.js';

export interface ChildServer<T> {
  info: T;
  pid: number;
  /** CPU seconds (user + system) the child has used so far, or null where /proc is missing. */
  cpuSeconds(): number | null;
  stop(): Promise<void>;
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/**
 * `tree`: the server starts processes of its own (cluster workers, a Redis): `cpuSeconds()`
 * counts them all.
 */
export async function startChild<T>(
  script: string,
  options: { readyTimeoutMs?: number; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; args?: string[]; tree?: boolean } = {},
): Promise<ChildServer<T>> {
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', script, ...(options.args ?? [])], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: options.env ?? process.env,
  });
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const info = await new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} printed no ready line within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code} before it was ready`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${script} printed a non-JSON ready line: ${line}`));
      }
    });
  });
  const pid = child.pid!;
  return {
    info,
    pid,
    cpuSeconds() {
      if (options.tree === true) return treeCpuSeconds(pid);
      try {
        // Fields after the ")" of the command name: utime is the 14th field, stime the 15th.
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
      } catch {
        return null;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
