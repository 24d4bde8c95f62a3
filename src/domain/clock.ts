/** Milliseconds since the epoch. Domain code takes a clock instead of calling `Date.now()`. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

/** UTC ISO-8601 for a millisecond timestamp, or null. */
export function isoOrNull(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
