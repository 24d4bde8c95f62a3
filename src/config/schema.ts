import { availableParallelism } from 'node:os';
import { parseMasterKey } from '../crypto/master-key.js';
import { parseHostSuffixes } from '../domain/gateway/host-policy.js';

/**
 * Every setting Keygate reads, in one place: its env var, its `keygate start` flag, its type,
 * default and description. `loadConfig` validates all of them once at start and fails loudly;
 * `docs/configuration.md` is generated from this table (`npm run docs:config`) and a test
 * fails when the two drift apart.
 */
export interface Setting {
  key: keyof Config;
  env: string;
  flag: string;
  type: 'integer' | 'string' | 'url';
  default: string | number | undefined;
  description: string;
  /** Never printed back (errors say the value is invalid, not what it was). */
  secret?: boolean;
  min?: number;
  max?: number;
}

export interface Config {
  port: number;
  host: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  redisFailure: 'local' | 'closed';
  redisTimeoutMs: number;
  /** Worker processes of `keygate start` (`auto`, one per core, is resolved to its number here). */
  workers: number;
  rootKey: string | undefined;
  masterKey: string | undefined;
  trustProxy: string;
  bodyLimit: number;
  logLevel: string;
  logFormat: 'json' | 'pretty' | undefined;
  metricsPort: number | undefined;
  metricsHost: string;
  gatewayPort: number | undefined;
  gatewayHost: string | undefined;
  gatewayTimeoutMs: number;
  gatewayMaxForwards: number;
  gatewayLinkLocalUpstreams: string;
  gatewayHostSuffixes: string;
  cacheTtlMs: number;
  cacheMaxEntries: number;
  revocationPollMs: number;
  maxSubkeys: number;
  auditRetentionDays: number;
  usageMinuteRetentionDays: number;
  usageHourRetentionDays: number;
  usageDayRetentionDays: number;
  usageMaxSeries: number;
  passwordHashConcurrency: number;
  passwordHashQueue: number;
  consoleIdleMinutes: number;
  consoleSessionHours: number;
  smtpUrl: string | undefined;
  smtpFrom: string | undefined;
  webhookUrl: string | undefined;
  webhookSecret: string | undefined;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'port', env: 'PORT', flag: '--port', type: 'integer', default: 4000, min: 0, max: 65535, description: 'TCP port to listen on (0 picks a free port).' },
  { key: 'host', env: 'HOST', flag: '--host', type: 'string', default: '127.0.0.1', description: 'Interface to listen on; `0.0.0.0` for all.' },
  { key: 'publicUrl', env: 'PUBLIC_URL', flag: '--public-url', type: 'url', default: undefined, description: 'The URL callers use to reach Keygate; tenant issuers are `{PUBLIC_URL}/t/{slug}`. Default `http://HOST:PORT`.' },
  { key: 'dataDir', env: 'KEYGATE_DATA_DIR', flag: '--data-dir', type: 'string', default: './.keygate', description: 'Directory for the embedded SQLite database (`keygate.db`) and a generated `master.key`; must be writable.' },
  { key: 'databaseUrl', env: 'DATABASE_URL', flag: '--database-url', type: 'url', default: undefined, secret: true, description: 'PostgreSQL URL (`postgres://…`). Unset: SQLite in the data directory.' },
  { key: 'redisUrl', env: 'REDIS_URL', flag: '--redis-url', type: 'url', default: undefined, secret: true, description: 'Redis URL for rate limits and cache invalidation shared by several instances. Unset: in-process.' },
  { key: 'redisFailure', env: 'KEYGATE_REDIS_FAILURE', flag: '--redis-failure', type: 'string', default: 'local', description: 'While Redis is away: `local` counts rate limits per instance (each instance allows up to the limit), `closed` refuses every rate-limited key (`RATE_LIMITED`) and every `private_key_jwt` assertion (whose single use cannot be checked across instances then). Throttles count per instance either way; keys without limits are unaffected (docs/scale-out.md).' },
  { key: 'redisTimeoutMs', env: 'KEYGATE_REDIS_TIMEOUT_MS', flag: '--redis-timeout-ms', type: 'integer', default: 50, min: 1, max: 10_000, description: 'Longest a request waits for Redis before it falls back as `KEYGATE_REDIS_FAILURE` says; Redis is then left alone (probed once a second) until it answers again. A Redis known to be down costs no wait at all.' },
  { key: 'workers', env: 'KEYGATE_WORKERS', flag: '--workers', type: 'string', default: '1', description: 'Worker processes `keygate start` (or `keygate gateway`) runs on the same ports through node:cluster, `auto` for one per core. More than 1 needs `REDIS_URL`: rate limits, throttles, one-time claims, cache invalidations and revocation pushes must be shared between processes. The first worker runs migrations and the first-start setup alone before the others start; a worker that dies is replaced (docs/scale-out.md).' },
  { key: 'rootKey', env: 'KEYGATE_ROOT_KEY', flag: '--root-key', type: 'string', default: undefined, secret: true, min: 32, max: 512, description: 'Seeds a root key with every management scope at start (32 to 512 characters: management authentication reads no longer bearer). A new value retires (revokes) the key seeded from the previous one and the key printed at first start; a revoked value refuses to start. With no root key at all, Keygate creates one at first start and prints it once.' },
  { key: 'masterKey', env: 'KEYGATE_MASTER_KEY', flag: '--master-key', type: 'string', default: undefined, secret: true, description: 'Encrypts signing keys and HS256 secrets at rest: 32 bytes as 64 hex digits or 43 base64url characters (`openssl rand -hex 32`). Unset: read from `{data dir}/master.key`, or generated there at first start with a warning (with `DATABASE_URL`, only while the database is empty). Instances sharing a database must share it: the database keeps a check value sealed with the key of its first start, and an instance whose key cannot open it refuses to start.' },
  { key: 'trustProxy', env: 'KEYGATE_TRUST_PROXY', flag: '--trust-proxy', type: 'string', default: 'false', description: 'Whose `X-Forwarded-For` to believe for the caller IP: `false`, `true`, a hop count, or a comma-separated list of proxy IPs/CIDRs.' },
  { key: 'bodyLimit', env: 'KEYGATE_BODY_LIMIT', flag: '--body-limit', type: 'integer', default: 1_048_576, min: 1024, max: 104_857_600, description: 'Largest accepted request body in bytes; larger bodies get 413.' },
  { key: 'logLevel', env: 'LOG_LEVEL', flag: '--log-level', type: 'string', default: 'info', description: 'One of `fatal error warn info debug trace silent`.' },
  { key: 'logFormat', env: 'LOG_FORMAT', flag: '--log-format', type: 'string', default: undefined, description: '`json` (one JSON object a line) or `pretty` (readable lines). Unset: `pretty` when stdout is a terminal, else `json`.' },
  { key: 'metricsPort', env: 'METRICS_PORT', flag: '--metrics-port', type: 'integer', default: undefined, min: 0, max: 65535, description: 'Also serve `GET /metrics` without authentication on this port (0 picks a free one), bound to `METRICS_HOST`. Unset: metrics only on the main port, for a root key with `metrics:read` (docs/observability.md).' },
  { key: 'metricsHost', env: 'METRICS_HOST', flag: '--metrics-host', type: 'string', default: '127.0.0.1', description: 'Interface of the `METRICS_PORT` listener. Anyone who reaches it reads the metrics: widen it only to a network your Prometheus alone can reach.' },
  { key: 'gatewayPort', env: 'GATEWAY_PORT', flag: '--gateway-port', type: 'integer', default: undefined, min: 0, max: 65535, description: 'Also serve the gateway on this port (0 picks a free one): requests are matched to an API by `Host`, checked against its OpenAPI operations and forwarded to its `upstream` (docs/gateway.md). Unset: no gateway (`keygate gateway` runs it alone).' },
  { key: 'gatewayHost', env: 'GATEWAY_HOST', flag: '--gateway-host', type: 'string', default: undefined, description: 'Interface of the gateway listener. Unset: `HOST`.' },
  { key: 'gatewayTimeoutMs', env: 'KEYGATE_GATEWAY_TIMEOUT_MS', flag: '--gateway-timeout-ms', type: 'integer', default: 30_000, min: 100, max: 3_600_000, description: 'Longest the gateway waits for an upstream to connect and to start answering; past it the caller gets 504 (a refused or failed connection is 502).' },
  { key: 'gatewayMaxForwards', env: 'KEYGATE_GATEWAY_MAX_FORWARDS', flag: '--gateway-max-forwards', type: 'integer', default: 1024, min: 1, max: 1_000_000, description: 'Most requests the gateway has under way or queued to one upstream: past it a request is refused at once with 503 `UPSTREAM_BUSY` rather than queued behind callers that hold their forwards open.' },
  { key: 'gatewayHostSuffixes', env: 'GATEWAY_HOST_SUFFIXES', flag: '--gateway-host-suffixes', type: 'string', default: '', description: 'Under which DNS names a root key limited to one tenant may make the gateway answer for its APIs (the identifier\'s host, `gatewayHosts`): comma-separated suffixes, `{tenant}` standing for the tenant\'s slug, e.g. `{tenant}.gw.example.com`. Empty: only a root key for every tenant may claim gateway hosts, so on a shared Keygate no tenant takes a host ahead of its owner (docs/gateway.md).' },
  { key: 'gatewayLinkLocalUpstreams', env: 'GATEWAY_LINK_LOCAL_UPSTREAMS', flag: '--gateway-link-local-upstreams', type: 'string', default: 'refuse', description: 'Whether an API\'s `upstream` may be a link-local or cloud-metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254, metadata.google.internal), by name or by what it resolves to: `refuse` (an API owner must not reach the instance\'s metadata credentials through the gateway) or `allow`. Unspecified addresses and Keygate\'s own ports on loopback are refused always (docs/gateway.md).' },
  { key: 'cacheTtlMs', env: 'KEYGATE_CACHE_TTL_MS', flag: '--cache-ttl-ms', type: 'integer', default: 60_000, min: 0, max: 86_400_000, description: 'How long verify may serve a key from memory. Changes made through this instance invalidate at once; the TTL bounds staleness from other instances when no Redis is configured.' },
  { key: 'cacheMaxEntries', env: 'KEYGATE_CACHE_MAX_ENTRIES', flag: '--cache-max-entries', type: 'integer', default: 100_000, min: 1, max: 100_000_000, description: 'Most keys the verify cache holds; secrets that match no key are remembered in a separate space of the same size, so they never evict a real key.' },
  { key: 'revocationPollMs', env: 'KEYGATE_REVOCATION_POLL_MS', flag: '--revocation-poll-ms', type: 'integer', default: 1000, min: 100, max: 3_600_000, description: 'How often an instance reads the revocation feed for JWT revocations made by other instances. Without Redis it is the bound on how soon they count here; with Redis they are pushed at once and this read is the backstop (reconnects catch up at once too).' },
  { key: 'maxSubkeys', env: 'KEYGATE_MAX_SUBKEYS', flag: '--max-subkeys', type: 'integer', default: 100, min: 0, max: 1_000_000, description: 'Most unrevoked sub-keys one key may have; minting beyond it answers `SUBKEY_LIMIT_REACHED`. 0 forbids sub-keys.' },
  { key: 'auditRetentionDays', env: 'KEYGATE_AUDIT_RETENTION_DAYS', flag: '--audit-retention-days', type: 'integer', default: 90, min: 1, max: 36_500, description: 'Days the audit log keeps events (changes and aggregated denials alike); housekeeping deletes older ones every ten minutes.' },
  { key: 'usageMinuteRetentionDays', env: 'KEYGATE_USAGE_MINUTE_RETENTION_DAYS', flag: '--usage-minute-retention-days', type: 'integer', default: 2, min: 1, max: 36_500, description: 'Days usage analytics keeps per-minute counts; housekeeping deletes older ones every ten minutes (docs/usage.md).' },
  { key: 'usageHourRetentionDays', env: 'KEYGATE_USAGE_HOUR_RETENTION_DAYS', flag: '--usage-hour-retention-days', type: 'integer', default: 35, min: 1, max: 36_500, description: 'Days usage analytics keeps per-hour counts.' },
  { key: 'usageDayRetentionDays', env: 'KEYGATE_USAGE_DAY_RETENTION_DAYS', flag: '--usage-day-retention-days', type: 'integer', default: 400, min: 1, max: 36_500, description: 'Days usage analytics keeps per-day counts.' },
  { key: 'usageMaxSeries', env: 'KEYGATE_USAGE_MAX_SERIES', flag: '--usage-max-series', type: 'integer', default: 10_000, min: 1, max: 10_000_000, description: 'Most distinct usage series (API, key, consumer, operation, outcome, status class, minute) an instance holds between its once-a-second writes; requests of further series are not counted and `keygate_usage_dropped_total` says how many. Bounds the memory no caller can grow.' },
  { key: 'passwordHashConcurrency', env: 'KEYGATE_PASSWORD_HASH_CONCURRENCY', flag: '--password-hash-concurrency', type: 'integer', default: 2, min: 1, max: 64, description: 'Most password hashes (scrypt, 32 MiB and ~100 ms each) computed at once by this instance, so a sign-in flood cannot starve verify and token requests.' },
  { key: 'passwordHashQueue', env: 'KEYGATE_PASSWORD_HASH_QUEUE', flag: '--password-hash-queue', type: 'integer', default: 16, min: 0, max: 10_000, description: 'Most password hashes waiting for a slot; beyond it sign-in answers 429 and user creation `PASSWORD_HASHING_BUSY` at once.' },
  { key: 'consoleIdleMinutes', env: 'KEYGATE_CONSOLE_IDLE_MINUTES', flag: '--console-idle-minutes', type: 'integer', default: 30, min: 1, max: 1440, description: 'Minutes an operator\'s console session lives without use; each use moves the deadline on (written at most once a minute, so a session may end up to a minute early).' },
  { key: 'consoleSessionHours', env: 'KEYGATE_CONSOLE_SESSION_HOURS', flag: '--console-session-hours', type: 'integer', default: 8, min: 1, max: 720, description: 'Hours an operator\'s console session lives at most, however it is used; then they sign in again.' },
  { key: 'smtpUrl', env: 'SMTP_URL', flag: '--smtp-url', type: 'url', default: undefined, secret: true, description: 'Mail server for password-reset links: `smtps://user:pass@host:465`, or `smtp://user:pass@host:587` for STARTTLS, which is required for any host but loopback (`?requireTLS=false` opts out, and start warns). Needs `SMTP_FROM`. Unset (and no webhook): password reset is disabled.' },
  { key: 'smtpFrom', env: 'SMTP_FROM', flag: '--smtp-from', type: 'string', default: undefined, description: 'Sender of password-reset mail, e.g. `Acme <no-reply@acme.example>`.' },
  { key: 'webhookUrl', env: 'KEYGATE_WEBHOOK_URL', flag: '--webhook-url', type: 'url', default: undefined, secret: true, description: 'Receives password-reset links as signed JSON POSTs (docs/people.md), for delivery by your own mailer; https:// (start warns about http:// to a host that is not loopback). Needs `KEYGATE_WEBHOOK_SECRET`.' },
  { key: 'webhookSecret', env: 'KEYGATE_WEBHOOK_SECRET', flag: '--webhook-secret', type: 'string', default: undefined, secret: true, min: 32, description: 'HMAC-SHA256 key signing webhook deliveries (`Keygate-Signature` header; at least 32 characters).' },
];

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds the configuration from flags (highest precedence), then env vars, then defaults.
 *
 * @example
 * loadConfig({ env: process.env, flags: { port: '0' } })
 */
