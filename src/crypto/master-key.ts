import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MASTER_KEY_FILE = 'master.key';

/** Where a master key came from: KEYGATE_MASTER_KEY, the data directory's file, or made just now. */
export type MasterKeySource = 'config' | 'file' | 'generated';

/**
 * The master key from KEYGATE_MASTER_KEY (32 bytes as base64/base64url or 64 hex digits), or
 * from `{dataDir}/master.key`, or a new random one. A new key is not written yet: the caller
 * first checks that the database may take it, then calls `saveMasterKey`.
 *
 * @example
 * const { key, source } = loadMasterKey({ configured: process.env.KEYGATE_MASTER_KEY, dataDir: '.keygate' });
 */
export function loadMasterKey(options: { configured: string | undefined; dataDir: string }): { key: Buffer; source: MasterKeySource } {
  if (options.configured) return { key: parseMasterKey(options.configured), source: 'config' };
  const file = join(options.dataDir, MASTER_KEY_FILE);
  if (existsSync(file)) return { key: parseMasterKey(readFileSync(file, 'utf8').trim()), source: 'file' };
  return { key: randomBytes(32), source: 'generated' };
}

/**
 * Writes a generated master key to `{dataDir}/master.key`, readable by its owner only. Fails
 * rather than overwrite a key another process wrote meanwhile.
 *
 * @example
 * saveMasterKey('.keygate', key);
 */
export function saveMasterKey(dataDir: string, key: Buffer): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MASTER_KEY_FILE), key.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
}

export function parseMasterKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64url');
  if (key.length !== 32) throw new TypeError('KEYGATE_MASTER_KEY must be 32 bytes: 64 hex digits or 43 base64url characters');
  return key;
}
