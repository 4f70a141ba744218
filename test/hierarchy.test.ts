/**
 * The guardian key hierarchy (SPEC.md §8.2) by known answers: entropy → BIP39 mnemonic (the official
 * English test vectors) → BIP39 seed (checked against @scure/bip39 and a published value) → the two
 * recipients, which are recorded in SPEC.md §13.5 and recomputed here from the spec's formulas with
 * other primitives (@noble/hashes HKDF, @noble/curves), so the table, the spec and the code agree.
 * Also the mnemonic's errors, the P-256 text forms and low-S normalisation, and recipient parsing.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { x25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bech32 } from '@scure/base';
import { mnemonicToSeedSync } from '@scure/bip39';
import { parseAnyRecipient } from '../agent/crypto/recipients.ts';
import {
  ECDH_RECIPIENT_HRP,
  encodeP256Key,
  GUARDIAN_KEY_HRP,
  isP256Point,
  normaliseLowS,
  parseP256Key,
  scalarFromBytes,
  verifyP256,
} from '../agent/crypto/p256.ts';
import { bip39Seed, deriveGuardianKeys, guardianRecipients } from '../agent/keys/hierarchy.ts';
import { fromMnemonic, toMnemonic } from '../agent/keys/mnemonic.ts';
import { throwsError } from './helpers/assertError.ts';

const te = new TextEncoder();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const N = p256.Point.CURVE().n;
const be = (x: bigint, len: number) => bytes(x.toString(16).padStart(2 * len, '0'));

interface Known {
  entropy: string;
  mnemonic: string;
  x25519: string;
  p256: string;
}

/** Mnemonics are BIP39's official English vectors (trezor/python-mnemonic vectors.json, 256-bit entropy). */
const KNOWN: Known[] = [
  {
    entropy: '00'.repeat(32),
    mnemonic: `${'abandon '.repeat(23)}art`,
    x25519: 'age1uf0fpx3z64hsqwzs4c3mkqe0aed3d0yj93hc6erne8hkjenczucqusjyn5',
    p256: 'capsule-ecdh1q2524tjntgkuh0eeuzv8cl3s7tw85nwnm8kqfca04dadxxrjs3vsze76gyd',
  },
  {
    entropy: '7f'.repeat(32),
    mnemonic:
      'legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title',
    x25519: 'age1r2zdkx066ftg86mzmjrnzsfr65paefq60yldqstm94ps2yss7g2ssyakj8',
    p256: 'capsule-ecdh1qgxgxtfmsv65zxvhx20ypkl9d4m5nnmm0mxywntmz8cqdmuv58962x5jxhq',
  },
  {
    entropy: '68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c',
    mnemonic:
      'hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length',
    x25519: 'age1ljtvs3rlhe76nhw430mdw3ymu3zkesqe6nk4xfgf56n8tp90apcqd8f42z',
    p256: 'capsule-ecdh1qvnugyd6e5dx3mumh454qr5kmfcfu67sz3rckqqwlu8qj9evzs64q5ptyhq',
  },
  {
    entropy: 'ff'.repeat(32),
    mnemonic: `${'zoo '.repeat(23)}vote`,
    x25519: 'age18m3af2hamfkva560rt2j7y6zcs9rkklphs0rlu7ktksks2w8hapqsnwlh6',
    p256: 'capsule-ecdh1q0x3xhh740kferjjxavuu44fedf8zyhwsuyckcm6ufgcaps2fnnmcev7wqd',
  },
];

/** §8.2 from its formulas alone, with primitives the library does not use for this. */
function recipientsBySpec(seed: Uint8Array): { x25519: string; p256: string } {
  const xs = hkdf(sha256, seed, new Uint8Array(0), te.encode('capsule/v1 guardian x25519'), 32);
  const ps = hkdf(sha256, seed, new Uint8Array(0), te.encode('capsule/v1 guardian p256'), 48);
  const d = (BigInt('0x' + hex(ps)) % (N - 1n)) + 1n;
  const R = p256.Point.BASE.multiply(d).toBytes(true);
  return {
    x25519: bech32.encode('age', bech32.toWords(x25519.getPublicKey(xs))),
    p256: bech32.encode('capsule-ecdh', bech32.toWords(R)),
  };
}

