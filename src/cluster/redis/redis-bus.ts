import type { Redis } from 'ioredis';
import type { InvalidationBus } from '../cluster.js';

/** Invalidations over Redis pub/sub: every instance drops the named keys from its cache. */
export class RedisBus implements InvalidationBus {
  private readonly channel: string;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    prefix: string,
  ) {
    this.channel = `${prefix}invalidate`;
  }

  async publish(keyIds: readonly string[]): Promise<void> {
    if (keyIds.length > 0) await this.publisher.publish(this.channel, JSON.stringify(keyIds));
  }

  subscribe(listener: (keyIds: string[]) => void): void {
    void this.subscriber.subscribe(this.channel);
    this.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) listener(JSON.parse(message) as string[]);
    });
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
