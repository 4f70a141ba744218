/**
 * SDK self-test module (not a contract): exercises the parts of sdk/ the standard contracts do not
 * reach — integer map keys, negative and 2^53-1 integers, half/single/double floats, nested arrays,
 * bools and null, non-ASCII text, the try-API's sticky errors, hex, RFC 3339 times, the state
 * helpers and logs — against the params that test/contracts.test.ts passes — and the UTC calendar and
 * ISO 8601 durations (calendar.ts) against known dates: 1970, leap days, 2100 (not a leap year),
 * times before 1970. Allows iff every check
 * passes; otherwise denies naming the first failing check.
 *
 * Deliberately not here: anything a contract should copy; this is test scaffolding.
 */
import {
  CborReader, Kind, MONDAY, SDK_ABI, SUNDAY, THURSDAY, TUESDAY, WEDNESDAY, addDuration, addMonths, allow, civilFromDays,
  context, daysFromCivil, deny, durationMs, formatTime, hex, isLeapYear, log, now, params, parseDuration, parseTime,
  startOfUtcDay, stateDelete, stateGetI64, stateGetString, stateSet, stateSetI64, stateSetString, tryParams,
  tryParseDuration, unhex, utcDay, utcHour, utcMinute, utcMonth, utcSecond, utcTime, utcWeekday, utcYear, utf8,
  weekdayName,
} from "@capsule-engine/sdk";

let failed: string | null = null;

function check(ok: bool, what: string): void {
  if (!ok && failed === null) failed = what;
}

