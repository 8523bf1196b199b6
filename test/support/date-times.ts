// A fast-check arbitrary of RFC 3339 date-times as requests may carry them, for tests of deadlines.
import fc from "fast-check";

const two = (n: number) => String(n).padStart(2, "0");
const offset = fc.record({
  sign: fc.constantFrom("+", "-"),
  hours: fc.integer({ min: 0, max: 23 }),
  minutes: fc.integer({ min: 0, max: 59 }),
  colon: fc.constantFrom(":", ""),
  withMinutes: fc.boolean(),
});
/**
 * RFC 3339 date-times in every form ajv-formats' date-time may accept (leap seconds, offsets with and without
 * colon or minutes, either case, any separator, fractions of any length), each with its instant in epoch ms,
 * computed from its parts by Date.parse of the one form it takes. Some are not valid dates (February 31st).
 */
export const dateTimes = fc
  .record({
    year: fc.integer({ min: 0, max: 9999 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    fraction: fc.option(fc.stringMatching(/^[0-9]{1,20}$/), { nil: undefined }),
    separator: fc.constantFrom("T", "t", " ", "\t"),
    zone: fc.option(offset, { nil: undefined }),
    zulu: fc.constantFrom("Z", "z"),
    leap: fc.boolean(),
  })
  .map((p) => {
    const offsetMinutes =
      p.zone === undefined
        ? 0
        : (p.zone.sign === "-" ? -1 : 1) * (p.zone.hours * 60 + (p.zone.withMinutes ? p.zone.minutes : 0));
    // A leap second is only ever 23:59:60 UTC, which is some other local time under an offset.
    const local = p.leap ? (((23 * 60 + 59 + offsetMinutes) % 1440) + 1440) % 1440 : p.hour * 60 + p.minute;
    const zone =
      p.zone === undefined
        ? p.zulu
        : `${p.zone.sign}${two(p.zone.hours)}${p.zone.withMinutes ? `${p.zone.colon}${two(p.zone.minutes)}` : ""}`;
    const time = `${two(Math.floor(local / 60))}:${two(local % 60)}`;
    const second = p.leap ? 60 : p.second;
    const fraction = p.fraction === undefined ? "" : `.${p.fraction}`;
    const date = `${String(p.year).padStart(4, "0")}-${two(p.month)}-${two(p.day)}`;
    // The same instant in the one form Date.parse takes: upper-case, T, ±HH:MM, at most 59 seconds.
    const iso = `${date}T${time}:${two(Math.min(second, 59))}${fraction.slice(0, 4)}${
      p.zone === undefined
        ? "Z"
        : `${p.zone.sign}${two(p.zone.hours)}:${two(p.zone.withMinutes ? p.zone.minutes : 0)}`
    }`;
    return {
      text: `${date}${p.separator}${time}:${two(second)}${fraction}${zone}`,
      expected: Date.parse(iso) + (p.leap ? 1000 : 0),
    };
  });
