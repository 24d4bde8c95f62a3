import { Migrator, sql, type Kysely } from 'kysely';
import { KyselyAnalyticsStore } from './aggregates/analytics.js';
import { KyselyAuditStore } from './aggregates/audit.js';
import { KyselyConsumersStore } from './aggregates/consumers.js';
import { KyselyDirectoryStore } from './aggregates/directory.js';
import { KyselyKeysStore } from './aggregates/keys.js';
import { KyselyOperatorsStore } from './aggregates/operators.js';
import { KyselyPeopleStore, pruneExpiredPeopleRows } from './aggregates/people.js';
import { KyselyTokensStore, anySealedSigningKey, pruneExpiredRevocations } from './aggregates/tokens.js';
import type { Dialect } from './dialect.js';
import { KyselyContext } from './kysely-context.js';
import { migrationProvider } from './migrations.js';
import type { Database } from './schema.js';
import type { PoolUsage, StoreObserver } from './store-observer.js';
import type { Store } from './store.js';

const MASTER_KEY_CHECK = 'master_key_check';

/**
 * The Store written once over Kysely: one object per aggregate (`aggregates/`), all on one
 * connection and one failure translation, plus the store's own lifecycle. Both backends run the
 * same SQL (JSON as text, times as integers, recursive CTEs, RETURNING); where they differ, the
 * backend's `Dialect` decides.
 */
export class KyselyStore implements Store {
  readonly backend: 'sqlite' | 'postgres';
  readonly keys: KyselyKeysStore;
  readonly directory: KyselyDirectoryStore;
  readonly tokens: KyselyTokensStore;
  readonly people: KyselyPeopleStore;
  readonly audit: KyselyAuditStore;
  readonly analytics: KyselyAnalyticsStore;
  readonly consumers: KyselyConsumersStore;
  readonly operators: KyselyOperatorsStore;
  private readonly k: KyselyContext;
  private readonly pool: (() => PoolUsage) | undefined;

  constructor(
    private readonly db: Kysely<Database>,
    dialect: Dialect,
    private readonly onClose: () => Promise<void>,
    options: { observer?: StoreObserver; poolUsage?: () => PoolUsage } = {},
  ) {
    this.k = new KyselyContext(db, dialect, options.observer);
    this.backend = dialect.name;
    this.keys = new KyselyKeysStore(this.k);
    this.directory = new KyselyDirectoryStore(this.k);
    this.tokens = new KyselyTokensStore(this.k);
    this.people = new KyselyPeopleStore(this.k);
    this.audit = new KyselyAuditStore(this.k);
    this.analytics = new KyselyAnalyticsStore(this.k);
    this.consumers = new KyselyConsumersStore(this.k);
    this.operators = new KyselyOperatorsStore(this.k);
    this.pool = options.poolUsage;
  }

  poolUsage(): PoolUsage | null {
    return this.pool === undefined ? null : this.pool();
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider });
    const { error } = await migrator.migrateToLatest();
    if (error) throw this.k.translate(error);
  }

  ping(): Promise<void> {
    return this.k.guard(async () => {
      await sql`select 1`.execute(this.db);
    });
  }

  masterKeyCheck(): Promise<string | null> {
    return this.k.guard(() => readMasterKeyCheck(this.db));
  }

  /** Inserts the check unless a row exists, then reads back whichever row won. */
  saveMasterKeyCheck(sealed: string, at: number): Promise<string> {
    return this.k.guard(async () => {
      await this.db
        .insertInto('keygate_meta')
        .values({ name: MASTER_KEY_CHECK, value: sealed, created_at: at })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      return (await readMasterKeyCheck(this.db))!;
    });
  }

  /** True while no tenant exists, not even the system tenant every start creates. */
  isEmpty(): Promise<boolean> {
    return this.k.guard(async () => {
      const row = await this.db.selectFrom('tenants').select('id').limit(1).executeTakeFirst();
      return row === undefined;
    });
  }

  anySealedSigningKey(): Promise<{ kid: string; sealedPrivateKey: string } | null> {
    return this.k.guard(() => anySealedSigningKey(this.db));
  }

  pruneExpired(now: number): Promise<number> {
    return this.k.guard(async () => (await pruneExpiredPeopleRows(this.db, now)) + (await pruneExpiredRevocations(this.db, now)));
  }

  close(): Promise<void> {
    return this.onClose();
  }
}

async function readMasterKeyCheck(db: Kysely<Database>): Promise<string | null> {
  const row = await db.selectFrom('keygate_meta').select('value').where('name', '=', MASTER_KEY_CHECK).executeTakeFirst();
  return row?.value ?? null;
}
