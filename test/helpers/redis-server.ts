import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './free-port.js';

/**
 * A private `redis-server` on an ephemeral port, as a child process that a test (or a bench)
 * may kill and start again on the same port. The machine's shared Redis on 6379 is never
 * touched.
 */
export interface RedisServer {
  url: string;
  port: number;
  /** Starts it (again) on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it with `signal` (SIGKILL: gone at once, as in a crash); resolves once it has exited. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open and nothing is answered, as with a hung server. */
  freeze(): void;
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void;
}

/** A port nobody listens on right now. */

/**
 * Starts `redis-server` without persistence on a free port.
 *
 * @example
 * const redis = await startRedisServer();
 * await redis.stop('SIGKILL');
 * await redis.start();
 */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  let child: ChildProcess | null = null;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child = redis;
      let output = '';
      const timer = setTimeout(() => {
        redis.kill('SIGKILL');
        reject(new Error(`redis-server on port ${port} was not ready within 10 s: ${output}`));
      }, 10_000);
      redis.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      redis.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server on port ${port} exited with ${code}: ${output}`));
      });
      redis.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });

  const stop = (signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM'): Promise<void> =>
    new Promise((resolve) => {
      const running = child;
      child = null;
      if (running === null || running.exitCode !== null || running.signalCode !== null) return resolve();
      running.once('exit', () => resolve());
      running.kill(signal);
    });

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
  };
}
