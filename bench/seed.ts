/**
 * Fast seeding of many verifiable keys for bench/cold-verify.ts.
 *
 * The tenant and the API are made through Keygate's own services (so migrations, ids and the
 * scope catalog are exactly what Keygate writes); the keys are then bulk-inserted with the
 * driver directly, in big transactions. Every row is built from a domain `ApiKey` through
 * `keyToRow` (src/store/aggregates/keys.ts), the secret is made by `generateKey` and hashed by
 * `hashSecret`: the very functions Keygate uses, so the rows are exactly what `keys.create`
 * would have written and the real verify path finds them.
 *
 * `grow(n)` adds keys until the store holds n seeded keys, so one database serves 10k → 100k →
 * 1M without starting over.
 */
import { randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { hashSecret } from '../src/crypto/secrets.js';
import { formatId } from '../src/domain/ids.js';
import { displayStart, generateKey } from '../src/domain/keys/format.js';
import type { Api } from '../src/domain/apis.js';
import type { ApiKey } from '../src/domain/keys/key.js';
import type { Tenant } from '../src/domain/tenants.js';
import { SYSTEM_ACTOR } from '../src/services/context.js';
import { createKeygate } from '../src/services/keygate.js';
import { keyToRow } from '../src/store/aggregates/keys.js';
import type { KeySecretsTable, KeysTable } from '../src/store/schema.js';
import { fmtInt, now } from './lib/common.js';

export const BENCH_API = 'https://api.bench';
export const BENCH_SCOPES = ['read:users'];

/** PostgreSQL types for the unnest() bulk insert; the compiler flags a column added to the schema. */
const KEY_COLUMN_TYPES = {
  id: 'text',
  tenant_id: 'text',
  api_id: 'text',
  parent_id: 'text',
  start: 'text',
  name: 'text',
  consumer: 'text',
  scopes: 'text',
  meta: 'text',
  expires_at: 'bigint',
  enabled: 'integer',
  revoked_at: 'bigint',
  ratelimits: 'text',
  credits_remaining: 'bigint',
  credits_refill_amount: 'bigint',
  credits_refill_interval: 'text',
  credits_refilled_at: 'bigint',
  ip_allowlist: 'text',
  created_at: 'bigint',
  updated_at: 'bigint',
  last_used_at: 'bigint',
  usage_count: 'bigint',
  grant_of: 'text',
} as const satisfies Record<keyof KeysTable, string>;
const SECRET_COLUMN_TYPES = {
  hash: 'text',
  key_id: 'text',
  retired_at: 'bigint',
  created_at: 'bigint',
} as const satisfies Record<keyof KeySecretsTable, string>;

const KEY_COLUMNS = Object.keys(KEY_COLUMN_TYPES) as (keyof KeysTable)[];
const SECRET_COLUMNS = Object.keys(SECRET_COLUMN_TYPES) as (keyof KeySecretsTable)[];

/** Rows per transaction (SQLite) / per INSERT … SELECT unnest (PostgreSQL). */
const BATCH = 20_000;

/** Random bytes for key generation, drawn from a large pool instead of one syscall per key. */
class RandomPool {
  private pool = randomBytes(0);
  private offset = 0;
  take = (size: number): Uint8Array => {
    if (this.offset + size > this.pool.length) {
      this.pool = randomBytes(1 << 20);
      this.offset = 0;
    }
    const out = this.pool.subarray(this.offset, this.offset + size);
    this.offset += size;
    return out;
  };
}

interface Batch {
  keys: KeysTable[];
  secrets: KeySecretsTable[];
}

export abstract class Seeder {
  /** Every seeded key string, in insertion order (index i is the i-th seeded key). */
  readonly secrets: string[] = [];
  /** The id of the key whose secret is `secrets[i]`. */
  readonly keyIds: string[] = [];
  private readonly random = new RandomPool();
  /** Keys are dated over the last 30 days, one ms apart, as if issued over time. */
  private readonly epoch = Date.now() - 30 * 86_400_000;

  protected constructor(
    readonly backend: 'sqlite' | 'postgres',
    protected readonly tenant: Tenant,
    protected readonly api: Api,
  ) {}

  get size(): number {
    return this.secrets.length;
  }

  /** Adds keys until `target` are seeded; progress on stderr. Returns the seconds it took. */
  async grow(target: number): Promise<number> {
    const t0 = now();
    const from = this.secrets.length;
    let lastReport = 0;
    while (this.secrets.length < target) {
      const count = Math.min(BATCH, target - this.secrets.length);
      await this.insert(this.makeBatch(count));
      const t = now();
      if (t - lastReport > 500 || this.secrets.length === target) {
        lastReport = t;
        const rate = ((this.secrets.length - from) / (t - t0)) * 1000;
        process.stderr.write(`\r  seeding ${this.backend}: ${fmtInt(this.secrets.length)}/${fmtInt(target)} keys (${fmtInt(rate)} keys/s)   `);
      }
    }
    await this.afterGrow();
    if (this.secrets.length > from) process.stderr.write('\n');
    return (now() - t0) / 1000;
  }

  /** The lookup Keygate's store does, straight through the driver: one indexed join by hash. */
  abstract rawLookup(hash: string): Promise<unknown>;
  abstract close(): Promise<void>;
  protected abstract insert(batch: Batch): Promise<void>;
  protected abstract afterGrow(): Promise<void>;

  private makeBatch(count: number): Batch {
    const keys: KeysTable[] = new Array(count);
    const secrets: KeySecretsTable[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const n = this.secrets.length;
      const at = this.epoch + n;
      const secret = generateKey(this.api.keyPrefix, this.random.take);
      const key: ApiKey = {
        id: formatId('key', at, this.random.take(16)),
        tenantId: this.tenant.id,
        apiId: this.api.id,
        parentId: null,
        start: displayStart(secret),
        name: null,
        consumer: `customer-${n % 50_000}`,
        grantOf: null,
        scopes: BENCH_SCOPES,
        meta: {},
        expiresAt: null,
        enabled: true,
        revokedAt: null,
        ratelimits: [],
        credits: null,
        creditsRefilledAt: null,
        ipAllowlist: null,
        createdAt: at,
        updatedAt: at,
        lastUsedAt: null,
      };
      keys[i] = keyToRow(key);
      secrets[i] = { hash: hashSecret(secret), key_id: key.id, retired_at: null, created_at: at };
      this.secrets.push(secret);
      this.keyIds.push(key.id);
    }
    return { keys, secrets };
  }
}

/** The join `KyselyStore.findKeyBySecret` runs, written by hand. */
const LOOKUP_SQL = (param: string): string => `
  select keys.*, key_secrets.retired_at as secret_retired_at, tenants.slug as tenant_slug,
         apis.identifier as api_identifier, apis.name as api_name, apis.key_prefix as api_key_prefix,
         apis.scopes as api_scopes, apis.created_at as api_created_at
  from key_secrets
  inner join keys on keys.id = key_secrets.key_id
  inner join apis on apis.id = keys.api_id
  inner join tenants on tenants.id = keys.tenant_id
  where key_secrets.hash = ${param}`;

/** Makes the tenant and the API through Keygate itself, then closes it. */
async function makeTenantAndApi(config: { dataDir: string } | { dataDir: string; databaseUrl: string }): Promise<{ tenant: Tenant; api: Api }> {
  const kg = await createKeygate({ config });
  try {
    const tenant = await kg.tenants.create(SYSTEM_ACTOR, { slug: 'bench', name: 'Bench' });
    const api = await kg.apis.create(SYSTEM_ACTOR, tenant, {
      identifier: BENCH_API,
      name: 'Bench',
      scopes: BENCH_SCOPES.map((name) => ({ name, description: name })),
    });
    return { tenant, api };
  } finally {
    await kg.close();
  }
}

export class SqliteSeeder extends Seeder {
  private readonly insertKey: SQLite.Statement;
  private readonly insertSecret: SQLite.Statement;
  private readonly lookup: SQLite.Statement;
  private readonly insertMany: (batch: Batch) => void;

  private constructor(
    tenant: Tenant,
    api: Api,
    private readonly db: SQLite.Database,
  ) {
    super('sqlite', tenant, api);
    this.insertKey = db.prepare(`insert into keys (${KEY_COLUMNS.join(', ')}) values (${KEY_COLUMNS.map((c) => `@${c}`).join(', ')})`);
    this.insertSecret = db.prepare(
      `insert into key_secrets (${SECRET_COLUMNS.join(', ')}) values (${SECRET_COLUMNS.map((c) => `@${c}`).join(', ')})`,
    );
    this.lookup = db.prepare(LOOKUP_SQL('?'));
    this.insertMany = db.transaction((batch: Batch) => {
      for (const row of batch.keys) this.insertKey.run(row);
      for (const row of batch.secrets) this.insertSecret.run(row);
    });
  }

  /** `file` is the database Keygate opens for `dataDir` (`<dataDir>/keygate.db`). */
  static async open(dataDir: string, file: string): Promise<SqliteSeeder> {
    const { tenant, api } = await makeTenantAndApi({ dataDir });
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    // Seeding only: a crash loses the bench database, which is thrown away anyway.
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = ON');
    return new SqliteSeeder(tenant, api, db);
  }

  async rawLookup(hash: string): Promise<unknown> {
    return this.lookup.get(hash);
  }

  protected async insert(batch: Batch): Promise<void> {
    this.insertMany(batch);
  }

  protected async afterGrow(): Promise<void> {
    // Fold the WAL into the main file so reads measure the B-trees, not a long WAL index.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export class PostgresSeeder extends Seeder {
  private constructor(
    tenant: Tenant,
    api: Api,
    private readonly client: pg.Client,
  ) {
    super('postgres', tenant, api);
  }

  static async open(url: string, dataDir: string): Promise<PostgresSeeder> {
    const { tenant, api } = await makeTenantAndApi({ dataDir, databaseUrl: url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('set synchronous_commit = off');
    return new PostgresSeeder(tenant, api, client);
  }

  async rawLookup(hash: string): Promise<unknown> {
    const result = await this.client.query(LOOKUP_SQL('$1'), [hash]);
    return result.rows[0];
  }

  protected async insert(batch: Batch): Promise<void> {
    await this.client.query('begin');
    try {
      await this.client.query(unnestInsert('keys', KEY_COLUMN_TYPES), columnArrays(batch.keys, KEY_COLUMNS));
      await this.client.query(unnestInsert('key_secrets', SECRET_COLUMN_TYPES), columnArrays(batch.secrets, SECRET_COLUMNS));
      await this.client.query('commit');
    } catch (err) {
      await this.client.query('rollback');
      throw err;
    }
  }

  protected async afterGrow(): Promise<void> {
    // What autovacuum would have done by the time a real deployment had this many keys.
    await this.client.query('analyze keys');
    await this.client.query('analyze key_secrets');
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

function unnestInsert(table: string, types: Record<string, string>): string {
  const columns = Object.keys(types);
  const arrays = columns.map((c, i) => `$${i + 1}::${types[c]}[]`).join(', ');
  return `insert into ${table} (${columns.join(', ')}) select * from unnest(${arrays})`;
}

function columnArrays<R extends object>(rows: readonly R[], columns: readonly (keyof R)[]): unknown[][] {
  return columns.map((c) => rows.map((r) => r[c]));
}

/** Creates a throwaway database and returns its URL and a function that drops it. */
export async function createPostgresDatabase(adminUrl: string, urlFor: (name: string) => string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `kg_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: urlFor(name),
    async drop() {
      const again = new pg.Client({ connectionString: adminUrl });
      await again.connect();
      try {
        await again.query(`drop database if exists ${name} with (force)`);
      } finally {
        await again.end();
      }
    },
  };
}
