/**
 * The wallet of a Zymbit HSM6/SCM (or the simulator): WalletKeys over the module's BIP32/BIP39
 * calls, each through the KeyStore's ModuleGuard (one call at a time on the context, bounded,
 * health kept). The seed and every private key stay in the module: a path is served by looking up
 * its node's slot (zkGetWalletKeySlotFromNodeAddr) and, on first use, creating the missing nodes
 * one BIP32 step at a time below the deepest existing ancestor (zkGenWalletChildKey) — the way
 * Zymbit's own wallet SDKs do. Signatures are made low-S, the module's recovery id flipped with S
 * (recoverableSignature.ts); the wallet layer proves each against the account's key (signEcdsa.ts).
 *
 * Deliberately not here: Schnorr (the Zymbit API has no such call: ERR_UNSUPPORTED_BY_MODEL),
 * a master generator key (how the module mixes one in is undocumented: always none, so the keys
 * are the standard BIP32 ones any wallet restores), caching slots (the module is the truth; a
 * lookup is one call), removing wallets.
 */
import { KeyStoreError, WalletError } from '../../errors.ts';
import { parseWalletPath } from '../bip32Path.ts';
import type { ModuleGuard } from '../ModuleGuard.ts';
import { compressPublicKey, lowS } from '../recoverableSignature.ts';
import {
  checkDigest,
  checkWalletName,
  walletMnemonic,
  walletPassphrase,
  type CreatedWallet,
  type RecoverableSignature,
  type SchnorrOptions,
  type WalletCapabilities,
  type WalletInfo,
  type WalletKeys,
  type WalletOptions,
} from '../WalletKeys.ts';
import type { ZymbitModule } from './ZymbitModule.ts';

/** Slots below this are the factory keys; wallet nodes are generated keys. */
const FIRST_GENERATED_SLOT = 16;

export class ZymbitWallet implements WalletKeys {
  readonly capabilities: WalletCapabilities;
  readonly #module: ZymbitModule;
  readonly #guard: ModuleGuard;

  constructor(module: ZymbitModule, guard: ModuleGuard) {
    this.#module = module;
    this.#guard = guard;
    this.capabilities = { supported: module.info.wallet, schnorr: false };
  }

