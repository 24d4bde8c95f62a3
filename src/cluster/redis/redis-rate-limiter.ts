import type { Redis } from 'ioredis';
import type { RatelimitChain } from '../../domain/keys/effective-key.js';
import type { RateLimiter, RatelimitOutcome } from '../cluster.js';
import { chainStates } from '../sliding-window.js';

/**
 * The sliding-window counter of `../sliding-window.ts`, run in one Lua script so that every
 * limit of a key and of its ancestors is checked and consumed atomically across all Keygate
 * instances (all checked, then all incremented, or none).
 * KEYS: per limit, the current and the previous window's counter.
 * ARGV: now, peek (1: check without consuming), then per limit: limit, duration, window start.
 * Returns: allowed (0/1), then per limit the count after this request.
 */
const SCRIPT = `
local now = tonumber(ARGV[1])
local peek = ARGV[2] == '1'
local n = #KEYS / 2
local counts = {}
local allowed = 1
for i = 1, n do
  local limit = tonumber(ARGV[3 + (i - 1) * 3])
  local duration = tonumber(ARGV[4 + (i - 1) * 3])
  local start = tonumber(ARGV[5 + (i - 1) * 3])
  local current = tonumber(redis.call('GET', KEYS[i * 2 - 1]) or '0')
  local previous = tonumber(redis.call('GET', KEYS[i * 2]) or '0')
  local used = math.floor(previous * (1 - (now - start) / duration)) + current
  counts[i] = used
  if used + 1 > limit then allowed = 0 end
end
if allowed == 1 and not peek then
  for i = 1, n do
    local duration = tonumber(ARGV[4 + (i - 1) * 3])
    redis.call('INCR', KEYS[i * 2 - 1])
    redis.call('PEXPIRE', KEYS[i * 2 - 1], duration * 2)
    counts[i] = counts[i] + 1
  end
end
local out = { allowed }
for i = 1, n do out[#out + 1] = counts[i] end
return out
`;

type WithRatelimit = Redis & { keygateRatelimit(...args: (string | number)[]): Promise<number[]> };

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: WithRatelimit;

  constructor(redis: Redis, private readonly prefix: string) {
    redis.defineCommand('keygateRatelimit', { lua: SCRIPT });
    this.redis = redis as WithRatelimit;
  }

  async limit(chain: RatelimitChain, now: number, options: { peek?: boolean } = {}): Promise<RatelimitOutcome> {
    const keys: string[] = [];
    const args: number[] = [now, options.peek === true ? 1 : 0];
    for (const { keyId, limits } of chain.subjects) {
      for (const config of limits) {
        const window = Math.floor(now / config.duration);
        // The hash tag keeps all of a family's counters in one Redis Cluster slot, so one
        // script may touch the counters of a key and of all its ancestors.
        const base = `${this.prefix}rl:{${chain.family}}:${keyId}:${config.name}:${config.duration}:`;
        keys.push(base + window, base + (window - 1));
        args.push(config.limit, config.duration, window * config.duration);
      }
    }
    const reply = await this.redis.keygateRatelimit(keys.length, ...keys, ...args);
    const states = chainStates(chain, now, (i) => Number(reply[i + 1]));
    return { allowed: reply[0] === 1, states };
  }

  async close(): Promise<void> {}
}