export function decide(): i32 {
  const p = params()!;
  check(tryParams() !== null, "tryParams");
  check(p.isMap(), "params is a map");

  // Integer keys, negative and large integers.
  check(p.getInt(1) !== null && p.getInt(1)!.asString("1") == "one", "int key 1");
  check(p.getInt(-3) !== null && p.getInt(-3)!.asString("-3") == "minus three", "int key -3");
  check(p.getInt(2) === null, "absent int key");
  check(p.get("neg")!.asInt("neg") == -1000, "negative int");
  check(p.get("neg")!.tryAsUint() == -1, "negative is not uint");
  check(p.get("big")!.asUint("big") == 9007199254740991, "2^53-1");

  // Floats of each width, bools, null.
  check(p.get("f16")!.asFloat("f16") == 1.5, "half float");
  check(p.get("f32")!.asFloat("f32") == 100000.5, "single float");
  check(p.get("f64")!.asFloat("f64") == 0.1, "double float");
  check(p.get("t")!.asBool("t") && !p.get("f")!.asBool("f"), "bools");
  check(p.get("n")!.isNull() && p.get("n")!.kind == Kind.Null, "null");

  // Nested arrays and maps.
  const list = p.get("list")!;
  check(list.length == 3 && list.items().length == 3, "array length");
  check(list.at(1)!.at(0)!.asUint("list[1][0]") == 2, "nested array");
  check(list.at(2)!.get("a")!.isNull(), "map in array");
  check(list.at(3) === null, "index past the end");

  // Text and bytes.
  const s = p.get("utf")!.asString("utf");
  check(s == "h\u00e9llo \u2713 \ud83d\ude00", "non-ASCII text");
  check(utf8(s).length == 15, "UTF-8 length");
  const b = p.get("bytes")!.asBytes("bytes");
  check(b.length == 3 && b[2] == 3, "bytes");
  check(p.keys().length == p.length - 2, "text keys");

  // The try-API: a type mismatch is recorded (sticky), not a trap.
  const r = p.get("utf")!.reader();
  const v = r.tryReadUint();
  check(v == 0 && !r.ok, "type mismatch recorded");
  check(r.error !== null && r.error!.includes("expected unsigned integer, found text string"), "mismatch message");
  check(r.tryReadText() === null, "errors are sticky");
  const bad = new CborReader(unhex("a1616101fc")!); // {"a": 1} + a stray byte
  bad.trySkip();
  check(bad.ok && !bad.atEnd(), "one item, then a stray byte");
  check(!bad.trySkip() && bad.error!.includes("reserved"), "0xfc (reserved) is refused");

  // Helpers.
  check(hex(unhex("0x00ABff")!) == "00abff", "hex round trip");
  check(unhex("abc") === null && unhex("zz") === null, "bad hex");
  const t = parseTime("2024-02-29T12:34:56.789Z");
  check(formatTime(t) == "2024-02-29T12:34:56.789Z", "time round trip");
  check(parseTime("2023-02-29T00:00:00Z") == -1 && parseTime("2024-01-01 00:00:00Z") == -1, "bad times");
  check(formatTime(0) == "1970-01-01T00:00:00Z", "epoch");
  check(now() == context().now, "now matches context");

  // UTC calendar (times in ms since the epoch, as now() returns).
  check(utcYear(0) == 1970 && utcMonth(0) == 1 && utcDay(0) == 1 && utcWeekday(0) == THURSDAY, "1970-01-01 is a Thursday");
  check(weekdayName(utcWeekday(0)) == "Thursday" && weekdayName(SUNDAY) == "Sunday" && weekdayName(MONDAY) == "Monday", "weekday names");
  const leap = parseTime("2000-02-29T13:45:30Z");
  check(utcYear(leap) == 2000 && utcMonth(leap) == 2 && utcDay(leap) == 29 && utcWeekday(leap) == TUESDAY, "2000-02-29 is a Tuesday");
  check(utcHour(leap) == 13 && utcMinute(leap) == 45 && utcSecond(leap) == 30, "hour, minute, second");
  check(daysFromCivil(2000, 2, 29) == 11016 && daysFromCivil(2100, 3, 1) == 47541 && daysFromCivil(1970, 1, 1) == 0, "days from civil");
  const d2100 = civilFromDays(47540);
  check(d2100.year == 2100 && d2100.month == 2 && d2100.day == 28, "2100-02-28");
  check(utcWeekday(utcTime(2100, 3, 1)) == MONDAY && utcDay(utcTime(2100, 2, 28) + 86400000) == 1, "2100 is not a leap year: 03-01 after 02-28");
  check(isLeapYear(2000) && isLeapYear(2024) && !isLeapYear(2100) && !isLeapYear(1900), "leap years");
  check(utcYear(-1) == 1969 && utcMonth(-1) == 12 && utcDay(-1) == 31 && utcHour(-1) == 23 && utcSecond(-1) == 59, "-1 ms is 1969-12-31T23:59:59.999");
  check(utcWeekday(-1) == WEDNESDAY && startOfUtcDay(-1) == -86400000, "before 1970: floor division");
  const c1600 = civilFromDays(-135080);
  check(c1600.year == 1600 && c1600.month == 3 && c1600.day == 1 && utcWeekday(-135080 * 86400000) == WEDNESDAY, "1600-03-01");
  check(utcTime(2024, 2, 29, 12, 34, 56) == parseTime("2024-02-29T12:34:56Z"), "utcTime = parseTime");
  check(startOfUtcDay(leap) == parseTime("2000-02-29T00:00:00Z"), "start of day");

  // ISO 8601 durations: fixed parts in ms, years and months by calendar arithmetic.
  check(durationMs("P1D") == 86400000 && durationMs("PT12H") == 43200000 && durationMs("P2W") == 1209600000, "P1D, PT12H, P2W");
  check(durationMs("PT1.5S") == 1500 && durationMs("P1DT2H3M4.005S") == 93784005, "fractions of seconds");
  const full = parseDuration("P1Y2M3DT4H5M6S");
  check(full.years == 1 && full.months == 2 && full.fixedMs == 3 * 86400000 + 4 * 3600000 + 5 * 60000 + 6000 && !full.isFixed, "P1Y2M3DT4H5M6S");
  check(formatTime(addDuration(parseTime("2024-01-31T10:00:00Z"), parseDuration("P1M"))) == "2024-02-29T10:00:00Z", "Jan 31 + P1M = Feb 29");
  check(formatTime(addDuration(parseTime("2024-02-29T00:00:00Z"), parseDuration("P1Y"))) == "2025-02-28T00:00:00Z", "Feb 29 + P1Y = Feb 28");
  check(formatTime(addDuration(parseTime("2023-11-15T00:00:00Z"), full)) == "2025-01-18T04:05:06Z", "P1Y2M3DT4H5M6S on a time");
  check(formatTime(addMonths(parseTime("2024-03-31T00:00:00Z"), -1)) == "2024-02-29T00:00:00Z", "minus one month");
  check(tryParseDuration("P") === null && tryParseDuration("PT") === null && tryParseDuration("1D") === null, "empty durations");
  check(tryParseDuration("P1H") === null && tryParseDuration("PT1D") === null && tryParseDuration("P1D1D") === null, "misplaced parts");
  check(tryParseDuration("P1.5D") === null && tryParseDuration("p1d") === null && tryParseDuration("-P1D") === null, "unsupported forms");
  check(tryParseDuration("P1DT") === null && tryParseDuration("P1M1Y") === null, "order");
  check(SDK_ABI == "capsule_v1", "SDK ABI");

  // State: i64, string, bytes, delete (the test reads the record).
  check(stateGetI64("counter", 41) == 41, "absent i64 gives the fallback");
  stateSetI64("counter", stateGetI64("counter", 41) + 1);
  check(stateGetI64("counter", 0) == 42, "i64 round trip");
  stateSetString("greeting", "h\u00e9llo");
  check(stateGetString("greeting")! == "h\u00e9llo", "string round trip");
  stateSet("gone", utf8("x"));
  stateDelete("gone");
  check(stateGetString("gone") === null, "deleted");

  log("self-test: " + (failed === null ? "ok" : failed!));
  return failed === null ? allow("sdk self-test passed") : deny("sdk self-test failed: " + failed!);
}
