/**
 * Deterministic fuel and call-depth metering (contracts-as/ABI.md §5, §6): rewrites a validated
 * module so that every function body and every loop body first charges its static cost to an i64
 * fuel counter and traps when the counter goes below zero, and every function holds its static
 * frame weight of an i32 depth counter for as long as it runs (taken on entry, given back on every
 * exit: falling off the end, `return` anywhere in the body; a trap ends the instance), trapping when
 * the counter goes below zero. So recursion ends at the same depth on every host and thread, long
 * before V8's native stack would (which differs between the agent's worker and the CLI). Both
 * counters are imported mutable globals that the host creates per evaluation: one instrumented (and
 * cached) module serves any limit, the host reads them even when instantiation itself fails (a start
 * function out of fuel), host calls charge the same fuel, and the guest has no export or name of
 * ours to collide with. NaN results are canonicalised first (Binaryen `denan`) so floats cannot
 * make two machines disagree.
 *
 * Deliberately not here: validation (validate.ts runs first) and running (Sandbox.ts).
 */
import { SandboxError } from '../errors.ts';
import { ALLOWED_FEATURES, binaryen, quietly, readModule } from './binaryen.ts';

import { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME } from './meterAbi.ts';

// The cost table's version and the counters' import names live in meterAbi.ts (no Binaryen there);
// re-exported so that existing importers of this file keep working.
export { DEPTH_IMPORT_NAME, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, FUEL_TABLE_VERSION } from './meterAbi.ts';
/** Deepest expression nesting the meter accepts (ABI.md §2, M7); bounds its own recursion. */
export const MAX_NESTING = 1000;

type Expr = number;
/** Setters binaryen.js has but its typings omit. */
const setters = binaryen as unknown as {
  Loop: { setBody(loop: Expr, body: Expr): void };
  Function: { setBody(func: binaryen.FunctionRef, body: Expr): void };
  Return: { getValue(ret: Expr): Expr; setValue(ret: Expr, value: Expr): void };
  _BinaryenFunctionAddVar(func: binaryen.FunctionRef, type: number): number;
};

/**
 * Frame weight of a function in depth units (ABI.md §5): 1 + ⌈(3·params + locals + operand stack
 * height) / 4⌉. Measured on V8 (Liftoff, the largest frames): an empty frame takes ~55 bytes, a
 * local ~8.4, a parameter ~24, a pending operand ~8; so one unit never stands for more than ~55
 * bytes of native stack, whatever the shape of the function.
 */
export function frameWeight(params: number, locals: number, height: number): number {
  return 1 + Math.ceil((3 * params + locals + height) / 4);
}

/**
 * The child expressions of each kind the allowed feature set produces: single-child fields (read
 * with get<Field>, replaced with set<Field>) and, for some kinds, an operand list after them. One
 * table serves the walk and the rare replacement, so both list children in the same order.
 */
const SHAPES = new Map<number, { kind: string; fields: string[]; list?: true }>([
  [binaryen.BlockId, { kind: 'Block', fields: [], list: true }],
  [binaryen.IfId, { kind: 'If', fields: ['Condition', 'IfTrue', 'IfFalse'] }],
  [binaryen.LoopId, { kind: 'Loop', fields: ['Body'] }],
  [binaryen.BreakId, { kind: 'Break', fields: ['Condition', 'Value'] }],
  [binaryen.SwitchId, { kind: 'Switch', fields: ['Condition', 'Value'] }],
  [binaryen.CallId, { kind: 'Call', fields: [], list: true }],
  [binaryen.CallIndirectId, { kind: 'CallIndirect', fields: ['Target'], list: true }],
  [binaryen.LocalSetId, { kind: 'LocalSet', fields: ['Value'] }],
  [binaryen.GlobalSetId, { kind: 'GlobalSet', fields: ['Value'] }],
  [binaryen.UnaryId, { kind: 'Unary', fields: ['Value'] }],
  [binaryen.DropId, { kind: 'Drop', fields: ['Value'] }],
  [binaryen.ReturnId, { kind: 'Return', fields: ['Value'] }],
  [binaryen.LoadId, { kind: 'Load', fields: ['Ptr'] }],
  [binaryen.StoreId, { kind: 'Store', fields: ['Ptr', 'Value'] }],
  [binaryen.BinaryId, { kind: 'Binary', fields: ['Left', 'Right'] }],
  [binaryen.SelectId, { kind: 'Select', fields: ['IfTrue', 'IfFalse', 'Condition'] }],
  [binaryen.MemoryGrowId, { kind: 'MemoryGrow', fields: ['Delta'] }],
  [binaryen.TupleMakeId, { kind: 'TupleMake', fields: [], list: true }],
  [binaryen.TupleExtractId, { kind: 'TupleExtract', fields: ['Tuple'] }],
]);
const LEAVES = new Set([binaryen.ConstId, binaryen.LocalGetId, binaryen.GlobalGetId, binaryen.MemorySizeId, binaryen.NopId, binaryen.UnreachableId]);

