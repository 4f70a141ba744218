/**
 * Typed errors for the whole agent: a stable `name` per family and a stable `code` per cause.
 *
 * Callers and tests branch on `code` (never on message text); messages name the argument, what was
 * expected and what came. Underlying errors are chained through `cause`, never concatenated.
 * Deliberately not here: localisation, and HTTP status mapping (the daemon owns that).
 */

/**
 * Codes of CapsuleFormatError: what is wrong with a capsule's bytes (SPEC.md §9 lists which check
 * raises which). Each has a default hint (`error.hint`) saying what to do.
 */
export type CapsuleErrorCode =
  | 'ERR_BAD_MAGIC'
  | 'ERR_UNSUPPORTED_VERSION'
  | 'ERR_RESERVED_FLAGS'
  | 'ERR_HEADER_TOO_LARGE'
  | 'ERR_TRUNCATED'
  | 'ERR_MALFORMED_HEADER'
  | 'ERR_NON_CANONICAL_HEADER'
  | 'ERR_UNKNOWN_CRITICAL_FIELD'
  | 'ERR_UNSUPPORTED_CIPHER'
  | 'ERR_BAD_STANZA'
  | 'ERR_BAD_SIGNATURE'
  | 'ERR_NO_MATCHING_STANZA'
  | 'ERR_CHUNK_AUTH'
  | 'ERR_TRAILING_DATA'
  | 'ERR_PAYLOAD_DIGEST'
  | 'ERR_LOGIC_HASH_MISMATCH'
  | 'ERR_PAYLOAD_SIZE';

/** Codes of KeyError: a bad identity file or line, a bad recipient, no identity, bad BIP39 words, a key locked by another module. */
export type KeyErrorCode = 'ERR_BAD_IDENTITY' | 'ERR_BAD_RECIPIENT' | 'ERR_NO_IDENTITY' | 'ERR_BAD_MNEMONIC' | 'ERR_LOCKED_ELSEWHERE';
export type UsageErrorCode = 'ERR_USAGE' | 'ERR_BAD_PARAMS' | 'ERR_REFUSE_TTY' | 'ERR_OUTPUT_EXISTS';
/** Codes of IoError: ERR_NOT_FOUND for a missing file, ERR_IO for any other read or write failure (the cause is chained). */
export type IoErrorCode = 'ERR_IO' | 'ERR_NOT_FOUND';
/**
 * ERR_TPM_AUTH: the TPM refused the key's authValue (it counts toward dictionary-attack lockout);
 * ERR_TPM_LOCKOUT: the TPM is in dictionary-attack lockout and refuses authorised use until it
 * recovers; ERR_TPM_POLICY: the PCRs no longer match the policy a blob was sealed under;
 * ERR_KEYSTORE_FILE: a key store's file (tpm2-keystore.json, its auth file) is missing, unreadable
 * or malformed (the custodian itself may be fine).
 */
export type KeyStoreErrorCode =
  | 'ERR_MODULE_ABSENT'
  | 'ERR_MODULE_CALL'
  | 'ERR_LOCK_INTEGRITY'
  | 'ERR_UNSUPPORTED_BY_MODEL'
  | 'ERR_TPM_AUTH'
  | 'ERR_TPM_LOCKOUT'
  | 'ERR_TPM_POLICY'
  | 'ERR_KEYSTORE_FILE';
export type WalletErrorCode = 'ERR_NO_WALLET' | 'ERR_WALLET_EXISTS' | 'ERR_BAD_WALLET_NAME' | 'ERR_BAD_WALLET_PATH' | 'ERR_PATH_OUTSIDE_WALLET';
/** Codes of WalletRequestError (agent/wallet): a signing request the guardian will not decode or sign. */
export type WalletRequestErrorCode =
  | 'ERR_BAD_SIGN_REQUEST'
  | 'ERR_UNKNOWN_KIND'
  | 'ERR_BAD_TRANSACTION'
  | 'ERR_UNSUPPORTED_TRANSACTION'
  | 'ERR_WRONG_CHAIN'
  | 'ERR_WRONG_ACCOUNT'
  | 'ERR_BAD_TYPED_DATA'
  | 'ERR_BAD_MESSAGE'
  | 'ERR_BAD_PSBT'
  | 'ERR_NOTHING_TO_SIGN'
  | 'ERR_BAD_DIGEST'
  | 'ERR_RAW_DIGEST_NOT_ALLOWED'
  | 'ERR_UNSUPPORTED_BY_MODEL'
  | 'ERR_BAD_ACCOUNT'
  | 'ERR_SIGNER_FAULT';
