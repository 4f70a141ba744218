/**
 * RSA for the tpm2-rsa test vectors, reproducible: RSA-2048 key pairs drawn from a seeded source
 * (standing in for a TPM's key, whose private half never leaves it), and RSAES-OAEP encryption
 * (RFC 8017 §7.1.1) with a caller-chosen seed, because node:crypto draws the OAEP seed itself and
 * vectors must come out the same on every run.
 *
 * Written from RFC 8017 with BigInt and SHA from node:crypto, not with agent/ code, so that a
 * vector does not depend on the code it tests. Test-only: a key drawn from a seed is no secret.
 * Deliberately not here: OAEP decryption (the readers under test do that).
 */
import { checkPrimeSync, createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import { encodeTpmRecipient } from '../../agent/crypto/tpmRecipient.ts';
import { drbg } from '../helpers/drbg.ts';

export const RSA_BYTES = 256;
const E = 65537n;

export interface RsaKey {
  privateKey: KeyObject;
  /** 256-byte big-endian modulus: the data of the `capsule-tpm1…` recipient. */
  modulus: Uint8Array;
  /** `capsule-tpm1…` */
  recipient: string;
  /** PKCS#8 DER of the private key in base64: what a vector's `identity-tpm2-rsa:` line holds. */
  pkcs8: string;
}

const cache = new Map<string, RsaKey>();

/**
 * A fixed RSA-2048 key pair (e = 65537): each prime is the first prime at or above a 1024-bit
 * seeded draw with its top two bits set (so the modulus has exactly 2048 bits) and p − 1 coprime
 * to e; d = e⁻¹ mod lcm(p − 1, q − 1).
 */
export function fixedRsa(name: string): RsaKey {
  const hit = cache.get(name);
  if (hit) return hit;
  const random = drbg(`rsa ${name}`);
  const prime = (): bigint => {
    const b = random(RSA_BYTES / 2);
    b[0]! |= 0xc0;
    b[b.length - 1]! |= 1;
    let x = os2ip(b);
    while (!((x - 1n) % E !== 0n && checkPrimeSync(x, { checks: 64 }))) x += 2n;
    return x;
  };
  let p = prime();
  let q = prime();
  if (p < q) [p, q] = [q, p];
  const n = p * q;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInverse(E, lambda);
  const b64 = (x: bigint) => Buffer.from(minimal(x)).toString('base64url');
  const privateKey = createPrivateKey({
    key: { kty: 'RSA', n: b64(n), e: b64(E), d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(modInverse(q, p)) },
    format: 'jwk',
  });
  const modulus = i2osp(n, RSA_BYTES);
  const key = { privateKey, modulus, recipient: encodeTpmRecipient(modulus), pkcs8: privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64') };
  cache.set(name, key);
  return key;
}

export interface OaepOptions {
  /** Hash for the label and MGF1 (SPEC.md: sha256; sha1 only for the vector of that mistake). */
  hash?: 'sha256' | 'sha1';
}

/** RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1) of `message` under `modulus` (e = 65537) with this `seed`. */
export function oaepEncrypt(modulus: Uint8Array, message: Uint8Array, label: Uint8Array, seed: Uint8Array, o: OaepOptions = {}): Uint8Array {
  const hash = o.hash ?? 'sha256';
  const h = (b: Uint8Array) => new Uint8Array(createHash(hash).update(b).digest());
  const hLen = h(new Uint8Array(0)).length;
  const k = modulus.length;
  if (seed.length !== hLen) throw new Error(`oaepEncrypt: seed must be ${hLen} bytes, got ${seed.length}`);
  if (message.length > k - 2 * hLen - 2) throw new Error(`oaepEncrypt: message too long (${message.length})`);
  const db = new Uint8Array(k - hLen - 1); // lHash ‖ PS ‖ 01 ‖ M
  db.set(h(label), 0);
  db[db.length - message.length - 1] = 0x01;
  db.set(message, db.length - message.length);
  const maskedDb = xor(db, mgf1(h, seed, db.length));
  const maskedSeed = xor(seed, mgf1(h, maskedDb, hLen));
  const em = new Uint8Array(k);
  em.set(maskedSeed, 1);
  em.set(maskedDb, 1 + hLen);
  return i2osp(modPow(os2ip(em), E, os2ip(modulus)), k);
}

function mgf1(h: (b: Uint8Array) => Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let counter = 0, off = 0; off < length; counter++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, counter);
    const block = h(Buffer.concat([seed, c]));
    out.set(block.subarray(0, Math.min(block.length, length - off)), off);
    off += block.length;
  }
  return out;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

export function os2ip(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b).toString('hex'));
}

export function i2osp(x: bigint, length: number): Uint8Array {
  const hex = x.toString(16).padStart(length * 2, '0');
  if (hex.length > length * 2) throw new Error(`i2osp: integer too large for ${length} bytes`);
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function minimal(x: bigint): Uint8Array {
  const hex = x.toString(16);
  return Uint8Array.from(Buffer.from(hex.length % 2 ? '0' + hex : hex, 'hex'));
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [a % m, m, 1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  if (r0 !== 1n) throw new Error('modInverse: not invertible');
  return ((s0 % m) + m) % m;
}

function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  let result = 1n;
  base %= m;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % m;
    base = (base * base) % m;
    exp >>= 1n;
  }
  return result;
}
