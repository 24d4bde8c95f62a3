import { randomBytes } from 'node:crypto';
import type { PasswordHasher } from '../crypto/passwords.js';
import { hashSecret, newId } from '../crypto/secrets.js';
import { KeygateError, isKeygateError } from '../domain/errors.js';
import { rootKeyOverreach, type RootKeyReach } from '../domain/management.js';
import { operatorChangeRefusal, slidIdleDeadline, type ConsoleSessionLifetimes, type Operator, type OperatorsCaller } from '../domain/operators.js';
import { EMAIL_PATTERN, normaliseEmail, passwordProblem } from '../domain/people.js';
import { assertInCatalog } from '../domain/scopes.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import type { RootKeysService } from './root-keys-service.js';
import type { TenantsService } from './tenants-service.js';
import type { UsersService } from './users-service.js';

/** Console session values are 256 random bits; anything much longer is not one of ours. */
const MAX_SESSION_VALUE_LENGTH = 128;
const LIST_BATCH = 100;

export type OperatorSignIn = { operator: Operator } | { error: 'invalid' } | { error: 'throttled'; retryAfter: number };

/**
 * Operators: people who run Keygate and sign in to the console (docs/security.md). Each is a user
 * of the system tenant with management scopes and a tenant limit, as a root key has; managing
 * them follows the root keys' rule (`rootKeyOverreach`): a caller creates, sees and acts on only
 * operators it could have created, and any other is OPERATOR_NOT_FOUND. Passwords are the
 * people's (scrypt, throttled sign-in); console sessions are rows of the people's sessions with
 * an idle deadline that slides on use and an absolute one from their creation.
 */
export class OperatorsService {
  constructor(
    private readonly ctx: ServiceContextWith<'operators' | 'people'>,
    private readonly deps: { rootKeys: RootKeysService; tenants: TenantsService; users: UsersService; passwords: PasswordHasher },
    private readonly lifetimes: ConsoleSessionLifetimes,
  ) {}

  /**
   * An operator `caller` could hold itself: scopes among the caller's, tenant limit the caller's
   * or narrower. Without `tenant`, a limited caller's operator is limited to the caller's tenant.
   * Without `password`, a strong one is generated and returned, once.
   */
  async create(
    actor: Actor,
    caller: RootKeyReach,
    input: { email: string; name?: string | null; password?: string; scopes: string[]; tenant?: string | null },
  ): Promise<{ operator: Operator; password?: string }> {
    const { tenant: system, api } = await this.deps.rootKeys.ensureSystem();
    const email = normaliseEmail(input.email);
    if (!EMAIL_PATTERN.test(email)) throw new KeygateError('INVALID_REQUEST', 'email must look like name@example.com');
    const shape = await this.checkedShape(caller, { scopes: input.scopes, tenant: input.tenant === undefined ? caller.tenant : input.tenant }, api.scopes);
    const generated = input.password === undefined ? generatePassword() : null;
    const password = generated ?? input.password!;
    const weak = passwordProblem(password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const now = this.ctx.clock();
    const operator: Operator = { id: newId('user', now), email, name: input.name ?? null, scopes: shape.scopes, tenant: shape.tenant, createdAt: now, disabledAt: null };
    const event = this.ctx.audit.event(system.id, actor, 'operator.create', operator.id, { scopes: operator.scopes, tenant: operator.tenant });
    try {
      await this.ctx.store.operators.create(system.id, operator, await this.deps.passwords.hash(password), event);
    } catch (err) {
      if (isKeygateError(err) && err.code === 'USER_EXISTS') throw new KeygateError('OPERATOR_EXISTS', `an operator with email "${email}" exists`);
      throw err;
    }
    return generated === null ? { operator } : { operator, password: generated };
  }

  /** The operators `caller` could have created, oldest first; stronger ones are not listed. */
  async list(caller: RootKeyReach, page: PageRequest): Promise<Page<Operator>> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    const filter = caller.tenant === null ? {} : { tenant: caller.tenant };
    const items: Operator[] = [];
    let after = page.after;
    // Operators the caller may not see are skipped, so a page is filled from as many store pages as it takes.
    for (;;) {
      const batch = await this.ctx.store.operators.list(system.id, filter, { after, limit: Math.max(page.limit, LIST_BATCH) });
      for (const operator of batch.items) {
        if (rootKeyOverreach(caller, operator) !== null) continue;
        if (items.length === page.limit) return { items, next: items[items.length - 1]!.id };
        items.push(operator);
      }
      if (batch.next === null) return { items, next: null };
      after = batch.next;
    }
  }

