import { newId } from '../crypto/secrets.js';
import type { Revocation } from '../domain/clients.js';
import type { Tenant } from '../domain/tenants.js';
import { idFloor, idTime } from '../domain/ids.js';
import { FEED_LOOKBACK_MS, longestTokenLifetimeSec, markKey, type RevocationState } from '../domain/tokens/revocation.js';
import type { Page, PageRequest, RevocationFactory } from '../store/store.js';
import type { Actor, ServiceContextWith } from './context.js';

interface TenantState {
  jtis: Map<string, number | null>;
  notBefore: Map<string, number>;
  view: RevocationState;
  cursor: string | null;
  syncedAt: number;
  /** The feed read under way (with the ones queued behind it), if any. */
  syncing: Promise<void> | null;
  /** A read was asked for while one ran: read once more when it ends. */
  again: boolean;
}

/**
 * JWT revocation: by jti, or by a not-before mark on a client's, consumer's or grant's tokens.
 * Each process keeps the tenant's revocations in memory, following the store's revocation feed.
 * Its own revocations apply at once. Those of other instances are pushed: the instance that
 * revoked announces the tenant on the cluster bus (Redis), and every instance holding the tenant
 * reads its feed at once. The message names only the tenant, so the store stays the one source of
 * what is revoked. The feed is also read every `pollMs` (the only path without Redis, the
 * backstop with it) and, through `catchUpAll`, after the bus reconnects.
 */
export class RevocationsService {
  private readonly tenants = new Map<string, TenantState>();
  private readonly pollMs: number;

  constructor(
    private readonly ctx: ServiceContextWith<'directory' | 'tokens'>,
    options: { pollMs: number },
  ) {
    this.pollMs = options.pollMs;
    ctx.cluster.bus.subscribeRevocations((tenantIds) => {
      for (const tenantId of tenantIds) {
        // Only tenants this instance holds: an unknown id (or a flood of them) allocates nothing.
        const state = this.tenants.get(tenantId);
        if (state !== undefined) this.catchUpBeside(tenantId, state);
      }
    });
    // Pushes sent while the bus was away are lost: read every feed this instance follows.
    ctx.cluster.connection.onReconnect(() => this.catchUpAll());
  }

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
    const issued = await this.ctx.store.tokens.findIssuedToken(tenant.id, jti);
    if (issued !== null) return this.revokeJti(actor, tenant, jti, issued.expiresAt);
    const longest = longestTokenLifetimeSec({ hs256MaxLifetimeSec: tenant.hs256MaxLifetime, maxAccessTokenTtlSec: await this.ctx.store.directory.maxAccessTokenTtl(tenant.id) });
    return this.revokeJti(actor, tenant, jti, this.ctx.clock() + longest * 1000);
  }

  /** Revokes every token issued to the client (or the consumer) up to now. */
  async cutOff(actor: Actor, tenant: Tenant, kind: 'client' | 'consumer' | 'grant', subject: string): Promise<{ notBefore: number }> {
    const notBefore = Math.floor(this.ctx.clock() / 1000);
    await this.add(actor, tenant, { kind, subject, notBefore, expiresAt: null });
    return { notBefore };
  }

  feed(tenant: Tenant, page: PageRequest): Promise<Page<Revocation>> {
    return this.ctx.store.tokens.listRevocations(tenant.id, page);
  }

  /** The tenant's revocations: its own at once, other instances' as pushed, or at most `pollMs` old. */
  async state(tenantId: string): Promise<RevocationState> {
    const known = this.stateIfLoaded(tenantId);
    if (known !== undefined) return known;
    let state = this.tenants.get(tenantId);
    if (state === undefined) {
      state = this.empty();
      this.tenants.set(tenantId, state);
    }
    await this.catchUp(tenantId, state);
    return state.view;
  }

  /** The state without waiting, once the tenant's revocations have been loaded; else undefined. */
  stateIfLoaded(tenantId: string): RevocationState | undefined {
    const state = this.tenants.get(tenantId);
    if (state === undefined || state.syncedAt === 0) return undefined;
    // Catching up runs beside the request: the answer uses what is known now.
    if (this.ctx.clock() - state.syncedAt > this.pollMs) this.catchUpBeside(tenantId, state);
    return state.view;
  }

  /** Reads the feed of every tenant this instance holds, now (pushes may have been lost). */
  catchUpAll(): void {
    for (const [tenantId, state] of this.tenants) this.catchUpBeside(tenantId, state);
  }

  /**
   * Revocations a store change wrote in its own transaction (the grants of a deleted or disabled
   * user, the tokens of a deleted API): applied here at once and announced like any other.
   */
  async recorded(tenantId: string, revocations: readonly Revocation[]): Promise<void> {
    if (revocations.length === 0) return;
    const state = this.tenants.get(tenantId);
    const now = this.ctx.clock();
    if (state) for (const revocation of revocations) apply(state, revocation, now);
    await this.ctx.cluster.bus.publishRevocations([tenantId]);
  }

  /** Builds a revocation of the tenant for a store change to record (see `recorded`). */
  factory(tenantId: string): RevocationFactory {
    return (input) => {
      const now = this.ctx.clock();
      return { id: newId('revocation', now), tenantId, createdAt: now, ...input };
    };
  }

  private async add(actor: Actor, tenant: Tenant, input: Omit<Revocation, 'id' | 'tenantId' | 'createdAt'>): Promise<boolean> {
    const now = this.ctx.clock();
    const revocation: Revocation = { id: newId('revocation', now), tenantId: tenant.id, createdAt: now, ...input };
    const action = input.kind === 'jti' ? 'token.revoke' : `${input.kind}.tokens.revoke`;
    const added = await this.ctx.store.tokens.addRevocation(revocation, this.ctx.audit.event(tenant.id, actor, action, input.subject));
    const state = this.tenants.get(tenant.id);
    if (state) apply(state, revocation, now);
    if (added) await this.ctx.cluster.bus.publishRevocations([tenant.id]);
    return added;
  }

  /**
   * One feed read at a time per tenant. Asked while one runs, it reads once more after it, so
   * everything committed before the ask is read; the promise settles when that read is done.
   */
  private catchUp(tenantId: string, state: TenantState): Promise<void> {
    if (state.syncing !== null) {
      state.again = true;
      return state.syncing;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          state.again = false;
          await this.sync(tenantId, state);
        } while (state.again);
      } finally {
        state.syncing = null;
      }
    };
    state.syncing = run();
    return state.syncing;
  }

  /** A catch-up nobody waits for: a failed read is retried by the next ask or poll. */
  private catchUpBeside(tenantId: string, state: TenantState): void {
    this.catchUp(tenantId, state).catch(() => {});
  }

  private async sync(tenantId: string, state: TenantState): Promise<void> {
    const now = this.ctx.clock();
    for (;;) {
      const page = await this.ctx.store.tokens.listRevocations(tenantId, { after: state.cursor, limit: 1000 });
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
    return { jtis, notBefore, view, cursor: null, syncedAt: 0, syncing: null, again: false };
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
