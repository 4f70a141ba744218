/**
 * Push encoder for one capsule: builds the header (stanzas, optional owner signature) and seals the
 * payload chunk by chunk with STREAM (SPEC.md §4–§7).
 *
 * The header must name the payload's size and digest before the first chunk, so use is:
 * `digestPrefix` (hash it before the plaintext) → `begin(size, digest)` → `push()`… → `end()`.
 * Single-use; the file key is wiped once the payload key and stanzas exist. Deliberately not here:
 * getting size and digest out of a stream (seal.ts) and I/O.
 */
import { randomBytes } from 'node:crypto';
import { CapsuleFormatError } from '../errors.ts';
import { ownerPublicKey, parseRecipient, signWithOwner, type Identity } from '../crypto/identity.ts';
import { deriveCommitmentSalt, derivePayloadKey, sha256 } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { StreamSealer } from '../crypto/StreamCipher.ts';
import { wrapX25519 } from '../crypto/x25519Stanza.ts';
import {
  CAPSULE_ID_SIZE, CHUNK_SIZE, CIPHER_AES_256_GCM_STREAM, DIGEST_SALTED_SHA256, DIGEST_SHA256, FILE_KEY_SIZE,
  FORMAT_VERSION, MAX_HEADER_SIZE, MAX_PAYLOAD_SIZE, MAX_STANZAS,
} from '../format/constants.ts';
import { decodeHeader, encodeHeader, signedMessage, type CapsuleHeader, type LogicRef } from '../format/header.ts';
import { encodePreamble } from '../format/preamble.ts';

export interface SealOptions {
  /** Guardian recipients (`age1…`): each gets an x25519 stanza. At least one. */
  recipients: string[];
  /** The unlock logic: SHA-256 of the module (or the module bytes), optional binary CID and CBOR params. */
  logic: LogicRef;
  /** Signs the header as owner (Ed25519 key derived from this identity). */
  owner?: Identity;
  /** 'sha256' (default) reveals guessable payloads; 'salted-sha256' does not (SPEC.md §11). */
  digest?: 'sha256' | 'salted-sha256';
  /** Creation time; defaults to now. */
  created?: Date;
  /** Negative-keyed extension fields. */
  extensions?: Map<number, unknown>;
  /**
   * Randomness source, for reproducible test vectors only: a non-random source reuses keys and
   * breaks confidentiality. `seal()` and `sealToFile()` ignore it; only this class honours it.
   */
  random?: (n: number) => Uint8Array;
}

export class CapsuleSealer {
  readonly #opts: SealOptions;
  readonly #random: (n: number) => Uint8Array;
  readonly #id: Uint8Array;
  #fileKey: Uint8Array | undefined;
  #prefix: Uint8Array;
  #stream: StreamSealer | undefined;
  #size = 0;
  #seen = 0;
  #pending: Buffer;
  #fill = 0;
  #header: CapsuleHeader | undefined;

  constructor(options: SealOptions) {
    validate(options);
    this.#opts = options;
    this.#random = options.random ?? ((n) => randomBytes(n));
    this.#id = Uint8Array.from(this.#random(CAPSULE_ID_SIZE));
    const drawn = this.#random(FILE_KEY_SIZE);
    this.#fileKey = Uint8Array.from(drawn);
    drawn.fill(0);
    this.#prefix = options.digest === 'salted-sha256' ? deriveCommitmentSalt(this.#fileKey, this.#id) : new Uint8Array(0);
    this.#pending = Buffer.alloc(CHUNK_SIZE);
  }

  get id(): Uint8Array {
    return this.#id;
  }

  get header(): CapsuleHeader | undefined {
    return this.#header;
  }

  /** Hash these bytes, then the plaintext, to obtain the digest `begin()` wants. */
  get digestPrefix(): Uint8Array {
    return this.#prefix;
  }

