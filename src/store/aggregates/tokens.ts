import type { Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import type { Hs256Secret, IssuedToken, Revocation } from '../../domain/clients.js';
import type { SigningKey } from '../../domain/signing-keys.js';
import type { SigningAlgorithm } from '../../domain/tokens/jwt.js';
import { numberOrNull, paginate, type Db, type KyselyContext, type TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import type { Database, Hs256SecretsTable, IssuedTokensTable, RevocationsTable, SigningKeysTable } from '../schema.js';
import { insertEvents } from './audit.js';

/** A signing key as stored: its private key sealed under the master key. */
export interface StoredSigningKey extends SigningKey {
  sealedPrivateKey: string;
}

/** Builds a revocation a store change records in its transaction (the service gives ids and times). */
export type RevocationFactory = (input: Pick<Revocation, 'kind' | 'subject' | 'notBefore' | 'expiresAt'>) => Revocation;

/** What tokens are signed with and checked against: JWT API keys issued, revocations, signing keys, HS256 secrets. */
export interface TokensStore {
  createIssuedToken(token: IssuedToken, event: AuditEvent): Promise<void>;
  findIssuedToken(tenantId: string, jti: string): Promise<IssuedToken | null>;
  listIssuedTokens(tenantId: string, filter: { apiId?: string; consumer?: string }, page: PageRequest): Promise<Page<IssuedToken>>;
  /** Latest expiry of live JWT API keys signed by `kid`: null if none, Infinity if one never expires. */
  lastIssuedTokenExpiry(kid: string): Promise<number | null>;

  /** Records a revocation (marking an issued JWT API key revoked too). Returns false for a jti already revoked. */
  addRevocation(revocation: Revocation, event: AuditEvent): Promise<boolean>;
  /** Revocations of a tenant after `after` (a revocation id), oldest first: the feed verifiers follow. */
  listRevocations(tenantId: string, page: PageRequest): Promise<Page<Revocation>>;

  listSigningKeys(tenantId: string): Promise<StoredSigningKey[]>;
  /** Adds a key; the keys in `retire` stop signing at `retiredAt`. */
  addSigningKey(key: StoredSigningKey, retire: { kids: string[]; retiredAt: number }, event: AuditEvent): Promise<void>;
  setPublishUntil(kid: string, publishUntil: number): Promise<void>;

  createHs256Secret(secret: Hs256Secret, sealed: string, event: AuditEvent): Promise<void>;
  findHs256Secret(kid: string): Promise<(Hs256Secret & { sealed: string }) | null>;
  listHs256Secrets(tenantId: string): Promise<Hs256Secret[]>;
  revokeHs256Secret(tenantId: string, kid: string, at: number, event: AuditEvent): Promise<boolean>;
}

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

export function rowToSigningKey(row: SigningKeysTable): StoredSigningKey {
  return {
    kid: row.kid,
    tenantId: row.tenant_id,
    alg: row.alg as SigningAlgorithm,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, unknown>,
    sealedPrivateKey: row.private_key,
    createdAt: Number(row.created_at),
    activatesAt: Number(row.activates_at),
    retiredAt: numberOrNull(row.retired_at),
    publishUntil: numberOrNull(row.publish_until),
  };
}

export function rowToIssuedToken(row: IssuedTokensTable): IssuedToken {
  return {
    jti: row.jti,
    tenantId: row.tenant_id,
    apiId: row.api_id,
    consumer: row.consumer,
    scopes: JSON.parse(row.scopes) as string[],
    claimsFormat: row.claims_format as IssuedToken['claimsFormat'],
    kid: row.kid,
    issuedAt: Number(row.issued_at),
    expiresAt: numberOrNull(row.expires_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function revocationToRow(revocation: Revocation): RevocationsTable {
  return {
    id: revocation.id,
    tenant_id: revocation.tenantId,
    kind: revocation.kind,
    subject: revocation.subject,
    not_before: revocation.notBefore,
    expires_at: revocation.expiresAt,
    created_at: revocation.createdAt,
  };
}

export function rowToRevocation(row: RevocationsTable): Revocation {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind as Revocation['kind'],
    subject: row.subject,
    notBefore: numberOrNull(row.not_before),
    expiresAt: numberOrNull(row.expires_at),
    createdAt: Number(row.created_at),
  };
}

function rowToHs256(row: Hs256SecretsTable): Hs256Secret {
  return { kid: row.kid, tenantId: row.tenant_id, createdAt: Number(row.created_at), revokedAt: row.revoked_at === null ? null : Number(row.revoked_at) };
}

/** How a tenant's tokens, revocations and keys leave with it. */
export const TOKEN_TENANT_ROWS: TenantRows<'issued_tokens' | 'revocations' | 'hs256_secrets' | 'signing_keys'> = {
  issued_tokens: (trx, tenantId) => trx.deleteFrom('issued_tokens').where('tenant_id', '=', tenantId).execute(),
  revocations: (trx, tenantId) => trx.deleteFrom('revocations').where('tenant_id', '=', tenantId).execute(),
  hs256_secrets: (trx, tenantId) => trx.deleteFrom('hs256_secrets').where('tenant_id', '=', tenantId).execute(),
  signing_keys: (trx, tenantId) => trx.deleteFrom('signing_keys').where('tenant_id', '=', tenantId).execute(),
};

/** Records revocations inside the caller's transaction; returns them. */
export async function insertRevocations(db: Db, revocations: Revocation[]): Promise<Revocation[]> {
  for (const r of revocations) await db.insertInto('revocations').values(revocationToRow(r)).execute();
  return revocations;
}

/** The API's JWT API keys neither revoked nor expired at `at`. */
export async function liveIssuedTokensOfApi(db: Db, apiId: string, at: number): Promise<{ jti: string; scopes: string[]; expiresAt: number | null }[]> {
  const rows = await db
    .selectFrom('issued_tokens')
    .select(['jti', 'scopes', 'expires_at'])
    .where('api_id', '=', apiId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .execute();
  return rows.map((r) => ({ jti: r.jti, scopes: JSON.parse(r.scopes) as string[], expiresAt: numberOrNull(r.expires_at) }));
}

export async function countLiveIssuedTokensOfApi(db: Db, apiId: string, at: number): Promise<number> {
  const row = await db
    .selectFrom('issued_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_id', '=', apiId)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Marks the API's JWT API keys with these jtis revoked (their revocations are recorded apart). */
export async function markIssuedTokensRevoked(db: Db, apiId: string, jtis: readonly string[], at: number): Promise<void> {
  if (jtis.length > 0) await db.updateTable('issued_tokens').set({ revoked_at: at }).where('api_id', '=', apiId).where('jti', 'in', jtis).execute();
}

export async function deleteIssuedTokensOfApi(db: Db, apiId: string): Promise<void> {
  await db.deleteFrom('issued_tokens').where('api_id', '=', apiId).execute();
}

export async function insertSigningKey(db: Db, key: StoredSigningKey): Promise<void> {
  await db.insertInto('signing_keys').values(signingKeyToRow(key)).execute();
}

/** One sealed signing key of any tenant (the master-key check of a database from before the check). */
export async function anySealedSigningKey(db: Db): Promise<{ kid: string; sealedPrivateKey: string } | null> {
  const row = await db.selectFrom('signing_keys').select(['kid', 'private_key']).orderBy('kid').limit(1).executeTakeFirst();
  return row === undefined ? null : { kid: row.kid, sealedPrivateKey: row.private_key };
}

/** Deletes jti revocations whose token has expired anyway; returns how many. */
export async function pruneExpiredRevocations(db: Db, now: number): Promise<number> {
  const result = await db.deleteFrom('revocations').where('kind', '=', 'jti').where('expires_at', 'is not', null).where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export class KyselyTokensStore implements TokensStore {
  constructor(private readonly k: KyselyContext) {}

  createIssuedToken(token: IssuedToken, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
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
        await insertEvents(trx, [event]);
      }),
    );
  }

  findIssuedToken(tenantId: string, jti: string): Promise<IssuedToken | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('issued_tokens').selectAll().where('tenant_id', '=', tenantId).where('jti', '=', jti).executeTakeFirst();
      return row ? rowToIssuedToken(row) : null;
    });
  }

  listIssuedTokens(tenantId: string, filter: { apiId?: string; consumer?: string }, page: PageRequest): Promise<Page<IssuedToken>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('issued_tokens').selectAll().where('tenant_id', '=', tenantId);
      if (filter.apiId !== undefined) query = query.where('api_id', '=', filter.apiId);
      if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
      if (page.after !== null) query = query.where('jti', '>', page.after);
      const rows = await query.orderBy('jti').limit(page.limit + 1).execute();
      return paginate(rows.map((r) => ({ ...r, id: r.jti })), page.limit, rowToIssuedToken);
    });
  }

  lastIssuedTokenExpiry(kid: string): Promise<number | null> {
    return this.k.guard(async () => {
      const live = this.k.db.selectFrom('issued_tokens').where('kid', '=', kid).where('revoked_at', 'is', null);
      const forever = await live.select('jti').where('expires_at', 'is', null).executeTakeFirst();
      if (forever) return Infinity;
      const row = await live.select((eb) => eb.fn.max('expires_at').as('last')).executeTakeFirst();
      return row?.last == null ? null : Number(row.last);
    });
  }

  addRevocation(revocation: Revocation, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const added = await addRevocation(trx, revocation);
        if (added) await insertEvents(trx, [event]);
        return added;
      }),
    );
  }

  listRevocations(tenantId: string, page: PageRequest): Promise<Page<Revocation>> {
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('revocations').selectAll().where('tenant_id', '=', tenantId);
      if (page.after !== null) query = query.where('id', '>', page.after);
      return paginate(await query.orderBy('id').limit(page.limit + 1).execute(), page.limit, rowToRevocation);
    });
  }

  listSigningKeys(tenantId: string): Promise<StoredSigningKey[]> {
    return this.k.guard(async () => {
      const rows = await this.k.db.selectFrom('signing_keys').selectAll().where('tenant_id', '=', tenantId).orderBy('activates_at').execute();
      return rows.map(rowToSigningKey);
    });
  }

  addSigningKey(key: StoredSigningKey, retire: { kids: string[]; retiredAt: number }, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        if (retire.kids.length > 0) {
          await trx.updateTable('signing_keys').set({ retired_at: retire.retiredAt }).where('kid', 'in', retire.kids).execute();
        }
        await insertSigningKey(trx, key);
        await insertEvents(trx, [event]);
      }),
    );
  }

  setPublishUntil(kid: string, publishUntil: number): Promise<void> {
    return this.k.guard(async () => {
      await this.k.db.updateTable('signing_keys').set({ publish_until: publishUntil }).where('kid', '=', kid).execute();
    });
  }

  createHs256Secret(secret: Hs256Secret, sealed: string, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('hs256_secrets')
          .values({ kid: secret.kid, tenant_id: secret.tenantId, secret: sealed, created_at: secret.createdAt, revoked_at: null })
          .execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  findHs256Secret(kid: string): Promise<(Hs256Secret & { sealed: string }) | null> {
    return this.k.guard(async () => {
      const row = await this.k.db.selectFrom('hs256_secrets').selectAll().where('kid', '=', kid).executeTakeFirst();
      return row ? { ...rowToHs256(row), sealed: row.secret } : null;
    });
  }

  listHs256Secrets(tenantId: string): Promise<Hs256Secret[]> {
    return this.k.guard(async () => {
      const rows = await this.k.db.selectFrom('hs256_secrets').selectAll().where('tenant_id', '=', tenantId).orderBy('kid').execute();
      return rows.map(rowToHs256);
    });
  }

  revokeHs256Secret(tenantId: string, kid: string, at: number, event: AuditEvent): Promise<boolean> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const result = await trx
          .updateTable('hs256_secrets')
          .set({ revoked_at: at })
          .where('tenant_id', '=', tenantId)
          .where('kid', '=', kid)
          .where('revoked_at', 'is', null)
          .executeTakeFirst();
        const changed = Number(result.numUpdatedRows) > 0;
        if (changed) await insertEvents(trx, [event]);
        return changed;
      }),
    );
  }
}

/** A jti is revoked once: a second revocation of it is refused, and marks its JWT API key revoked. */
async function addRevocation(trx: Transaction<Database>, revocation: Revocation): Promise<boolean> {
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
  await trx.insertInto('revocations').values(revocationToRow(revocation)).execute();
  return true;
}
