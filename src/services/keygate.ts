import type { Cluster } from '../cluster/cluster.js';
import { openCluster } from '../cluster/open-cluster.js';
import { loadConfig, type Config } from '../config/schema.js';
import { Envelope } from '../crypto/envelope.js';
import { PasswordHasher } from '../crypto/passwords.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { VerificationResult } from '../domain/verification.js';
import { instrumentCluster } from '../observability/instrument-cluster.js';
import { defaultLogger, type Logger } from '../observability/logger.js';
import { KeygateMetrics } from '../observability/metrics.js';
import type { Store } from '../store/store.js';
import { ApisService } from './apis-service.js';
import { GatewayRoutesService } from './gateway-routes-service.js';
import { parseHostSuffixes } from '../domain/gateway/host-policy.js';
import { GatewayService } from './gateway-service.js';
import type { UpstreamAddressRules } from './upstream-connector.js';
import { AuthorizationService } from './authorization-service.js';
import { DelegationService } from './delegation-service.js';
import { SessionsService } from './sessions-service.js';
import { UsersService } from './users-service.js';
import { resetDeliveryFromConfig, type PasswordResetHook } from './password-reset-delivery.js';
import { ClientAuthenticator } from './client-authenticator.js';
import { ApiExplorerService, gatewayAddress } from './api-explorer-service.js';
import { ClientTokensService } from './client-tokens-service.js';
import { ClientsService } from './clients-service.js';
import { ConsumersService } from './consumers-service.js';
import { PortalUsageService } from './portal-usage-service.js';
import { DirectoryCache } from './directory-cache.js';
import { HealthService } from './health-service.js';
import { Hs256SecretsService } from './hs256-secrets-service.js';
import { IntrospectionService } from './introspection-service.js';
import { JwtVerifier } from './jwt-verifier.js';
import { RevocationsService } from './revocations-service.js';
import { SigningKeysService } from './signing-keys-service.js';
import { TokensService } from './tokens-service.js';
import { AuditLog } from './audit-log.js';
import type { ServiceContext } from './context.js';
import { KeyLookup } from './key-lookup.js';
import { KeysService } from './keys-service.js';
import { ManagementAuth } from './management-auth.js';
import { OperatorsService } from './operators-service.js';
import { RootKeysService } from './root-keys-service.js';
import { TenantsService } from './tenants-service.js';
import { UsageAnalytics } from './usage-analytics.js';
import { UsageQueryService } from './usage-query-service.js';
import { UsageRecorder } from './usage-recorder.js';
import { openData } from './open-data.js';
import { VerifyService, type VerifyOptions, type VerifyRequest } from './verify-service.js';

const PRUNE_INTERVAL_MS = 10 * 60_000;
/** How long start-up waits for Redis before it starts degraded (limits per KEYGATE_REDIS_FAILURE). */
const REDIS_START_WAIT_MS = 2_000;

export interface KeygateOptions {
  /** Settings as in docs/configuration.md; unset ones come from the environment, then defaults. */
  config?: Partial<Config>;
  /** An already opened store (tests, embedding); otherwise opened from the config. */
  store?: Store;
  cluster?: Cluster;
  clock?: Clock;
  /**
   * Delivers password-reset links (embedding: your own mailer). Default: SMTP or the signed
   * webhook from the configuration; with neither, password reset is disabled.
   */
  onPasswordReset?: PasswordResetHook;
  /**
   * Where warnings (a generated master key, Redis lost or back) and background failures (batched
   * audit and usage writes, password-reset deliveries) are logged: the server passes its pino;
   * default `defaultLogger()`, pino on stderr.
   */
  logger?: Logger;
}

