import { sql, type CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { AuditEvent } from '../../domain/audit.js';
import type { Api } from '../../domain/apis.js';
import { KeygateError } from '../../domain/errors.js';
import type { ApiKey, RefillInterval } from '../../domain/keys/key.js';
import { SYSTEM_TENANT_SLUG } from '../../domain/management.js';
import type { Dialect } from '../dialect.js';
import { numberOrNull, paginate, type Db, type KyselyContext, type TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import type { Database, KeysTable } from '../schema.js';
import { containsAny } from '../search.js';
import { insertEvents } from './audit.js';
import { rowToApi } from './directory.js';

/** A key found by the hash of a presented secret, with what verify needs around it. */
export interface KeyBySecret {
  key: ApiKey;
  api: Api;
  tenantSlug: string;
  secretRetiredAt: number | null;
}

/** One key's part of a chained credit spend. */
export interface CreditSpend {
  keyId: string;
  /** As `spendCredits`' `refillDueBefore`. */
  refillDueBefore: number | null;
}

export interface KeyFilter {
  apiId?: string;
  consumer?: string;
  /** The first characters of the key's `start` (case-sensitive, as secrets are). */
  start?: string;
  /** A part of the key's name, in any case. */
  name?: string;
}

export interface UsageEntry {
  keyId: string;
  lastUsedAt: number;
  count: number;
}

/** API keys with their secrets, credits and usage counts. */
export interface KeysStore {
  /**
   * Writes the key, its secret and the event in one transaction. With `maxChildren`, a sub-key
   * is refused (SUBKEY_LIMIT_REACHED, nothing written) when its parent already has that many
   * unrevoked children; the parent's row is locked while counting so parallel mints cannot pass.
   */
  create(key: ApiKey, secretHash: string, event: AuditEvent, options?: { maxChildren?: number }): Promise<void>;
  find(tenantId: string, id: string): Promise<ApiKey | null>;
  /** The key's ancestors, its parent first and the root last; empty for a key without parent. */
  findAncestors(tenantId: string, id: string): Promise<ApiKey[]>;
  findBySecret(hash: string): Promise<KeyBySecret | null>;
  list(tenantId: string, filter: KeyFilter, page: PageRequest): Promise<Page<ApiKey>>;
  /** The key and all its descendants (the key first); empty when the key is unknown. */
  findTree(tenantId: string, id: string): Promise<ApiKey[]>;
  /** Writes the changed fields of several keys of one tenant and the event in one transaction. */
  update(keys: readonly ApiKey[], event: AuditEvent): Promise<void>;
  /** Revokes the key and all its descendants; returns the ids revoked now. */
  revokeTree(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[]>;
  /** Deletes the key, its descendants and their secrets; returns the ids deleted. */
  deleteTree(tenantId: string, id: string, event: AuditEvent): Promise<string[]>;
  /** Adds a new current secret; older secrets retire at `retireAt`. */
  rollSecret(keyId: string, newHash: string, start: string, retireAt: number, event: AuditEvent): Promise<void>;
  /**
   * Atomically spends `cost` credits, first refilling to the refill amount when the last refill
   * happened before `refillDueBefore`. Returns the credits left, or null when too few remain.
   */
  spendCredits(keyId: string, cost: number, now: number, refillDueBefore: number | null): Promise<number | null>;
  /**
   * Spends `cost` from every listed key (refilling each as `spendCredits` does), all or none in
   * one transaction; rows are updated in the given order (callers pass key-id order, so two
   * writers never lock them in different orders). Returns the credits left per key in that
   * order, or null when any key has too few.
   */
  spendChainCredits(spends: readonly CreditSpend[], cost: number, now: number): Promise<number[] | null>;
  readCredits(keyId: string): Promise<number | null>;
  recordUsage(entries: readonly UsageEntry[]): Promise<void>;
}

/** Rows per usage UPDATE: well under SQLite's 32,766 bound parameters. */
const USAGE_CHUNK = 500;

export function keyToRow(key: ApiKey): KeysTable {
  return {
    id: key.id,
    tenant_id: key.tenantId,
    api_id: key.apiId,
    parent_id: key.parentId,
    start: key.start,
    name: key.name,
    consumer: key.consumer,
    grant_of: key.grantOf,
    scopes: JSON.stringify(key.scopes),
    meta: JSON.stringify(key.meta),
    expires_at: key.expiresAt,
    enabled: key.enabled ? 1 : 0,
    revoked_at: key.revokedAt,
    ratelimits: JSON.stringify(key.ratelimits),
    credits_remaining: key.credits?.remaining ?? null,
    credits_refill_amount: key.credits?.refill?.amount ?? null,
    credits_refill_interval: key.credits?.refill?.interval ?? null,
    credits_refilled_at: key.creditsRefilledAt,
    ip_allowlist: key.ipAllowlist === null ? null : JSON.stringify(key.ipAllowlist),
    created_at: key.createdAt,
    updated_at: key.updatedAt,
    last_used_at: key.lastUsedAt,
    usage_count: 0,
  };
}

export function rowToKey(row: KeysTable): ApiKey {
  const refill =
    row.credits_refill_amount !== null && row.credits_refill_interval !== null
      ? { amount: Number(row.credits_refill_amount), interval: row.credits_refill_interval as RefillInterval }
      : null;
  return {
    id: row.id,
    tenantId: row.tenant_id,
    apiId: row.api_id,
    parentId: row.parent_id,
    start: row.start,
    name: row.name,
    consumer: row.consumer,
    grantOf: row.grant_of,
    scopes: JSON.parse(row.scopes) as string[],
    meta: JSON.parse(row.meta) as Record<string, unknown>,
    expiresAt: numberOrNull(row.expires_at),
    enabled: Number(row.enabled) === 1,
    revokedAt: numberOrNull(row.revoked_at),
    ratelimits: JSON.parse(row.ratelimits) as ApiKey['ratelimits'],
    credits: row.credits_remaining === null ? null : { remaining: Number(row.credits_remaining), refill },
    creditsRefilledAt: numberOrNull(row.credits_refilled_at),
    ipAllowlist: row.ip_allowlist === null ? null : (JSON.parse(row.ip_allowlist) as string[]),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    lastUsedAt: numberOrNull(row.last_used_at),
  };
}

/** How a tenant's keys and their secrets leave with it, secrets first. */
export const KEY_TENANT_ROWS: TenantRows<'key_secrets' | 'keys'> = {
  key_secrets: (trx, tenantId) =>
    trx.deleteFrom('key_secrets').where('key_id', 'in', trx.selectFrom('keys').select('id').where('tenant_id', '=', tenantId)).execute(),
  keys: (trx, tenantId) => trx.deleteFrom('keys').where('tenant_id', '=', tenantId).execute(),
};

export async function keyIdsOfTenant(db: Db, tenantId: string): Promise<string[]> {
  return (await db.selectFrom('keys').select('id').where('tenant_id', '=', tenantId).execute()).map((r) => r.id);
}

/**
 * Revokes the root keys limited to the tenant's slug: a tenant created later under the same slug
 * must not be reachable by keys made for this one. Returns their ids.
 */
export async function revokeRootKeysLimitedTo(trx: Transaction<Database>, slug: string, at: number): Promise<string[]> {
  const rootKeys = await trx
    .updateTable('keys')
    .set({ revoked_at: at, updated_at: at })
    .where('tenant_id', 'in', trx.selectFrom('tenants').select('id').where('slug', '=', SYSTEM_TENANT_SLUG))
    .where('consumer', '=', slug)
    .where('revoked_at', 'is', null)
    .returning('id')
    .execute();
  return rootKeys.map((r) => r.id);
}

/** Keys of the API that are not revoked. */
export async function countLiveKeysOfApi(db: Db, apiId: string): Promise<number> {
  const row = await db
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('api_id', '=', apiId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes the API's keys and their secrets; returns the ids deleted. */
export async function deleteKeysOfApi(trx: Transaction<Database>, apiId: string): Promise<string[]> {
  const keyIds = (await trx.selectFrom('keys').select('id').where('api_id', '=', apiId).execute()).map((r) => r.id);
  if (keyIds.length > 0) await trx.deleteFrom('key_secrets').where('key_id', 'in', trx.selectFrom('keys').select('id').where('api_id', '=', apiId)).execute();
  await trx.deleteFrom('keys').where('api_id', '=', apiId).execute();
  return keyIds;
}

/** The API's keys, not revoked, that hold any of `dropped`, with their scopes. */
export async function keysHolding(db: Db, apiId: string, dropped: ReadonlySet<string>): Promise<{ id: string; scopes: string[] }[]> {
  return (await db.selectFrom('keys').select(['id', 'scopes']).where('api_id', '=', apiId).where('revoked_at', 'is', null).execute())
    .map((k) => ({ id: k.id, scopes: JSON.parse(k.scopes) as string[] }))
    .filter((k) => k.scopes.some((s) => dropped.has(s)));
}

/** Narrows each key (as `keysHolding` found it) to its scopes not in `dropped`. */
export async function narrowKeys(db: Db, keys: readonly { id: string; scopes: string[] }[], dropped: ReadonlySet<string>, at: number): Promise<void> {
  for (const key of keys) {
    await db.updateTable('keys').set({ scopes: JSON.stringify(key.scopes.filter((s) => !dropped.has(s))), updated_at: at }).where('id', '=', key.id).execute();
  }
}

/** The cold-verify lookup: a secret's key with its API and tenant. */
function keyBySecretQuery(db: Kysely<Database>) {
  return db
    .selectFrom('key_secrets')
    .innerJoin('keys', 'keys.id', 'key_secrets.key_id')
    .innerJoin('apis', 'apis.id', 'keys.api_id')
    .innerJoin('tenants', 'tenants.id', 'keys.tenant_id')
    .selectAll('keys')
    .select([
      'key_secrets.retired_at as secret_retired_at',
      'tenants.slug as tenant_slug',
      'apis.identifier as api_identifier',
      'apis.name as api_name',
      'apis.key_prefix as api_key_prefix',
      'apis.scopes as api_scopes',
      'apis.access_token_ttl as api_access_token_ttl',
      'apis.refresh_tokens as api_refresh_tokens',
      'apis.gateway as api_gateway',
      'apis.created_at as api_created_at',
    ])
    .where('key_secrets.hash', '=', '');
}

function withParameters<R>(query: CompiledQuery<R>, parameters: readonly unknown[]): CompiledQuery<R> {
  return { ...query, parameters };
}

export class KyselyKeysStore implements KeysStore {
  /** Compiled once: rebuilding the hottest query cost more than running it. Its one parameter is the hash. */
  private readonly keyBySecret: ReturnType<ReturnType<typeof keyBySecretQuery>['compile']>;

  constructor(private readonly k: KyselyContext) {
    this.keyBySecret = keyBySecretQuery(k.db).compile();
  }

  create(key: ApiKey, secretHash: string, event: AuditEvent, options: { maxChildren?: number } = {}): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        if (key.parentId !== null && options.maxChildren !== undefined) await assertRoomForChild(trx, this.k.dialect, key.parentId, options.maxChildren);
        await insertKey(trx, key, secretHash);
        await insertEvents(trx, [event]);
      }),
    );
  }

  find(tenantId: string, id: string): Promise<ApiKey | null> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('keys')
        .selectAll()
        .where('tenant_id', '=', tenantId)
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? rowToKey(row) : null;
    });
  }

  findAncestors(tenantId: string, id: string): Promise<ApiKey[]> {
    return this.k.guard(async () => {
      const rows = await this.k.db
        .withRecursive('chain(id, parent_id)', (qb) =>
          qb
            .selectFrom('keys')
            .select(['id', 'parent_id'])
            .where('id', '=', id)
            .where('tenant_id', '=', tenantId)
            .unionAll(qb.selectFrom('keys').innerJoin('chain', 'chain.parent_id', 'keys.id').select(['keys.id', 'keys.parent_id'])),
        )
        .selectFrom('chain')
        .innerJoin('keys', 'keys.id', 'chain.id')
        .selectAll('keys')
        .execute();
      const byId = new Map(rows.map((r) => [r.id, rowToKey(r)]));
      const ancestors: ApiKey[] = [];
      // The CTE returns rows in no promised order: follow the parent links from the key.
      for (let key = byId.get(id); key?.parentId != null; ) {
        key = byId.get(key.parentId);
        if (key === undefined || key.tenantId !== tenantId) break;
        ancestors.push(key);
      }
      return ancestors;
    });
  }

  findBySecret(hash: string): Promise<KeyBySecret | null> {
    return this.k.guard(async () => {
      const result = await this.k.db.executeQuery(withParameters(this.keyBySecret, [hash]));
      const secret = result.rows[0];
      if (!secret) return null;
      return {
        key: rowToKey(secret),
        api: rowToApi({
          id: secret.api_id,
          tenant_id: secret.tenant_id,
          identifier: secret.api_identifier,
          name: secret.api_name,
          key_prefix: secret.api_key_prefix,
          scopes: secret.api_scopes,
          access_token_ttl: secret.api_access_token_ttl,
          refresh_tokens: secret.api_refresh_tokens,
          gateway: secret.api_gateway,
          created_at: secret.api_created_at,
        }),
        tenantSlug: secret.tenant_slug,
        secretRetiredAt: secret.secret_retired_at === null ? null : Number(secret.secret_retired_at),
      };
    });
  }

  list(tenantId: string, filter: KeyFilter, page: PageRequest): Promise<Page<ApiKey>> {
    return this.k.guard(async () => {
      // Grant keys are the consumers' (docs/consumers.md): GET …/consumers/{id} shows them.
      let query = this.k.db.selectFrom('keys').selectAll().where('tenant_id', '=', tenantId).where('grant_of', 'is', null);
      if (filter.apiId !== undefined) query = query.where('api_id', '=', filter.apiId);
      if (filter.consumer !== undefined) query = query.where('consumer', '=', filter.consumer);
      // substr, not LIKE: SQLite's LIKE ignores case, and `start` is base62 where case matters.
      if (filter.start !== undefined) query = query.where(sql<string>`substr(start, 1, ${filter.start.length})`, '=', filter.start);
      if (filter.name !== undefined) query = query.where(containsAny(['name'], filter.name));
      if (page.after !== null) query = query.where('id', '>', page.after);
      const rows = await query.orderBy('id').limit(page.limit + 1).execute();
      return paginate(rows, page.limit, rowToKey);
    });
  }

  findTree(tenantId: string, id: string): Promise<ApiKey[]> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length === 0) return [];
        const rows = await trx.selectFrom('keys').selectAll().where('id', 'in', ids).execute();
        const byId = new Map(rows.map((r) => [r.id, rowToKey(r)]));
        return ids.map((i) => byId.get(i)!);
      }),
    );
  }

  update(keys: readonly ApiKey[], event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        await writeKeyChanges(trx, keys);
        await insertEvents(trx, [event]);
      }),
    );
  }

  revokeTree(tenantId: string, id: string, at: number, event: AuditEvent): Promise<string[]> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length > 0) {
          await trx
            .updateTable('keys')
            .set({ revoked_at: at, updated_at: at })
            .where('id', 'in', ids)
            .where('revoked_at', 'is', null)
            .execute();
        }
        await insertEvents(trx, [{ ...event, data: { ...event.data, keyIds: ids } }]);
        return ids;
      }),
    );
  }

  deleteTree(tenantId: string, id: string, event: AuditEvent): Promise<string[]> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        const ids = await subtreeIds(trx, tenantId, id);
        if (ids.length > 0) {
          await trx.deleteFrom('key_secrets').where('key_id', 'in', ids).execute();
          await trx.deleteFrom('keys').where('id', 'in', ids).execute();
        }
        await insertEvents(trx, [{ ...event, data: { ...event.data, keyIds: ids } }]);
        return ids;
      }),
    );
  }

  rollSecret(keyId: string, newHash: string, start: string, retireAt: number, event: AuditEvent): Promise<void> {
    return this.k.guard(() =>
      this.k.db.transaction().execute(async (trx) => {
        // A secret already retiring keeps its earlier deadline; a grace period only shortens.
        await trx
          .updateTable('key_secrets')
          .set({ retired_at: sql<number>`case when retired_at is null or retired_at > ${retireAt} then ${retireAt} else retired_at end` })
          .where('key_id', '=', keyId)
          .execute();
        await trx
          .insertInto('key_secrets')
          .values({ hash: newHash, key_id: keyId, retired_at: null, created_at: event.at })
          .execute();
        await trx.updateTable('keys').set({ start, updated_at: event.at }).where('id', '=', keyId).execute();
        await insertEvents(trx, [event]);
      }),
    );
  }

  spendCredits(keyId: string, cost: number, now: number, refillDueBefore: number | null): Promise<number | null> {
    return this.k.guard(() => spendFrom(this.k.db, { keyId, refillDueBefore }, cost, now));
  }

  spendChainCredits(spends: readonly CreditSpend[], cost: number, now: number): Promise<number[] | null> {
    return this.k.guard(async () => {
      try {
        return await this.k.db.transaction().execute(async (trx) => {
          const left: number[] = [];
          for (const spend of spends) {
            const remaining = await spendFrom(trx, spend, cost, now);
            // Throwing rolls back what the keys before this one spent: all or nothing.
            if (remaining === null) throw new ChainExhausted();
            left.push(remaining);
          }
          return left;
        });
      } catch (err) {
        if (err instanceof ChainExhausted) return null;
        throw err;
      }
    });
  }

  readCredits(keyId: string): Promise<number | null> {
    return this.k.guard(async () => {
      const row = await this.k.db
        .selectFrom('keys')
        .select('credits_remaining')
        .where('id', '=', keyId)
        .executeTakeFirst();
      return row?.credits_remaining == null ? null : Number(row.credits_remaining);
    });
  }

  recordUsage(entries: readonly UsageEntry[]): Promise<void> {
    return this.k.guard(async () => {
      // One UPDATE … FROM a VALUES list per chunk instead of one statement per key. Two writers
      // (two instances) must not lock the same rows in different orders: the chunk's rows are
      // locked in key-id order first, since a join does not promise any order.
      const sorted = [...entries].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
      const cast = this.k.dialect.bigint;
      for (let i = 0; i < sorted.length; i += USAGE_CHUNK) {
        const chunk = sorted.slice(i, i + USAGE_CHUNK);
        const rows = sql.join(chunk.map((e) => sql`(${e.keyId}, ${e.count}, ${e.lastUsedAt})`));
        await this.k.db.transaction().execute(async (trx) => {
          await this.k.dialect.lockRows(trx, 'keys', chunk.map((e) => e.keyId));
          await sql`
            with usage(id, count, at) as (values ${rows})
            update keys set
              usage_count = keys.usage_count + usage.count${cast},
              last_used_at = case when keys.last_used_at is null or keys.last_used_at < usage.at${cast} then usage.at${cast} else keys.last_used_at end
            from usage
            where keys.id = usage.id`.execute(trx);
        });
      }
    });
  }
}