  async create(name: string, options?: WalletOptions): Promise<CreatedWallet> {
    const wallet = checkWalletName(name);
    const passphrase = walletPassphrase(options);
    this.#supported();
    return this.#guard.run('zkGenWalletMasterSeedWithBIP39', async () => {
      await this.#refuseTaken(wallet);
      const { slot, mnemonic } = await this.#module.createWallet(wallet, passphrase);
      return { mnemonic, masterSlot: slot };
    });
  }

  async restore(name: string, mnemonic: string, options?: WalletOptions): Promise<{ masterSlot: number }> {
    const wallet = checkWalletName(name);
    const words = walletMnemonic(mnemonic);
    const passphrase = walletPassphrase(options);
    this.#supported();
    return this.#guard.run('zkRestoreWalletMasterSeedFromBIP39Mnemonic', async () => {
      await this.#refuseTaken(wallet);
      return { masterSlot: await this.#module.restoreWallet(wallet, passphrase, words) };
    });
  }

  async list(): Promise<WalletInfo[]> {
    this.#supported();
    return this.#guard.run('zkGetWalletNodeAddrFromKeySlot', () => this.#list());
  }

  async publicKey(name: string, path: string): Promise<Uint8Array> {
    const wallet = checkWalletName(name);
    const p = parseWalletPath(path);
    this.#supported();
    return this.#guard.run('zkExportPubKey', async () => compressPublicKey(await this.#module.publicKey(await this.#slotFor(wallet, p.prefixes, p.steps))));
  }

  async signDigest(name: string, path: string, digest: Uint8Array): Promise<RecoverableSignature> {
    const wallet = checkWalletName(name);
    const p = parseWalletPath(path);
    const d = Uint8Array.from(checkDigest(digest)); // a copy: the caller's buffer may change while the module works
    this.#supported();
    return this.#guard.run('zkGenECDSASigFromDigestWithRecID', async () => {
      const slot = await this.#slotFor(wallet, p.prefixes, p.steps);
      const { signature, recovery } = await this.#module.signWithRecovery(d, slot);
      return lowS(signature, recovery); // proven against the account's key by agent/wallet/signEcdsa.ts
    });
  }

  async signSchnorr(name: string, path: string, digest: Uint8Array, options: SchnorrOptions): Promise<Uint8Array> {
    checkWalletName(name);
    parseWalletPath(path);
    checkDigest(digest);
    if (options?.taprootTweak !== null) checkDigest(options?.taprootTweak, 'taprootTweak');
    throw new KeyStoreError(
      'ERR_UNSUPPORTED_BY_MODEL',
      `zymbit: Schnorr (BIP340) signing is not in the Zymbit API, which signs only ECDSA from a digest; this module is ${this.#module.info.model}`,
      {
        hint: "Taproot (m/86'/…) key-path spends need a custodian with Schnorr; use P2WPKH (m/84'/…) accounts with this module",
      },
    );
  }

  #supported(): void {
    if (!this.#module.info.wallet) {
      throw new KeyStoreError('ERR_UNSUPPORTED_BY_MODEL', `zymbit: wallet keys need an HSM6 or SCM; this module is ${this.#module.info.model}`, {
        hint: 'the ZYMKEY4 and HSM4 have no wallet (BIP32) keys; use an HSM6 or SCM',
      });
    }
  }

  async #list(): Promise<WalletInfo[]> {
    const out: WalletInfo[] = [];
    for (const slot of await this.#module.slots()) {
      if (slot < FIRST_GENERATED_SLOT) continue;
      const node = await this.#module.walletNode(slot); // undefined: a plain generated key
      if (node?.node === 'm') out.push({ name: node.wallet, masterSlot: slot });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.masterSlot - b.masterSlot));
  }

  async #refuseTaken(wallet: string): Promise<void> {
    if ((await this.#module.walletSlot('m', wallet)) !== undefined) {
      throw new WalletError('ERR_WALLET_EXISTS', `wallet: a wallet named ${JSON.stringify(wallet)} already exists on this module`, {
        hint: "choose another name; a wallet's accounts are addressed by name, so names are unique",
      });
    }
  }

  /** The master seed slot of `wallet`; ERR_NO_WALLET when the module lists no such wallet. */
  async #master(wallet: string): Promise<number> {
    const slot = await this.#module.walletSlot('m', wallet);
    if (slot !== undefined) return slot;
    // The lookup answers < 0 both for "no such wallet" and for a failure: the list tells them apart.
    if ((await this.#list()).some((w) => w.name === wallet)) {
      throw new KeyStoreError('ERR_MODULE_CALL', 'zymbit: zkGetWalletKeySlotFromNodeAddr failed for a wallet the module lists');
    }
    throw new WalletError('ERR_NO_WALLET', `wallet: no wallet named ${JSON.stringify(wallet)} on this module`, {
      hint: 'create it (capsule wallet create) or restore it from its words (capsule wallet restore)',
    });
  }

  /** The slot of the node at `prefixes.at(-1)`, creating missing nodes below the deepest existing one. */
  async #slotFor(wallet: string, prefixes: string[], steps: { index: number; hardened: boolean }[]): Promise<number> {
    const master = await this.#master(wallet);
    let depth = prefixes.length;
    let slot: number | undefined;
    for (; depth > 0; depth--) {
      slot = await this.#module.walletSlot(prefixes[depth - 1]!, { masterSlot: master });
      if (slot !== undefined) break;
    }
    if (slot === undefined) slot = master;
    for (let i = depth; i < steps.length; i++) {
      slot = (await this.#module.deriveWalletChild(slot, steps[i]!.index, steps[i]!.hardened)).slot;
    }
    return slot;
  }
}