export interface Keygate {
  readonly config: Config;
  readonly store: Store;
  readonly cluster: Cluster;
  readonly tenants: TenantsService;
  readonly apis: ApisService;
  /** Which API each gateway Host reaches, with its compiled routes; kept current once started (the gateway starts it). */
  readonly gatewayRoutes: GatewayRoutesService;
  /** The gateway's request policy: Host → operation → credential → verify → what the upstream receives. */
  readonly gateway: GatewayService;
  readonly keys: KeysService;
  /** Consumers, their members and grants, and their members' keys within the grants (docs/consumers.md). */
  readonly consumers: ConsumersService;
  /** The developer portal's API explorer: documents as it shows them, and "Try it" through this instance's gateway. */
  readonly explorer: ApiExplorerService;
  readonly rootKeys: RootKeysService;
  /** Operators: people who sign in to the console with a root key's scopes and tenant limit (docs/security.md). */
  readonly operators: OperatorsService;
  readonly auth: ManagementAuth;
  readonly audit: AuditLog;
  readonly signingKeys: SigningKeysService;
  readonly hs256Secrets: Hs256SecretsService;
  readonly revocations: RevocationsService;
  readonly jwts: JwtVerifier;
  readonly clients: ClientsService;
  readonly tokens: TokensService;
  readonly clientAuth: ClientAuthenticator;
  readonly users: UsersService;
  /** Every password hash and check of this instance, bounded by `passwordHashConcurrency`. */
  readonly passwords: PasswordHasher;
  readonly sessions: SessionsService;
  readonly authorization: AuthorizationService;
  readonly delegation: DelegationService;
  readonly clientTokens: ClientTokensService;
  /** RFC 7662 answers, with the throttle on a client's inactive answers. */
  readonly introspection: IntrospectionService;
  /** Liveness and readiness (`/healthz`, `/readyz`). */
  readonly health: HealthService;
  readonly publicUrl: string;
  /** The clock every service reads (`options.clock`); surfaces that show a state in time read it too. */
  readonly clock: Clock;
  readonly directory: DirectoryCache;
  /** This instance's metrics (`GET /metrics`, docs/observability.md). */
  readonly metrics: KeygateMetrics;
  /** Usage analytics: the gateway and `POST /v1/verify` record each request here (docs/usage.md). */
  readonly analytics: UsageAnalytics;
  /** Usage time series per tenant (`GET /v1/tenants/{slug}/usage`). */
  readonly usageQueries: UsageQueryService;
  /** The developer portal's view of one consumer's usage and denials: its own keys only (docs/portal.md). */
  readonly portalUsage: PortalUsageService;
  /** Verifies a credential exactly as `POST /v1/verify` does. */
  verify(request: VerifyRequest, options?: VerifyOptions): Promise<VerificationResult>;
  /** `verify`, answered at once (not as a promise) when nothing needs waiting for: `POST /v1/verify`'s hot path. */
  verifyNow(request: VerifyRequest, options?: VerifyOptions): VerificationResult | Promise<VerificationResult>;
  /** Writes batched usage and audit events now (tests, shutdown). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the store (running migrations) and the cluster parts, and wires the services.
 * The in-process verifier of the package's main export.
 *
 * @example
 * const keygate = await createKeygate({ config: { dataDir: './.keygate' } });
 * const result = await keygate.verify({ credential: 'kg_…', api: 'https://api.example.com', scopes: ['read:users'] });
 * if (!result.valid) console.log(result.code); // "EXPIRED", "INSUFFICIENT_SCOPE", …
 */
export async function createKeygate(options: KeygateOptions = {}): Promise<Keygate> {
  // A key given as undefined means unset (SQLite, no Redis), not "fall back to the environment".
  const config: Config = { ...loadConfig({ env: process.env }), ...options.config };
  const logger = options.logger ?? defaultLogger();
  const onError = (err: unknown): void => logger.error({ err }, 'background work failed');
  const metrics = new KeygateMetrics();
  const clock = options.clock ?? systemClock;
  const { store, masterKey } = await openData({ config, ...(options.store ? { store: options.store } : {}), observer: metrics, now: clock(), logger });
  // What this start opened is closed again, last first, if a later step fails (a retired
  // KEYGATE_ROOT_KEY, a store fault): an embedder that handles the error keeps no pool and no
  // Redis link reconnecting for ever. A store or cluster passed in stays the caller's.
  const opened: (() => Promise<void>)[] = options.store ? [] : [() => store.close()];
  const abandon = async (err: unknown): Promise<never> => {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw err;
  };
  const ownCluster =
    options.cluster ??
    (await openCluster({ redisUrl: config.redisUrl, now: clock, redisFailure: config.redisFailure, redisTimeoutMs: config.redisTimeoutMs, logger }).catch(abandon));
  if (!options.cluster) opened.push(() => ownCluster.close());
  const cluster = instrumentCluster(ownCluster, metrics);
  // A reachable Redis is in use from the first request; an unreachable one does not keep Keygate down.
  if (!(await cluster.connection.whenConnected(REDIS_START_WAIT_MS))) {
    logger.warn(`Redis is not reachable yet (${cluster.connection.problem?.detail}): starting degraded (KEYGATE_REDIS_FAILURE=${config.redisFailure}); it is used as soon as it answers.`);
  }
  const audit = new AuditLog(store.audit, clock, onError, { flushIntervalMs: 250, retentionDays: config.auditRetentionDays });
  const usage = new UsageRecorder(store.keys, onError, { flushIntervalMs: 1000 });
  const analytics = new UsageAnalytics(store.analytics, clock, onError, {
    flushIntervalMs: 1000,
    maxSeries: config.usageMaxSeries,
    retentionDays: { minute: config.usageMinuteRetentionDays, hour: config.usageHourRetentionDays, day: config.usageDayRetentionDays },
  });
  const lookup = new KeyLookup(store.keys, cluster.bus, { maxEntries: config.cacheMaxEntries, ttlMs: config.cacheTtlMs, metrics });
  const directory = new DirectoryCache(store.directory, clock, cluster.bus);
  // Invalidations published while this instance could not hear them are lost: start over from the store.
  cluster.connection.onReconnect(() => {
    lookup.clear();
    directory.clear();
  });
  const ctx: ServiceContext = { store, clock, cluster, audit, lookup, directory, envelope: new Envelope(masterKey), publicUrl: config.publicUrl, metrics };
  const signingKeys = new SigningKeysService(ctx);
  const hs256Secrets = new Hs256SecretsService(ctx);
  const revocations = new RevocationsService(ctx, { pollMs: config.revocationPollMs });
  const jwts = new JwtVerifier(ctx, signingKeys, hs256Secrets, revocations);
  const verifier = new VerifyService(ctx, usage, jwts);
  const tokens = new TokensService(ctx, signingKeys, revocations);
  // Where an API owner's URLs (upstreams, JWKS) may lead: checked when set and at every connection.
  const upstreamAddresses: UpstreamAddressRules = {
    allowLinkLocal: config.gatewayLinkLocalUpstreams === 'allow',
    ownPorts: [config.port, config.gatewayPort, config.metricsPort].filter((port): port is number => port !== undefined && port !== 0),
  };
  const gatewayRoutes = new GatewayRoutesService(store.directory, cluster.bus, onError);
  const tenants = new TenantsService(ctx, gatewayRoutes);
  const rootKeys = new RootKeysService(ctx, tenants, usage);
  const keys = new KeysService(ctx, { maxSubkeys: config.maxSubkeys });
  const passwords = new PasswordHasher({ concurrency: config.passwordHashConcurrency, queue: config.passwordHashQueue });
  const users = new UsersService(ctx, passwords, { deliver: options.onPasswordReset ?? resetDeliveryFromConfig(config, clock), onError }, revocations);
  const operators = new OperatorsService(ctx, { rootKeys, tenants, users, passwords }, { idleMs: config.consoleIdleMinutes * 60_000, absoluteMs: config.consoleSessionHours * 3_600_000 });
  // Expired sessions, codes, refresh tokens, dead jti revocations and audit events past their
  // retention do not pile up forever.
  const janitor = setInterval(() => {
    void store.pruneExpired(clock()).catch(onError);
    void audit.prune().catch(onError);
    void analytics.prune().catch(onError);
  }, PRUNE_INTERVAL_MS);
  janitor.unref();
  metrics.readFrom({ auditQueue: () => audit.queued, usageQueue: () => usage.queued, analyticsQueue: () => analytics.queued, analyticsDropped: () => analytics.dropped, store });
  opened.push(async () => {
    clearInterval(janitor);
    await Promise.all([audit.close(), usage.close(), analytics.close()]);
  });
  await rootKeys.ensureSystem().catch(abandon);
  if (config.rootKey) await rootKeys.seed(config.rootKey).catch(abandon);

  return {
    config,
    store,
    cluster,
    tenants,
    apis: new ApisService(ctx, revocations, gatewayRoutes, {
      allowLinkLocalUpstreams: upstreamAddresses.allowLinkLocal,
      ownPorts: upstreamAddresses.ownPorts,
      hostSuffixes: parseHostSuffixes(config.gatewayHostSuffixes),
    }),
    gatewayRoutes,
    gateway: new GatewayService({ clock, publicUrl: config.publicUrl, routes: gatewayRoutes, verify: verifier.verify.bind(verifier), signingKeys, addresses: upstreamAddresses }),
    keys,
    consumers: new ConsumersService(ctx, keys, tokens, revocations),
    explorer: new ApiExplorerService(ctx, config.gatewayPort === undefined ? null : gatewayAddress(config.gatewayHost ?? config.host, config.gatewayPort)),
    rootKeys,
    operators,
    auth: new ManagementAuth(ctx, { seededRootKey: config.rootKey }),
    audit,
    signingKeys,
    hs256Secrets,
    revocations,
    jwts,
    clients: new ClientsService(ctx),
    tokens,
    clientAuth: new ClientAuthenticator(ctx),
    users,
    passwords,
    sessions: new SessionsService(ctx),
    authorization: new AuthorizationService(ctx),
    delegation: new DelegationService(ctx, tokens, revocations),
    clientTokens: new ClientTokensService(ctx, tokens, jwts),
    introspection: new IntrospectionService(ctx, jwts),
    health: new HealthService(store, cluster),
    publicUrl: config.publicUrl,
    clock,
    directory,
    metrics,
    analytics,
    usageQueries: new UsageQueryService(store.analytics, clock),
    portalUsage: new PortalUsageService(ctx, store.analytics),
    verify: verifier.verify.bind(verifier),
    verifyNow: verifier.verifyNow.bind(verifier),
    async flush() {
      await Promise.all([audit.flush(), usage.flush(), analytics.flush()]);
    },
    async close() {
      clearInterval(janitor);
      gatewayRoutes.close();
      await Promise.all([audit.close(), usage.close(), analytics.close()]);
      await cluster.close();
      await store.close();
    },
  };
}
