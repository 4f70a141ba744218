/**
 * What a metered module and its host agree on (contracts-as/ABI.md §5, §6): the version of the
 * cost table, and the module and names under which the metered module imports its fuel and depth
 * counters. Kept apart from meter.ts so that code which only runs metered modules (the sandbox
 * worker, MeteredSandbox.ts) can name them without loading Binaryen (~100 MB once loaded).
 *
 * Deliberately not here: the cost function itself (meter.ts).
 */

/**
 * Version of the cost function in meter.ts; part of every decision record and of every cache key.
 * 2: adds the call-depth counter (frame weights, ABI.md §5); fuel figures are those of version 1.
 */
export const FUEL_TABLE_VERSION = 2;
/** Import module of the counters (no guest may import from it: validate.ts allows capsule_v1 only). */
export const FUEL_IMPORT_MODULE = '__capsule_meter';
/** The fuel counter (i64, starts at the fuel limit). */
export const FUEL_IMPORT_NAME = 'fuel';
/** The depth counter (i32, starts at maxCallDepth), imported beside the fuel counter. */
export const DEPTH_IMPORT_NAME = 'depth';
