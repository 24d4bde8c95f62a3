import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Envelope encryption for secrets Keygate must be able to read back (signing keys, HS256
 * secrets): each value gets its own random data key (AES-256-GCM); the data key is itself
 * encrypted under the master key. Rotating the master key re-wraps data keys, not data.
 *
 * Stored form: `v1.{wrapped data key}.{iv}.{ciphertext}.{tag}`, each part base64url, where the
 * wrapped data key is `{iv}{ciphertext}{tag}` of the data key under the master key.
 */
const ALG = 'aes-256-gcm';

export class Envelope {
  constructor(private readonly masterKey: Buffer) {
    if (masterKey.length !== 32) throw new TypeError('the master key must be 32 bytes');
  }

  /**
   * @example
   * const sealed = envelope.seal(Buffer.from(pem), 'signing-key:kid_123');
   */
  seal(plaintext: Buffer, context: string): string {
    const dataKey = randomBytes(32);
    const wrapIv = randomBytes(12);
    const wrap = createCipheriv(ALG, this.masterKey, wrapIv).setAAD(Buffer.from(context));
    const wrapped = Buffer.concat([wrapIv, wrap.update(dataKey), wrap.final(), wrap.getAuthTag()]);
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALG, dataKey, iv).setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return ['v1', wrapped, iv, ciphertext, cipher.getAuthTag()].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /** Throws when the value was sealed under another master key, for another context, or altered. */
  open(sealed: string, context: string): Buffer {
    const [version, wrappedText, ivText, ciphertextText, tagText] = sealed.split('.');
    if (version !== 'v1' || !wrappedText || !ivText || !ciphertextText || !tagText) throw new Error('not a sealed value');
    const wrapped = Buffer.from(wrappedText, 'base64url');
    const unwrap = createDecipheriv(ALG, this.masterKey, wrapped.subarray(0, 12)).setAAD(Buffer.from(context));
    unwrap.setAuthTag(wrapped.subarray(wrapped.length - 16));
    const dataKey = Buffer.concat([unwrap.update(wrapped.subarray(12, wrapped.length - 16)), unwrap.final()]);
    const decipher = createDecipheriv(ALG, dataKey, Buffer.from(ivText, 'base64url')).setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tagText, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertextText, 'base64url')), decipher.final()]);
  }
}
