/**
 * A provisioned guardian at run time: its record (guardian.json), its KeyStore, and the operations
 * the rest of the agent needs — find a capsule's file key, seal on the device (zymbit-lock or
 * tpm2-rsa stanza, header signature), and report what it is.
 *
 * Identity keys are derived only for the operation that needs them: the module unlocks the BIP39
 * seed (guardian.json keeps it locked), the keys are derived, used and wiped (hierarchy.ts). Deliberately not
 * here: provisioning (provision.ts), the release protocol and the unlock logic (the agent).
 */
import { CapsuleFormatError, GuardianError, KeyError, KeyStoreError, hasCode } from '../errors.ts';
import type { HeaderSigner } from '../crypto/guardianSignature.ts';
import type { Locker } from '../crypto/lockStanza.ts';
import { unwrapLock } from '../crypto/lockStanza.ts';
import { compressP256, GUARDIAN_KEY_HRP, p256SharedX, parseP256Key } from '../crypto/p256.ts';
import { unwrapP256 } from '../crypto/p256Stanza.ts';
import { checkTpm2RsaStanza, tpm2RsaLabel } from '../crypto/tpm2RsaStanza.ts';
import { wipe } from '../crypto/secrets.ts';
import { unwrapX25519 } from '../crypto/x25519Stanza.ts';
import { FILE_KEY_SIZE, STANZA_LOCK, STANZA_P256, STANZA_TPM2_RSA, STANZA_X25519 } from '../format/constants.ts';
import type { CapsuleHeader } from '../format/header.ts';
import { keysFromSeed, type GuardianKeys } from '../keys/hierarchy.ts';
import type { KeyStore } from '../keys/KeyStore.ts';
import { defaultDataDir, readGuardianFile, type GuardianRecord } from './GuardianFile.ts';
import { openKeyStore } from './keyStoreFor.ts';

/**
 * At most this many tpm2-rsa stanzas of one header are tried in the TPM (each is an RSA decryption
 * there, slow on a real TPM): a header of 64 bogus ones must not hold the TPM for many seconds.
 */
export const MAX_TPM2_STANZAS_TRIED = 8;

export type OwnStanza = 'x25519' | 'p256-ecdh' | 'zymbit-lock' | 'tpm2-rsa';

export interface OnGuardianSeal {
  /** Recipient strings (age1…, capsule-ecdh1…, capsule-tpm1…) for the stanzas chosen. */
  recipients: string[];
  lock?: Locker;
  guardian: HeaderSigner;
}

export class Guardian {
  readonly dataDir: string;
  readonly record: GuardianRecord;
  readonly keyStore: KeyStore;

  private constructor(dataDir: string, record: GuardianRecord, keyStore: KeyStore) {
    this.dataDir = dataDir;
    this.record = record;
    this.keyStore = keyStore;
  }

  /** Opens the guardian in `dataDir`; `keyStore` replaces the recorded backend (tests, embedding). */
  static async open(dataDir = defaultDataDir(), options: { env?: NodeJS.ProcessEnv; keyStore?: KeyStore; moduleTimeoutMs?: number } = {}): Promise<Guardian> {
    const record = await readGuardianFile(dataDir);
    const ks =
      options.keyStore ??
      (await openKeyStore(record.backend, dataDir, options.env ?? process.env, record.library, {
        moduleTimeoutMs: options.moduleTimeoutMs,
        tcti: record.tcti,
        tpmAuthFile: record.tpmAuthFile,
      }));
    if (ks.capabilities.serial !== record.serial) {
      await ks.close();
      throw new GuardianError(
        'ERR_GUARDIAN_MISMATCH',
        `guardian in ${dataDir} was provisioned on module ${record.serial}, but this module is ${ks.capabilities.serial}`,
        {
          hint: 'its locked seed opens only on that module; on a new module, restore from the paper backup: capsule guardian init --restore --force',
        },
      );
    }
    return new Guardian(dataDir, record, ks);
  }

