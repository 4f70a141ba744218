/**
 * SDK self-test module (not a contract): exercises the parts of sdk/ the standard contracts do not
 * reach — integer map keys, negative and 2^53-1 integers, half/single/double floats, nested arrays,
 * bools and null, non-ASCII text, the try-API's sticky errors, hex, RFC 3339 times, the state
 * helpers and logs — against the params that test/contracts.test.ts passes. Allows iff every check
 * passes; otherwise denies naming the first failing check.
 *
 * Deliberately not here: anything a contract should copy; this is test scaffolding.
 */
import {
  CborReader, Kind, allow, context, deny, log, now, params, stateDelete, stateGetI64, stateGetString, stateSet,
  stateSetI64, stateSetString, tryParams,
} from "../sdk/capsule";
import { formatTime, hex, parseTime, unhex, utf8 } from "../sdk/util";

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
