import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { Agent, type Dispatcher } from 'undici';
import { trustProxyOption } from '../../config/schema.js';
import { clientAddress, compileTrustProxy, forwardedChain, type TrustProxy } from '../../domain/client-address.js';
import { newRequestId } from '../../crypto/secrets.js';
import { KeygateError } from '../../domain/errors.js';
import type { GatewayForward, GatewayService, GatewayUsage } from '../../services/gateway-service.js';
import { gatewayProblem } from '../../services/gateway-service.js';
import type { Keygate } from '../../services/keygate.js';
import { loggerOptions, type AppOptions } from '../app.js';
import { upstreamConnector } from '../../services/upstream-connector.js';
import { callerResponseHeaders, duplicateHost, upstreamRequestHeaders } from './headers.js';
import { tunnelUpgrades } from './websocket.js';

export type GatewayAppOptions = AppOptions;

/** The gateway's listener: what `keygate start` and `keygate gateway` run, and tests start. */
export interface GatewayApp {
  readonly server: Server;
  readonly log: Logger;
  /** Listens; resolves to the address as a URL (`http://127.0.0.1:8080`). */
  listen(options: { port: number; host: string }): Promise<string>;
  /** Stops accepting, lets requests in flight finish, closes idle connections and the upstream pools. */
  close(): Promise<void>;
}

/** The caller's address and the chain `X-Forwarded-For` carries on, by KEYGATE_TRUST_PROXY. */
export interface CallerAddress {
  ip: string;
  /** Client first, as `X-Forwarded-For` spells it: the believed proxies' entries and the peer. */
  ips: string[];
  /** `https` when a believed proxy says so (`X-Forwarded-Proto`), else the connection's own. */
  proto: string;
}

/**
 * The gateway: a node:http server whose every request goes through the policy of
 * `GatewayService`, then straight into an undici agent (pooled keep-alive connections per
 * upstream) whose dispatch handler writes the upstream's answer to the caller's response as it
 * arrives. No framework sits between the two: there is one route, no body parsing (bodies stream
 * through both ways with backpressure), and each request costs one handler object.
 *
 * A refused or failed connection to the upstream is 502 and a timeout 504, as
 * `application/problem+json`; nothing is retried, so a request with a body is never sent twice.
 * WebSocket upgrades are checked by the same policy and tunnelled (`websocket.ts`).
 *
 * @example
 * const gateway = buildGatewayApp(keygate, keygate.gateway);
 * await gateway.listen({ port: 8080, host: '127.0.0.1' });
 */
export function buildGatewayApp(keygate: Keygate, gateway: GatewayService, options: GatewayAppOptions = {}): GatewayApp {
  const { config } = keygate;
  // The gateway logs no request; should one ever be, its credentials stay out.
  const logging = loggerOptions(options, config, ['req.headers.authorization', 'req.headers.cookie']);
  const log = logging === false ? pino({ level: 'silent' }) : pino({ level: logging.level }, logging.stream ?? process.stdout);
  const agent = new Agent({
    connections: 128,
    pipelining: 1,
    headersTimeout: config.gatewayTimeoutMs,
    // Every connection checks where the upstream's name leads now (DNS rebinding), and an https
    // upstream must prove who it is.
    connect: upstreamConnector({ ...gateway.addresses, timeoutMs: config.gatewayTimeoutMs }),
  });
  const trust = compileTrustProxy(trustProxyOption(config.trustProxy));
  const context: GatewayContext = { keygate, gateway, agent, log, trust, timeoutMs: config.gatewayTimeoutMs, inFlight: new Map(), maxForwards: config.gatewayMaxForwards };

  const server = createServer({ requestTimeout: 0 }, (request, response) => handle(context, request, response));
  // Longer than the usual load balancer's idle timeout (60 s), so the gateway never closes first.
  server.keepAliveTimeout = 72_000;
  const tunnels = tunnelUpgrades(server, gateway, {
    timeoutMs: config.gatewayTimeoutMs,
    log,
    analytics: keygate.analytics,
    clock: keygate.clock,
    addresses: gateway.addresses,
    clientAddress: (request) => callerAddress(request, trust),
  });

  return {
    server,
    log,
    listen({ port, host }) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address() as AddressInfo;
          resolve(`http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`);
        });
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      tunnels.close();
      await closed;
      await agent.close();
    },
  };
}

