/**
 * `digital-capsule-engine/format`: the capsule byte format of agent/format/SPEC.md for tools that
 * read or write it directly: the header's data type with its deterministic encoder and strict
 * decoder, the 16-byte preamble, the payload layout arithmetic, the deterministic CBOR codec
 * (also what logic parameters are encoded with), and the format's sizes and identifiers.
 *
 * Explicit named exports only. Deliberately not here: the CBOR map keys of the header and the
 * key-derivation labels (internal to the encoder and the crypto), and any cryptography: sealing,
 * opening and signature checks are in the main entry point and `/capsule`.
 *
 * @example
 * ```js
 * import { encodeCanonical } from 'digital-capsule-engine/format';
 * // Logic parameters as a capsule header carries them (SPEC.md §4.2): one deterministic CBOR item,
 * // encoded exactly as `capsule seal --params '{"notBefore":"2030-01-01T00:00:00Z"}'` does.
 * const params = encodeCanonical({ notBefore: '2030-01-01T00:00:00Z' });
 * ```
 * @packageDocumentation
 */

export { decodeHeader, encodeHeader, guardianSetMessage, guardianSignedMessage, signedMessage } from './header.ts';
export type { CapsuleHeader, DigestAlg, LogicRef, PayloadInfo, Stanza } from './header.ts';
export { GuardianSetError } from './guardianSet.ts';
export type { GuardianEntry, GuardianSet, GuardianSetErrorCode } from './guardianSet.ts';
export { decodePreamble, encodePreamble } from './preamble.ts';
export type { Preamble } from './preamble.ts';
export { capsuleLength, chunkCount, plainChunkSize } from './layout.ts';
export { decodeCanonical, encodeCanonical, MAX_DEPTH } from './cbor.ts';
export {
  CAPSULE_ID_SIZE,
  CHUNK_SIZE,
  CIPHER_AES_256_GCM_STREAM,
  DIGEST_CHUNKED_SHA256,
  DIGEST_SALTED_CHUNKED_SHA256,
  DIGEST_SALTED_SHA256,
  DIGEST_SHA256,
  FILE_KEY_SIZE,
  FORMAT_VERSION,
  MAGIC,
  MAX_CID_SIZE,
  MAX_HEADER_SIZE,
  MAX_GUARDIANS,
  MAX_PARAMS_SIZE,
  MAX_STANZA_BODY,
  MAX_STANZAS,
  MIN_GUARDIANS,
  PREAMBLE_SIZE,
  STANZA_LOCK,
  STANZA_P256,
  STANZA_TPM2_RSA,
  STANZA_X25519,
  TAG_SIZE,
} from './constants.ts';
