/**
 * The threshold (guardian-set) test vectors (SPEC.md §5.6, §13.4): capsules sealed by the real
 * sealer with a guardian set, opened with the keys of some of its guardians (standing in for the
 * shares they release), and negatives with exactly one defect each — a set that breaks a rule (bad
 * guardian set / malformed), too few shares, a commitment or header changed after sealing (the
 * opened share no longer matches), a stanza from another capsule, and shares that pass their
 * commitments but do not lie on one polynomial (a dishonest sealer: chunk authentication fails).
 *
 * The set hash and commitments of edited headers are computed here from §5.6's text, not with
 * agent/ code. Deliberately not here: the other vectors (definitions.ts, which calls this).
 */
import { encodeIdentity } from '../../agent/crypto/identity.ts';
import { unwrapX25519, wrapX25519 } from '../../agent/crypto/x25519Stanza.ts';
import { drbg } from '../helpers/drbg.ts';
import { canonical, concat, fakeLocker, fixedIdentity, fixedP256, fixedSigner, flip, headerMap, labelled, sha256, withHeader, type Built } from './build.ts';
import type { Definition } from './definitions.ts';

/** What definitions.ts lends: its sealer with fixed defaults and its result builders. */
export interface ThresholdKit {
  sealed(seed: string, size: number, extra: Record<string, unknown>): Promise<Built>;
  ok(name: string, comment: string, b: Built, identities?: string[], p256?: string[]): Definition;
  bad(name: string, comment: string, expect: string, verify: string, bytes: Uint8Array, identities?: string[], p256?: string[]): Definition;
}

const [A, B, C, D] = ['set-a', 'set-b', 'set-c', 'set-d'].map(fixedIdentity) as [
  ReturnType<typeof fixedIdentity>,
  ReturnType<typeof fixedIdentity>,
  ReturnType<typeof fixedIdentity>,
  ReturnType<typeof fixedIdentity>,
];
const id = (...xs: (typeof A)[]) => xs.map((x) => encodeIdentity(x.secretKey));
const P = fixedP256('set-p');
const G = fixedP256('set-guardian-signing-key');

type HeaderMap = Map<number, unknown>;
const set = (m: HeaderMap) => m.get(12) as Map<number, unknown>;
const guardians = (m: HeaderMap) => set(m).get(2) as Map<number, unknown>[];
const commitments = (m: HeaderMap) => m.get(13) as Uint8Array[];

/** §5.6: set_hash = SHA-256("capsule/v1 guardian set" ‖ 00 ‖ header without keys 8, 10, 13). */
function setHashOf(m: HeaderMap): Uint8Array {
  return sha256(labelled('capsule/v1 guardian set', canonical(new Map([...m].filter(([k]) => k !== 8 && k !== 10 && k !== 13)))));
}

/** §5.6: SHA-256("capsule/v1 share commitment" ‖ 00 ‖ id ‖ set_hash ‖ uint8(i) ‖ share). */
function commitmentOf(m: HeaderMap, i: number, share: Uint8Array): Uint8Array {
  return sha256(labelled('capsule/v1 share commitment', concat(m.get(2) as Uint8Array, setHashOf(m), Uint8Array.of(i), share)));
}