  /** The operator, or OPERATOR_NOT_FOUND when there is none or `caller` could not have created it. */
  async get(caller: RootKeyReach, id: string): Promise<Operator> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    const operator = await this.ctx.store.operators.find(system.id, id);
    if (operator === null || rootKeyOverreach(caller, operator) !== null) throw new KeygateError('OPERATOR_NOT_FOUND', `no operator "${id}"`);
    return operator;
  }

  /**
   * Changes name, scopes, tenant limit or the disabled mark. The operator as it is and as it
   * would be must both be within the caller's reach. Disabling ends every session at once.
   */
  async update(
    actor: Actor,
    caller: OperatorsCaller,
    id: string,
    changes: { name?: string | null; disabled?: boolean; scopes?: string[]; tenant?: string | null },
  ): Promise<Operator> {
    const { tenant: system, api } = await this.deps.rootKeys.ensureSystem();
    const operator = await this.changeable(caller, id, changes.disabled === true ? 'disable' : 'update');
    const reshaped = changes.scopes !== undefined || changes.tenant !== undefined;
    const shape = reshaped
      ? await this.checkedShape(caller, { scopes: changes.scopes ?? operator.scopes, tenant: changes.tenant === undefined ? operator.tenant : changes.tenant }, api.scopes)
      : operator;
    const now = this.ctx.clock();
    const disabling = changes.disabled === true && operator.disabledAt === null;
    const disabledAt = changes.disabled === undefined ? operator.disabledAt : changes.disabled ? (operator.disabledAt ?? now) : null;
    const updated: Operator = { ...operator, name: changes.name === undefined ? operator.name : changes.name, scopes: shape.scopes, tenant: shape.tenant, disabledAt };
    const fields = [
      ...(changes.name !== undefined ? (['name'] as const) : []),
      ...(changes.scopes !== undefined ? (['scopes'] as const) : []),
      ...(changes.tenant !== undefined ? (['tenant'] as const) : []),
      ...(changes.disabled !== undefined ? (['disabledAt'] as const) : []),
    ];
    const data = { fields: Object.keys(changes), ...(reshaped ? { scopes: updated.scopes, tenant: updated.tenant } : {}) };
    const event = this.ctx.audit.event(system.id, actor, disabling ? 'operator.disable' : 'operator.update', id, data);
    if (!(await this.ctx.store.operators.update(system.id, updated, { fields, endSessions: disabling, at: now }, event))) {
      throw new KeygateError('OPERATOR_NOT_FOUND', `no operator "${id}"`);
    }
    // What the row holds now: a concurrent change of another field shows, and is not undone.
    return this.get(caller, id);
  }

  /** Sets a new password (generated and returned once when none is given) and ends every session of the operator. */
  async resetPassword(actor: Actor, caller: OperatorsCaller, id: string, input: { password?: string } = {}): Promise<{ password?: string }> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    await this.changeable(caller, id, 'password');
    const generated = input.password === undefined ? generatePassword() : null;
    const password = generated ?? input.password!;
    const weak = passwordProblem(password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const hash = await this.deps.passwords.hash(password);
    const event = this.ctx.audit.event(system.id, actor, 'operator.password_reset', id, { generated: generated !== null });
    if (!(await this.ctx.store.operators.setPassword(system.id, id, hash, this.ctx.clock(), event))) throw new KeygateError('OPERATOR_NOT_FOUND', `no operator "${id}"`);
    return generated === null ? {} : { password: generated };
  }

  /** Deletes the operator and ends their sessions. */
  async delete(actor: Actor, caller: OperatorsCaller, id: string): Promise<void> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    await this.changeable(caller, id, 'delete');
    if (!(await this.ctx.store.operators.delete(system.id, id, this.ctx.audit.event(system.id, actor, 'operator.delete', id)))) {
      throw new KeygateError('OPERATOR_NOT_FOUND', `no operator "${id}"`);
    }
  }

  /**
   * Checks an operator's email and password with the people's sign-in (`UsersService.signIn`:
   * counted per source address and per account before any password work, the same answer for
   * an unknown email, a wrong password and a disabled operator). A success is audited as
   * `operator.sign_in`, a failure as the people's `user.sign_in.denied`, in the system tenant.
   */
  async signIn(email: string, password: string, source: { ip: string; requestId: string }): Promise<OperatorSignIn> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    const outcome = await this.deps.users.signIn(system, email, password, source);
    if ('error' in outcome) return outcome;
    const operator = await this.ctx.store.operators.find(system.id, outcome.user.id);
    // A user of the system tenant without an operator row (none is made so) reaches nothing.
    if (operator === null || operator.disabledAt !== null) return { error: 'invalid' };
    this.ctx.audit.enqueue(this.ctx.audit.event(system.id, { id: operator.id, requestId: source.requestId, ip: source.ip }, 'operator.sign_in', operator.id));
    return { operator };
  }

  /**
   * A new console session for the operator: a random value, stored only as its hash. Every
   * sign-in makes a new one (no fixation). `expiresAt` is the first idle deadline.
   */
  async startSession(operator: Operator): Promise<{ value: string; expiresAt: number }> {
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    const value = randomBytes(32).toString('base64url');
    const now = this.ctx.clock();
    const expiresAt = now + Math.min(this.lifetimes.idleMs, this.lifetimes.absoluteMs);
    await this.ctx.store.people.createSession(hashSecret(value), system.id, operator.id, now, expiresAt);
    return { value, expiresAt };
  }

  /**
   * The signed-in operator, or null: no such session, not a console session, past its idle or
   * absolute lifetime, or its operator disabled or deleted. A use moves the idle deadline on,
   * written at most once a minute (`SESSION_SLIDE_MS`).
   */
  async resolveSession(value: string | undefined): Promise<Operator | null> {
    if (value === undefined || value.length === 0 || value.length > MAX_SESSION_VALUE_LENGTH) return null;
    const { tenant: system } = await this.deps.rootKeys.ensureSystem();
    const hash = hashSecret(value);
    const session = await this.ctx.store.operators.findSession(hash);
    const now = this.ctx.clock();
    // A portal session (another tenant's) is never a console session.
    if (session === null || session.tenantId !== system.id) return null;
    if (session.expiresAt <= now || session.createdAt + this.lifetimes.absoluteMs <= now) return null;
    const operator = await this.ctx.store.operators.find(system.id, session.userId);
    // Disabling deletes the sessions; one resolved at that very moment must not outlive it.
    if (operator === null || operator.disabledAt !== null) return null;
    const slid = slidIdleDeadline(session, now, this.lifetimes);
    if (slid !== null) await this.ctx.store.operators.slideSession(hash, slid);
    return operator;
  }

  /** Ends the session (signing out); an unknown or absent value is a no-op. */
  async endSession(value: string | undefined): Promise<void> {
    if (value === undefined || value.length === 0 || value.length > MAX_SESSION_VALUE_LENGTH) return;
    await this.ctx.store.people.deleteSession(hashSecret(value));
  }

  /** Scopes in the management catalog and within the caller's reach, and a tenant that exists. */
  /** The operator `caller` may change by `action` (`operatorChangeRefusal`): 404 when out of reach, 403 when a peer or themself. */
  private async changeable(caller: OperatorsCaller, id: string, action: 'update' | 'disable' | 'password' | 'delete'): Promise<Operator> {
    const operator = await this.get(caller, id);
    const refusal = operatorChangeRefusal(caller, operator, action);
    if (refusal !== null) throw new KeygateError('FORBIDDEN', refusal);
    return operator;
  }

  private async checkedShape(
    caller: RootKeyReach,
    shape: { scopes: string[]; tenant: string | null },
    catalog: Parameters<typeof assertInCatalog>[1],
  ): Promise<{ scopes: string[]; tenant: string | null }> {
    assertInCatalog(shape.scopes, catalog);
    const scopes = [...new Set(shape.scopes)];
    const overreach = rootKeyOverreach(caller, { scopes, tenant: shape.tenant });
    if (overreach !== null) throw new KeygateError('FORBIDDEN', overreach);
    // The one tenant resolver: a reserved or unknown slug cannot be an operator's limit.
    if (shape.tenant !== null) await this.deps.tenants.get(shape.tenant);
    return { scopes, tenant: shape.tenant };
  }
}

/** 24 random bytes as 32 base64url characters: what a generated operator password is. */
function generatePassword(): string {
  return randomBytes(24).toString('base64url');
}
