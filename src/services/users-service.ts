import { randomBytes } from 'node:crypto';
import { retryAfterSeconds } from '../cluster/cluster.js';
import { DUMMY_PASSWORD_HASH, type PasswordHasher } from '../crypto/passwords.js';
import { hashSecret, newId } from '../crypto/secrets.js';
import { KeygateError, isKeygateError } from '../domain/errors.js';
import type { Tenant } from '../domain/tenants.js';
import { throttleSource } from '../domain/throttle-source.js';
import { EMAIL_PATTERN, normaliseEmail, passwordProblem, type User } from '../domain/people.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';
import { deliveryFailureCode, type PasswordResetHook, type PasswordResetMessage } from './password-reset-delivery.js';
import type { RevocationsService } from './revocations-service.js';

/** Sign-in attempts per account, and per source address, within one window. */
export const SIGN_IN_ATTEMPTS_PER_ACCOUNT = 5;
export const SIGN_IN_ATTEMPTS_PER_IP = 20;
/** A throttle window starts at its first counted attempt and ends this long after it. */
export const SIGN_IN_WINDOW_MS = 15 * 60_000;
const RESET_TTL_MS = 30 * 60_000;
/** Reset requests per source address, and reset links sent per account, within one window. */
export const RESET_REQUESTS_PER_IP = 20;
export const RESET_LINKS_PER_ACCOUNT = 3;
export const RESET_WINDOW_MS = 15 * 60_000;
/** Self sign-ups per source address within one window: each costs a password hash and a row. */
export const SIGN_UPS_PER_IP = 20;
export const SIGN_UP_WINDOW_MS = 15 * 60_000;

/** Where a reset link sends the person: the tenant's portal page that takes the token. */
export function passwordResetUrl(publicUrl: string, tenantSlug: string): string {
  return `${publicUrl}/t/${tenantSlug}/password-reset/confirm`;
}

export type SignInOutcome = { user: User } | { error: 'invalid' } | { error: 'throttled'; retryAfter: number };

/**
 * Users of a tenant: created by an admin or by themselves (when the tenant allows it), signed in
 * with email and password, throttled per account and per IP, reset through a one-time token.
 */
export class UsersService {
  constructor(
    private readonly ctx: ServiceContextWith<'people'>,
    private readonly passwords: PasswordHasher,
    private readonly reset: { deliver: PasswordResetHook | null; onError: (err: unknown) => void },
    private readonly revocations: RevocationsService,
  ) {}

  /** False when no delivery is configured: the portal then says password reset is disabled. */
  get resetsEnabled(): boolean {
    return this.reset.deliver !== null;
  }

