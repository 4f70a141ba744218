/**
 * A Zymbit security module (or the simulator) through the raw bindings: typed results, typed
 * errors naming the call and the library, and every library-allocated buffer copied out and freed
 * with libc `free` before returning (counted in `freed`, so tests can prove nothing leaks).
 * Capabilities come from the model string: ZYMKEY4/HSM4 have P-256 slots 0–2 and no ECDH;
 * HSM6/SCM add secp256k1, generated keys, ECDH and the BIP32/BIP39 wallet (each wallet call is one
 * library call here; walking a path and choosing slots is ZymbitWallet.ts).
 *
 * Every call after open() runs on koffi's worker threads (`fn.async`), so a module that blocks
 * (zkGetTime precise can take 1 s; an I2C bus hiccup longer) never stalls the event loop. Opening
 * reads the model, firmware and serial synchronously: it happens once, at start.
 *
 * Deliberately not here: serialising calls across callers (the KeyStore that owns a module does
 * that: one context must not be used concurrently), and key hierarchy or provisioning.
 */
import koffi from 'koffi';
import { KeyStoreError } from '../../errors.ts';
import { loadZkLibrary, ZK_KDF_RFC5869_SHA256, ZK_SECP256K1, type ZkLibrary } from './zkBindings.ts';

export interface ModuleInfo {
  model: string;
  firmware: string;
  serial: string;
  ecdh: boolean;
  secp256k1: boolean;
  /** The BIP32/BIP39 wallet calls (HSM6, SCM and newer). */
  wallet: boolean;
}

/** Where a wallet slot sits: its node address ("m/44'/60'"), wallet name and master seed slot. */
export interface WalletNode {
  node: string;
  wallet: string;
  masterSlot: number;
}

export class ZymbitModule {
  readonly #lib: ZkLibrary;
  #ctx: unknown;
  /** Library buffers freed so far (for leak tests: compare with the simulator's count). */
  freed = 0;
  readonly info: ModuleInfo;

  private constructor(lib: ZkLibrary, ctx: unknown) {
    this.#lib = lib;
    this.#ctx = ctx;
    const model = this.#string('zkGetModelNumberString', (o) => lib.zkGetModelNumberString(ctx, o));
    const full = /HSM6|SCM|HSM60|ZYMKEY5/i.test(model);
    this.info = {
      model,
      firmware: this.#string('zkGetFirmwareVersionString', (o) => lib.zkGetFirmwareVersionString(ctx, o)),
      serial: this.#string('zkGetSerialNumberString', (o) => lib.zkGetSerialNumberString(ctx, o)),
      ecdh: full,
      secp256k1: full,
      wallet: full,
    };
  }

