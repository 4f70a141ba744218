/**
 * Fuzz target: the announcement decoder (agent/store/Announcement.ts decodeAnnouncement) on
 * mutated signed announcements, CBOR maps with the right keys and wrong values, and noise.
 * Properties: a typed DceError or a result; no hang; a modified announcement is never accepted
 * (every byte is either checked by the strict CBOR decoding or covered by the signature).
 */
import fc from 'fast-check';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';
import { generateIdentity } from '../../agent/crypto/identity.ts';
import { p256PublicKey, scalarFromBytes } from '../../agent/crypto/p256.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { decodeAnnouncement, encodeAnnouncement } from '../../agent/store/Announcement.ts';
import { drive, equalBytes, hexOf, mutate, mutationArb, type Mutation, type FuzzOptions, type FuzzResult, type Verdict } from '../drive.ts';

export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const id = generateIdentity();
  const cid = async (s: string) => CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(s)));
  const capsule = await cid('capsule');
  const logic = await cid('logic');
  const guardian = p256PublicKey(scalarFromBytes(new Uint8Array(48).fill(7)));
  const valid = [
    encodeAnnouncement({ capsule, logic, guardian, created: 1_893_456_000_000 }, id),
    encodeAnnouncement({ capsule: logic, logic: capsule, guardian, created: 0 }, id),
  ];
  const value = fc.oneof(
    fc.integer(),
    fc.uint8Array({ maxLength: 70 }),
    fc.constantFrom(capsule.bytes, guardian, new Uint8Array(32), new Uint8Array(64)),
    fc.string({ maxLength: 10 }),
    fc.constant(null),
  );
  const arb = fc.oneof(
    {
      weight: 7,
      arbitrary: fc
        .tuple(
          fc.nat({ max: valid.length - 1 }),
          fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 19, arbitrary: fc.array(mutationArb(), { minLength: 1, maxLength: 3 }) }),
        )
        .map(([i, m]) => ({ base: i, bytes: mutate(valid[i]!, m) })),
    },
    {
      weight: 2,
      arbitrary: fc.array(fc.tuple(fc.integer({ min: 0, max: 8 }), value), { maxLength: 8 }).map((kv) => ({ base: -1, bytes: safeEncode(new Map(kv)) })),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1100 }).map((bytes) => ({ base: -1, bytes })) },
  );
  const evaluate = ({ base, bytes }: { base: number; bytes: Uint8Array }): Verdict => {
    decodeAnnouncement(bytes);
    if (base >= 0 && !equalBytes(bytes, valid[base]!)) return { wrong: 'a modified announcement was accepted' };
    return 'ok';
  };
  return drive('announcement decoder', arb, evaluate, opts, (c) => hexOf(c.bytes));
}

function safeEncode(m: Map<number, unknown>): Uint8Array {
  try {
    return encodeCanonical(m);
  } catch {
    return Uint8Array.of(0xa0);
  }
}
