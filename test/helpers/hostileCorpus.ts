/**
 * The generated hostile-Wasm corpus (issue 18 Build 6): deterministic families of modules, each
 * family straddling the limit it attacks — expression nesting (M7), guest call depth
 * (maxCallDepth), local counts (frame weight, then V8's 50 000), function counts and module size
 * (maxModuleBytes), br_table sizes (V8's 65 520), custom sections (size, garbage `name` sections,
 * many sections), host-call storms (log lines, state keys, signature checks against fuel), memory
 * and table limits, and start functions — with the outcome contracts-as/ABI.md prescribes for each:
 * `allow`/`deny`, or the SandboxError code. Used in-process by test/sandbox-abuse.test.ts, over
 * HTTP against a real agent there too, and by the fuzz campaign (fuzz/targets/hostileWasm.ts).
 *
 * Deliberately not here: running them (the callers do) and hand-written fixtures (test/fixtures/wat).
 */
import type { SandboxErrorCode } from '../../agent/errors.ts';
import { DEFAULT_LIMITS } from '../../agent/sandbox/limits.ts';
import { encode, I32, I64, OP, s, u, type Func, type ModuleSpec } from './wasmBinary.ts';

export type Expect = 'allow' | 'deny' | SandboxErrorCode;

export interface HostileCase {
  family: string;
  name: string;
  expect: Expect;
  /** Built on demand (some are close to 1 MiB). */
  bytes(): Uint8Array;
}

// Types every module declares (so indices are fixed).
const T_DECIDE = 0; // () -> i32
const T_PTRLEN = 1; // (i32 i32) -> ()
const T_I32_I32 = 2; // (i32) -> i32
const T_VOID = 3; // () -> ()
const T_NOW = 4; // () -> i64
const T_VERIFY = 5; // (i32 × 6) -> i32
const T_STATE_SET = 6; // (i32 × 4) -> ()
const T_INPUT_READ = 7; // (i32 i32 i32) -> i32
const TYPES: ModuleSpec['types'] = [
  [[], [I32]],
  [[I32, I32], []],
  [[I32], [I32]],
  [[], []],
  [[], [I64]],
  [[I32, I32, I32, I32, I32, I32], [I32]],
  [[I32, I32, I32, I32], []],
  [[I32, I32, I32], [I32]],
];
const c32 = (n: number) => [OP.i32_const, ...s(n)];
const MEM = { min: 1, max: 1 };

/** A module whose last function is `decide`, with memory unless told otherwise. */
function mod(funcs: Func[], extra: Partial<ModuleSpec> = {}): Uint8Array {
  return encode({ types: TYPES, memory: MEM, funcs, ...extra });
}
const decide = (body: number[], locals?: Func['locals']): Func => ({ type: T_DECIDE, body, locals });
/** `decide` calling import 0 `times` times in a loop (counter in local 0), then returning 1. */
function storm(imp: string, type: number, args: number[], times: number, dropResult: boolean): Uint8Array {
  const body = [
    OP.block,
    0x40,
    OP.loop,
    0x40,
    OP.local_get,
    0,
    ...c32(times),
    OP.i32_ge_u,
    OP.br_if,
    1,
    ...args,
    OP.call,
    0,
    ...(dropResult ? [OP.drop] : []),
    OP.local_get,
    0,
    ...c32(1),
    OP.i32_add,
    OP.local_set,
    0,
    OP.br,
    0,
    OP.end,
    OP.end,
    ...c32(1),
  ];
  return mod([decide(body, [[1, I32]])], { imports: [[imp, type]] });
}
/** Recursion to `n` (param counts up, returns 1 at n) through a function with `locals` extra i32 locals. */
function recursion(n: number, locals = 0, viaStart = false): Uint8Array {
  const f: Func = {
    type: T_I32_I32,
    locals: locals ? [[locals, I32]] : undefined,
    body: [OP.local_get, 0, ...c32(n), OP.i32_ge_u, OP.if, I32, ...c32(1), OP.else, OP.local_get, 0, ...c32(1), OP.i32_add, OP.call, 0, OP.return, OP.end],
  };
  if (!viaStart) return mod([f, decide([...c32(1), OP.call, 0])]);
  const start: Func = { type: T_VOID, body: [...c32(1), OP.call, 0, OP.drop] };
  return mod([f, start, decide(c32(1))], { start: 1 });
}

