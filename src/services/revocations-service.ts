import { newId } from '../crypto/secrets.js';
import type { Revocation } from '../domain/clients.js';
import type { Tenant } from '../domain/keys/key.js';
import { idFloor, idTime } from '../domain/ids.js';
import { FEED_LOOKBACK_MS, longestTokenLifetimeSec, markKey, type RevocationState } from '../domain/tokens/revocation.js';
import type { Page, PageRequest } from '../store/store.js';
import type { Actor, ServiceContext } from './context.js';

interface TenantState {
  jtis: Map<string, number | null>;
  notBefore: Map<string, number>;
  view: RevocationState;
  cursor: string | null;
  syncedAt: number;
  syncing: Promise<void> | null;
}

/** How often a verifier catches up with revocations made by other instances. */
export const REVOCATION_SYNC_MS = 1000;

/**
 * JWT revocation: by jti, or by a not-before mark on a client's or a consumer's tokens. Each
 * process keeps the tenant's revocations in memory; its own revocations apply at once, those of
 * other instances within `REVOCATION_SYNC_MS` (it follows the store's revocation feed).
 */
export class RevocationsService {
  private readonly tenants = new Map<string, TenantState>();

  constructor(private readonly ctx: ServiceContext) {}

  /** Revokes one token. `expiresAt` (ms) lets the entry be forgotten once the token is dead anyway. */
  async revokeJti(actor: Actor, tenant: Tenant, jti: string, expiresAt: number | null): Promise<boolean> {
    return this.add(actor, tenant, { kind: 'jti', subject: jti, notBefore: null, expiresAt });
  }

  /**
   * Revokes a jti of the tenant. A JWT API key Keygate issued is remembered until its own expiry
   * (for ever if it has none). A jti Keygate has never seen can only be a token minted elsewhere
   * (self-issued HS256) or an access token: none of those can be valid beyond the longest lifetime
   * the tenant allows one (`longestTokenLifetimeSec`) from now, so the entry is pruned after that.
   */
  async revokeToken(actor: Actor, tenant: Tenant, jti: string): Promise<boolean> {
    const issued = await this.ctx.store.findIssuedToken(tenant.id, jti);
    if (issued !== null) return this.revokeJti(actor, tenant, jti, issued.expiresAt);
    const longest = longestTokenLifetimeSec({ hs256MaxLifetimeSec: tenant.hs256MaxLifetime, maxAccessTokenTtlSec: await this.ctx.store.maxAccessTokenTtl(tenant.id) });
    return this.revokeJti(actor, tenant, jti, this.ctx.clock() + longest * 1000);
  }

  /** Revokes every token issued to the client (or the consumer) up to now. */
  async cutOff(actor: Actor, tenant: Tenant, kind: 'client' | 'consumer' | 'grant', subject: string): Promise<{ notBefore: number }> {
    const notBefore = Math.floor(this.ctx.clock() / 1000);
    await this.add(actor, tenant, { kind, subject, notBefore, expiresAt: null });
    return { notBefore };
  }

  feed(tenant: Tenant, page: PageRequest): Promise<Page<Revocation>> {
    return this.ctx.store.listRevocations(tenant.id, page);
  }

  /** The tenant's revocations as of at most `REVOCATION_SYNC_MS` ago. */
  async state(tenantId: string): Promise<RevocationState> {
    const known = this.stateIfLoaded(tenantId);
    if (known !== undefined) return known;
    const state = this.empty();
    this.tenants.set(tenantId, state);
    await this.sync(tenantId, state);
    return state.view;
  }

  /** The state without waiting, once the tenant's revocations have been loaded; else undefined. */
  stateIfLoaded(tenantId: string): RevocationState | undefined {
    const state = this.tenants.get(tenantId);
    if (state === undefined) return undefined;
    if (this.ctx.clock() - state.syncedAt > REVOCATION_SYNC_MS && state.syncing === null) {
      // Catching up runs beside the request: the answer uses what is known now.
      state.syncing = this.sync(tenantId, state).finally(() => {
        state.syncing = null;
      });
      state.syncing.catch(() => {});
    }
    return state.syncedAt === 0 ? undefined : state.view;
  }

  private async add(actor: Actor, tenant: Tenant, input: Omit<Revocation, 'id' | 'tenantId' | 'createdAt'>): Promise<boolean> {
    const now = this.ctx.clock();
    const revocation: Revocation = { id: newId('revocation', now), tenantId: tenant.id, createdAt: now, ...input };
    const action = input.kind === 'jti' ? 'token.revoke' : `${input.kind}.tokens.revoke`;
    const added = await this.ctx.store.addRevocation(revocation, this.ctx.audit.event(tenant.id, actor, action, input.subject));
    const state = this.tenants.get(tenant.id);
    if (state) apply(state, revocation, now);
    return added;
  }

  private async sync(tenantId: string, state: TenantState): Promise<void> {
    const now = this.ctx.clock();
    for (;;) {
      const page = await this.ctx.store.listRevocations(tenantId, { after: state.cursor, limit: 1000 });
      for (const revocation of page.items) apply(state, revocation, now);
      if (page.items.length > 0) state.cursor = page.items[page.items.length - 1]!.id;
      if (page.next === null) break;
    }
    if (state.cursor !== null) state.cursor = idFloor('revocation', (idTime(state.cursor) ?? 0) - FEED_LOOKBACK_MS);
    for (const [jti, expiresAt] of state.jtis) if (expiresAt !== null && expiresAt < now) state.jtis.delete(jti);
    state.syncedAt = now;
  }

  private empty(): TenantState {
    const jtis = new Map<string, number | null>();
    const notBefore = new Map<string, number>();
    const view: RevocationState = { jtis, notBefore };
    return { jtis, notBefore, view, cursor: null, syncedAt: 0, syncing: null };
  }
}

/** Idempotent: the feed is re-read over a look-back window. */
function apply(state: TenantState, revocation: Revocation, now: number): void {
  if (revocation.kind === 'jti') {
    if (revocation.expiresAt === null || revocation.expiresAt >= now) state.jtis.set(revocation.subject, revocation.expiresAt);
    return;
  }
  const key = markKey(revocation.kind, revocation.subject);
  const previous = state.notBefore.get(key) ?? -Infinity;
  if (revocation.notBefore !== null && revocation.notBefore > previous) state.notBefore.set(key, revocation.notBefore);
}
