import type { Cluster } from '../cluster/cluster.js';
import type { Clock } from '../domain/clock.js';
import type { Envelope } from '../crypto/envelope.js';
import type { KeygateMetrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import type { AuditLog } from './audit-log.js';
import type { DirectoryCache } from './directory-cache.js';
import type { KeyLookup } from './key-lookup.js';

/** Who is acting, for audit events: a root key id (or a key id for sub-keys), and the request. */
export interface Actor {
  id: string;
  requestId: string | null;
  ip: string | null;
}

export const SYSTEM_ACTOR: Actor = { id: 'system', requestId: null, ip: null };

/** The store's aggregates, as the Store names them. */
export type StoreAggregate = 'keys' | 'directory' | 'tokens' | 'people' | 'audit' | 'consumers' | 'operators';

/**
 * A ServiceContext whose store offers only the aggregates `A`: a service's constructor says which
 * parts of the store it reads and writes (`never`: none, it works through caches and other services).
 */
export type ServiceContextWith<A extends StoreAggregate> = Omit<ServiceContext, 'store'> & { store: Pick<Store, A> };

/** What every service gets: the store, the clock, the cluster parts and the shared key lookup. */
export interface ServiceContext {
  store: Store;
  clock: Clock;
  cluster: Cluster;
  audit: AuditLog;
  lookup: KeyLookup;
  /** Seals and opens secrets Keygate must read back (signing keys, HS256 secrets). */
  envelope: Envelope;
  /** Tenants, APIs and clients for the hot paths, cached with announced invalidation. */
  directory: DirectoryCache;
  /** `{PUBLIC_URL}`: tenant issuers are `{publicUrl}/t/{slug}`. */
  publicUrl: string;
  /** This instance's counters and histograms (`GET /metrics`). */
  metrics: KeygateMetrics;
}