function garbage(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** The corpus, in a fixed order. */
export function hostileCorpus(): HostileCase[] {
  const out: HostileCase[] = [];
  const add = (family: string, name: string, expect: Expect, bytes: () => Uint8Array) => out.push({ family, name, expect, bytes });

  // Nesting: a chain of n i32.eqz over a constant is an expression n levels deep (M7: at most 1000).
  for (const n of [1, 2, 10, 100, 500, 998, 999, 1000, 1001, 1002, 1100, 2000, 5000, 20000]) {
    add('nesting', `eqz chain ${n}`, n > 1000 ? 'ERR_INVALID_MODULE' : n % 2 ? 'deny' : 'allow', () =>
      mod([decide([...c32(1), ...Array(n).fill(OP.i32_eqz)])]),
    );
  }
  // Nested blocks (n blocks, then n ends): the outermost is the function body itself.
  for (const n of [1, 10, 500, 998, 999, 1000, 1001, 1002, 2000, 10000]) {
    add('nesting', `blocks ${n}`, n > 1000 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      mod([decide([...Array(n).fill([OP.block, I32]).flat(), ...c32(1), ...Array(n).fill(OP.end)])]),
    );
  }
  // Nested loops: the same bound (and each loop body is charged).
  for (const n of [1, 10, 999, 1000, 1001, 1002, 5000]) {
    add('nesting', `loops ${n}`, n > 1000 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      mod([decide([...Array(n).fill([OP.loop, I32]).flat(), ...c32(1), ...Array(n).fill(OP.end)])]),
    );
  }

  // Nested ifs (each `if` inside the previous one's then-arm).
  for (const n of [1, 10, 999, 1000, 1001, 1002, 3000]) {
    add('nesting', `ifs ${n}`, n > 1000 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      mod([
        decide([
          ...Array(n)
            .fill([...c32(1), OP.if, I32])
            .flat(),
          ...c32(1),
          ...Array(n)
            .fill([OP.else, ...c32(0), OP.end])
            .flat(),
        ]),
      ]),
    );
  }

  // Call depth: recursion through a 1-parameter function of weight 3 from decide (weight 2):
  // 2 + 3n ≤ maxCallDepth 5000 ⇔ n ≤ 1666.
  for (const n of [1, 10, 100, 1000, 1600, 1665, 1666, 1667, 1668, 1700, 2000, 5000, 10000, 30000, 100000, 1_000_000]) {
    add('call depth', `recursion ${n}`, n <= 1666 ? 'allow' : 'ERR_LIMIT', () => recursion(n));
  }
  // With 400 extra locals the weight is 1 + ⌈(3 + 401 + h)/4⌉ = 103: 2 + 103n ≤ 5000 ⇔ n ≤ 48.
  for (const n of [1, 10, 47, 48, 49, 50, 100, 30000]) {
    add('call depth', `recursion ${n} with 400 locals`, n <= 48 ? 'allow' : 'ERR_LIMIT', () => recursion(n, 400));
  }
  // In the start function (weight 2, the callee 3): 2 + 3n ≤ 5000 ⇔ n ≤ 1666; beyond, the
  // instantiation itself ends with ERR_LIMIT.
  for (const n of [100, 1666, 1667, 30000]) {
    add('call depth', `recursion ${n} in the start function`, n <= 1666 ? 'allow' : 'ERR_LIMIT', () => recursion(n, 0, true));
  }
  // Unbounded mutual recursion a → b → a, and recursion through call_indirect.
  add('call depth', 'mutual recursion', 'ERR_LIMIT', () =>
    mod([{ type: T_VOID, body: [OP.call, 1] }, { type: T_VOID, body: [OP.call, 0] }, decide([OP.call, 0, ...c32(1)])]),
  );
  add('call depth', 'call_indirect recursion', 'ERR_LIMIT', () =>
    mod([{ type: T_VOID, body: [...c32(0), OP.call_indirect, ...u(T_VOID), 0x00] }, decide([OP.call, 0, ...c32(1)])], {
      table: { min: 1, max: 1, elems: [0] },
    }),
  );
  // A return inside nested blocks gives its weight back: 2000 sequential calls of a function that
  // returns from three blocks deep never accumulate depth.
  add('call depth', 'return from nested blocks, 2000 times', 'allow', () =>
    mod([
      { type: T_I32_I32, body: [OP.block, 0x40, OP.block, 0x40, OP.block, 0x40, OP.local_get, 0, OP.return, OP.end, OP.end, OP.end, ...c32(0)] },
      decide([
        ...Array(2000)
          .fill([...c32(1), OP.call, 0, OP.drop])
          .flat(),
        ...c32(1),
      ]),
    ]),
  );
  // So does a `return` without a value: from nested blocks, from a loop, and as the whole body.
  add('call depth', 'void return from nested blocks, 3000 times', 'allow', () =>
    mod([{ type: T_VOID, body: [OP.block, 0x40, OP.block, 0x40, OP.return, OP.end, OP.end] }, decide([...Array(3000).fill([OP.call, 0]).flat(), ...c32(1)])]),
  );
  add('call depth', 'void return in a loop, 3000 times', 'allow', () =>
    mod([{ type: T_VOID, body: [OP.loop, 0x40, OP.return, OP.end] }, decide([...Array(3000).fill([OP.call, 0]).flat(), ...c32(1)])]),
  );
  add('call depth', 'a body that is a bare return, 3000 times', 'allow', () =>
    mod([{ type: T_VOID, body: [OP.return] }, decide([...Array(3000).fill([OP.call, 0]).flat(), ...c32(1)])]),
  );
  // A branch to the function's outermost label gives it back too.
  add('call depth', 'br out of the body, 3000 times', 'allow', () =>
    mod([{ type: T_VOID, body: [OP.block, 0x40, OP.br, 1, OP.end] }, decide([...Array(3000).fill([OP.call, 0]).flat(), ...c32(1)])]),
  );

  // Locals: a () -> () function with L i64 locals called once from decide (weight 2): its weight
  // 1 + ⌈(L + 1)/4⌉ fits 4998 ⇔ L ≤ 19987; V8 refuses more than 50 000 locals in a function.
  for (const L of [0, 1, 100, 1000, 10000, 19986, 19987, 19988, 20000, 30000, 49999, 50001, 100000]) {
    add('locals', `${L} locals`, L > 50000 ? 'ERR_INVALID_MODULE' : L <= 19987 ? 'allow' : 'ERR_LIMIT', () =>
      mod([{ type: T_VOID, locals: L ? [[L, I64]] : undefined, body: [OP.nop] }, decide([OP.call, 0, ...c32(1)])]),
    );
  }
  // Locals in a function that is never called: no frame, no limit (only V8's).
  for (const L of [30000, 50001]) {
    add('locals', `${L} locals, never called`, L > 50000 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      mod([{ type: T_VOID, locals: [[L, I64]], body: [] }, decide(c32(1))]),
    );
  }

  // Parameters: a function of P i32 parameters called once (weights 1 + ⌈(3P + 1)/4⌉ and, for
  // decide with P operands stacked, 1 + ⌈(1 + P)/4⌉: at most 1004 units); V8 allows 1000 parameters.
  for (const P of [0, 1, 100, 999, 1000, 1001]) {
    add('parameters', `${P} parameters`, P > 1000 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      encode({
        types: [...TYPES, [Array(P).fill(I32), []]],
        memory: MEM,
        funcs: [{ type: TYPES.length, body: [OP.nop] }, decide([...Array(P).fill(c32(7)).flat(), OP.call, 0, ...c32(1)])],
      }),
    );
  }
  // Globals: many mutable globals (no limit of ours; V8 allows 1 000 000).
  for (const g of [1, 1000, 100000]) {
    add('globals', `${g} globals`, 'allow', () =>
      mod([decide([OP.global_get, ...u(g - 1), OP.drop, ...c32(1)])], { globals: Array.from({ length: g }, () => ({ type: I32, mutable: true, init: 0 })) }),
    );
  }

  // Function counts: k functions of 4 bytes each; past ~262 000 the module passes maxModuleBytes.
  for (const k of [1, 10, 100, 1000, 10000, 30000]) {
    add('functions', `${k} functions`, 'allow', () =>
      mod([...Array.from({ length: k }, (): Func => ({ type: T_VOID, body: [] })), decide([OP.call, ...u(k - 1), ...c32(1)])]),
    );
  }
  for (const k of [270000, 300000]) {
    add('functions', `${k} functions (over maxModuleBytes)`, 'ERR_INVALID_MODULE', () =>
      mod([...Array.from({ length: k }, (): Func => ({ type: T_VOID, body: [] })), decide(c32(1))]),
    );
  }

  // br_table: n targets (all to the outer block); V8 accepts at most 65 520.
  for (const n of [0, 1, 100, 10000, 65519, 65520, 65521, 100000]) {
    add('br_table', `${n} targets`, n > 65520 ? 'ERR_INVALID_MODULE' : 'allow', () =>
      mod([decide([OP.block, 0x40, ...c32(7), OP.br_table, ...u(n), ...Array(n).fill(0), 0, OP.end, ...c32(1)])]),
    );
  }

  // Custom sections: ignored (never given to Binaryen), but counted in the module's size.
  const base = mod([decide(c32(1))]);
  for (const n of [0, 1, 1000, 100_000, 500_000]) {
    add('custom sections', `one of ${n} bytes`, 'allow', () => mod([decide(c32(1))], { custom: [['x', garbage(n, n)]] }));
  }
  for (let i = 0; i < 12; i++) {
    const n = [1, 2, 3, 7, 16, 100, 1000, 4096, 10_000, 65_536, 200_000, 900_000][i]!;
    add('custom sections', `garbage name section ${n} bytes (seed ${i})`, 'allow', () => mod([decide(c32(1))], { custom: [['name', garbage(1000 + i, n)]] }));
  }
  add('custom sections', 'garbage name section before a good one', 'allow', () =>
    mod([decide(c32(1))], {
      custom: [
        ['name', garbage(7, 500)],
        ['name', Uint8Array.of(1, 2, 1, 0)],
      ],
    }),
  );
  for (const k of [10, 1000, 20000]) {
    add('custom sections', `${k} sections`, 'allow', () =>
      mod([decide(c32(1))], { custom: Array.from({ length: k }, (_, i) => [`s${i}`, garbage(i, 8)] as [string, Uint8Array]) }),
    );
  }
  // Exactly maxModuleBytes, and one byte more (a custom section pads the module).
  const pad = (total: number) => {
    const head = 1 + 1; // name "p": length byte + 1 char
    let payload = total - base.length - 1 - head;
    for (;;) {
      const size = head + payload;
      const got = base.length + 1 + u(size).length + size;
      if (got === total) return mod([decide(c32(1))], { custom: [['p', garbage(3, payload)]] });
      payload -= got - total;
    }
  };
  add('custom sections', 'module of exactly maxModuleBytes', 'allow', () => pad(DEFAULT_LIMITS.maxModuleBytes));
  add('custom sections', 'module of maxModuleBytes + 1', 'ERR_INVALID_MODULE', () => pad(DEFAULT_LIMITS.maxModuleBytes + 1));
  // A custom section's name must be UTF-8 (V8 refuses the binary).
  add('custom sections', 'section name not UTF-8', 'ERR_INVALID_MODULE', () => {
    const b = mod([decide(c32(1))], { custom: [['ab', Uint8Array.of(1)]] });
    b[b.length - 3] = 0xff; // the name's first byte
    return b;
  });
  add('custom sections', 'section length past the end', 'ERR_INVALID_MODULE', () => {
    const b = mod([decide(c32(1))], { custom: [['ab', Uint8Array.of(1)]] });
    b[b.length - 5] = 0x7f; // the section's size
    return b;
  });

  // Host-call storms against their limits.
  for (const n of [1, 63, 64, 65, 66, 1000, 1_000_000]) {
    add('host calls', `log ×${n} (maxLogLines 64)`, n <= 64 ? 'allow' : 'ERR_LIMIT', () => storm('log', T_PTRLEN, [...c32(0), ...c32(1)], n, false));
  }
  for (const n of [1, 10, 100, 1000]) {
    add('host calls', `set_reason ×${n}`, 'allow', () => storm('set_reason', T_PTRLEN, [...c32(0), ...c32(4)], n, false));
  }
  add('host calls', 'set_reason of maxReasonBytes + 1', 'ERR_LIMIT', () =>
    storm('set_reason', T_PTRLEN, [...c32(0), ...c32(DEFAULT_LIMITS.maxReasonBytes + 1)], 1, false),
  );
  for (const n of [1, 1000, 100_000]) {
    add('host calls', `now_ms ×${n}`, 'allow', () => storm('now_ms', T_NOW, [], n, true));
  }
  add('host calls', 'now_ms forever', 'ERR_OUT_OF_FUEL', () => storm('now_ms', T_NOW, [], 2 ** 31 - 1, true));
  add('host calls', 'input_read forever', 'ERR_OUT_OF_FUEL', () => storm('input_read', T_INPUT_READ, [...c32(0), ...c32(0), ...c32(64)], 2 ** 31 - 1, true));
  add('host calls', 'input_read out of guest memory', 'ERR_GUEST_MEMORY', () =>
    storm('input_read', T_INPUT_READ, [...c32(0), ...c32(65530), ...c32(64)], 1, true),
  );
  // verify_ed25519 costs 120 000 + 20 + 128 units: 400 calls fit 50 000 000, 420 do not.
  for (const n of [1, 100, 400, 420, 1000]) {
    add('host calls', `verify_ed25519 ×${n}`, n <= 400 ? 'allow' : 'ERR_OUT_OF_FUEL', () =>
      storm('verify_ed25519', T_VERIFY, [...c32(0), ...c32(32), ...c32(0), ...c32(64), ...c32(0), ...c32(32)], n, true),
    );
  }
  // verify_eip191 costs 1 600 000 + 20 + bytes: 30 fit, 32 do not.
  for (const n of [1, 30, 32, 100]) {
    add('host calls', `verify_eip191 ×${n}`, n <= 30 ? 'allow' : 'ERR_OUT_OF_FUEL', () =>
      storm('verify_eip191', T_VERIFY, [...c32(0), ...c32(32), ...c32(0), ...c32(65), ...c32(0), ...c32(20)], n, true),
    );
  }
  // state_set with keys of length 1..n (distinct keys): at most maxStateKeys 32 when decide returns.
  for (const n of [1, 31, 32, 33, 64]) {
    add('host calls', `state_set of ${n} keys`, n <= 32 ? 'allow' : 'ERR_LIMIT', () =>
      mod([decide([...Array.from({ length: n }, (_, i) => [...c32(0), ...c32(i + 1), ...c32(0), ...c32(1), OP.call, 0]).flat(), ...c32(1)])], {
        imports: [['state_set', T_STATE_SET]],
      }),
    );
  }
  add('host calls', 'state_set key of maxStateKeyBytes + 1', 'ERR_LIMIT', () =>
    storm('state_set', T_STATE_SET, [...c32(0), ...c32(DEFAULT_LIMITS.maxStateKeyBytes + 1), ...c32(0), ...c32(1)], 1, false),
  );
  add('host calls', 'log in the start function', 'ERR_TRAP', () =>
    mod([{ type: T_VOID, body: [...c32(0), ...c32(1), OP.call, 0] }, decide(c32(1))], { imports: [['log', T_PTRLEN]], start: 1 }),
  );

  // Memory: the declared maximum against maxMemoryPages 16.
  for (const max of [0, 1, 15, 16, 17, 100, 65536]) {
    add('memory', `maximum ${max} pages`, max <= 16 ? 'allow' : 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { memory: { min: 0, max } }));
  }
  add('memory', 'no maximum', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { memory: { min: 1 } }));
  add('memory', 'initial above maximum', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { memory: { min: 2, max: 1 } }));
  add('memory', 'no memory', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { memory: undefined, exports: [['decide', 0, 0]] }));
  for (const max of [1, 16]) {
    add('memory', `memory.grow to its maximum ${max} and past it`, 'allow', () =>
      mod([decide([...c32(max - 1), OP.memory_grow, 0x00, OP.drop, ...c32(1), OP.memory_grow, 0x00, ...c32(-1), 0x46 /* i32.eq */])], {
        memory: { min: 1, max },
      }),
    );
  }
  add('memory', 'data segment at the last byte', 'allow', () => mod([decide(c32(1))], { data: [{ offset: 65535, bytes: [1] }] }));
  add('memory', 'data segment past the end', 'ERR_TRAP', () => mod([decide(c32(1))], { data: [{ offset: 65536, bytes: [1] }] }));
  add('memory', 'load past the end', 'ERR_TRAP', () => mod([decide([...c32(65534), OP.i32_load, 0x02, 0x00])]));
  add('memory', 'store at the last word', 'allow', () => mod([decide([...c32(65532), ...c32(7), OP.i32_store, 0x02, 0x00, ...c32(1)])]));

  // Tables: the declared maximum against maxTableElements 1024.
  for (const max of [0, 1, 1024, 1025, 100000]) {
    add('tables', `maximum ${max} elements`, max <= 1024 ? 'allow' : 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { table: { min: 0, max } }));
  }
  add('tables', 'no maximum', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { table: { min: 1 } }));
  add('tables', 'call_indirect past the end', 'ERR_TRAP', () =>
    mod([decide([...c32(5), OP.call_indirect, ...u(T_DECIDE), 0x00])], { table: { min: 1, max: 1 } }),
  );
  add('tables', 'call_indirect of a null entry', 'ERR_TRAP', () =>
    mod([decide([...c32(0), OP.call_indirect, ...u(T_DECIDE), 0x00])], { table: { min: 1, max: 1 } }),
  );
  add('tables', 'call_indirect with the wrong signature', 'ERR_TRAP', () =>
    mod([{ type: T_VOID, body: [] }, decide([...c32(0), OP.call_indirect, ...u(T_DECIDE), 0x00])], { table: { min: 1, max: 1, elems: [0] } }),
  );
  add('tables', 'call_indirect through the table', 'allow', () =>
    mod([{ type: T_DECIDE, body: c32(1) }, decide([...c32(0), OP.call_indirect, ...u(T_DECIDE), 0x00])], { table: { min: 1, max: 1, elems: [0] } }),
  );

  // Start functions and verdicts.
  add('start', 'loops forever', 'ERR_OUT_OF_FUEL', () => mod([{ type: T_VOID, body: [OP.loop, 0x40, OP.br, 0, OP.end] }, decide(c32(1))], { start: 0 }));
  add('start', 'traps', 'ERR_TRAP', () => mod([{ type: T_VOID, body: [OP.unreachable] }, decide(c32(1))], { start: 0 }));
  add('start', 'writes memory that decide reads', 'allow', () =>
    mod([{ type: T_VOID, body: [...c32(0), ...c32(1), OP.i32_store, 0x02, 0x00] }, decide([...c32(0), OP.i32_load, 0x02, 0x00])], { start: 0 }),
  );
  add('verdicts', 'decide returns 1', 'allow', () => mod([decide(c32(1))]));
  add('verdicts', 'decide returns 0', 'deny', () => mod([decide(c32(0))]));
  for (const v of [-1, 2, 1000]) add('verdicts', `decide returns ${v}`, 'ERR_BAD_VERDICT', () => mod([decide(c32(v))]));
  add('verdicts', 'decide loops forever', 'ERR_OUT_OF_FUEL', () => mod([decide([OP.loop, 0x40, OP.br, 0, OP.end, ...c32(1)])]));
  add('verdicts', 'decide traps', 'ERR_TRAP', () => mod([decide([OP.unreachable])]));
  add('verdicts', 'decide has a parameter', 'ERR_INVALID_MODULE', () => mod([{ type: T_I32_I32, body: c32(1) }]));
  add('imports', 'an import outside capsule_v1', 'ERR_INVALID_MODULE', () => {
    const b = mod([decide(c32(1))], { imports: [['log', T_PTRLEN]] });
    const at = Buffer.from(b).indexOf('capsule_v1');
    b[at] = 'k'.charCodeAt(0);
    return b;
  });
  add('imports', 'every capsule_v1 import, with its type', 'allow', () =>
    mod([decide(c32(1))], {
      imports: [
        ['now_ms', T_NOW],
        ['log', T_PTRLEN],
        ['set_reason', T_PTRLEN],
        ['state_set', T_STATE_SET],
        ['input_read', T_INPUT_READ],
        ['verify_ed25519', T_VERIFY],
        ['verify_eip191', T_VERIFY],
      ],
    }),
  );
  add('imports', 'log imported with the wrong type', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { imports: [['log', T_VOID]] }));
  add('imports', 'an unknown capsule_v1 name', 'ERR_INVALID_MODULE', () => mod([decide(c32(1))], { imports: [['exec', T_VOID]] }));
  return out;
}
