import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cluster } from '../../src/cluster/cluster.js';
import { createMemoryCluster } from '../../src/cluster/memory/memory-cluster.js';
import { createRedisCluster } from '../../src/cluster/redis/redis-cluster.js';
import { REDIS_URL } from '../helpers/backends.js';

const IMPLEMENTATIONS = [
  // One process: the cache is invalidated directly, so the bus carries nothing to anyone.
  { kind: 'memory', delivers: false },
  { kind: 'redis', delivers: true },
] as const;

/** What one instance's listeners received, per channel, in order. */
interface Received {
  keys: string[][];
  revocations: string[][];
}

/** Waits (polling, bounded) for pub/sub to deliver: the only wait here is for Redis's own I/O. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

const names = (messages: string[][], id: string): boolean => messages.some((ids) => ids.includes(id));

/**
 * One contract for every `InvalidationBus`: key ids reach every instance's key cache (the
 * publisher's own included), tenant ids reach the revocation feed readers, and nothing that is
 * not a list of ids (anyone who can write to Redis can publish) ever reaches a listener.
 */
describe.each(IMPLEMENTATIONS)('InvalidationBus contract ($kind)', ({ kind, delivers }) => {
  const prefix = `kgtest:${process.pid}:${randomUUID()}:`;
  /** Two instances of Keygate sharing the bus. */
  const instances: Cluster[] = [];
  const received: Received[] = [];
  let raw: Redis | null = null;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) {
      const cluster = kind === 'memory' ? createMemoryCluster() : createRedisCluster({ url: REDIS_URL, prefix, timeoutMs: 5_000 });
      expect(await cluster.connection.whenConnected(5_000)).toBe(true);
      const mine: Received = { keys: [], revocations: [] };
      cluster.bus.subscribe((ids) => mine.keys.push(ids));
      cluster.bus.subscribeRevocations((ids) => mine.revocations.push(ids));
      instances.push(cluster);
      received.push(mine);
    }
    if (!delivers) return;
    raw = new Redis(REDIS_URL);
    // The subscriptions are made asynchronously: the bus is in use once a probe on each channel arrives everywhere.
    const probe = `probe-${randomUUID()}`;
    await until(() => {
      void instances[0]!.bus.publish([probe]);
      void instances[0]!.bus.publishRevocations([probe]);
      return received.every((r) => names(r.keys, probe) && names(r.revocations, probe));
    });
  });

  afterAll(async () => {
    for (const cluster of instances) await cluster.close();
    if (raw) {
      const keys = await raw.keys(`${prefix}*`);
      if (keys.length > 0) await raw.del(...keys);
      raw.disconnect();
    }
  });

  it.skipIf(delivers)('delivers nothing in one process: publishing resolves and no listener runs', async () => {
    const before = JSON.stringify(received);
    await instances[0]!.bus.publish(['key_a']);
    await instances[0]!.bus.publishRevocations(['ten_a']);
    expect(JSON.stringify(received)).toBe(before);
  });

  it.skipIf(!delivers)('delivers key ids to every instance, the publisher included', async () => {
    const ids = [`key_${randomUUID()}`, `key_${randomUUID()}`];
    await instances[0]!.bus.publish(ids);
    await until(() => received.every((r) => names(r.keys, ids[0]!)));
    for (const r of received) expect(r.keys.find((message) => message.includes(ids[0]!))).toEqual(ids);
  });

  it.skipIf(!delivers)('keeps the channels apart: tenant ids reach the revocation listeners only', async () => {
    const tenant = `ten_${randomUUID()}`;
    const after = `key_${randomUUID()}`;
    await instances[1]!.bus.publishRevocations([tenant]);
    // Published after, on the same connection: once it arrives, the revocation message has been handled too.
    await instances[1]!.bus.publish([after]);
    await until(() => received.every((r) => names(r.keys, after) && names(r.revocations, tenant)));
    for (const r of received) {
      expect(names(r.keys, tenant)).toBe(false);
      expect(names(r.revocations, after)).toBe(false);
    }
  });

  it.skipIf(!delivers)('publishes nothing for an empty list', async () => {
    const counts = received.map((r) => [r.keys.length, r.revocations.length]);
    await instances[0]!.bus.publish([]);
    await instances[0]!.bus.publishRevocations([]);
    const marker = `key_${randomUUID()}`;
    await instances[0]!.bus.publish([marker]);
    await until(() => received.every((r) => names(r.keys, marker)));
    expect(received.map((r) => [r.keys.length - 1, r.revocations.length])).toEqual(counts);
  });

  it.skipIf(!delivers)('drops every message that is not a list of ids, on both channels', async () => {
    const counts = received.map((r) => [r.keys.length, r.revocations.length]);
    const malformed = ['not json', '{"ids":["key_x"]}', '"key_x"', '[1,2]', '["key_x",null]', 'null', JSON.stringify(Array.from({ length: 10_001 }, (_, i) => `key_${i}`))];
    for (const channel of ['invalidate', 'revocations']) {
      for (const message of malformed) await raw!.publish(`${prefix}${channel}`, message);
    }
    // A well-formed message from the same connection, last: once it arrives, the others were handled.
    const marker = `ten_${randomUUID()}`;
    await raw!.publish(`${prefix}invalidate`, JSON.stringify([marker]));
    await raw!.publish(`${prefix}revocations`, JSON.stringify([marker]));
    await until(() => received.every((r) => names(r.keys, marker) && names(r.revocations, marker)));
    expect(received.map((r) => [r.keys.length - 1, r.revocations.length - 1])).toEqual(counts);
  });

  it.skipIf(!delivers)('hears nothing published under another prefix (another deployment sharing the Redis)', async () => {
    const counts = received.map((r) => [r.keys.length, r.revocations.length]);
    const stranger = `key_${randomUUID()}`;
    await raw!.publish(`kgtest:other-${randomUUID()}:invalidate`, JSON.stringify([stranger]));
    const marker = `key_${randomUUID()}`;
    await raw!.publish(`${prefix}invalidate`, JSON.stringify([marker]));
    await until(() => received.every((r) => names(r.keys, marker)));
    expect(received.map((r) => [r.keys.length - 1, r.revocations.length])).toEqual(counts);
  });
});
