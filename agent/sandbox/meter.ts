/**
 * Deterministic fuel metering (contracts-as/ABI.md §6): rewrites a validated module so that every
 * function body and every loop body first charges its static cost to an i64 fuel counter and traps
 * when the counter goes below zero. The counter is an imported mutable global that the host creates
 * per evaluation: one instrumented (and cached) module serves any fuel limit, the host reads it even
 * when instantiation itself fails (a start function out of fuel), host calls charge the same
 * counter, and the guest has no export or name of ours to collide with. NaN results are
 * canonicalised first (Binaryen `denan`) so floats cannot make two machines disagree.
 *
 * Deliberately not here: validation (validate.ts runs first) and running (Sandbox.ts).
 */
import { SandboxError } from '../errors.ts';
import { ALLOWED_FEATURES, binaryen, quietly, readModule } from './binaryen.ts';

/** Version of the cost function below; part of every decision record and of the cache key. */
export const FUEL_TABLE_VERSION = 1;
export const FUEL_IMPORT_MODULE = '__capsule_meter';
export const FUEL_IMPORT_NAME = 'fuel';
/** Deepest expression nesting the meter accepts (ABI.md §2, M7); bounds its own recursion. */
export const MAX_NESTING = 1000;

type Expr = number;
/** Setters binaryen.js has but its typings omit. */
const setters = binaryen as unknown as {
  Loop: { setBody(loop: Expr, body: Expr): void };
  Function: { setBody(func: binaryen.FunctionRef, body: Expr): void };
};

/**
 * Child expressions by expression kind: the only kinds the allowed feature set produces. Uses the
 * per-kind getters: getExpressionInfo builds a whole object per node and made metering 10× slower.
 */
function children(expr: Expr): Expr[] {
  const b = binaryen as unknown as Record<string, Record<string, (e: Expr, i?: number) => Expr>>;
  const g = (kind: string, ...fields: string[]) => fields.map((f) => b[kind]![`get${f}`]!(expr)).filter((e) => e !== 0);
  const list = (kind: string) => {
    const n = b[kind]![kind === 'Block' ? 'getNumChildren' : 'getNumOperands']!(expr) as unknown as number;
    const at = b[kind]![kind === 'Block' ? 'getChildAt' : 'getOperandAt']!;
    return Array.from({ length: n }, (_, i) => at(expr, i));
  };
  switch (binaryen.getExpressionId(expr)) {
    case binaryen.BlockId: return list('Block');
    case binaryen.IfId: return g('If', 'Condition', 'IfTrue', 'IfFalse');
    case binaryen.LoopId: return g('Loop', 'Body');
    case binaryen.BreakId: return g('Break', 'Condition', 'Value');
    case binaryen.SwitchId: return g('Switch', 'Condition', 'Value');
    case binaryen.CallId: return list('Call');
    case binaryen.CallIndirectId: return [...g('CallIndirect', 'Target'), ...list('CallIndirect')];
    case binaryen.LocalSetId: return g('LocalSet', 'Value');
    case binaryen.GlobalSetId: return g('GlobalSet', 'Value');
    case binaryen.UnaryId: return g('Unary', 'Value');
    case binaryen.DropId: return g('Drop', 'Value');
    case binaryen.ReturnId: return g('Return', 'Value');
    case binaryen.LoadId: return g('Load', 'Ptr');
    case binaryen.StoreId: return g('Store', 'Ptr', 'Value');
    case binaryen.BinaryId: return g('Binary', 'Left', 'Right');
    case binaryen.SelectId: return g('Select', 'IfTrue', 'IfFalse', 'Condition');
    case binaryen.MemoryGrowId: return g('MemoryGrow', 'Delta');
    case binaryen.TupleMakeId: return list('TupleMake');
    case binaryen.TupleExtractId: return g('TupleExtract', 'Tuple');
    case binaryen.ConstId: case binaryen.LocalGetId: case binaryen.GlobalGetId: case binaryen.MemorySizeId:
    case binaryen.NopId: case binaryen.UnreachableId:
      return [];
    default:
      throw new SandboxError('ERR_INVALID_MODULE', `logic module: uses an instruction the meter does not know (expression id ${binaryen.getExpressionId(expr)})`);
  }
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
  quietly(() => m.runPasses(['denan']));
  // An internal name no guest global uses (names come from the guest's name section).
  let fuelName = '__capsule_fuel';
  for (let n = 1; m.getGlobal(fuelName) !== 0; n++) fuelName = `__capsule_fuel_${n}`;
  // The imported global is mutable: this needs the mutable-globals feature, which is allowed.
  (m as unknown as { addGlobalImport(i: string, mod: string, base: string, t: number, mutable: boolean): void })
    .addGlobalImport(fuelName, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, binaryen.i64, true);

  // This binaryen.js build takes one bigint (its typings still say two 32-bit halves).
  const i64 = (v: number): Expr => (m.i64.const as unknown as (v: bigint) => Expr)(BigInt(v));
  const charge = (cost: number): Expr => m.block(null, [
    m.global.set(fuelName, m.i64.sub(m.global.get(fuelName, binaryen.i64), i64(cost))),
    m.if(m.i64.lt_s(m.global.get(fuelName, binaryen.i64), i64(0)), m.unreachable()),
  ], binaryen.none);

  // Cost of a subtree: its expressions, except nested loop bodies, which are charged per iteration.
  const cost = (expr: Expr, depth: number): number => {
    if (depth > MAX_NESTING) {
      throw new SandboxError('ERR_INVALID_MODULE', `logic module: expressions nested deeper than ${MAX_NESTING} levels`);
    }
    if (binaryen.getExpressionId(expr) === binaryen.LoopId) {
      const body = (binaryen as unknown as { Loop: { getBody(e: Expr): Expr } }).Loop.getBody(expr);
      const bodyCost = Math.max(1, cost(body, depth + 1));
      setters.Loop.setBody(expr, m.block(null, [charge(bodyCost), body], binaryen.getExpressionType(body)));
      return 1;
    }
    let n = 1;
    for (const c of children(expr)) n += cost(c, depth + 1);
    return n;
  };

  for (let i = 0; i < m.getNumFunctions(); i++) {
    const f = m.getFunctionByIndex(i);
    const info = binaryen.getFunctionInfo(f);
    if (info.module || !info.body) continue; // imported
    const body = info.body;
    const c = Math.max(1, cost(body, 0));
    setters.Function.setBody(f, m.block(null, [charge(c), body], binaryen.getExpressionType(body)));
  }
  return m.emitBinary();
}