export type GuardianErrorCode =
  | 'ERR_NO_GUARDIAN'
  | 'ERR_GUARDIAN_EXISTS'
  | 'ERR_GUARDIAN_MISMATCH'
  | 'ERR_NOT_CONFIRMED'
  | 'ERR_PROVISIONING'
  | 'ERR_ISOLATION';
/**
 * Codes of AgentError: a guardian's refusals as its HTTP API answers them (ERR_DENIED with the
 * logic's reason, ERR_BAD_REQUEST, ERR_RATE_LIMITED, …, see docs/API.md) and the client's own
 * (ERR_UNREACHABLE, ERR_PROTOCOL, ERR_CONFIG for a bad URL).
 */
export type AgentErrorCode =
  | 'ERR_BAD_REQUEST'
  | 'ERR_TOO_LARGE'
  | 'ERR_NOT_FOUND'
  | 'ERR_DENIED'
  | 'ERR_REPLAYED'
  | 'ERR_HEADER_MISMATCH'
  | 'ERR_RATE_LIMITED'
  | 'ERR_UNAVAILABLE'
  | 'ERR_AUDIT'
  | 'ERR_CONFIG'
  | 'ERR_UNREACHABLE'
  | 'ERR_PROTOCOL'
  | 'ERR_QUOTA'
  | 'ERR_AMBIGUOUS_ID'
  | 'ERR_DISK_FULL'
  | 'ERR_UNAUTHENTICATED'
  | 'ERR_FORBIDDEN'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_MISDIRECTED';
export type ContentErrorCode =
  | 'ERR_BAD_CID'
  | 'ERR_CONTENT_TOO_LARGE'
  | 'ERR_CID_MISMATCH'
  | 'ERR_BAD_DAG'
  | 'ERR_CONTENT_UNAVAILABLE'
  | 'ERR_IPFS_UNREACHABLE'
  | 'ERR_IPFS'
  | 'ERR_BAD_ANNOUNCEMENT';
export type StoreErrorCode = 'ERR_STORE_FULL' | 'ERR_STORE_BUSY' | 'ERR_STORE';
/** Codes of ImageError (agent/device, docs/IMAGES.md): an image manifest or OCI archive refused, or the engine failed. */
export type ImageErrorCode =
  | 'ERR_BAD_IMAGE_MANIFEST'
  | 'ERR_IMAGE_SIGNATURE'
  | 'ERR_IMAGE_REPLAYED'
  | 'ERR_NOT_PINNED'
  | 'ERR_BAD_ARCHIVE'
  | 'ERR_ARCHIVE_TRUNCATED'
  | 'ERR_ARCHIVE_PATH'
  | 'ERR_ARCHIVE_TOO_LARGE'
  | 'ERR_ARCHIVE_EXTRA'
  | 'ERR_BLOB_MISMATCH'
  | 'ERR_BLOB_MISSING'
  | 'ERR_IMAGE_NOT_LISTED'
  | 'ERR_ENGINE_MISSING'
  | 'ERR_ENGINE';
/**
 * Codes of DeviceError (agent/device/luks*.ts): the root disk's LUKS2 binding to the module or TPM.
 * ERR_LUKS cryptsetup failed or the target is not LUKS2; ERR_LUKS_TOKEN no usable capsule token (absent,
 * malformed, no binding this build knows); ERR_LUKS_TOKEN_VERSION a token version this build does not
 * know; ERR_LUKS_ENROLLED the device is already bound; ERR_LOCK_INTEGRITY the lock blob does not match
 * the token's hash, fails the module's MAC (or the TPM's checks), or is not a LUKS key for this device;
 * ERR_WRONG_MODULE the blob was locked by another module (or sealed by another TPM); ERR_NO_MODULE no
 * module (or TPM) answered; ERR_PCR_MISMATCH the TPM refused to unseal because the PCRs the key was
 * sealed to no longer hold the values they had at enrolment; ERR_UNSAFE_TCTI the TCTI recorded in
 * guardian.json (written by the agent's user) is of a kind that can load or run code, which root
 * does not take from a record.
 */
export type DeviceErrorCode =
  | 'ERR_LUKS'
  | 'ERR_LUKS_TOKEN'
  | 'ERR_LUKS_TOKEN_VERSION'
  | 'ERR_LUKS_ENROLLED'
  | 'ERR_LOCK_INTEGRITY'
  | 'ERR_WRONG_MODULE'
  | 'ERR_NO_MODULE'
  | 'ERR_PCR_MISMATCH'
  | 'ERR_UNSAFE_TCTI';
