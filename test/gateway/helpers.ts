import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Api } from '../../src/domain/apis.js';
import { DEFAULT_GATEWAY_SETTINGS, type GatewaySettings } from '../../src/domain/gateway/settings.js';
import { compileRouter, type CompiledRoutes, type Operation } from '../../src/domain/gateway/routes.js';
import { buildGatewayApp, type GatewayApp } from '../../src/http/gateway/gateway-app.js';
import { GatewayService, type GatewayRouteTable, type GatewayTarget } from '../../src/services/gateway-service.js';
import type { UpstreamAddressRules } from '../../src/services/upstream-connector.js';
import type { TestServer } from '../helpers/server.js';

/** What reached the upstream: one entry per request, body counted, never kept. */
export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bytes: number;
}

/** A real node:http upstream that records what reached it; `delayMs` makes it slow. */
export interface Upstream {
  url: string;
  port: number;
  received: Received[];
  delayMs: number;
  server: Server;
  /** Stops listening (connections refused) until `listen` again on the same port. */
  stop(): Promise<void>;
  listen(): Promise<void>;
}

export async function startUpstream(port = 0): Promise<Upstream> {
  const received: Received[] = [];
  const upstream: Upstream = {
    url: '',
    port,
    received,
    delayMs: 0,
    server: createServer((request, response) => {
      let bytes = 0;
      request.on('data', (chunk: Buffer) => (bytes += chunk.length));
      request.on('end', () => {
        received.push({ method: request.method!, url: request.url!, headers: request.headers, bytes });
        const answer = (): void => {
          if (response.destroyed) return;
          response.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes', connection: 'keep-alive', 'keep-alive': 'timeout=5' });
          response.end(JSON.stringify({ method: request.method, url: request.url, bytes }));
        };
        if (upstream.delayMs > 0) setTimeout(answer, upstream.delayMs);
        else answer();
      });
    }),
    async stop() {
      upstream.server.closeAllConnections();
      await new Promise<void>((resolve) => upstream.server.close(() => resolve()));
    },
    async listen() {
      await new Promise<void>((resolve) => upstream.server.listen(upstream.port, '127.0.0.1', () => resolve()));
      upstream.port = (upstream.server.address() as AddressInfo).port;
      upstream.url = `http://127.0.0.1:${upstream.port}`;
    },
  };
  upstream.server.keepAliveTimeout = 5_000;
  await upstream.listen();
  return upstream;
}

/** An in-test routing table: the APIs it is given, each with its routes, by Host (or the only one). */
export class TestRoutes implements GatewayRouteTable {
  private readonly byHost = new Map<string, GatewayTarget>();
  private only: GatewayTarget | null = null;

  set(host: string, target: GatewayTarget): void {
    this.byHost.set(host, target);
    this.only = this.byHost.size === 1 ? target : null;
  }

  find(host: string | undefined): GatewayTarget | null {
    return (host === undefined ? undefined : this.byHost.get(host)) ?? this.only;
  }
}

/** The API as stored, with gateway settings applied in memory. */
export async function gatewayApi(t: TestServer, slug: string, identifier: string, settings: Partial<GatewaySettings>): Promise<Api> {
  const tenant = await t.server.keygate.directory.tenant(slug);
  const api = await t.server.keygate.directory.api(tenant!.id, identifier);
  return { ...api!, gateway: { ...DEFAULT_GATEWAY_SETTINGS, ...settings } };
}

export function target(api: Api, tenantSlug: string, routes: CompiledRoutes): GatewayTarget {
  return { api, tenantSlug, match: compileRouter(routes) };
}

export function op(method: string, path: string, anyOf: string[][], extra: Partial<Operation> = {}): Operation {
  return { method, path, operationId: null, requirement: { public: false, anyOf }, cost: 1, ...extra };
}

export interface RunningGateway {
  url: string;
  app: GatewayApp;
  service: GatewayService;
  close(): Promise<void>;
}

/** The gateway app over the test server's Keygate, on an ephemeral port; logging to `logger.stream` when given; `addresses` for its connections' address rules (a scripted resolver). */
export async function startGateway(
  t: TestServer,
  routes: GatewayRouteTable,
  logger: { level: string; stream: { write(line: string): void } } | false = false,
  addresses?: UpstreamAddressRules,
): Promise<RunningGateway> {
  const keygate = t.server.keygate;
  const service = new GatewayService({ clock: keygate.clock, publicUrl: keygate.publicUrl, routes, verify: keygate.verify, signingKeys: keygate.signingKeys, ...(addresses ? { addresses } : {}) });
  const app = buildGatewayApp(keygate, service, { logger });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, app, service, close: () => app.close() };
}
