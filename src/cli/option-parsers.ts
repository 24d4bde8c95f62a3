import { readFileSync } from 'node:fs';
import { InvalidArgumentError, Option } from 'commander';
import type { GrantSpec, Jwks, Ratelimit, Refill, ScopeDefinition } from './api-types.js';
import { UsageError } from './cli-errors.js';
import { parseDuration, parseExpiry, parseInstant } from '../domain/durations.js';

/**
 * Commander argument parsers for the values the management commands take. Each throws
 * `InvalidArgumentError`, which commander reports as `option '--x <v>' argument 'y' is
 * invalid. <why>` and which ends in exit code 2.
 */

/**
 * Collects a repeatable option into a list.
 *
 * @example
 * new Option('--scope <scope>').argParser(collect).default([])
 */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A non-negative integer.
 *
 * @example
 * parseCount('10'); // 10
 */
export function parseCount(value: string): number {
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('Give a whole number, 0 or more.');
  }
  return Number(value);
}

/**
 * A duration in milliseconds (`1h`, `30s`, `500`).
 *
 * @example
 * parseDurationArg('1h'); // 3_600_000
 */
export function parseDurationArg(value: string): number {
  return wrap(() => parseDuration(value));
}

/**
 * A duration in whole seconds, for the settings the server keeps in seconds (token lifetimes,
 * key activation). A bare number other than 0 is refused: next to flags that take
 * milliseconds, "3600" cannot be read safely.
 *
 * @example
 * parseSecondsArg('1h'); // 3600
 * parseSecondsArg('0'); // 0
 */
export function parseSecondsArg(value: string): number {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed) && Number(trimmed) !== 0) {
    throw new InvalidArgumentError(`"${value}" needs a unit, e.g. ${trimmed}s, 15m, 1h or 30d.`);
  }
  const ms = wrap(() => parseDuration(trimmed));
  if (ms % 1000 !== 0) throw new InvalidArgumentError(`"${value}" is not a whole number of seconds.`);
  return ms / 1000;
}

/**
 * One `api=scope[,scope...]` entry of a client's allowance, merged into a map: the scopes the
 * client may get tokens with, per API identifier. Split at the first `=`.
 *
 * @example
 * collectAllowance('https://api.acme.com=read:orders,write:orders', {});
 * // { 'https://api.acme.com': ['read:orders', 'write:orders'] }
 */
export function collectAllowance(value: string, previous: Record<string, string[]> | undefined): Record<string, string[]> {
  const at = value.indexOf('=');
  const api = at === -1 ? '' : value.slice(0, at).trim();
  const scopes = at === -1 ? [] : value.slice(at + 1).split(',').map((s) => s.trim()).filter(Boolean);
  if (!api || scopes.length === 0) {
    throw new InvalidArgumentError('Write api=scope[,scope], e.g. https://api.example.com=read:orders,write:orders.');
  }
  const merged = { ...(previous ?? {}) };
  merged[api] = [...new Set([...(merged[api] ?? []), ...scopes])];
  return merged;
}

/**
 * A public JWK Set, given as JSON or as `@file` holding the JSON.
 *
 * @example
 * parseJwks('{"keys":[{"kty":"OKP","crv":"Ed25519","x":"..."}]}');
 * parseJwks('@client-jwks.json');
 */
export function parseJwks(value: string): Jwks {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = readFileSync(value.slice(1), 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`Cannot read ${value.slice(1)} (${err instanceof Error ? err.message : String(err)}).`);
    }
  }
  const parsed = parseJsonObject(text);
  const keys = parsed['keys'];
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === 'object' && k !== null && !Array.isArray(k))) {
    throw new InvalidArgumentError('Give a JWK Set: {"keys": [ {...public JWK...} ]}.');
  }
  return { keys: keys as Jwks['keys'] };
}

/**
 * An expiry as UTC ISO-8601: an ISO date or a duration from now (`30d`).
 *
 * @example
 * parseExpiryArg('12h'); // twelve hours from now, e.g. '2030-01-01T12:00:00.000Z'
 */
export function parseExpiryArg(value: string): string {
  return wrap(() => parseExpiry(value, { now: Date.now() }));
}

/**
 * A moment as UTC ISO-8601, from an ISO date or date-time (no durations: `--from 30d` could
 * mean either side of now).
 *
 * @example
 * parseInstantArg('2026-11-23T13:00:00Z'); // '2026-11-23T13:00:00.000Z'
 */
export function parseInstantArg(value: string): string {
  return wrap(() => parseInstant(value));
}

