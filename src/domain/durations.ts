/**
 * Durations and expiry times as people type them on a command line: `500ms`, `30s`, `15m`,
 * `12h`, `30d`, `2w`, compounds such as `1h30m`, or a bare integer meaning milliseconds.
 * Pure functions: the caller passes the current time, so tests need no clock.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
type Unit = keyof typeof UNIT_MS;

const COMPOUND = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const PART = /(\d+)(ms|s|m|h|d|w)/g;

/** An ISO-8601 date or date-time; a time without an offset is read as UTC. */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Parses a duration into milliseconds. A bare integer is milliseconds; otherwise every part
 * needs a unit (`ms s m h d w`).
 *
 * @throws RangeError with a message fit for a user when the text is not a duration.
 * @example
 * parseDuration('1h30m'); // 5_400_000
 * parseDuration('60000'); // 60_000
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return checkedMs(Number(trimmed), text);
  if (!COMPOUND.test(trimmed)) {
    throw new RangeError(`"${text}" is not a duration; write e.g. 500ms, 30s, 15m, 12h, 30d, 2w, 1h30m or plain milliseconds`);
  }
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) total += Number(amount) * UNIT_MS[unit as Unit];
  return checkedMs(total, text);
}

/**
 * Parses an ISO-8601 date or date-time (a time without an offset is UTC) into a UTC ISO-8601
 * string, for flags that name a moment (`audit list --from`).
 *
 * @throws RangeError with a message fit for a user when the text is not a valid date.
 * @example
 * parseInstant('2030-06-01'); // '2030-06-01T00:00:00.000Z'
 * parseInstant('2030-06-01T12:00:00+02:00'); // '2030-06-01T10:00:00.000Z'
 */
export function parseInstant(text: string): string {
  const trimmed = text.trim();
  const iso = ISO_DATE.exec(trimmed);
  if (!iso) throw new RangeError(`"${text}" is not an ISO-8601 date or time; write e.g. 2030-01-31 or 2030-01-31T13:00:00Z`);
  if (!isCalendarDate(trimmed.slice(0, 10))) throw new RangeError(`"${text}" is not a valid date`);
  const hasTime = trimmed.length > 10;
  const withZone = hasTime && iso[1] === undefined ? `${trimmed}Z` : trimmed;
  const ms = Date.parse(withZone.replace(' ', 'T'));
  if (Number.isNaN(ms)) throw new RangeError(`"${text}" is not a valid date`);
  return new Date(ms).toISOString();
}

/**
 * Parses an expiry given either as an ISO-8601 date/date-time or as a duration from `now`
 * (`30d`, `12h`), and returns it as a UTC ISO-8601 string. A bare number is refused because
 * nobody can tell whether it means milliseconds, seconds or a Unix time.
 *
 * @throws RangeError with a message fit for a user.
 * @example
 * parseExpiry('30d', { now: Date.parse('2030-01-01T00:00:00Z') }); // '2030-01-31T00:00:00.000Z'
 * parseExpiry('2030-06-01', { now: 0 }); // '2030-06-01T00:00:00.000Z'
 */
export function parseExpiry(text: string, options: { now: number }): string {
  const trimmed = text.trim();
  if (ISO_DATE.test(trimmed)) return parseInstant(trimmed);
  if (/^\d+$/.test(trimmed)) {
    throw new RangeError(`"${text}" is ambiguous; give an ISO date (2030-01-31T00:00:00Z) or a duration with a unit (30d, 12h)`);
  }
  let ms: number;
  try {
    ms = parseDuration(trimmed);
  } catch {
    throw new RangeError(`"${text}" is neither an ISO-8601 date (2030-01-31T00:00:00Z) nor a duration from now (30d, 12h, 1h30m)`);
  }
  return new Date(options.now + ms).toISOString();
}

/**
 * Renders milliseconds in the largest unit that divides them exactly, for display.
 *
 * @example
 * formatDuration(60_000); // '1m'
 * formatDuration(1_500); // '1500ms'
 */
export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    if (ms >= UNIT_MS[unit] && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

const WORD_UNITS = [
  ['year', 365 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
] as const;

/**
 * How far an instant is from now, in the largest whole unit (rounded down, so a token with
 * 59 min 59 s left says "in 59 minutes" and never promises more than it has).
 *
 * @example
 * timeInWords(NOW + 3_599_000, { now: NOW }); // 'in 59 minutes'
 * timeInWords(NOW - 3 * 86_400_000, { now: NOW }); // '3 days ago'
 * timeInWords(NOW - 400, { now: NOW }); // 'just now'
 */
export function timeInWords(at: number, options: { now: number }): string {
  const delta = at - options.now;
  const distance = Math.abs(delta);
  const unit = WORD_UNITS.find(([, ms]) => distance >= ms);
  if (unit === undefined) return delta > 0 ? 'in under a second' : 'just now';
  const count = Math.floor(distance / unit[1]);
  const amount = `${count} ${unit[0]}${count === 1 ? '' : 's'}`;
  return delta > 0 ? `in ${amount}` : `${amount} ago`;
}

/**
 * A token's expiry as a sentence, from its `exp` claim (seconds). `exp` equal to now is
 * expired, as every JWT verifier counts it.
 *
 * @example
 * expiryInWords(Math.floor(NOW / 1000) + 3599, { now: NOW }); // 'expires in 59 minutes'
 * expiryInWords(Math.floor(NOW / 1000) - 3 * 86_400, { now: NOW }); // 'expired 3 days ago'
 * expiryInWords(undefined, { now: NOW }); // 'never expires (no exp claim)'
 */
export function expiryInWords(exp: number | undefined, options: { now: number }): string {
  if (exp === undefined) return 'never expires (no exp claim)';
  const at = exp * 1000;
  return at > options.now ? `expires ${timeInWords(at, options)}` : `expired ${timeInWords(at, options)}`;
}

/** `Date.parse` rolls 2030-02-30 over to March 2nd; a typo should be an error instead. */
function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function checkedMs(ms: number, text: string): number {
  // Dates in JavaScript end at ±8.64e15 ms; anything longer is a typo, not a plan.
  if (!Number.isSafeInteger(ms) || ms > 8.64e15) throw new RangeError(`"${text}" is too long a duration`);
  return ms;
}
