/**
 * UTC calendar helpers for unlock logic: the year, month, day, weekday, hour, minute and second of a
 * time, days-from-civil arithmetic both ways, and ISO 8601 durations ("P1D", "PT12H", "P2W",
 * "P1Y2M3DT4H5M6S").
 *
 * A time here is what `now()` returns: **milliseconds** since 1970-01-01T00:00:00Z (UTC, no leap
 * seconds), an i64. Negative times (before 1970) work too: every division floors, so -1 is
 * 1969-12-31T23:59:59.999Z, a Wednesday. The calendar is the proleptic Gregorian one (Howard
 * Hinnant's civil-date algorithms, exact for every year an i64 of ms reaches).
 *
 * Durations: weeks, days, hours, minutes and seconds have a fixed length in UTC (a day is always
 * 86 400 000 ms: there is no daylight saving in UTC), so `durationMs` turns them into ms. Years and
 * months do not (a month is 28 to 31 days), so they are **calendar arithmetic on a time**:
 * `addDuration(t, d)` first adds the years and months to t's date, clamping the day to the last day
 * of the resulting month (2024-01-31 + P1M = 2024-02-29; 2024-02-29 + P1Y = 2025-02-28, as
 * Temporal's "constrain" overflow does), then adds the fixed part. `durationMs` of a duration with
 * years or months traps saying so, rather than guessing a length.
 *
 * Deliberately not here: time zones and daylight saving (a policy that needs local business hours
 * states them in UTC, or takes a fixed offset as a param), leap seconds, negative durations
 * ("-P1D"), and fractions other than on seconds ("PT1.5S" is allowed, "P1.5D" is not).
 */
import { fail } from "./util";

/** ms in a second, minute, hour, day and week (UTC has no daylight saving: these are exact). */
export const MS_PER_SECOND: i64 = 1000;
export const MS_PER_MINUTE: i64 = 60000;
export const MS_PER_HOUR: i64 = 3600000;
export const MS_PER_DAY: i64 = 86400000;
export const MS_PER_WEEK: i64 = 604800000;

/** ISO weekday numbers, as utcWeekday returns them: Monday is 1, Sunday is 7. */
export const MONDAY: i32 = 1;
export const TUESDAY: i32 = 2;
export const WEDNESDAY: i32 = 3;
export const THURSDAY: i32 = 4;
export const FRIDAY: i32 = 5;
export const SATURDAY: i32 = 6;
export const SUNDAY: i32 = 7;

/** Floor division (rounds towards -∞), so times before 1970 land on the right day. */
function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/** a mod b in 0..b-1 for b > 0. */
function floorMod(a: i64, b: i64): i64 {
  const r = a % b;
  return r < 0 ? r + b : r;
}

/** A date of the proleptic Gregorian calendar. */
export class CivilDate {
  year: i64;
  /** 1..12 */
  month: i32;
  /** 1..31 */
  day: i32;
  constructor(year: i64, month: i32, day: i32) {
    this.year = year;
    this.month = month;
    this.day = day;
  }
}

/** True iff `year` is a Gregorian leap year (2000 yes, 2100 no, 2024 yes). */
export function isLeapYear(year: i64): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/** Days in `month` (1..12) of `year`: 28..31. Traps on a month outside 1..12. */
export function daysInMonth(year: i64, month: i32): i32 {
  if (month < 1 || month > 12) fail("daysInMonth: month must be 1..12, got " + month.toString());
  if (month == 2) return isLeapYear(year) ? 29 : 28;
  return month == 4 || month == 6 || month == 9 || month == 11 ? 30 : 31;
}

/**
 * Days since 1970-01-01 of the date year-month-day (negative before 1970). The fields are not
 * checked (month 13 rolls over); `utcTime` checks them.
 */