  /** Fixes size and digest; returns preamble ‖ header. */
  begin(size: number, digest: Uint8Array): Uint8Array {
    if (!this.#fileKey) throw new Error('CapsuleSealer: begin() called twice (single-use object)');
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_PAYLOAD_SIZE) {
      throw new RangeError(`size: expected an integer in 0..2^53-1, got ${size}`);
    }
    if (!(digest instanceof Uint8Array) || digest.length !== 32) throw new TypeError('digest: expected a 32-byte SHA-256');
    const o = this.#opts;
    const fileKey = this.#fileKey;
    let payloadKey: Uint8Array | undefined;
    try {
      const header: CapsuleHeader = {
        version: FORMAT_VERSION,
        id: this.#id,
        created: Math.floor((o.created ?? new Date()).getTime() / 1000),
        owner: o.owner ? ownerPublicKey(o.owner) : undefined,
        logic: o.logic,
        payload: {
          size,
          chunkSize: CHUNK_SIZE,
          cipher: CIPHER_AES_256_GCM_STREAM,
          digestAlg: o.digest === 'salted-sha256' ? DIGEST_SALTED_SHA256 : DIGEST_SHA256,
          digest: Uint8Array.from(digest),
        },
        stanzas: o.recipients.map((r) => {
          const ephemeral = this.#random(32);
          try {
            return wrapX25519(fileKey, parseRecipient(r), this.#id, ephemeral);
          } finally {
            ephemeral.fill(0);
          }
        }),
        extensions: o.extensions ?? new Map(),
      };
      if (o.owner) header.signature = signWithOwner(o.owner, signedMessage(header));
      const body = encodeHeader(header);
      if (body.length > MAX_HEADER_SIZE) {
        throw new RangeError(`header: encodes to ${body.length} bytes, above the ${MAX_HEADER_SIZE}-byte cap (fewer recipients or smaller params)`);
      }
      // Self-check: what we write must pass our own reader (catches bad params, CIDs, extensions).
      decodeHeader(body);
      const out = new Uint8Array(16 + body.length);
      out.set(encodePreamble(body.length), 0);
      out.set(body, 16);
      payloadKey = derivePayloadKey(fileKey, this.#id);
      this.#stream = new StreamSealer(payloadKey, sha256(out));
      this.#header = header;
      this.#size = size;
      return out;
    } finally {
      wipe(fileKey, payloadKey, this.#prefix);
      this.#fileKey = undefined;
    }
  }

  /**
   * Seals whatever full chunks `plain` completes; returns ciphertexts and tags as separate pieces
   * (concatenate them in order). The caller may reuse `plain` afterwards.
   */
  push(plain: Uint8Array): Buffer[] {
    const s = this.#started();
    if (this.#seen + plain.length > this.#size) throw this.#sizeError(this.#seen + plain.length);
    this.#seen += plain.length;
    const out: Buffer[] = [];
    let off = 0;
    // A chunk is sealed only once more data follows it, so the final chunk is known to be final.
    while (off < plain.length) {
      if (this.#fill === CHUNK_SIZE) {
        out.push(...s.sealChunkParts(this.#pending, false));
        this.#fill = 0;
      }
      if (this.#fill === 0 && plain.length - off > CHUNK_SIZE) {
        out.push(...s.sealChunkParts(plain.subarray(off, off + CHUNK_SIZE), false));
        off += CHUNK_SIZE;
        continue;
      }
      const take = Math.min(CHUNK_SIZE - this.#fill, plain.length - off);
      this.#pending.set(plain.subarray(off, off + take), this.#fill);
      this.#fill += take;
      off += take;
    }
    return out;
  }

  /** Seals the final chunk. Throws ERR_PAYLOAD_SIZE if fewer bytes came than `begin()` announced. */
  end(): Buffer[] {
    const s = this.#started();
    if (this.#seen !== this.#size) throw this.#sizeError(this.#seen);
    try {
      return s.sealChunkParts(this.#pending.subarray(0, this.#fill), true);
    } finally {
      this.#pending.fill(0);
    }
  }

  #started(): StreamSealer {
    if (!this.#stream) throw new Error('CapsuleSealer: begin() must come first');
    if (this.#stream.finished) throw new Error('CapsuleSealer: already ended (single-use object)');
    return this.#stream;
  }

  #sizeError(got: number): CapsuleFormatError {
    this.#pending.fill(0);
    return new CapsuleFormatError('ERR_PAYLOAD_SIZE', `payload: header announced ${this.#size} bytes, input ${got > this.#size ? 'exceeded that' : `ended at ${got}`}`);
  }
}

function validate(o: SealOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options: expected an object');
  if (!Array.isArray(o.recipients) || o.recipients.length === 0) {
    throw new TypeError('options.recipients: expected at least one age1… recipient');
  }
  if (o.recipients.length > MAX_STANZAS) {
    throw new RangeError(`options.recipients: expected at most ${MAX_STANZAS}, got ${o.recipients.length}`);
  }
  for (const r of o.recipients) parseRecipient(r);
  if (!(o.logic?.hash instanceof Uint8Array) || o.logic.hash.length !== 32) {
    throw new TypeError('options.logic.hash: expected the 32-byte SHA-256 of the logic module');
  }
  if (o.digest !== undefined && o.digest !== 'sha256' && o.digest !== 'salted-sha256') {
    throw new TypeError(`options.digest: expected 'sha256' or 'salted-sha256', got ${JSON.stringify(o.digest)}`);
  }
  if (o.created !== undefined && (!(o.created instanceof Date) || Number.isNaN(o.created.getTime()) || o.created.getTime() < 0)) {
    throw new TypeError('options.created: expected a valid Date after 1970');
  }
  for (const k of o.extensions?.keys() ?? []) {
    if (!Number.isInteger(k) || k >= 0) throw new RangeError(`options.extensions: keys must be negative integers, got ${k}`);
  }
}
