import { idFloor, idTime } from '../../domain/ids.js';
import { FEED_LOOKBACK_MS, markKey, type RevocationState } from '../../domain/tokens/revocation.js';
import { KeygateUnavailableError, type KeygateHttp } from './keygate-http.js';

/** Largest page the feed serves. */
const PAGE_LIMIT = 100;

/**
 * The feed's cursor to resume after an item. Cursors are opaque to clients, but Keygate builds
 * them as base64url of `v1:{id}` (src/http/pagination.ts), and "after the last item I applied" is
 * exactly what a poller needs: re-requesting the last non-null `nextCursor` would re-read a page,
 * and after a first page that ended the feed there is none. A test checks this against the server.
 *
 * @example
 * cursorAfter('rev_0192f3a1b2c3AbCdEfGhIjKlMnOp') // "djE6cmV2XzAxOTJm…"
 */
export function cursorAfter(id: string): string {
  return Buffer.from(`v1:${id}`).toString('base64url');
}

interface FeedItem {
  id: string;
  kind: string;
  subject: string;
  notBefore: number | null;
  expiresAt: string | null;
}

/**
 * Follows `GET /v1/tenants/{slug}/revocations` and holds the tenant's revocations in memory as a
 * `RevocationState` (revoked jtis, and not-before marks on clients and consumers). Polls every
 * `pollMs` on an unref'd timer; concurrent callers share one poll. JWTs are only accepted once
 * the feed has been read completely at least once; after that a failed poll keeps what is known
 * and warns once until the feed answers again.
 */
export class RevocationFeed {
  /** jti → when the token expires anyway (ms), after which the entry can be forgotten. */
  private readonly jtis = new Map<string, number | null>();
  private readonly notBefore = new Map<string, number>();
  readonly state: RevocationState = { jtis: this.jtis, notBefore: this.notBefore };
  private lastId: string | null = null;
  private synced = false;
  private failing = false;
  private inflight: Promise<void> | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly options: {
      url: string;
      rootKey: string;
      pollMs: number;
      http: KeygateHttp;
      clock: () => number;
      warn: (message: string) => void;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => this.pollQuietly(), this.options.pollMs);
    // The timer must not keep a process alive that has nothing else to do.
    this.timer.unref();
    this.pollQuietly();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Whether the whole feed has been read at least once. */
  get isSynced(): boolean {
    return this.synced;
  }

  /** The state once the feed has been read; null when it never could be (then JWTs are refused). */
  async ready(): Promise<RevocationState | null> {
    if (this.synced) return this.state;
    try {
      await this.poll();
      return this.state;
    } catch {
      return null;
    }
  }

  /** Reads the feed from where it left off to its end. */
  poll(): Promise<void> {
    if (this.inflight === null) {
      this.inflight = this.catchUp().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  private pollQuietly(): void {
    this.poll().then(
      () => {
        this.failing = false;
      },
      (error: unknown) => {
        // After stop() the abort is expected, not news.
        if (this.failing || this.timer === null) return;
        this.failing = true;
        const why = error instanceof Error ? error.message : String(error);
        this.options.warn(
          `keygate: the revocation feed could not be read (${why}); ${this.synced ? 'revocations made from now on are not honoured until it answers again' : 'JWTs are refused until it answers'}`,
        );
      },
    );
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const url = `${this.options.url}?limit=${PAGE_LIMIT}${this.lastId === null ? '' : `&cursor=${cursorAfter(this.lastId)}`}`;
      const response = await this.options.http.request(url, { method: 'GET', authorization: `Bearer ${this.options.rootKey}` });
      if (response.status !== 200) {
        const hint = response.status === 401 || response.status === 403 ? ' (the root key needs keys:verify for this tenant)' : '';
        throw new KeygateUnavailableError(`the revocation feed answered HTTP ${response.status}${hint}`);
      }
      const page = feedPage(response.body);
      const now = this.options.clock();
      for (const item of page.items) this.apply(item, now);
      if (page.items.length > 0) this.lastId = page.items[page.items.length - 1]!.id;
      if (page.nextCursor === null || page.items.length === 0) break;
    }
    // Caught up: the next poll starts a little earlier, to read rows that committed out of order.
    if (this.lastId !== null) this.lastId = idFloor('revocation', (idTime(this.lastId) ?? 0) - FEED_LOOKBACK_MS);
    const now = this.options.clock();
    for (const [jti, expiresAt] of this.jtis) if (expiresAt !== null && expiresAt < now) this.jtis.delete(jti);
    this.synced = true;
  }

  private apply(item: FeedItem, now: number): void {
    if (item.kind === 'jti') {
      const expiresAt = item.expiresAt === null ? null : Date.parse(item.expiresAt);
      if (expiresAt === null || !(expiresAt < now)) this.jtis.set(item.subject, expiresAt);
      return;
    }
    if ((item.kind === 'client' || item.kind === 'consumer' || item.kind === 'grant' || item.kind === 'api') && item.notBefore !== null) {
      const key = markKey(item.kind, item.subject);
      if (item.notBefore > (this.notBefore.get(key) ?? -Infinity)) this.notBefore.set(key, item.notBefore);
    }
    // Kinds this version does not know are skipped rather than failing the whole feed.
  }
}

function feedPage(body: unknown): { items: FeedItem[]; nextCursor: string | null } {
  const page = body as { items?: unknown; nextCursor?: unknown } | null;
  if (page === null || !Array.isArray(page.items) || (page.nextCursor !== null && typeof page.nextCursor !== 'string')) {
    throw new KeygateUnavailableError('the revocation feed answered with an unexpected body');
  }
  const items: FeedItem[] = [];
  for (const raw of page.items as unknown[]) {
    const item = raw as Partial<FeedItem> | null;
    if (
      item === null ||
      typeof item.id !== 'string' ||
      typeof item.kind !== 'string' ||
      typeof item.subject !== 'string' ||
      (item.notBefore !== null && typeof item.notBefore !== 'number') ||
      (item.expiresAt !== null && typeof item.expiresAt !== 'string')
    ) {
      throw new KeygateUnavailableError('the revocation feed answered with an unexpected item');
    }
    items.push(item as FeedItem);
  }
  return { items, nextCursor: page.nextCursor as string | null };
}
