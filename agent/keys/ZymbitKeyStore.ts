/**
 * The `zymbit` KeyStore: a ZymbitModule (the real libzk_app_utils.so or the simulator, same
 * binding) behind the async KeyStore interface. Lock blobs use the this-device-only key.
 *
 * The module runs each library call on a koffi worker thread, so the event loop never waits on
 * the hardware; a ModuleGuard keeps those calls one at a time on the single context, bounds each
 * by `timeoutMs` (a hung module answers ERR_MODULE_CALL, not a request that never ends) and
 * reports health (ok / failing), probing with the module's clock until it answers again.
 *
 * Its `wallet` (ZymbitWallet.ts) keeps BIP32/BIP39 wallets in the module (HSM6/SCM), through the
 * same guard.
 *
 * Deliberately not here: the key hierarchy (agent/keys/hierarchy.ts) and provisioning.
 */
import type { Capabilities, KeyStore } from './KeyStore.ts';
import { ModuleGuard, type ModuleHealth } from './ModuleGuard.ts';
import { ZymbitModule } from './zymbit/ZymbitModule.ts';
import { ZymbitWallet } from './zymbit/ZymbitWallet.ts';

export interface ZymbitKeyStoreOptions {
  /** A call not answered within this fails with ERR_MODULE_CALL (default 10 000 ms). */
  timeoutMs?: number;
  /** How often a failing module is probed for recovery (default min(1000, timeoutMs)). */
  probeIntervalMs?: number;
}

/** The default bound on one module call (config moduleTimeoutMs): zkGetTime precise takes up to 1 s. */
export const DEFAULT_MODULE_TIMEOUT_MS = 10_000;

export class ZymbitKeyStore implements KeyStore {
  readonly capabilities: Capabilities;
  readonly module: ZymbitModule;
  /** The module's wallet: every call refuses with ERR_UNSUPPORTED_BY_MODEL on a ZYMKEY4/HSM4. */
  readonly wallet: ZymbitWallet;
  readonly #guard: ModuleGuard;

  private constructor(module: ZymbitModule, options: ZymbitKeyStoreOptions) {
    this.module = module;
    this.capabilities = {
      backend: 'zymbit',
      model: module.info.model,
      hardware: !/simulated/i.test(module.info.model),
      ecdh: module.info.ecdh,
      serial: module.info.serial,
    };
    this.#guard = new ModuleGuard({
      timeoutMs: options.timeoutMs ?? DEFAULT_MODULE_TIMEOUT_MS,
      probeIntervalMs: options.probeIntervalMs,
      probe: () => this.module.time(false),
    });
    this.wallet = new ZymbitWallet(module, this.#guard);
  }

  /**
   * `libraryPath`: defaults to CAPSULE_ZYMBIT_LIB, then Zymbit's installed library.
   * @throws KeyStoreError ERR_MODULE_ABSENT when the library cannot be loaded or no module answers.
   */
  static open(libraryPath = process.env.CAPSULE_ZYMBIT_LIB ?? '/usr/lib/libzk_app_utils.so', options: ZymbitKeyStoreOptions = {}): ZymbitKeyStore {
    return new ZymbitKeyStore(ZymbitModule.open(libraryPath), options);
  }

  /** ok, or failing with the last module error's code and message (for /v1/status). */
  health(): ModuleHealth {
    return this.#guard.health;
  }

  randomBytes(size: number): Promise<Uint8Array> {
    return this.#guard.run('zkGetRandBytes', () => this.module.randomBytes(size));
  }

  lock(data: Uint8Array): Promise<Uint8Array> {
    return this.#guard.run('zkLockDataB2B', () => this.module.lock(data, false));
  }

  unlock(blob: Uint8Array): Promise<Uint8Array> {
    return this.#guard.run('zkUnlockDataB2B', () => this.module.unlock(blob, false));
  }

  publicKey(slot: number): Promise<Uint8Array> {
    return this.#guard.run('zkExportPubKey', () => this.module.publicKey(slot));
  }

  sign(digest: Uint8Array, slot: number): Promise<Uint8Array> {
    return this.#guard.run('zkGenECDSASigFromDigest', () => this.module.sign(digest, slot));
  }

  ecdh(slot: number, peer: Uint8Array): Promise<Uint8Array> {
    return this.#guard.run('zkDoRawECDH', () => this.module.ecdh(slot, peer));
  }

  time(): Promise<number> {
    return this.#guard.run('zkGetTime', () => this.module.time(false));
  }

  /** Closes the context once it is free; a module that does not answer is left to process exit. */
  async close(): Promise<void> {
    this.#guard.close();
    await this.#guard.run('zkClose', () => this.module.close()).catch(() => {});
  }
}
