import { sql, type Kysely } from 'kysely';
import type { AuditEvent, AuditFilter } from '../domain/audit.js';
import { eventToRow, rowToEvent } from './rows.js';
import type { AuditEventsTable, Database } from './schema.js';
import type { Page, PageRequest } from './store.js';

/** The SQL of the audit log, for KyselyStore: batched appends, aggregation upserts, listing, retention. */

/** Rows per INSERT: 13 parameters each stays well under SQLite's 32,766 and PostgreSQL's 65,535. */
const AUDIT_CHUNK = 500;

/**
 * Appends a batch: events kept one by one are inserted; aggregated denials are upserted on their
 * key, so every instance adds its count to the same row, which keeps the earliest first
 * occurrence and the latest last one.
 */
export async function appendAudit(db: Kysely<Database>, events: readonly AuditEvent[]): Promise<void> {
  const single = events.filter((e) => e.aggregate === undefined).map(eventToRow);
  // Sorted by key: two instances' upserts lock the rows they share in the same order, so
  // PostgreSQL cannot deadlock them against each other.
  const folded = events
    .filter((e) => e.aggregate !== undefined)
    .map(eventToRow)
    .sort((a, b) => (a.aggregate_key! < b.aggregate_key! ? -1 : a.aggregate_key! > b.aggregate_key! ? 1 : 0));
  for (let i = 0; i < single.length; i += AUDIT_CHUNK) {
    await db.insertInto('audit_events').values(single.slice(i, i + AUDIT_CHUNK)).execute();
  }
  for (let i = 0; i < folded.length; i += AUDIT_CHUNK) {
    await upsertAggregates(db, folded.slice(i, i + AUDIT_CHUNK));
  }
}

async function upsertAggregates(db: Kysely<Database>, rows: AuditEventsTable[]): Promise<void> {
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

/**
 * The tenant's events, newest first (by id: ids are minted in time order and never change, so a
 * cursor stays valid while rows are added or counts grow). A time filter keeps rows that overlap
 * [from, to): an aggregated denial counts from its first to its last occurrence.
 */
export async function listAudit(db: Kysely<Database>, tenantId: string, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEvent>> {
  let query = db.selectFrom('audit_events').selectAll().where('tenant_id', '=', tenantId);
  if (filter.action !== undefined) query = query.where('action', '=', filter.action);
  if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
  if (filter.target !== undefined) query = query.where('target', '=', filter.target);
  if (filter.from !== undefined) query = query.where(sql<number>`coalesce(last_at, at)`, '>=', filter.from);
  if (filter.to !== undefined) query = query.where('at', '<', filter.to);
  if (page.after !== null) query = query.where('id', '<', page.after);
  const rows = await query.orderBy('id', 'desc').limit(page.limit + 1).execute();
  const more = rows.length > page.limit;
  const items = (more ? rows.slice(0, page.limit) : rows).map(rowToEvent);
  return { items, next: more ? rows[page.limit - 1]!.id : null };
}

/**
 * Deletes events (changes and denials alike) that first happened before `before`; returns how
 * many. By first occurrence, so the index on `at` serves it: a row spans a minute at most.
 */
export async function pruneAudit(db: Kysely<Database>, before: number): Promise<number> {
  const result = await db.deleteFrom('audit_events').where('at', '<', before).executeTakeFirst();
  return Number(result.numDeletedRows);
}