/**
 * A JSON object, for `--meta`.
 *
 * @example
 * parseJsonObject('{"plan":"pro"}'); // { plan: 'pro' }
 */
export function parseJsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new InvalidArgumentError(`Not valid JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('Give a JSON object, e.g. \'{"plan":"pro"}\'.');
  }
  return parsed as Record<string, unknown>;
}

/**
 * One `name:limit:duration` rate limit, collected into a list. The name may itself contain
 * colons: the last two fields are the limit and the window.
 *
 * @example
 * collectRatelimit('requests:100:1m', []); // [{ name: 'requests', limit: 100, duration: 60_000 }]
 */
export function collectRatelimit(value: string, previous: Ratelimit[] | undefined): Ratelimit[] {
  const parts = value.split(':');
  if (parts.length < 3) throw new InvalidArgumentError('Write name:limit:window, e.g. requests:100:1m.');
  const window = parts.pop()!;
  const limit = parts.pop()!;
  const name = parts.join(':');
  if (!name) throw new InvalidArgumentError('The rate limit needs a name, e.g. requests:100:1m.');
  if (!/^[1-9]\d*$/.test(limit)) throw new InvalidArgumentError(`The limit "${limit}" must be a whole number above 0.`);
  const duration = wrap(() => parseDuration(window));
  if (duration < 1) throw new InvalidArgumentError('The window must be at least 1 ms.');
  return [...(previous ?? []), { name, limit: Number(limit), duration }];
}

/**
 * A credit refill, `amount/daily` or `amount/monthly`.
 *
 * @example
 * parseRefill('1000/monthly'); // { amount: 1000, interval: 'monthly' }
 */
export function parseRefill(value: string): Refill {
  const match = /^([1-9]\d*)\/(daily|monthly)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError('Write amount/daily or amount/monthly, e.g. 1000/monthly.');
  return { amount: Number(match[1]), interval: match[2] as Refill['interval'] };
}

/**
 * One consumer grant, `api=<identifier>,scopes=<scope> <scope>[,maxKeys=<n>|none][,ratelimit=<name:limit:window>]…
 * [,credits=<n>[,refill=<amount/interval>]][,expires=<when>|never]`, collected into a list.
 * `ratelimit` may be repeated; the other fields are given at most once. A field left out is
 * not sent (on update: the grant keeps its value).
 *
 * @example
 * collectGrant('api=https://api.acme.com,scopes=read:users write:users,maxKeys=5,ratelimit=requests:100:1m', []);
 * // [{ api: 'https://api.acme.com', scopes: ['read:users', 'write:users'], maxKeys: 5, ratelimits: [{ name: 'requests', limit: 100, duration: 60_000 }] }]
 */
export function collectGrant(value: string, previous: GrantSpec[] | undefined): GrantSpec[] {
  const usage = 'Write api=<identifier>,scopes=<scope> <scope>[,maxKeys=<n>|none][,ratelimit=<name:limit:window>][,credits=<n>][,refill=<n/monthly>][,expires=<when>|never].';
  const fields = new Map<string, string>();
  let ratelimits: Ratelimit[] | undefined;
  for (const part of value.split(',')) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    const field = part.slice(at + 1).trim();
    if (at < 1 || !['api', 'scopes', 'maxKeys', 'ratelimit', 'credits', 'refill', 'expires'].includes(name)) throw new InvalidArgumentError(`"${part}" is not a grant field. ${usage}`);
    if (name === 'ratelimit') {
      ratelimits = collectRatelimit(field, ratelimits);
      continue;
    }
    if (fields.has(name)) throw new InvalidArgumentError(`${name}= is given twice. ${usage}`);
    fields.set(name, field);
  }
  const api = fields.get('api');
  const scopes = fields.get('scopes');
  if (!api || scopes === undefined) throw new InvalidArgumentError(`Both api= and scopes= are needed. ${usage}`);
  if ((previous ?? []).some((g) => g.api === api)) throw new InvalidArgumentError(`API "${api}" is granted twice.`);
  const maxKeys = fields.get('maxKeys');
  const credits = fields.get('credits');
  const refill = fields.get('refill');
  const expires = fields.get('expires');
  if (refill !== undefined && credits === undefined) throw new InvalidArgumentError('refill= needs credits=<n>, the credits the grant starts with.');
  const grant: GrantSpec = {
    api,
    scopes: scopes.split(/\s+/).filter(Boolean),
    ...(maxKeys !== undefined ? { maxKeys: maxKeys === 'none' ? null : parseCount(maxKeys) } : {}),
    ...(ratelimits !== undefined ? { ratelimits } : {}),
    ...(credits !== undefined ? { credits: { remaining: parseCount(credits), ...(refill !== undefined ? { refill: parseRefill(refill) } : {}) } } : {}),
    ...(expires !== undefined ? { expiresAt: expires === 'never' ? null : parseExpiryArg(expires) } : {}),
  };
  return [...(previous ?? []), grant];
}

/**
 * One external JWT issuer of an API, `issuer=<iss>,jwks=<url>[,audience=<aud>]`, collected into a list.
 *
 * @example
 * collectExternalIssuer('issuer=https://login.example.com/,jwks=https://login.example.com/keys', []);
 * // [{ issuer: 'https://login.example.com/', jwksUri: 'https://login.example.com/keys' }]
 */
export function collectExternalIssuer(
  value: string,
  previous: { issuer: string; jwksUri: string; audience?: string }[] | undefined,
): { issuer: string; jwksUri: string; audience?: string }[] {
  const fields = new Map<string, string>();
  for (const part of value.split(',')) {
    const at = part.indexOf('=');
    const name = part.slice(0, at).trim();
    if (at < 1 || !['issuer', 'jwks', 'audience'].includes(name) || fields.has(name)) {
      throw new InvalidArgumentError('Write issuer=<iss>,jwks=<url>[,audience=<aud>].');
    }
    fields.set(name, part.slice(at + 1).trim());
  }
  const issuer = fields.get('issuer');
  const jwksUri = fields.get('jwks');
  if (!issuer || !jwksUri) throw new InvalidArgumentError('Both issuer= and jwks= are needed, e.g. issuer=https://login.example.com/,jwks=https://login.example.com/keys.');
  const audience = fields.get('audience');
  return [...(previous ?? []), { issuer, jwksUri, ...(audience ? { audience } : {}) }];
}

/**
 * One `name=description` scope of an API's catalog, collected into a list; the description
 * may be left out.
 *
 * @example
 * collectScopeDefinition('read:users=Read users', []); // [{ name: 'read:users', description: 'Read users' }]
 */
export function collectScopeDefinition(value: string, previous: ScopeDefinition[] | undefined): ScopeDefinition[] {
  const at = value.indexOf('=');
  const name = (at === -1 ? value : value.slice(0, at)).trim();
  const description = at === -1 ? '' : value.slice(at + 1).trim();
  if (!name) throw new InvalidArgumentError('Write name or name=description, e.g. "read:users=Read users".');
  if ((previous ?? []).some((s) => s.name === name)) throw new InvalidArgumentError(`Scope "${name}" is given twice.`);
  return [...(previous ?? []), { name, description }];
}

/**
 * One `scope=implied[,implied...]` implication, merged into a map.
 *
 * @example
 * collectImplication('write:users=read:users', {}); // { 'write:users': ['read:users'] }
 */
export function collectImplication(value: string, previous: Record<string, string[]> | undefined): Record<string, string[]> {
  const at = value.indexOf('=');
  const scope = at === -1 ? '' : value.slice(0, at).trim();
  const implied = at === -1 ? [] : value.slice(at + 1).split(',').map((s) => s.trim()).filter(Boolean);
  if (!scope || implied.length === 0) throw new InvalidArgumentError('Write scope=implied[,implied], e.g. write:users=read:users.');
  const merged = { ...(previous ?? {}) };
  merged[scope] = [...new Set([...(merged[scope] ?? []), ...implied])];
  return merged;
}

/**
 * `--tenant <slug>`, which may also come from KEYGATE_TENANT.
 *
 * @example
 * command.addOption(tenantOption())
 */
export function tenantOption(description = 'tenant slug (required)'): Option {
  return new Option('--tenant <slug>', description).env('KEYGATE_TENANT');
}

/**
 * Returns a required flag's value or stops with a usage error that names the flag and its
 * env var. Commander's own mandatory options cannot mention the env var, hence this.
 *
 * @example
 * const slug = required(flags.tenant, { flag: '--tenant <slug>', env: 'KEYGATE_TENANT' });
 */
export function required<T>(value: T | undefined, spec: { flag: string; env?: string }): T {
  const missing = value === undefined || (typeof value === 'string' && value.trim() === '') || (Array.isArray(value) && value.length === 0);
  if (missing) throw new UsageError(`missing required option ${spec.flag}${spec.env ? ` (or set ${spec.env})` : ''}`);
  return value;
}

function wrap<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? `${err.message}.` : String(err));
  }
}
