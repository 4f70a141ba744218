/**
 * Threshold (m-of-n guardian set) capsules, SPEC.md §5.6: format round trip, any m of n shares
 * open and m − 1 do not, every error path by code and message, a share moved from another capsule
 * refused, tampering detected per guardian. Real crypto (x25519, p256-ecdh, the Shamir library),
 * real files in a temporary directory.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decryptToFile, sealToFile } from '../agent/capsule/index.ts';
import { readHeader } from '../agent/capsule/inspect.ts';
import { checkShare, combineShares, combineUnwrappedShares, describeGuardianSet, type GuardianShare } from '../agent/capsule/shares.ts';
import { identityShares, identityUnwrapper } from '../agent/capsule/unwrap.ts';
import { verify } from '../agent/capsule/verify.ts';
import { generateIdentity } from '../agent/crypto/identity.ts';
import { decodeHeader, encodeHeader } from '../agent/format/header.ts';
import { rejectsError, throwsError } from './helpers/assertError.ts';

const dir = mkdtempSync(join(tmpdir(), 'capsule-threshold-'));
const ids = [generateIdentity(), generateIdentity(), generateIdentity(), generateIdentity()];
const logic = { hash: new Uint8Array(32).fill(1) };
const plain = new Uint8Array(70000).map((_, i) => i * 7);

async function sealSet(name: string, m: number, who = ids.slice(0, 3)): Promise<string> {
  const path = join(dir, name);
  await sealToFile(plain, path, { recipients: who.map((i) => i.recipient), threshold: m, logic });
  return path;
}

async function openWith(path: string, key: Uint8Array): Promise<Uint8Array> {
  const out = `${path}.out`;
  await decryptToFile({ path }, () => Uint8Array.from(key), out);
  return readFileSync(out);
}

test('2-of-3: verify prints the set; any two shares open, each pair and all three; one does not', async () => {
  const path = await sealSet('two-of-three', 2);
  const report = await verify({ path });
  assert.ok(report.checks.includes('guardian set: 2-of-3, one share commitment per guardian'));
  assert.equal(
    report.guardianSet!.guardians.map((g) => g.recipient),
    ids.slice(0, 3).map((i) => i.recipient),
  );
  const { header } = await readHeader({ path });
  assert.is(encodeHeader(decodeHeader(encodeHeader(header))).length, encodeHeader(header).length, 'round trip');
  for (const pair of [
    [0, 1],
    [1, 2],
    [0, 2],
    [0, 1, 2],
  ]) {
    const key = await combineShares(
      header,
      identityShares(
        header,
        pair.map((i) => ids[i]!),
      ),
    );
    assert.ok(Buffer.from(await openWith(path, key)).equals(Buffer.from(plain)), `shares ${pair}`);
  }
  await rejectsError(
    () => combineShares(header, identityShares(header, [ids[1]!])),
    'GuardianSetError',
    'ERR_NOT_ENOUGH_SHARES',
    /^header\.guardian_set: 2-of-3 needs 2 valid shares, got 1 \(guardian 1\)$/,
  );
  // The one (async) unwrap contract: local identities of m guardians open a set's capsule directly.
  await rejectsError(
    async () => identityUnwrapper([ids[0]!])(header),
    'GuardianSetError',
    'ERR_NOT_ENOUGH_SHARES',
    /2-of-3 needs 2 valid shares, got 1 \(guardian 0\)/,
  );
  const out = join(tmpdir(), `threshold-direct-${process.pid}.out`);
  try {
    await decryptToFile({ path }, [ids[0]!, ids[2]!], out);
    assert.ok(readFileSync(out).equals(Buffer.from(plain)), "decryptToFile with two guardians' identities");
  } finally {
    rmSync(out, { force: true });
  }
});

test('1-of-2 opens with either share; 3-of-3 needs all three', async () => {
  const one = await sealSet('one-of-two', 1, ids.slice(0, 2));
  const h1 = (await readHeader({ path: one })).header;
  assert.ok(Buffer.from(await openWith(one, await combineShares(h1, identityShares(h1, [ids[1]!])))).equals(Buffer.from(plain)));
  const all = await sealSet('three-of-three', 3);
  const h3 = (await readHeader({ path: all })).header;
  await rejectsError(
    () => combineShares(h3, identityShares(h3, [ids[0]!, ids[2]!])),
    'GuardianSetError',
    'ERR_NOT_ENOUGH_SHARES',
    /3-of-3 needs 3 valid shares, got 2 \(guardians 0, 2\)/,
  );
  assert.ok(Buffer.from(await openWith(all, await combineShares(h3, identityShares(h3, ids.slice(0, 3))))).equals(Buffer.from(plain)));
});

test('a share moved from another capsule, a tampered share, a bad index or size: refused per guardian before combining', async () => {
  const a = (await readHeader({ path: await sealSet('a', 2) })).header;
  const b = (await readHeader({ path: await sealSet('b', 2) })).header;
  const [a0, a1] = identityShares(a, ids.slice(0, 2)) as [GuardianShare, GuardianShare];
  const [, b1] = identityShares(b, ids.slice(0, 2)) as [GuardianShare, GuardianShare];
  await rejectsError(
    () => combineShares(a, [a0, b1]),
    'GuardianSetError',
    'ERR_BAD_SHARE',
    /^guardian 1: its share does not match its commitment in this header \(a wrong or altered share, or one of another capsule or guardian set\)$/,
  );
  const flipped = { index: 0, share: Uint8Array.from(a0.share) };
  flipped.share[5]! ^= 1;
  throwsError(() => checkShare(a, flipped), 'GuardianSetError', 'ERR_BAD_SHARE', /^guardian 0: its share does not match/);
  throwsError(
    () => checkShare(a, { index: 3, share: a0.share }),
    'GuardianSetError',
    'ERR_BAD_SHARE',
    /^share\.index: expected a guardian index 0\.\.2, got 3$/,
  );
  throwsError(
    () => checkShare(a, { index: 0, share: a0.share.subarray(1) }),
    'GuardianSetError',
    'ERR_BAD_SHARE',
    /^guardian 0: expected a 32-byte share, got 31 bytes$/,
  );
  await rejectsError(() => combineShares(a, [a0, a0]), 'GuardianSetError', 'ERR_BAD_SHARE', /^guardian 0: its share is given twice/);
  // Shares out of the header's own stanzas: a mismatch means the header changed after sealing.
  const changed = { ...a, logic: { hash: new Uint8Array(32).fill(2) } };
  await rejectsError(
    () => combineUnwrappedShares(changed, [a0, a1]),
    'GuardianSetError',
    'ERR_GUARDIAN_SET_MISMATCH',
    /^guardian 0: its stanza opens, but the share does not match/,
  );
  await rejectsError(
    () => combineShares({ ...a, guardianSet: undefined, shareCommitments: undefined }, [a0]),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^header: carries no guardian set/,
  );
  assert.is(describeGuardianSet({ ...a, guardianSet: undefined }), undefined);
});

test('sealing refuses a bad set: duplicate guardian, m > n, m < 1, n over 16 or under 2', async () => {
  const r = ids.map((i) => i.recipient);
  const seal = (recipients: string[], threshold: number) => sealToFile(plain, join(dir, 'never'), { recipients, threshold, logic });
  await rejectsError(
    () => seal([r[0]!, r[1]!, r[0]!], 2),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^options\.recipients\[2\]: duplicates recipients\[0\]; each guardian may hold one share$/,
  );
  await rejectsError(() => seal(r.slice(0, 3), 4), 'GuardianSetError', 'ERR_BAD_GUARDIAN_SET', /^options\.threshold: expected m <= n = 3 guardians, got 4$/);
  await rejectsError(() => seal(r.slice(0, 3), 0), 'GuardianSetError', 'ERR_BAD_GUARDIAN_SET', /^options\.threshold: expected m >= 1, got 0$/);
  await rejectsError(
    () => seal(r.slice(0, 1), 1),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^options\.recipients: a guardian set has 2\.\.16 guardians, got 1$/,
  );
  const many = Array.from({ length: 17 }, () => generateIdentity().recipient);
  await rejectsError(() => seal(many, 2), 'GuardianSetError', 'ERR_BAD_GUARDIAN_SET', /^options\.recipients: a guardian set has 2\.\.16 guardians, got 17$/);
  assert.throws(() => readFileSync(join(dir, 'never')), 'nothing written');
});

test('a header whose set breaks a rule is refused by the reader (decodeHeader)', async () => {
  const { header } = await readHeader({ path: await sealSet('rules', 2) });
  const bad = (change: (h: typeof header) => void) => {
    const h = structuredClone(header);
    change(h);
    return () => decodeHeader(encodeHeader(h));
  };
  throwsError(
    bad((h) => {
      h.guardianSet!.guardians[2]!.key = h.guardianSet!.guardians[0]!.key;
    }),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^header\.guardian_set\.guardians\[2\]: duplicates guardian 0 \(same x25519 key\)/,
  );
  throwsError(
    bad((h) => {
      h.guardianSet!.threshold = 5;
    }),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^header\.guardian_set\.threshold: expected m <= n = 3, got 5$/,
  );
  throwsError(
    bad((h) => {
      h.guardianSet!.threshold = 0;
    }),
    'GuardianSetError',
    'ERR_BAD_GUARDIAN_SET',
    /^header\.guardian_set\.threshold: expected m >= 1, got 0$/,
  );
  throwsError(
    bad((h) => {
      h.shareCommitments = undefined;
    }),
    'CapsuleFormatError',
    'ERR_MALFORMED_HEADER',
    /^header\.guardian_set: present without header\.share_commitments/,
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
