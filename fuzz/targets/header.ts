/**
 * Fuzz target: the header decoder (agent/format/header.ts decodeHeader) on mutated valid headers
 * (from the capsule reader's base capsules, preamble stripped), on deterministic CBOR of arbitrary
 * values, and on noise. Property: it returns a header or throws a typed DceError; no case hangs.
 * Deliberately not here: signatures and stanzas (checked by the reader; see capsuleReader.ts).
 */
import fc from 'fast-check';
import { generateIdentity } from '../../agent/crypto/identity.ts';
import { encodeCanonical } from '../../agent/format/cbor.ts';
import { PREAMBLE_SIZE } from '../../agent/format/constants.ts';
import { decodeHeader } from '../../agent/format/header.ts';
import { decodePreamble } from '../../agent/format/preamble.ts';
import { drive, hexOf, mutate, mutationArb, type FuzzOptions, type FuzzResult, type Verdict } from '../drive.ts';
import { bases } from './capsuleReader.ts';

/** CBOR maps shaped like headers: small integer keys, values of every CBOR kind. */
function cborArb(): fc.Arbitrary<Uint8Array> {
  const leaf = fc.oneof(
    fc.integer({ min: -1000, max: 2 ** 40 }),
    fc.uint8Array({ maxLength: 80 }),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.constant(null),
  );
  const value = fc.oneof(leaf, fc.array(leaf, { maxLength: 4 }), fc.array(fc.array(leaf, { maxLength: 3 }), { maxLength: 3 }));
  return fc.array(fc.tuple(fc.integer({ min: -4, max: 14 }), value), { maxLength: 14 }).map((kv) => {
    try {
      return encodeCanonical(new Map(kv));
    } catch {
      return Uint8Array.of(0xa0);
    }
  });
}

export async function run(opts: FuzzOptions): Promise<FuzzResult> {
  const headers = (await bases(generateIdentity())).map((b) => {
    const { headerLength } = decodePreamble(b.capsule.subarray(0, PREAMBLE_SIZE));
    return b.capsule.slice(PREAMBLE_SIZE, PREAMBLE_SIZE + headerLength);
  });
  const arb = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.tuple(fc.nat({ max: headers.length - 1 }), fc.array(mutationArb(), { minLength: 1, maxLength: 4 })).map(([i, m]) => mutate(headers[i]!, m)),
    },
    { weight: 3, arbitrary: cborArb() },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }) },
  );
  const evaluate = (bytes: Uint8Array): Verdict => {
    decodeHeader(bytes);
    return 'ok';
  };
  return drive('header decoder', arb, evaluate, opts, (b) => hexOf(b));
}
