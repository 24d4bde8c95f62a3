/**
 * A reference for bench/token-endpoint.ts, not a competitor: the least a Fastify 5 token endpoint
 * can do for the same request — parse the form, check the Basic credentials (SHA-256 of the
 * secret compared in constant time, as Keygate does), sign the same RFC 9068 claims with the same
 * library and algorithm (fast-jwt, Ed25519) and answer the same JSON with `no-store`. No tenant
 * lookup, no lockout counter, no scope catalog, no request ids. Its req/s shows how much of the
 * cost on this machine is HTTP plus the signature, which no authorization server can avoid.
 *
 * With `--pool`, the signature is made with node:crypto's `sign(…, callback)` on libuv's thread
 * pool instead (as Keygate and oidc-provider do), so the event loop serves other requests while
 * it signs: the floor for a server that signs off the main thread.
 *
 *   node --import tsx bench/servers/fastify-floor-tokens.ts <resource> [--pool]
 *
 * Prints one JSON line (FloorTokensServerInfo) on stdout when listening; stops on SIGTERM or stdin end.
 */
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign as cryptoSign, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { createSigner } from 'fast-jwt';
import { stopOnParentExit } from './bench-key.js';

export interface FloorTokensServerInfo {
  url: string;
  issuer: string;
  tokenEndpoint: string;
  jwksUrl: string;
  clientId: string;
  clientSecret: string;
}

const resource = process.argv[2];
if (resource === undefined) throw new Error('usage: fastify-floor-tokens.ts <resource>');
const SCOPE = 'read:users';
const TTL_SECONDS = 3600;
const KID = 'floor-eddsa';

const pair = generateKeyPairSync('ed25519');
const onPool = process.argv.includes('--pool');
const fastJwtSign = createSigner({
  key: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  algorithm: 'EdDSA',
  kid: KID,
  header: { alg: 'EdDSA', typ: 'at+jwt' },
}) as (payload: Record<string, unknown>) => string;
const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: KID })).toString('base64url');
/** The same JWT, its Ed25519 signature made on libuv's thread pool. */
const poolSign = (payload: Record<string, unknown>): Promise<string> => {
  const input = `${header}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return new Promise((resolve, reject) => cryptoSign(null, Buffer.from(input), pair.privateKey, (err, signature) => (err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`))));
};
const sign = async (payload: Record<string, unknown>): Promise<string> => (onPool ? poolSign(payload) : fastJwtSign(payload));
const jwks = { keys: [{ ...(pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>), kid: KID, alg: 'EdDSA', use: 'sig' }] };

const clientId = 'floor-client';
const clientSecret = randomBytes(32).toString('base64url');
const secretHash = createHash('sha256').update(clientSecret).digest();

const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
  done(null, new URLSearchParams(body as string));
});
let issuer = '';
app.get('/jwks', async () => jwks);
app.post('/token', async (request, reply) => {
  const form = request.body as URLSearchParams;
  const basic = /^basic\s+([A-Za-z0-9+/=]+)$/i.exec(request.headers.authorization ?? '');
  const decoded = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const id = decodeURIComponent(decoded.slice(0, colon));
  const presented = createHash('sha256').update(decodeURIComponent(decoded.slice(colon + 1))).digest();
  if (colon < 1 || id !== clientId || !timingSafeEqual(presented, secretHash)) return reply.code(401).send({ error: 'invalid_client' });
  if (form.get('grant_type') !== 'client_credentials') return reply.code(400).send({ error: 'unsupported_grant_type' });
  if (form.get('resource') !== resource) return reply.code(400).send({ error: 'invalid_target' });
  if ((form.get('scope') ?? SCOPE) !== SCOPE) return reply.code(400).send({ error: 'invalid_scope' });
  const iat = Math.floor(Date.now() / 1000);
  const token = await sign({ iss: issuer, sub: clientId, aud: resource, exp: iat + TTL_SECONDS, iat, jti: randomUUID(), client_id: clientId, scope: SCOPE });
  return reply
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .send({ access_token: token, token_type: 'Bearer', expires_in: TTL_SECONDS, scope: SCOPE });
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
issuer = url;

const info: FloorTokensServerInfo = { url, issuer, tokenEndpoint: `${url}/token`, jwksUrl: `${url}/jwks`, clientId, clientSecret };
process.stdout.write(`${JSON.stringify(info)}\n`);

stopOnParentExit(() => app.close());
