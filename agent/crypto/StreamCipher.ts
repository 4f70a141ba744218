/**
 * age's STREAM construction over AES-256-GCM (SPEC.md §6): one sealer or opener per payload.
 *
 * Nonce = 11-byte big-endian chunk counter ‖ last-chunk flag; associated data = header hash.
 * Objects are single-use: chunks must come in order, nothing is accepted after the last chunk, and
 * an opener that saw one failure refuses everything after it (sticky). The key copy held here is
 * wiped on the last chunk or on failure. Deliberately not here: chunk framing (CapsuleReader.ts).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CapsuleFormatError } from '../errors.ts';
import { CHUNK_SIZE, TAG_SIZE } from '../format/constants.ts';
import { wipe } from './secrets.ts';

const MAX_COUNTER = 2 ** 53; // far below 2^88; keeps the counter an exact JS number

abstract class StreamBase {
  protected key: Uint8Array;
  protected readonly aad: Uint8Array;
  protected counter = 0;
  protected done = false;
  private readonly nonce = Buffer.alloc(12);

  /**
   * `firstChunk` lets a thread that seals or opens one range of a payload (parallelBulk.ts) start
   * at that range's chunk index; chunks must still come in order from there.
   */
  constructor(payloadKey: Uint8Array, aad: Uint8Array, firstChunk = 0) {
    if (!(payloadKey instanceof Uint8Array) || payloadKey.length !== 32) {
      throw new TypeError(`payloadKey: expected a 32-byte Uint8Array, got ${describe(payloadKey)}`);
    }
    if (!(aad instanceof Uint8Array) || aad.length !== 32) {
      throw new TypeError(`aad: expected the 32-byte header hash, got ${describe(aad)}`);
    }
    if (!Number.isSafeInteger(firstChunk) || firstChunk < 0 || firstChunk >= MAX_COUNTER) {
      throw new RangeError(`firstChunk: expected an integer in 0..2^53-1, got ${firstChunk}`);
    }
    this.key = Uint8Array.from(payloadKey);
    this.aad = Uint8Array.from(aad);
    this.counter = firstChunk;
  }

  /** Next nonce; advances the counter. */
  protected nextNonce(last: boolean): Buffer {
    if (this.done) throw new Error('stream cipher: already finished (single-use object)');
    if (this.counter >= MAX_COUNTER) throw new RangeError('stream cipher: chunk counter exhausted');
    const n = this.nonce;
    n.fill(0);
    // 11-byte big-endian counter: the high 4 bytes are 0 for any counter below 2^53 except bits 32..52.
    n.writeUIntBE(Math.floor(this.counter / 2 ** 32), 1, 6);
    n.writeUInt32BE(this.counter % 2 ** 32, 7);
    n[11] = last ? 1 : 0;
    this.counter++;
    return n;
  }

  protected finish(): void {
    this.done = true;
    wipe(this.key);
  }

  /** Ends the stream early (truncated input, consumer gone): wipes the key; no further use. */
  dispose(): void {
    this.finish();
  }

  get finished(): boolean {
    return this.done;
  }
}

export class StreamSealer extends StreamBase {
  /** Encrypts the next chunk; returns ciphertext ‖ tag. Non-last chunks must be exactly 64 KiB. */
  sealChunk(plain: Uint8Array, last: boolean): Buffer {
    const [ct, tag] = this.sealChunkParts(plain, last);
    return Buffer.concat([ct, tag], ct.length + TAG_SIZE);
  }

  /** As sealChunk, as [ciphertext, tag]: saves a 64 KiB copy per chunk for writers that gather. */
  sealChunkParts(plain: Uint8Array, last: boolean): [Buffer, Buffer] {
    if (!last && plain.length !== CHUNK_SIZE) {
      throw new RangeError(`plain: a non-final chunk must be ${CHUNK_SIZE} bytes, got ${plain.length}`);
    }
    if (last && plain.length > CHUNK_SIZE) {
      throw new RangeError(`plain: the final chunk must be at most ${CHUNK_SIZE} bytes, got ${plain.length}`);
    }
    if (last && plain.length === 0 && this.counter > 0) {
      throw new RangeError('plain: the final chunk may be empty only when the whole payload is empty');
    }
    const c = createCipheriv('aes-256-gcm', this.key, this.nextNonce(last));
    c.setAAD(this.aad);
    const ct = c.update(plain);
    c.final();
    const tag = c.getAuthTag();
    if (last) this.finish();
    return [ct, tag];
  }
}

export class StreamOpener extends StreamBase {
  private failed: CapsuleFormatError | undefined;

  /** Decrypts and authenticates the next chunk (ciphertext ‖ tag). Throws ERR_CHUNK_AUTH on failure. */
  openChunk(sealed: Uint8Array, last: boolean): Buffer {
    if (this.failed) throw this.failed;
    if (sealed.length < TAG_SIZE || sealed.length > CHUNK_SIZE + TAG_SIZE) {
      throw new RangeError(`sealed: expected ${TAG_SIZE}..${CHUNK_SIZE + TAG_SIZE} bytes, got ${sealed.length}`);
    }
    const index = this.counter;
    const d = createDecipheriv('aes-256-gcm', this.key, this.nextNonce(last));
    d.setAAD(this.aad);
    d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
    const plain = d.update(sealed.subarray(0, sealed.length - TAG_SIZE));
    try {
      d.final();
    } catch (cause) {
      plain.fill(0); // unauthenticated plaintext never leaves this function
      this.failed = new CapsuleFormatError(
        'ERR_CHUNK_AUTH',
        `payload chunk ${index}${last ? ' (final)' : ''}: authentication failed (tampered, reordered, truncated, or header changed)`,
        { cause },
      );
      this.finish();
      throw this.failed;
    }
    if (last) this.finish();
    return plain;
  }
}

function describe(v: unknown): string {
  return v instanceof Uint8Array ? `${v.length} bytes` : typeof v;
}
