import type { Cluster, ClusterProblem } from '../cluster/cluster.js';
import type { Store } from '../store/store.js';

/** Which store and cluster an instance runs on. */
export interface Liveness {
  status: 'ok';
  store: Store['backend'];
  cluster: Cluster['kind'];
}

/** Liveness, and whether the instance serves as configured: `degraded` while Redis is away (requests are still served). */
export interface Readiness {
  status: 'ok' | 'degraded';
  store: Store['backend'];
  cluster: Cluster['kind'];
  /** Why the status is `degraded`: empty when `ok`. No hosts or driver messages; those go to the log. */
  reasons: { component: 'redis'; reason: ClusterProblem['reason']; since: string }[];
}

/**
 * An instance's health, for load balancers and orchestrators. Both answers ask the store first:
 * without its database an instance serves nothing, so both throw STORE_UNAVAILABLE then.
 */
export class HealthService {
  constructor(
    private readonly store: Pick<Store, 'ping' | 'backend'>,
    private readonly cluster: Pick<Cluster, 'kind' | 'connection'>,
  ) {}

  /**
   * @example
   * await health.live(); // { status: 'ok', store: 'sqlite', cluster: 'memory' }
   */
  async live(): Promise<Liveness> {
    await this.store.ping();
    return { status: 'ok', store: this.store.backend, cluster: this.cluster.kind };
  }

  /**
   * @example
   * (await health.ready()).status; // 'degraded' while Redis is away
   */
  async ready(): Promise<Readiness> {
    await this.store.ping();
    const problem = this.cluster.connection.problem;
    return {
      status: problem === null ? 'ok' : 'degraded',
      store: this.store.backend,
      cluster: this.cluster.kind,
      reasons: problem === null ? [] : [{ component: 'redis', reason: problem.reason, since: new Date(problem.since).toISOString() }],
    };
  }
}