interface GatewayContext {
  keygate: Keygate;
  gateway: GatewayService;
  agent: Dispatcher;
  log: Logger;
  trust: TrustProxy;
  /** KEYGATE_GATEWAY_TIMEOUT_MS: also how long a caller may leave a forward idle (send nothing, read nothing). */
  timeoutMs: number;
  /**
   * Forwards under way or queued per upstream origin: past KEYGATE_GATEWAY_MAX_FORWARDS a request
   * is 503 at once. Callers that hold forwards open (slow uploads, slow readers) fill the agent's
   * 128 connections and the queue behind them at worst, never memory without end.
   */
  inFlight: Map<string, number>;
  maxForwards: number;
}



/** One request: the policy's decision, then the refusal or the forwarding. */
function handle(context: GatewayContext, request: IncomingMessage, response: ServerResponse): void {
  const startedAt = performance.now();
  const at = context.keygate.clock();
  if (duplicateHost(request.rawHeaders)) {
    // Node reads the first Host and the upstream, or a proxy between, may read the last.
    sendProblem(response, gatewayProblem(400, 'BAD_HOST', 'the request names its Host more than once'));
    count(context, 400, null, null, startedAt, at);
    return;
  }
  const caller = callerAddress(request, context.trust);
  context.gateway.decide({ host: request.headers.host, method: request.method!, url: request.url!, headers: request.headers, ip: caller.ip }).then(
    (decision) => {
      if (decision.kind === 'refuse') {
        const body = JSON.stringify(decision.body);
        response.setHeader('content-type', decision.contentType);
        response.setHeader('content-length', Buffer.byteLength(body));
        response.writeHead(decision.status, decision.headers);
        response.end(body);
        count(context, response.statusCode, decision.usage, null, startedAt, at);
        return;
      }
      if (request.socket.destroyed) {
        // The caller left while the policy decided: nothing is sent for no one.
        count(context, 499, decision.usage, null, startedAt, at);
        return;
      }
      const options = forwardOptions(request, decision, caller);
      const origin = options.origin as string;
      const inFlight = context.inFlight.get(origin) ?? 0;
      if (inFlight >= context.maxForwards) {
        context.log.warn({ origin }, 'upstream busy: too many forwards under way');
        const answer = gatewayProblem(503, 'UPSTREAM_BUSY', 'the upstream has too many requests under way through the gateway; retry shortly');
        response.setHeader('retry-after', '1');
        sendProblem(response, answer);
        count(context, 503, decision.usage, null, startedAt, at);
        return;
      }
      context.inFlight.set(origin, inFlight + 1);
      context.agent.dispatch(options, new Forwarding(context, request, response, decision, origin, startedAt, at));
    },
    (err: unknown) => {
      // Only faults get here (the store down, a bug): the details go to the log with an id the caller is given.
      const requestId = newRequestId();
      context.log.error({ err, requestId }, 'gateway request failed');
      const status = err instanceof KeygateError && err.code === 'STORE_UNAVAILABLE' ? 503 : 500;
      sendProblem(response, gatewayProblem(status, status === 503 ? 'UNAVAILABLE' : 'INTERNAL', `the request could not be handled; the request id is ${requestId}`));
      count(context, status, null, null, startedAt, at);
    },
  );
}

/**
 * A forwarded request in flight: undici's dispatch handler, writing the upstream's status,
 * headers and body to the caller's response as they arrive. The upstream is paused while the
 * caller's connection is full, and the upstream request aborted when the caller goes away.
 */
