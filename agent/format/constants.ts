/**
 * Capsule format v1: every fixed number and label of the byte format, in one place.
 *
 * SPEC.md beside this file is normative; this file only mirrors it. A change here is a change to
 * the bytes and must change SPEC.md and the vectors in test/vectors/ together.
 */

/** `\x89CAPSULE`: a high-bit first byte catches 7-bit transports and text-mode mangling (as PNG). */
export const MAGIC = Uint8Array.of(0x89, 0x43, 0x41, 0x50, 0x53, 0x55, 0x4c, 0x45);
/** Fewest and most guardians in a guardian set (SPEC.md §5.6): one guardian is today's single stanza. */
export const MIN_GUARDIANS = 2;
export const MAX_GUARDIANS = 16;
/** What a share stanza wraps: the share's 32 y-values, one per file-key byte (its x is in the header). */
export const SHARE_SIZE = 32;
/** Length of a share commitment (SHA-256). */
export const SHARE_COMMITMENT_SIZE = 32;
/** Length of the preamble (magic, version, flags, header length) that starts every capsule. */
export const PREAMBLE_SIZE = 16;
/** The format version this library reads and writes (preamble and header key 1). */
export const FORMAT_VERSION = 1;

/** Largest header a reader accepts; bounds memory before any authentication is possible. */
export const MAX_HEADER_SIZE = 65536;
/** Largest `logic.params` item, in bytes of CBOR. */
export const MAX_PARAMS_SIZE = 16384;
/** Most key stanzas a header may carry. */
export const MAX_STANZAS = 64;
/** Largest stanza body, in bytes. */
export const MAX_STANZA_BODY = 4096;
/** Largest binary CID in `logic.cid`, in bytes. */
export const MAX_CID_SIZE = 128;
/** Latest `created`: 9999-12-31T23:59:59Z, so that every creation time is a printable date. */
export const MAX_CREATED = 253402300799;
/** Largest payload: 2^53 - 1 bytes, so that every size is an exact JavaScript number. */
export const MAX_PAYLOAD_SIZE = Number.MAX_SAFE_INTEGER;

/** Plaintext bytes per payload chunk (all but the last are exactly this long). */
export const CHUNK_SIZE = 65536;
/** AES-GCM tag bytes after each chunk's ciphertext. */
export const TAG_SIZE = 16;
/** Length of a capsule's file key, the secret every stanza wraps. */
export const FILE_KEY_SIZE = 32;
/** Length of `header.id`. */
export const CAPSULE_ID_SIZE = 16;

/** Header map keys (CBOR unsigned integers). Unknown unsigned keys are critical; negative keys are extensions. */
export const H = {
  version: 1,
  id: 2,
  created: 3,
  owner: 4,
  logic: 5,
  payload: 6,
  stanzas: 7,
  signature: 8,
  guardian: 9,
  guardianSignature: 10,
  // 11 is deliberately never assigned: the published vector `unknown-critical-field` uses it as the
  // example of an unknown critical key, and a published vector never changes meaning.
  guardianSet: 12,
  shareCommitments: 13,
} as const;
/** Keys of the guardian set map (header key 12, SPEC.md §5.6) and of each of its guardian entries. */
export const GUARDIAN_SET = { threshold: 1, guardians: 2 } as const;
export const GUARDIAN_ENTRY = { x: 1, key: 2 } as const;
export const LOGIC = { hash: 1, cid: 2, params: 3 } as const;
export const PAYLOAD = { size: 1, chunkSize: 2, cipher: 3, digestAlg: 4, digest: 5 } as const;

/** `payload.cipher` 1: AES-256-GCM in the STREAM construction, 64 KiB chunks (SPEC.md §6.2). */
export const CIPHER_AES_256_GCM_STREAM = 1;
/** `payload.digest_alg` 1: SHA-256 of the whole plaintext. */
export const DIGEST_SHA256 = 1;
/** `payload.digest_alg` 2: SHA-256 of a salt derived from the file key ‖ the plaintext (hides guessable payloads). */
export const DIGEST_SALTED_SHA256 = 2;
/** SHA-256 over the SHA-256 of each plaintext chunk (SPEC.md §6.4): chunks hash in parallel. */
export const DIGEST_CHUNKED_SHA256 = 3;
/** `payload.digest_alg` 4: the chunked digest with the file-key-derived salt. */
export const DIGEST_SALTED_CHUNKED_SHA256 = 4;

