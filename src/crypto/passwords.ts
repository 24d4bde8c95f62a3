import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { KeygateError } from '../domain/errors.js';

/**
 * Password hashing with scrypt (memory-hard; node:crypto, no native dependency).
 * Stored form: `scrypt$N$r$p$salt$hash`, so parameters can be raised later and old hashes still
 * verify. N=2^15, r=8 uses 32 MiB per hash, about 50–100 ms here.
 */
const PARAMS = { N: 32_768, r: 8, p: 1 };
const KEY_LENGTH = 32;

/** A hash of a random password, to spend the same time when the account does not exist. */
export const DUMMY_PASSWORD_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

function derive(password: string, salt: Buffer, params: typeof PARAMS): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/**
 * Every scrypt derivation of a Keygate instance goes through one of these. Each derivation holds
 * 32 MiB and a libuv thread for ~100 ms, so at most `concurrency` run at once and at most `queue`
 * wait; a caller beyond that gets `PASSWORD_HASHING_BUSY` at once instead of an unbounded wait
 * (sign-in turns it into a throttled answer). `evaluations` counts derivations started, so tests
 * and metrics can see how much work a burst of requests caused.
 *
 * @example
 * const passwords = new PasswordHasher({ concurrency: 2, queue: 16 });
 * const stored = await passwords.hash('correct horse battery staple');
 * await passwords.verify('correct horse battery staple', stored); // true
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private started = 0;

  constructor(private readonly limits: { concurrency: number; queue: number }) {
    if (!(limits.concurrency >= 1) || !(limits.queue >= 0)) throw new TypeError('PasswordHasher needs concurrency >= 1 and queue >= 0');
  }

  /** scrypt derivations started since this hasher was made. */
  get evaluations(): number {
    return this.started;
  }

  /** The stored form of a new password. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await this.derive(password, salt, PARAMS);
    return `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** Constant-time check; false for any malformed stored hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, hash] = stored.split('$');
    if (scheme !== 'scrypt' || !salt || !hash) return false;
    const expected = Buffer.from(hash, 'base64url');
    const key = await this.derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) });
    return key.length === expected.length && timingSafeEqual(key, expected);
  }

  private async derive(password: string, salt: Buffer, params: typeof PARAMS): Promise<Buffer> {
    await this.acquire();
    try {
      this.started += 1;
      return await derive(password, salt, params);
    } finally {
      this.release();
    }
  }

  private async acquire(): Promise<void> {
    if (this.running < this.limits.concurrency) {
      this.running += 1;
      return;
    }
    if (this.waiting.length >= this.limits.queue) throw new KeygateError('PASSWORD_HASHING_BUSY', 'too many password checks are running; retry shortly');
    // The releasing derivation hands its slot over, so `running` stays as it is.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running -= 1;
  }
}
