/** Durations in specs are Go-style strings ("30s", "2m", "1h30m", "500ms"); "0" means none or forever. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
export const DURATION_PATTERN = '^(0|([0-9]+(\\.[0-9]+)?(ms|s|m|h))+)$';

export class InvalidDurationError extends Error {
  override readonly name = 'InvalidDurationError';
}

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (!new RegExp(DURATION_PATTERN).test(text)) throw new InvalidDurationError(`"${text}" is not a duration like 30s, 2m or 1h30m`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) total += Number(amount) * (UNITS[unit as string] ?? 0);
  return Math.round(total);
}

export const msToNanos = (ms: number): number => ms * 1_000_000;
export const nanosToMs = (nanos: number): number => Math.round(nanos / 1_000_000);
