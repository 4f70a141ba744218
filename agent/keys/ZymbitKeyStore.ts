/**
 * The `zymbit` KeyStore: a ZymbitModule (the real libzk_app_utils.so or the simulator, same
 * binding) behind the async KeyStore interface, with calls serialised on the one module context.
 * Lock blobs use the this-device-only key.
 *
 * The module runs each library call on a koffi worker thread, so the event loop never waits on
 * the hardware; this queue keeps those calls one at a time on the single context.
 *
 * Deliberately not here: the key hierarchy (agent/keys/hierarchy.ts) and provisioning.
 */
import type { Capabilities, KeyStore } from './KeyStore.ts';
import { SerialQueue } from './KeyStore.ts';
import { ZymbitModule } from './zymbit/ZymbitModule.ts';

export class ZymbitKeyStore implements KeyStore {
  readonly capabilities: Capabilities;
  readonly module: ZymbitModule;
  readonly #queue = new SerialQueue();

  private constructor(module: ZymbitModule) {
    this.module = module;
    this.capabilities = { backend: 'zymbit', model: module.info.model, hardware: !/simulated/i.test(module.info.model), ecdh: module.info.ecdh, serial: module.info.serial };
  }

  /** `libraryPath`: defaults to CAPSULE_ZYMBIT_LIB, then Zymbit's installed library. */
  static open(libraryPath = process.env.CAPSULE_ZYMBIT_LIB ?? '/usr/lib/libzk_app_utils.so'): ZymbitKeyStore {
    return new ZymbitKeyStore(ZymbitModule.open(libraryPath));
  }

  randomBytes(size: number): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.randomBytes(size));
  }

  lock(data: Uint8Array): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.lock(data, false));
  }

  unlock(blob: Uint8Array): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.unlock(blob, false));
  }

  publicKey(slot: number): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.publicKey(slot));
  }

  sign(digest: Uint8Array, slot: number): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.sign(digest, slot));
  }

  ecdh(slot: number, peer: Uint8Array): Promise<Uint8Array> {
    return this.#queue.run(() => this.module.ecdh(slot, peer));
  }

  time(): Promise<number> {
    return this.#queue.run(() => this.module.time(false));
  }

  close(): Promise<void> {
    return this.#queue.run(() => this.module.close());
  }
}
