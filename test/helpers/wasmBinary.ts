/**
 * A minimal WebAssembly binary writer for generated test modules (the hostile corpus): types,
 * function imports from capsule_v1, functions with locals and raw bodies, one memory, one table,
 * exports, a start function, data, and custom sections, in section order. Writing bytes directly
 * (rather than text through Binaryen) makes modules of 100 000 functions or 60 000 br_table targets
 * cheap to build and exactly as written.
 *
 * Deliberately not here: validating anything (the sandbox under test does that).
 */

/** Unsigned LEB128. */
export function u(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128 (i32/i64 constants within ±2^53). */
export function s(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n = Math.floor(n / 128);
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (t: string): number[] => {
  const b = [...new TextEncoder().encode(t)];
  return [...u(b.length), ...b];
};
const vec = (items: number[][]): number[] => [...u(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...u(body.length), ...body];

export const I32 = 0x7f;
export const I64 = 0x7e;
/** Opcodes used by the generator. */
export const OP = {
  unreachable: 0x00,
  nop: 0x01,
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  br_table: 0x0e,
  return: 0x0f,
  call: 0x10,
  call_indirect: 0x11,
  drop: 0x1a,
  local_get: 0x20,
  local_set: 0x21,
  global_get: 0x23,
  global_set: 0x24,
  i32_load: 0x28,
  i32_store: 0x36,
  memory_grow: 0x40,
  i32_const: 0x41,
  i64_const: 0x42,
  i32_eqz: 0x45,
  i32_ge_u: 0x4f,
  i32_add: 0x6a,
  i32_sub: 0x6b,
} as const;

export interface Func {
  type: number;
  /** Local declarations: [count, valtype] groups. */
  locals?: Array<[number, number]>;
  /** The body's instructions, without the final `end`. */
  body: number[];
}

export interface ModuleSpec {
  /** Function types: [params, results]. */
  types: Array<[number[], number[]]>;
  /** capsule_v1 function imports: [name, type index]. */
  imports?: Array<[string, number]>;
  funcs: Func[];
  /** Memory limits; undefined = no memory. */
  memory?: { min: number; max?: number };
  table?: { min: number; max?: number; elems?: number[] };
  globals?: Array<{ type: number; mutable: boolean; init: number }>;
  /** Exports: [name, kind (0 func, 2 memory), index]. Default: decide = the last function, memory. */
  exports?: Array<[string, number, number]>;
  start?: number;
  data?: Array<{ offset: number; bytes: number[] }>;
  /** Custom sections, appended at the end: [name, payload]. */
  custom?: Array<[string, Uint8Array]>;
}

/** Encodes `m` as a Wasm binary. */
export function encode(m: ModuleSpec): Uint8Array {
  const imports = m.imports ?? [];
  const bytesOut: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // push(...x) of a section of a million bytes would overflow the call stack: append in a loop.
  const out = {
    push: (...parts: number[][]) => {
      for (const p of parts) for (const b of p) bytesOut.push(b);
    },
  };
  out.push(section(1, vec(m.types.map(([p, r]) => [0x60, ...vec(p.map((t) => [t])), ...vec(r.map((t) => [t]))]))));
  if (imports.length) out.push(section(2, vec(imports.map(([name, t]) => [...str('capsule_v1'), ...str(name), 0x00, ...u(t)]))));
  out.push(section(3, vec(m.funcs.map((f) => u(f.type)))));
  const limits = (l: { min: number; max?: number }) => (l.max === undefined ? [0x00, ...u(l.min)] : [0x01, ...u(l.min), ...u(l.max)]);
  if (m.table) out.push(section(4, vec([[0x70, ...limits(m.table)]])));
  if (m.memory) out.push(section(5, vec([limits(m.memory)])));
  if (m.globals?.length)
    out.push(section(6, vec(m.globals.map((g) => [g.type, g.mutable ? 1 : 0, g.type === I64 ? OP.i64_const : OP.i32_const, ...s(g.init), OP.end]))));
  const decide = imports.length + m.funcs.length - 1;
  const exports = m.exports ?? [['decide', 0, decide], ...(m.memory ? [['memory', 2, 0] as [string, number, number]] : [])];
  out.push(section(7, vec(exports.map(([name, kind, idx]) => [...str(name), kind, ...u(idx)]))));
  if (m.start !== undefined) out.push(section(8, u(m.start)));
  if (m.table?.elems?.length) out.push(section(9, vec([[0x00, OP.i32_const, 0x00, OP.end, ...vec(m.table.elems.map((e) => u(e)))]])));
  out.push(
    section(
      10,
      vec(
        m.funcs.map((f) => {
          const body = [...vec((f.locals ?? []).map(([n, t]) => [...u(n), t])), ...f.body, OP.end];
          return [...u(body.length), ...body];
        }),
      ),
    ),
  );
  if (m.data?.length) out.push(section(11, vec(m.data.map((d) => [0x00, OP.i32_const, ...s(d.offset), OP.end, ...vec(d.bytes.map((b) => [b]))]))));
  const bytes = Uint8Array.from(bytesOut);
  const custom = (m.custom ?? []).map(([name, payload]) => {
    const head = str(name);
    const size = head.length + payload.length;
    const sec = new Uint8Array(1 + u(size).length + size);
    sec.set([0, ...u(size), ...head]);
    sec.set(payload, 1 + u(size).length + head.length);
    return sec;
  });
  const all = new Uint8Array(bytes.length + custom.reduce((n, c) => n + c.length, 0));
  all.set(bytes);
  let at = bytes.length;
  for (const c of custom) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}
