import { KeygateError } from '../domain/errors.js';
import type { Page, PageRequest } from '../store/store.js';

/** The ids Keygate generates (`newId`): what a cursor names unless the list says otherwise. */
const GENERATED_ID = /^[a-z]{3}_[0-9a-f]{12}[0-9A-Za-z]{16}$/;

/**
 * Cursors are opaque to clients: base64url of `v1:{last id}`. Decoding checks the shape so a
 * tampered cursor is a 400, not a query with garbage. `ids` is the shape of the list's ids, for
 * a list whose ids are not all generated (consumers take the owner's own ids).
 */
export function pageRequest(query: { cursor?: string; limit?: string }, options: { ids?: RegExp } = {}): PageRequest {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  if (query.cursor === undefined || query.cursor === '') return { after: null, limit };
  const decoded = Buffer.from(query.cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith('v1:') || !(options.ids ?? GENERATED_ID).test(decoded.slice(3))) {
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