for (const k of KNOWN) {
  test(`hierarchy known answer: entropy ${k.entropy.slice(0, 8)}… → mnemonic, seed, recipients`, () => {
    const entropy = bytes(k.entropy);
    assert.is(toMnemonic(entropy), k.mnemonic, 'official BIP39 mnemonic');
    assert.is(hex(fromMnemonic(k.mnemonic)), k.entropy, 'and back');
    const seed = bip39Seed(entropy);
    assert.is(hex(seed), hex(mnemonicToSeedSync(k.mnemonic)), 'BIP39 seed, empty passphrase (@scure/bip39)');
    assert.equal(guardianRecipients(entropy), { x25519: k.x25519, p256: k.p256 }, 'recorded recipients');
    assert.equal(recipientsBySpec(seed), { x25519: k.x25519, p256: k.p256 }, "the spec's formulas give the same");
  });
}

test('hierarchy: the published BIP39 seed of "abandon … art" (empty passphrase)', () => {
  assert.is(
    hex(bip39Seed(new Uint8Array(32))),
    '408b285c123836004f4b8842c89324c1f01382450c0d439af345ba7fc49acf705489c6fc77dbd4e3dc1dd8cc6bc9f043db8ada1e243c4a0eafb290d399480840',
  );
});

test('hierarchy: SPEC.md §13.5 records exactly these recipients', () => {
  const spec = readFileSync(new URL('../agent/format/SPEC.md', import.meta.url), 'utf8');
  for (const k of KNOWN) {
    const repeated = /^(..)\1{31}$/.test(k.entropy); // one byte 32 times is written `7f × 32`
    const row = `| \`${repeated ? `${k.entropy.slice(0, 2)} × 32` : k.entropy}\` | \`${k.x25519}\` | \`${k.p256}\` |`;
    assert.ok(spec.includes(row), `SPEC.md has the row ${row}`);
  }
});

test('hierarchy: derived keys match their public forms and are wiped by dispose()', () => {
  const keys = deriveGuardianKeys(bytes(KNOWN[1]!.entropy));
  assert.is(keys.x25519.recipient, KNOWN[1]!.x25519);
  assert.is(keys.p256.recipient, KNOWN[1]!.p256);
  assert.is(hex(keys.p256.publicKey), hex(p256.getPublicKey(keys.p256.secretKey, true)));
  const secret = keys.p256.secretKey;
  keys.dispose();
  assert.ok(
    secret.every((b) => b === 0),
    'P-256 scalar wiped',
  );
  assert.ok(
    keys.x25519.secretKey.every((b) => b === 0),
    'x25519 secret wiped',
  );
});

test('scalarFromBytes: d = (OS2IP(bytes) mod (n − 1)) + 1, always in 1..n−1', () => {
  assert.is(hex(scalarFromBytes(new Uint8Array(48))), hex(be(1n, 32)), 'zero bytes give 1');
  assert.is(hex(scalarFromBytes(be(N - 2n, 48))), hex(be(N - 1n, 32)), 'n − 2 gives the largest scalar n − 1');
  assert.is(hex(scalarFromBytes(be(N - 1n, 48))), hex(be(1n, 32)), 'n − 1 wraps to 1');
  const top = ((2n ** 384n - 1n) % (N - 1n)) + 1n;
  assert.is(hex(scalarFromBytes(new Uint8Array(48).fill(0xff))), hex(be(top, 32)), 'all-ones input');
  throwsError(() => scalarFromBytes(new Uint8Array(47)), 'RangeError', undefined, /bytes: expected at least 48, got 47/);
});

// ---- the mnemonic: errors name the position, never a word ----

const PHRASE = KNOWN[1]!.mnemonic;
const WORDS = PHRASE.split(' ');

/** The mnemonic is secret: an error message must not repeat any of its words (nor a mistyped one). */
function assertNoWordsIn(fn: () => unknown, typed: string[] = []): void {
  let message = '';
  try {
    fn();
  } catch (e) {
    message = (e as Error).message;
  }
  assert.ok(message, 'it threw');
  for (const w of new Set([...WORDS, ...typed])) assert.not.ok(` ${message} `.includes(` ${w} `), `message does not echo "${w}"`);
}