  async create(actor: Actor, tenant: Tenant, input: { email: string; password: string; name?: string | null }): Promise<User> {
    const email = normaliseEmail(input.email);
    if (!EMAIL_PATTERN.test(email)) throw new KeygateError('INVALID_REQUEST', 'email must look like name@example.com');
    const weak = passwordProblem(input.password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const now = this.ctx.clock();
    const user: User = { id: newId('user', now), tenantId: tenant.id, email, name: input.name ?? null, createdAt: now, disabledAt: null };
    await this.ctx.store.people.createUser(user, await this.passwords.hash(input.password), this.ctx.audit.event(tenant.id, actor, 'user.create', user.id));
    return user;
  }

  /**
   * Self sign-up from the portal, the one function that decides its throttle: every attempt is
   * counted per source (`throttleSource`) before any password work, and past 20 in 15 minutes it
   * is `throttled` and creates nobody. Unthrottled, one address could create accounts without end
   * and keep the instance's PasswordHasher, which every tenant's sign-ins share, busy.
   */
  async signUp(actor: Actor, tenant: Tenant, input: { email: string; password: string; name: string | null }): Promise<{ user: User } | { error: 'throttled'; retryAfter: number }> {
    const attempts = await this.ctx.cluster.counters.increment(`signup:ip:${throttleSource(actor.ip ?? '')}`, SIGN_UP_WINDOW_MS);
    if (attempts.count > SIGN_UPS_PER_IP) return { error: 'throttled', retryAfter: retryAfterSeconds(attempts.expiresAt, this.ctx.clock()) };
    return { user: await this.create(actor, tenant, input) };
  }

  async get(tenant: Tenant, id: string): Promise<User> {
    const user = await this.ctx.store.people.findUser(tenant.id, id);
    if (user === null) throw new KeygateError('USER_NOT_FOUND', `no user "${id}" in tenant "${tenant.slug}"`);
    return user;
  }

  /** A page of the tenant's users; `search` keeps those whose email or name contains it, ignoring case. */
  list(tenant: Tenant, page: PageRequest, options: { search?: string } = {}): Promise<Page<User>> {
    return this.ctx.store.people.listUsers(tenant.id, page, options);
  }

  /**
   * Changes name, email or the disabled mark. Disabling ends, in the same transaction, every
   * session, unused code, reset link and refresh token of the person and cuts off the access
   * tokens of their grants; enabling again lets them sign in (their apps ask for consent anew
   * only if they revoked it).
   */
  async update(actor: Actor, tenant: Tenant, id: string, changes: { name?: string | null; email?: string; disabled?: boolean }): Promise<User> {
    const user = await this.get(tenant, id);
    const email = changes.email === undefined ? user.email : normaliseEmail(changes.email);
    if (!EMAIL_PATTERN.test(email)) throw new KeygateError('INVALID_REQUEST', 'email must look like name@example.com');
    const now = this.ctx.clock();
    const disabling = changes.disabled === true && user.disabledAt === null;
    const disabledAt = changes.disabled === undefined ? user.disabledAt : changes.disabled ? (user.disabledAt ?? now) : null;
    const updated: User = { ...user, email, name: changes.name === undefined ? user.name : changes.name, disabledAt };
    const event = this.ctx.audit.event(tenant.id, actor, disabling ? 'user.disable' : 'user.update', user.id, { fields: Object.keys(changes) });
    const fields = [
      ...(changes.name !== undefined ? (['name'] as const) : []),
      ...(email !== user.email ? (['email'] as const) : []),
      ...(changes.disabled !== undefined ? (['disabledAt'] as const) : []),
    ];
    const cutOffs = await this.ctx.store.people.updateUser(updated, { fields, endAccess: disabling ? this.revocations.factory(tenant.id) : null, at: now }, event);
    await this.revocations.recorded(tenant.id, cutOffs);
    // What the row holds now: a concurrent change of another field is not undone by this answer.
    return this.get(tenant, id);
  }

  /**
   * Deletes the person: sessions, codes, reset links and refresh tokens end, their grants go
   * and the access tokens of those grants are cut off, all in one transaction with the event.
   */
  async delete(actor: Actor, tenant: Tenant, id: string): Promise<void> {
    const cutOffs = await this.ctx.store.people.deleteUser(tenant.id, id, { at: this.ctx.clock(), revocation: this.revocations.factory(tenant.id) }, this.ctx.audit.event(tenant.id, actor, 'user.delete', id));
    if (cutOffs === null) throw new KeygateError('USER_NOT_FOUND', `no user "${id}" in tenant "${tenant.slug}"`);
    await this.revocations.recorded(tenant.id, cutOffs);
  }

  /**
   * Sends the person a reset link now, through the configured delivery, on an operator's
   * request. Unlike the portal's request it answers whether the link went out: the caller is
   * an authenticated operator, not someone probing for accounts.
   */
  async sendPasswordReset(actor: Actor, tenant: Tenant, id: string): Promise<{ expiresAt: number }> {
    const deliver = this.reset.deliver;
    if (deliver === null) throw new KeygateError('PASSWORD_RESET_DISABLED', 'no reset delivery is configured: set SMTP_URL and SMTP_FROM, or KEYGATE_WEBHOOK_URL and KEYGATE_WEBHOOK_SECRET');
    const user = await this.get(tenant, id);
    if (user.disabledAt !== null) throw new KeygateError('USER_DISABLED', `user "${id}" is disabled; enable them first`);
    const message = await this.issueReset(tenant, user, passwordResetUrl(this.ctx.publicUrl, tenant.slug), { actor });
    try {
      await deliver(message);
    } catch (err) {
      // Only the code, as for the portal's requests: no cause, since the server logs a 5xx with
      // its cause and a delivery's error may quote the link (deliveryFailureCode).
      throw new KeygateError('RESET_DELIVERY_FAILED', `the reset link could not be delivered${deliveryFailureCode(err)}; check the SMTP or webhook settings and the receiving end`);
    }
    return { expiresAt: message.expiresAt };
  }

  private async issueReset(tenant: Tenant, user: User, resetUrl: string, options: { actor?: Actor } = {}): Promise<PasswordResetMessage> {
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.ctx.clock() + RESET_TTL_MS;
    const event = options.actor ? { event: this.ctx.audit.event(tenant.id, options.actor, 'user.password.reset_sent', user.id) } : {};
    await this.ctx.store.people.createPasswordReset(hashSecret(token), tenant.id, user.id, expiresAt, event);
    return { tenant: tenant.slug, email: user.email, token, url: `${resetUrl}?token=${token}`, expiresAt };
  }

  /**
   * Checks email and password: the one function that decides sign-in throttling. Each attempt is
   * counted (atomically, per source address, then per account) before any password work, so a
   * burst of concurrent guesses costs at most the limit in scrypt runs; past a limit every attempt,
   * right or wrong, is `throttled` until the window (15 minutes from its first attempt) passes. A
   * successful attempt takes its counts back, so only failures accumulate. An unknown email costs
   * the same time as a wrong password, and both answer `invalid`. `source` is the request: its
   * address is throttled, and a failure is audited with it and the request id.
   */
  async signIn(tenant: Tenant, email: string, password: string, source: { ip: string; requestId: string }): Promise<SignInOutcome> {
    const { ip } = source;
    const now = this.ctx.clock();
    const counters = this.ctx.cluster.counters;
    const limits = [
      [`signin:ip:${throttleSource(ip)}`, SIGN_IN_ATTEMPTS_PER_IP],
      // A digest, not the address: fixed-size keys whatever is typed, and no emails in Redis.
      [`signin:account:${tenant.id}:${hashSecret(normaliseEmail(email))}`, SIGN_IN_ATTEMPTS_PER_ACCOUNT],
    ] as const;
    const counted: string[] = [];
    for (const [key, limit] of limits) {
      const attempts = await counters.increment(key, SIGN_IN_WINDOW_MS);
      counted.push(key);
      if (attempts.count > limit) return { error: 'throttled', retryAfter: retryAfterSeconds(attempts.expiresAt, now) };
    }
    const takeBack = () => Promise.all(counted.map((key) => counters.decrement(key)));
    const found = await this.ctx.store.people.findUserByEmail(tenant.id, normaliseEmail(email));
    let matches: boolean;
    try {
      matches = await this.passwords.verify(password, found?.passwordHash ?? DUMMY_PASSWORD_HASH);
    } catch (err) {
      if (!isKeygateError(err) || err.code !== 'PASSWORD_HASHING_BUSY') throw err;
      // Nothing was checked, so the attempt does not count against the person.
      await takeBack();
      return { error: 'throttled', retryAfter: 1 };
    }
    // A disabled person's right password is answered like a wrong one: nothing about the account leaks.
    if (found !== null && matches && found.user.disabledAt === null) {
      await takeBack();
      return { user: found.user };
    }
    this.ctx.audit.enqueue(this.ctx.audit.event(tenant.id, { id: 'sign-in', requestId: source.requestId, ip }, 'user.sign_in.denied', found?.user.id ?? null));
    return { error: 'invalid' };
  }

  /**
   * Sends a one-time link when the account exists; says nothing either way. Requests are counted
   * per source (past 20 in 15 minutes: `throttled`, whatever the email, so it reveals nothing),
   * and at most 3 links per account go out in that window (the rest are dropped silently), so
   * nobody can flood a person's inbox. Delivery runs in the background (its time and failures
   * must not tell the caller whether the account exists); failures are reported without the link.
   */
  async requestPasswordReset(tenant: Tenant, email: string, resetUrl: string, ip: string): Promise<{ throttled: false } | { throttled: true; retryAfter: number }> {
    const deliver = this.reset.deliver;
    if (deliver === null) return { throttled: false };
    const requests = await this.ctx.cluster.counters.increment(`reset:ip:${throttleSource(ip)}`, RESET_WINDOW_MS);
    if (requests.count > RESET_REQUESTS_PER_IP) return { throttled: true, retryAfter: retryAfterSeconds(requests.expiresAt, this.ctx.clock()) };
    const found = await this.ctx.store.people.findUserByEmail(tenant.id, normaliseEmail(email));
    // A disabled person gets no link either, with the same answer.
    if (found === null || found.user.disabledAt !== null) return { throttled: false };
    const links = await this.ctx.cluster.counters.increment(`reset:account:${tenant.id}:${found.user.id}`, RESET_WINDOW_MS);
    if (links.count > RESET_LINKS_PER_ACCOUNT) return { throttled: false };
    const message = await this.issueReset(tenant, found.user, resetUrl);
    void (async () => {
      try {
        await deliver(message);
      } catch (err) {
        this.reset.onError(new Error(`password-reset delivery failed for tenant ${tenant.slug}${deliveryFailureCode(err)}`));
      }
    })();
    return { throttled: false };
  }

  /**
   * Sets a new password with a reset token (used up) and, in the same transaction, ends the
   * person's sessions and refresh tokens. A token that is not live costs no password hashing.
   */
  async resetPassword(tenant: Tenant, token: string, password: string, source: { ip: string; requestId: string }): Promise<boolean> {
    const weak = passwordProblem(password);
    if (weak !== null) throw new KeygateError('WEAK_PASSWORD', weak);
    const hash = hashSecret(token);
    if ((await this.ctx.store.people.findPasswordReset(hash, tenant.id, this.ctx.clock())) === null) return false;
    const passwordHash = await this.passwords.hash(password);
    const done = await this.ctx.store.people.completePasswordReset({ hash, tenantId: tenant.id, passwordHash, at: this.ctx.clock() }, (userId) =>
      this.ctx.audit.event(tenant.id, { id: userId, requestId: source.requestId, ip: source.ip }, 'user.password.reset', userId),
    );
    return done !== null;
  }
}
