/**
 * The `tpm2-rsa` test vectors (SPEC.md §5.4, §13.4): capsules sealed by the real sealer to seeded
 * RSA-2048 keys standing in for a guardian's TPM key, and negatives with exactly one defect each —
 * a body of the wrong length (bad stanza), or a stanza that is not for the key: wrong key, wrong
 * label (another id, no NUL, uppercase hex, empty, the 53-byte prefixed label of an earlier
 * draft), wrong hash, a message that is no file key, a ciphertext not below the modulus, a flipped
 * bit.
 *
 * node:crypto draws the OAEP seed itself, so each stanza the sealer makes is first checked to open
 * to the file key and then replaced by one made here (rsaOaep.ts, from RFC 8017) with a seeded
 * seed, the payload re-encrypted to match: the files are reproducible. Labels are built here from
 * the spec's text, not with agent/ code. Deliberately not here: the other stanza types' vectors
 * (definitions.ts, which calls this).
 */
import { constants, privateDecrypt } from 'node:crypto';
import { drbg } from '../helpers/drbg.ts';
import { canonical, concat, flip, headerMap, rebuilt, type Built } from './build.ts';
import type { Definition } from './definitions.ts';
import { fixedRsa, oaepEncrypt, type OaepOptions, type RsaKey } from './rsaOaep.ts';

/** What definitions.ts lends: its sealer with fixed defaults, its result builders and its header editor. */
export interface VectorKit {
  sealed(seed: string, size: number, extra: { recipients: string[] }): Promise<Built>;
  ok(name: string, comment: string, b: Built, identities?: string[], p256?: string[]): Definition;
  bad(name: string, comment: string, expect: string, verify: string, bytes: Uint8Array, identities?: string[], p256?: string[]): Definition;
  edit(b: Built, change: (m: Map<number, unknown>) => void): Uint8Array;
  /** An x25519 recipient and the identity that opens it. */
  x25519: { recipient: string; identities: string[] };
}

/** Guardian TPM keys: seeded stand-ins for RSA-2048 keys made inside a TPM. */
const T = fixedRsa('guardian-t');
const U = fixedRsa('guardian-u');
const keyT = [T.pkcs8];

/** The OAEP label of SPEC.md §5.4, built from its text: hex(id) ‖ 00, no prefix. */
function tpmLabel(id: Uint8Array, hex = Buffer.from(id).toString('hex')): Uint8Array {
  return concat(new TextEncoder().encode(hex), Uint8Array.of(0));
}

/** The label an earlier draft of §5.4 had: "capsule/v1 tpm2-rsa " ‖ hex(id) ‖ 00, 53 bytes (too long for a SHA-256-only TPM). */
function draftLabel(id: Uint8Array): Uint8Array {
  return concat(new TextEncoder().encode(`capsule/v1 tpm2-rsa ${Buffer.from(id).toString('hex')}`), Uint8Array.of(0));
}

interface TpmBody extends OaepOptions {
  label?: Uint8Array;
  message?: Uint8Array;
}

/** A tpm2-rsa body for capsule `b` (its file key under its label unless told otherwise), the OAEP seed drawn from `seed`. */
function tpmBody(key: RsaKey, b: Built, seed: string, o: TpmBody = {}): Uint8Array {
  const oaepSeed = drbg(`oaep seed ${seed}`)(o.hash === 'sha1' ? 20 : 32);
  return oaepEncrypt(key.modulus, o.message ?? b.fileKey, o.label ?? tpmLabel(b.id), oaepSeed, o);
}

function stanzas(m: Map<number, unknown>): [string, Uint8Array][] {
  return m.get(7) as [string, Uint8Array][];
}

/** Sealed to these recipients (an RsaKey as its capsule-tpm1… string), every tpm2-rsa stanza then made reproducible. */
async function sealedTpm(kit: VectorKit, seed: string, size: number, recipients: (string | RsaKey)[]): Promise<Built> {
  const b = await kit.sealed(seed, size, { recipients: recipients.map((r) => (typeof r === 'string' ? r : r.recipient)) });
  const m = headerMap(b);
  stanzas(m).forEach((s, i) => {
    const r = recipients[i]!;
    if (typeof r === 'string') return;
    if (s[0] !== 'tpm2-rsa') throw new Error(`${seed}: stanza ${i} is ${s[0]}, expected tpm2-rsa`);
    const opened = privateDecrypt({ key: r.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: tpmLabel(b.id) }, s[1]);
    if (!opened.equals(Buffer.from(b.fileKey))) throw new Error(`${seed}: the sealer's tpm2-rsa stanza ${i} does not open to the file key`);
    s[1] = tpmBody(r, b, `${seed} ${i}`);
  });
  return rebuilt(b, canonical(m));
}

