import { Redis, type RedisOptions } from 'ioredis';
import type { ClusterConnection, ClusterProblem, FallbackCause } from '../cluster.js';

/** How often a link that stopped answering in time is probed again (one PING) until it answers. */
const PROBE_INTERVAL_MS = 1_000;
/** Longest wait for a TCP connection to Redis; requests never wait for it (they fall back meanwhile). */
const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect attempts back off to at most this, so recovery is noticed within about a second. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/** A command that got no answer within the link's time budget. */
export class RedisTimeoutError extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeoutError';
  }
}

/**
 * Both Redis connections of an instance (commands, and the pub/sub subscriber) and what is known
 * about them: the one place that decides whether a request may use Redis now, and for how long
 * it may wait.
 *
 * A request never waits for a connection: while Redis is down (or not yet connected) `run`
 * takes the fallback at once, because the command connection has no offline queue. On a
 * connection that looks alive but stops answering (a hung or partitioned Redis), a command waits
 * at most `timeoutMs`; the link is then suspended (every request falls back without waiting)
 * and probed once a second until Redis answers again.
 */
export class RedisLink implements ClusterConnection {
  readonly client: Redis;
  readonly subscriber: Redis;
  private clientReady = false;
  private subscriberReady = false;
  private suspended = false;
  private probe: NodeJS.Timeout | null = null;
  private closed = false;
  /** The latest known problem; reported while not connected. */
  private state: ClusterProblem = { reason: 'connecting', since: Date.now(), detail: 'not connected yet' };
  /** What the change listeners were last told: null for connected. */
  private announced: ClusterProblem | null = this.state;
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly changeListeners: Array<(problem: ClusterProblem | null) => void> = [];
  private readonly fallbackListeners: Array<(cause: FallbackCause) => void> = [];

  constructor(
    url: string,
    private readonly timeoutMs: number,
  ) {
    const common: RedisOptions = {
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    };
    this.client = new Redis(url, {
      ...common,
      // Fail at once while disconnected (the caller falls back) instead of queueing requests.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // A rate-limit step that was cut off has been answered by the fallback: sending it again would count it twice.
      autoResendUnfulfilledCommands: false,
      // `run` stops waiting after `timeoutMs`; this only clears commands a hung Redis never answers.
      commandTimeout: Math.max(1_000, timeoutMs * 10),
    });
    // The subscription is made before the first connect and kept across reconnects: never flushed.
    this.subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null });

    this.client.on('ready', () => {
      this.clientReady = true;
      this.resume();
    });
    this.subscriber.on('ready', () => {
      this.subscriberReady = true;
      this.announce();
      // `ready` is emitted before ioredis re-sends the subscriptions: a PING queued after them
      // is answered once they are active, so nothing published after the signal can be missed.
      setImmediate(() => {
        if (this.subscriber.status !== 'ready') return;
        this.subscriber.ping().then(
          () => this.resynchronise(),
          () => {},
        );
      });
    });
    for (const connection of [this.client, this.subscriber]) {
      // Without a listener ioredis prints every failed reconnect; the transitions are reported instead.
      connection.on('error', (err: Error) => this.lost(connection, err.message));
      connection.on('close', () => this.lost(connection, 'connection closed'));
    }
  }

  get connected(): boolean {
    return this.clientReady && this.subscriberReady && !this.suspended;
  }

  get problem(): ClusterProblem | null {
    return this.connected ? null : this.state;
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  /** Calls `listener` with the problem when Redis goes away, and with null when it is back. */
  onChange(listener: (problem: ClusterProblem | null) => void): void {
    this.changeListeners.push(listener);
  }

  onFallback(listener: (cause: FallbackCause) => void): void {
    this.fallbackListeners.push(listener);
  }

  whenConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.connected), timeoutMs);
      timer.unref();
      this.onChange((problem) => {
        if (problem !== null) return;
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /**
   * `command` against Redis when it may be used now and answers within the time budget; else
   * `fallback` (at once while Redis is known to be away, after at most `timeoutMs` otherwise).
   * Never throws for Redis's sake.
   */
  async run<T>(command: () => Promise<T>, fallback: () => T | Promise<T>): Promise<T> {
    if (!this.clientReady || this.suspended) return this.fallBack('away', fallback);
    try {
      return await withDeadline(command(), this.timeoutMs);
    } catch (err) {
      // An error reply (Redis answered) costs this call only; silence suspends the link.
      if (err instanceof RedisTimeoutError) this.suspend(err.message);
      return this.fallBack(err instanceof RedisTimeoutError ? 'timeout' : 'error', fallback);
    }
  }

  private fallBack<T>(cause: FallbackCause, fallback: () => T | Promise<T>): T | Promise<T> {
    for (const listener of this.fallbackListeners) listener(cause);
    return fallback();
  }

  /** Tells every reconnect listener to resynchronise (also used when another instance asks for it). */
  resynchronise(): void {
    for (const listener of this.reconnectListeners) {
      try {
        listener();
      } catch {
        // One cache failing to drop must not keep the others stale.
      }
    }
  }

  close(): void {
    this.closed = true;
    if (this.probe !== null) clearInterval(this.probe);
    this.client.disconnect();
    this.subscriber.disconnect();
  }

  private lost(connection: Redis, detail: string): void {
    if (connection === this.client) this.clientReady = connection.status === 'ready';
    else this.subscriberReady = connection.status === 'ready';
    if (!this.closed) this.note('unreachable', detail);
  }

  private suspend(detail: string): void {
    this.suspended = true;
    this.note('timeout', detail);
    if (this.probe !== null) return;
    // Probed at once too: a reply that was merely late (a busy host) ends the suspension within a round trip.
    const probe = (): void => {
      if (!this.clientReady) return;
      withDeadline(this.client.ping(), this.timeoutMs).then(
        () => this.resume(),
        () => {},
      );
    };
    this.probe = setInterval(probe, PROBE_INTERVAL_MS);
    this.probe.unref();
    probe();
  }

  private resume(): void {
    this.suspended = false;
    if (this.probe !== null) clearInterval(this.probe);
    this.probe = null;
    this.announce();
  }

  private note(reason: ClusterProblem['reason'], detail: string): void {
    if (this.connected) return;
    // `since` is when Redis went away, not the latest failed retry.
    this.state = { reason, since: this.announced?.since ?? Date.now(), detail };
    this.announce();
  }

  private announce(): void {
    const problem = this.problem;
    if (problem === null && this.announced === null) return;
    if (problem !== null && this.announced !== null) {
      this.announced = problem;
      return;
    }
    this.announced = problem;
    for (const listener of this.changeListeners) listener(problem);
  }
}

/**
 * `promise`, or a RedisTimeoutError after `ms`. The timeout is decided one event-loop turn
 * late on purpose: a reply already read from the socket is handled in the poll phase, before
 * `setImmediate` callbacks, so a loop that was busy past the deadline does not turn a prompt
 * answer into a timeout.
 */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(new RedisTimeoutError(ms));
      });
    }, ms);
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
