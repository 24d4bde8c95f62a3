import { KeygateError } from '../../domain/errors.js';
import { compileTrustProxy, type TrustProxy, type TrustProxySetting } from '../../domain/client-address.js';
import type { DenialReason } from './outcome.js';

/** Options of `createKeygateVerifier` and of every framework's `keygateAuth`. */
export interface KeygateVerifierOptions {
  /** The tenant's issuer, `{PUBLIC_URL}/t/{tenant}` (GET /v1/tenants/{slug} returns it). */
  issuer: string;
  /** The API identifier tokens must be issued for (`aud`). */
  audience: string;
  /**
   * A root key holding `keys:verify`. Needed for API keys and HS256 tokens (Keygate verifies
   * them) and to follow the revocation feed; without one only Keygate-signed JWTs are accepted
   * and their revocations are not honoured.
   */
  rootKey?: string;
  /** Where Keygate's API is; default: the issuer without its trailing `/t/{tenant}`. */
  keygateUrl?: string;
  /**
   * Whose `X-Forwarded-For` to believe for the caller's address, which Keygate checks against an
   * API key's IP allowlist. Default `false`: the socket peer is the caller. `true` (every hop), a
   * hop count (the proxies in front of your app), or proxy addresses/CIDRs (an array or a
   * comma-separated string; `loopback`, `linklocal`, `uniquelocal`): Express's `trust proxy` rules.
   */
  trustProxy?: TrustProxySetting;
  /** How long an API key's (or HS256 token's) answer from Keygate is reused; 0 turns this off. Default 5000. */
  apiKeyCacheMs?: number;
  /** How often the revocation feed is polled. Default 1000. */
  revocationPollMs?: number;
  /** Least time between two JWKS fetches caused by unknown kids. Default 10000. */
  jwksRefetchCooldownMs?: number;
  /** Seconds of clock skew allowed on `exp` and `nbf`. Default 0. */
  clockToleranceSec?: number;
  /** Time limit of each call to Keygate. Default 5000. */
  requestTimeoutMs?: number;
  /** The fetch to reach Keygate with (for proxies, tracing or tests). Default: global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Milliseconds since the epoch. Default: `Date.now`. */
  clock?: () => number;
  /** Receives the exact reason of every denial, for logs; the caller only sees the generic answer. */
  onDenied?: (reason: DenialReason) => void;
  /** Receives configuration and connectivity warnings. Default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
}

export interface ResolvedOptions {
  issuer: string;
  tenant: string;
  audience: string;
  rootKey: string | null;
  keygateUrl: string;
  trustProxy: TrustProxy;
  apiKeyCacheMs: number;
  revocationPollMs: number;
  jwksRefetchCooldownMs: number;
  clockToleranceSec: number;
  requestTimeoutMs: number;
  fetch: typeof globalThis.fetch;
  clock: () => number;
  onDenied: ((reason: DenialReason) => void) | null;
  onWarning: (message: string) => void;
}

const ISSUER_PATH = /^(.*)\/t\/([a-z0-9][a-z0-9-]{0,62})$/;

const KNOWN_OPTIONS = new Set([
  'issuer',
  'audience',
  'rootKey',
  'keygateUrl',
  'trustProxy',
  'apiKeyCacheMs',
  'revocationPollMs',
  'jwksRefetchCooldownMs',
  'clockToleranceSec',
  'requestTimeoutMs',
  'fetch',
  'clock',
  'onDenied',
  'onWarning',
]);

/**
 * Validates the options once, at creation: a wrong option is a bug in the caller's code, so it
 * throws a TypeError then, rather than turning into 401s later. Messages never echo the root key.
 *
 * @example
 * resolveOptions({ issuer: 'https://keygate.example.com/t/acme', audience: 'https://api.acme.com' })
 * // { tenant: 'acme', keygateUrl: 'https://keygate.example.com', apiKeyCacheMs: 5000, … }
 */
export function resolveOptions(options: KeygateVerifierOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('keygate: options must be an object');
  for (const name of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(name)) throw new TypeError(`keygate: unknown option "${name}" (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  const issuer = httpUrl('issuer', options.issuer);
  const match = ISSUER_PATH.exec(issuer);
  if (match === null) throw new TypeError(`keygate: issuer must be a tenant issuer "{PUBLIC_URL}/t/{tenant}", got "${issuer}"`);
  if (typeof options.audience !== 'string' || options.audience.length === 0) {
    throw new TypeError('keygate: audience must be the API identifier, a non-empty string');
  }
  if (options.rootKey !== undefined && (typeof options.rootKey !== 'string' || options.rootKey.trim().length === 0)) {
    throw new TypeError('keygate: rootKey must be a non-empty string when given');
  }
  return {
    issuer,
    tenant: match[2]!,
    audience: options.audience,
    rootKey: options.rootKey ?? null,
    keygateUrl: options.keygateUrl === undefined ? match[1]! : httpUrl('keygateUrl', options.keygateUrl),
    trustProxy: trustProxy(options.trustProxy),
    apiKeyCacheMs: integer('apiKeyCacheMs', options.apiKeyCacheMs, 5000, 0),
    revocationPollMs: integer('revocationPollMs', options.revocationPollMs, 1000, 1),
    jwksRefetchCooldownMs: integer('jwksRefetchCooldownMs', options.jwksRefetchCooldownMs, 10_000, 0),
    clockToleranceSec: integer('clockToleranceSec', options.clockToleranceSec, 0, 0),
    requestTimeoutMs: integer('requestTimeoutMs', options.requestTimeoutMs, 5000, 1),
    fetch: fn('fetch', options.fetch) ?? ((input, init) => globalThis.fetch(input, init)),
    clock: fn('clock', options.clock) ?? Date.now,
    onDenied: fn('onDenied', options.onDenied) ?? null,
    onWarning: fn('onWarning', options.onWarning) ?? ((message) => process.emitWarning(message, { code: 'KEYGATE_MIDDLEWARE' })),
  };
}

/** An http(s) URL without query, fragment or trailing slash. */
function httpUrl(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`keygate: ${name} must be a URL string`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`keygate: ${name} is not a URL: "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`keygate: ${name} must be an http(s) URL`);
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new TypeError(`keygate: ${name} must not have a query, fragment or credentials`);
  }
  return value.replace(/\/+$/, '');
}

function trustProxy(value: unknown): TrustProxy {
  if (value === undefined) return compileTrustProxy(false);
  if (typeof value === 'number') return compileTrustProxy(integer('trustProxy', value, 0, 0));
  const list = typeof value === 'string' || (Array.isArray(value) && value.every((entry) => typeof entry === 'string'));
  if (typeof value !== 'boolean' && !list) {
    throw new TypeError('keygate: trustProxy must be a boolean, a hop count, or proxy addresses/CIDRs (an array or a comma-separated string)');
  }
  try {
    return compileTrustProxy(value as TrustProxySetting);
  } catch (error) {
    if (error instanceof KeygateError) throw new TypeError(`keygate: trustProxy: ${error.message}`);
    throw error;
  }
}

function integer(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`keygate: ${name} must be an integer ≥ ${min}, got ${String(value)}`);
  }
  return value;
}

function fn<T>(name: string, value: T | undefined): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw new TypeError(`keygate: ${name} must be a function`);
  return value;
}
