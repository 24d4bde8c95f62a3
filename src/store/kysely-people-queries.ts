import { sql, type Kysely, type Transaction } from 'kysely';
import type { AuthorizationCode, Grant, Interaction, RefreshToken, User } from '../domain/people.js';
import type { AuthorizationCodesTable, Database, GrantsTable, RefreshTokensTable, UsersTable } from './schema.js';

/** The SQL of the people side (users, sessions, grants, codes, refresh tokens), for KyselyStore. */
type Db = Kysely<Database> | Transaction<Database>;

const numberOrNull = (value: number | string | null): number | null => (value === null ? null : Number(value));

export function rowToUser(row: UsersTable): User {
  return { id: row.id, tenantId: row.tenant_id, email: row.email, name: row.name, createdAt: Number(row.created_at), disabledAt: row.disabled_at === null ? null : Number(row.disabled_at) };
}

export function rowToGrant(row: GrantsTable): Grant {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    userId: row.user_id,
    clientId: row.client_id,
    apiId: row.api_id,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: Number(row.created_at),
    lastUsedAt: numberOrNull(row.last_used_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function rowToCode(row: AuthorizationCodesTable): AuthorizationCode {
  return {
    hash: row.hash,
    tenantId: row.tenant_id,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    apiId: row.api_id,
    redirectUri: row.redirect_uri,
    codeChallenge: row.code_challenge,
    scopes: JSON.parse(row.scopes) as string[],
    expiresAt: Number(row.expires_at),
    usedAt: numberOrNull(row.used_at),
  };
}

export function rowToRefreshToken(row: RefreshTokensTable): RefreshToken {
  return {
    hash: row.hash,
    familyId: row.family_id,
    tenantId: row.tenant_id,
    grantId: row.grant_id,
    clientId: row.client_id,
    userId: row.user_id,
    apiId: row.api_id,
    scopes: JSON.parse(row.scopes) as string[],
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
    familyExpiresAt: Number(row.family_expires_at),
    rotatedAt: numberOrNull(row.rotated_at),
    revokedAt: numberOrNull(row.revoked_at),
  };
}

export function interactionToRow(i: Interaction) {
  return {
    id: i.id,
    tenant_id: i.tenantId,
    client_id: i.clientId,
    api_id: i.apiId,
    redirect_uri: i.redirectUri,
    state: i.state,
    code_challenge: i.codeChallenge,
    scopes: JSON.stringify(i.scopes),
    source: i.source,
    created_at: i.createdAt,
    expires_at: i.expiresAt,
  };
}

/**
 * Keeps the newest `keep` pending authorizations of one source address or one client. Ids grow
 * with time, so the `keep`-th newest id is the cut: everything older goes.
 */
export async function trimInteractions(db: Db, tenantId: string, column: 'source' | 'client_id', value: string, keep: number): Promise<void> {
  const cut = await db
    .selectFrom('interactions')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where(column, '=', value)
    .orderBy('id', 'desc')
    .limit(1)
    .offset(keep - 1)
    .executeTakeFirst();
  if (cut === undefined) return;
  await db.deleteFrom('interactions').where('tenant_id', '=', tenantId).where(column, '=', value).where('id', '<', cut.id).execute();
}

export async function findInteraction(db: Db, tenantId: string, id: string): Promise<Interaction | null> {
  const row = await db.selectFrom('interactions').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
  if (!row) return null;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    apiId: row.api_id,
    redirectUri: row.redirect_uri,
    state: row.state,
    codeChallenge: row.code_challenge,
    scopes: JSON.parse(row.scopes) as string[],
    source: row.source,
    createdAt: Number(row.created_at),
    expiresAt: Number(row.expires_at),
  };
}

export function codeToRow(code: AuthorizationCode): AuthorizationCodesTable {
  return {
    hash: code.hash,
    tenant_id: code.tenantId,
    grant_id: code.grantId,
    client_id: code.clientId,
    user_id: code.userId,
    api_id: code.apiId,
    redirect_uri: code.redirectUri,
    code_challenge: code.codeChallenge,
    scopes: JSON.stringify(code.scopes),
    expires_at: code.expiresAt,
    used_at: code.usedAt,
  };
}

export function refreshToRow(token: RefreshToken): RefreshTokensTable {
  return {
    hash: token.hash,
    family_id: token.familyId,
    tenant_id: token.tenantId,
    grant_id: token.grantId,
    client_id: token.clientId,
    user_id: token.userId,
    api_id: token.apiId,
    scopes: JSON.stringify(token.scopes),
    created_at: token.createdAt,
    expires_at: token.expiresAt,
    family_expires_at: token.familyExpiresAt,
    rotated_at: token.rotatedAt,
    revoked_at: token.revokedAt,
  };
}

/** Marks the code used if it was not; returns the code and whether this call was its first use. */
export async function consumeCode(db: Db, hash: string, now: number): Promise<{ code: AuthorizationCode; first: boolean } | null> {
  const result = await db.updateTable('authorization_codes').set({ used_at: now }).where('hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
  const row = await db.selectFrom('authorization_codes').selectAll().where('hash', '=', hash).executeTakeFirst();
  return row ? { code: rowToCode(row), first: Number(result.numUpdatedRows) === 1 } : null;
}

/** Marks the token rotated if it was live; returns the token and whether this call won. */
export async function rotateRefreshToken(db: Db, hash: string, now: number): Promise<{ token: RefreshToken; won: boolean } | null> {
  // The common case is one statement: the winner gets the row back from the UPDATE itself.
  const won = await db
    .updateTable('refresh_tokens')
    .set({ rotated_at: now })
    .where('hash', '=', hash)
    .where('rotated_at', 'is', null)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  if (won) return { token: rowToRefreshToken(won), won: true };
  const row = await db.selectFrom('refresh_tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
  return row ? { token: rowToRefreshToken(row), won: false } : null;
}

export async function revokeRefreshTokens(db: Db, grantId: string, at: number): Promise<void> {
  await db.updateTable('refresh_tokens').set({ revoked_at: at }).where('grant_id', '=', grantId).where('revoked_at', 'is', null).execute();
}

export async function touchGrant(db: Db, grantId: string, at: number): Promise<void> {
  await db
    .updateTable('grants')
    .set({ last_used_at: sql<number>`case when last_used_at is null or last_used_at < ${at} then ${at} else last_used_at end` })
    .where('id', '=', grantId)
    .execute();
}