export type AuditErrorCode =
  | 'ERR_AUDIT_FORMAT'
  | 'ERR_AUDIT_CHAIN'
  | 'ERR_AUDIT_SIGNATURE'
  | 'ERR_AUDIT_REPLAY'
  | 'ERR_AUDIT_RECEIPT'
  | 'ERR_AUDIT_UNPINNED'
  | 'ERR_ROLLBACK'
  | 'ERR_ANCHOR';
export type SandboxErrorCode =
  | 'ERR_INVALID_MODULE'
  | 'ERR_OUT_OF_FUEL'
  | 'ERR_LIMIT'
  | 'ERR_GUEST_MEMORY'
  | 'ERR_TRAP'
  | 'ERR_BAD_VERDICT'
  | 'ERR_TIMEOUT'
  | 'ERR_SANDBOX';

/** What every typed error may carry besides its code and message. */
export interface DceErrorOptions {
  /** What the user can do about it (a family with default hints fills it in per code). */
  hint?: string;
  /** The underlying error, chained (never concatenated into the message). */
  cause?: unknown;
}
type Options = DceErrorOptions;

/**
 * Base class: everything the library and the agent throw on purpose is one of these, with a stable
 * `name` per family and a stable `code` per cause. Branch on `code`, never on the message.
 * @example
 * ```js
 * import { DceError } from 'digital-capsule-engine';
 * try { await decryptToFile(capsule, ids, out); } catch (e) {
 *   if (e instanceof DceError) console.error(`${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
 *   else throw e;
 * }
 * ```
 */
export class DceError extends Error {
  /** Stable code of the cause, e.g. ERR_CHUNK_AUTH. */
  readonly code: string;
  /** What the user can do about it, when there is something to say. */
  readonly hint: string | undefined;
  /**
   * @param code - The stable code.
   * @param message - Names the argument, what was expected and what came.
   * @param options - `hint`, and `cause` (the underlying error, chained).
   */
  constructor(code: string, message: string, options: Options = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
  }
}

/** An instance of an error family made by errorFamily: a DceError with its family's `name` and codes. */
export interface DceFamilyError<N extends string, C extends string> extends DceError {
  /** The family, e.g. 'KeyError' (stable: tests and callers may branch on it). */
  readonly name: N;
  /** The cause's stable code. */
  readonly code: C;
}

/** An error family's class: `new X(code, message, { hint, cause })`, and `e instanceof X`. */
export interface DceFamily<N extends string, C extends string> {
  /**
   * @param code - The stable code.
   * @param message - Names the argument, what was expected and what came.
   * @param options - `hint` (default: the family's advice for the code, where it has one) and `cause`.
   */
  new (code: C, message: string, options?: DceErrorOptions): DceFamilyError<N, C>;
  readonly prototype: DceFamilyError<N, C>;
}

/**
 * Makes the class of one error family: the families differ only in their name, their codes and
 * (for two of them) default hints per code, so one body serves them all. `hints` is a function
 * because the hint tables are defined further down this file.
 */
function errorFamily<N extends string, C extends string>(name: N, hints?: () => Partial<Record<C, string>>): DceFamily<N, C> {
  const Family = class extends DceError {
    override readonly name: N = name;
    constructor(code: C, message: string, options: Options = {}) {
      super(code, message, { hint: options.hint ?? hints?.()[code], cause: options.cause });
    }
  };
  Object.defineProperty(Family, 'name', { value: name }); // the constructor's name, as a class declaration would have
  return Family as unknown as DceFamily<N, C>;
}

/**
 * The capsule bytes are wrong: malformed, tampered, truncated, or not for this key (codes:
 * CapsuleErrorCode); `hint` defaults to advice for the code.
 * @example
 * ```js
 * import { CapsuleFormatError } from 'digital-capsule-engine';
 * try { await decryptToFile(capsule, ids, out); } catch (e) {
 *   if (e instanceof CapsuleFormatError && e.code === 'ERR_NO_MATCHING_STANZA') console.error('not sealed to this key');
 * }
 * ```
 */
export const CapsuleFormatError: DceFamily<'CapsuleFormatError', CapsuleErrorCode> = errorFamily('CapsuleFormatError', () => FORMAT_HINTS);
/** An instance of CapsuleFormatError (codes: CapsuleErrorCode). */
export type CapsuleFormatError = DceFamilyError<'CapsuleFormatError', CapsuleErrorCode>;

