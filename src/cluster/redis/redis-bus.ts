import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { InvalidationBus } from '../cluster.js';
import type { RedisLink } from './redis-link.js';

/** Most ids one message may name; a longer one is not Keygate's and is dropped. */
const MAX_IDS_PER_MESSAGE = 10_000;

/**
 * Invalidations over Redis pub/sub: every instance drops the named keys from its cache, and
 * reads the revocation feed of the named tenants.
 *
 * Pub/sub keeps nothing for an absent subscriber. A subscriber that was away resynchronises
 * when it is back (`RedisLink.onReconnect`); a publisher whose messages were lost (Redis away
 * when it published) asks every instance to resynchronise on the `resync` channel once Redis
 * answers again, since the others may never have lost their own connection.
 */
export class RedisBus implements InvalidationBus {
  private readonly channel: string;
  private readonly revocationsChannel: string;
  private readonly resyncChannel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  /** Tells this instance's own resync request apart from the others'. */
  private readonly instance = randomUUID();
  /** True when a message of this instance was not published: the others must resynchronise. */
  private lostMessages = false;

  constructor(
    private readonly link: RedisLink,
    prefix: string,
  ) {
    this.publisher = link.client;
    this.subscriber = link.subscriber;
    this.channel = `${prefix}invalidate`;
    this.revocationsChannel = `${prefix}revocations`;
    this.resyncChannel = `${prefix}resync`;
    this.listen(this.resyncChannel, ([from]) => {
      if (from !== this.instance) link.resynchronise();
    });
    link.onChange((problem) => {
      if (problem === null && this.lostMessages) void this.askResync();
    });
  }

  async publish(keyIds: readonly string[]): Promise<void> {
    if (keyIds.length > 0) await this.send(this.channel, JSON.stringify(keyIds));
  }

  subscribe(listener: (keyIds: string[]) => void): void {
    this.listen(this.channel, listener);
  }

  async publishRevocations(tenantIds: readonly string[]): Promise<void> {
    if (tenantIds.length > 0) await this.send(this.revocationsChannel, JSON.stringify(tenantIds));
  }

  subscribeRevocations(listener: (tenantIds: string[]) => void): void {
    this.listen(this.revocationsChannel, listener);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }

  /**
   * Publishes within the link's time budget. A message that cannot be sent is not an error for
   * the change that caused it (already stored): it is remembered, and the others resynchronise.
   */
  private async send(channel: string, message: string): Promise<void> {
    await this.link.run(
      async () => {
        await this.publisher.publish(channel, message);
      },
      () => {
        this.lostMessages = true;
      },
    );
  }

  private async askResync(): Promise<void> {
    this.lostMessages = false;
    await this.send(this.resyncChannel, JSON.stringify([this.instance]));
  }

  private listen(channel: string, listener: (ids: string[]) => void): void {
    // ioredis keeps the subscription across reconnects; it is only ever rejected by close().
    this.subscriber.subscribe(channel).catch(() => {});
    this.subscriber.on('message', (from: string, message: string) => {
      if (from !== channel) return;
      // Anyone who can write to Redis can publish here: a message that is not a list of ids is dropped, never thrown.
      const ids = parseIds(message);
      if (ids !== null) listener(ids);
    });
  }
}

function parseIds(message: string): string[] | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length > MAX_IDS_PER_MESSAGE || !parsed.every((id) => typeof id === 'string')) return null;
  return parsed as string[];
}
