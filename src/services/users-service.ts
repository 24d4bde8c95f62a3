import { randomBytes } from 'node:crypto';
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from '../crypto/passwords.js';
import { hashSecret, newId } from '../crypto/secrets.js';
import { KeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/keys/key.js';
import { EMAIL_PATTERN, normaliseEmail, passwordProblem, type User } from '../domain/people.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContext } from './context.js';

/** Where a password-reset token goes. The default logs it: no mail server is needed locally. */
export type PasswordResetHook = (message: { tenant: string; email: string; token: string; url: string }) => void | Promise<void>;

export const SIGN_IN_FAILURES_PER_ACCOUNT = 5;
export const SIGN_IN_FAILURES_PER_IP = 20;
export const SIGN_IN_WINDOW_MS = 15 * 60_000;
const RESET_TTL_MS = 30 * 60_000;

export type SignInOutcome = { user: User } | { error: 'invalid' } | { error: 'throttled'; retryAfter: number };

/**
 * Users of a tenant: created by an admin or by themselves (when the tenant allows it), signed in
 * with email and password, throttled per account and per IP, reset through a one-time token.
 */
export class UsersService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly onPasswordReset: PasswordResetHook,
  ) {}

  async create(actor: Actor, tenant: Tenant, input: { email: string; password: string; name?: string | null }): Promise<User> {
    const email = normaliseEmail(input.email);
    if (!EMAIL_PATTERN.test(email)) throw new KeygateError('INVALID_REQUEST', 'email must look like name@example.com');
    const weak = passwordProblem(input.password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const now = this.ctx.clock();
    const user: User = { id: newId('user', now), tenantId: tenant.id, email, name: input.name ?? null, createdAt: now };
    await this.ctx.store.createUser(user, await hashPassword(input.password), this.ctx.audit.event(tenant.id, actor, 'user.create', user.id));
    return user;
  }

  async get(tenant: Tenant, id: string): Promise<User> {
    const user = await this.ctx.store.findUser(tenant.id, id);
    if (user === null) throw new KeygateError('USER_NOT_FOUND', `no user "${id}" in tenant "${tenant.slug}"`);
    return user;
  }

  list(tenant: Tenant, page: PageRequest): Promise<Page<User>> {
    return this.ctx.store.listUsers(tenant.id, page);
  }

  /**
   * Checks email and password. An unknown email costs the same time as a wrong password, and both
   * answer `invalid`; failures count per account and per IP, and past the limits every attempt is
   * `throttled` until the window has passed.
   */
  async signIn(tenant: Tenant, email: string, password: string, ip: string): Promise<SignInOutcome> {
    const account = `signin:account:${tenant.id}:${normaliseEmail(email)}`;
    const address = `signin:ip:${ip}`;
    const now = this.ctx.clock();
    for (const [key, limit] of [[account, SIGN_IN_FAILURES_PER_ACCOUNT], [address, SIGN_IN_FAILURES_PER_IP]] as const) {
      const failures = await this.ctx.cluster.counters.read(key);
      if (failures.count >= limit) return { error: 'throttled', retryAfter: Math.max(1, Math.ceil((failures.expiresAt - now) / 1000)) };
    }
    const found = await this.ctx.store.findUserByEmail(tenant.id, normaliseEmail(email));
    const matches = await verifyPassword(password, found?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (found !== null && matches) return { user: found.user };
    await this.ctx.cluster.counters.increment(account, SIGN_IN_WINDOW_MS);
    await this.ctx.cluster.counters.increment(address, SIGN_IN_WINDOW_MS);
    this.ctx.audit.enqueue(this.ctx.audit.event(tenant.id, { id: 'sign-in', requestId: null, ip }, 'user.sign_in.denied', found?.user.id ?? null));
    return { error: 'invalid' };
  }

  /** Hands a one-time token to the hook when the account exists; says nothing either way. */
  async requestPasswordReset(tenant: Tenant, email: string, resetUrl: string): Promise<void> {
    const found = await this.ctx.store.findUserByEmail(tenant.id, normaliseEmail(email));
    if (found === null) return;
    const token = randomBytes(32).toString('base64url');
    await this.ctx.store.createPasswordReset(hashSecret(token), tenant.id, found.user.id, this.ctx.clock() + RESET_TTL_MS);
    await this.onPasswordReset({ tenant: tenant.slug, email: found.user.email, token, url: `${resetUrl}?token=${token}` });
  }

  /** Sets a new password with a reset token (used up), and ends the account's sessions. */
  async resetPassword(tenant: Tenant, token: string, password: string): Promise<boolean> {
    const weak = passwordProblem(password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const reset = await this.ctx.store.consumePasswordReset(hashSecret(token), this.ctx.clock());
    if (reset === null || reset.tenantId !== tenant.id) return false;
    const event = this.ctx.audit.event(tenant.id, { id: reset.userId, requestId: null, ip: null }, 'user.password.reset', reset.userId);
    await this.ctx.store.setPassword(tenant.id, reset.userId, await hashPassword(password), event);
    return true;
  }
}
