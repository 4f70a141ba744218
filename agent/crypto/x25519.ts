/**
 * X25519 (RFC 7748) through node:crypto (OpenSSL): ~0.1 ms per operation here, against ~1.2 ms
 * for @noble/curves in JavaScript — it is on the path of every unwrap and every offline check.
 * Raw 32-byte keys are wrapped in their fixed DER prefixes (PKCS#8 / SPKI) to make KeyObjects.
 *
 * OpenSSL follows RFC 7748 §5 (the u-coordinate's top bit ignored, non-canonical values reduced)
 * and refuses an all-zero shared secret, which is exactly the low-order case (§6.1).
 * Deliberately not here: what the secrets are for (stanzas, identities).
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function privateKeyOf(secret: Uint8Array): KeyObject {
  const der = Buffer.concat([PKCS8_PREFIX, secret]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0); // the KeyObject holds its own copy; this one is ours to wipe
  }
}

/** X25519(secret, 9). */
export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  if (secret.length !== 32) throw new TypeError(`secret: expected 32 bytes, got ${secret.length}`);
  const spki = createPublicKey(privateKeyOf(secret)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

/** A private KeyObject for a fixed, public scalar (the low-order probe), made once. */
export function x25519KeyObject(secret: Uint8Array): KeyObject {
  return privateKeyOf(secret);
}

/** X25519(secret, u), or undefined when `u` has low order (the result would be all zero). */
export function x25519Shared(secret: Uint8Array | KeyObject, u: Uint8Array): Uint8Array | undefined {
  if ((secret instanceof Uint8Array && secret.length !== 32) || u.length !== 32)
    throw new TypeError(`x25519: expected a 32-byte secret and u-coordinate, got ${secret instanceof Uint8Array ? secret.length : 'a key'} and ${u.length}`);
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, u]), format: 'der', type: 'spki' });
  try {
    return new Uint8Array(diffieHellman({ privateKey: secret instanceof Uint8Array ? privateKeyOf(secret) : secret, publicKey }));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') return undefined;
    throw e;
  }
}
