import type { Clock } from '../../src/domain/clock.js';

/** A clock for Keygate that stands still until a test moves it. */
export interface TestClock {
  /** Pass as `startTestServer(…, { clock: clock.now })`. */
  readonly now: Clock;
  /** Moves time forward: an expiry or grace period passes exactly, however slow the machine. */
  advance(ms: number): void;
  /**
   * Moves time forward to the real time if it is behind (never back): between tests, for suites
   * whose clients date what they sign by the real clock (jose's `setIssuedAt`), which Keygate
   * refuses once it is more than the clock skew ahead of Keygate's time.
   */
  catchUp(): void;
}

/**
 * A stepped clock starting at `start` (default: the real time, so that client libraries which
 * read the real clock, such as jose and openid-client, see Keygate's tokens as current).
 *
 * @example
 * const clock = testClock();
 * const t = await startTestServer('sqlite', {}, { clock: clock.now });
 * clock.advance(1_000); // the key that expired 800 ms after creation is now EXPIRED
 */
export function testClock(start: number = Date.now()): TestClock {
  let current = start;
  return {
    now: () => current,
    advance(ms: number): void {
      current += ms;
    },
    catchUp(): void {
      current = Math.max(current, Date.now());
    },
  };
}
