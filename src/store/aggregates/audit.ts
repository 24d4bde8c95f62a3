import { sql } from 'kysely';
import type { AuditEvent, AuditFilter } from '../../domain/audit.js';
import type { Db, KyselyContext, TenantRows } from '../kysely-context.js';
import type { Page, PageRequest } from '../page.js';
import type { AuditEventsTable } from '../schema.js';

/** The audit log: append-only events, denials folded per key, listing, retention. */
export interface AuditStore {
  /** Inserts events; an event with an `aggregate` adds its count to the row of the same key. */
  append(events: readonly AuditEvent[]): Promise<void>;
  /** The tenant's events, newest first, narrowed by the filter. */
  list(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>>;
  /** Retention: deletes audit events that happened before `before`; returns how many. */
  prune(before: number): Promise<number>;
}

/** Rows per INSERT: 13 parameters each stays well under SQLite's 32,766 and PostgreSQL's 65,535. */
const AUDIT_CHUNK = 500;

export function eventToRow(event: AuditEvent): AuditEventsTable {
  return {
    id: event.id,
    tenant_id: event.tenantId,
    at: event.at,
    actor: event.actor,
    action: event.action,
    target: event.target,
    request_id: event.requestId,
    ip: event.ip,
    data: JSON.stringify(event.data),
    count: event.aggregate?.count ?? 1,
    last_at: event.aggregate?.lastAt ?? null,
    last_request_id: event.aggregate?.lastRequestId ?? null,
    aggregate_key: event.aggregate?.key ?? null,
  };
}

export function rowToEvent(row: AuditEventsTable): AuditEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    at: Number(row.at),
    actor: row.actor,
    action: row.action,
    target: row.target,
    requestId: row.request_id,
    ip: row.ip,
    data: JSON.parse(row.data) as Record<string, unknown>,
    ...(row.aggregate_key === null
      ? {}
      : { aggregate: { key: row.aggregate_key, count: Number(row.count), lastAt: Number(row.last_at ?? row.at), lastRequestId: row.last_request_id } }),
  };
}

/**
 * Writes the events of a change inside the change's transaction: every aggregate's writes call
 * this, so a change and its event are stored together or not at all.
 */
export async function insertEvents(db: Db, events: readonly AuditEvent[]): Promise<void> {
  await db.insertInto('audit_events').values(events.map(eventToRow)).execute();
}


/** How a tenant's events leave with it. */
export const AUDIT_TENANT_ROWS: TenantRows<'audit_events'> = {
  audit_events: (trx, tenantId) => trx.deleteFrom('audit_events').where('tenant_id', '=', tenantId).execute(),
};

export class KyselyAuditStore implements AuditStore {
  constructor(private readonly k: KyselyContext) {}

  /**
   * Appends a batch: events kept one by one are inserted; aggregated denials are upserted on their
   * key, so every instance adds its count to the same row, which keeps the earliest first
   * occurrence and the latest last one.
   */
  append(events: readonly AuditEvent[]): Promise<void> {
    return this.k.guard(async () => {
      const single = events.filter((e) => e.aggregate === undefined).map(eventToRow);
      // Sorted by key: two instances' upserts lock the rows they share in the same order, so
      // PostgreSQL cannot deadlock them against each other.
      const folded = events
        .filter((e) => e.aggregate !== undefined)
        .map(eventToRow)
        .sort((a, b) => (a.aggregate_key! < b.aggregate_key! ? -1 : a.aggregate_key! > b.aggregate_key! ? 1 : 0));
      for (let i = 0; i < single.length; i += AUDIT_CHUNK) {
        await this.k.db.insertInto('audit_events').values(single.slice(i, i + AUDIT_CHUNK)).execute();
      }
      for (let i = 0; i < folded.length; i += AUDIT_CHUNK) {
        await upsertAggregates(this.k.db, folded.slice(i, i + AUDIT_CHUNK));
      }
    });
  }

  /**
   * Newest first by id: ids are minted in time order and never change, so a cursor stays valid
   * while rows are added or counts grow. A time filter keeps rows that overlap [from, to): an
   * aggregated denial counts from its first to its last occurrence.
   */
  list(tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>> {
    if (filter.targets !== undefined && filter.targets.length === 0) return Promise.resolve({ items: [], next: null });
    return this.k.guard(async () => {
      let query = this.k.db.selectFrom('audit_events').selectAll().where('tenant_id', '=', tenantId);
      if (filter.action !== undefined) query = query.where('action', '=', filter.action);
      if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
      if (filter.target !== undefined) query = query.where('target', '=', filter.target);
      if (filter.targets !== undefined) query = query.where('target', 'in', filter.targets);
      if (filter.from !== undefined) query = query.where(sql<number>`coalesce(last_at, at)`, '>=', filter.from);
      if (filter.to !== undefined) query = query.where('at', '<', filter.to);
      if (page.after !== null) query = query.where('id', '<', page.after);
      const rows = await query.orderBy('id', 'desc').limit(page.limit + 1).execute();
      const more = rows.length > page.limit;
      const items = (more ? rows.slice(0, page.limit) : rows).map(rowToEvent);
      return { items, next: more ? rows[page.limit - 1]!.id : null };
    });
  }

  /** Changes and denials alike, by first occurrence, so the index on `at` serves it: a row spans a minute at most. */
  prune(before: number): Promise<number> {
    return this.k.guard(async () => {
      const result = await this.k.db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }
}

async function upsertAggregates(db: Db, rows: AuditEventsTable[]): Promise<void> {
  const earlier = sql<boolean>`excluded.at < audit_events.at`;
  const later = sql<boolean>`excluded.last_at >= audit_events.last_at`;
  await db
    .insertInto('audit_events')
    .values(rows)
    .onConflict((oc) =>
      oc.column('aggregate_key').doUpdateSet({
        count: sql<number>`audit_events.count + excluded.count`,
        at: sql<number>`case when ${earlier} then excluded.at else audit_events.at end`,
        request_id: sql<string | null>`case when ${earlier} then excluded.request_id else audit_events.request_id end`,
        ip: sql<string | null>`case when ${earlier} then excluded.ip else audit_events.ip end`,
        last_at: sql<number>`case when ${later} then excluded.last_at else audit_events.last_at end`,
        last_request_id: sql<string | null>`case when ${later} then excluded.last_request_id else audit_events.last_request_id end`,
      }),
    )
    .execute();
}
