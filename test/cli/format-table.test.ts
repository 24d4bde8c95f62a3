import { describe, expect, it } from 'vitest';
import { formatFields, formatTable, printable } from '../../src/cli/format-table.js';

describe('formatTable', () => {
  it('aligns columns under the headers, two spaces apart', () => {
    const text = formatTable(['SLUG', 'NAME', 'ID'], [['acme', 'Acme Inc', 'ten_1'], ['globex', 'Globex', 'ten_22']]);
    expect(text.split('\n')).toEqual([
      'SLUG    NAME      ID',
      'acme    Acme Inc  ten_1',
      'globex  Globex    ten_22',
    ]);
  });

  it('shows empty, null and undefined cells as "-", numbers and booleans as text', () => {
    expect(formatTable(['A', 'B', 'C', 'D'], [[null, undefined, '', 3], [true, false, 0, 'x']]).split('\n')).toEqual([
      'A     B      C  D',
      '-     -      -  3',
      'true  false  0  x',
    ]);
  });

  it('leaves no trailing blanks, even when the last cell is short', () => {
    const text = formatTable(['NAME', 'NOTE'], [['a-long-name', ''], ['b', 'x']]);
    for (const line of text.split('\n')) expect(line).toBe(line.trimEnd());
  });

  it('with no rows prints the header line alone', () => {
    expect(formatTable(['ID', 'NAME'], [])).toBe('ID  NAME');
  });

  it('keeps a cell with a newline or an escape sequence on one line', () => {
    const text = formatTable(['NAME', 'ID'], [['evil\nname\u001b[2J', 'k1']]);
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toContain('\u001b');
  });

  it('counts accented letters as one column each', () => {
    const lines = formatTable(['NAME', 'ID'], [['Zoë', '1'], ['Zoe', '2']]).split('\n');
    expect(lines[1]!.indexOf('1')).toBe(6);
    expect([...lines[1]!].indexOf('1')).toBe([...lines[2]!].indexOf('2'));
  });
});

describe('formatFields', () => {
  it('aligns values after the longest label', () => {
    expect(formatFields([['id', 'key_1'], ['expiresAt', null], ['enabled', true]]).split('\n')).toEqual([
      'id         key_1',
      'expiresAt  -',
      'enabled    true',
    ]);
  });
});

describe('printable', () => {
  it('replaces control characters and marks absence', () => {
    expect(printable('a\tb\r\nc')).toBe('a b  c');
    expect(printable(null)).toBe('-');
  });
});
