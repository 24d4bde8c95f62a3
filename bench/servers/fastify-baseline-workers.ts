/**
 * The reference of bench/workers.ts: bench/servers/fastify-baseline.ts's bare JSON route in N
 * node:cluster workers sharing one port, as `keygate start --workers N` shares its ports. What
 * N processes can give on this machine, with the load generator on the same cores.
 * Prints one JSON line `{"url": …}` once every worker listens; exits on SIGTERM or stdin end.
 *
 *   tsx bench/servers/fastify-baseline-workers.ts N
 */
import cluster from 'node:cluster';
import { stopOnParentExit } from './bench-key.js';

if (cluster.isPrimary) {
  const count = Number(process.argv[2] ?? 2);
  // The workers' own ready lines stay with them: this process prints the one line, once all listen.
  cluster.setupPrimary({ silent: true });
  const workers = Array.from({ length: count }, () => cluster.fork());
  const ports = await Promise.all(workers.map((worker) => new Promise<number>((resolve) => worker.once('listening', (address) => resolve(address.port)))));
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${ports[0]}` })}\n`);
  stopOnParentExit(async () => {
    await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve).kill())));
  });
} else {
  // In a worker, listen(0) gets the port the first worker got: the cluster keeps one socket per address.
  await import('./fastify-baseline.js');
}
