/**
 * Setup shared by the token benchmarks (token endpoint, introspection, revocation propagation):
 * one tenant, one API and one client-credentials client, created through Keygate's management
 * API exactly as an operator would, and the HTTP helpers to ask for a token. Nothing here is
 * timed.
 */
import autocannon from 'autocannon';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { NoiseMeter, selfCpuSeconds } from '../lib/common.js';
import type { RoundRun } from '../lib/rounds.js';

export const TOKENS_TENANT = 'bench';
export const TOKENS_API = 'https://api.bench';
export const TOKENS_SCOPE = 'read:users';

/** What bench/servers/keygate-tokens-server.ts prints when it listens. */
export interface KeygateTokensServerInfo {
  url: string;
  rootKey: string;
}

export interface TokensSetup {
  url: string;
  rootKey: string;
  issuer: string;
  api: string;
  clientId: string;
  clientSecret: string;
}

/** One management call with the root key; a non-2xx answer is an error (setup must not half-work). */
export async function management<T>(url: string, rootKey: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${rootKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (response.status < 200 || response.status > 299) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text === '' ? null : JSON.parse(text)) as T;
}

/** Tenant (EdDSA, the default), API with one scope, and a client_secret_basic client-credentials client. */
export async function setupTokensTenant(server: KeygateTokensServerInfo): Promise<TokensSetup> {
  const { url, rootKey } = server;
  const tenant = await management<{ issuer: string }>(url, rootKey, 'POST', '/v1/tenants', { slug: TOKENS_TENANT, name: 'Bench' });
  await management(url, rootKey, 'POST', `/v1/tenants/${TOKENS_TENANT}/apis`, {
    identifier: TOKENS_API,
    name: 'Bench',
    scopes: [{ name: TOKENS_SCOPE, description: 'Read users' }],
  });
  const client = await management<{ clientId: string; clientSecret: string }>(url, rootKey, 'POST', `/v1/tenants/${TOKENS_TENANT}/clients`, {
    name: 'bench client',
    grantTypes: ['client_credentials'],
    scopes: { [TOKENS_API]: [TOKENS_SCOPE] },
  });
  return { url, rootKey, issuer: tenant.issuer, api: TOKENS_API, clientId: client.clientId, clientSecret: client.clientSecret };
}

/** RFC 6749 §2.3.1: id and secret form-urlencoded, then Basic. */
export function basicAuth(clientId: string, clientSecret: string): string {
  const enc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

/** The client-credentials form both token endpoints get, byte for byte. */
export function tokenForm(resource: string): string {
  return new URLSearchParams({ grant_type: 'client_credentials', resource, scope: TOKENS_SCOPE }).toString();
}

export async function requestToken(tokenEndpoint: string, authorization: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/**
 * Checks, with jose and the issuer's published JWKS, that an access token is a JWT signed by the
 * issuer for the audience, with the scope asked for: both sides of a comparison must do the same job.
 */
export async function assertJwtAccessToken(token: unknown, options: { jwksUrl: string; issuer: string; audience: string; alg: string }): Promise<{ header: Record<string, unknown>; payload: JWTPayload }> {
  if (typeof token !== 'string') throw new Error(`no access_token string in the answer (${typeof token})`);
  const response = await fetch(options.jwksUrl, { signal: AbortSignal.timeout(10_000) });
  if (response.status !== 200) throw new Error(`JWKS ${options.jwksUrl}: HTTP ${response.status}`);
  const jwks = createLocalJWKSet((await response.json()) as Parameters<typeof createLocalJWKSet>[0]);
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: options.issuer, audience: options.audience, algorithms: [options.alg], typ: 'at+jwt' });
  const scope = typeof payload['scope'] === 'string' ? payload['scope'].split(' ') : [];
  if (!scope.includes(TOKENS_SCOPE)) throw new Error(`the token's scope is "${String(payload['scope'])}", not ${TOKENS_SCOPE}`);
  if (typeof payload.exp !== 'number' || typeof payload.jti !== 'string') throw new Error('the token has no exp or jti');
  return { header: protectedHeader as Record<string, unknown>, payload };
}

/** One server under load: where to send what, and how to read its CPU time. */
export interface LoadTarget {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  server: { cpuSeconds(): number | null };
}

/** One timed autocannon run: the shape every HTTP benchmark reports. */
export type LoadRun = RoundRun;

/**
 * POSTs `target.body` for `seconds` with autocannon (keep-alive, no pipelining), as
 * bench/verify-http.ts does; any error, timeout or non-2xx answer fails the benchmark.
 */
export async function loadRun(target: LoadTarget, options: { connections: number; seconds: number }): Promise<LoadRun> {
  const cpuBefore = target.server.cpuSeconds();
  const selfBefore = process.cpuUsage();
  const meter = new NoiseMeter([selfCpuSeconds, () => target.server.cpuSeconds()]);
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    headers: target.headers,
    body: target.body,
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    timeout: 10,
  });
  const cpuAfter = target.server.cpuSeconds();
  const self = process.cpuUsage(selfBefore);
  const others = meter.othersCores();
  const bad = result.errors + result.timeouts + result.non2xx;
  if (bad > 0) throw new Error(`${target.name}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  const total = result.requests.total ?? 0;
  const serverSeconds = cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total,
    serverCpu: serverSeconds === null ? null : serverSeconds / result.duration,
    cpuPerRequestUs: serverSeconds === null || total === 0 ? null : (serverSeconds / total) * 1e6,
    loadCpu: (self.user + self.system) / 1e6 / result.duration,
    others,
  };
}

export const fmtPct = (cores: number | null): string => (cores === null ? '?' : `${Math.round(cores * 100)}%`);