export function daysFromCivil(year: i64, month: i64, day: i64): i64 {
  const y = month <= 2 ? year - 1 : year;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;
  const doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/** The date `days` days after 1970-01-01 (inverse of daysFromCivil). */
export function civilFromDays(days: i64): CivilDate {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return new CivilDate(yoe + era * 400 + (m <= 2 ? 1 : 0), <i32>m, <i32>d);
}

/** Days since 1970-01-01 of the UTC day holding time `ms` (milliseconds since the epoch). */
export function utcDays(ms: i64): i64 { return floorDiv(ms, MS_PER_DAY); }

/** The UTC date of time `ms` (milliseconds since the epoch). */
export function utcDate(ms: i64): CivilDate { return civilFromDays(utcDays(ms)); }

/** The UTC year of time `ms` (milliseconds since the epoch), e.g. 2030. */
export function utcYear(ms: i64): i64 { return utcDate(ms).year; }

/** The UTC month of time `ms` (milliseconds since the epoch): 1 (January) .. 12. */
export function utcMonth(ms: i64): i32 { return utcDate(ms).month; }

/** The UTC day of the month of time `ms` (milliseconds since the epoch): 1..31. */
export function utcDay(ms: i64): i32 { return utcDate(ms).day; }

/** The ISO weekday of time `ms` (milliseconds since the epoch) in UTC: MONDAY (1) .. SUNDAY (7). */
export function utcWeekday(ms: i64): i32 {
  return <i32>floorMod(utcDays(ms) + 3, 7) + 1; // 1970-01-01 was a Thursday (4)
}

/** The UTC hour of time `ms` (milliseconds since the epoch): 0..23. */
export function utcHour(ms: i64): i32 { return <i32>(floorMod(ms, MS_PER_DAY) / MS_PER_HOUR); }

/** The UTC minute of time `ms` (milliseconds since the epoch): 0..59. */
export function utcMinute(ms: i64): i32 { return <i32>(floorMod(ms, MS_PER_HOUR) / MS_PER_MINUTE); }

/** The UTC second of time `ms` (milliseconds since the epoch): 0..59 (no leap seconds). */
export function utcSecond(ms: i64): i32 { return <i32>(floorMod(ms, MS_PER_MINUTE) / MS_PER_SECOND); }

/** Milliseconds since the start of the UTC day of time `ms`: 0..86 399 999. */
export function utcTimeOfDay(ms: i64): i64 { return floorMod(ms, MS_PER_DAY); }

/** The time (milliseconds since the epoch) at which the UTC day holding `ms` starts. */
export function startOfUtcDay(ms: i64): i64 { return utcDays(ms) * MS_PER_DAY; }

/**
 * The time in milliseconds since the epoch of year-month-day hour:minute:second UTC. Traps if a
 * field is out of range (month 1..12, day 1..days in that month, hour 0..23, minute and second 0..59).
 */
export function utcTime(year: i64, month: i32, day: i32, hour: i32 = 0, minute: i32 = 0, second: i32 = 0): i64 {
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour < 0 || hour > 23 ||
      minute < 0 || minute > 59 || second < 0 || second > 59) {
    fail("utcTime: no such UTC time: " + year.toString() + "-" + month.toString() + "-" + day.toString() + " " +
      hour.toString() + ":" + minute.toString() + ":" + second.toString());
  }
  return daysFromCivil(year, month, day) * MS_PER_DAY + <i64>hour * MS_PER_HOUR + <i64>minute * MS_PER_MINUTE + <i64>second * MS_PER_SECOND;
}

const WEEKDAYS = "MondayTuesdayWednesdayThursdayFridaySaturdaySunday";
const WEEKDAY_START: StaticArray<i32> = [0, 6, 13, 22, 30, 36, 44, 50];

/** "Monday" .. "Sunday" for an ISO weekday 1..7; traps otherwise. */
export function weekdayName(weekday: i32): string {
  if (weekday < 1 || weekday > 7) fail("weekdayName: expected 1 (Monday) .. 7 (Sunday), got " + weekday.toString());
  return WEEKDAYS.substring(WEEKDAY_START[weekday - 1], WEEKDAY_START[weekday]);
}

/**
 * Calendar arithmetic: time `ms` (milliseconds since the epoch) moved by `months` (may be
 * negative) on the UTC calendar, the time of day kept and the day clamped to the last day of the
 * resulting month (2024-01-31 + 1 month = 2024-02-29).
 */
export function addMonths(ms: i64, months: i64): i64 {
  const d = utcDate(ms);
  const total = d.year * 12 + <i64>(d.month - 1) + months;
  const year = floorDiv(total, 12);
  const month = <i32>floorMod(total, 12) + 1;
  const dim = daysInMonth(year, month);
  const day = d.day > dim ? dim : d.day;
  return daysFromCivil(year, month, day) * MS_PER_DAY + utcTimeOfDay(ms);
}

// ---- ISO 8601 durations ----

/** A parsed ISO 8601 duration: calendar part (years, months) and fixed part (ms). */
export class Duration {
  years: i64 = 0;
  months: i64 = 0;
  /** Weeks, days, hours, minutes and seconds, in milliseconds. */
  fixedMs: i64 = 0;

  /** True iff the duration has a fixed length in ms (no years or months). */
  get isFixed(): bool { return this.years == 0 && this.months == 0; }
}

let durationError: string | null = null;

/** Why the last tryParseDuration returned null. */
export function lastDurationError(): string | null { return durationError; }

/** Largest duration component: 2^53 - 1 ms worth (JSON carries integers exactly up to there). */
const MAX_MS: i64 = 9007199254740991;
/** Largest calendar part, in months: 10 000 years keeps every date an i64 of ms can hold. */
const MAX_MONTHS: i64 = 120000;

function badDuration(s: string, why: string): Duration | null {
  durationError = "\"" + s + "\" is not an ISO 8601 duration (" + why + ")";
  return null;
}

