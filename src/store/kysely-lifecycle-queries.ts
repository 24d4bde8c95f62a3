import type { Transaction } from 'kysely';
import type { Revocation } from '../domain/clients.js';
import { SYSTEM_TENANT_SLUG } from '../domain/management.js';
import type { Database } from './schema.js';
import type { RevocationFactory } from './store.js';

/**
 * The SQL of the admin lifecycle for KyselyStore: ending a person's access, deleting an API and
 * everything that hangs on it, deleting a tenant and every row it owns. Each runs inside the
 * caller's transaction.
 */
type Trx = Transaction<Database>;

/**
 * How each table's rows of one tenant are deleted, in an order the foreign keys accept (children
 * first, `tenants` last). Keyed by every table of `Database`, so a new table does not compile
 * until it says how a tenant's rows leave it (`null` for a table that holds no tenant's rows).
 */
const TENANT_CASCADE: { [T in keyof Database]: ((trx: Trx, tenantId: string) => Promise<unknown>) | null } = {
  key_secrets: (trx, tenantId) =>
    trx.deleteFrom('key_secrets').where('key_id', 'in', trx.selectFrom('keys').select('id').where('tenant_id', '=', tenantId)).execute(),
  keys: (trx, tenantId) => trx.deleteFrom('keys').where('tenant_id', '=', tenantId).execute(),
  client_secrets: (trx, tenantId) =>
    trx.deleteFrom('client_secrets').where('client_id', 'in', trx.selectFrom('clients').select('id').where('tenant_id', '=', tenantId)).execute(),
  sessions: (trx, tenantId) => trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).execute(),
  authorization_codes: (trx, tenantId) => trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).execute(),
  refresh_tokens: (trx, tenantId) => trx.deleteFrom('refresh_tokens').where('tenant_id', '=', tenantId).execute(),
  grants: (trx, tenantId) => trx.deleteFrom('grants').where('tenant_id', '=', tenantId).execute(),
  password_resets: (trx, tenantId) => trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).execute(),
  interactions: (trx, tenantId) => trx.deleteFrom('interactions').where('tenant_id', '=', tenantId).execute(),
  users: (trx, tenantId) => trx.deleteFrom('users').where('tenant_id', '=', tenantId).execute(),
  issued_tokens: (trx, tenantId) => trx.deleteFrom('issued_tokens').where('tenant_id', '=', tenantId).execute(),
  revocations: (trx, tenantId) => trx.deleteFrom('revocations').where('tenant_id', '=', tenantId).execute(),
  hs256_secrets: (trx, tenantId) => trx.deleteFrom('hs256_secrets').where('tenant_id', '=', tenantId).execute(),
  signing_keys: (trx, tenantId) => trx.deleteFrom('signing_keys').where('tenant_id', '=', tenantId).execute(),
  clients: (trx, tenantId) => trx.deleteFrom('clients').where('tenant_id', '=', tenantId).execute(),
  apis: (trx, tenantId) => trx.deleteFrom('apis').where('tenant_id', '=', tenantId).execute(),
  audit_events: (trx, tenantId) => trx.deleteFrom('audit_events').where('tenant_id', '=', tenantId).execute(),
  tenants: (trx, tenantId) => trx.deleteFrom('tenants').where('id', '=', tenantId).execute(),
  keygate_meta: null,
};

/**
 * Deletes every row of the tenant, and revokes the root keys limited to its slug: a tenant
 * created later under the same slug must not be reachable by keys made for this one. Returns
 * the ids whose cached state must be dropped.
 */
export async function deleteTenantRows(trx: Trx, tenant: { id: string; slug: string }, at: number): Promise<{ keyIds: string[]; apiIds: string[]; clientIds: string[]; rootKeyIds: string[] }> {
  const keyIds = (await trx.selectFrom('keys').select('id').where('tenant_id', '=', tenant.id).execute()).map((r) => r.id);
  const apiIds = (await trx.selectFrom('apis').select('id').where('tenant_id', '=', tenant.id).execute()).map((r) => r.id);
  const clientIds = (await trx.selectFrom('clients').select('id').where('tenant_id', '=', tenant.id).execute()).map((r) => r.id);
  for (const remove of Object.values(TENANT_CASCADE)) if (remove !== null) await remove(trx, tenant.id);
  const rootKeys = await trx
    .updateTable('keys')
    .set({ revoked_at: at, updated_at: at })
    .where('tenant_id', 'in', trx.selectFrom('tenants').select('id').where('slug', '=', SYSTEM_TENANT_SLUG))
    .where('consumer', '=', tenant.slug)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return { keyIds, apiIds, clientIds, rootKeyIds: rootKeys.map((r) => r.id) };
}

