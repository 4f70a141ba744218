/**
 * The library's main entry point, `digital-capsule-engine`: seal a payload to recipients, open it
 * with a local identity, read and verify a capsule's header with no key, make and parse age
 * identities and recipients, and the typed errors all of these throw.
 *
 * Explicit named exports only, so the public surface is exactly this list. Deliberately not here:
 * the push-style sealer/opener/reader and header-first reading (`digital-capsule-engine/capsule`),
 * the guardian's HTTP client (`/client`), the byte format's codecs and constants (`/format`), and
 * everything a guardian runs (daemon, key stores, sandbox, IPFS): those are the CLI's.
 *
 * Importing it changes no process-wide state (no V8 flags, no patched globals, no listeners).
 *
 * @example
 * ```js
 * import { generateIdentity, seal, openWithKey } from 'digital-capsule-engine';
 * import { createHash } from 'node:crypto';
 * import { buffer } from 'node:stream/consumers';
 *
 * const me = generateIdentity();
 * const logic = { hash: createHash('sha256').update(policyWasm).digest() };
 * const capsule = await buffer(seal(new TextEncoder().encode('hello'), { recipients: [me.recipient], logic }));
 * const plain = await buffer(openWithKey(capsule, me));
 * me.dispose();
 * ```
 * @packageDocumentation
 */

// Sealing
import type { ByteSource as Source } from './io/sources.ts';

export { seal, sealToFile } from './capsule/seal.ts';
export type { SealRunOptions } from './capsule/seal.ts';
export type { SealOptions } from './capsule/CapsuleSealer.ts';
export type { DigestName } from './capsule/PayloadDigest.ts';

// Opening with a local key
export { decryptToFile, openVerified, openWithKey } from './capsule/open.ts';
export type { KeySource, OpenOptions } from './capsule/open.ts';
export type { Unwrapper } from './capsule/CapsuleOpener.ts';

// Reading and checking without a key
export { inspect, readHeader } from './capsule/inspect.ts';
export type { CapsuleInfo } from './capsule/inspect.ts';
export { verify } from './capsule/verify.ts';
export type { VerifyOptions, VerifyReport } from './capsule/verify.ts';
export type { ParsedHeader } from './capsule/CapsuleReader.ts';
export type { CapsuleHeader, DigestAlg, LogicRef, PayloadInfo, Stanza } from './format/header.ts';

// Inputs
/**
 * What the functions read a capsule or a payload from: bytes, an (async) iterable of Uint8Array
 * pieces (a Node stream opened without an encoding, a web ReadableStream), or `{ path, name? }`
 * of a file (read in 1 MiB pieces; `name` is how messages refer to it).
 * (Declared here as an alias so that it carries this comment: agent/io/sources.ts is the CLI's too.)
 */
export type ByteSource = Source;
export type { PathSource } from './io/sources.ts';

// Identities and recipients
export {
  encodeIdentity,
  encodeRecipient,
  formatIdentityFile,
  generateIdentity,
  identityFromSecret,
  parseIdentityFile,
  parseRecipient,
} from './crypto/identity.ts';
export type { Identity } from './crypto/identity.ts';
export { parseAnyRecipient } from './crypto/recipients.ts';
export type { Recipient } from './crypto/recipients.ts';

// Errors
export { AgentError, CapsuleFormatError, DceError, hasCode, IoError, KeyError } from './errors.ts';
export type { AgentErrorCode, CapsuleErrorCode, IoErrorCode, KeyErrorCode } from './errors.ts';