class Forwarding implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private done = false;
  /** Watches the caller while it could leave the forward idle: during its upload, and while its connection is full. */
  private idle: NodeJS.Timeout | null = null;
  /** The upstream is paused until the caller's connection drains. */
  private paused = false;
  /** How much of the caller's upload had arrived at the last look. */
  private bytesRead = 0;
  /** The caller's connection, kept: undici drops `request.socket` once it has sent the body. */
  private readonly socket: IncomingMessage['socket'];
  /** Undici has let go of the request (answered, failed or aborted): it no longer counts as under way. */
  private released = false;
  /** How often the caller's full connection drained since the last look. */
  private drains = 0;

  constructor(
    private readonly context: GatewayContext,
    private readonly request: IncomingMessage,
    private readonly response: ServerResponse,
    private readonly decision: GatewayForward,
    private readonly origin: string,
    private readonly startedAt: number,
    private readonly at: number,
  ) {
    // Module-level listeners, the handler found on the response: no closures per request.
    (response as ForwardedResponse)[FORWARDING] = this;
    response.on('drain', resumeUpstream);
    response.on('close', callerClosed);
    this.socket = request.socket;
    if (!request.complete) {
      // An upload: the socket's byte count shows the caller still sends (a listener would take the body from undici).
      this.bytesRead = this.socket.bytesRead;
      this.arm();
    }
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // The caller left while the request waited for a connection.
    if (this.done) controller.abort(new Error('the caller closed the connection'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx interim answers (103 Early Hints) are the upstream's own business.
    if (statusCode < 200) return;
    const out = callerResponseHeaders(headers, this.decision.responseHeaders);
    // No body follows a 204 or 304: a length there (RFC 9110 allows it on 304) makes some clients wait for one.
    if (statusCode === 204 || statusCode === 304) delete out['content-length'];
    // The connection can't carry another request until the caller's body is read: close it.
    if (!this.request.complete) out['connection'] = 'close';
    this.response.writeHead(statusCode, out);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.response.write(chunk)) {
      // The caller reads slower than the upstream sends: wait for it, but not for ever.
      controller.pause();
      this.paused = true;
      if (this.idle === null) this.drains = 0;
      this.arm();
    }
  }

  onResponseEnd(): void {
    this.release();
    this.response.end();
    this.finish(this.response.statusCode);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.release();
    if (this.done) return;
    const { response } = this;
    if (response.headersSent && (response.statusCode === 204 || response.statusCode === 304)) {
      // A body-less answer whose Content-Length undici held against it (RFC 9110 allows it on 304): it is whole.
      response.end();
      this.finish(response.statusCode);
      return;
    }
    if (response.headersSent) {
      // The answer was under way: the caller sees a cut-off response, never a second one.
      response.destroy();
      this.finish(response.statusCode);
      return;
    }
    const code = (error as { code?: string }).code;
    this.context.log.warn({ code }, 'upstream request failed');
    const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    const answer = timeout
      ? gatewayProblem(504, 'UPSTREAM_TIMEOUT', 'the upstream did not answer in time')
      : gatewayProblem(502, 'UPSTREAM_UNAVAILABLE', 'the upstream refused the connection or failed before answering');
    sendProblem(response, answer);
    this.finish(answer.status);
  }

  /** The caller's connection has room again. */
  resume(): void {
    this.paused = false;
    this.drains += 1;
    this.controller?.resume();
  }

  /** The caller went away before the answer was complete: the upstream request is abandoned. */
  callerClosed(): void {
    if (this.done) return;
    this.controller?.abort(new Error('the caller closed the connection'));
    this.finish(this.response.statusCode);
  }

  /**
   * A look at the caller, a gateway timeout after the last: an upload that sent nothing since, or
   * a connection still full, means the caller left the forward idle, and both sides are closed so
   * the upstream connection is freed. Anything else is looked at again later, or no more.
   */
  idleTimeout(): void {
    this.idle = null;
    if (this.done) return;
    const uploading = !this.request.complete;
    const sent = this.socket.bytesRead;
    if ((uploading && sent !== this.bytesRead) || (this.paused && this.drains > 0)) {
      // Slow, but moving.
      this.bytesRead = sent;
      this.drains = 0;
      this.arm();
      return;
    }
    if (!uploading && !this.paused) return;
    this.context.log.warn({ origin: this.origin }, 'caller idle: forward abandoned');
    this.controller?.abort(new Error('the caller was idle for too long'));
    this.response.destroy();
    this.finish(this.response.statusCode);
  }

  private arm(): void {
    if (this.idle === null) this.idle = setTimeout(forwardIdle, this.context.timeoutMs, this);
  }

  private disarm(): void {
    if (this.idle === null) return;
    clearTimeout(this.idle);
    this.idle = null;
  }

  /** Counts the response once it is answered, failed or abandoned by the caller. */
  private finish(status: number): void {
    if (this.done) return;
    this.done = true;
    this.disarm();
    count(this.context, status, this.decision.usage, status, this.startedAt, this.at);
  }

  /**
   * The request leaves the upstream's count when undici lets go of it, not when the caller
   * leaves: an abandoned request can still wait in undici's queue until it is started and aborted.
   */
  private release(): void {
    if (this.released) return;
    this.released = true;
    const inFlight = this.context.inFlight.get(this.origin)! - 1;
    if (inFlight === 0) this.context.inFlight.delete(this.origin);
    else this.context.inFlight.set(this.origin, inFlight);
  }
}