test('fromMnemonic: wrong word count', () => {
  throwsError(() => fromMnemonic(WORDS.slice(0, 23).join(' ')), 'KeyError', 'ERR_BAD_MNEMONIC', /^mnemonic: expected 24 words, got 23$/);
  throwsError(() => fromMnemonic(`${PHRASE} legal`), 'KeyError', 'ERR_BAD_MNEMONIC', /^mnemonic: expected 24 words, got 25$/);
  throwsError(() => fromMnemonic('   '), 'KeyError', 'ERR_BAD_MNEMONIC', /expected 24 words, got 0/);
});

test('fromMnemonic: an unknown word is named by its position, not by the word', () => {
  const typo = [...WORDS];
  typo[4] = 'wavy';
  throwsError(() => fromMnemonic(typo.join(' ')), 'KeyError', 'ERR_BAD_MNEMONIC', /^mnemonic: word 5 is not in the BIP39 English word list$/);
  assertNoWordsIn(() => fromMnemonic(typo.join(' ')), ['wavy']);
});

test('fromMnemonic: a checksum mismatch (wrong last word, or two words swapped)', () => {
  const last = [...WORDS];
  last[23] = 'abandon';
  throwsError(() => fromMnemonic(last.join(' ')), 'KeyError', 'ERR_BAD_MNEMONIC', /^mnemonic: checksum does not match \(a word is wrong or two are swapped\)$/);
  assertNoWordsIn(() => fromMnemonic(last.join(' ')));
  const swapped = [...WORDS];
  [swapped[0], swapped[2]] = [swapped[2]!, swapped[0]!];
  throwsError(() => fromMnemonic(swapped.join(' ')), 'KeyError', 'ERR_BAD_MNEMONIC', /checksum does not match/);
});

test('fromMnemonic: case and whitespace are normalised', () => {
  const messy = `  ${WORDS.map((w, i) => (i % 2 ? w.toUpperCase() : w)).join(' \t\n ')}\n`;
  assert.is(hex(fromMnemonic(messy)), KNOWN[1]!.entropy);
  assert.is(hex(fromMnemonic(WORDS.join('\u00a0'))), KNOWN[1]!.entropy, 'no-break spaces');
  throwsError(() => fromMnemonic(42 as never), 'TypeError', undefined, /^mnemonic: expected a string, got number$/);
  throwsError(() => toMnemonic(new Uint8Array(16)), 'TypeError', undefined, /^entropy: expected 32 bytes, got 16$/);
});

// ---- P-256 helpers ----

test('normaliseLowS: a high-S signature becomes (r, n − s), which verifies; low S is kept', () => {
  const d = scalarFromBytes(new Uint8Array(48).fill(3));
  const pub = p256.getPublicKey(d, true);
  let digest = new Uint8Array(32);
  let raw = p256.sign(digest, d, { prehash: false, lowS: false });
  for (let i = 1; BigInt('0x' + hex(raw.subarray(32))) <= N >> 1n; i++) {
    digest = sha256(Uint8Array.of(i)); // RFC 6979 is deterministic: walk digests until S is high
    raw = p256.sign(digest, d, { prehash: false, lowS: false });
  }
  assert.not.ok(verifyP256(raw, digest, pub), 'high S is rejected');
  const low = normaliseLowS(raw);
  assert.is(hex(low.subarray(0, 32)), hex(raw.subarray(0, 32)), 'r unchanged');
  assert.is(BigInt('0x' + hex(low.subarray(32))), N - BigInt('0x' + hex(raw.subarray(32))), 's → n − s');
  assert.ok(verifyP256(low, digest, pub), 'the low-S form verifies');
  assert.is(hex(normaliseLowS(low)), hex(low), 'low S unchanged');
  const outOfRange = Uint8Array.of(...raw.subarray(0, 32), ...be(N + 5n, 32));
  assert.is(hex(normaliseLowS(outOfRange)), hex(outOfRange), 's ≥ n is left for verification to reject');
  assert.not.ok(verifyP256(outOfRange, digest, pub));
  throwsError(() => normaliseLowS(new Uint8Array(63)), 'TypeError', undefined, /^signature: expected 64 bytes r ‖ s, got 63$/);
});

