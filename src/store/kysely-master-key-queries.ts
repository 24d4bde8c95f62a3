import type { Kysely } from 'kysely';
import type { Database } from './schema.js';

/** The SQL behind the master-key check at start-up, for KyselyStore. */

const CHECK = 'master_key_check';

export async function masterKeyCheck(db: Kysely<Database>): Promise<string | null> {
  const row = await db.selectFrom('keygate_meta').select('value').where('name', '=', CHECK).executeTakeFirst();
  return row?.value ?? null;
}

/** Inserts the check unless a row exists, then reads back whichever row won. */
export async function saveMasterKeyCheck(db: Kysely<Database>, sealed: string, at: number): Promise<string> {
  await db
    .insertInto('keygate_meta')
    .values({ name: CHECK, value: sealed, created_at: at })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  return (await masterKeyCheck(db))!;
}

/** True while no tenant exists, not even the system tenant every start creates. */
export async function isEmpty(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('tenants').select('id').limit(1).executeTakeFirst();
  return row === undefined;
}

export async function anySealedSigningKey(db: Kysely<Database>): Promise<{ kid: string; sealedPrivateKey: string } | null> {
  const row = await db.selectFrom('signing_keys').select(['kid', 'private_key']).orderBy('kid').limit(1).executeTakeFirst();
  return row === undefined ? null : { kid: row.kid, sealedPrivateKey: row.private_key };
}