  /** The header-signing key (compressed P-256), as published by `guardian show`. */
  get signingKey(): Uint8Array {
    return parseP256Key(GUARDIAN_KEY_HRP, this.record.signingKey, 'guardian.json signingKey');
  }

  /** Runs `fn` with the derived identity keys; they are wiped when it settles. */
  async withKeys<T>(fn: (keys: GuardianKeys) => T | Promise<T>): Promise<T> {
    let seed: Uint8Array | undefined;
    let keys: GuardianKeys | undefined;
    try {
      seed = await this.keyStore.unlock(Buffer.from(this.record.lockedSeed, 'base64'));
      if (seed.length !== 64)
        throw new GuardianError('ERR_GUARDIAN_MISMATCH', `guardian.json lockedSeed unlocks to ${seed.length} bytes, not the 64-byte BIP39 seed`);
      keys = keysFromSeed(seed);
      if (keys.x25519.recipient !== this.record.recipients.x25519) {
        throw new GuardianError(
          'ERR_GUARDIAN_MISMATCH',
          'guardian.json: the locked seed does not derive the recorded recipient (the file was edited or mixed up)',
        );
      }
      return await fn(keys);
    } finally {
      keys?.dispose();
      wipe(seed);
    }
  }

  /**
   * The file key of a capsule sealed to this guardian: tries its stanzas in header order with the
   * derived keys (x25519, p256-ecdh), the module (zymbit-lock) and the TPM (tpm2-rsa). Caller
   * wipes the key.
   * @throws KeyError ERR_LOCKED_ELSEWHERE (only another module's or TPM's stanzas);
   *   CapsuleFormatError ERR_NO_MATCHING_STANZA (nothing for this guardian); KeyStoreError.
   */
  async unwrapFileKey(header: CapsuleHeader): Promise<Uint8Array> {
    const needsKeys = header.stanzas.some((s) => s.type === STANZA_X25519 || s.type === STANZA_P256);
    let lockedElsewhere = 0;
    const tpmStanzas = header.stanzas.flatMap((s, i) => (s.type === STANZA_TPM2_RSA ? [{ s, i }] : []));
    for (const { s, i } of tpmStanzas) checkTpm2RsaStanza(s, i);
    const rsa = this.keyStore.tpm2Rsa;
    if (rsa && tpmStanzas.length > 0) {
      // One key load for all of them (the file key is the same in every stanza that opens).
      const label = tpm2RsaLabel(header.id);
      const hit = await rsa.decryptFirst(
        tpmStanzas.slice(0, MAX_TPM2_STANZAS_TRIED).map(({ s }) => ({ ciphertext: s.body, label })),
        FILE_KEY_SIZE,
      );
      if (hit) return hit.plaintext;
    }
    const attempt = async (keys: GuardianKeys | undefined): Promise<Uint8Array | undefined> => {
      for (const [i, s] of header.stanzas.entries()) {
        if (s.type === STANZA_X25519 && keys) {
          const k = unwrapX25519(s, i, keys.x25519, header.id);
          if (k) return k;
        } else if (s.type === STANZA_P256 && keys) {
          const secret = keys.p256.secretKey;
          const k = await unwrapP256(s, i, keys.p256.publicKey, header.id, (share) => p256SharedX(secret, share));
          if (k) return k;
        } else if (s.type === STANZA_LOCK) {
          try {
            return await unwrapLock(s, i, header.id, this.keyStore);
          } catch (e) {
            if (!hasCode(e, 'ERR_LOCK_INTEGRITY')) throw e;
            lockedElsewhere++; // another module's blob (or a tampered one): not for this guardian
          }
        }
      }
      return undefined;
    };
    const key = needsKeys ? await this.withKeys(attempt) : await attempt(undefined);
    if (key) return key;
    if (lockedElsewhere > 0) {
      throw new KeyError(
        'ERR_LOCKED_ELSEWHERE',
        `header.stanzas: the capsule's zymbit-lock stanza was locked by another module (or altered); this guardian (${this.record.serial}) cannot open it`,
        {
          hint: 'a zymbit-lock capsule opens only on the module that sealed it; a guardian restored from paper opens only x25519 and p256-ecdh capsules',
        },
      );
    }
    if (tpmStanzas.length > 0) {
      const skipped = rsa && tpmStanzas.length > MAX_TPM2_STANZAS_TRIED ? ` (the first ${MAX_TPM2_STANZAS_TRIED} of ${tpmStanzas.length} tried)` : '';
      throw new KeyError(
        'ERR_LOCKED_ELSEWHERE',
        `header.stanzas: the capsule's tpm2-rsa stanza was sealed to another TPM's key${skipped}; this guardian (${this.record.serial}) cannot open it`,
        {
          hint: 'a tpm2-rsa capsule opens only through the TPM whose capsule-tpm1… recipient it was sealed to; a guardian restored from paper (or on a new TPM) opens only x25519 and p256-ecdh capsules',
        },
      );
    }
    const types = [...new Set(header.stanzas.map((s) => s.type))].join(', ');
    throw new CapsuleFormatError('ERR_NO_MATCHING_STANZA', `header.stanzas: none of ${header.stanzas.length} stanza(s) (${types}) is for this guardian`, {
      hint: 'this capsule was sealed to another guardian; compare its recipients with `capsule guardian show`',
    });
  }

