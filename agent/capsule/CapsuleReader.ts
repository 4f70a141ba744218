/**
 * Push parser for capsule bytes: preamble, header, then sealed chunks cut at the sizes the header
 * implies (SPEC.md §9). Works on any slicing of the input — a whole buffer, stream pieces, or one
 * byte at a time — with one copy at most per chunk.
 *
 * It checks everything that needs no key: preamble, canonical header, owner and guardian signatures, stanza
 * well-formedness, chunk layout, truncation and trailing data. Errors are sticky. Deliberately not
 * here: decryption (CapsuleOpener.ts) and I/O.
 */
import { CapsuleFormatError } from '../errors.ts';
import { verifyOwnerSignature } from '../crypto/identity.ts';
import { sha256 } from '../crypto/kdf.ts';
import { checkGuardianSignature } from '../crypto/guardianSignature.ts';
import { checkLockStanza } from '../crypto/lockStanza.ts';
import { checkP256Stanza } from '../crypto/p256Stanza.ts';
import { checkTpm2RsaStanza } from '../crypto/tpm2RsaStanza.ts';
import { checkX25519Stanza } from '../crypto/x25519Stanza.ts';
import { PREAMBLE_SIZE, STANZA_LOCK, STANZA_P256, STANZA_TPM2_RSA, STANZA_X25519, TAG_SIZE } from '../format/constants.ts';
import { decodeHeader, signedMessage, type CapsuleHeader } from '../format/header.ts';
import { capsuleLength, chunkCount, plainChunkSize } from '../format/layout.ts';
import { decodePreamble } from '../format/preamble.ts';
import { checkGuardianKeys } from './shares.ts';

/** A capsule's header as read and checked (SPEC.md §9), with the bytes it was read from. */
export interface ParsedHeader {
  /** The decoded, checked header. */
  header: CapsuleHeader;
  /** Preamble ‖ header bytes, exactly as read. */
  headerBytes: Uint8Array;
  /** SHA-256 of headerBytes: the payload's associated data. */
  headerHash: Uint8Array;
  /** The exact total length a capsule with this header must have. */
  totalLength: number;
}

/** Called once per sealed chunk; `sealed` is only valid during the call. */
export type ChunkSink = (sealed: Uint8Array, index: number, last: boolean) => void;

type State = 'preamble' | 'header' | 'chunks' | 'done';

/**
 * Push parser for capsule bytes, with no key: checks preamble, canonical header, owner and
 * guardian signatures, stanza shapes, chunk layout, truncation and trailing data, and hands each
 * sealed chunk to a sink. Works on any slicing of the input. Errors are sticky.
 * @throws CapsuleFormatError from push() (ERR_BAD_MAGIC, ERR_UNSUPPORTED_VERSION, ERR_HEADER_TOO_LARGE,
 *   ERR_MALFORMED_HEADER, ERR_NON_CANONICAL_HEADER, ERR_UNKNOWN_CRITICAL_FIELD, ERR_BAD_SIGNATURE,
 *   ERR_BAD_STANZA, ERR_TRAILING_DATA, …) and end() (ERR_TRUNCATED).
 * @example
 * ```js
 * import { CapsuleReader } from 'digital-capsule-engine/capsule';
 * const reader = new CapsuleReader((p) => console.log('header of', p.totalLength, 'bytes'));
 * reader.push(capsuleBytes, (sealed, index, last) => {});
 * reader.end();
 * ```
 */
export class CapsuleReader {
  #state: State = 'preamble';
  #error: unknown;
  #buf = new Uint8Array(PREAMBLE_SIZE);
  #fill = 0;
  #want = PREAMBLE_SIZE;
  #preamble: Uint8Array | undefined;
  #parsed: ParsedHeader | undefined;
  #chunk = 0;
  #chunks = 0;
  #consumed = 0;
  readonly #onHeader: ((p: ParsedHeader) => void) | undefined;

  /**
   * @param onHeader - Runs as soon as the header is checked, before any chunk is handed out; what
   *   it throws becomes the reader's (sticky) error.
   */
  constructor(onHeader?: (p: ParsedHeader) => void) {
    this.#onHeader = onHeader;
  }

  /** The checked header once its bytes were pushed; undefined before. */
  get parsed(): ParsedHeader | undefined {
    return this.#parsed;
  }

  /** Bytes consumed so far. */
  get position(): number {
    return this.#consumed;
  }

