/**
 * age-compatible X25519 identities and recipients, and the owner's Ed25519 key derived from one.
 *
 * Formats are age's (Bech32, HRP "age" / "AGE-SECRET-KEY-"), so `age-keygen` output works here and
 * our key files work with `age -d -i`. Deliberately not here: passphrase-protected or plugin
 * identities (age's scrypt/plugin stanzas), and hardware keys (agent/keys, a later issue).
 */
import { randomBytes } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { x25519KeyObject, x25519PublicKey, x25519Shared } from './x25519.ts';
import { bech32 } from '@scure/base';
import { KeyError } from '../errors.ts';
import { LABEL_OWNER_ED25519 } from '../format/constants.ts';
import { hkdf } from './kdf.ts';

const RECIPIENT_HRP = 'age';
const IDENTITY_HRP = 'age-secret-key-';

/** An X25519 identity: the secret scalar and its public recipient. Call `dispose()` when done. */
export interface Identity {
  /** The 32-byte X25519 secret. */
  readonly secretKey: Uint8Array;
  /** The 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  /** The public key as an age recipient, `age1…`: what others seal to. */
  readonly recipient: string;
  /** Overwrites `secretKey` with zeros; the identity is unusable afterwards. */
  dispose(): void;
}

/**
 * A new random X25519 identity (as `age-keygen` or `capsule keygen` makes).
 * @returns The identity; `dispose()` it when done.
 * @example
 * ```js
 * import { generateIdentity, formatIdentityFile } from 'digital-capsule-engine';
 * const me = generateIdentity();
 * await writeFile('me.key', formatIdentityFile(me, new Date()), { mode: 0o600 });
 * console.log(me.recipient); // age1…
 * ```
 */
export function generateIdentity(): Identity {
  return identityFromSecret(randomBytes(32));
}

/**
 * The identity of a given 32-byte X25519 secret (copied: the caller may wipe its array).
 * @param secret - 32 bytes.
 * @returns The identity.
 * @throws TypeError when `secret` is not a 32-byte Uint8Array.
 * @example
 * ```js
 * const id = identityFromSecret(secretBytesFromMyVault);
 * ```
 */
export function identityFromSecret(secret: Uint8Array): Identity {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) {
    throw new TypeError(`secret: expected a 32-byte Uint8Array, got ${secret instanceof Uint8Array ? secret.length + ' bytes' : typeof secret}`);
  }
  const secretKey = Uint8Array.from(secret);
  const publicKey = x25519PublicKey(secretKey);
  return {
    secretKey,
    publicKey,
    recipient: encodeRecipient(publicKey),
    dispose: () => secretKey.fill(0),
  };
}

const PROBE = x25519KeyObject(new Uint8Array(32).fill(0x42));

/** Any clamped scalar times a low-order point is the all-zero point (RFC 7748 §6.1). */
function isLowOrder(point: Uint8Array): boolean {
  return x25519Shared(PROBE, point) === undefined;
}

/**
 * An X25519 public key as an age recipient string (Bech32, `age1…`).
 * @param publicKey - 32 bytes.
 * @returns `age1…`.
 * @example
 * ```js
 * encodeRecipient(identity.publicKey) === identity.recipient; // true
 * ```
 */
export function encodeRecipient(publicKey: Uint8Array): string {
  return bech32.encode(RECIPIENT_HRP, bech32.toWords(publicKey), false);
}

/**
 * An X25519 secret as an age identity string (`AGE-SECRET-KEY-1…`, uppercase Bech32), as
 * `age-encryption`'s Decrypter.addIdentity() takes it. Secret: never log it.
 * @param secretKey - 32 bytes.
 * @returns `AGE-SECRET-KEY-1…`.
 * @example
 * ```js
 * decrypter.addIdentity(encodeIdentity(identity.secretKey));
 * ```
 */
export function encodeIdentity(secretKey: Uint8Array): string {
  return bech32.encode(IDENTITY_HRP, bech32.toWords(secretKey), false).toUpperCase();
}

/**
 * Parses an `age1…` recipient into its 32-byte X25519 public key (surrounding whitespace ignored).
 * @param text - The recipient.
 * @returns The public key.
 * @throws TypeError when `text` is not a string.
 * @throws KeyError ERR_BAD_RECIPIENT when it is not an age X25519 recipient, is uppercase, or is a
 *   low-order point (the message never echoes a pasted secret key).
 * @example
 * ```js
 * const key = parseRecipient('age1…');
 * ```
 */
