import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { trustProxyOption } from '../config/schema.js';
import { newRequestId } from '../crypto/secrets.js';
import type { Keygate } from '../services/keygate.js';
import { prettyLogStream } from '../observability/pretty-log.js';
import { registerApiDocs } from './api-docs.js';
import { healthRoutes } from './health.js';
import { lazyCompilers } from './lazy-compilers.js';
import { metricsRoutes } from './metrics.js';
import { boundJsonDepth } from './json-body.js';
import { apiRoutes } from './management/apis.js';
import { auditRoutes } from './management/audit.js';
import { usageRoutes } from './management/usage.js';
import { clientRoutes } from './management/clients.js';
import { hs256SecretRoutes } from './management/hs256-secrets.js';
import { signingKeyRoutes } from './management/signing-keys.js';
import { tokenRoutes } from './management/tokens.js';
import { userRoutes } from './management/users.js';
import { keyRoutes } from './management/keys.js';
import { consumerRoutes } from './management/consumers.js';
import { rootKeyRoutes } from './management/root-keys.js';
import { operatorRoutes } from './management/operators.js';
import { tenantRoutes } from './management/tenants.js';
import { oauthRoutes } from './oauth/routes.js';
import { portalRoutes } from './portal/routes.js';
import { consoleRoutes } from './console/routes.js';
import { problem, sendProblem, toProblem } from './problem.js';
import { recordRoutes } from './route-table.js';
import { verifyRoutes } from './verify.js';

export interface AppOptions {
  /** Pino logger options, or false for none. `stream` replaces stdout (tests read what is logged). */
  logger?: boolean | { level: string; stream?: { write(line: string): void } };
}

/**
 * The Fastify app: management API, verify, health, OpenAPI. Thin: every route validates with
 * its schema, calls one service, and maps the result to a view.
 *
 * @example
 * const app = await buildApp(keygate);
 * await app.listen({ port: 4000 });
 */
export async function buildApp(keygate: Keygate, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = keygate;
  // Each route's schemas are compiled by its first request, not all before listening (lazy-compilers.ts).
  const compilers = lazyCompilers();
  const app = Fastify({
    logger: loggerOptions(options, config, ['req.headers.authorization']),
    // Per-request log lines would cost more than verify itself; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    // Fastify also takes a hop count here; its type omits it.
    trustProxy: trustProxyOption(config.trustProxy) as boolean | string[],
    genReqId: newRequestId,
    ajv: {
      // allErrors: a refused request lists every problem at once (docs/errors.md, INVALID_REQUEST).
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: true },
    },
    schemaController: { compilersFactory: compilers.compilersFactory },
  }).withTypeProvider<TypeBoxTypeProvider>();

  compilers.decorate(app);
  recordRoutes(app);
  boundJsonDepth(app);
  app.decorateRequest('principal', null);
  const responses = keygate.metrics.httpResponses;
  // Every response is counted by status class. A root key's lastUsedAt is its last management
  // request that succeeded: a refused one changes no row (it is answered, and audited where it
  // matters, instead).
  // A callback hook, not an async one: it runs on every response, and a promise each is measurable.
  app.addHook('onResponse', (request, reply, done) => {
    responses[Math.floor(reply.statusCode / 100) - 1]?.inc();
    if (request.principal?.kind === 'root' && request.principal.operator !== true && reply.statusCode < 400) keygate.rootKeys.recordUse(request.principal.keyId);
    done();
  });

  app.setErrorHandler((err, request, reply) => {
    const body = toProblem(err, request);
    if (body.status >= 500) request.log.error({ err, requestId: request.id }, 'request failed');
    return sendProblem(reply, body);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, problem('ROUTE_NOT_FOUND', routeNotFoundDetail(request.method, request.url.split('?')[0]!), request.id)),
  );

  await registerApiDocs(app, config);

  await app.register(healthRoutes(keygate));
  await app.register(metricsRoutes(keygate));
  await app.register(verifyRoutes(keygate));
  await app.register(tenantRoutes(keygate));
  await app.register(apiRoutes(keygate));
  await app.register(keyRoutes(keygate));
  await app.register(consumerRoutes(keygate));
  await app.register(rootKeyRoutes(keygate));
  await app.register(operatorRoutes(keygate));
  await app.register(auditRoutes(keygate));
  await app.register(usageRoutes(keygate));
  await app.register(clientRoutes(keygate));
  await app.register(tokenRoutes(keygate));
  await app.register(signingKeyRoutes(keygate));
  await app.register(hs256SecretRoutes(keygate));
  await app.register(userRoutes(keygate));
  await app.register(oauthRoutes(keygate));
  await app.register(portalRoutes(keygate));
  await app.register(consoleRoutes(keygate));
  return app;
}

/**
 * Fastify's logger for a Keygate listener (this app, the gateway's): the configured level, the
 * headers that carry credentials redacted, lines to `logDestination`; false for none.
 */
export function loggerOptions(
  options: AppOptions,
  config: Pick<Keygate['config'], 'logLevel' | 'logFormat'>,
  redact: string[],
): false | { level: string; redact: string[]; stream?: { write(line: string): void } } {
  if (options.logger === false) return false;
  return { level: typeof options.logger === 'object' ? options.logger.level : config.logLevel, redact, ...logDestination(options, config.logFormat) };
}

/**
 * Where log lines go: the caller's stream as JSON (tests read it), else stdout as JSON, or as
 * readable lines with `LOG_FORMAT=pretty` or, when the format is not set, on a terminal.
 */
function logDestination(options: AppOptions, format: 'json' | 'pretty' | undefined): { stream?: { write(line: string): void } } {
  if (typeof options.logger === 'object' && options.logger.stream) return { stream: options.logger.stream };
  const pretty = format === undefined ? process.stdout.isTTY === true : format === 'pretty';
  return pretty ? { stream: prettyLogStream(process.stdout) } : {};
}

/**
 * What a 404 says. An API identifier is usually a URL: sent unencoded, its slashes split the
 * path and no route matches, so the answer says to encode it (or to use the API's id).
 */
function routeNotFoundDetail(method: string, path: string): string {
  if (/^\/v1\/tenants\/[^/]+\/apis\/[^/]*\/./.test(path)) {
    return `no route ${method} ${path}: an API identifier with slashes must be URL-encoded (https%3A%2F%2Fapi.example.com), or name the API by its id (api_…)`;
  }
  return `no route ${method} ${path}`;
}
