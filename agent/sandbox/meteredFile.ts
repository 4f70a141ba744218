/**
 * The on-disk form of a metered binary (ModuleStore keeps one beside each module, as
 * `modules/<module sha-256>.<key id>.metered`), so that a module is validated and metered with
 * Binaryen once, when it enters the store, and never again, a restart included. An implementation
 * detail of the agent, versioned; nothing outside this file reads the layout:
 *
 *   magic "DCEMETR\n" (8) | format version u16 BE | key length u16 BE | key (UTF-8)
 *   | report length u32 BE | report (JSON, UTF-8) | metered length u32 BE
 *   | SHA-256 of every byte before this field followed by the metered bytes (32) | metered bytes
 *
 * The key names everything the metered bytes depend on: the format version, FUEL_TABLE_VERSION,
 * Binaryen's version (the cost of a function is counted on Binaryen's IR), the limits validation
 * reads (maxMemoryPages, maxModuleBytes, maxTableElements: the file also stands for "valid under
 * these limits"), and the module's SHA-256. The fuel limit and maxCallDepth are not in it: the
 * meter writes neither into the module (both counters are imported globals the host creates per
 * evaluation), so one metered binary serves every value of them. The key id in the file name is a
 * short hash of the key without the module; the key itself is compared in full when read.
 *
 * A file is used only if it is exactly what this code writes for this module and these limits:
 * magic, version, key, lengths and digest all match. Anything else (a truncated or corrupted
 * file, another version's, a file renamed from another module's, one from another configuration)
 * is ignored, and the module is metered again. The digest detects damage, not a forger: the files
 * live in the agent's own data directory (0700, files 0600), as trusted as its database; whoever
 * can write there can change the agent's state anyway.
 *
 * Deliberately not here: where the files are and the store's quota (ModuleStore.ts), metering
 * (validate.ts, meter.ts), and keeping results in memory (MeteredCache.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Limits } from './limits.ts';
import { FUEL_TABLE_VERSION } from './meterAbi.ts';
import type { ModuleReport } from './validate.ts';

/** Version of the layout above; a file of another version is ignored (and replaced). */
export const METERED_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('DCEMETR\n', 'latin1');
/** Larger files are not read (a metered module of maxModuleBytes is a few times that at most). */
export const MAX_METERED_FILE_BYTES = 64 * 2 ** 20;
/** `<64 hex>.<16 hex>.metered`: the module's SHA-256, then the key id. */
export const METERED_NAME = /^([0-9a-f]{64})\.([0-9a-f]{16})\.metered$/;

let binaryenVersion: string | undefined;

/** Binaryen's package version, read from its package.json (without loading Binaryen itself). */
function binaryen(): string {
  if (binaryenVersion === undefined) {
    try {
      const path = createRequire(import.meta.url).resolve('binaryen/package.json');
      binaryenVersion = String((JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown }).version ?? 'unknown');
    } catch {
      binaryenVersion = 'unknown'; // still keyed by FUEL_TABLE_VERSION and the format version
    }
  }
  return binaryenVersion;
}

/** What metering under `limits` depends on, without the module (see the header comment). */
export function meteringKey(limits: Limits): string {
  return (
    `capsule-metered/${METERED_FORMAT_VERSION} fuel-table=${FUEL_TABLE_VERSION} binaryen=${binaryen()}` +
    ` maxMemoryPages=${limits.maxMemoryPages} maxModuleBytes=${limits.maxModuleBytes} maxTableElements=${limits.maxTableElements}`
  );
}

/** The file name for module `sha256` (hex) metered under `limits`. */
export function meteredFileName(sha256: string, limits: Limits): string {
  return `${sha256}.${createHash('sha256').update(meteringKey(limits)).digest('hex').slice(0, 16)}.metered`;
}

/**
 * The file's bytes for module `sha256` (hex), metered under `limits` into `metered` with `report`.
 * @throws RangeError when `sha256` is not 64 lowercase hex digits or the metered binary is above
 *   MAX_METERED_FILE_BYTES
 */