/** binaryen.js's per-kind accessors (its typings omit most of them). */
const accessors = binaryen as unknown as Record<string, Record<string, (e: Expr, ...a: number[]) => Expr>>;

/**
 * Child expressions by expression kind. Uses the per-kind getters: getExpressionInfo builds a whole
 * object per node and made metering 10× slower.
 */
function children(expr: Expr): Expr[] {
  const id = binaryen.getExpressionId(expr);
  const shape = SHAPES.get(id);
  if (!shape) {
    if (LEAVES.has(id)) return [];
    throw new SandboxError('ERR_INVALID_MODULE', `logic module: uses an instruction the meter does not know (expression id ${id})`);
  }
  const a = accessors[shape.kind]!;
  const out = shape.fields.map((f) => a[`get${f}`]!(expr)).filter((e) => e !== 0);
  if (shape.list) {
    const n = a[shape.kind === 'Block' ? 'getNumChildren' : 'getNumOperands']!(expr) as unknown as number;
    const at = a[shape.kind === 'Block' ? 'getChildAt' : 'getOperandAt']!;
    for (let i = 0; i < n; i++) out.push(at(expr, i));
  }
  return out;
}

/**
 * Setters for the children of `expr`, in the order children() lists them (used only to replace a
 * child, which is rare: the walk itself stays on the cheap getters).
 */
function childSetters(expr: Expr): Array<(e: Expr) => void> {
  const shape = SHAPES.get(binaryen.getExpressionId(expr));
  if (!shape) return [];
  const a = accessors[shape.kind]!;
  const out = shape.fields.filter((f) => a[`get${f}`]!(expr) !== 0).map((f) => (e: Expr) => void a[`set${f}`]!(expr, e));
  if (shape.list) {
    const n = a[shape.kind === 'Block' ? 'getNumChildren' : 'getNumOperands']!(expr) as unknown as number;
    const set = a[shape.kind === 'Block' ? 'setChildAt' : 'setOperandAt']!;
    for (let i = 0; i < n; i++) out.push((e: Expr) => void set(expr, i, e));
  }
  return out;
}

function isVoidReturn(e: Expr): boolean {
  return binaryen.getExpressionId(e) === binaryen.ReturnId && !setters.Return.getValue(e);
}

/** Instruments `bytes` (already validated) and returns the metered binary. */
export function instrument(bytes: Uint8Array): Uint8Array {
  const m = readModule(bytes, ALLOWED_FEATURES);
  try {
    return meter(m);
  } finally {
    m.dispose();
  }
}

/**
 * Instruments a module read with ALLOWED_FEATURES (e.g. by checkModule) in place and returns the
 * metered binary. The result is not re-validated here: V8 validates it when compiling.
 */
export function meter(m: binaryen.Module): Uint8Array {
  // Binaryen's pass and writer options are process-wide (asc sets them when it compiles in the same
  // process): the metered binary must not depend on them, so they are pinned while we work.
  const saved = [binaryen.getOptimizeLevel(), binaryen.getShrinkLevel(), binaryen.getDebugInfo()] as const;
  binaryen.setOptimizeLevel(0);
  binaryen.setShrinkLevel(0);
  binaryen.setDebugInfo(false);
  try {
    return meterPinned(m);
  } finally {
    binaryen.setOptimizeLevel(saved[0]);
    binaryen.setShrinkLevel(saved[1]);
    binaryen.setDebugInfo(saved[2]);
  }
}

