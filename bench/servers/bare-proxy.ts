/**
 * The baseline of bench/gateway.ts: a bare `@fastify/http-proxy` (Fastify 5 + @fastify/reply-from
 * over undici) in front of the same upstream, with no authentication at all.
 *
 *   tsx bench/servers/bare-proxy.ts --upstream http://127.0.0.1:PORT
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { parseArgs } from '../lib/common.js';
import { stopOnParentExit } from './bench-key.js';

const upstream = parseArgs(process.argv.slice(2), { upstream: 'value' }).get('upstream');
if (typeof upstream !== 'string') throw new Error('--upstream URL is required');
const app = Fastify({ logger: false });
await app.register(proxy, { upstream, disableRequestLogging: true });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
stopOnParentExit(() => app.close());
