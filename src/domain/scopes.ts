import { KeygateError } from './errors.js';

/**
 * Scopes are RFC 6749 §3.3 scope-tokens (`1*( %x21 / %x23-5B / %x5D-7E )`), by convention
 * `action:resource` (`read:users`). The structured form `{ users: { actions: ['read'] } }`
 * is the same set written another way.
 */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

export interface ScopeDefinition {
  name: string;
  description: string;
  implies?: string[];
}

export type StructuredScopes = Record<string, { actions: string[] }>;

export type ScopeMatch = 'all' | 'any';

export function isScopeToken(value: string): boolean {
  return SCOPE_TOKEN.test(value);
}

/** Throws INVALID_SCOPE for the first name that is not a scope token. */
export function assertScopeTokens(names: readonly string[]): void {
  for (const name of names) {
    if (!isScopeToken(name)) throw new KeygateError('INVALID_SCOPE', `"${name}" is not a valid scope token`);
  }
}

/**
 * Validates a catalog: every name a scope token, no duplicates, every implication a catalog scope.
 */
export function validateCatalog(catalog: readonly ScopeDefinition[]): void {
  const names = new Set<string>();
  for (const scope of catalog) {
    assertScopeTokens([scope.name]);
    if (names.has(scope.name)) throw new KeygateError('INVALID_SCOPE', `scope "${scope.name}" is listed twice`);
    names.add(scope.name);
  }
  for (const scope of catalog) {
    for (const implied of scope.implies ?? []) {
      if (!names.has(implied)) {
        throw new KeygateError('UNKNOWN_SCOPE', `"${scope.name}" implies "${implied}", which is not in the catalog`);
      }
    }
  }
}

/** Throws UNKNOWN_SCOPE for the first name not in the catalog. */
export function assertInCatalog(names: readonly string[], catalog: readonly ScopeDefinition[]): void {
  assertScopeTokens(names);
  const known = new Set(catalog.map((s) => s.name));
  for (const name of names) {
    if (!known.has(name)) throw new KeygateError('UNKNOWN_SCOPE', `"${name}" is not in the API's scope catalog`);
  }
}

/**
 * The granted scopes plus everything they imply, transitively (`repo` ⇒ `public_repo`).
 *
 * @example
 * expandScopes(['repo'], [{ name: 'repo', description: '', implies: ['public_repo'] }, ...])
 * // Set { 'repo', 'public_repo' }
 */
export function expandScopes(granted: readonly string[], catalog: readonly ScopeDefinition[]): Set<string> {
  const implications = new Map(catalog.map((s) => [s.name, s.implies ?? []]));
  const result = new Set<string>();
  const pending = [...granted];
  while (pending.length > 0) {
    const scope = pending.pop()!;
    if (result.has(scope)) continue;
    result.add(scope);
    for (const implied of implications.get(scope) ?? []) pending.push(implied);
  }
  return result;
}

/** Whether `held` satisfies `required` under `match`; an empty requirement is always met. */
export function satisfies(held: ReadonlySet<string>, required: readonly string[], match: ScopeMatch): boolean {
  if (required.length === 0) return true;
  // Plain loops: this runs on every verify.
  if (match === 'any') {
    for (let i = 0; i < required.length; i++) if (held.has(required[i]!)) return true;
    return false;
  }
  for (let i = 0; i < required.length; i++) if (!held.has(required[i]!)) return false;
  return true;
}

/**
 * Whether `held` satisfies an OpenAPI-style requirement: every scope of at least one alternative
 * (alternatives are ORs, the scopes inside one are ANDs). `[[]]` is met by any holder; `[]`
 * by none, so a requirement that lost its alternatives never opens.
 *
 * @example
 * satisfiesAnyOf(new Set(['read:users']), [['admin'], ['read:users']]) // true
 */
export function satisfiesAnyOf(held: ReadonlySet<string>, anyOf: readonly (readonly string[])[]): boolean {
  for (let i = 0; i < anyOf.length; i++) if (satisfies(held, anyOf[i]!, 'all')) return true;
  return false;
}

/**
 * `['read:users', 'create:users']` → `{ users: { actions: ['read', 'create'] } }`.
 * A scope without a colon (`repo`) is kept under the `""` resource, and `fromStructured`
 * turns it back into the bare name, so the conversion is lossless both ways.
 */
export function toStructured(scopes: readonly string[]): StructuredScopes {
  const out: StructuredScopes = {};
  for (const scope of scopes) {
    const colon = scope.indexOf(':');
    const [action, resource] = colon < 0 ? [scope, ''] : [scope.slice(0, colon), scope.slice(colon + 1)];
    (out[resource] ??= { actions: [] }).actions.push(action);
  }
  return out;
}

/** The inverse of `toStructured`. */
export function fromStructured(structured: StructuredScopes): string[] {
  const out: string[] = [];
  for (const [resource, { actions }] of Object.entries(structured)) {
    for (const action of actions) out.push(resource === '' ? action : `${action}:${resource}`);
  }
  return out;
}

/** Whether every scope of `child` is in `parent` (after the parent's implications). */
export function isSubset(child: readonly string[], parent: ReadonlySet<string>): string | null {
  for (const scope of child) if (!parent.has(scope)) return scope;
  return null;
}
