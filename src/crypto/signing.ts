import * as nodeCrypto from 'node:crypto';
import {
  KeyObject,
  constants,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  sign as signWith,
  verify as verifyWith,
  type JsonWebKey,
} from 'node:crypto';
import { MAX_TOKEN_LENGTH, decodeBase64url, type JwsAlgorithm, type SigningAlgorithm } from '../domain/tokens/jwt.js';

/**
 * Keygate's one JOSE stack: key pairs, compact-JWS signing and signature checks, each a direct,
 * synchronous node:crypto call per algorithm (RFC 7518 §3, RFC 8037), so the token endpoint and
 * verify never wait on WebCrypto promises. Header and claims are decided by
 * `domain/tokens/pipeline.ts`, which has already decoded them, so nothing is parsed twice.
 */
export interface GeneratedKeyPair {
  privatePem: string;
  publicJwk: Record<string, unknown>;
}

/** How node:crypto computes each algorithm: the digest, and the signature's encoding or padding. */
const ALGORITHMS: Record<Exclude<JwsAlgorithm, 'HS256'>, { digest: string | null; options: object; kty: string }> = {
  EdDSA: { digest: null, options: {}, kty: 'OKP' },
  ES256: { digest: 'sha256', options: { dsaEncoding: 'ieee-p1363' }, kty: 'EC' },
  ES384: { digest: 'sha384', options: { dsaEncoding: 'ieee-p1363' }, kty: 'EC' },
  RS256: { digest: 'sha256', options: {}, kty: 'RSA' },
  PS256: { digest: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, kty: 'RSA' },
};

/** The curve each EC algorithm is defined on (RFC 7518 §3.4): ES256 with a P-384 key is refused. */
const CURVES: Partial<Record<JwsAlgorithm, string>> = { ES256: 'P-256', ES384: 'P-384', EdDSA: 'Ed25519' };

/** A new key pair for the algorithm: Ed25519, P-256 or RSA-2048. */
export function generateSigningKeyPair(alg: SigningAlgorithm): GeneratedKeyPair {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicJwk: pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>,
  };
}

/** The public JWK for a JWKS: key material plus kid, alg and use. */
export function publicJwkFor(kid: string, alg: SigningAlgorithm, jwk: Record<string, unknown>): Record<string, unknown> {
  return { ...jwk, kid, alg, use: 'sig' };
}