  /** True once the last chunk was read (more bytes would be ERR_TRAILING_DATA). */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Feeds capsule bytes.
   * @param data - The next bytes, in order, in pieces of any size.
   * @param sink - Receives each complete sealed chunk (valid only during the call).
   * @throws CapsuleFormatError for anything wrong in what has been read so far (then on every call).
   */
  push(data: Uint8Array, sink?: ChunkSink): void {
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#push(data, sink);
    } catch (e) {
      this.#error = e;
      throw e;
    }
  }

  /** Declares the end of input: throws ERR_TRUNCATED unless the last chunk was read. */
  end(): void {
    if (this.#error !== undefined) throw this.#error;
    if (this.#state === 'done') return;
    const where =
      this.#state === 'chunks'
        ? `payload chunk ${this.#chunk} of ${this.#chunks} (${this.#fill} of ${this.#want} bytes)`
        : `${this.#state} (${this.#fill} of ${this.#want} bytes)`;
    const expected = this.#parsed ? `; expected ${this.#parsed.totalLength} bytes in all` : '';
    this.#error = new CapsuleFormatError('ERR_TRUNCATED', `input ended after ${this.#consumed} bytes, inside ${where}${expected}`);
    throw this.#error;
  }

  #push(data: Uint8Array, sink: ChunkSink | undefined): void {
    let off = 0;
    while (off < data.length) {
      if (this.#state === 'done') {
        const total = this.#parsed!.totalLength;
        throw new CapsuleFormatError('ERR_TRAILING_DATA', `data continues after the final chunk (expected ${total} bytes in all)`);
      }
      const avail = data.length - off;
      if (this.#fill === 0 && avail >= this.#want && this.#state === 'chunks') {
        // Whole chunk available in the caller's buffer: hand it out without copying.
        const take = this.#want;
        this.#consumed += take;
        this.#unit(data.subarray(off, off + take), sink);
        off += take;
        continue;
      }
      const take = Math.min(this.#want - this.#fill, avail);
      this.#buf.set(data.subarray(off, off + take), this.#fill);
      this.#fill += take;
      this.#consumed += take;
      off += take;
      if (this.#fill === this.#want) {
        this.#fill = 0;
        this.#unit(this.#buf.subarray(0, this.#want), sink);
      }
    }
  }

  #unit(bytes: Uint8Array, sink: ChunkSink | undefined): void {
    switch (this.#state) {
      case 'preamble': {
        const { headerLength } = decodePreamble(bytes);
        this.#preamble = Uint8Array.from(bytes);
        this.#expect('header', headerLength);
        return;
      }
      case 'header': {
        const headerOnly = Uint8Array.from(bytes);
        const header = decodeHeader(headerOnly);
        checkHeaderOffline(header);
        const headerBytes = new Uint8Array(PREAMBLE_SIZE + headerOnly.length);
        headerBytes.set(this.#preamble!, 0);
        headerBytes.set(headerOnly, PREAMBLE_SIZE);
        this.#parsed = {
          header,
          headerBytes,
          headerHash: sha256(headerBytes),
          totalLength: capsuleLength(headerOnly.length, header.payload.size),
        };
        this.#chunks = chunkCount(header.payload.size);
        this.#onHeader?.(this.#parsed);
        this.#expect('chunks', plainChunkSize(header.payload.size, 0) + TAG_SIZE);
        return;
      }
      case 'chunks': {
        const index = this.#chunk++;
        const last = this.#chunk === this.#chunks;
        sink?.(bytes, index, last);
        if (last) this.#state = 'done';
        else this.#expect('chunks', plainChunkSize(this.#parsed!.header.payload.size, this.#chunk) + TAG_SIZE);
        return;
      }
      default:
        throw new Error(`unreachable state ${this.#state}`);
    }
  }

  #expect(state: State, want: number): void {
    this.#state = state;
    this.#want = want;
    this.#fill = 0;
    if (this.#buf.length < want) this.#buf = new Uint8Array(want);
  }
}

/** Key-free checks on a decoded header: owner and guardian signatures, stanza well-formedness. */
export function checkHeaderOffline(header: CapsuleHeader): void {
  if (header.signature) {
    if (!verifyOwnerSignature(header.signature, signedMessage(header), header.owner!)) {
      throw new CapsuleFormatError('ERR_BAD_SIGNATURE', 'header.signature: does not verify against header.owner (Ed25519)');
    }
  }
  checkGuardianSignature(header);
  header.stanzas.forEach((s, i) => {
    if (s.type === STANZA_X25519) checkX25519Stanza(s, i);
    else if (s.type === STANZA_P256) checkP256Stanza(s, i);
    else if (s.type === STANZA_LOCK) checkLockStanza(s, i);
    else if (s.type === STANZA_TPM2_RSA) checkTpm2RsaStanza(s, i);
  });
  checkGuardianKeys(header); // SPEC.md §9 check 18a: a threshold capsule's guardian keys
}
