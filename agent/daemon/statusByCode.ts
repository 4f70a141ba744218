/**
 * The one table from an error's stable `code` to the HTTP status the agent answers it with. The
 * domain (Releaser, Decider, the fetcher, the stores, the wallet) throws typed errors with codes
 * only; HttpServer.errorReply looks the status up here, and docs/API.md lists it from here.
 *
 * One status per code: where two families share a code, the table picks one (ERR_NOT_FOUND 404
 * also for IoError; ERR_LOCK_INTEGRITY 503, the key store's meaning, since the device's never
 * reaches the daemon; ERR_UNSUPPORTED_BY_MODEL 422, the request's meaning: asking again will not
 * help, so 503 was wrong). Two answers are the HTTP layer's own and set there, on the error
 * (AgentError's `status`): 405 (ERR_BAD_REQUEST, a method the path does not serve) and 501
 * (ERR_UNAVAILABLE, a fetch by CID on an agent without IPFS).
 *
 * Deliberately not here: the error body's shape and Retry-After (HttpServer.ts), and client-side
 * codes (ERR_UNREACHABLE, ERR_PROTOCOL: the client's own, never answered by the agent).
 */
import type {
  AgentErrorCode,
  AuditErrorCode,
  CapsuleErrorCode,
  ContentErrorCode,
  DeviceErrorCode,
  GuardianErrorCode,
  ImageErrorCode,
  IoErrorCode,
  GuardianSetErrorCode,
  KeyErrorCode,
  KeyStoreErrorCode,
  SandboxErrorCode,
  StoreErrorCode,
  UsageErrorCode,
  WalletErrorCode,
  WalletRequestErrorCode,
} from '../errors.ts';

/** Every code the agent may answer with: all the typed errors' codes but the client's own, and ERR_INTERNAL. */
export type ServedCode =
  | Exclude<AgentErrorCode, 'ERR_UNREACHABLE' | 'ERR_PROTOCOL'>
  | AuditErrorCode
  | CapsuleErrorCode
  | ContentErrorCode
  | DeviceErrorCode
  | GuardianErrorCode
  | GuardianSetErrorCode
  | ImageErrorCode
  | IoErrorCode
  | KeyErrorCode
  | KeyStoreErrorCode
  | SandboxErrorCode
  | StoreErrorCode
  | UsageErrorCode
  | WalletErrorCode
  | WalletRequestErrorCode
  | 'ERR_INTERNAL';