/** Thrown inside a chained spend to roll it back; never leaves the store. */
class ChainExhausted extends Error {}

/** One conditional UPDATE: refill when due, then spend `cost` if that many are available. */
async function spendFrom(db: Db, spend: CreditSpend, cost: number, now: number): Promise<number | null> {
  const due =
    spend.refillDueBefore === null
      ? sql<boolean>`false`
      : sql<boolean>`(credits_refill_amount is not null and coalesce(credits_refilled_at, created_at) < ${spend.refillDueBefore})`;
  const available = sql<number>`(case when ${due} then credits_refill_amount else credits_remaining end)`;
  const row = await db
    .updateTable('keys')
    .set({
      credits_remaining: sql<number>`${available} - ${cost}`,
      credits_refilled_at: sql<number>`case when ${due} then ${now} else credits_refilled_at end`,
    })
    .where('id', '=', spend.keyId)
    .where('credits_remaining', 'is not', null)
    .where(sql<boolean>`${available} >= ${cost}`)
    .returning('credits_remaining')
    .executeTakeFirst();
  return row ? Number(row.credits_remaining) : null;
}

/** Inserts a new key with its one current secret. */
export async function insertKey(trx: Transaction<Database>, key: ApiKey, secretHash: string): Promise<void> {
  await trx.insertInto('keys').values(keyToRow(key)).execute();
  await trx.insertInto('key_secrets').values({ hash: secretHash, key_id: key.id, retired_at: null, created_at: key.createdAt }).execute();
}