export async function thresholdVectors(k: ThresholdKit): Promise<{ positive: Definition[]; negative: Definition[] }> {
  const positive: Definition[] = [];
  const negative: Definition[] = [];
  const abc = [A.recipient, B.recipient, C.recipient];
  const two3 = await k.sealed('threshold-2-of-3', 3000, { recipients: abc, threshold: 2 });
  positive.push(k.ok('threshold-2-of-3-shares-1-2', "2-of-3 guardian set (x25519), opened with guardians 0 and 1's shares", two3, id(A, B)));
  positive.push(k.ok('threshold-2-of-3-shares-2-3', "the same capsule opened with guardians 1 and 2's shares", two3, id(B, C)));
  positive.push(k.ok('threshold-2-of-3-shares-1-3', "the same capsule opened with guardians 0 and 2's shares", two3, id(A, C)));
  positive.push(k.ok('threshold-2-of-3-all-shares', 'the same capsule with all three shares (any two suffice)', two3, id(C, B, A)));
  positive.push(
    k.ok('threshold-3-of-3', '3-of-3: every share needed', await k.sealed('threshold-3-of-3', 70000, { recipients: abc, threshold: 3 }), id(A, B, C)),
  );
  positive.push(
    k.ok(
      'threshold-1-of-2',
      '1-of-2: a degree-0 polynomial, each share is the file key; guardian 1 alone opens it',
      await k.sealed('threshold-1-of-2', 100, { recipients: [A.recipient, B.recipient], threshold: 1 }),
      id(B),
    ),
  );
  positive.push(
    k.ok(
      'threshold-mixed-stanzas',
      '2-of-3 over x25519, p256-ecdh and zymbit-lock guardians (the last named by its signing key), guardian-signed; opened with the x25519 and P-256 shares',
      await k.sealed('threshold-mixed', 500, {
        recipients: [A.recipient, P.recipient],
        lock: fakeLocker(drbg('threshold lock blob')(108)),
        guardian: fixedSigner(G),
        threshold: 2,
      }),
      id(A),
      [Buffer.from(P.scalar).toString('hex')],
    ),
  );
  positive.push(
    k.ok(
      'threshold-owner-signed',
      '2-of-2, owner-signed (the owner signature covers keys 12 and 13)',
      await k.sealed('threshold-owner', 200, { recipients: [A.recipient, B.recipient], threshold: 2, owner: fixedIdentity('owner') }),
      id(A, B),
    ),
  );

  // ---- negative: the set's rules (offline too) ----
  const edit = (change: (m: HeaderMap) => void) => {
    const m = headerMap(two3);
    change(m);
    return withHeader(two3, canonical(m));
  };
  const rule = (name: string, comment: string, code: string, change: (m: HeaderMap) => void) =>
    negative.push(k.bad(name, comment, code, code, edit(change), id(A, B)));
  rule('threshold-duplicate-guardian', "guardian 2's key replaced by guardian 0's: one guardian twice", 'ERR_BAD_GUARDIAN_SET', (m) =>
    guardians(m)[2]!.set(2, guardians(m)[0]!.get(2)),
  );
  rule('threshold-m-greater-than-n', 'threshold m = 4 in a set of 3', 'ERR_BAD_GUARDIAN_SET', (m) => set(m).set(1, 4));
  rule('threshold-m-zero', 'threshold m = 0', 'ERR_BAD_GUARDIAN_SET', (m) => set(m).set(1, 0));
  rule('threshold-one-guardian', 'a set of one guardian (one stanza, one commitment): a single guardian uses no set', 'ERR_BAD_GUARDIAN_SET', (m) => {
    set(m).set(1, 1);
    set(m).set(2, guardians(m).slice(0, 1));
    m.set(7, (m.get(7) as unknown[]).slice(0, 1));
    m.set(13, commitments(m).slice(0, 1));
  });
  rule('threshold-17-guardians', '17 guardians, stanzas and commitments (at most 16)', 'ERR_BAD_GUARDIAN_SET', (m) => {
    set(m).set(
      2,
      Array.from(
        { length: 17 },
        (_, i) =>
          new Map<number, unknown>([
            [1, i + 1],
            [2, drbg(`key ${i}`)(32)],
          ]),
      ),
    );
    m.set(
      7,
      Array.from({ length: 17 }, (_, i) => (m.get(7) as unknown[])[i % 3]),
    );
    m.set(
      13,
      Array.from({ length: 17 }, (_, i) => commitments(m)[i % 3]),
    );
  });
  rule('threshold-duplicate-x', "guardian 1's x-coordinate equal to guardian 0's", 'ERR_BAD_GUARDIAN_SET', (m) =>
    guardians(m)[1]!.set(1, guardians(m)[0]!.get(1)),
  );
  rule('threshold-x-zero', "guardian 0's x-coordinate is 0 (the secret's own point)", 'ERR_BAD_GUARDIAN_SET', (m) => guardians(m)[0]!.set(1, 0));
  rule('threshold-extra-stanza', 'a fourth stanza (of an unknown type) in a set of 3: one stanza per guardian', 'ERR_BAD_GUARDIAN_SET', (m) =>
    m.set(7, [...(m.get(7) as unknown[]), ['future-kind', Uint8Array.of(1)]]),
  );
  rule('threshold-commitment-missing', 'two commitments for three guardians', 'ERR_BAD_GUARDIAN_SET', (m) => m.set(13, commitments(m).slice(0, 2)));
  rule('threshold-key-31-bytes', "an x25519 guardian's key of 31 bytes", 'ERR_BAD_GUARDIAN_SET', (m) =>
    guardians(m)[1]!.set(2, (guardians(m)[1]!.get(2) as Uint8Array).subarray(1)),
  );
  rule('threshold-set-without-commitments', 'key 13 removed: shares not committed', 'ERR_MALFORMED_HEADER', (m) => m.delete(13));
  rule('threshold-commitments-without-set', 'key 12 removed, key 13 left', 'ERR_MALFORMED_HEADER', (m) => m.delete(12));
  rule('threshold-commitment-31-bytes', 'a share commitment of 31 bytes', 'ERR_MALFORMED_HEADER', (m) =>
    m.set(13, [commitments(m)[0]!.subarray(1), ...commitments(m).slice(1)]),
  );
  rule('threshold-unknown-set-field', 'unsigned key 3 inside the guardian set', 'ERR_UNKNOWN_CRITICAL_FIELD', (m) => set(m).set(3, 1));
  rule('threshold-unknown-guardian-field', 'unsigned key 3 inside a guardian entry', 'ERR_UNKNOWN_CRITICAL_FIELD', (m) => guardians(m)[0]!.set(3, 1));
  {
    const mixed = await k.sealed('threshold-mixed', 500, {
      recipients: [A.recipient, P.recipient],
      lock: fakeLocker(drbg('threshold lock blob')(108)),
      guardian: fixedSigner(G),
      threshold: 2,
    });
    const m = headerMap(mixed);
    m.delete(10); // the guardian signature would fail first otherwise; keys 9 and 10 go together
    m.delete(9);
    guardians(m)[1]!.set(2, concat(Uint8Array.of(2), new Uint8Array(31), Uint8Array.of(1))); // x = 1: on no point
    negative.push(
      k.bad(
        'threshold-p256-key-not-a-point',
        "a p256-ecdh guardian's key that is not a valid compressed point (x = 1)",
        'ERR_BAD_GUARDIAN_SET',
        'ERR_BAD_GUARDIAN_SET',
        withHeader(mixed, canonical(m)),
        id(A),
        [Buffer.from(P.scalar).toString('hex')],
      ),
    );
  }

  // ---- negative: shares (verify offline, fail with the keys) ----
  negative.push(k.bad('threshold-one-share', "2-of-3 with one guardian's share only (m − 1)", 'ERR_NOT_ENOUGH_SHARES', 'ok', two3.bytes, id(A)));
  negative.push(k.bad('threshold-no-share', '2-of-3 with a key for no guardian', 'ERR_NOT_ENOUGH_SHARES', 'ok', two3.bytes, id(D)));
  negative.push(
    k.bad(
      'threshold-tampered-commitment',
      "guardian 0's commitment with one bit flipped",
      'ERR_GUARDIAN_SET_MISMATCH',
      'ok',
      edit((m) => m.set(13, [flip(commitments(m)[0]!, 3), ...commitments(m).slice(1)])),
      id(A, B),
    ),
  );
  negative.push(
    k.bad(
      'threshold-set-swapped',
      "guardian 2's key replaced by another guardian's (commitments left): the set hash changed",
      'ERR_GUARDIAN_SET_MISMATCH',
      'ok',
      edit((m) => guardians(m)[2]!.set(2, Uint8Array.from(D.publicKey))),
      id(A, B),
    ),
  );
  negative.push(
    k.bad(
      'threshold-x-swapped',
      'x-coordinates of guardians 0 and 1 swapped (commitments left): the set hash changed',
      'ERR_GUARDIAN_SET_MISMATCH',
      'ok',
      edit((m) => {
        const [g0, g1] = guardians(m) as [Map<number, unknown>, Map<number, unknown>];
        const x = g0.get(1);
        g0.set(1, g1.get(1));
        g1.set(1, x);
      }),
      id(A, B),
    ),
  );
  negative.push(
    k.bad(
      'threshold-logic-changed',
      'logic.hash changed (payload re-encrypted to match): commitments bind the shares to the whole header',
      'ERR_GUARDIAN_SET_MISMATCH',
      'ok',
      edit((m) => (m.get(5) as Map<number, unknown>).set(1, sha256(Uint8Array.of(1)))),
      id(A, B),
    ),
  );
  {
    // The same guardians, another capsule: its stanza 1 and commitment 1 copied in.
    const other = headerMap(await k.sealed('threshold-other', 100, { recipients: abc, threshold: 2 }));
    negative.push(
      k.bad(
        'threshold-share-from-another-capsule',
        "stanza 1 and commitment 1 copied from another capsule to the same guardians: bound to the other id, it does not open, and the header no longer matches guardian 0's commitment",
        'ERR_GUARDIAN_SET_MISMATCH',
        'ok',
        edit((m) => {
          (m.get(7) as unknown[])[1] = (other.get(7) as unknown[])[1];
          m.set(13, [commitments(m)[0], commitments(other)[1], commitments(m)[2]]);
        }),
        id(A, B),
      ),
    );
  }
  negative.push(
    k.bad(
      'threshold-3-of-3-two-shares',
      '3-of-3 opened with two shares (m − 1)',
      'ERR_NOT_ENOUGH_SHARES',
      'ok',
      (await k.sealed('threshold-3-of-3', 70000, { recipients: abc, threshold: 3 })).bytes,
      id(A, C),
    ),
  );
  {
    // A dishonest sealer: guardian 1's share replaced by random bytes, its commitment recomputed.
    // Each share passes its commitment, but they do not lie on one polynomial with the key.
    const fake = drbg('threshold inconsistent share')(32);
    const m = headerMap(two3);
    (m.get(7) as [string, Uint8Array][])[1] = [
      'x25519',
      wrapX25519(fake, B.publicKey, m.get(2) as Uint8Array, drbg('threshold inconsistent ephemeral')(32)).body,
    ];
    // The stanzas are inside the set hash: every commitment is recomputed, from the true shares 0 and 2.
    const stz = headerMap(two3).get(7) as [string, Uint8Array][];
    const share = (i: number, who: typeof A) => unwrapX25519({ type: 'x25519', body: stz[i]![1] }, i, who, m.get(2) as Uint8Array)!;
    m.set(13, [commitmentOf(m, 0, share(0, A)), commitmentOf(m, 1, fake), commitmentOf(m, 2, share(2, C))]);
    negative.push(
      k.bad(
        'threshold-inconsistent-shares',
        "guardian 1's share replaced by other bytes with a matching commitment (a dishonest sealer): the combined key fails chunk authentication",
        'ERR_CHUNK_AUTH',
        'ok',
        withHeader(two3, canonical(m)),
        id(A, B),
      ),
    );
  }
  return { positive, negative };
}