export function loadConfig(input: { env: Record<string, string | undefined>; flags?: Partial<Record<keyof Config, string>> }): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const raw = input.flags?.[setting.key] ?? emptyToUndefined(input.env[setting.env]);
    const source = input.flags?.[setting.key] !== undefined ? setting.flag : setting.env;
    if (raw === undefined) {
      values[setting.key] = setting.default;
      continue;
    }
    const shown = setting.secret ? 'the given value' : `"${raw}"`;
    if (setting.type === 'integer') {
      const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || (setting.min !== undefined && n < setting.min) || (setting.max !== undefined && n > setting.max)) {
        problems.push(`${source}: ${shown} is not an integer in ${setting.min}–${setting.max}`);
      }
      values[setting.key] = n;
    } else if (setting.type === 'url') {
      if (!URL.canParse(raw)) problems.push(`${source}: ${shown} is not a URL`);
      values[setting.key] = raw;
    } else {
      if (setting.min !== undefined && raw.length < setting.min) {
        problems.push(`${source}: must be at least ${setting.min} characters`);
      }
      if (setting.max !== undefined && raw.length > setting.max) {
        problems.push(`${source}: must be at most ${setting.max} characters`);
      }
      values[setting.key] = raw;
    }
  }
  const config = values as unknown as Config;
  if (config.databaseUrl && !/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
    problems.push('DATABASE_URL: only postgres:// URLs are supported (leave it unset for SQLite)');
  }
  if (config.redisUrl && !/^rediss?:\/\//.test(config.redisUrl)) problems.push('REDIS_URL: must start with redis:// or rediss://');
  if (config.gatewayLinkLocalUpstreams !== 'refuse' && config.gatewayLinkLocalUpstreams !== 'allow') {
    problems.push(`GATEWAY_LINK_LOCAL_UPSTREAMS: "${config.gatewayLinkLocalUpstreams}" is not refuse or allow`);
  }
  try {
    parseHostSuffixes(config.gatewayHostSuffixes);
  } catch (err) {
    problems.push(`GATEWAY_HOST_SUFFIXES: ${(err as Error).message}`);
  }
  if (config.redisFailure !== 'local' && config.redisFailure !== 'closed') problems.push(`KEYGATE_REDIS_FAILURE: "${config.redisFailure}" is not local or closed`);
  if (config.masterKey) {
    try {
      parseMasterKey(config.masterKey);
    } catch {
      problems.push('KEYGATE_MASTER_KEY: must be 32 bytes, as 64 hex digits or 43 base64url characters');
    }
  }
  if (config.logFormat !== undefined && config.logFormat !== 'json' && config.logFormat !== 'pretty') {
    problems.push(`LOG_FORMAT: "${config.logFormat}" is not json or pretty`);
  }
  if (!LOG_LEVELS.has(config.logLevel)) problems.push(`LOG_LEVEL: "${config.logLevel}" is not one of ${[...LOG_LEVELS].join(' ')}`);
  if (!/^(true|false|\d+|[0-9a-fA-F.:/, ]+)$/.test(config.trustProxy)) {
    problems.push(`KEYGATE_TRUST_PROXY: "${config.trustProxy}" is not true, false, a hop count or a list of IPs/CIDRs`);
  }
  if (config.smtpUrl && !/^smtps?:\/\//.test(config.smtpUrl)) problems.push('SMTP_URL: must start with smtp:// or smtps://');
  if (config.smtpUrl && !config.smtpFrom) problems.push('SMTP_FROM: required when SMTP_URL is set');
  if (config.webhookUrl && !/^https?:\/\//.test(config.webhookUrl)) problems.push('KEYGATE_WEBHOOK_URL: must start with https:// or http://');
  if (config.webhookUrl && !config.webhookSecret) problems.push('KEYGATE_WEBHOOK_SECRET: required when KEYGATE_WEBHOOK_URL is set');
  const workers = parseWorkers(String(config.workers));
  if (workers === null) problems.push(`${sourceOf(input, 'workers')}: "${config.workers}" is not a whole number of workers in 1–${MAX_WORKERS} or auto`);
  else if (workers > 1 && !config.redisUrl) {
    problems.push(
      `${sourceOf(input, 'workers')}: ${workers} workers need REDIS_URL (e.g. redis://127.0.0.1:6379). Each worker is a process with its own memory: ` +
        'without Redis a key revoked through one worker stays valid on the others for up to KEYGATE_CACHE_TTL_MS, rate limits and throttles ' +
        'count per worker (so N times the limit), and a private_key_jwt assertion could be replayed on another worker. Set REDIS_URL, or run one worker.',
    );
  }
  config.workers = workers ?? 1;
  if (problems.length > 0) throw new ConfigError(problems);
  config.publicUrl = (config.publicUrl ?? `http://${config.host}:${config.port}`).replace(/\/+$/, '');
  return config;
}

/**
 * Warnings for a delivery that would carry password-reset links (a credential for the account
 * until used or expired) in clear over a network: smtp:// with `requireTLS=false` (STARTTLS
 * is then skipped when the server does not offer it, or an attacker strips the offer) and an
 * http:// webhook, each to a host that is not loopback. They name the setting and the host,
 * never the URL, which may hold a password.
 *
 * @example
 * plaintextDeliveryWarnings(loadConfig({ env: { SMTP_URL: 'smtp://mail.example.com?requireTLS=false', SMTP_FROM: 'a@b.c' } }));
 * // ['SMTP_URL: smtp:// to mail.example.com with requireTLS=false: …']
 */
export function plaintextDeliveryWarnings(config: Pick<Config, 'smtpUrl' | 'webhookUrl'>): string[] {
  const warnings: string[] = [];
  if (config.smtpUrl) {
    const url = new URL(config.smtpUrl);
    if (url.protocol === 'smtp:' && url.searchParams.get('requireTLS') === 'false' && !isLoopback(url.hostname)) {
      warnings.push(
        `SMTP_URL: smtp:// to ${url.hostname} with requireTLS=false: STARTTLS is used only if the server offers it, so reset links and the SMTP password may cross the network in clear. Use smtps://, or drop requireTLS=false`,
      );
    }
  }
  if (config.webhookUrl) {
    const url = new URL(config.webhookUrl);
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
      warnings.push(`KEYGATE_WEBHOOK_URL: http:// to ${url.hostname}: reset links are posted in clear. Use https://`);
    }
  }
  return warnings;
}

/** Whether a URL's host name is this machine (where traffic never crosses a network). */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || hostname === '::1' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** The value Fastify's `trustProxy` option takes for the setting. */
export function trustProxyOption(value: string): boolean | number | string[] {
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Most workers `--workers` takes: far beyond any core count a Keygate host has, but not unbounded. */
const MAX_WORKERS = 256;

/** `auto` (one per core) or a whole number in 1–MAX_WORKERS; null otherwise. */
function parseWorkers(raw: string): number | null {
  if (raw === 'auto') return Math.min(availableParallelism(), MAX_WORKERS);
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(n) && n >= 1 && n <= MAX_WORKERS ? n : null;
}

/** How the user named a setting: its flag when given as one, else its env var. */
function sourceOf(input: { flags?: Partial<Record<keyof Config, string>> }, key: keyof Config): string {
  const setting = SETTINGS.find((s) => s.key === key)!;
  return input.flags?.[key] !== undefined ? setting.flag : setting.env;
}

function emptyToUndefined(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