/**
 * An identity or recipient string/file could not be used (codes: KeyErrorCode).
 * @example
 * ```js
 * try { parseRecipient(text); } catch (e) { if (e instanceof KeyError) console.error(e.message, e.hint); }
 * ```
 */
export const KeyError: DceFamily<'KeyError', KeyErrorCode> = errorFamily('KeyError');
/** An instance of KeyError (codes: KeyErrorCode). */
export type KeyError = DceFamilyError<'KeyError', KeyErrorCode>;

/** The caller asked for something malformed (CLI flags, parameters, output targets). */
export const UsageError: DceFamily<'UsageError', UsageErrorCode> = errorFamily('UsageError');
/** An instance of UsageError (codes: UsageErrorCode). */
export type UsageError = DceFamilyError<'UsageError', UsageErrorCode>;

/**
 * A file or stream could not be read or written (codes: IoErrorCode); `cause` holds the system error.
 * @example
 * ```js
 * try { await inspect({ path: 'missing.capsule' }); } catch (e) { if (hasCode(e, 'ERR_NOT_FOUND')) console.error('no such file'); }
 * ```
 */
export const IoError: DceFamily<'IoError', IoErrorCode> = errorFamily('IoError');
/** An instance of IoError (codes: IoErrorCode). */
export type IoError = DceFamilyError<'IoError', IoErrorCode>;

/** The key custodian (security module, simulator, soft store) refused or failed. */
export const KeyStoreError: DceFamily<'KeyStoreError', KeyStoreErrorCode> = errorFamily('KeyStoreError');
/** An instance of KeyStoreError (codes: KeyStoreErrorCode). */
export type KeyStoreError = DceFamilyError<'KeyStoreError', KeyStoreErrorCode>;

/**
 * A wallet request the custodian refuses on purpose: no wallet of that name (ERR_NO_WALLET), the
 * name taken (ERR_WALLET_EXISTS), a malformed name or BIP32 path, or a path the wallet does not
 * serve (ERR_PATH_OUTSIDE_WALLET). Bad words are KeyError ERR_BAD_MNEMONIC; a model without a
 * wallet is KeyStoreError ERR_UNSUPPORTED_BY_MODEL.
 */
export const WalletError: DceFamily<'WalletError', WalletErrorCode> = errorFamily('WalletError');
/** An instance of WalletError (codes: WalletErrorCode). */
export type WalletError = DceFamilyError<'WalletError', WalletErrorCode>;

/**
 * A wallet signing request (agent/wallet) the guardian refuses before anything is signed: malformed
 * (400), well-formed but not signable here (422: wrong chain, not our account, nothing of ours,
 * a model without Schnorr), not allowed (403 raw digests), or a custodian/configuration fault (500).
 * The HTTP status per code is the daemon's (agent/daemon/statusByCode.ts); messages name the field, what was expected and what came.
 */
export const WalletRequestError: DceFamily<'WalletRequestError', WalletRequestErrorCode> = errorFamily('WalletRequestError');
/** An instance of WalletRequestError (codes: WalletRequestErrorCode). */
export type WalletRequestError = DceFamilyError<'WalletRequestError', WalletRequestErrorCode>;

/** The guardian's own state: absent, already there, belonging to another module, not confirmed. */
export const GuardianError: DceFamily<'GuardianError', GuardianErrorCode> = errorFamily('GuardianError');
/** An instance of GuardianError (codes: GuardianErrorCode). */
export type GuardianError = DceFamilyError<'GuardianError', GuardianErrorCode>;

/**
 * The agent or its client: a refused request, a bad configuration, an unreachable guardian (codes:
 * AgentErrorCode). A denial by the capsule's logic is ERR_DENIED (status 403) and carries `reason`
 * and `fuel` properties.
 * @example
 * ```js
 * try { await client.release(prefix, me.recipient, []); } catch (e) {
 *   if (e instanceof AgentError && e.code === 'ERR_DENIED') console.error('the logic said no:', e.reason);
 * }
 * ```
 */
