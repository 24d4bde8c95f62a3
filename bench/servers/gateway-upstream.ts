/**
 * The upstream of bench/gateway.ts: a bare node:http server answering every request with a small
 * JSON body over keep-alive. Prints one JSON line `{"url": …}` on stdout when listening.
 */
import { createServer } from 'node:http';
import { stopOnParentExit } from './bench-key.js';

const body = JSON.stringify({ users: [{ id: 'u_1', name: 'Ada' }] });
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
});
server.keepAliveTimeout = 60_000;
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
stopOnParentExit(() => new Promise<void>((resolve) => server.close(() => resolve())));
