/**
 * Deterministic fuel metering (contracts-as/ABI.md §6): rewrites a validated module so that every
 * function body and every loop body first charges its static cost to an i64 fuel counter and traps
 * when the counter goes below zero. The counter starts from an imported immutable global, so one
 * instrumented (and cached) module serves any fuel limit, and it is exported so the host can read
 * the fuel used. NaN results are canonicalised first (Binaryen `denan`) so floats cannot make two
 * machines disagree.
 *
 * Deliberately not here: validation (validate.ts runs first) and running (Sandbox.ts).
 */
import { SandboxError } from '../errors.ts';
import { ALLOWED_FEATURES, binaryen, quietly, readModule } from './binaryen.ts';

/** Version of the cost function below; part of every decision record and of the cache key. */
export const FUEL_TABLE_VERSION = 1;
export const FUEL_EXPORT = '__capsule_fuel';
export const FUEL_IMPORT_MODULE = '__capsule_meter';
export const FUEL_IMPORT_NAME = 'limit';

type Expr = number;
/** Setters binaryen.js has but its typings omit. */
const setters = binaryen as unknown as {
  Loop: { setBody(loop: Expr, body: Expr): void };
  Function: { setBody(func: binaryen.FunctionRef, body: Expr): void };
};

/** Child expressions by expression kind: the only kinds the allowed feature set produces. */
function children(m: binaryen.Module, expr: Expr): Expr[] {
  const id = binaryen.getExpressionId(expr);
  if (id === binaryen.NopId || id === binaryen.UnreachableId) return []; // getExpressionInfo throws on these
  const i = binaryen.getExpressionInfo(expr) as unknown as Record<string, number & number[]>;
  const pick = (...keys: string[]) => keys.map((k) => i[k] as number).filter((e) => e !== 0 && e !== undefined && e !== null);
  switch (id) {
    case binaryen.BlockId: return [...(i.children as number[])];
    case binaryen.IfId: return pick('condition', 'ifTrue', 'ifFalse');
    case binaryen.LoopId: return pick('body');
    case binaryen.BreakId: return pick('condition', 'value');
    case binaryen.SwitchId: return pick('condition', 'value');
    case binaryen.CallId: return [...(i.operands as number[])];
    case binaryen.CallIndirectId: return [i.target as number, ...(i.operands as number[])];
    case binaryen.LocalSetId: case binaryen.GlobalSetId: case binaryen.UnaryId: case binaryen.DropId: case binaryen.ReturnId:
      return pick('value');
    case binaryen.LoadId: return pick('ptr');
    case binaryen.StoreId: return pick('ptr', 'value');
    case binaryen.BinaryId: return pick('left', 'right');
    case binaryen.SelectId: return pick('ifTrue', 'ifFalse', 'condition');
    case binaryen.MemoryGrowId: return pick('delta');
    case binaryen.MemoryInitId: return pick('dest', 'offset', 'size');
    case binaryen.MemoryCopyId: return pick('dest', 'source', 'size');
    case binaryen.MemoryFillId: return pick('dest', 'value', 'size');
    case binaryen.TupleMakeId: return [...(i.operands as number[])];
    case binaryen.TupleExtractId: return pick('tuple');
    case binaryen.ConstId: case binaryen.LocalGetId: case binaryen.GlobalGetId: case binaryen.MemorySizeId: case binaryen.DataDropId:
      return [];
    default:
      throw new SandboxError('ERR_INVALID_MODULE', `logic module: uses an instruction the meter does not know (expression id ${id})`);
  }
}

/** Instruments `bytes` (already validated) and returns the metered binary. */
export function instrument(bytes: Uint8Array): Uint8Array {
  const m = readModule(bytes, ALLOWED_FEATURES);
  try {
    quietly(() => m.runPasses(['denan']));
    const fuelName = '__capsule_fuel_counter';
    const limitName = '__capsule_fuel_limit';
    m.addGlobalImport(limitName, FUEL_IMPORT_MODULE, FUEL_IMPORT_NAME, binaryen.i64, false);
    m.addGlobal(fuelName, binaryen.i64, true, m.global.get(limitName, binaryen.i64));
    m.addGlobalExport(fuelName, FUEL_EXPORT);

    // This binaryen.js build takes one bigint (its typings still say two 32-bit halves).
    const i64 = (v: number): Expr => (m.i64.const as unknown as (v: bigint) => Expr)(BigInt(v));
    const charge = (cost: number): Expr => m.block(null, [
      m.global.set(fuelName, m.i64.sub(m.global.get(fuelName, binaryen.i64), i64(cost))),
      m.if(m.i64.lt_s(m.global.get(fuelName, binaryen.i64), i64(0)), m.unreachable()),
    ], binaryen.none);

    // Cost of a subtree: its expressions, except nested loop bodies, which are charged per iteration.
    const cost = (expr: Expr): number => {
      if (binaryen.getExpressionId(expr) === binaryen.LoopId) {
        const body = binaryen.getExpressionInfo(expr) as unknown as { body: Expr };
        const bodyCost = Math.max(1, cost(body.body));
        setters.Loop.setBody(expr, m.block(null, [charge(bodyCost), body.body], binaryen.getExpressionType(body.body)));
        return 1;
      }
      let n = 1;
      for (const c of children(m, expr)) n += cost(c);
      return n;
    };

    for (let i = 0; i < m.getNumFunctions(); i++) {
      const f = m.getFunctionByIndex(i);
      const info = binaryen.getFunctionInfo(f);
      if (info.module || !info.body) continue; // imported
      const body = info.body;
      const c = Math.max(1, cost(body));
      setters.Function.setBody(f, m.block(null, [charge(c), body], binaryen.getExpressionType(body)));
    }
    const { value: ok, printed } = quietly(() => m.validate());
    if (!ok) throw new SandboxError('ERR_SANDBOX', `fuel metering produced an invalid module: ${printed.split('\n')[0]}`);
    return m.emitBinary();
  } finally {
    m.dispose();
  }
}
