/**
 * Plain-text tables and key/value blocks for human output. No colours and no box drawing, so
 * the output stays readable when piped to `grep`, `less` or a log.
 */

/** What a table cell or field may hold; null and undefined print as `-`. */
export type Cell = string | number | boolean | null | undefined;

/**
 * Makes a value safe and single-line for a terminal: values come from the server and could
 * carry newlines that break alignment or escape sequences that rewrite the screen.
 *
 * @example
 * printable('a\nb'); // 'a b'
 * printable(null); // '-'
 */
export function printable(value: Cell): string {
  if (value === null || value === undefined || value === '') return '-';
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

/**
 * Formats rows under headers as aligned columns separated by two spaces. The last column is
 * not padded, so lines carry no trailing blanks.
 *
 * @example
 * formatTable(['SLUG', 'NAME'], [['acme', 'Acme Inc'], ['globex', 'Globex']]);
 * // SLUG    NAME
 * // acme    Acme Inc
 * // globex  Globex
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const lines = [headers.map(printable), ...rows.map((row) => headers.map((_, i) => printable(row[i])))];
  const widths = headers.map((_, i) => Math.max(...lines.map((line) => width(line[i]!))));
  return lines
    .map((line) =>
      line
        .map((cell, i) => (i === line.length - 1 ? cell : cell + ' '.repeat(widths[i]! - width(cell))))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * Formats one object as `label  value` lines with the values aligned.
 *
 * @example
 * formatFields([['id', 'ten_1'], ['slug', 'acme']]);
 * // id    ten_1
 * // slug  acme
 */
export function formatFields(fields: readonly (readonly [string, Cell])[]): string {
  const labelWidth = Math.max(0, ...fields.map(([label]) => width(label)));
  return fields.map(([label, value]) => `${label}${' '.repeat(labelWidth - width(label))}  ${printable(value)}`.trimEnd()).join('\n');
}

/** Counts code points, not UTF-16 units, so accented names and most symbols line up. */
function width(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}
