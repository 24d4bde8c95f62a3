import type { FastifyInstance } from 'fastify';
import { KeygateError } from '../domain/errors.js';

/**
 * How deeply a JSON request body may nest arrays and objects. No Keygate body needs more than a
 * few levels (key `meta` is where people nest); the bound keeps every later recursive walk —
 * schema validation, `JSON.stringify` into the store, the audit log — far from the stack limit.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether the JSON text nests arrays and objects deeper than `max`, found by one pass over the
 * characters before anything parses it (brackets inside strings do not count). Invalid JSON may
 * answer either way: the parser refuses it next.
 *
 * @example
 * jsonNestsDeeperThan('[[[]]]', 2) // true
 * jsonNestsDeeperThan('{"a":"[[["}', 1) // false
 */
export function jsonNestsDeeperThan(text: string, max: number): boolean {
  // Nesting deeper than `max` needs more than `max` opening brackets: most bodies have a few,
  // and counting them with indexOf is several times cheaper than the walk below.
  if (openingBracketsAtMost(text, max)) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (inString) {
      if (code === 0x5c) i++;
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x7b || code === 0x5b) {
      if (++depth > max) return true;
    } else if (code === 0x7d || code === 0x5d) {
      depth--;
    }
  }
  return false;
}

function openingBracketsAtMost(text: string, max: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > max) return false;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > max) return false;
  return true;
}

/**
 * Replaces Fastify's JSON body parser with the same parser behind a depth check, so a body like
 * `[[[[…]]]]` 100 000 levels deep is a 400 `JSON_TOO_DEEP`, never a stack overflow later on.
 * Fastify's own parser still refuses empty bodies and prototype poisoning.
 *
 * @example
 * boundJsonDepth(app);
 */
export function boundJsonDepth(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonNestsDeeperThan(body as string, MAX_JSON_DEPTH)) {
      done(new KeygateError('JSON_TOO_DEEP', `the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`), undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
