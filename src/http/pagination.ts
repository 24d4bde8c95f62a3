import { KeygateError } from '../domain/errors.js';
import type { Page, PageRequest } from '../store/store.js';

/**
 * Cursors are opaque to clients: base64url of `v1:{last id}`. Decoding checks the shape so a
 * tampered cursor is a 400, not a query with garbage.
 */
export function pageRequest(query: { cursor?: string; limit?: string }): PageRequest {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (query.cursor === undefined || query.cursor === '') return { after: null, limit };
  const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!/^v1:[a-z]{3}_[0-9a-f]{12}[0-9A-Za-z]{16}$/.test(decoded)) {
    throw new KeygateError('INVALID_CURSOR', 'cursor is not one this API returned; start again without it');
  }
  return { after: decoded.slice(3), limit };
}

export function pageResponse<T, V>(page: Page<T>, view: (item: T) => V): { items: V[]; nextCursor: string | null } {
  return {
    items: page.items.map(view),
    nextCursor: page.next === null ? null : Buffer.from(`v1:${page.next}`).toString('base64url'),
  };
}