/**
 * Ends everything a person holds: sessions, unused codes and reset links, refresh tokens, and
 * (through a grant cut-off recorded for each live grant) the access tokens of their grants.
 * Returns the cut-offs recorded.
 */
export async function endUserAccess(trx: Trx, tenantId: string, userId: string, at: number, revocation: RevocationFactory): Promise<Revocation[]> {
  await trx.deleteFrom('sessions').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('used_at', 'is', null).execute();
  await trx.deleteFrom('password_resets').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.updateTable('refresh_tokens').set({ revoked_at: at }).where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  const grants = await trx.selectFrom('grants').select('id').where('tenant_id', '=', tenantId).where('user_id', '=', userId).where('revoked_at', 'is', null).execute();
  return insertRevocations(trx, grants.map((g) => revocation({ kind: 'grant', subject: g.id, notBefore: Math.floor(at / 1000), expiresAt: null })));
}

/** Deletes the user and what can only be theirs; call `endUserAccess` first. */
export async function deleteUserRows(trx: Trx, tenantId: string, userId: string): Promise<void> {
  await trx.deleteFrom('authorization_codes').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('refresh_tokens').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('grants').where('tenant_id', '=', tenantId).where('user_id', '=', userId).execute();
  await trx.deleteFrom('users').where('tenant_id', '=', tenantId).where('id', '=', userId).execute();
}

/** What still uses an API: keys not revoked, JWT API keys neither revoked nor expired, clients allowed scopes of it. */
export async function apiUsers(trx: Trx, api: { id: string; tenantId: string; identifier: string }, at: number): Promise<{ keys: number; tokens: number; clients: string[] }> {
  const keys = await trx
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_id', '=', api.id)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  const tokens = await trx
    .selectFrom('issued_tokens')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_id', '=', api.id)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .executeTakeFirstOrThrow();
  const clients = await clientsAllowedOn(trx, api);
  return { keys: Number(keys.n), tokens: Number(tokens.n), clients: clients.map((c) => c.id) };
}

async function clientsAllowedOn(trx: Trx, api: { tenantId: string; identifier: string }): Promise<{ id: string; scopes: Record<string, string[]> }[]> {
  const rows = await trx.selectFrom('clients').select(['id', 'scopes']).where('tenant_id', '=', api.tenantId).execute();
  return rows.map((r) => ({ id: r.id, scopes: JSON.parse(r.scopes) as Record<string, string[]> })).filter((c) => Object.hasOwn(c.scopes, api.identifier));
}

/**
 * Deletes the API and what hangs on it: its keys and their secrets, its JWT API keys (each live
 * one's jti revoked, so an API created later with the same identifier does not revive it), the
 * people's grants on it (each live one cut off) with their codes and refresh tokens, and the
 * clients' allowances for it. Returns the ids of the keys deleted and the revocations recorded.
 */
export async function deleteApiRows(trx: Trx, api: { id: string; tenantId: string; identifier: string }, at: number, revocation: RevocationFactory): Promise<{ keyIds: string[]; clientIds: string[]; revocations: Revocation[] }> {
  const keyIds = (await trx.selectFrom('keys').select('id').where('api_id', '=', api.id).execute()).map((r) => r.id);
  if (keyIds.length > 0) await trx.deleteFrom('key_secrets').where('key_id', 'in', trx.selectFrom('keys').select('id').where('api_id', '=', api.id)).execute();
  await trx.deleteFrom('keys').where('api_id', '=', api.id).execute();
  const liveTokens = await trx
    .selectFrom('issued_tokens')
    .select(['jti', 'expires_at'])
    .where('api_id', '=', api.id)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', at)]))
    .execute();
  const liveGrants = await trx.selectFrom('grants').select('id').where('api_id', '=', api.id).where('revoked_at', 'is', null).execute();
  const revocations = await insertRevocations(trx, [
    ...liveTokens.map((t) => revocation({ kind: 'jti', subject: t.jti, notBefore: null, expiresAt: t.expires_at === null ? null : Number(t.expires_at) })),
    ...liveGrants.map((g) => revocation({ kind: 'grant', subject: g.id, notBefore: Math.floor(at / 1000), expiresAt: null })),
    // Every other token for it (client credentials, exchanged, self-issued HS256) names it only
    // by `aud`: a mark on the identifier keeps them dead, also once an API is created under it again.
    revocation({ kind: 'api', subject: api.identifier, notBefore: Math.floor(at / 1000), expiresAt: null }),
  ]);
  await trx.deleteFrom('issued_tokens').where('api_id', '=', api.id).execute();
  await trx.deleteFrom('authorization_codes').where('api_id', '=', api.id).execute();
  await trx.deleteFrom('refresh_tokens').where('api_id', '=', api.id).execute();
  await trx.deleteFrom('interactions').where('api_id', '=', api.id).execute();
  await trx.deleteFrom('grants').where('api_id', '=', api.id).execute();
  const clients = await clientsAllowedOn(trx, api);
  for (const client of clients) {
    const { [api.identifier]: _dropped, ...rest } = client.scopes;
    await trx.updateTable('clients').set({ scopes: JSON.stringify(rest), updated_at: at }).where('id', '=', client.id).execute();
  }
  await trx.deleteFrom('apis').where('id', '=', api.id).execute();
  return { keyIds, clientIds: clients.map((c) => c.id), revocations };
}