export function encodeMeteredFile(sha256: string, limits: Limits, checked: { report: ModuleReport; metered: Uint8Array }): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new RangeError(`sha256: expected 64 lowercase hex digits, got ${JSON.stringify(String(sha256).slice(0, 80))}`);
  const key = Buffer.from(`${meteringKey(limits)} module=${sha256}`, 'utf8');
  const report = Buffer.from(JSON.stringify(checked.report), 'utf8');
  const head = Buffer.alloc(MAGIC.length + 2 + 2 + key.length + 4 + report.length + 4);
  let at = MAGIC.copy(head, 0);
  at = head.writeUInt16BE(METERED_FORMAT_VERSION, at);
  at = head.writeUInt16BE(key.length, at);
  at += key.copy(head, at);
  at = head.writeUInt32BE(report.length, at);
  at += report.copy(head, at);
  head.writeUInt32BE(checked.metered.length, at);
  const total = head.length + 32 + checked.metered.length;
  if (total > MAX_METERED_FILE_BYTES) throw new RangeError(`metered: expected at most ${MAX_METERED_FILE_BYTES} bytes with its header, got ${total}`);
  const digest = createHash('sha256').update(head).update(checked.metered).digest();
  return Buffer.concat([head, digest, checked.metered]);
}

/**
 * The report and metered binary in `file`, if it is exactly what encodeMeteredFile writes for
 * module `sha256` under `limits`; otherwise why not (for the log), and the caller meters again.
 * Never throws.
 */
export function decodeMeteredFile(
  file: Uint8Array,
  sha256: string,
  limits: Limits,
): { ok: true; report: ModuleReport; metered: Uint8Array } | { ok: false; why: string } {
  const b = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  const no = (why: string) => ({ ok: false as const, why });
  if (b.length < MAGIC.length + 4 || !b.subarray(0, MAGIC.length).equals(MAGIC)) return no('not a metered-binary file (magic)');
  let at = MAGIC.length;
  const version = b.readUInt16BE(at);
  if (version !== METERED_FORMAT_VERSION) return no(`format version ${version}, expected ${METERED_FORMAT_VERSION}`);
  const keyLength = b.readUInt16BE(at + 2);
  at += 4;
  if (at + keyLength + 4 > b.length) return no('truncated (key)');
  const key = b.subarray(at, at + keyLength).toString('utf8');
  const want = `${meteringKey(limits)} module=${sha256}`;
  if (key !== want) return no(`made for ${JSON.stringify(key.slice(0, 400))}, expected ${JSON.stringify(want)}`);
  at += keyLength;
  const reportLength = b.readUInt32BE(at);
  at += 4;
  if (at + reportLength + 4 + 32 > b.length) return no('truncated (report)');
  const reportText = b.subarray(at, at + reportLength).toString('utf8');
  at += reportLength;
  const meteredLength = b.readUInt32BE(at);
  at += 4;
  if (at + 32 + meteredLength !== b.length) return no(`${b.length} bytes, the header says ${at + 32 + meteredLength}`);
  const digest = b.subarray(at, at + 32);
  const metered = b.subarray(at + 32);
  if (!createHash('sha256').update(b.subarray(0, at)).update(metered).digest().equals(digest)) return no('digest mismatch (damaged)');
  let report: ModuleReport;
  try {
    report = JSON.parse(reportText) as ModuleReport;
  } catch {
    return no('report is not JSON');
  }
  if (!isReport(report)) return no('report is not a module report');
  return { ok: true, report, metered: Uint8Array.from(metered) };
}

function isReport(r: unknown): r is ModuleReport {
  const o = r as ModuleReport;
  return (
    typeof o === 'object' &&
    o !== null &&
    Number.isSafeInteger(o.bytes) &&
    Array.isArray(o.imports) &&
    o.imports.every((i) => typeof i === 'string') &&
    typeof o.memory === 'object' &&
    o.memory !== null &&
    Number.isSafeInteger(o.memory.initialPages) &&
    Number.isSafeInteger(o.memory.maxPages) &&
    Number.isSafeInteger(o.functions) &&
    typeof o.hasStart === 'boolean'
  );
}
