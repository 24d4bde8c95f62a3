import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseExpiry } from '../../src/cli/durations.js';

const NOW = Date.parse('2030-01-01T00:00:00.000Z');

describe('parseDuration', () => {
  it.each([
    ['60000', 60_000],
    ['0', 0],
    ['500ms', 500],
    ['30s', 30_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    ['2w', 1_209_600_000],
    ['1h30m', 5_400_000],
    [' 1s ', 1_000],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '1.5h', '-1s', '1x', '1 h', 'h', '1h 30m', '99999999999999999999d'])('refuses %j with a message that shows the forms', (text) => {
    expect(() => parseDuration(text)).toThrow(RangeError);
  });

  it('says which forms are accepted', () => {
    expect(() => parseDuration('soon')).toThrow(/30s.*12h.*30d/);
  });
});

describe('parseExpiry', () => {
  it.each([
    ['30d', '2030-01-31T00:00:00.000Z'],
    ['12h', '2030-01-01T12:00:00.000Z'],
    ['1h30m', '2030-01-01T01:30:00.000Z'],
    ['2031-06-01', '2031-06-01T00:00:00.000Z'],
    ['2031-06-01T10:00:00Z', '2031-06-01T10:00:00.000Z'],
    ['2031-06-01T10:00', '2031-06-01T10:00:00.000Z'],
    ['2031-06-01T10:00:00+02:00', '2031-06-01T08:00:00.000Z'],
    ['2031-06-01 10:00:00.250Z', '2031-06-01T10:00:00.250Z'],
  ])('reads %s as %s (a time without offset is UTC)', (text, iso) => {
    expect(parseExpiry(text, { now: NOW })).toBe(iso);
  });

  it('refuses a bare number, which could be ms, seconds or a Unix time', () => {
    expect(() => parseExpiry('1735689600', { now: NOW })).toThrow(/ambiguous/);
  });

  it.each(['2030-02-30', '2030-13-01', 'tomorrow', '2030-01-01T25:00'])('refuses %s', (text) => {
    expect(() => parseExpiry(text, { now: NOW })).toThrow(RangeError);
  });
});

describe('formatDuration', () => {
  it.each([
    [604_800_000, '1w'],
    [86_400_000, '1d'],
    [5_400_000, '90m'],
    [60_000, '1m'],
    [1_000, '1s'],
    [1_500, '1500ms'],
    [0, '0ms'],
  ])('shows %i ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1_000, 60_000, 5_400_000, 86_400_000, 1_209_600_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
  });
});