  /** Options for sealing on this device with its own stanzas, the header signed by its slot key. */
  onGuardianSeal(stanzas: OwnStanza[]): OnGuardianSeal {
    const r = this.record;
    const recipients: string[] = [];
    let lock: Locker | undefined;
    for (const s of new Set(stanzas)) {
      if (s === 'x25519') recipients.push(r.recipients.x25519);
      else if (s === 'p256-ecdh') {
        if (!r.recipients.p256 || !this.keyStore.capabilities.ecdh) {
          throw new KeyStoreError(
            'ERR_UNSUPPORTED_BY_MODEL',
            `p256-ecdh: this guardian's module (${this.keyStore.capabilities.model}) has no ECDH, so it offers no P-256 recipient`,
            {
              hint: 'seal with the x25519 stanza (recoverable from paper) or zymbit-lock (this device only); p256-ecdh needs an HSM6, SCM or newer',
            },
          );
        }
        recipients.push(r.recipients.p256);
      } else if (s === 'zymbit-lock') {
        if (this.keyStore.capabilities.backend !== 'zymbit' && this.keyStore.capabilities.backend !== 'soft') {
          throw new KeyStoreError(
            'ERR_UNSUPPORTED_BY_MODEL',
            `zymbit-lock: this guardian's key store is ${this.keyStore.capabilities.backend}, not a Zymbit module`,
            {
              hint: 'on a TPM guardian seal with the tpm2-rsa stanza (this TPM only) or x25519 (recoverable from paper)',
            },
          );
        }
        lock = { lock: (d) => this.keyStore.lock(d), unlock: (b) => this.keyStore.unlock(b) };
      } else if (s === 'tpm2-rsa') {
        if (!r.recipients.tpm2) {
          throw new KeyStoreError('ERR_UNSUPPORTED_BY_MODEL', `tpm2-rsa: this guardian's key store is ${this.keyStore.capabilities.backend}, not a TPM`, {
            hint: 'seal with x25519 (recoverable from paper) or zymbit-lock (a Zymbit guardian, this device only)',
          });
        }
        recipients.push(r.recipients.tpm2);
      } else throw new TypeError(`stanzas: expected x25519, p256-ecdh, zymbit-lock or tpm2-rsa, got ${JSON.stringify(s)}`);
    }
    const slot = r.signingSlot;
    return { recipients, lock, guardian: { publicKey: this.signingKey, sign: (d) => this.keyStore.sign(d, slot) } };
  }

  async close(): Promise<void> {
    await this.keyStore.close();
  }
}

/** The compressed signing key of a slot, for provisioning. */
export async function slotSigningKey(ks: KeyStore, slot: number): Promise<Uint8Array> {
  return compressP256(await ks.publicKey(slot));
}