// One object literal (not groups spread together): a code listed twice is a compile error, so no
// group can silently override another. `satisfies` makes a code added to errors.ts without a
// status here a compile error too.
const TABLE = {
  /** 400: the request is malformed (body, query, JSON Schema, base64, recipient), or so are the bytes it carries. */
  ERR_BAD_REQUEST: 400,
  ERR_HEADER_MISMATCH: 400,
  ERR_CONFIG: 400,
  ERR_USAGE: 400,
  ERR_BAD_PARAMS: 400,
  ERR_REFUSE_TTY: 400,
  ERR_OUTPUT_EXISTS: 400,
  ERR_IO: 400,
  /** 400: the capsule's bytes are wrong (CapsuleFormatError, SPEC.md §9). */
  ERR_BAD_MAGIC: 400,
  ERR_UNSUPPORTED_VERSION: 400,
  ERR_RESERVED_FLAGS: 400,
  ERR_HEADER_TOO_LARGE: 400,
  ERR_TRUNCATED: 400,
  ERR_MALFORMED_HEADER: 400,
  ERR_NON_CANONICAL_HEADER: 400,
  ERR_UNKNOWN_CRITICAL_FIELD: 400,
  ERR_UNSUPPORTED_CIPHER: 400,
  ERR_BAD_STANZA: 400,
  ERR_BAD_SIGNATURE: 400,
  ERR_NO_MATCHING_STANZA: 400,
  ERR_CHUNK_AUTH: 400,
  ERR_TRAILING_DATA: 400,
  ERR_PAYLOAD_DIGEST: 400,
  ERR_LOGIC_HASH_MISMATCH: 400,
  ERR_PAYLOAD_SIZE: 400,
  /** 400: a guardian set that breaks its rules, or a header whose share commitments no longer match (SPEC.md §5.6; the share codes are the client's, listed so every code has one status). */
  ERR_BAD_GUARDIAN_SET: 400,
  ERR_GUARDIAN_SET_MISMATCH: 400,
  ERR_BAD_SHARE: 400,
  ERR_NOT_ENOUGH_SHARES: 400,
  /** 400: a key, recipient, identity or mnemonic that cannot be used (KeyError). */
  ERR_BAD_IDENTITY: 400,
  ERR_BAD_RECIPIENT: 400,
  ERR_NO_IDENTITY: 400,
  ERR_BAD_MNEMONIC: 400,
  ERR_LOCKED_ELSEWHERE: 400,
  /** 400: a malformed wallet request (WalletRequestError) or wallet name/path (WalletError). */
  ERR_BAD_SIGN_REQUEST: 400,
  ERR_UNKNOWN_KIND: 400,
  ERR_BAD_TRANSACTION: 400,
  ERR_BAD_TYPED_DATA: 400,
  ERR_BAD_MESSAGE: 400,
  ERR_BAD_PSBT: 400,
  ERR_BAD_DIGEST: 400,
  ERR_WALLET_EXISTS: 400,
  ERR_BAD_WALLET_NAME: 400,
  ERR_BAD_WALLET_PATH: 400,
  ERR_PATH_OUTSIDE_WALLET: 400,
  /** 400: content addressing refused before any fetch (a bad CID, a bad announcement). */
  ERR_BAD_CID: 400,
  ERR_BAD_ANNOUNCEMENT: 400,
  /** 400: image and device errors (CLI-side; listed so that every code has one status). */
  ERR_BAD_IMAGE_MANIFEST: 400,
  ERR_IMAGE_SIGNATURE: 400,
  ERR_IMAGE_REPLAYED: 400,
  ERR_NOT_PINNED: 400,
  ERR_BAD_ARCHIVE: 400,
  ERR_ARCHIVE_TRUNCATED: 400,
  ERR_ARCHIVE_PATH: 400,
  ERR_ARCHIVE_TOO_LARGE: 400,
  ERR_ARCHIVE_EXTRA: 400,
  ERR_BLOB_MISMATCH: 400,
  ERR_BLOB_MISSING: 400,
  ERR_IMAGE_NOT_LISTED: 400,
  ERR_ENGINE_MISSING: 400,
  ERR_ENGINE: 400,
  ERR_LUKS: 400,
  ERR_LUKS_TOKEN: 400,
  ERR_LUKS_TOKEN_VERSION: 400,
  ERR_LUKS_ENROLLED: 400,
  ERR_WRONG_MODULE: 400,
  ERR_NO_MODULE: 400,
  ERR_PCR_MISMATCH: 400,
  ERR_UNSAFE_TCTI: 400,
  /** 401: a decision that would change state for a requester that did not prove its identity (docs/API.md "Requester authentication"). */
  ERR_UNAUTHENTICATED: 401,
  /** 403: denied by the logic or policy, a signer the capsule does not name, a web page's Origin, a raw digest not allowed. */
  ERR_DENIED: 403,
  ERR_FORBIDDEN: 403,
  ERR_RAW_DIGEST_NOT_ALLOWED: 403,
  /** 404: no such endpoint, capsule, module, signing slot, wallet account or wallet. */
  ERR_NOT_FOUND: 404,
  ERR_NO_WALLET: 404,
  /** 409: a replay (check-in, approval, auth nonce), or a bare id that names several capsules. */
  ERR_REPLAYED: 409,
  ERR_AMBIGUOUS_ID: 409,
  /** 413: a body above its endpoint's limit, content above its cap, or no room for another approval. */
  ERR_TOO_LARGE: 413,
  ERR_CONTENT_TOO_LARGE: 413,
  /** 415: a body sent without the endpoint's Content-Type. */
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  /** 421: a Host header this agent does not answer to (DNS rebinding). */
  ERR_MISDIRECTED: 421,
  /** 422: well-formed but not doable here: the logic refused or failed (SandboxError, never an allow), a DAG that is not a file, a wallet request for another chain or account. */
  ERR_INVALID_MODULE: 422,
  ERR_OUT_OF_FUEL: 422,
  ERR_LIMIT: 422,
  ERR_GUEST_MEMORY: 422,
  ERR_TRAP: 422,
  ERR_BAD_VERDICT: 422,
  ERR_TIMEOUT: 422,
  ERR_SANDBOX: 422,
  ERR_BAD_DAG: 422,
  ERR_UNSUPPORTED_TRANSACTION: 422,
  ERR_WRONG_CHAIN: 422,
  ERR_WRONG_ACCOUNT: 422,
  ERR_NOTHING_TO_SIGN: 422,
  ERR_UNSUPPORTED_BY_MODEL: 422,
  /** 429: over a rate limit (with Retry-After). */
  ERR_RATE_LIMITED: 429,
  /** 500: a bug or a custodian/configuration fault; the body says no more than "internal error" for untyped ones. */
  ERR_INTERNAL: 500,
  ERR_BAD_ACCOUNT: 500,
  ERR_SIGNER_FAULT: 500,
  /** 502: an IPFS node answered with content not matching its CID, or failed. */
  ERR_CID_MISMATCH: 502,
  ERR_IPFS: 502,
  /** 503: heals without a restart: overload or stopping (Retry-After), the clock, the audit log, the store, the module or TPM, IPFS down. */
  ERR_UNAVAILABLE: 503,
  ERR_AUDIT: 503,
  ERR_IPFS_UNREACHABLE: 503,
  ERR_STORE_FULL: 503,
  ERR_STORE_BUSY: 503,
  ERR_STORE: 503,
  ERR_MODULE_ABSENT: 503,
  ERR_MODULE_CALL: 503,
  ERR_LOCK_INTEGRITY: 503,
  ERR_TPM_AUTH: 503,
  ERR_TPM_LOCKOUT: 503,
  ERR_TPM_POLICY: 503,
  ERR_KEYSTORE_FILE: 503,
  ERR_NO_GUARDIAN: 503,
  ERR_GUARDIAN_EXISTS: 503,
  ERR_GUARDIAN_MISMATCH: 503,
  ERR_NOT_CONFIRMED: 503,
  ERR_PROVISIONING: 503,
  ERR_ISOLATION: 503,
  ERR_AUDIT_FORMAT: 503,
  ERR_AUDIT_CHAIN: 503,
  ERR_AUDIT_SIGNATURE: 503,
  ERR_AUDIT_REPLAY: 503,
  ERR_AUDIT_RECEIPT: 503,
  ERR_AUDIT_UNPINNED: 503,
  ERR_ROLLBACK: 503,
  ERR_ANCHOR: 503,
  /** 504: content not found on IPFS within the fetch timeout. */
  ERR_CONTENT_UNAVAILABLE: 504,
  /** 507: a quota (modules, capsules kept by CID) or the disk's free-space reserve. */
  ERR_QUOTA: 507,
  ERR_DISK_FULL: 507,
} as const satisfies Record<ServedCode, number>;

/**
 * HTTP status by error code, for every code the agent answers with (ServedCode). Read-only.
 * @example
 * ```ts
 * STATUS_BY_CODE.ERR_RATE_LIMITED // 429
 * ```
 */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({ ...TABLE });

/**
 * The HTTP status for an error `code`: STATUS_BY_CODE's, or 500 for a code it does not list.
 * @param code - A typed error's stable code, e.g. 'ERR_NOT_FOUND'.
 * @returns The status, 400–599.
 */
export function statusOf(code: string): number {
  return Object.hasOwn(STATUS_BY_CODE, code) ? STATUS_BY_CODE[code]! : 500;
}
