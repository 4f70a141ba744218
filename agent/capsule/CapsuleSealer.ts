/**
 * Push encoder for one capsule: builds the header (stanzas, optional owner signature) and seals the
 * payload chunk by chunk with STREAM (SPEC.md §4–§7).
 *
 * The header must name the payload's size and digest before the first chunk, so use is:
 * `payloadDigest()` (feed it the plaintext) → `begin(size, digest)` → `push()`… → `end()`.
 * Single-use; the file key is wiped once the payload key and stanzas exist. With a `lock` (a
 * zymbit-lock stanza) or a `guardian` signer, whose module calls are asynchronous, use `start()`
 * instead of `begin()`. Deliberately not here: getting size and digest out of a stream (seal.ts)
 * and I/O.
 */
import { randomBytes } from 'node:crypto';
import { CapsuleFormatError } from '../errors.ts';
import { signAsGuardian, type HeaderSigner } from '../crypto/guardianSignature.ts';
import { ownerPublicKey, signWithOwner, type Identity } from '../crypto/identity.ts';
import { wrapLock, type Locker } from '../crypto/lockStanza.ts';
import { isP256Point } from '../crypto/p256.ts';
import { parseAnyRecipient, wrapTo } from '../crypto/recipients.ts';
import { checkSealSet, setHash, shareCommitment, splitFileKey, type SplitShare } from './shares.ts';
import { deriveCommitmentSalt, derivePayloadKey, sha256 } from '../crypto/kdf.ts';
import { wipe } from '../crypto/secrets.ts';
import { StreamSealer } from '../crypto/StreamCipher.ts';
import {
  CAPSULE_ID_SIZE,
  CHUNK_SIZE,
  CIPHER_AES_256_GCM_STREAM,
  FILE_KEY_SIZE,
  FORMAT_VERSION,
  MAX_HEADER_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STANZAS,
} from '../format/constants.ts';
import { decodeHeader, encodeHeader, signedMessage, type CapsuleHeader, type DigestAlg, type LogicRef, type Stanza } from '../format/header.ts';
import { encodePreamble } from '../format/preamble.ts';
import { digestAlgOf, isSalted, PayloadDigest, type DigestName } from './PayloadDigest.ts';

/**
 * The payload commitment of new capsules unless `SealOptions.digest` says otherwise:
 * 'chunked-sha256', which seals and decrypts big files on several threads.
 */
export const DEFAULT_DIGEST: DigestName = 'chunked-sha256';

/**
 * What goes into a capsule: its recipients (who can unwrap the file key), its unlock logic, and
 * optionally an owner signature, a payload commitment, a creation time and extension fields.
 * `lock`, `guardian` and `random` are for the guardian and the test vectors, not for library users.
 */
export interface SealOptions {
  /**
   * Recipients: `age1…` gets an x25519 stanza, `capsule-ecdh1…` a p256-ecdh stanza, `capsule-tpm1…`
   * a tpm2-rsa stanza. At least one, unless `lock` is given.
   */
  recipients: string[];
  /** The guardian's module: adds a zymbit-lock stanza (only that module can open it). Needs start(). */
  lock?: Locker;
  /**
   * m of a guardian set (SPEC.md §5.6): the recipients (and `lock`, named by `guardian`'s key) become
   * n = 2..16 guardians, each stanza wrapping its Shamir share of the file key, and any m of their
   * shares open the capsule. Absent: every stanza wraps the file key itself (today's format). Needs start().
   */
  threshold?: number;
  /** The guardian's slot key: signs the header (keys 9 and 10). Needs start(). */
  guardian?: HeaderSigner;
  /** The unlock logic: SHA-256 of the module (or the module bytes), optional binary CID and CBOR params. */
  logic: LogicRef;
  /** Signs the header as owner (Ed25519 key derived from this identity). */
  owner?: Identity;
  /**
   * The payload commitment (SPEC.md §6.4). 'chunked-sha256' (default) hashes chunk by chunk, so
   * sealing and decrypting can hash on several threads; the salted forms do not reveal guessable
   * payloads (SPEC.md §11.2); 'sha256' is the single-stream hash of earlier capsules.
   */
  digest?: DigestName;
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

/**
 * Push encoder for one capsule, for callers doing their own I/O (`seal()` wraps it). Single-use:
 * `payloadDigest()` (feed it the whole plaintext) → `begin(size, digest)` (or `start()` with
 * `lock`/`guardian`) → `push()`… → `end()`; concatenate every returned piece, in order.
 * @throws TypeError / RangeError / KeyError ERR_BAD_RECIPIENT from the constructor for malformed
 *   options (as `seal()`); CapsuleFormatError ERR_PAYLOAD_SIZE from push()/end() when the
 *   plaintext is longer or shorter than `begin()` announced.
 * @example
 * ```js
 * import { CapsuleSealer } from 'digital-capsule-engine/capsule';
 * const sealer = new CapsuleSealer({ recipients: [recipient], logic: { hash: moduleSha256 } });
 * const digest = sealer.payloadDigest().update(plain).digest();
 * const pieces = [sealer.begin(plain.length, digest), ...sealer.push(plain), ...sealer.end()];
 * const capsule = Buffer.concat(pieces);
 * ```
 */
export class CapsuleSealer {
  readonly #opts: SealOptions;
  readonly #random: (n: number) => Uint8Array;
  readonly #id: Uint8Array;
  #fileKey: Uint8Array | undefined;
  #prefix: Uint8Array;
  readonly #digestAlg: DigestAlg;
  #stream: StreamSealer | undefined;
  #size = 0;
  #seen = 0;
  #pending: Buffer;
  #fill = 0;
  #header: CapsuleHeader | undefined;
  #started_ = false;
  #detached = false;
  #detachedKeys: { payloadKey: Uint8Array; headerHash: Uint8Array } | undefined;