/** Writes the settings of existing keys; identity, lineage, usage and the grant mark never change here. */
export async function writeKeyChanges(trx: Transaction<Database>, keys: readonly ApiKey[]): Promise<void> {
  for (const key of keys) {
    const { id, tenant_id, api_id, parent_id, start, created_at, usage_count, last_used_at, grant_of, ...changes } = keyToRow(key);
    await trx.updateTable('keys').set(changes).where('id', '=', id).where('tenant_id', '=', tenant_id).execute();
  }
}

/** Refuses a sub-key when its parent already has `max` unrevoked children. */
export async function assertRoomForChild(trx: Transaction<Database>, dialect: Dialect, parentId: string, max: number): Promise<void> {
  // The parent's row is locked so that two parallel mints cannot both count max - 1.
  await dialect.lockRows(trx, 'keys', [parentId]);
  const row = await trx
    .selectFrom('keys')
    .select((eb) => eb.fn.countAll<number>().as('children'))
    .where('parent_id', '=', parentId)
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  if (Number(row.children) >= max) {
    throw new KeygateError('SUBKEY_LIMIT_REACHED', `a key may have at most ${max} active sub-keys`);
  }
}

/** The key and all its descendants' ids, the key first; empty when the key is not the tenant's. */
export async function subtreeIds(trx: Transaction<Database>, tenantId: string, rootId: string): Promise<string[]> {
  const rows = await trx
    .withRecursive('tree(id)', (qb) =>
      qb
        .selectFrom('keys')
        .select('id')
        .where('id', '=', rootId)
        .where('tenant_id', '=', tenantId)
        .unionAll(qb.selectFrom('keys').innerJoin('tree', 'tree.id', 'keys.parent_id').select('keys.id')),
    )
    .selectFrom('tree')
    .select('id')
    .execute();
  return rows.map((r) => r.id);
}