/** The upstream request: the decision's URL, the caller's headers as `upstreamRequestHeaders` rewrites them, the body streamed. */
function forwardOptions(request: IncomingMessage, decision: GatewayForward, caller: CallerAddress): Dispatcher.DispatchOptions {
  const { url } = decision;
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  const headers = upstreamRequestHeaders(request.headers, {
    credentialHeader: decision.credentialHeader,
    identity: decision.identity,
    forwarded: { for: caller.ips.join(', '), proto: caller.proto, host: request.headers.host },
  });
  headers.host = url.slice(url.indexOf('//') + 2, slash);
  // Node answered the caller's `Expect: 100-continue` already; undici sends none of its own.
  delete headers.expect;
  return {
    origin: url.slice(0, slash),
    path: decision.query === '' ? url.slice(slash) : `${url.slice(slash)}?${decision.query}`,
    method: request.method!,
    headers: headers as Record<string, string | string[]>,
    body: hasBody(request.headers) ? request : null,
  };
}

const FORWARDING = Symbol('keygate.forwarding');
type ForwardedResponse = ServerResponse & { [FORWARDING]: Forwarding };

function resumeUpstream(this: ServerResponse): void {
  (this as ForwardedResponse)[FORWARDING].resume();
}

function callerClosed(this: ServerResponse): void {
  (this as ForwardedResponse)[FORWARDING].callerClosed();
}

function forwardIdle(forwarding: Forwarding): void {
  forwarding.idleTimeout();
}

/** The response is counted once: by status class for the metrics, and under its series for the analytics. */
function count(context: GatewayContext, status: number, usage: GatewayUsage | null, upstreamStatus: number | null, startedAt: number, at: number): void {
  context.keygate.metrics.httpResponses[Math.floor(status / 100) - 1]?.inc();
  if (usage !== null) context.keygate.analytics.count(usage, upstreamStatus, performance.now() - startedAt, at);
}

/** Who the caller is by KEYGATE_TRUST_PROXY, as the policy (IP allowlists) and the upstream (`X-Forwarded-*`) see it. */
export function callerAddress(request: IncomingMessage, trust: TrustProxy): CallerAddress {
  const peer = request.socket.remoteAddress ?? '';
  if (!trust(peer, 0)) return { ip: peer, ips: [peer], proto: 'http' };
  const forwardedFor = request.headers['x-forwarded-for'];
  const forwardedProto = request.headers['x-forwarded-proto'];
  const proto = typeof forwardedProto === 'string' ? forwardedProto.slice(forwardedProto.lastIndexOf(',') + 1).trim() : 'http';
  return { ip: clientAddress(peer, forwardedFor, trust) ?? '', ips: forwardedChain(peer, forwardedFor, trust), proto };
}

/** Whether the caller sends a body: a length other than 0, or a chunked one. */
function hasBody(headers: IncomingHttpHeaders): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

function sendProblem(response: ServerResponse, answer: { status: number; body: Record<string, unknown> }): void {
  if (response.headersSent || response.destroyed) return;
  const body = JSON.stringify(answer.body);
  response.writeHead(answer.status, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}