function meterPinned(m: binaryen.Module): Uint8Array {
  quietly(() => m.runPasses(['denan']));
  // An internal name no guest global uses (names come from the guest's name section).
  let fuelName = '__capsule_fuel';
  for (let n = 1; m.getGlobal(fuelName) !== 0; n++) fuelName = `__capsule_fuel_${n}`;
  // The imported global is mutable: this needs the mutable-globals feature, which is allowed.
  const addImport = (m as unknown as { addGlobalImport(i: string, mod: string, base: string, t: number, mutable: boolean): void }).addGlobalImport.bind(m);
  addImport(fuelName, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, binaryen.i64, true);
  let depthName = '__capsule_depth';
  for (let n = 1; m.getGlobal(depthName) !== 0; n++) depthName = `__capsule_depth_${n}`;
  addImport(depthName, FUEL_IMPORT_MODULE, DEPTH_IMPORT_NAME, binaryen.i32, true);

  // This binaryen.js build takes one bigint (its typings still say two 32-bit halves).
  const i64 = (v: number): Expr => (m.i64.const as unknown as (v: bigint) => Expr)(BigInt(v));
  const charge = (cost: number): Expr =>
    m.block(
      null,
      [
        m.global.set(fuelName, m.i64.sub(m.global.get(fuelName, binaryen.i64), i64(cost))),
        m.if(m.i64.lt_s(m.global.get(fuelName, binaryen.i64), i64(0)), m.unreachable()),
      ],
      binaryen.none,
    );

  // Taking and giving back a function's frame weight on the depth counter.
  const depthGet = () => m.global.get(depthName, binaryen.i32);
  const enter = (w: number): Expr =>
    m.block(
      null,
      [m.global.set(depthName, m.i32.sub(depthGet(), m.i32.const(w))), m.if(m.i32.lt_s(depthGet(), m.i32.const(0)), m.unreachable())],
      binaryen.none,
    );
  const leave = (w: number): Expr => m.global.set(depthName, m.i32.add(depthGet(), m.i32.const(w)));

  // Cost of a subtree: its expressions, except nested loop bodies, which are charged per iteration;
  // and an upper bound of the operand stack height it needs. `returns` collects its `return`s with
  // a value; a `return` without one is replaced where it stands (its parent's setter) by
  // (block (give the weight back) (return)), once the function's weight is known (`voids`).
  const walk = (expr: Expr, depth: number, returns: Expr[], voids: Array<(leave: Expr) => void>): { cost: number; height: number } => {
    if (depth > MAX_NESTING) {
      throw new SandboxError('ERR_INVALID_MODULE', `logic module: expressions nested deeper than ${MAX_NESTING} levels`);
    }
    const id = binaryen.getExpressionId(expr);
    if (id === binaryen.LoopId) {
      let body = (binaryen as unknown as { Loop: { getBody(e: Expr): Expr } }).Loop.getBody(expr);
      if (isVoidReturn(body)) setters.Loop.setBody(expr, (body = m.block(null, [body], binaryen.unreachable)));
      const inner = walk(body, depth + 1, returns, voids);
      setters.Loop.setBody(expr, m.block(null, [charge(Math.max(1, inner.cost)), body], binaryen.getExpressionType(body)));
      return { cost: 1, height: inner.height };
    }
    if (id === binaryen.ReturnId && setters.Return.getValue(expr)) returns.push(expr);
    const kids = children(expr);
    let n = 1;
    let h = 0;
    let set: Array<(e: Expr) => void> | undefined;
    kids.forEach((c, i) => {
      if (isVoidReturn(c)) {
        const put = (set ??= childSetters(expr))[i]!;
        voids.push((leave) => put(m.block(null, [leave, c], binaryen.unreachable)));
      }
      const r = walk(c, depth + 1, returns, voids);
      n += r.cost;
      h = Math.max(h, r.height);
    });
    // A block's or an if's children do not stack up; an instruction's operands do (bounded by
    // assuming the deepest one is evaluated last).
    const stacked = id === binaryen.BlockId || id === binaryen.IfId ? h : h + Math.max(0, kids.length - 1);
    return { cost: n, height: Math.max(1, stacked) };
  };

  for (let i = 0; i < m.getNumFunctions(); i++) {
    const f = m.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(f);
    if (info.module || !info.body) continue; // imported
    // A body that is a bare `return` becomes a block's child, so that it can be replaced.
    const body = isVoidReturn(info.body) ? m.block(null, [info.body], binaryen.unreachable) : info.body;
    const returns: Expr[] = [];
    const voids: Array<(leave: Expr) => void> = [];
    const { cost: c, height } = walk(body, 0, returns, voids);
    const results = info.results;
    const type = binaryen.getExpressionType(body);
    // One scratch local holds a result while the weight is given back.
    const tmp = results !== binaryen.none ? setters._BinaryenFunctionAddVar(f, results) : -1;
    const w = frameWeight(
      binaryen.expandType(info.params).length,
      (binaryen as unknown as { Function: { getNumVars(f: binaryen.FunctionRef): number } }).Function.getNumVars(f),
      height,
    );
    for (const r of returns) {
      // The value is computed first (calls in it hold their own weight), then the weight goes back.
      const v = setters.Return.getValue(r);
      setters.Return.setValue(r, m.block(null, [m.local.set(tmp, v), leave(w), m.local.get(tmp, results)], results));
    }
    for (const replace of voids) replace(leave(w));
    const metered = m.block(null, [charge(Math.max(1, c)), body], type);
    const exit =
      type === binaryen.unreachable
        ? [metered]
        : type === binaryen.none
          ? [metered, leave(w)]
          : [m.local.set(tmp, metered), leave(w), m.local.get(tmp, results)];
    setters.Function.setBody(f, m.block(null, [enter(w), ...exit], type === binaryen.unreachable ? binaryen.unreachable : results));
  }
  return m.emitBinary();
}
