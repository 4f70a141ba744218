/**
 * `capsule inspect CAPSULE|- [--json]`: the header as data, read without any key and without
 * reading the payload. Deliberately not here: judging validity beyond parsing (`verify`).
 */
import { describe, readHeader, type CapsuleInfo } from '../../capsule/inspect.ts';
import { INSPECT as SPEC } from '../specs/capsule.ts';
import { parse } from '../args.ts';
import { inputOf } from '../files.ts';
import { writeOut, type Terminal } from '../Terminal.ts';
import { bytes } from '../Progress.ts';

/** Runs `capsule inspect` with the arguments after its name (interface: specs/, via parse); resolves to the exit code. */
export async function inspectCommand(argv: string[], t: Terminal): Promise<number> {
  const p = parse(argv, SPEC);
  const info = describe(await readHeader(inputOf(t, p.positionals[0]!)));
  await writeOut(t, p.values.json ? JSON.stringify(info, null, 2) + '\n' : text(info));
  return 0;
}

export function text(i: CapsuleInfo): string {
  const lines = [
    `format:     capsule v${i.formatVersion}`,
    `id:         ${i.id}`,
    `created:    ${i.created}`,
    `owner:      ${i.owner ? `ed25519:${i.owner} (signed)` : '(none; unsigned)'}`,
  ];
  if (i.guardian) lines.push(`guardian:   ${i.guardian} (signed)`);
  lines.push(`logic:      sha256:${i.logic.sha256}`);
  if (i.logic.cid) lines.push(`logic cid:  ${i.logic.cid}`);
  lines.push(`params:     ${i.logic.params === null ? '(none)' : JSON.stringify(i.logic.params)}`);
  lines.push(`payload:    ${i.payload.size} bytes (${bytes(i.payload.size)}) in ${i.payload.chunks} chunk(s) of ${i.payload.chunkSize}, ${i.payload.cipher}`);
  lines.push(`digest:     ${i.payload.digestAlg}:${i.payload.digest}`);
  i.stanzas.forEach((s, n) => lines.push(`stanza ${n}:   ${s.type} (${s.bodySize} bytes)`));
  if (i.extensions.length) lines.push(`extensions: ${i.extensions.join(', ')}`);
  lines.push(`size:       ${i.totalSize} bytes (header ${i.headerSize})`);
  return lines.join('\n') + '\n';
}
