import { randomBytes } from 'node:crypto';
import { hashSecret } from '../crypto/secrets.js';
import type { Tenant } from '../domain/tenants.js';
import type { User } from '../domain/people.js';
import type { ServiceContextWith } from './context.js';

export const SESSION_TTL_MS = 12 * 3_600_000;

/**
 * Sign-in sessions: a random cookie value, stored only as its hash. Every sign-in makes a new
 * session (no fixation: an id planted before sign-in never becomes authenticated).
 */
export class SessionsService {
  constructor(private readonly ctx: ServiceContextWith<'people'>) {}

  async create(tenant: Tenant, user: User): Promise<{ value: string; expiresAt: number }> {
    const value = randomBytes(32).toString('base64url');
    const now = this.ctx.clock();
    await this.ctx.store.people.createSession(hashSecret(value), tenant.id, user.id, now, now + SESSION_TTL_MS);
    return { value, expiresAt: now + SESSION_TTL_MS };
  }

  /** The signed-in user of this tenant, or null (also for a disabled user). */
  async resolve(tenant: Tenant, value: string | undefined): Promise<User | null> {
    if (value === undefined || value.length === 0 || value.length > 128) return null;
    const session = await this.ctx.store.people.findSession(hashSecret(value));
    if (session === null || session.tenantId !== tenant.id || session.expiresAt <= this.ctx.clock()) return null;
    const user = await this.ctx.store.people.findUser(tenant.id, session.userId);
    // Disabling deletes the person's sessions; one signed in at that very moment must not outlive it.
    return user !== null && user.disabledAt === null ? user : null;
  }

  async destroy(value: string | undefined): Promise<void> {
    if (value) await this.ctx.store.people.deleteSession(hashSecret(value));
  }
}
