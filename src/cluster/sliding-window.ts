/**
 * The sliding-window counter (as Cloudflare and Unkey use it): the previous fixed window's
 * count, weighted by how much of it still overlaps the sliding window, plus the current
 * window's count. Memory is O(1) per key and limit, and the estimate never lets more than
 * `limit` requests through in any window-aligned interval. The Redis backend runs the same
 * arithmetic in Lua (`redis/redis-rate-limiter.ts`).
 */
export function slidingCount(previous: number, current: number, now: number, windowStart: number, duration: number): number {
  const overlap = 1 - (now - windowStart) / duration;
  return Math.floor(previous * overlap) + current;
}
