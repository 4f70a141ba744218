/**
 * The one interface behind which guardian keys live (DESIGN.md "Key custody"): random bytes,
 * lock/unlock of blobs with a device-bound key, slot public keys, digest signing and, where the
 * hardware has it, ECDH. Backends: `zymbit` (the module through FFI, or its simulator), `soft`
 * (a passphrase-locked file, for development only) and `tpm2` (a TPM 2.0 through tpm2-tss). Every method is async so that a
 * backend can keep blocking hardware calls off the event loop and serialise them.
 *
 * Wallet keys (BIP32/BIP39 secp256k1 accounts) are the optional `wallet` member: WalletKeys.ts.
 *
 * Deliberately not here: the key hierarchy (seed, derived identities) and provisioning.
 */
import type { ModuleHealth } from './ModuleGuard.ts';
import type { WalletKeys } from './WalletKeys.ts';

export interface Capabilities {
  backend: 'zymbit' | 'soft' | 'tpm2';
  model: string;
  /** Keys are held by hardware (false for `soft`: never use it in production). */
  hardware: boolean;
  /** ECDH with slot keys inside the custodian (HSM6/SCM, soft). */
  ecdh: boolean;
  serial: string;
  /** The TPM's manufacturer code (tpm2), e.g. "IFX" for Infineon. */
  manufacturer?: string;
  /** The custodian's firmware version, where it reports one (tpm2). */
  firmware?: string;
}

export interface KeyStore {
  readonly capabilities: Capabilities;
  randomBytes(size: number): Promise<Uint8Array>;
  /** Encrypts and authenticates `data` with a key that never leaves this custodian. */
  lock(data: Uint8Array): Promise<Uint8Array>;
  /** Reverses lock(); a blob from elsewhere or tampered is ERR_LOCK_INTEGRITY. */
  unlock(blob: Uint8Array): Promise<Uint8Array>;
  /** P-256 public key of a slot: 64 bytes X ‖ Y. */
  publicKey(slot: number): Promise<Uint8Array>;
  /** ECDSA P-256 over a 32-byte digest: raw r ‖ s (64 bytes), not low-S normalised. */
  sign(digest: Uint8Array, slot: number): Promise<Uint8Array>;
  /** Raw ECDH (32-byte shared X) with a slot key; ERR_UNSUPPORTED_BY_MODEL where there is none. */
  ecdh(slot: number, peer: Uint8Array): Promise<Uint8Array>;
  /** The custodian's clock (a module's RTC), seconds since the epoch, where it has one. */
  time?(): Promise<number>;
  /** Whether the custodian currently answers (hardware backends; absent means always ok). */
  health?(): ModuleHealth;
  /** The TPM's RSA-2048 decryption key for `tpm2-rsa` stanzas (tpm2 only). */
  readonly tpm2Rsa?: {
    readonly modulus: Uint8Array;
    /** RSA-OAEP-SHA256 inside the TPM; undefined when the ciphertext is not for this key. */
    decrypt(ciphertext: Uint8Array, label: Uint8Array): Promise<Uint8Array | undefined>;
    /** The first of `items` that decrypts (to `size` bytes, when given), with the key loaded once. */
    decryptFirst(
      items: ReadonlyArray<{ ciphertext: Uint8Array; label: Uint8Array }>,
      size?: number,
    ): Promise<{ index: number; plaintext: Uint8Array } | undefined>;
  };
  /** Named BIP32 wallets of secp256k1 keys (see wallet.capabilities.supported); absent: none. */
  readonly wallet?: WalletKeys;
  close(): Promise<void>;
}

/** Runs calls one at a time (a module context must not be used concurrently). */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(f: () => T | Promise<T>): Promise<T> {
    const next = this.#tail.then(f);
    this.#tail = next.catch(() => {});
    return next;
  }
}
