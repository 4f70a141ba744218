/**
 * `digital-capsule-engine/capsule`: the capsule API in full. The streaming functions of the main
 * entry point (seal, open, inspect, verify) plus what custom I/O needs: the push-style
 * CapsuleSealer / CapsuleOpener / CapsuleReader (feed bytes, get bytes back, no I/O of their own),
 * the shares of a guardian set (combineShares), and the unwrapper for local identities. Every
 * opening function takes one Unwrapper contract: `(header) => key | null`, possibly async.
 *
 * Explicit named exports only. Deliberately not here: the worker-thread pool, the encrypted spool
 * and atomic output files (internals of sealToFile/decryptToFile), and guardian-side unwrapping
 * (security modules: the CLI's `capsule agent`).
 *
 * @example
 * ```js
 * import { CapsuleReader } from 'digital-capsule-engine/capsule';
 * const reader = new CapsuleReader();
 * for await (const piece of stream) reader.push(piece); // checks chunk layout, no key needed
 * reader.end(); // throws CapsuleFormatError ERR_TRUNCATED if the capsule is incomplete
 * console.log(reader.parsed.header.payload.size);
 * ```
 * @packageDocumentation
 */

export { seal, sealToFile } from './seal.ts';
export type { SealRunOptions } from './seal.ts';
export { decryptToFile, openVerified, openWithKey } from './open.ts';
export type { KeySource, OpenOptions } from './open.ts';
export { describe, inspect, readHeader } from './inspect.ts';
export type { CapsuleInfo } from './inspect.ts';
export { verify } from './verify.ts';
export type { VerifyOptions, VerifyReport } from './verify.ts';
export { identityShares, identityUnwrapper } from './unwrap.ts';
export { checkShare, combineShares, combineUnwrappedShares, describeGuardianSet } from './shares.ts';
export type { GuardianInfo, GuardianShare } from './shares.ts';

export { CapsuleSealer, DEFAULT_DIGEST } from './CapsuleSealer.ts';
export type { SealOptions } from './CapsuleSealer.ts';
export { CapsuleOpener } from './CapsuleOpener.ts';
export type { Unwrapper } from './CapsuleOpener.ts';
export { CapsuleReader } from './CapsuleReader.ts';
export type { ChunkSink, ParsedHeader } from './CapsuleReader.ts';
export type { DigestName, PayloadDigest } from './PayloadDigest.ts';
export { defaultThreads, PARALLEL_FROM } from './BulkPool.ts';
