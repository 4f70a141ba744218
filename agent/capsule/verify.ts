/**
 * `verify()`: everything about a capsule that can be checked offline, with no key — preamble,
 * deterministic header, owner and guardian signatures, stanza well-formedness, chunk layout and exact
 * total length, given the module the unlock logic's SHA-256, and given a guardian's published key
 * that this guardian signed the header.
 *
 * A regular file's length comes from stat(), so verifying a large capsule does not read its payload.
 * Deliberately not here: payload authenticity (needs the key: decrypt) and logic evaluation.
 */
import { CapsuleFormatError } from '../errors.ts';
import { sha256 } from '../crypto/kdf.ts';
import { constantTimeEqual } from '../crypto/secrets.ts';
import { encodeP256Key, GUARDIAN_KEY_HRP } from '../crypto/p256.ts';
import { bytesOf, fileSize, isPath, type ByteSource } from '../io/sources.ts';
import { CapsuleReader, type ParsedHeader } from './CapsuleReader.ts';
import { readHeader } from './inspect.ts';
import { describeGuardianSet, type GuardianInfo } from './shares.ts';

/** What `verify()` may check beyond the capsule itself. */
export interface VerifyOptions {
  /** The Wasm module's bytes: checked against header.logic.hash. */
  logic?: Uint8Array;
  /** A guardian's signing key (33-byte compressed P-256, `capsule-guardian1…` decoded): the header must carry its signature. */
  guardianKey?: Uint8Array;
  /** Aborts the read. */
  signal?: AbortSignal;
}

/** The result of a successful `verify()`. */
export interface VerifyReport {
  /** The checked header. */
  parsed: ParsedHeader;
  /** What was checked, one human-readable line each (what `capsule verify` prints). */
  checks: string[];
  /** A threshold capsule's guardian set (m, and each guardian's stanza type and recipient); absent otherwise. */
  guardianSet?: { threshold: number; guardians: GuardianInfo[] };
}

/**
 * Checks everything about a capsule that needs no key: preamble, deterministic header, owner and
 * guardian signatures, stanza well-formedness, chunk layout and exact total length; given the
 * module, the logic's SHA-256; given a guardian key, that this guardian signed the header. A file's
 * length comes from stat(), so its payload is not read. Payload authenticity needs the key (decrypt).
 * @param capsule - The capsule: bytes, an (async) iterable of byte pieces, or `{ path }` of a file.
 * @param options - logic module bytes, guardianKey, signal.
 * @returns The parsed header and the list of checks that passed.
 * @throws CapsuleFormatError ERR_TRUNCATED, ERR_TRAILING_DATA, ERR_BAD_SIGNATURE, ERR_LOGIC_HASH_MISMATCH,
 *   ERR_MALFORMED_HEADER, ERR_BAD_MAGIC, … (the first failure); IoError when the capsule cannot be read.
 * @example
 * ```js
 * import { verify } from 'digital-capsule-engine';
 * const { checks } = await verify({ path: 'secret.capsule' }, { logic: await readFile('policy.wasm') });
 * ```
 */
export async function verify(capsule: ByteSource, options: VerifyOptions = {}): Promise<VerifyReport> {
  let parsed: ParsedHeader;
  const checks: string[] = [];
  const size = isPath(capsule) ? await fileSize(capsule) : undefined;
  if (size !== undefined) {
    parsed = await readHeader(capsule, options.signal);
    if (size < parsed.totalLength) {
      throw new CapsuleFormatError('ERR_TRUNCATED', `file is ${size} bytes, but its header implies ${parsed.totalLength}`);
    }
    if (size > parsed.totalLength) {
      throw new CapsuleFormatError(
        'ERR_TRAILING_DATA',
        `file is ${size} bytes, but its header implies ${parsed.totalLength} (${size - parsed.totalLength} extra)`,
      );
    }
  } else {
    const reader = new CapsuleReader();
    for await (const piece of bytesOf(capsule, options.signal)) reader.push(piece);
    reader.end();
    parsed = reader.parsed!;
  }
  const h = parsed.header;
  checks.push('preamble', 'header is deterministic CBOR', 'header fields');
  checks.push(h.signature ? 'owner signature (Ed25519)' : 'unsigned (no owner signature)');
  if (h.guardian) checks.push('guardian signature (ECDSA P-256, low S)');
  if (options.guardianKey) {
    if (!h.guardian) {
      throw new CapsuleFormatError(
        'ERR_BAD_SIGNATURE',
        'header.guardian: absent, but a guardian key was given: this capsule was not sealed (signed) by a guardian',
        {
          hint: 'it was sealed off the device; only capsules sealed with `capsule seal --on-guardian` carry a guardian signature',
        },
      );
    }
    if (!constantTimeEqual(h.guardian, options.guardianKey)) {
      throw new CapsuleFormatError(
        'ERR_BAD_SIGNATURE',
        `header.guardian: signed by ${encodeP256Key(GUARDIAN_KEY_HRP, h.guardian)}, not by the given guardian key`,
        {
          hint: 'another guardian sealed it: compare with the signing-key line of `capsule guardian show` on the guardian you expect',
        },
      );
    }
    checks.push('signed by the given guardian key');
  }
  checks.push(`${h.stanzas.length} key stanza(s) well-formed`);
  const set = describeGuardianSet(h);
  if (set) {
    // Only shapes and keys can be checked offline: the commitments need the shares (combineShares).
    checks.push(`guardian set: ${set.threshold}-of-${set.guardians.length}, one share commitment per guardian`);
    for (const g of set.guardians) checks.push(`guardian ${g.index}: ${g.type} ${g.recipient}`);
  }
  checks.push(`length ${parsed.totalLength} bytes = header + ${h.payload.size} payload bytes in chunks`);
  if (options.logic) {
    const got = sha256(options.logic);
    if (!constantTimeEqual(got, h.logic.hash)) {
      throw new CapsuleFormatError(
        'ERR_LOGIC_HASH_MISMATCH',
        `logic: module SHA-256 is ${Buffer.from(got).toString('hex')}, capsule names ${Buffer.from(h.logic.hash).toString('hex')}`,
      );
    }
    checks.push('logic module SHA-256 matches');
  }
  return set ? { parsed, checks, guardianSet: set } : { parsed, checks };
}
