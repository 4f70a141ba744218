/**
 * The guardian's key hierarchy (SPEC.md §8.2): from the 32-byte master entropy (the paper backup's
 * 24 words) to the guardian's identity keys.
 *
 *   mnemonic = BIP39(entropy)                                   24 English words
 *   seed     = PBKDF2-HMAC-SHA512(mnemonic, "mnemonic", 2048, 64)   BIP39 seed, empty passphrase
 *   x25519   = HKDF-SHA256(seed, "", "capsule/v1 guardian x25519", 32)      → age1… recipient
 *   p256     = (OS2IP(HKDF-SHA256(seed, "", "capsule/v1 guardian p256", 48)) mod (n−1)) + 1
 *                                                                → capsule-ecdh1… recipient
 *
 * So a guardian restored from paper has the same recipients. The header-signing key is not here:
 * it is a module slot key, bound to the device. Every private value is wiped by dispose(); callers
 * derive, use and dispose within one operation. Deliberately not here: where the seed is kept
 * (locked by the module: Guardian.ts) and BIP32 paths (nothing here needs a tree).
 */
import { pbkdf2Sync } from 'node:crypto';
import { identityFromSecret, type Identity } from '../crypto/identity.ts';
import { hkdf } from '../crypto/kdf.ts';
import { ECDH_RECIPIENT_HRP, encodeP256Key, p256PublicKey, scalarFromBytes } from '../crypto/p256.ts';
import { wipe } from '../crypto/secrets.ts';
import { LABEL_GUARDIAN_P256, LABEL_GUARDIAN_X25519 } from '../format/constants.ts';
import { toMnemonic } from './mnemonic.ts';

export interface GuardianKeys {
  x25519: Identity;
  p256: { secretKey: Uint8Array; publicKey: Uint8Array; recipient: string };
  dispose(): void;
}

export interface GuardianRecipients {
  x25519: string;
  p256: string;
}

/** The BIP39 seed of `entropy`'s mnemonic with an empty passphrase. Caller wipes it. */
export function bip39Seed(entropy: Uint8Array): Uint8Array {
  const mnemonic = Buffer.from(toMnemonic(entropy).normalize('NFKD'), 'utf8');
  try {
    return new Uint8Array(pbkdf2Sync(mnemonic, 'mnemonic', 2048, 64, 'sha512'));
  } finally {
    mnemonic.fill(0);
  }
}

export function deriveGuardianKeys(entropy: Uint8Array): GuardianKeys {
  const seed = bip39Seed(entropy);
  try {
    return keysFromSeed(seed);
  } finally {
    wipe(seed);
  }
}

/**
 * The same keys from the 64-byte BIP39 seed (what the guardian keeps locked: deriving from it
 * skips the 2048 PBKDF2 rounds, about 1.3 ms, on every operation).
 */
export function keysFromSeed(seed: Uint8Array): GuardianKeys {
  if (seed.length !== 64) throw new TypeError(`seed: expected the 64-byte BIP39 seed, got ${seed.length} bytes`);
  let xs: Uint8Array | undefined;
  try {
    xs = hkdf(seed, new Uint8Array(0), LABEL_GUARDIAN_X25519, 32);
    const x25519 = identityFromSecret(xs);
    // The P-256 key is derived on first use: its public key costs ~0.5 ms of JavaScript, and most
    // operations (x25519 stanzas) never need it.
    const ps = hkdf(seed, new Uint8Array(0), LABEL_GUARDIAN_P256, 48);
    let p256: GuardianKeys['p256'] | undefined;
    return {
      x25519,
      get p256() {
        if (!p256) {
          const secretKey = scalarFromBytes(ps);
          const publicKey = p256PublicKey(secretKey);
          p256 = { secretKey, publicKey, recipient: encodeP256Key(ECDH_RECIPIENT_HRP, publicKey) };
        }
        return p256;
      },
      dispose: () => {
        x25519.dispose();
        p256?.secretKey.fill(0);
        ps.fill(0);
      },
    };
  } finally {
    wipe(xs);
  }
}

export function guardianRecipients(entropy: Uint8Array): GuardianRecipients {
  const k = deriveGuardianKeys(entropy);
  try {
    return { x25519: k.x25519.recipient, p256: k.p256.recipient };
  } finally {
    k.dispose();
  }
}
