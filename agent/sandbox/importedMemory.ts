/**
 * Rewrites a metered module so that it imports its one memory (`__capsule_meter`.`memory`, with the
 * declared limits, copied byte for byte) instead of defining it. The sandbox then gives each fresh
 * instance a zeroed memory from a pool (MemoryPool.ts) instead of having V8 reserve and later unmap
 * a new one: that reservation (mmap of the guard region, and its munmap in the GC, which also fires
 * major GCs when too many reservations are alive) was most of a warm evaluation's cost.
 *
 * Nothing else changes: the code section is copied unchanged (so fuel and depth figures are those
 * of the metered bytes), the memory keeps index 0 (MVP: one memory, and only functions and globals
 * count in the other index spaces), its export and the data segments still refer to it, and Wasm
 * cannot tell an imported memory from a defined one of the same size and contents.
 *
 * Deliberately not here: validation (validate.ts refuses imported, shared and unbounded memories
 * before metering) and the pool. Anything unexpected in the binary returns undefined: the caller
 * then compiles the metered bytes as they are (correct, only without the pool).
 */
import { FUEL_IMPORT_MODULE } from './meterAbi.ts';

/** The field name of the rewritten memory import (in module FUEL_IMPORT_MODULE). */
export const MEMORY_IMPORT_NAME = 'memory';

/** A memory's declared limits, in 64 KiB pages. */
export interface MemoryShape {
  initial: number;
  maximum: number;
}

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const KIND_MEMORY = 2;
/** Limits flag: minimum and maximum, not shared, 32-bit (the only form validate.ts lets through). */
const LIMITS_MIN_MAX = 1;
/** The new import entry up to its limits: module name, field name, kind. */
const ENTRY = Uint8Array.from([...name(FUEL_IMPORT_MODULE), ...name(MEMORY_IMPORT_NAME), KIND_MEMORY]);

function name(s: string): number[] {
  const utf8 = [...Buffer.from(s, 'utf8')];
  return [...uleb(utf8.length), ...utf8];
}

/**
 * The module with its memory imported instead of defined, and the memory's limits; undefined when
 * the binary is not of the expected form (no import section, no single bounded memory, …).
 */
export function importMemory(bytes: Uint8Array): { bytes: Uint8Array; shape: MemoryShape } | undefined {
  try {
    return rewrite(bytes);
  } catch {
    return undefined; // a malformed binary: left to V8 to refuse, with its own message
  }
}

function rewrite(bytes: Uint8Array): { bytes: Uint8Array; shape: MemoryShape } | undefined {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d || bytes[4] !== 1) return undefined;
  const sections: { id: number; start: number; end: number; body: number }[] = [];
  for (let i = 8; i < bytes.length; ) {
    const id = bytes[i]!;
    const [size, body] = leb(bytes, i + 1);
    const end = body + size;
    if (end > bytes.length) return undefined;
    sections.push({ id, start: i, end, body });
    i = end;
  }
  const imports = sections.filter((s) => s.id === SECTION_IMPORT);
  const memories = sections.filter((s) => s.id === SECTION_MEMORY);
  if (imports.length !== 1 || memories.length !== 1) return undefined;
  const mem = memories[0]!;
  const [count, at] = leb(bytes, mem.body);
  if (count !== 1 || bytes[at] !== LIMITS_MIN_MAX) return undefined;
  const [initial, afterMin] = leb(bytes, at + 1);
  const [maximum, afterMax] = leb(bytes, afterMin);
  if (afterMax !== mem.end || initial > maximum) return undefined;
  const limits = bytes.subarray(at, afterMax);

  // The import section with one more entry: (module, field, memory kind, the limits as declared).
  // Written with set() into one buffer: spreading typed arrays costs µs per hundred bytes.
  const imp = imports[0]!;
  const [n, entries] = leb(bytes, imp.body);
  const newCount = uleb(n + 1);
  const bodyLength = newCount.length + (imp.end - entries) + ENTRY.length + limits.length;
  const size = uleb(bodyLength);
  const out = new Uint8Array(bytes.length - (mem.end - mem.start) - (imp.end - imp.start) + 1 + size.length + bodyLength);
  let o = 0;
  const put = (part: ArrayLike<number>) => {
    out.set(part, o);
    o += part.length;
  };
  put(bytes.subarray(0, 8));
  for (const s of sections) {
    if (s === mem) continue;
    if (s !== imp) {
      put(bytes.subarray(s.start, s.end));
      continue;
    }
    put([SECTION_IMPORT]);
    put(size);
    put(newCount);
    put(bytes.subarray(entries, imp.end));
    put(ENTRY);
    put(limits);
  }
  return { bytes: out, shape: { initial, maximum } };
}

/** An unsigned LEB128 u32 at `i`: [value, index after it]. @throws RangeError when malformed */
function leb(bytes: Uint8Array, i: number): [number, number] {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (i >= bytes.length) throw new RangeError('truncated LEB128');
    const b = bytes[i++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) {
      if (value > 0xffffffff) throw new RangeError('LEB128 above u32');
      return [value, i];
    }
  }
  throw new RangeError('LEB128 too long');
}

function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) b |= 0x80;
    out.push(b);
  } while (value !== 0);
  return out;
}
