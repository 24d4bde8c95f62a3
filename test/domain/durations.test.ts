import { describe, expect, it } from 'vitest';
import { expiryInWords, formatDuration, parseDuration, parseExpiry, parseInstant, timeInWords } from '../../src/domain/durations.js';

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

describe('parseInstant', () => {
  it.each([
    ['2031-06-01', '2031-06-01T00:00:00.000Z'],
    ['2031-06-01T10:00', '2031-06-01T10:00:00.000Z'],
    ['2031-06-01T10:00:00+02:00', '2031-06-01T08:00:00.000Z'],
  ])('reads %s as %s (a time without offset is UTC)', (text, iso) => {
    expect(parseInstant(text)).toBe(iso);
  });

  it.each(['yesterday', '30d', '1735689600', '2030-02-30', '2030-01-01T25:00'])('refuses %s: a moment, not a duration or a Unix time', (text) => {
    expect(() => parseInstant(text)).toThrow(RangeError);
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

describe('timeInWords', () => {
  it.each([
    [3_599_000, 'in 59 minutes'],
    [3_600_000, 'in 1 hour'],
    [-3 * 86_400_000, '3 days ago'],
    [-60_000, '1 minute ago'],
    [-59_999, '59 seconds ago'],
    [1_000, 'in 1 second'],
    [400, 'in under a second'],
    [0, 'just now'],
    [-400, 'just now'],
    [2 * 86_400_000 - 1, 'in 1 day'],
    [400 * 86_400_000, 'in 1 year'],
    [-731 * 86_400_000, '2 years ago'],
  ])('says %i ms from now is %j (rounded down, never more than there is)', (delta, words) => {
    expect(timeInWords(NOW + delta, { now: NOW })).toBe(words);
  });
});

describe('expiryInWords', () => {
  const nowSec = NOW / 1000;

  it('says how long a token has left, or how long ago it ran out', () => {
    expect(expiryInWords(nowSec + 3599, { now: NOW })).toBe('expires in 59 minutes');
    expect(expiryInWords(nowSec - 3 * 86_400, { now: NOW })).toBe('expired 3 days ago');
    expect(expiryInWords(nowSec + 30 * 86_400 - 5, { now: NOW })).toBe('expires in 29 days');
  });

  it('counts exp equal to now as expired, as verifiers do', () => {
    expect(expiryInWords(nowSec, { now: NOW })).toBe('expired just now');
  });

  it('says so when there is no exp claim', () => {
    expect(expiryInWords(undefined, { now: NOW })).toBe('never expires (no exp claim)');
  });
});
