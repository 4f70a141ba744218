/**
 * Time windows (business hours): params {"windows": [{"days": ["mon"…"sun"…], "from": "HH:MM",
 * "to": "HH:MM"}, …], "utcOffset"?: "+HH:MM" | "-HH:MM" | minutes (default UTC)}. Allows iff the
 * evaluation time, shifted by utcOffset, falls on a listed day at or after `from` and before `to`
 * of some window ("to" may be "24:00"; a window past midnight is two windows). Judges the time
 * only, so it applies to every kind of request (and to capsule releases).
 *
 * Deliberately not here: time zones with daylight saving (a fixed offset only: the guest has no
 * tz database, and a verdict must replay identically), holidays, or dates (timeLock, expiry).
 */
import { CborValue, Kind } from "@capsule-engine/sdk";
import { asciiLower, fail } from "@capsule-engine/sdk";
import { Scope, Verdict, allowed, denied, kindOf, onlyKeys } from "../../rules/common";

const DAY_MS: i64 = 86400000;
const DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const SHOWN = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

class Window {
  /** Bit d set: day d (0 = Monday) is listed. */
  days: i32 = 0;
  /** Minutes after local midnight: from inclusive, to exclusive. */
  from: i32 = 0;
  to: i32 = 0;
}

export function timeWindow(p: CborValue, s: Scope): Verdict {
  onlyKeys(p, "utcOffset,windows", s);
  const offset = offsetParam(p, s);
  const windows = windowsParam(p, s);
  const local = s.now + <i64>offset * 60000;
  const dayIndex = floorDiv(local, DAY_MS);
  const day = <i32>((dayIndex + 3) % 7 + 7) % 7; // 1970-01-01 was a Thursday (3)
  const msOfDay = local - dayIndex * DAY_MS;
  const at = SHOWN[day] + " " + clock(<i32>(msOfDay / 60000)) + " (UTC" + offsetText(offset) + ")";
  for (let i = 0; i < windows.length; i++) {
    const w = windows[i];
    if ((w.days & (1 << day)) != 0 && msOfDay >= <i64>w.from * 60000 && msOfDay < <i64>w.to * 60000) {
      return allowed(at + " is inside window #" + i.toString());
    }
  }
  return denied(at + " is outside the allowed time windows");
}

function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

function two(v: i32): string { return (v < 10 ? "0" : "") + v.toString(); }

function clock(minutes: i32): string { return two(minutes / 60) + ":" + two(minutes % 60); }

function offsetText(m: i32): string { return (m < 0 ? "-" : "+") + clock(m < 0 ? -m : m); }

/** "HH:MM" as minutes after midnight (00:00..24:00), or −1. */
function parseClock(t: string): i32 {
  if (t.length != 5 || t.charCodeAt(2) != 58) return -1;
  const h0 = t.charCodeAt(0) - 48, h1 = t.charCodeAt(1) - 48, m0 = t.charCodeAt(3) - 48, m1 = t.charCodeAt(4) - 48;
  if (h0 < 0 || h0 > 9 || h1 < 0 || h1 > 9 || m0 < 0 || m0 > 5 || m1 < 0 || m1 > 9) return -1;
  const v = (h0 * 10 + h1) * 60 + m0 * 10 + m1;
  return v <= 24 * 60 ? v : -1;
}

/** utcOffset in minutes, −14:00..+14:00 (every offset in use). */
function offsetParam(p: CborValue, s: Scope): i32 {
  const v = p.get("utcOffset");
  if (v === null) return 0;
  let m: i64 = 0;
  if (v.kind == Kind.Text) {
    const t = v.tryAsString()!;
    const sign = t.length == 6 ? t.charCodeAt(0) : 0;
    const c = sign == 43 || sign == 45 ? parseClock(t.substring(1)) : -1;
    if (c < 0) fail(s.what("utcOffset") + ": expected \"+HH:MM\" or \"-HH:MM\" (or minutes)");
    m = sign == 45 ? -c : c;
  } else if (v.kind == Kind.Uint || v.kind == Kind.Nint) {
    m = v.asInt(s.what("utcOffset"));
  } else {
    fail(s.what("utcOffset") + ": expected \"+HH:MM\", \"-HH:MM\" or minutes, found " + kindOf(v));
  }
  if (m < -14 * 60 || m > 14 * 60) fail(s.what("utcOffset") + ": must be within -14:00..+14:00");
  return <i32>m;
}

function windowsParam(p: CborValue, s: Scope): Window[] {
  const v = p.get("windows");
  if (v === null) fail(s.what("windows") + ": required");
  if (!v!.isArray()) fail(s.what("windows") + ": expected an array of {days, from, to}, found " + kindOf(v!));
  const items = v!.items();
  if (items.length == 0) fail(s.what("windows") + ": must not be empty");
  const out = new Array<Window>(items.length);
  const list = s.sub("windows");
  for (let i = 0; i < items.length; i++) {
    const ws = list.item(i); // "params.windows[i]", built only for a message
    onlyKeys(items[i], "days,from,to", ws);
    const w = new Window();
    const dv = items[i].get("days");
    if (dv === null || !dv.isArray() || dv.length == 0) fail(ws.what("days") + ": required, a non-empty array of mon, tue, wed, thu, fri, sat, sun");
    const ds = dv!.items();
    for (let j = 0; j < ds.length; j++) {
      const t = ds[j].tryAsString();
      const d = t === null ? -1 : DAY_NAMES.indexOf(asciiLower(t));
      if (d < 0) fail(ws.what("days") + "[" + j.toString() + "]: expected mon, tue, wed, thu, fri, sat or sun");
      w.days |= 1 << d;
    }
    w.from = clockParam(items[i], "from", ws);
    w.to = clockParam(items[i], "to", ws);
    if (w.from >= w.to) fail(ws.what("to") + ": must be after from (split a window past midnight in two)");
    out[i] = w;
  }
  return out;
}

function clockParam(p: CborValue, key: string, s: Scope): i32 {
  const v = p.get(key);
  if (v === null) fail(s.what(key) + ": required, \"HH:MM\"");
  const t = v!.tryAsString();
  const c = t === null ? -1 : parseClock(t);
  if (c < 0) fail(s.what(key) + ": expected \"HH:MM\" from 00:00 to 24:00");
  return c;
}
