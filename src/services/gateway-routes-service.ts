import type { InvalidationBus } from '../cluster/cluster.js';
import type { Api } from '../domain/apis.js';
import { compileRouter, type CompiledRoutes, type RouteMatch } from '../domain/gateway/routes.js';
import { gatewayHostsOf, hostName } from '../domain/gateway/settings.js';
import type { DirectoryStore } from '../store/store.js';

/** How often the routing table is read again when no change was announced (missed announcements, other instances without Redis). */
export const GATEWAY_ROUTES_POLL_MS = 5_000;

/** An API as the gateway serves it. */
export interface GatewayRoute {
  api: Api;
  tenantSlug: string;
  /** The routes of its OpenAPI document; none declared until one is uploaded. */
  routes: CompiledRoutes;
  /** Matches a request against `routes` (domain/gateway/routes.ts). */
  match: (method: string, rawPath: string) => RouteMatch;
}

interface Table {
  byHost: Map<string, GatewayRoute>;
  /** The API every request goes to when exactly one has an upstream and the Keygate has one tenant. */
  only: GatewayRoute | null;
  /** Each route with what it was built from, so an unchanged API keeps its route object (and what callers keep by it). */
  built: Map<string, { source: string; route: GatewayRoute }>;
}

const EMPTY: Table = { byHost: new Map(), only: null, built: new Map() };
const NO_ROUTES: CompiledRoutes = { basePath: '', operations: [] };

/**
 * The gateway's routing table: which API each Host reaches, with its compiled router. Read from
 * the store when started, again whenever an API or tenant change is announced on the cluster bus,
 * and every `pollMs` as a backstop. A new table replaces the old one whole: a request in flight
 * keeps the route it found, so a change drops nothing.
 */
export class GatewayRoutesService {
  private table: Table = EMPTY;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly store: Pick<DirectoryStore, 'listGatewayApis' | 'countTenants'>,
    bus: InvalidationBus,
    private readonly onError: (err: unknown) => void,
    private readonly options: { pollMs: number } = { pollMs: GATEWAY_ROUTES_POLL_MS },
  ) {
    bus.subscribe((ids) => {
      if (ids.some((id) => id.startsWith('api_') || id.startsWith('ten_'))) void this.changed();
    });
  }

  /** Reads the table and keeps it current until `close`. */
  async start(): Promise<void> {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.refresh().catch(this.onError), this.options.pollMs);
    this.timer.unref();
    await this.refresh();
  }

  /**
   * Reads the table again after a change made through this instance, so the change applies here
   * before the write answers: without Redis the bus reaches no one, and Redis's echo of the
   * change may arrive after the answer. Never rejects: a failed read keeps the current table and
   * is reported.
   */
  async changed(): Promise<void> {
    if (this.timer === null) return;
    await this.refresh().catch(this.onError);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * The API a request's `Host` reaches: the only API with an upstream when there is exactly one
   * and one tenant, else the one claiming `host:port`, else the one claiming the host without its
   * port; else null.
   *
   * @example
   * const route = gatewayRoutes.find(request.headers.host);
   * const match = route?.match(request.method, request.url);
   */
  find(host: string | undefined): GatewayRoute | null {
    const table = this.table;
    if (table.only !== null) return table.only;
    if (host === undefined) return null;
    // Hot path: a Host sent as claimed needs no normalising.
    const direct = table.byHost.get(host);
    if (direct !== undefined) return direct;
    const exact = host.toLowerCase().replace(/\.+(?=:\d+$|$)/, '');
    return table.byHost.get(exact) ?? table.byHost.get(hostName(exact)) ?? null;
  }

  /** Reads the table now; concurrent calls share one read, and a call during a read makes one more. */
  refresh(): Promise<void> {
    if (this.running !== null) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          const [apis, tenants] = await Promise.all([this.store.listGatewayApis(), this.store.countTenants()]);
          this.table = build(apis, tenants, this.table);
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}

function build(apis: Awaited<ReturnType<DirectoryStore['listGatewayApis']>>, tenants: number, previous: Table): Table {
  const byHost = new Map<string, GatewayRoute>();
  const built = new Map<string, { source: string; route: GatewayRoute }>();
  const routes: GatewayRoute[] = apis.map(({ api, tenantSlug, routes: compiled }) => {
    const source = JSON.stringify([api, tenantSlug, compiled]);
    const kept = previous.built.get(api.id);
    const declared = compiled ?? NO_ROUTES;
    const route = kept !== undefined && kept.source === source ? kept.route : { api, tenantSlug, routes: declared, match: compileRouter(declared) };
    built.set(api.id, { source, route });
    return route;
  });
  // The store keeps each name (a host without its port) to one API; should claims made before it
  // did disagree, the older API keeps the name with every port, since `find` falls back from
  // `name:port` to `name`.
  const owners = new Map<string, GatewayRoute>();
  for (const route of routes) {
    for (const host of gatewayHostsOf(route.api.identifier, route.api.gateway)) {
      const owner = owners.get(hostName(host)) ?? route;
      owners.set(hostName(host), owner);
      if (owner === route && !byHost.has(host)) byHost.set(host, route);
    }
  }
  // Any Host reaching the only API is a convenience for one team's Keygate. With several tenants
  // it would send another tenant's callers, credentials included, to that API's upstream as soon
  // as theirs leaves the gateway: there, only a claimed Host reaches an API.
  return { byHost, only: routes.length === 1 && tenants === 1 ? routes[0]! : null, built };
}
