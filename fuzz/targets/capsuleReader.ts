/**
 * Fuzz target: the capsule reader and opener (agent/capsule/CapsuleReader.ts via CapsuleOpener,
 * and openVerified) on mutated valid capsules and on noise, fed three ways — one buffer, random
 * stream pieces, and byte by byte (the 2-chunk capsule byte by byte over its first 4 KiB).
 *
 * Properties: every failure is a typed DceError; no case hangs; a modified capsule never completes
 * (finish() must throw), the streaming opener only ever releases a chunk-aligned prefix of the
 * true plaintext, and openVerified (every 16th case) yields nothing at all for a modified capsule.
 */
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CapsuleOpener } from '../../agent/capsule/CapsuleOpener.ts';
import type { PayloadDigest } from '../../agent/capsule/PayloadDigest.ts';
import { openVerified } from '../../agent/capsule/open.ts';
import { seal } from '../../agent/capsule/seal.ts';
import { PREAMBLE_SIZE } from '../../agent/format/constants.ts';
import { identityUnwrapper } from '../../agent/capsule/unwrap.ts';
import { generateIdentity, type Identity } from '../../agent/crypto/identity.ts';
import { concat, drive, equalBytes, hexOf, mutate, mutationArb, type FuzzOptions, type FuzzResult, type Mutation, type Verdict } from '../drive.ts';

interface Base {
  name: string;
  plain: Uint8Array;
  capsule: Uint8Array;
}
type Feed = { kind: 'buffer' } | { kind: 'stream'; sizes: number[] } | { kind: 'byte' };
interface Case {
  base: number;
  muts: Mutation[];
  noise?: Uint8Array;
  feed: Feed;
  verified: boolean;
}

async function collect(s: AsyncIterable<unknown>): Promise<Uint8Array> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return new Uint8Array(Buffer.concat(parts));
}

/** Valid capsules of each shape the reader handles: empty, owner-signed salted, two chunks. */
export async function bases(g: Identity): Promise<Base[]> {
  const logic = { hash: createHash('sha256').update('fuzz policy').digest() };
  const mk = async (name: string, size: number, extra: object) => {
    const plain = new Uint8Array(size).map((_, i) => (i * 31 + 7) & 0xff);
    return { name, plain, capsule: await collect(seal(plain, { recipients: [g.recipient], logic, ...extra })) };
  };
  return [
    await mk('empty', 0, {}),
    await mk('owner-signed, salted, 100 B', 100, { owner: g, digest: 'salted-sha256' }),
    await mk('two chunks, 65 636 B', 65_536 + 100, { params: undefined }),
  ];
}

function pieces(bytes: Uint8Array, feed: Feed, base: number): Uint8Array[] {
  if (feed.kind === 'buffer') return [bytes];
  const out: Uint8Array[] = [];
  if (feed.kind === 'byte') {
    const upto = base === 2 ? Math.min(4096, bytes.length) : bytes.length;
    for (let i = 0; i < upto; i++) out.push(bytes.subarray(i, i + 1));
    if (upto < bytes.length) out.push(bytes.subarray(upto));
    return out;
  }
  let o = 0;
  for (let i = 0; o < bytes.length; i++) {
    const n = feed.sizes[i % feed.sizes.length]!;
    out.push(bytes.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** Runs the target: `opts.cases` cases (≥ 10^5 in `npm run fuzz`). */
export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const g = generateIdentity();
  const all = await bases(g);
  const spoolDir = mkdtempSync(join(tmpdir(), 'fuzz-spool-'));
  const unwrap = identityUnwrapper([g]);
  const arb: fc.Arbitrary<Case> = fc.record({
    base: fc.nat({ max: all.length - 1 }),
    // One case in twenty is the genuine capsule (it must open), the rest are mutated.
    muts: fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 19, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 4 }) }),
    // One case in ten is noise (with a valid preamble half the time), the rest mutated capsules.
    noise: fc.oneof(
      { weight: 9, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.boolean(), fc.uint8Array({ maxLength: 600 }))
          .map(([pre, b]) => (pre ? concat(all[0]!.capsule.subarray(0, PREAMBLE_SIZE), b) : b)),
      },
    ),
    feed: fc.oneof(
      fc.constant({ kind: 'buffer' } as Feed),
      fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 6 }).map((sizes) => ({ kind: 'stream', sizes }) as Feed),
      fc.constant({ kind: 'byte' } as Feed),
    ),
    verified: fc.nat({ max: 15 }).map((n) => n === 0),
  });
  const input = (c: Case) => c.noise ?? mutate(all[c.base]!.capsule, c.muts);
  const evaluate = async (c: Case): Promise<Verdict> => {
    const base = all[c.base]!;
    const bytes = input(c);
    const modified = !equalBytes(bytes, base.capsule);
    if (c.verified) {
      // The pipe-safe path: nothing may come out unless the whole capsule verified.
      const out = await collect(openVerified(pieces(bytes, c.feed, c.base), g, { spoolDir }));
      if (modified) return { wrong: `openVerified yielded ${out.length} bytes for a modified capsule` };
      return equalBytes(out, base.plain) ? 'ok' : { wrong: 'openVerified: plaintext differs' };
    }
    const opener = new CapsuleOpener(unwrap);
    const released: Buffer[] = [];
    let hash: PayloadDigest | undefined;
    try {
      for (const p of pieces(bytes, c.feed, c.base)) {
        for (const chunk of await opener.push(p)) {
          released.push(chunk);
          hash ??= opener.payloadDigest();
          hash.update(chunk);
        }
        if (!hash && opener.parsed) hash = opener.payloadDigest();
      }
      opener.finish(hash ? hash.digest() : new Uint8Array(32));
    } catch (e) {
      const got = Buffer.concat(released);
      if (!equalBytes(got, base.plain.subarray(0, got.length)))
        throw Object.assign(new Error(`released ${got.length} bytes that are not the true plaintext`), { wrong: true });
      throw e;
    } finally {
      opener.dispose();
    }
    if (modified) return { wrong: `a modified capsule (${bytes.length} bytes) opened completely` };
    return equalBytes(Buffer.concat(released), base.plain) ? 'ok' : { wrong: 'plaintext differs' };
  };
  try {
    return await drive(
      'capsule reader',
      arb,
      evaluate,
      opts,
      (c) =>
        `base ${all[c.base]!.name}, feed ${c.feed.kind}, ${c.noise ? 'noise' : JSON.stringify(c.muts, (_, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))} → ${hexOf(input(c), 48)}`,
    );
  } finally {
    rmSync(spoolDir, { recursive: true, force: true });
  }
}
