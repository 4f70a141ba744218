/**
 * Raw host imports of the `capsule_v1` ABI (contracts-as/ABI.md §4), one declaration per import,
 * names and signatures exactly as specified. `ptr` and `len` are wasm32 `i32`s that the host reads
 * as unsigned, so they are declared `usize` here; `which` is a plain `i32`; time is `i64`.
 *
 * Deliberately not here: any convenience (UTF-8, allocation, error handling). Use sdk/capsule.ts;
 * import this module only to reach a host call exactly as the ABI defines it.
 */

/** The evaluation time in ms since the Unix epoch (an input, not a clock). */
@external("capsule_v1", "now_ms")
export declare function now_ms(): i64;

/** Size in bytes of input `which` (0 context, 1 params, 2 evidence); -1 if absent. */
@external("capsule_v1", "input_size")
export declare function input_size(which: i32): i32;

/** Copies min(len, size) bytes of input `which` to `ptr`; returns its size, or -1 if absent. */
@external("capsule_v1", "input_read")
export declare function input_read(which: i32, ptr: usize, len: usize): i32;

/** Sets the verdict's reason (UTF-8); the last call wins. */
@external("capsule_v1", "set_reason")
export declare function set_reason(ptr: usize, len: usize): void;

/** Appends one UTF-8 log line to the decision record. */
@external("capsule_v1", "log")
export declare function log(ptr: usize, len: usize): void;

/** Copies the value stored under key to `ptr` (min(len, size) bytes); returns its size, or -1. */
@external("capsule_v1", "state_get")
export declare function state_get(key_ptr: usize, key_len: usize, ptr: usize, len: usize): i32;

/** Stores a value under key (kept only if the evaluation ends normally). */
@external("capsule_v1", "state_set")
export declare function state_set(key_ptr: usize, key_len: usize, ptr: usize, len: usize): void;

/** Removes a key. */
@external("capsule_v1", "state_delete")
export declare function state_delete(key_ptr: usize, key_len: usize): void;

/** 1 valid RFC 8032 Ed25519 signature, 0 not, -2 a length is wrong (sig 64, key 32). */
@external("capsule_v1", "verify_ed25519")
export declare function verify_ed25519(
  msg_ptr: usize, msg_len: usize, sig_ptr: usize, sig_len: usize, key_ptr: usize, key_len: usize,
): i32;

/** 1 valid EIP-191 personal_sign by the 20-byte address, 0 not, -2 a length is wrong (sig 65, addr 20). */
@external("capsule_v1", "verify_eip191")
export declare function verify_eip191(
  msg_ptr: usize, msg_len: usize, sig_ptr: usize, sig_len: usize, addr_ptr: usize, addr_len: usize,
): i32;

/**
 * Verifies a drand beacon of a bls-unchained-g1-rfc9380 chain (ABI.md §4.3): the chain's 96-byte
 * G2 public key, its genesis and period in seconds, the beacon's round and 48-byte signature.
 * Returns the round's publication time in ms (≥ 0) if valid; -1 not valid, -2 a length is wrong,
 * -3 the key is not a G2 point, -4 round < 1, genesis < 0, period < 1 or the time overflows.
 */
@external("capsule_v1", "verify_drand_beacon")
export declare function verify_drand_beacon(
  key_ptr: usize, key_len: usize, genesis: i64, period: i64, round: i64, sig_ptr: usize, sig_len: usize,
): i64;

/** Input numbers for input_size / input_read (ABI.md §4.1). */
export const INPUT_CONTEXT: i32 = 0;
export const INPUT_PARAMS: i32 = 1;
export const INPUT_EVIDENCE: i32 = 2;