export function parseRecipient(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError(`recipient: expected a string, got ${typeof text}`);
  const t = text.trim();
  // Never echo what looks like a secret key back (it may be one pasted in the wrong place).
  const shown = /^age-secret-key-/i.test(t) ? '"AGE-SECRET-KEY-1…" (a secret identity)' : `${JSON.stringify(t.slice(0, 20))}${t.length > 20 ? '…' : ''}`;
  let decoded;
  let key: Uint8Array;
  try {
    decoded = bech32.decode(t as `${string}1${string}`, false);
    key = bech32.fromWords(decoded.words);
  } catch (cause) {
    throw new KeyError('ERR_BAD_RECIPIENT', `recipient: expected an age X25519 recipient (age1…), got ${shown}`, {
      cause,
      hint: 'print a guardian recipient with `capsule keygen` or `grep -o "age1[0-9a-z]*" guardian.key`',
    });
  }
  if (decoded.prefix !== RECIPIENT_HRP) {
    throw new KeyError('ERR_BAD_RECIPIENT', `recipient: expected the prefix "age1", got "${decoded.prefix}1"`, {
      hint:
        decoded.prefix === IDENTITY_HRP
          ? 'that is a secret identity; pass its public key (age1…) instead, and keep the identity secret'
          : 'pass an age X25519 recipient (age1…)',
    });
  }
  if (t !== t.toLowerCase()) {
    throw new KeyError('ERR_BAD_RECIPIENT', 'recipient: expected lowercase (age1…), got uppercase', { hint: 'age recipients are written in lowercase' });
  }
  if (key.length !== 32) throw new KeyError('ERR_BAD_RECIPIENT', `recipient: expected a 32-byte key, got ${key.length} bytes`);
  if (isLowOrder(key)) {
    throw new KeyError('ERR_BAD_RECIPIENT', 'recipient: is a low-order X25519 point (no one holds its key)', {
      hint: 'use the recipient printed by `capsule keygen`',
    });
  }
  return key;
}

/**
 * Parses an age identity file: '#' comments and blank lines ignored, one AGE-SECRET-KEY-1… per line
 * (what `age-keygen` and `capsule keygen` write). The error never quotes the secret line.
 * @param text - The file's content.
 * @param source - How error messages name the file (default "identity file").
 * @returns Every identity in the file, at least one.
 * @throws KeyError ERR_BAD_IDENTITY (a line that is not an X25519 identity: a recipient, a
 *   passphrase-protected or plugin identity, bad Bech32) or ERR_NO_IDENTITY (none in the file).
 * @example
 * ```js
 * import { parseIdentityFile } from 'digital-capsule-engine';
 * const ids = parseIdentityFile(await readFile('me.key', 'utf8'), 'me.key');
 * ```
 */
export function parseIdentityFile(text: string, source = 'identity file'): Identity[] {
  const out: Identity[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    let decoded;
    try {
      decoded = bech32.decode(line as `${string}1${string}`, false);
    } catch (cause) {
      throw new KeyError('ERR_BAD_IDENTITY', `${source}: line ${i + 1} is not an age identity (expected AGE-SECRET-KEY-1…)`, {
        cause,
        hint: 'passphrase-protected and plugin identities are not supported; use a file from `capsule keygen` or `age-keygen`',
      });
    }
    if (decoded.prefix === RECIPIENT_HRP) {
      throw new KeyError('ERR_BAD_IDENTITY', `${source}: line ${i + 1} is a recipient (public key), not an identity`, {
        hint: 'pass the secret key file (the one with AGE-SECRET-KEY-1…), e.g. from `capsule keygen -o FILE`',
      });
    }
    if (decoded.prefix !== IDENTITY_HRP || line !== line.toUpperCase()) {
      throw new KeyError('ERR_BAD_IDENTITY', `${source}: line ${i + 1} is not an X25519 identity (expected the uppercase prefix AGE-SECRET-KEY-1)`);
    }
    let secret: Uint8Array;
    try {
      secret = bech32.fromWords(decoded.words);
    } catch (cause) {
      throw new KeyError('ERR_BAD_IDENTITY', `${source}: line ${i + 1} is not a valid identity (bad Bech32 padding)`, { cause });
    }
    try {
      if (secret.length !== 32) throw new KeyError('ERR_BAD_IDENTITY', `${source}: line ${i + 1} holds a ${secret.length}-byte key, expected 32`);
      out.push(identityFromSecret(secret));
    } finally {
      secret.fill(0);
    }
  }
  if (out.length === 0) {
    throw new KeyError('ERR_NO_IDENTITY', `${source}: no identity found (expected a line AGE-SECRET-KEY-1…)`);
  }
  return out;
}

/**
 * The text `capsule keygen` writes, in age-keygen's layout: a created line, a public key line, the
 * secret key line. Secret: write it with mode 0600.
 * @param id - The identity.
 * @param created - The time the created line shows.
 * @returns The file's text, ending in a newline.
 * @example
 * ```js
 * await writeFile('me.key', formatIdentityFile(generateIdentity(), new Date()), { mode: 0o600 });
 * ```
 */
export function formatIdentityFile(id: Identity, created: Date): string {
  return `# created: ${created.toISOString().replace(/\.\d{3}Z$/, 'Z')}\n# public key: ${id.recipient}\n${encodeIdentity(id.secretKey)}\n`;
}

/** The owner's Ed25519 seed, derived from an X25519 identity (SPEC.md §7). Caller wipes it. */
export function ownerSeed(id: Identity): Uint8Array {
  return hkdf(id.secretKey, new Uint8Array(0), LABEL_OWNER_ED25519, 32);
}

export function ownerPublicKey(id: Identity): Uint8Array {
  const seed = ownerSeed(id);
  try {
    return ed25519.getPublicKey(seed);
  } finally {
    seed.fill(0);
  }
}

export function signWithOwner(id: Identity, message: Uint8Array): Uint8Array {
  const seed = ownerSeed(id);
  try {
    return ed25519.sign(message, seed);
  } finally {
    seed.fill(0);
  }
}

/** RFC 8032 strict verification (no ZIP-215 leniency). */
export function verifyOwnerSignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