/**
 * Parses "PnYnMnWnDTnHnMnS" (each part optional, at least one present, upper case, integers, the
 * seconds with up to 3 decimals: "PT0.5S"), or returns null (lastDurationError() says why).
 */
export function tryParseDuration(s: string): Duration | null {
  const n = s.length;
  if (n < 3 || s.charCodeAt(0) != 80) return badDuration(s, "it must start with \"P\" and have a part, e.g. P1D or PT12H");
  const d = new Duration();
  let timePart = false;
  let last = 0; // order of the designators seen so far: Y M W D | T H M S
  let i = 1;
  let parts = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c == 84) { // 'T'
      if (timePart) return badDuration(s, "two \"T\"s");
      timePart = true;
      last = 4;
      i++;
      if (i == n) return badDuration(s, "nothing after \"T\"");
      continue;
    }
    let v: i64 = 0;
    let digits = 0;
    while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
      if (v > 99999999999999) return badDuration(s, "a number is too large");
      v = v * 10 + <i64>(s.charCodeAt(i) - 48);
      i++;
      digits++;
    }
    let frac: i64 = 0;
    let fracDigits = 0;
    if (i < n && (s.charCodeAt(i) == 46 || s.charCodeAt(i) == 44)) { // '.' or ','
      i++;
      while (i < n && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
        if (fracDigits == 3) return badDuration(s, "at most 3 decimals (milliseconds)");
        frac = frac * 10 + <i64>(s.charCodeAt(i) - 48);
        i++;
        fracDigits++;
      }
      if (fracDigits == 0) return badDuration(s, "a decimal point without digits");
    }
    if (digits == 0) return badDuration(s, "expected a number at position " + i.toString());
    if (i == n) return badDuration(s, "a number without a designator (Y, M, W, D, H, M or S) at the end");
    const des = s.charCodeAt(i);
    i++;
    let rank = 0;
    let unit: i64 = 0;
    if (!timePart) {
      if (des == 89) rank = 1; // Y
      else if (des == 77) rank = 2; // M (months)
      else if (des == 87) { rank = 3; unit = MS_PER_WEEK; }
      else if (des == 68) { rank = 4; unit = MS_PER_DAY; }
    } else {
      if (des == 72) { rank = 5; unit = MS_PER_HOUR; }
      else if (des == 77) { rank = 6; unit = MS_PER_MINUTE; } // M (minutes)
      else if (des == 83) { rank = 7; unit = MS_PER_SECOND; }
    }
    if (rank == 0) return badDuration(s, "unknown designator \"" + String.fromCharCode(des) + "\"" + (timePart ? " after T" : " before T"));
    if (rank <= last) return badDuration(s, "parts out of order or repeated (order: Y M W D T H M S)");
    if (fracDigits > 0 && rank != 7) return badDuration(s, "only seconds may have decimals");
    last = rank;
    parts++;
    if (rank <= 2) {
      if (v > MAX_MONTHS) return badDuration(s, "more than 10000 years");
      if (rank == 1) d.years = v;
      else d.months = v;
      if (d.years * 12 + d.months > MAX_MONTHS) return badDuration(s, "more than 10000 years");
    } else {
      if (v > MAX_MS / unit) return badDuration(s, "longer than 2^53 - 1 ms");
      let add = v * unit;
      if (rank == 7) {
        for (let k = fracDigits; k < 3; k++) frac *= 10;
        add += frac;
      }
      if (add > MAX_MS - d.fixedMs) return badDuration(s, "longer than 2^53 - 1 ms");
      d.fixedMs += add;
    }
  }
  if (parts == 0) return badDuration(s, "no parts");
  durationError = null;
  return d;
}

/** Parses an ISO 8601 duration; traps naming `what` (e.g. "params.every") and the text if it is not one. */
export function parseDuration(s: string, what: string = "duration"): Duration {
  const d = tryParseDuration(s);
  if (d === null) fail(what + ": " + durationError!);
  return d!;
}

/**
 * The length in milliseconds of a duration without years or months ("P2W", "P1DT12H", "PT90M");
 * traps for "P1M" or "P1Y" (no fixed length: use addDuration on a time) or text that is not one.
 */
export function durationMs(s: string, what: string = "duration"): i64 {
  const d = parseDuration(s, what);
  if (!d.isFixed) fail(what + ": \"" + s + "\" has years or months, which have no fixed length in ms; use addDuration(time, …)");
  return d.fixedMs;
}

/**
 * Time `ms` (milliseconds since the epoch) plus duration `d`: years and months by calendar
 * arithmetic (addMonths: the day clamped to the month's end), then the fixed part.
 */
export function addDuration(ms: i64, d: Duration): i64 {
  const months = d.years * 12 + d.months;
  const t = months == 0 ? ms : addMonths(ms, months);
  return t + d.fixedMs;
}
