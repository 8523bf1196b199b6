// Option values, parsed: durations, points in time, counts and rates. Pure; each problem is a UsageError naming
// the option and what it accepts.
import { UsageError } from "./errors.ts";

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "500ms", "2s", "1m", "2h", "1d", "1h30m": kubectl's way of writing a duration, in milliseconds. */
export function parseDuration(option: string, value: string): number {
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (value === "" || parts.map((part) => part[0]).join("") !== value) {
    throw new UsageError(`${option} "${value}" is not a duration: write it as 500ms, 30s, 5m, 2h or 1h30m`);
  }
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (durationUnits[unit ?? ""] ?? 0), 0);
}

const rfc3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A point in time: an RFC 3339 date-time (kept as written, which is what the resources' schemas take), or a
 * duration before `now` ("2h" is two hours ago), as RFC 3339 in UTC.
 */
export function parseTime(option: string, value: string, now: Date): string {
  if (rfc3339.test(value)) {
    if (Number.isNaN(Date.parse(value.replace(" ", "T")))) {
      throw new UsageError(`${option} "${value}" is not a valid date-time`);
    }
    return value;
  }
  if (/^\d/.test(value)) {
    try {
      return new Date(now.getTime() - parseDuration(option, value)).toISOString();
    } catch {
      // Neither a date-time nor a duration: said below, with both forms.
    }
  }
  throw new UsageError(
    `${option} "${value}" is neither an RFC 3339 date-time (2026-12-03T10:00:00Z) nor a duration ago (2h, 30m)`,
  );
}

export function parsePositiveInteger(option: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`${option} "${value}" is not a whole number of 1 or more`);
  }
  return Number(value);
}

export function parsePositiveNumber(option: string, value: string): number {
  const number = Number(value);
  if (value.trim() === "" || !Number.isFinite(number) || number <= 0) {
    throw new UsageError(`${option} "${value}" is not a number above 0`);
  }
  return number;
}
