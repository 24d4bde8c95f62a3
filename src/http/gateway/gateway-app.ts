import replyFrom, { type FastifyReplyFromHooks } from '@fastify/reply-from';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { trustProxyOption } from '../../config/schema.js';
import { newRequestId } from '../../crypto/secrets.js';
import { KeygateError } from '../../domain/errors.js';
import type { GatewayForward, GatewayService, GatewayUsage } from '../../services/gateway-service.js';
import { gatewayProblem } from '../../services/gateway-service.js';
import type { Keygate } from '../../services/keygate.js';
import { loggerOptions, type AppOptions } from '../app.js';
import { callerResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { tunnelUpgrades } from './websocket.js';

export type GatewayAppOptions = AppOptions;

declare module 'fastify' {
  interface FastifyRequest {
    /** The policy's decision to forward, read by the proxy's header hooks. */
    gatewayForward: GatewayForward | null;
    /** When the gateway received the request (Keygate's clock), for the analytics record. */
    gatewayStartedAt: number;
    gatewayUsage: GatewayUsage | null;
  }
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];

/**
 * The gateway: one catch-all route, no body parsing (bodies stream through both ways), the
 * policy of `GatewayService` for every request, then `@fastify/reply-from` over an undici agent
 * (pooled keep-alive connections per upstream). A refused or failed connection to the upstream
 * is 502 and a timeout 504, as `application/problem+json`; nothing is retried, so a request
 * with a body is never sent twice. WebSocket upgrades are checked by the same policy and
 * tunnelled (`websocket.ts`).
 *
 * @example
 * const app = await buildGatewayApp(keygate, keygate.gateway);
 * await app.listen({ port: 8080 });
 */
export async function buildGatewayApp(keygate: Keygate, gateway: GatewayService, options: GatewayAppOptions = {}): Promise<FastifyInstance> {
  const { config } = keygate;
  const app = Fastify({
    // Callers' credentials travel in these; the gateway never logs them.
    logger: loggerOptions(options, config, ['req.headers.authorization', 'req.headers.cookie']),
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: trustProxyOption(config.trustProxy) as boolean | string[],
    genReqId: newRequestId,
    // The catch-all's one parameter is the whole path: as long as Node lets a request line be.
    routerOptions: { maxParamLength: 16_384 },
  });

  // The body is the upstream's business: it streams through unread, whatever its type and size.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  await app.register(replyFrom, {
    undici: {
      connections: 128,
      pipelining: 1,
      headersTimeout: config.gatewayTimeoutMs,
      // reply-from turns certificate checks off unless told otherwise (its `tls` default): an
      // https upstream must prove who it is. `connect` is applied over `tls`.
      connect: { timeout: config.gatewayTimeoutMs, rejectUnauthorized: true },
    },
    disableRequestLogging: true,
    retryMethods: [],
  });

  app.decorateRequest('gatewayForward', null);
  app.decorateRequest('gatewayStartedAt', 0);
  app.decorateRequest('gatewayUsage', null);

  app.addHook('onResponse', (request, reply, done) => {
    keygate.metrics.httpResponses[Math.floor(reply.statusCode / 100) - 1]?.inc();
    const usage = request.gatewayUsage;
    if (usage !== null) {
      keygate.analytics.record({
        ...usage,
        upstreamStatus: request.gatewayForward === null ? null : reply.statusCode,
        latencyMs: keygate.clock() - request.gatewayStartedAt,
        at: request.gatewayStartedAt,
      });
    }
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    // Only faults get here (the store down, a bug): the details go to the log with the request id.
    request.log.error({ err, requestId: request.id }, 'gateway request failed');
    const status = err instanceof KeygateError && err.code === 'STORE_UNAVAILABLE' ? 503 : 500;
    const answer = gatewayProblem(status, status === 503 ? 'UNAVAILABLE' : 'INTERNAL', `the request could not be handled; the request id is ${request.id}`);
    return reply.code(answer.status).type('application/problem+json').send(answer.body);
  });

  app.route({
    method: METHODS,
    url: '/*',
    handler: async (request, reply) => {
      request.gatewayStartedAt = keygate.clock();
      const decision = await gateway.decide({ host: request.headers.host, method: request.method, url: request.url, headers: request.headers, ip: request.ip });
      request.gatewayUsage = decision.usage;
      if (decision.kind === 'refuse') {
        return reply.code(decision.status).headers(decision.headers).type(decision.contentType).send(decision.body);
      }
      request.gatewayForward = decision;
      return reply.from(decision.url, FORWARD);
    },
  });

  tunnelUpgrades(app.server, gateway, { timeoutMs: config.gatewayTimeoutMs, log: app.log, analytics: keygate.analytics, clock: keygate.clock });
  return app;
}

/** How the request is sent on: reply-from's hooks, made once; each reads the decision off the request. */
const FORWARD: FastifyReplyFromHooks = {
  queryString: (_search, _url, request) => (request as FastifyRequest).gatewayForward!.query,
  rewriteRequestHeaders: (request, headers) => {
    const decision = (request as FastifyRequest).gatewayForward!;
    return upstreamRequestHeaders(headers as IncomingHttpHeaders, {
      credentialHeader: decision.credentialHeader,
      identity: decision.identity,
      forwarded: { for: forwardedFor(request as FastifyRequest), proto: request.protocol, host: request.headers.host },
    });
  },
  rewriteHeaders: (headers, request) => callerResponseHeaders(headers as IncomingHttpHeaders, (request as FastifyRequest).gatewayForward!.responseHeaders) as IncomingHttpHeaders,
  onError: (reply, { error }) => upstreamFailed(reply as FastifyReply, error as { statusCode?: number; code?: string }),
};

/** The caller's chain as `X-Forwarded-For` spells it (client first): believed proxies' entries and the peer. */
function forwardedFor(request: FastifyRequest): string {
  // `ips` (KEYGATE_TRUST_PROXY set) lists the peer first, then the believed hops back to the client.
  return request.ips === undefined ? request.ip : [...request.ips].reverse().join(', ');
}

/** The upstream refused, failed or timed out: 504 for a timeout, 502 for everything else, never a retry. */
function upstreamFailed(reply: FastifyReply, error: { statusCode?: number; code?: string }): void {
  const timeout = error.statusCode === 504;
  reply.request.log.warn({ code: error.code, requestId: reply.request.id }, 'upstream request failed');
  const answer = timeout
    ? gatewayProblem(504, 'UPSTREAM_TIMEOUT', 'the upstream did not answer in time')
    : gatewayProblem(502, 'UPSTREAM_UNAVAILABLE', 'the upstream refused the connection or failed before answering');
  reply.code(answer.status).type('application/problem+json').send(answer.body);
}
