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
