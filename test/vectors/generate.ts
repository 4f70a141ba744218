/**
 * `npm run vectors`: writes test/vectors/data/*.capsule-vector from definitions.ts. Deterministic:
 * running it twice gives identical files, and the test suite checks the committed files against it.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { definitions, type Definition } from './definitions.ts';
import { formatVector } from './vectorFile.ts';

export const DATA_DIR = fileURLToPath(new URL('./data/', import.meta.url));
export const EXTENSION = '.capsule-vector';

export function render(d: Definition): Uint8Array {
  return formatVector({
    name: d.name,
    expect: d.expect,
    verify: d.verify,
    identities: d.identities,
    p256: d.p256 ?? [],
    tpm2Rsa: d.tpm2Rsa ?? [],
    payload: d.payload ? createHash('sha256').update(d.payload).digest('hex') : undefined,
    comment: d.comment,
    source: `test/vectors/definitions.ts "${d.name}" (npm run vectors)`,
    bytes: d.bytes,
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  mkdirSync(DATA_DIR, { recursive: true });
  for (const f of readdirSync(DATA_DIR)) if (f.endsWith(EXTENSION)) rmSync(DATA_DIR + f);
  const defs = await definitions();
  for (const d of defs) writeFileSync(DATA_DIR + d.name + EXTENSION, render(d));
  const pos = defs.filter((d) => d.expect === 'success').length;
  console.log(`wrote ${defs.length} vectors (${pos} positive, ${defs.length - pos} negative) to ${DATA_DIR}`);
}
