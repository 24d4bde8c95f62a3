import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const MASTER_KEY_FILE = 'master.key';

/**
 * The master key from KEYGATE_MASTER_KEY (32 bytes as base64/base64url or 64 hex digits), or
 * from `{dataDir}/master.key`, generated there (mode 0600) at the first start. Returns whether
 * it was generated so the caller can warn: a generated key lives beside the data it protects,
 * and instances sharing PostgreSQL must share one key.
 *
 * @example
 * const { key, generated } = loadMasterKey({ configured: process.env.KEYGATE_MASTER_KEY, dataDir: '.keygate' });
 */
export function loadMasterKey(options: { configured: string | undefined; dataDir: string }): { key: Buffer; generated: boolean; source: 'config' | 'file' } {
  if (options.configured) return { key: parseMasterKey(options.configured), generated: false, source: 'config' };
  const file = join(options.dataDir, MASTER_KEY_FILE);
  if (existsSync(file)) return { key: parseMasterKey(readFileSync(file, 'utf8').trim()), generated: false, source: 'file' };
  mkdirSync(options.dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, key.toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  return { key, generated: true, source: 'file' };
}

export function parseMasterKey(text: string): Buffer {
  const key = /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64url');
  if (key.length !== 32) throw new TypeError('KEYGATE_MASTER_KEY must be 32 bytes: 64 hex digits or 43 base64url characters');
  return key;
}
