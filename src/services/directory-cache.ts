import type { InvalidationBus } from '../cluster/cluster.js';
import type { Clock } from '../domain/clock.js';
import type { Client } from '../domain/clients.js';
import type { Api } from '../domain/apis.js';
import type { Tenant } from '../domain/tenants.js';
import { isReservedSlug } from '../domain/management.js';
import type { ClientSecretRecord, DirectoryStore } from '../store/store.js';

interface Entry<T> {
  value: T;
  at: number;
}

/** How long tenants, APIs and clients are served from memory when no change was announced. */
export const DIRECTORY_TTL_MS = 5_000;
const MAX_ENTRIES = 50_000;

/**
 * Tenants, APIs and clients as the hot paths (token endpoint, JWT verify) read them: from memory,
 * at most `DIRECTORY_TTL_MS` old. A change made through this process drops the entry before it
 * returns and announces the id on the cluster bus, so other instances drop it too.
 */
export class DirectoryCache {
  private readonly tenants = new Map<string, Entry<Tenant | null>>();
  private readonly apis = new Map<string, Entry<Api | null>>();
  private readonly apisById = new Map<string, Entry<Api | null>>();
  private readonly clients = new Map<string, Entry<{ client: Client; secrets: ClientSecretRecord[] } | null>>();

  constructor(
    private readonly store: DirectoryStore,
    private readonly clock: Clock,
    private readonly bus: InvalidationBus,
  ) {
    bus.subscribe((ids) => this.drop(ids));
  }

  /** The tenant a request names; null for an unknown or reserved slug (see `isReservedSlug`). */
  tenant(slug: string): Promise<Tenant | null> {
    if (isReservedSlug(slug)) return Promise.resolve(null);
    return this.read(this.tenants, slug, () => this.store.findTenantBySlug(slug));
  }

  /** The tenant if it is in memory and fresh, else undefined: lets hot paths skip a promise. */
  tenantIfCached(slug: string): Tenant | null | undefined {
    if (isReservedSlug(slug)) return null;
    const hit = this.tenants.get(slug);
    return hit !== undefined && this.clock() - hit.at < DIRECTORY_TTL_MS ? hit.value : undefined;
  }

  api(tenantId: string, identifier: string): Promise<Api | null> {
    return this.read(this.apis, `${tenantId} ${identifier}`, () => this.store.findApi(tenantId, identifier));
  }

  /** The API if it is in memory and fresh, else undefined: lets hot paths skip a promise. */
  apiIfCached(tenantId: string, identifier: string): Api | null | undefined {
    const hit = this.apis.get(`${tenantId} ${identifier}`);
    return hit !== undefined && this.clock() - hit.at < DIRECTORY_TTL_MS ? hit.value : undefined;
  }

  /** The API with this id, of any tenant (the caller compares `tenantId`): what codes and refresh tokens name. */
  apiById(id: string): Promise<Api | null> {
    return this.read(this.apisById, id, () => this.store.findApiById(id));
  }

  client(tenantId: string, id: string): Promise<{ client: Client; secrets: ClientSecretRecord[] } | null> {
    return this.read(this.clients, `${tenantId} ${id}`, async () => {
      const client = await this.store.findClient(tenantId, id);
      return client === null ? null : { client, secrets: await this.store.clientSecrets(id) };
    });
  }

  /** Drops what changed, here and (through the bus) in every other instance. */
  async changed(ids: readonly string[]): Promise<void> {
    this.drop(ids);
    await this.bus.publish(ids);
  }

  /** Drops everything: announcements may have been missed while Redis was away. */
  clear(): void {
    this.tenants.clear();
    this.apis.clear();
    this.apisById.clear();
    this.clients.clear();
  }

  private drop(ids: readonly string[]): void {
    // Tenant and API changes are rare: dropping those maps whole is simpler than indexing them.
    if (ids.some((id) => id.startsWith('ten_') || id.startsWith('api_'))) {
      this.tenants.clear();
      this.apis.clear();
      this.apisById.clear();
    }
    for (const id of ids) {
      if (!id.startsWith('cli_')) continue;
      for (const key of this.clients.keys()) if (key.endsWith(` ${id}`)) this.clients.delete(key);
    }
  }

  private async read<T>(map: Map<string, Entry<T>>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.clock();
    const hit = map.get(key);
    if (hit !== undefined && now - hit.at < DIRECTORY_TTL_MS) return hit.value;
    const value = await load();
    if (map.size >= MAX_ENTRIES) map.clear();
    map.set(key, { value, at: now });
    return value;
  }
}
