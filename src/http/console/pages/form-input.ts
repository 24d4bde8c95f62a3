import { param, type Form } from '../../oauth/form.js';
import type { V1Result } from '../context.js';

/**
 * Reading the console's forms and queries the same way on every page: trimmed texts,
 * ticked checkboxes, numbers left as typed when they are not whole (so /v1 refuses them in its
 * own words and the form comes back as sent), and rows of repeated fields.
 */

/** A field's text, trimmed; '' when missing. A repeated field is refused (`param`). */
export function text(form: Form, name: string): string {
  return (param(form, name) ?? '').trim();
}

/** A checkbox's state: ticked when the form carries it. */
export function checked(form: Form, name: string): boolean {
  return (form.get(name) ?? []).length > 0;
}

/** A whole number as a number; anything else as typed, for /v1 to refuse with its own words. */
export function whole(value: string): number | string {
  return /^\d{1,12}$/.test(value) ? Number(value) : value;
}

/** '' as null: an emptied optional field clears the setting. */
export function orNull(value: string): string | null {
  return value === '' ? null : value;
}

/** The non-blank lines of a textarea, trimmed. */
export function lines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * Repeated fields read as rows: the n-th value of each name makes row n. Text inputs are always
 * sent, even empty, so the columns line up; checkboxes are not, and so never go through here.
 *
 * @example
 * zipRows(form, ['issuer', 'jwksUri']) // [{ issuer: 'https://idp', jwksUri: 'https://idp/jwks' }, …]
 */
export function zipRows<N extends string>(form: Form, names: readonly N[]): Record<N, string>[] {
  const columns = names.map((name) => form.get(name) ?? []);
  const length = Math.max(0, ...columns.map((column) => column.length));
  return Array.from({ length }, (_, i) => Object.fromEntries(names.map((name, j) => [name, (columns[j]![i] ?? '').trim()])) as Record<N, string>);
}

/** The named query parameters that came as one text each; repeated or missing ones are left out. */
export function queryText(query: unknown, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const record = (query ?? {}) as Record<string, unknown>;
  for (const name of names) {
    const value = record[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

/** A list page's query: each named parameter as a trimmed text, '' when missing or repeated (/v1 checks the values). */
export function listQuery(query: unknown, names: readonly string[]): Record<string, string> {
  const record = (query ?? {}) as Record<string, unknown>;
  return Object.fromEntries(names.map((name) => [name, typeof record[name] === 'string' ? (record[name] as string).trim() : '']));
}

/** A problem of the console's own, in /v1's shape, for a form the page refuses before calling /v1. */
export function formProblem(detail: string): V1Result {
  return { status: 400, body: { title: 'The form is not complete', detail, code: 'INVALID_REQUEST' } };
}