/** HKDF info labels (ASCII). */
export const LABEL_PAYLOAD_KEY = 'capsule/v1 payload';
export const LABEL_COMMITMENT_SALT = 'capsule/v1 payload commitment';
/** Domain separator that starts the root hash of the chunked digests (SPEC.md §6.4). */
export const LABEL_CHUNKED_DIGEST = 'capsule/v1 chunked digest';
export const LABEL_X25519_STANZA = 'capsule/v1 x25519';
export const LABEL_OWNER_ED25519 = 'capsule/v1 owner ed25519';
/** Domain separator prefixed to the bytes an owner signs. */
export const LABEL_HEADER_SIGNATURE = 'capsule/v1 header signature';
/** Domain separator prefixed to the bytes a guardian signs (SHA-256 of them, ECDSA P-256). */
export const LABEL_GUARDIAN_SIGNATURE = 'capsule/v1 guardian signature';
export const LABEL_P256_STANZA = 'capsule/v1 p256-ecdh';
/** Domain separator of the guardian-set hash: label ‖ 00 ‖ header without keys 8, 10, 13 (SPEC.md §5.6). */
export const LABEL_GUARDIAN_SET = 'capsule/v1 guardian set';
/** Domain separator of a share commitment: SHA-256(label ‖ 00 ‖ id ‖ set_hash ‖ index ‖ share). */
export const LABEL_SHARE_COMMITMENT = 'capsule/v1 share commitment';
/** Prefix of what a zymbit-lock stanza locks: label ‖ 00 ‖ id ‖ file key. */
export const LABEL_LOCK_STANZA = 'capsule/v1 zymbit-lock';
/** Guardian key hierarchy (SPEC.md §8.2): HKDF labels applied to the BIP39 seed. */
export const LABEL_GUARDIAN_X25519 = 'capsule/v1 guardian x25519';
export const LABEL_GUARDIAN_P256 = 'capsule/v1 guardian p256';
/** Provisioning: master entropy = HKDF(module random ‖ OS random, "", this, 32). */
export const LABEL_GUARDIAN_SEED_MIX = 'capsule/v1 guardian seed';

/** Stanza type of an age X25519 recipient (`age1…`, SPEC.md §5.1). */
export const STANZA_X25519 = 'x25519';
export const X25519_STANZA_BODY_SIZE = 32 + FILE_KEY_SIZE + TAG_SIZE;
/** Stanza type of a P-256 ECDH recipient (`capsule-ecdh1…`, SPEC.md §5.2). */
export const STANZA_P256 = 'p256-ecdh';
/** Compressed ephemeral point (33) ‖ encrypted file key ‖ tag. */
export const P256_STANZA_BODY_SIZE = 33 + FILE_KEY_SIZE + TAG_SIZE;
/** Stanza type only a guardian's own security module opens (SPEC.md §5.3). */
export const STANZA_LOCK = 'zymbit-lock';
/**
 * Stanza type of a guardian's TPM RSA-2048 key (`capsule-tpm1…`, SPEC.md §5.4).
 *
 * The tpm2-rsa stanza's OAEP label has no text prefix, so no label constant (SPEC.md §5.4): it is
 * hex(id) ‖ 00, 33 bytes, to fit a SHA-256-only TPM's 34-byte TPM2B_DATA limit; the key serves
 * nothing else. See tpm2RsaLabel in agent/crypto/tpm2RsaStanza.ts.
 */
export const STANZA_TPM2_RSA = 'tpm2-rsa';
/** RSAES-OAEP ciphertext under a 2048-bit modulus: exactly the modulus length (SPEC.md §5.4). */
export const TPM2_RSA_STANZA_BODY_SIZE = 256;
/** Compressed SEC1 P-256 public key: the guardian key (header key 9) and P-256 recipients. */
export const P256_PUBLIC_KEY_SIZE = 33;