/** The public key of a JWK; throws for one Node cannot import. */
export function publicKeyFromJwk(jwk: Record<string, unknown>): KeyObject {
  return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/**
 * Whether a key can check signatures of the algorithm: the right key type, and for EC and OKP
 * keys the algorithm's curve (RFC 7518 §3.4, RFC 8037 §3.1); RSA keys of at least 2048 bits
 * (RFC 7518 §3.3).
 */
export function keyFitsAlgorithm(key: KeyObject, alg: JwsAlgorithm): boolean {
  if (alg === 'HS256') return key.type === 'secret' && (key.symmetricKeySize ?? 0) >= 32;
  if (key.type !== 'public') return false;
  const { kty, crv } = key.export({ format: 'jwk' });
  if (kty !== ALGORITHMS[alg].kty) return false;
  // The modulus's length in bits, not in bytes: a 2041-bit modulus fills 256 bytes too.
  if (kty === 'RSA') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048;
  return crv === CURVES[alg];
}

export type TokenSigner = (payload: Record<string, unknown>) => Promise<string>;

/**
 * Signs compact JWS with a fixed header: the header's base64url is computed once per signer.
 * An asymmetric signature is made on libuv's thread pool (`crypto.sign` with a callback), so
 * the event loop goes on serving other requests meanwhile, as oidc-provider does; HMAC, a few
 * hundred nanoseconds, is made in place.
 *
 * @example
 * const sign = tokenSigner({ alg: 'EdDSA', kid, key: privatePem, typ: 'at+jwt' });
 * const jwt = await sign({ iss, sub, aud, exp, iat, jti, client_id, scope });
 */
export function tokenSigner(options: { alg: SigningAlgorithm | 'HS256'; kid: string; key: string | Buffer; typ: string }): TokenSigner {
  const header = `${Buffer.from(JSON.stringify({ alg: options.alg, typ: options.typ, kid: options.kid })).toString('base64url')}.`;
  if (options.alg === 'HS256') {
    const secret = createSecretKey(typeof options.key === 'string' ? Buffer.from(options.key) : options.key);
    return (payload) => {
      const input = header + Buffer.from(JSON.stringify(payload)).toString('base64url');
      return Promise.resolve(`${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`);
    };
  }
  const { digest, options: signOptions } = ALGORITHMS[options.alg];
  const privateKey = createPrivateKey(options.key);
  // A bare KeyObject where no options are needed: Node takes it without inspecting an options object.
  const key = Object.keys(signOptions).length === 0 ? privateKey : { key: privateKey, ...signOptions };
  return (payload) => {
    const input = header + Buffer.from(JSON.stringify(payload)).toString('base64url');
    return new Promise((resolve, reject) => {
      signWith(digest, Buffer.from(input), key, (err, signature) => (err ? reject(err) : resolve(`${input}.${signature.toString('base64url')}`)));
    });
  };
}

/** True when the compact JWS's signature is valid for the key; never throws for a bad token. */
export type SignatureVerifier = (token: string) => boolean;

/**
 * Checks the signature of a compact JWS only. HMAC is compared in constant time; ECDSA in the
 * JOSE (IEEE P1363) encoding; Ed25519 per RFC 8037; RSASSA-PSS with a salt as long as the hash.
 * A key that does not fit the algorithm (`keyFitsAlgorithm`) throws a TypeError here, once,
 * rather than failing every token later.
 *
 * @example
 * signatureVerifier({ alg: 'EdDSA', key: publicKeyFromJwk(jwk) })(token) // true or false
 */
export function signatureVerifier(options: { alg: JwsAlgorithm; key: KeyObject | string | Buffer }): SignatureVerifier {
  const key =
    options.key instanceof KeyObject ? options.key : options.alg === 'HS256' ? createSecretKey(Buffer.from(options.key)) : createPublicKey(options.key);
  if (!keyFitsAlgorithm(key, options.alg)) throw new TypeError(`a ${key.asymmetricKeyType ?? key.type} key cannot check ${options.alg} signatures`);
  if (options.alg === 'HS256') {
    const pads = hmacPads(key.export());
    return (token) => {
      const dot = token.lastIndexOf('.');
      if (dot < 0 || dot === token.length - 1) return false;
      // The expected signature in its canonical spelling: a loose one (padding, `+`, `/`, set
      // unused bits) never equals it, so no decoding is needed to be strict (RFC 7515 §2).
      return constantTimeEqual(hmacSha256(pads, token, dot), token, dot + 1);
    };
  }
  const { digest, options: verifyOptions } = ALGORITHMS[options.alg];
  const withOptions = Object.keys(verifyOptions).length === 0 ? key : { key, ...verifyOptions };
  return (token) => checkCompact(token, (input, signature) => verifyWith(digest, Buffer.from(input), withOptions, signature));
}

/** SHA-256's block size, B in RFC 2104. */
const SHA256_BLOCK = 64;
type OneShotHash = (algorithm: string, data: Uint8Array, encoding: 'buffer' | 'base64url') => Buffer | string;
const oneShot = (nodeCrypto as unknown as { hash?: OneShotHash }).hash;
/** The inner pad and a signing input as long as any token Keygate reads, UTF-8 encoded. */
const innerScratch = Buffer.alloc(SHA256_BLOCK + 3 * MAX_TOKEN_LENGTH);
/** The outer pad and the inner digest. */
const outerScratch = Buffer.alloc(SHA256_BLOCK + 32);

interface HmacPads {
  key: Buffer;
  inner: Buffer;
  outer: Buffer;
}

/** The key XOR ipad and XOR opad blocks of RFC 2104 §2, made once per key (a longer key is hashed first). */
function hmacPads(secret: Buffer): HmacPads {
  const key = secret.length > SHA256_BLOCK ? createHash('sha256').update(secret).digest() : secret;
  const inner = Buffer.alloc(SHA256_BLOCK, 0x36);
  const outer = Buffer.alloc(SHA256_BLOCK, 0x5c);
  for (let i = 0; i < key.length; i++) {
    inner[i]! ^= key[i]!;
    outer[i]! ^= key[i]!;
  }
  return { key: secret, inner, outer };
}

/**
 * HMAC-SHA256 (RFC 2104) of `text[0, end)`, base64url: two one-shot SHA-256 digests over the
 * pads made once per key and the module's scratch buffers. createHmac gives the same bytes but
 * makes and re-keys an Hmac object per token, a third of a first-seen HS256 token's cost. The
 * scratch buffers are safe to share: this is synchronous, so two calls never interleave.
 */
function hmacSha256(pads: HmacPads, text: string, end: number): string {
  if (oneShot === undefined || end > MAX_TOKEN_LENGTH) return createHmac('sha256', pads.key).update(text.slice(0, end)).digest('base64url');
  pads.inner.copy(innerScratch, 0);
  const length = innerScratch.write(text.slice(0, end), SHA256_BLOCK, 'utf8');
  pads.outer.copy(outerScratch, 0);
  (oneShot('sha256', innerScratch.subarray(0, SHA256_BLOCK + length), 'buffer') as Buffer).copy(outerScratch, SHA256_BLOCK);
  return oneShot('sha256', outerScratch, 'base64url') as string;
}

/**
 * Whether `expected` equals `text` from `from` to its end, in time that depends only on the
 * lengths: every character is compared, whatever the first difference.
 */
function constantTimeEqual(expected: string, text: string, from: number): boolean {
  if (text.length - from !== expected.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ text.charCodeAt(from + i);
  return difference === 0;
}

function checkCompact(token: string, verify: (input: string, signature: Buffer) => boolean): boolean {
  const dot = token.lastIndexOf('.');
  if (dot < 0 || dot === token.length - 1) return false;
  // Node's base64url decoder skips `=`, `+`, `/` and whitespace: a signature must be strict (RFC 7515 §2).
  const signature = decodeBase64url(token, dot + 1);
  if (signature === null) return false;
  try {
    return verify(token.slice(0, dot), signature);
  } catch {
    return false;
  }
}