  /**
   * Draws the capsule id and file key (from the CSPRNG unless `options.random`).
   * @param options - The capsule's content (SealOptions); checked here.
   * @throws TypeError / RangeError / KeyError ERR_BAD_RECIPIENT when options are malformed.
   */
  constructor(options: SealOptions) {
    validate(options);
    this.#opts = options;
    this.#random = options.random ?? ((n) => randomBytes(n));
    this.#id = Uint8Array.from(this.#random(CAPSULE_ID_SIZE));
    const drawn = this.#random(FILE_KEY_SIZE);
    this.#fileKey = Uint8Array.from(drawn);
    drawn.fill(0);
    this.#digestAlg = digestAlgOf(options.digest ?? DEFAULT_DIGEST)!;
    this.#prefix = isSalted(this.#digestAlg) ? deriveCommitmentSalt(this.#fileKey, this.#id) : new Uint8Array(0);
    this.#pending = Buffer.alloc(CHUNK_SIZE);
  }

  /** The new capsule's 16-byte id (header.id), known from construction. */
  get id(): Uint8Array {
    return this.#id;
  }

  /** The header written by `begin()`/`start()`; undefined before. */
  get header(): CapsuleHeader | undefined {
    return this.#header;
  }

  /** A fresh digest of the chosen algorithm: feed it the plaintext to obtain what `begin()` wants. */
  payloadDigest(): PayloadDigest {
    return new PayloadDigest(this.#digestAlg, this.#prefix);
  }

  /** The chosen `payload.digest_alg`, and its salt (empty unless salted; do not modify it). */
  get digestParams(): { alg: DigestAlg; salt: Uint8Array } {
    return { alg: this.#digestAlg, salt: this.#prefix };
  }

  /**
   * Fixes size and digest; returns preamble ‖ header (the capsule's first bytes). For `lock` or
   * `guardian`, use start(). Wipes the file key: the payload key and stanzas now exist.
   * @param size - The plaintext's exact length in bytes.
   * @param digest - `payloadDigest()`'s result over that plaintext.
   * @returns preamble ‖ header.
   * @throws RangeError / TypeError for a bad size or digest; Error when called twice or with lock/guardian.
   */
  begin(size: number, digest: Uint8Array): Uint8Array {
    if (this.#opts.lock || this.#opts.guardian || this.#opts.threshold !== undefined) {
      throw new Error('CapsuleSealer: options lock, guardian and threshold need start() (module calls and share splitting are asynchronous)');
    }
    const header = this.#draft(size, digest);
    try {
      if (this.#opts.owner) header.signature = signWithOwner(this.#opts.owner, signedMessage(header));
      return this.#emit(header);
    } finally {
      this.#wipeKeys();
    }
  }

  /**
   * begin(), with the module's stanza and signature (asynchronous module calls).
   * @param size - The plaintext's exact length in bytes.
   * @param digest - `payloadDigest()`'s result over that plaintext.
   * @returns preamble ‖ header.
   * @throws as begin(), and the Locker's or HeaderSigner's errors (KeyStoreError).
   */
  async start(size: number, digest: Uint8Array): Promise<Uint8Array> {
    const o = this.#opts;
    const header = o.threshold === undefined ? this.#draft(size, digest) : await this.#draftSet(size, digest, o.threshold);
    try {
      if (o.lock && o.threshold === undefined) header.stanzas.push(await wrapLock(this.#fileKey!, this.#id, o.lock));
      if (o.owner) header.signature = signWithOwner(o.owner, signedMessage(header));
      if (o.guardian) header.guardianSignature = await signAsGuardian(header, o.guardian);
      return this.#emit(header);
    } finally {
      this.#wipeKeys();
    }
  }

  /**
   * start(), for a caller that seals the chunks elsewhere (on threads, parallelBulk.ts): returns
   * preamble ‖ header and the STREAM parameters. The caller owns `payloadKey` and MUST wipe it;
   * push() and end() are unusable afterwards.
   */
  async startDetached(size: number, digest: Uint8Array): Promise<{ head: Uint8Array; payloadKey: Uint8Array; headerHash: Uint8Array }> {
    this.#detached = true;
    const head = await this.start(size, digest);
    const keys = this.#detachedKeys!;
    this.#detachedKeys = undefined;
    return { head, ...keys };
  }

  /**
   * A threshold header: the file key split into n shares (the Shamir library), stanza i wrapping
   * share i (the lock's last), the set, then the commitments over the header without them.
   */
  async #draftSet(size: number, digest: Uint8Array, m: number): Promise<CapsuleHeader> {
    const o = this.#opts;
    const header = this.#draft(size, digest, []);
    const recipients = o.recipients.map(parseAnyRecipient);
    const n = recipients.length + (o.lock ? 1 : 0);
    let parts: SplitShare[] = [];
    try {
      parts = await splitFileKey(this.#fileKey!, n, m);
      header.stanzas = recipients.map((r, i) => wrapTo(r, parts[i]!.share, this.#id, o.random ? this.#random : undefined));
      const keys = recipients.map((r) => r.key);
      if (o.lock) {
        header.stanzas.push(await wrapLock(parts[n - 1]!.share, this.#id, o.lock));
        keys.push(o.guardian!.publicKey);
      }
      header.guardianSet = {
        threshold: m,
        guardians: parts.map((p, i) => ({ x: p.x, key: Uint8Array.from(keys[i]!), extensions: new Map() })),
        extensions: new Map(),
      };
      const hash = setHash(header);
      header.shareCommitments = parts.map((p, i) => shareCommitment(header, i, p.share, hash));
      return header;
    } catch (e) {
      this.#wipeKeys();
      throw e;
    } finally {
      wipe(...parts.map((p) => p.share));
    }
  }

  #draft(size: number, digest: Uint8Array, stanzas?: Stanza[]): CapsuleHeader {
    if (!this.#fileKey || this.#started_) throw new Error('CapsuleSealer: begin()/start() called twice (single-use object)');
    this.#started_ = true;
    if (!Number.isSafeInteger(size) || size < 0 || size > MAX_PAYLOAD_SIZE) {
      this.#wipeKeys();
      throw new RangeError(`size: expected an integer in 0..2^53-1, got ${size}`);
    }
    if (!(digest instanceof Uint8Array) || digest.length !== 32) {
      this.#wipeKeys();
      throw new TypeError('digest: expected a 32-byte SHA-256');
    }
    const o = this.#opts;
    const fileKey = this.#fileKey;
    try {
      return {
        version: FORMAT_VERSION,
        id: this.#id,
        created: Math.floor((o.created ?? new Date()).getTime() / 1000),
        owner: o.owner ? ownerPublicKey(o.owner) : undefined,
        guardian: o.guardian ? Uint8Array.from(o.guardian.publicKey) : undefined,
        logic: o.logic,
        payload: {
          size,
          chunkSize: CHUNK_SIZE,
          cipher: CIPHER_AES_256_GCM_STREAM,
          digestAlg: this.#digestAlg,
          digest: Uint8Array.from(digest),
        },
        stanzas: stanzas ?? o.recipients.map((r) => wrapTo(parseAnyRecipient(r), fileKey, this.#id, o.random ? this.#random : undefined)),
        extensions: o.extensions ?? new Map(),
      };
    } catch (e) {
      this.#wipeKeys();
      throw e;
    }
  }

  #emit(header: CapsuleHeader): Uint8Array {
    let payloadKey: Uint8Array | undefined;
    try {
      const body = encodeHeader(header);
      if (body.length > MAX_HEADER_SIZE) {
        throw new RangeError(`header: encodes to ${body.length} bytes, above the ${MAX_HEADER_SIZE}-byte cap (fewer recipients or smaller params)`);
      }
      // Self-check: what we write must pass our own reader (catches bad params, CIDs, extensions).
      decodeHeader(body);
      const out = new Uint8Array(16 + body.length);
      out.set(encodePreamble(body.length), 0);
      out.set(body, 16);
      payloadKey = derivePayloadKey(this.#fileKey!, this.#id);
      if (this.#detached) {
        this.#detachedKeys = { payloadKey: Uint8Array.from(payloadKey), headerHash: sha256(out) };
      } else {
        this.#stream = new StreamSealer(payloadKey, sha256(out));
      }
      this.#header = header;
      this.#size = header.payload.size;
      return out;
    } finally {
      wipe(payloadKey);
    }
  }

  #wipeKeys(): void {
    wipe(this.#fileKey, this.#prefix);
    this.#fileKey = undefined;
  }

  /**
   * Seals whatever full chunks `plain` completes; returns ciphertexts and tags as separate pieces
   * (concatenate them in order). The caller may reuse `plain` afterwards.
   * @param plain - The next plaintext bytes, in order, in pieces of any size.
   * @returns Sealed pieces (possibly none: the last chunk is held back until `end()`).
   * @throws CapsuleFormatError ERR_PAYLOAD_SIZE past the announced size; Error before begin().
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

  /**
   * Seals the final chunk.
   * @returns The last sealed pieces.
   * @throws CapsuleFormatError ERR_PAYLOAD_SIZE if fewer bytes came than `begin()` announced.
   */
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
    return new CapsuleFormatError(
      'ERR_PAYLOAD_SIZE',
      `payload: header announced ${this.#size} bytes, input ${got > this.#size ? 'exceeded that' : `ended at ${got}`}`,
    );
  }
}

function validate(o: SealOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options: expected an object');
  if (!Array.isArray(o.recipients) || (o.recipients.length === 0 && !o.lock)) {
    throw new TypeError(
      `options.recipients: expected at least one age1…, capsule-ecdh1… or capsule-tpm1… recipient (or a lock), got ${Array.isArray(o.recipients) ? 'none' : typeof o.recipients}`,
    );
  }
  const stanzas = o.recipients.length + (o.lock ? 1 : 0);
  if (stanzas > MAX_STANZAS) {
    throw new RangeError(`options.recipients: expected at most ${MAX_STANZAS} stanzas in all, got ${stanzas}`);
  }
  const parsed = o.recipients.map(parseAnyRecipient);
  if (o.threshold !== undefined) checkSealSet(o.threshold, parsed, o.lock !== undefined, o.guardian !== undefined);
  if (o.lock !== undefined && (typeof o.lock.lock !== 'function' || typeof o.lock.unlock !== 'function')) {
    throw new TypeError('options.lock: expected a Locker (lock(), unlock())');
  }
  if (
    o.guardian !== undefined &&
    (!(o.guardian.publicKey instanceof Uint8Array) || !isP256Point(o.guardian.publicKey) || typeof o.guardian.sign !== 'function')
  ) {
    throw new TypeError('options.guardian: expected { publicKey: 33-byte compressed P-256, sign(digest) }');
  }
  if (!(o.logic?.hash instanceof Uint8Array) || o.logic.hash.length !== 32) {
    throw new TypeError('options.logic.hash: expected the 32-byte SHA-256 of the logic module');
  }
  if (o.digest !== undefined && digestAlgOf(o.digest) === undefined) {
    throw new TypeError(`options.digest: expected 'chunked-sha256', 'salted-chunked-sha256', 'sha256' or 'salted-sha256', got ${JSON.stringify(o.digest)}`);
  }
  if (o.created !== undefined && (!(o.created instanceof Date) || Number.isNaN(o.created.getTime()) || o.created.getTime() < 0)) {
    throw new TypeError('options.created: expected a valid Date after 1970');
  }
  for (const k of o.extensions?.keys() ?? []) {
    if (!Number.isInteger(k) || k >= 0) throw new RangeError(`options.extensions: keys must be negative integers, got ${k}`);
  }
}
