import type { Kysely, Transaction } from 'kysely';
import type { Client, IssuedToken, Revocation } from '../domain/clients.js';
import { clientToRow, rowToClient, rowToSigningKey } from './rows.js';
import type { Database, SigningKeysTable } from './schema.js';
import type { StoredSigningKey } from './store.js';

/** The SQL of the token side (signing keys, clients, JWT API keys, revocations), for KyselyStore. */
type Db = Kysely<Database> | Transaction<Database>;

export function signingKeyToRow(key: StoredSigningKey): SigningKeysTable {
  return {
    kid: key.kid,
    tenant_id: key.tenantId,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_key: key.sealedPrivateKey,
    created_at: key.createdAt,
    activates_at: key.activatesAt,
    retired_at: key.retiredAt,
    publish_until: key.publishUntil,
  };
}

export async function listSigningKeys(db: Db, tenantId: string): Promise<StoredSigningKey[]> {
  const rows = await db.selectFrom('signing_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('activates_at').execute();
  return rows.map(rowToSigningKey);
}

export async function addSigningKey(trx: Transaction<Database>, key: StoredSigningKey, retire: { kids: string[]; retiredAt: number }): Promise<void> {
  if (retire.kids.length > 0) {
    await trx.updateTable('signing_keys').set({ retired_at: retire.retiredAt }).where('kid', 'in', retire.kids).execute();
  }
  await trx.insertInto('signing_keys').values(signingKeyToRow(key)).execute();
}

export async function createClient(trx: Transaction<Database>, client: Client, secretHash: string | null): Promise<void> {
  await trx.insertInto('clients').values(clientToRow(client)).execute();
  if (secretHash !== null) {
    await trx.insertInto('client_secrets').values({ hash: secretHash, client_id: client.id, created_at: client.createdAt, expires_at: null }).execute();
  }
}

export async function findClient(db: Db, tenantId: string, id: string): Promise<Client | null> {
  const row = await db.selectFrom('clients').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  return row ? rowToClient(row) : null;
}

export async function createIssuedToken(trx: Transaction<Database>, token: IssuedToken): Promise<void> {
  await trx
    .insertInto('issued_tokens')
    .values({
      jti: token.jti,
      tenant_id: token.tenantId,
      api_id: token.apiId,
      consumer: token.consumer,
      scopes: JSON.stringify(token.scopes),
      claims_format: token.claimsFormat,
      kid: token.kid,
      issued_at: token.issuedAt,
      expires_at: token.expiresAt,
      revoked_at: token.revokedAt,
    })
    .execute();
}

export async function lastIssuedTokenExpiry(db: Db, kid: string): Promise<number | null> {
  const live = db.selectFrom('issued_tokens').where('kid', '=', kid).where('revoked_at', 'is', null);
  const forever = await live.select('jti').where('expires_at', 'is', null).executeTakeFirst();
  if (forever) return Infinity;
  const row = await live.select((eb) => eb.fn.max('expires_at').as('last')).executeTakeFirst();
  return row?.last == null ? null : Number(row.last);
}

export async function addRevocation(trx: Transaction<Database>, revocation: Revocation): Promise<boolean> {
  if (revocation.kind === 'jti') {
    const existing = await trx
      .selectFrom('revocations')
      .select('id')
      .where('tenant_id', '=', revocation.tenantId)
      .where('kind', '=', 'jti')
      .where('subject', '=', revocation.subject)
      .executeTakeFirst();
    if (existing) return false;
    await trx
      .updateTable('issued_tokens')
      .set({ revoked_at: revocation.createdAt })
      .where('tenant_id', '=', revocation.tenantId)
      .where('jti', '=', revocation.subject)
      .execute();
  }
  await trx
    .insertInto('revocations')
    .values({
      id: revocation.id,
      tenant_id: revocation.tenantId,
      kind: revocation.kind,
      subject: revocation.subject,
      not_before: revocation.notBefore,
      expires_at: revocation.expiresAt,
      created_at: revocation.createdAt,
    })
    .execute();
  return true;
}
