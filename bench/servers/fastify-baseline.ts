/**
 * Baseline for bench/verify-http.ts: a bare Fastify 5 app with one POST route that lets Fastify
 * parse the JSON body (the benchmark sends the same bytes it sends Keygate) and answers {ok:true}.
 * Prints one JSON line `{"url": …}` on stdout when listening; exits on SIGTERM or stdin end.
 */
import Fastify from 'fastify';
import { stopOnParentExit } from './bench-key.js';

const app = Fastify({ logger: false });
app.post('/v1/verify', async (request) => {
  // Touch the parsed body so the route cannot be cheaper than "parse, look, answer".
  const body = request.body as { credential?: unknown } | null;
  return { ok: typeof body?.credential === 'string' };
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${address.port}` })}\n`);
stopOnParentExit(() => app.close());
