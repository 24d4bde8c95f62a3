import { Envelope } from '../crypto/envelope.js';
import { MASTER_KEY_FILE, type MasterKeySource } from '../crypto/master-key.js';
import type { Store } from '../store/store.js';
import { StartupError, describeDatabaseUrl } from './startup-errors.js';

/** What the check seals; only whether it opens matters. */
const CHECK_CONTEXT = 'master-key-check';
const CHECK_PLAINTEXT = 'keygate master key check v1';

const WHAT_TO_DO =
  'Set KEYGATE_MASTER_KEY to the master key the other instances use (an instance that generated one keeps it in its data directory, ' +
  `${MASTER_KEY_FILE}), then start again.`;

/**
 * Decides whether this instance's master key fits the database, before anything is sealed with
 * it. The database keeps a check value sealed with the master key of its first start:
 * - a key that cannot open the check is refused;
 * - a database from before the check (signing keys, no check) gets one only if the key opens
 *   one of its signing keys, else the key is refused;
 * - with DATABASE_URL, a key generated just now (none configured, no `master.key`) is refused
 *   unless the database is empty, since other instances would already use another one.
 * Concurrent first starts race on one row: the loser reads the winner's check and is refused
 * if its key differs. Throws a StartupError that names KEYGATE_MASTER_KEY and says what to do.
 *
 * @example
 * await checkMasterKey(store, loadMasterKey({ configured, dataDir }), { databaseUrl, dataDir, now: Date.now() });
 */
export async function checkMasterKey(
  store: Store,
  master: { key: Buffer; source: MasterKeySource },
  where: { databaseUrl: string | undefined; dataDir: string; now: number },
): Promise<void> {
  const envelope = new Envelope(master.key);
  const existing = await store.masterKeyCheck();
  if (master.source === 'generated' && where.databaseUrl && (existing !== null || !(await store.isEmpty()))) {
    throw new StartupError(
      `KEYGATE_MASTER_KEY is not set and ${where.dataDir}/${MASTER_KEY_FILE} does not exist, but the database at ` +
        `${describeDatabaseUrl(where.databaseUrl)} (DATABASE_URL) already holds Keygate data sealed with a master key; ` +
        `a new one could not open it, so none was generated. ${WHAT_TO_DO}`,
    );
  }
  if (existing !== null) {
    if (!opens(envelope, existing, CHECK_CONTEXT)) throw mismatch(master.source, where.dataDir, 'the master-key check this database was set up with');
    return;
  }
  const sample = await store.anySealedSigningKey();
  if (sample !== null && !opens(envelope, sample.sealedPrivateKey, `signing-key:${sample.kid}`)) {
    throw mismatch(master.source, where.dataDir, 'the signing keys already in this database');
  }
  const stored = await store.saveMasterKeyCheck(envelope.seal(Buffer.from(CHECK_PLAINTEXT), CHECK_CONTEXT), where.now);
  if (!opens(envelope, stored, CHECK_CONTEXT)) throw mismatch(master.source, where.dataDir, 'the master-key check another instance has just stored');
}

function opens(envelope: Envelope, sealed: string, context: string): boolean {
  try {
    envelope.open(sealed, context);
    return true;
  } catch {
    return false;
  }
}

function mismatch(source: MasterKeySource, dataDir: string, what: string): StartupError {
  const key =
    source === 'config'
      ? 'The master key in KEYGATE_MASTER_KEY'
      : source === 'file'
        ? `The master key in ${dataDir}/${MASTER_KEY_FILE} (KEYGATE_MASTER_KEY is not set)`
        : `A newly generated master key (KEYGATE_MASTER_KEY is not set and ${dataDir}/${MASTER_KEY_FILE} does not exist)`;
  return new StartupError(`${key} cannot open ${what}: the database was set up with another master key. ${WHAT_TO_DO}`);
}