export class AgentError extends DceError {
  override readonly name = 'AgentError';
  /** The cause's stable code. */
  declare readonly code: AgentErrorCode;
  /**
   * The HTTP status of the answer this error stands for, where one is known apart from the code:
   * the status a client received (GuardianClient), or one the agent's HTTP layer answers instead
   * of the code's (405, 501). Undefined for errors the agent's domain throws: the agent answers
   * those with statusOf(code) (agent/daemon/statusByCode.ts).
   */
  readonly status: number | undefined;
  /** Seconds after which the request may succeed (429, 503 overload): sent as `Retry-After`. */
  readonly retryAfter: number | undefined;
  /**
   * @param code - The stable code.
   * @param message - What was refused and why.
   * @param options - hint, cause, `status` (see the property), `retryAfter` (seconds).
   */
  constructor(code: AgentErrorCode, message: string, options: Options & { status?: number; retryAfter?: number } = {}) {
    super(code, message, options);
    this.status = options.status;
    this.retryAfter = options.retryAfter;
  }
}

/** Content addressing (IPFS): a bad CID, content over its cap or not matching its CID, a node unreachable. */
export const ContentError: DceFamily<'ContentError', ContentErrorCode> = errorFamily('ContentError');
/** An instance of ContentError (codes: ContentErrorCode). */
export type ContentError = DceFamilyError<'ContentError', ContentErrorCode>;

/**
 * The agent's own storage (database, module files) failed: full (ERR_STORE_FULL), locked by another
 * process (ERR_STORE_BUSY), or unreadable/unwritable (ERR_STORE). Answered 503: it heals when the
 * operator frees space or fixes the disk, with no restart. Messages never carry paths (they reach clients).
 */
export const StoreError: DceFamily<'StoreError', StoreErrorCode> = errorFamily('StoreError');
/** An instance of StoreError (codes: StoreErrorCode). */
export type StoreError = DceFamilyError<'StoreError', StoreErrorCode>;

/**
 * A container image was refused (docs/IMAGES.md): its signed image manifest is malformed, forged,
 * older than the pinned one; or its OCI archive is malformed, oversized, unsafe, does not match
 * its descriptors or is not listed; or the container engine is missing or failed. Nothing is loaded.
 */
export const ImageError: DceFamily<'ImageError', ImageErrorCode> = errorFamily('ImageError');
/** An instance of ImageError (codes: ImageErrorCode). */
export type ImageError = DceFamilyError<'ImageError', ImageErrorCode>;

/**
 * The root disk's binding to the module refused or failed (codes: DeviceErrorCode). Nothing is
 * enrolled half-way and no key is printed.
 */
export const DeviceError: DceFamily<'DeviceError', DeviceErrorCode> = errorFamily('DeviceError');
/** An instance of DeviceError (codes: DeviceErrorCode). */
export type DeviceError = DceFamilyError<'DeviceError', DeviceErrorCode>;

/** The audit log does not verify: malformed, a broken chain, a bad signature, or a replay that differs. */
export const AuditError: DceFamily<'AuditError', AuditErrorCode> = errorFamily('AuditError');
/** An instance of AuditError (codes: AuditErrorCode). */
export type AuditError = DceFamilyError<'AuditError', AuditErrorCode>;

/** Unlock logic was refused, or failed while running: never an allow. */
export const SandboxError: DceFamily<'SandboxError', SandboxErrorCode> = errorFamily('SandboxError', () => SANDBOX_HINTS);
/** An instance of SandboxError (codes: SandboxErrorCode). */
export type SandboxError = DceFamilyError<'SandboxError', SandboxErrorCode>;

const SANDBOX_HINTS: Record<SandboxErrorCode, string> = {
  ERR_INVALID_MODULE: 'build unlock logic with `capsule logic build`, which checks contracts-as/ABI.md §2',
  ERR_OUT_OF_FUEL: 'the logic ran too long: simplify it, or raise the fuel limit if it is legitimate',
  ERR_LIMIT: 'the logic exceeded a sandbox limit (contracts-as/ABI.md §5)',
  ERR_GUEST_MEMORY: 'the logic passed a (ptr, len) outside its memory to a host call: a bug in the logic',
  ERR_TRAP: 'the logic trapped (unreachable, out-of-bounds access, stack overflow, division by zero)',
  ERR_BAD_VERDICT: 'decide() must return 1 (allow) or 0 (deny)',
  ERR_TIMEOUT: 'the logic exceeded the wall-clock limit and its worker was terminated',
  ERR_SANDBOX: 'the sandbox itself failed; this is a bug',
};