/**
 * The keys (not revoked), live JWT API keys and clients of an API that hold any of `dropped`,
 * and, when `apply`, narrows each key and client to the scopes that remain and revokes each such
 * JWT API key by jti (a signed token cannot be narrowed: left alone, it would keep the dropped
 * scope, and have it again for good once the catalog names it again).
 */
export async function narrowToCatalog(
  trx: Trx,
  api: { id: string; tenantId: string; identifier: string },
  dropped: ReadonlySet<string>,
  options: { apply: false; at: number } | { apply: true; at: number; revocation: RevocationFactory },
): Promise<{ keyIds: string[]; clientIds: string[]; tokenIds: string[]; revocations: Revocation[] }> {
  const keys = (await trx.selectFrom('keys').select(['id', 'scopes']).where('api_id', '=', api.id).where('revoked_at', 'is', null).execute())
    .map((k) => ({ id: k.id, scopes: JSON.parse(k.scopes) as string[] }))
    .filter((k) => k.scopes.some((s) => dropped.has(s)));
  const clients = (await clientsAllowedOn(trx, api)).filter((c) => c.scopes[api.identifier]!.some((s) => dropped.has(s)));
  const tokens = (
    await trx
      .selectFrom('issued_tokens')
      .select(['jti', 'scopes', 'expires_at'])
      .where('api_id', '=', api.id)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', options.at)]))
      .execute()
  ).filter((tk) => (JSON.parse(tk.scopes) as string[]).some((s) => dropped.has(s)));
  let revocations: Revocation[] = [];
  if (options.apply) {
    for (const key of keys) {
      await trx.updateTable('keys').set({ scopes: JSON.stringify(key.scopes.filter((s) => !dropped.has(s))), updated_at: options.at }).where('id', '=', key.id).execute();
    }
    for (const client of clients) {
      const scopes = { ...client.scopes, [api.identifier]: client.scopes[api.identifier]!.filter((s) => !dropped.has(s)) };
      await trx.updateTable('clients').set({ scopes: JSON.stringify(scopes), updated_at: options.at }).where('id', '=', client.id).execute();
    }
    if (tokens.length > 0) {
      await trx.updateTable('issued_tokens').set({ revoked_at: options.at }).where('api_id', '=', api.id).where('jti', 'in', tokens.map((tk) => tk.jti)).execute();
    }
    const revocation = options.revocation;
    revocations = await insertRevocations(
      trx,
      tokens.map((tk) => revocation({ kind: 'jti', subject: tk.jti, notBefore: null, expiresAt: tk.expires_at === null ? null : Number(tk.expires_at) })),
    );
  }
  return { keyIds: keys.map((k) => k.id), clientIds: clients.map((c) => c.id), tokenIds: tokens.map((tk) => tk.jti), revocations };
}

async function insertRevocations(trx: Trx, revocations: Revocation[]): Promise<Revocation[]> {
  for (const r of revocations) {
    await trx
      .insertInto('revocations')
      .values({ id: r.id, tenant_id: r.tenantId, kind: r.kind, subject: r.subject, not_before: r.notBefore, expires_at: r.expiresAt, created_at: r.createdAt })
      .execute();
  }
  return revocations;
}