  /** Opens the module through the library at `libraryPath` (the real one or the simulator). */
  static open(libraryPath: string): ZymbitModule {
    let lib: ZkLibrary;
    try {
      lib = loadZkLibrary(libraryPath);
    } catch (cause) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', `zymbit: cannot load ${libraryPath}`, {
        cause,
        hint: "install Zymbit's packages (libzk_app_utils.so), or set CAPSULE_ZYMBIT_LIB to the library path",
      });
    }
    const out: [unknown] = [null];
    const rc = lib.zkOpen(out);
    if (rc < 0 || !out[0]) {
      throw new KeyStoreError('ERR_MODULE_ABSENT', `zymbit: zkOpen failed (${rc}) through ${libraryPath}: no security module answered`, {
        hint: 'check the module is seated and zkifc is running (systemctl status zkifc)',
      });
    }
    return new ZymbitModule(lib, out[0]);
  }

  async close(): Promise<void> {
    const ctx = this.#ctx;
    this.#ctx = undefined;
    if (ctx) await this.#call('zkClose', ctx);
  }

  async randomBytes(size: number): Promise<Uint8Array> {
    if (!Number.isInteger(size) || size < 1 || size > 65536) throw new RangeError(`size: expected 1..65536, got ${size}`);
    const out: [unknown] = [null];
    this.#check('zkGetRandBytes', await this.#call('zkGetRandBytes', this.#live(), out, size));
    return this.#take(out[0], size);
  }

  /** Locks `data` with the module's this-device-only key (or the shared key). */
  async lock(data: Uint8Array, shared = false): Promise<Uint8Array> {
    const out: [unknown] = [null];
    const size: [number] = [0];
    this.#check('zkLockDataB2B', await this.#call('zkLockDataB2B', this.#live(), data, data.length, out, size, shared));
    return this.#take(out[0], size[0]);
  }

  /** Unlocks a blob; a tampered blob (or one from another device) is ERR_LOCK_INTEGRITY. */
  async unlock(blob: Uint8Array, shared = false): Promise<Uint8Array> {
    const out: [unknown] = [null];
    const size: [number] = [0];
    const rc = await this.#call('zkUnlockDataB2B', this.#live(), blob, blob.length, out, size, shared);
    // 1 is success (as Zymbit's own Python binding treats it); 0 is an integrity failure.
    if (rc === 1 && out[0]) return this.#take(out[0], size[0]);
    if (out[0]) this.#free(out[0]);
    if (rc === 0) {
      throw new KeyStoreError('ERR_LOCK_INTEGRITY', 'zymbit: locked blob failed its integrity check (tampered, or locked by another device)', {
        hint: 'a blob locked with this-device-only key opens only on the module that locked it',
      });
    }
    throw this.#error('zkUnlockDataB2B', rc);
  }

  /** ECDSA over a 32-byte digest with a slot key: raw r ‖ s (64 bytes, as the module returns it). */
  async sign(digest: Uint8Array, slot: number): Promise<Uint8Array> {
    digest32(digest);
    const out: [unknown] = [null];
    const size: [number] = [0];
    this.#check('zkGenECDSASigFromDigest', await this.#call('zkGenECDSASigFromDigest', this.#live(), digest, slot, out, size));
    return this.#take(out[0], size[0]);
  }

  /**
   * ECDSA with the recovery id (secp256k1 slots on HSM6/SCM): r ‖ s as the module returns it (S not
   * normalised) and the recovery id for that S.
   */
  async signWithRecovery(digest: Uint8Array, slot: number): Promise<{ signature: Uint8Array; recovery: number }> {
    digest32(digest);
    this.#needsFull('zkGenECDSASigFromDigestWithRecID', WALLET_HINT);
    const out: [unknown] = [null];
    const size: [number] = [0];
    const recovery: [number] = [0];
    this.#check('zkGenECDSASigFromDigestWithRecID', await this.#call('zkGenECDSASigFromDigestWithRecID', this.#live(), digest, slot, out, size, recovery));
    return { signature: this.#take(out[0], size[0]), recovery: recovery[0] };
  }

  /**
   * A new secp256k1 wallet `name` whose seed comes from 24 new BIP39 words (with `passphrase`,
   * NFKD, '' for none) and no master generator key: its master seed slot and the words. The
   * library's copy of the words is wiped before it is freed; the caller shows them once.
   * @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL (no wallet on this model), ERR_MODULE_CALL
   *   (refused, e.g. the name is taken, or failed: the library does not say which)
   */
  async createWallet(name: string, passphrase: string): Promise<{ slot: number; mnemonic: string }> {
    this.#needsFull('zkGenWalletMasterSeedWithBIP39', WALLET_HINT);
    const pass = cString(passphrase);
    const out: [unknown] = [null];
    try {
      const slot = await this.#call('zkGenWalletMasterSeedWithBIP39', this.#live(), ZK_SECP256K1, '', name, null, 0, pass, out);
      if (slot < 0) {
        if (out[0]) this.#free(out[0], true);
        throw this.#error('zkGenWalletMasterSeedWithBIP39', slot);
      }
      if (!out[0]) throw new KeyStoreError('ERR_MODULE_CALL', 'zymbit: zkGenWalletMasterSeedWithBIP39 returned no mnemonic');
      let mnemonic: string;
      try {
        mnemonic = koffiString(out[0]);
      } finally {
        this.#free(out[0], true);
      }
      return { slot, mnemonic };
    } finally {
      pass.fill(0);
    }
  }

  /**
   * Restores a secp256k1 wallet `name` from BIP39 words (NFKD, single spaces) and `passphrase`:
   * its master seed slot. The NUL-terminated copies handed to the library are wiped afterwards.
   * @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL (refused or failed)
   */
  async restoreWallet(name: string, passphrase: string, mnemonic: string): Promise<number> {
    this.#needsFull('zkRestoreWalletMasterSeedFromBIP39Mnemonic', WALLET_HINT);
    const pass = cString(passphrase);
    const words = cString(mnemonic);
    try {
      const slot = await this.#call('zkRestoreWalletMasterSeedFromBIP39Mnemonic', this.#live(), ZK_SECP256K1, '', name, null, 0, pass, words);
      this.#check('zkRestoreWalletMasterSeedFromBIP39Mnemonic', slot);
      return slot;
    } finally {
      pass.fill(0);
      words.fill(0);
    }
  }

  /**
   * SIMULATOR ONLY (zkSimRestoreWalletMasterSeedFromSeed is not in the vendor library): a wallet
   * from a raw BIP32 seed, so tests can check the BIP32 vectors through this binding. Production
   * code never calls it.
   * @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL when the library is not the simulator
   */
  async simulatorWalletFromSeed(name: string, seed: Uint8Array): Promise<number> {
    if (!this.#lib.zkSimRestoreWalletMasterSeedFromSeed) {
      throw new KeyStoreError('ERR_UNSUPPORTED_BY_MODEL', 'zymbit: zkSimRestoreWalletMasterSeedFromSeed exists only in the simulator library');
    }
    const slot = await this.#call('zkSimRestoreWalletMasterSeedFromSeed', this.#live(), ZK_SECP256K1, name, seed, seed.length);
    this.#check('zkSimRestoreWalletMasterSeedFromSeed', slot);
    return slot;
  }

  /**
   * One BIP32 step: the child `index` (< 2^31; `hardened` adds 2^31) of wallet slot `parent`, in a
   * new slot; with `withChainCode` (hardened only) also its 32-byte chain code.
   * @throws KeyStoreError ERR_UNSUPPORTED_BY_MODEL, ERR_MODULE_CALL (refused or failed)
   */
  async deriveWalletChild(parent: number, index: number, hardened: boolean, withChainCode = false): Promise<{ slot: number; chainCode?: Uint8Array }> {
    this.#needsFull('zkGenWalletChildKey', WALLET_HINT);
    if (!Number.isInteger(index) || index < 0 || index >= 2 ** 31) throw new RangeError(`index: expected an integer 0..2147483647, got ${index}`);
    const out: [unknown] = [null];
    const slot = await this.#call('zkGenWalletChildKey', this.#live(), parent, index, hardened, withChainCode, out);
    if (slot < 0) {
      if (out[0]) this.#free(out[0]);
      throw this.#error('zkGenWalletChildKey', slot);
    }
    if (!withChainCode) {
      if (out[0]) this.#free(out[0]);
      return { slot };
    }
    return { slot, chainCode: this.#take(out[0], 32) };
  }

  /**
   * The wallet node in `slot`, or undefined when the library answers < 0 (not a wallet slot — or a
   * failure: the library does not distinguish them; callers that must, check another way).
   */
  async walletNode(slot: number): Promise<WalletNode | undefined> {
    this.#needsFull('zkGetWalletNodeAddrFromKeySlot', WALLET_HINT);
    const node: [unknown] = [null];
    const wallet: [unknown] = [null];
    const master: [number] = [-1];
    const rc = await this.#call('zkGetWalletNodeAddrFromKeySlot', this.#live(), slot, node, wallet, master);
    try {
      if (rc < 0 || !node[0] || !wallet[0]) return undefined;
      return { node: koffiString(node[0]), wallet: koffiString(wallet[0]), masterSlot: master[0] };
    } finally {
      if (node[0]) this.#free(node[0]);
      if (wallet[0]) this.#free(wallet[0]);
    }
  }

  /**
   * The slot of node address `node` in wallet `wallet` (a name, or its master seed slot), or
   * undefined when the library answers < 0 (no such node — or a failure, as for walletNode).
   */
  async walletSlot(node: string, wallet: string | { masterSlot: number }): Promise<number | undefined> {
    this.#needsFull('zkGetWalletKeySlotFromNodeAddr', WALLET_HINT);
    const out: [number] = [-1];
    const byName = typeof wallet === 'string';
    const rc = await this.#call('zkGetWalletKeySlotFromNodeAddr', this.#live(), node, byName ? wallet : null, byName ? 0 : wallet.masterSlot, out);
    return rc < 0 ? undefined : out[0];
  }

  async verify(digest: Uint8Array, slot: number, signature: Uint8Array): Promise<boolean> {
    digest32(digest);
    const rc = await this.#call('zkVerifyECDSASigFromDigest', this.#live(), digest, slot, signature, signature.length);
    if (rc < 0) throw this.#error('zkVerifyECDSASigFromDigest', rc);
    return rc === 1;
  }

  /** A slot's public key: 64 bytes X ‖ Y. */
  async publicKey(slot: number): Promise<Uint8Array> {
    const out: [unknown] = [null];
    const size: [number] = [0];
    this.#check('zkExportPubKey', await this.#call('zkExportPubKey', this.#live(), out, size, slot, false));
    return this.#take(out[0], size[0]);
  }

  async generateKey(type: number): Promise<number> {
    this.#needsFull('zkGenKeyPair', ECDH_HINT);
    const slot = await this.#call('zkGenKeyPair', this.#live(), type);
    this.#check('zkGenKeyPair', slot);
    return slot;
  }

  async removeKey(slot: number): Promise<void> {
    this.#check('zkRemoveKey', await this.#call('zkRemoveKey', this.#live(), slot, false));
  }

  async slots(): Promise<number[]> {
    const max: [number] = [0];
    const list: [unknown] = [null];
    const size: [number] = [0];
    this.#check('zkGetAllocSlotsList', await this.#call('zkGetAllocSlotsList', this.#live(), false, max, list, size));
    const bytes = this.#take(list[0], size[0] * 4);
    return [...new Int32Array(bytes.buffer, bytes.byteOffset, size[0])];
  }

  /** Raw ECDH with a slot key and a peer public key (64 bytes X ‖ Y): the 32-byte shared X. */
  async ecdh(slot: number, peer: Uint8Array): Promise<Uint8Array> {
    this.#needsFull('zkDoRawECDH', ECDH_HINT);
    const out: [unknown] = [null];
    this.#check('zkDoRawECDH', await this.#call('zkDoRawECDH', this.#live(), slot, peer, peer.length, out));
    return this.#take(out[0], 32);
  }

  /** ECDH then HKDF-SHA256 inside the module. */
  async ecdhHkdf(slot: number, peer: Uint8Array, salt: Uint8Array, info: Uint8Array, size: number): Promise<Uint8Array> {
    this.#needsFull('zkDoECDHAndKDF', ECDH_HINT);
    const out: [unknown] = [null];
    this.#check(
      'zkDoECDHAndKDF',
      await this.#call('zkDoECDHAndKDF', this.#live(), ZK_KDF_RFC5869_SHA256, slot, peer, peer.length, salt, salt.length, info, info.length, 0, size, out),
    );
    return this.#take(out[0], size);
  }

  /** The module's clock (its RTC where present), seconds since the epoch; `precise` may block up to 1 s. */
  async time(precise = false): Promise<number> {
    const out: [number] = [0];
    this.#check('zkGetTime', await this.#call('zkGetTime', this.#live(), out, precise));
    return out[0];
  }

  /** One library call on a koffi worker thread; resolves with its int result. */
  #call(name: keyof ZkLibrary, ...args: unknown[]): Promise<number> {
    const fn = this.#lib[name] as unknown as { async: (...a: unknown[]) => void };
    return new Promise((resolve, reject) => {
      fn.async(...args, (err: unknown, rc: number) =>
        err ? reject(new KeyStoreError('ERR_MODULE_CALL', `zymbit: ${name} could not be called`, { cause: err })) : resolve(rc),
      );
    });
  }

  #live(): unknown {
    if (!this.#ctx) throw new KeyStoreError('ERR_MODULE_CALL', 'zymbit: module is closed');
    return this.#ctx;
  }

  #needsFull(call: string, hint: string): void {
    if (!this.info.ecdh) {
      throw new KeyStoreError('ERR_UNSUPPORTED_BY_MODEL', `zymbit: ${call} needs an HSM6, SCM or newer; this module is ${this.info.model}`, { hint });
    }
  }

  #check(call: string, rc: number): void {
    if (rc < 0) throw this.#error(call, rc);
  }

  #error(call: string, rc: number): KeyStoreError {
    // No library path here: this message reaches HTTP clients (503), and the path is an internal.
    return new KeyStoreError('ERR_MODULE_CALL', `zymbit: ${call} failed (${rc})`, {
      hint: 'the security module did not complete the call; check it is seated and zkifc is running',
    });
  }

  /** Copies `size` bytes out of a library buffer and frees it. */
  #take(ptr: unknown, size: number): Uint8Array {
    if (!ptr) throw new KeyStoreError('ERR_MODULE_CALL', `zymbit: the library returned no buffer (expected ${size} bytes)`);
    try {
      return size > 0 ? koffiDecode(ptr, size) : new Uint8Array(0);
    } finally {
      this.#free(ptr);
    }
  }

  /** Frees a library buffer; `secretString` first wipes it (a NUL-terminated secret, e.g. words). */
  #free(ptr: unknown, secretString = false): void {
    if (secretString) this.#lib.wipe(ptr, Buffer.byteLength(koffiString(ptr)));
    this.#lib.free(ptr);
    this.freed++;
  }

  #string(call: string, f: (out: [unknown]) => number): string {
    const out: [unknown] = [null];
    this.#check(call, f(out));
    try {
      return koffiString(out[0]);
    } finally {
      this.#free(out[0]);
    }
  }
}

function koffiDecode(ptr: unknown, size: number): Uint8Array {
  return Uint8Array.from(koffi.decode(ptr, koffi.array('uint8_t', size)) as Uint8Array);
}
function koffiString(ptr: unknown): string {
  return koffi.decode(ptr, 'char', -1) as string;
}

const ECDH_HINT = 'use the x25519 stanza (off-device) or zymbit-lock on this model';
const WALLET_HINT = 'wallet keys need an HSM6 or SCM; on this model use the soft backend for development only';

/** A NUL-terminated UTF-8 copy of `s` for a `const char *` the caller wipes afterwards. */
function cString(s: string): Uint8Array {
  const bytes = Buffer.from(s, 'utf8');
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  bytes.fill(0);
  return out;
}

function digest32(d: Uint8Array): void {
  if (!(d instanceof Uint8Array) || d.length !== 32) throw new TypeError(`digest: expected 32 bytes, got ${d instanceof Uint8Array ? d.length : typeof d}`);
}
