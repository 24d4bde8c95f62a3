import type { AnalyticsStore } from './aggregates/analytics.js';
import type { AuditStore } from './aggregates/audit.js';
import type { ConsumersStore } from './aggregates/consumers.js';
import type { DirectoryStore } from './aggregates/directory.js';
import type { KeysStore } from './aggregates/keys.js';
import type { OperatorsStore } from './aggregates/operators.js';
import type { PeopleStore } from './aggregates/people.js';
import type { TokensStore } from './aggregates/tokens.js';
import type { PoolUsage } from './store-observer.js';

export type { AnalyticsStore } from './aggregates/analytics.js';
export type { AuditStore } from './aggregates/audit.js';
export type { ConsumerKeyChanges, ConsumersStore, NewGrantKey } from './aggregates/consumers.js';
export type { ApiDocument, ApiUse, ClientSecretRecord, DirectoryStore, GatewayApi } from './aggregates/directory.js';
export type { CreditSpend, KeyBySecret, KeyFilter, KeysStore, UsageEntry } from './aggregates/keys.js';
export type { OperatorsStore, StoredSession } from './aggregates/operators.js';
export type { GrantInUse, PeopleStore, RefreshRotation } from './aggregates/people.js';
export type { RevocationFactory, StoredSigningKey, TokensStore } from './aggregates/tokens.js';
export type { Page, PageRequest } from './page.js';

/**
 * The one persistence interface: one part per aggregate, each with its own interface and its own
 * file in `aggregates/`, and the store's own lifecycle. Adding an aggregate touches `store/` only:
 * its file, a line here and one in kysely-store.ts, and for tables of its own schema.ts, a
 * migration and its rows' entry in the tenant cascade (directory.ts; the compiler asks for it). Backends: `sqlite/` (default, embedded) and
 * `postgres/`. Every method that changes data takes the audit event describing the change and
 * writes both in one transaction. Faults (store unreachable) surface as STORE_UNAVAILABLE;
 * unique violations as the matching `*_EXISTS` code.
 */
export interface Store {
  readonly backend: 'sqlite' | 'postgres';
  /** API keys, their secrets, credits and usage counts. */
  readonly keys: KeysStore;
  /** Tenants, APIs (catalogs, deletion) and OAuth clients with their secrets. */
  readonly directory: DirectoryStore;
  /** JWT API keys issued, revocations, signing keys, HS256 secrets. */
  readonly tokens: TokensStore;
  /** Users, sessions, pending authorizations, grants, codes, refresh tokens, password resets. */
  readonly people: PeopleStore;
  /** The audit log. */
  readonly audit: AuditStore;
  /** Consumers with their members and grants (whose grant keys live in `keys`). */
  readonly consumers: ConsumersStore;
  /** Usage analytics: request counts and latency histograms per series, by minute, hour and day. */
  readonly analytics: AnalyticsStore;
  /** Operators: system-tenant users with management scopes, who sign in to the console. */
  readonly operators: OperatorsStore;

  migrate(): Promise<void>;
  ping(): Promise<void>;
  /** The master-key check: a value sealed with the master key at the database's first start; null before. */
  masterKeyCheck(): Promise<string | null>;
  /** Stores the check unless one exists (another instance's first start won); returns the stored one. */
  saveMasterKeyCheck(sealed: string, at: number): Promise<string>;
  /** True while the database holds no tenant at all (not even the system tenant). */
  isEmpty(): Promise<boolean>;
  /** One sealed signing key: whether a master key opens it tells whether it fits a database from before the check. */
  anySealedSigningKey(): Promise<{ kid: string; sealedPrivateKey: string } | null>;
  /**
   * Deletes what can no longer matter: expired sessions, pending authorizations, codes, password
   * resets and refresh tokens, and jti revocations whose token has expired anyway. Returns how
   * many rows went.
   */
  pruneExpired(now: number): Promise<number>;
  close(): Promise<void>;
  /** The connection pool's counts (PostgreSQL), or null for a store without a pool. */
  poolUsage(): PoolUsage | null;
}