const TAMPERED = 'the capsule was modified or damaged in transit; fetch a fresh copy from its source';
const FORMAT_HINTS: Record<CapsuleErrorCode, string> = {
  ERR_BAD_MAGIC: 'this file is not a capsule (capsules start with the bytes 89 43 41 50 53 55 4C 45)',
  ERR_UNSUPPORTED_VERSION: 'this capsule was written by a newer version; upgrade capsule',
  ERR_RESERVED_FLAGS: 'this capsule uses a feature this version does not know; upgrade capsule',
  ERR_HEADER_TOO_LARGE: 'the header length is beyond the 65536-byte cap; the file is damaged or hostile',
  ERR_TRUNCATED: 'the capsule is incomplete; check the download or copy finished',
  ERR_MALFORMED_HEADER: TAMPERED,
  ERR_NON_CANONICAL_HEADER: 'the header is not in deterministic CBOR; it was re-encoded by another tool or tampered with',
  ERR_UNKNOWN_CRITICAL_FIELD: 'this capsule needs a feature this version does not know; upgrade capsule',
  ERR_UNSUPPORTED_CIPHER: 'this capsule uses a cipher or chunk size this version does not know; upgrade capsule',
  ERR_BAD_STANZA: TAMPERED,
  ERR_BAD_SIGNATURE: 'the header is not what its owner signed: do not trust this capsule',
  ERR_NO_MATCHING_STANZA: 'this capsule was sealed to another guardian; check --identity is the guardian key it was sealed to',
  ERR_CHUNK_AUTH: TAMPERED,
  ERR_TRAILING_DATA: 'bytes follow the last chunk; the file was concatenated or tampered with',
  ERR_PAYLOAD_DIGEST: 'the payload does not match the digest its sealer recorded: do not trust this capsule',
  ERR_LOGIC_HASH_MISMATCH: 'this is not the logic module the capsule names; use the module it was sealed with',
  ERR_PAYLOAD_SIZE: 'the input changed while it was being sealed; seal it again',
};

/**
 * True when `e` is one of ours (a DceError) with the given code.
 * @param e - Anything caught.
 * @param code - The code to test for, e.g. 'ERR_CHUNK_AUTH'.
 * @returns Whether `e` is a DceError with that code.
 * @example
 * ```js
 * import { hasCode } from 'digital-capsule-engine';
 * if (hasCode(e, 'ERR_PAYLOAD_DIGEST')) console.error('do not trust this capsule');
 * ```
 */
export function hasCode(e: unknown, code: string): boolean {
  return e instanceof DceError && e.code === code;
}

/**
 * Codes of GuardianSetError: ERR_BAD_GUARDIAN_SET a set that breaks SPEC.md §5.6's rules (m < 1,
 * m > n, n outside 2..16, a guardian twice, …), when sealing or reading; ERR_BAD_SHARE a share that
 * fails its commitment or is malformed (the message names the guardian index);
 * ERR_NOT_ENOUGH_SHARES fewer than m valid shares; ERR_GUARDIAN_SET_MISMATCH a share stanza that
 * opens but whose share the header's commitment does not match (the header changed after sealing).
 */
export type GuardianSetErrorCode = 'ERR_BAD_GUARDIAN_SET' | 'ERR_BAD_SHARE' | 'ERR_NOT_ENOUGH_SHARES' | 'ERR_GUARDIAN_SET_MISMATCH';

const GUARDIAN_SET_HINTS: Record<GuardianSetErrorCode, string> = {
  ERR_BAD_GUARDIAN_SET: 'a guardian set has 2..16 distinct guardians and a threshold m with 1 <= m <= n (SPEC.md §5.6)',
  ERR_BAD_SHARE: 'that guardian released a share of another capsule or set, or it was altered on the way: ask it again or ask another guardian',
  ERR_NOT_ENOUGH_SHARES: "ask more of the capsule's guardians to release their share (capsule verify FILE lists them)",
  ERR_GUARDIAN_SET_MISMATCH: 'the header was changed after sealing (its guardian set or another field); use the original capsule',
};

/**
 * A guardian set or a share is wrong (codes: GuardianSetErrorCode); `hint` defaults to advice for the code.
 * @example
 * ```js
 * try { await combineShares(header, shares); } catch (e) {
 *   if (e instanceof GuardianSetError && e.code === 'ERR_BAD_SHARE') console.error(e.message); // names the guardian
 * }
 * ```
 */
export const GuardianSetError: DceFamily<'GuardianSetError', GuardianSetErrorCode> = errorFamily('GuardianSetError', () => GUARDIAN_SET_HINTS);
/** An instance of GuardianSetError (codes: GuardianSetErrorCode). */
export type GuardianSetError = DceFamilyError<'GuardianSetError', GuardianSetErrorCode>;