export async function tpm2Vectors(kit: VectorKit): Promise<{ positive: Definition[]; negative: Definition[] }> {
  const positive: Definition[] = [];
  const negative: Definition[] = [];
  const ok = (name: string, comment: string, b: Built): Definition => ({ ...kit.ok(name, comment, b, []), tpm2Rsa: keyT });
  const bad = (name: string, comment: string, expect: string, verify: string, bytes: Uint8Array): Definition => ({
    ...kit.bad(name, comment, expect, verify, bytes, [], []),
    tpm2Rsa: keyT,
  });

  const only = await sealedTpm(kit, 'tpm2-rsa', 1200, [T]);
  positive.push(ok('tpm2-rsa', 'one tpm2-rsa stanza (SPEC.md §5.4: RSAES-OAEP, SHA-256, the label binds the id), opened with the RSA key alone', only));
  positive.push(
    ok(
      'tpm2-rsa-second-stanza',
      'two tpm2-rsa stanzas; the first is for another RSA key (OAEP fails: not for this key), the second opens',
      await sealedTpm(kit, 'tpm2-rsa-second', 400, [U, T]),
    ),
  );
  positive.push(
    ok(
      'tpm2-rsa-after-x25519',
      'x25519 then tpm2-rsa stanzas, one file key; opened with the RSA key alone (the x25519 stanza is skipped)',
      await sealedTpm(kit, 'tpm2-rsa-after-x25519', 65536 + 3, [kit.x25519.recipient, T]),
    ),
  );

  const body = (change: (b: Uint8Array) => Uint8Array) =>
    kit.edit(only, (m) => {
      const s = stanzas(m)[0]!;
      s[1] = change(s[1]);
    });
  const notMine = (name: string, comment: string, bytes: Uint8Array) => negative.push(bad(name, comment, 'ERR_NO_MATCHING_STANZA', 'ok', bytes));
  const wrapped = (seed: string, o: TpmBody) => body(() => tpmBody(T, only, seed, o));
  negative.push(
    bad(
      'tpm2-rsa-body-255',
      'tpm2-rsa stanza body of 255 bytes (last byte cut)',
      'ERR_BAD_STANZA',
      'ERR_BAD_STANZA',
      body((b) => b.subarray(0, 255)),
    ),
  );
  negative.push(
    bad(
      'tpm2-rsa-body-257',
      'tpm2-rsa stanza body of 257 bytes (the ciphertext with a leading 00)',
      'ERR_BAD_STANZA',
      'ERR_BAD_STANZA',
      body((b) => concat(Uint8Array.of(0), b)),
    ),
  );
  const other = await sealedTpm(kit, 'tpm2-rsa-other', 100, [T]);
  notMine(
    'tpm2-rsa-label-other-id',
    "this capsule's file key, but under the OAEP label of another capsule id: not for this key",
    wrapped('label-other-id', { label: tpmLabel(other.id) }),
  );
  notMine(
    'tpm2-rsa-stanza-moved',
    'the tpm2-rsa stanza of another capsule sealed to the same key, copied into this header (its label names the other id)',
    body(() => stanzas(headerMap(other))[0]![1]),
  );
  notMine('tpm2-rsa-wrong-key', 'sealed to RSA key U, opened with T', (await sealedTpm(kit, 'tpm2-rsa-wrong-key', 100, [U])).bytes);
  notMine(
    'tpm2-rsa-31-byte-key',
    'a valid OAEP ciphertext, right label, of 31 bytes (the file key without its last byte): not a file key',
    wrapped('31-bytes', { message: only.fileKey.subarray(0, 31) }),
  );
  notMine(
    'tpm2-rsa-33-byte-key',
    'a valid OAEP ciphertext, right label, of 33 bytes (the file key and a 00): not a file key',
    wrapped('33-bytes', { message: concat(only.fileKey, Uint8Array.of(0)) }),
  );
  notMine(
    'tpm2-rsa-ciphertext-is-modulus',
    'the body is the modulus itself: a ciphertext must be below it',
    body(() => T.modulus),
  );
  notMine('tpm2-rsa-label-no-nul', 'OAEP label without its final 00 byte', wrapped('label-no-nul', { label: tpmLabel(only.id).subarray(0, -1) }));
  notMine(
    'tpm2-rsa-label-with-prefix',
    'OAEP label "capsule/v1 tpm2-rsa " ‖ hex(id) ‖ 00 (53 bytes, an earlier draft\'s, which a SHA-256-only TPM refuses) in place of hex(id) ‖ 00',
    wrapped('label-with-prefix', { label: draftLabel(only.id) }),
  );
  notMine(
    'tpm2-rsa-label-uppercase-hex',
    'OAEP label with the id in uppercase hex',
    wrapped('label-upper', { label: tpmLabel(only.id, Buffer.from(only.id).toString('hex').toUpperCase()) }),
  );
  notMine('tpm2-rsa-empty-label', 'OAEP with an empty label (the default of most RSA tools)', wrapped('empty-label', { label: new Uint8Array(0) }));
  notMine('tpm2-rsa-oaep-sha1', 'OAEP with SHA-1 for the label hash and MGF1 (a common default) in place of SHA-256', wrapped('sha1', { hash: 'sha1' }));
  notMine(
    'tpm2-rsa-tampered',
    'one bit of the tpm2-rsa ciphertext flipped: OAEP decoding fails, so not for this key',
    body((b) => flip(b, 100)),
  );
  negative.push(
    kit.bad(
      'tpm2-rsa-only-x25519-identity',
      'only a tpm2-rsa stanza, opened with an x25519 identity',
      'ERR_NO_MATCHING_STANZA',
      'ok',
      only.bytes,
      kit.x25519.identities,
    ),
  );
  return { positive, negative };
}
