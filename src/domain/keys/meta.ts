import { KeygateError } from '../errors.js';

/** Most bytes a key's `meta` may serialise to. */
export const MAX_META_BYTES = 16_384;
/** Most levels of objects and arrays in a key's `meta` (the top-level object is level 1). */
export const MAX_META_DEPTH = 16;

/**
 * Refuses a `meta` nested deeper than MAX_META_DEPTH or larger than MAX_META_BYTES
 * (INVALID_REQUEST). The depth is measured without recursion and before anything serialises
 * it, so a body of 100,000 nested arrays is a 400, not a stack overflow.
 *
 * @example
 * validateMeta({ plan: 'pro', limits: { seats: 5 } }) // passes
 */
export function validateMeta(meta: Readonly<Record<string, unknown>>): void {
  const pending: { value: unknown; depth: number }[] = [{ value: meta, depth: 1 }];
  while (pending.length > 0) {
    const { value, depth } = pending.pop()!;
    if (depth > MAX_META_DEPTH) throw new KeygateError('INVALID_REQUEST', `meta may nest at most ${MAX_META_DEPTH} levels deep`);
    for (const child of Object.values(value as object)) {
      if (child !== null && typeof child === 'object') pending.push({ value: child, depth: depth + 1 });
    }
  }
  if (new TextEncoder().encode(JSON.stringify(meta)).length > MAX_META_BYTES) {
    throw new KeygateError('INVALID_REQUEST', `meta must serialise to at most ${MAX_META_BYTES} bytes`);
  }
}