test('P-256 text forms: capsule-ecdh1… and capsule-guardian1… round-trip', () => {
  const pub = p256.getPublicKey(scalarFromBytes(new Uint8Array(48).fill(5)), true);
  const r = encodeP256Key(ECDH_RECIPIENT_HRP, pub);
  const g = encodeP256Key(GUARDIAN_KEY_HRP, pub);
  assert.match(r, /^capsule-ecdh1[02-9ac-hj-np-z]+$/);
  assert.match(g, /^capsule-guardian1[02-9ac-hj-np-z]+$/);
  assert.is(hex(parseP256Key(ECDH_RECIPIENT_HRP, ` ${r}\n`, 'recipient')), hex(pub), 'surrounding whitespace ignored');
  assert.is(hex(parseP256Key(GUARDIAN_KEY_HRP, g, '--guardian-key')), hex(pub));
});

test('parseP256Key errors: wrong prefix, uppercase, not a point, wrong size, bad checksum', () => {
  const pub = p256.getPublicKey(scalarFromBytes(new Uint8Array(48).fill(5)), true);
  const g = encodeP256Key(GUARDIAN_KEY_HRP, pub);
  const r = encodeP256Key(ECDH_RECIPIENT_HRP, pub);
  throwsError(
    () => parseP256Key(ECDH_RECIPIENT_HRP, g, 'recipient'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected the prefix "capsule-ecdh1", got "capsule-guardian1"$/,
  );
  throwsError(
    () => parseP256Key(GUARDIAN_KEY_HRP, r, '--guardian-key'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^--guardian-key: expected the prefix "capsule-guardian1", got "capsule-ecdh1"$/,
  );
  throwsError(
    () => parseP256Key(ECDH_RECIPIENT_HRP, r.toUpperCase(), 'recipient'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected lowercase, got uppercase$/,
  );
  const notAPoint = bech32.encode(ECDH_RECIPIENT_HRP, bech32.toWords(Uint8Array.of(2, ...be(1n, 32))));
  assert.not.ok(isP256Point(Uint8Array.of(2, ...be(1n, 32))), 'x = 1 is on no point');
  throwsError(
    () => parseP256Key(ECDH_RECIPIENT_HRP, notAPoint, 'recipient'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected a 33-byte compressed P-256 point, got 33 bytes that are not one$/,
  );
  const short = bech32.encode(ECDH_RECIPIENT_HRP, bech32.toWords(pub.subarray(1)));
  throwsError(() => parseP256Key(ECDH_RECIPIENT_HRP, short, 'recipient'), 'KeyError', 'ERR_BAD_RECIPIENT', /got 32 bytes that are not one$/);
  const typo = r.slice(0, -1) + (r.endsWith('q') ? 'p' : 'q');
  throwsError(
    () => parseP256Key(ECDH_RECIPIENT_HRP, typo, 'recipient'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected capsule-ecdh1…, got "capsule-ecdh1[a-z0-9]{11}"…$/,
  );
});

test('parseAnyRecipient: age1… is x25519, capsule-ecdh1… is p256-ecdh, anything else is refused', () => {
  const x = parseAnyRecipient(KNOWN[1]!.x25519);
  assert.is(x.type, 'x25519');
  assert.is(x.key.length, 32);
  const p = parseAnyRecipient(KNOWN[1]!.p256);
  assert.is(p.type, 'p256-ecdh');
  assert.ok(isP256Point(p.key));
  throwsError(
    () => parseAnyRecipient('hello'),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /^recipient: expected age1… \(x25519\), capsule-ecdh1… \(p256-ecdh\) or capsule-tpm1… \(tpm2-rsa\), got "hello"$/,
  );
  const pub = p256.getPublicKey(scalarFromBytes(new Uint8Array(48).fill(5)), true);
  throwsError(
    () => parseAnyRecipient(encodeP256Key(GUARDIAN_KEY_HRP, pub)),
    'KeyError',
    'ERR_BAD_RECIPIENT',
    /expected age1… \(x25519\), capsule-ecdh1… \(p256-ecdh\) or capsule-tpm1… \(tpm2-rsa\), got "capsule-guardian1/,
  );
  throwsError(() => parseAnyRecipient(KNOWN[1]!.p256.slice(0, -2)), 'KeyError', 'ERR_BAD_RECIPIENT', /^recipient: expected capsule-ecdh1…/);
  throwsError(() => parseAnyRecipient('age1qqqq'), 'KeyError', 'ERR_BAD_RECIPIENT', /expected an age X25519 recipient \(age1…\)/);
  throwsError(() => parseAnyRecipient(7 as never), 'TypeError', undefined, /^recipient: expected a string, got number$/);
});

test.run();
