import { sql, type RawBuilder } from 'kysely';

/**
 * A case-insensitive "contains" match of `search` over any of `columns`, the same on SQLite and
 * PostgreSQL: both lower-case the column and compare with LIKE, and `%`, `_` and `\` in the
 * search are escaped so that what the person typed is matched literally, never as a pattern.
 *
 * @example
 * query.where(containsAny(['name', 'id'], 'billing'))
 */
export function containsAny(columns: readonly string[], search: string): RawBuilder<boolean> {
  const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const tests = columns.map((column) => sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`);
  return sql<boolean>`(${sql.join(tests, sql` or `)})`;
}
