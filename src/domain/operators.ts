import { MANAGEMENT_SCOPES, rootKeyOverreach, type RootKeyReach } from './management.js';
import { expandScopes } from './scopes.js';

/**
 * An operator: a person who runs Keygate and signs in to the console. Stored as a user of the
 * system tenant (`_system`) plus its management scopes and tenant limit, so an operator holds
 * exactly what a root key can hold and is bound by the same overreach rule (`rootKeyOverreach`).
 * Its id is the id of that user (`usr_…`). Times are ms.
 */
export interface Operator {
  id: string;
  /** Lower-cased; unique among operators. */
  email: string;
  name: string | null;
  /** Management scopes as granted (implications not expanded; `operatorReach` expands them). */
  scopes: string[];
  /** The one tenant the operator may act on, or null for all tenants. */
  tenant: string | null;
  createdAt: number;
  /** When the operator was disabled (no sign-in, sessions ended); null while enabled. */
  disabledAt: number | null;
}

/** Console sessions: the idle and absolute lifetimes, in ms. */
export interface ConsoleSessionLifetimes {
  idleMs: number;
  absoluteMs: number;
}

/**
 * Idle deadlines are written at most this often: a session used every second must not write the
 * store every second, so a session may end up to this much before its idle lifetime is over.
 */
export const SESSION_SLIDE_MS = 60_000;

/**
 * What the operator may reach, as a root key's reach: its scopes with the management catalog's
 * implications (`root_keys:write` gives `root_keys:read`), and its tenant limit.
 *
 * @example
 * operatorReach({ scopes: ['keys:write'], tenant: 'acme' } as Operator); // { scopes: Set {'keys:write', 'keys:read'}, tenant: 'acme' }
 */
export function operatorReach(operator: Pick<Operator, 'scopes' | 'tenant'>): RootKeyReach {
  return { scopes: expandScopes(operator.scopes, MANAGEMENT_SCOPES), tenant: operator.tenant };
}

/**
 * The session's new idle deadline when it is used at `now`, or null when the stored one is
 * recent enough to keep (within `SESSION_SLIDE_MS`). Never past the absolute deadline.
 *
 * @example
 * slidIdleDeadline({ createdAt: 0, expiresAt: 1_800_000 }, 120_000, { idleMs: 1_800_000, absoluteMs: 28_800_000 }); // 1_920_000
 */
export function slidIdleDeadline(session: { createdAt: number; expiresAt: number }, now: number, lifetimes: ConsoleSessionLifetimes): number | null {
  const next = Math.min(now + lifetimes.idleMs, session.createdAt + lifetimes.absoluteMs);
  return next - session.expiresAt >= SESSION_SLIDE_MS ? next : null;
}

/** Who changes an operator account: a root key's reach, or an operator's (`operatorId` set) signed in to the console. */
export type OperatorsCaller = RootKeyReach & { operatorId?: string };

/**
 * Why `caller` may not change `target`'s account (`update`, `disable`, `password`, `delete`), or
 * null when it may. A root key acts on every operator it could have created. An operator acts
 * only on operators of strictly less reach: a peer of equal reach could otherwise reset the
 * peer's password, sign in as them and be audited under their name. Their own account they may
 * rename, narrow and give a new password, but not disable or delete (no lock-out by a slip).
 *
 * @example
 * operatorChangeRefusal({ scopes: new Set(['keys:read']), tenant: null, operatorId: 'usr_a' }, peerWithKeysRead, 'password'); // 'an operator may change only operators with less reach than their own'
 */
export function operatorChangeRefusal(caller: OperatorsCaller, target: Operator, action: 'update' | 'disable' | 'password' | 'delete'): string | null {
  if (caller.operatorId === undefined) return null;
  if (target.id === caller.operatorId) return action === 'disable' || action === 'delete' ? 'an operator may not disable or delete their own account' : null;
  const equal = rootKeyOverreach(operatorReach(target), { scopes: [...caller.scopes], tenant: caller.tenant }) === null;
  return equal ? 'an operator may change only operators with less reach than their own; ask a root key or an operator with more scopes' : null;
}
