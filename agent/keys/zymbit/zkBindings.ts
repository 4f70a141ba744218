/**
 * Raw koffi bindings to the Zymbit C API (`libzk_app_utils.so`, or the simulator in native/ that
 * exports the same symbols): one declaration per function in ../../../../shared/zymbit-c-api.md,
 * plus libc `free` for the buffers the library allocates. Nothing here checks or converts results:
 * that is ZymbitModule.ts. The wallet calls follow Zymbit's zk_app_utils.h (native/README.md
 * "Wallet API" records the sources and what is unverified on a device); secret inputs (mnemonic,
 * passphrase) are declared as byte pointers so the caller can pass NUL-terminated buffers it wipes.
 * Deliberately not here: the older wallet API (zkGenWalletMasterSeed without a variant), SLIP39,
 * oversight wallets.
 */
import koffi, { type LibraryHandle } from 'koffi';

export interface ZkLibrary {
  path: string;
  zkOpen: (ctx: [unknown]) => number;
  zkClose: (ctx: unknown) => number;
  zkGetRandBytes: (ctx: unknown, out: [unknown], size: number) => number;
  zkLockDataB2B: (ctx: unknown, src: Uint8Array, srcSize: number, out: [unknown], outSize: [number], shared: boolean) => number;
  zkUnlockDataB2B: (ctx: unknown, src: Uint8Array, srcSize: number, out: [unknown], outSize: [number], shared: boolean) => number;
  zkGenECDSASigFromDigest: (ctx: unknown, digest: Uint8Array, slot: number, sig: [unknown], sigSize: [number]) => number;
  zkGenECDSASigFromDigestWithRecID: (ctx: unknown, digest: Uint8Array, slot: number, sig: [unknown], sigSize: [number], recId: [number]) => number;
  zkVerifyECDSASigFromDigest: (ctx: unknown, digest: Uint8Array, slot: number, sig: Uint8Array, sigSize: number) => number;
  zkExportPubKey: (ctx: unknown, out: [unknown], outSize: [number], slot: number, foreign: boolean) => number;
  zkGenKeyPair: (ctx: unknown, type: number) => number;
  zkRemoveKey: (ctx: unknown, slot: number, foreign: boolean) => number;
  zkGetAllocSlotsList: (ctx: unknown, foreign: boolean, max: [number], list: [unknown], listSize: [number]) => number;
  zkDoRawECDH: (ctx: unknown, slot: number, peer: Uint8Array, peerSize: number, out: [unknown]) => number;
  zkDoECDHAndKDF: (
    ctx: unknown,
    kdf: number,
    slot: number,
    peer: Uint8Array,
    peerSize: number,
    salt: Uint8Array,
    saltSize: number,
    info: Uint8Array,
    infoSize: number,
    iterations: number,
    size: number,
    out: [unknown],
  ) => number;
  zkGetTime: (ctx: unknown, seconds: [number], precise: boolean) => number;
  zkGetModelNumberString: (ctx: unknown, out: [unknown]) => number;
  zkGetFirmwareVersionString: (ctx: unknown, out: [unknown]) => number;
  zkGetSerialNumberString: (ctx: unknown, out: [unknown]) => number;
  zkGenWalletMasterSeedWithBIP39: (
    ctx: unknown,
    type: number,
    variant: string,
    name: string,
    generatorKey: Uint8Array | null,
    generatorKeySize: number,
    passphrase: Uint8Array,
    mnemonic: [unknown],
  ) => number;
  zkRestoreWalletMasterSeedFromBIP39Mnemonic: (
    ctx: unknown,
    type: number,
    variant: string,
    name: string,
    generatorKey: Uint8Array | null,
    generatorKeySize: number,
    passphrase: Uint8Array,
    mnemonic: Uint8Array,
  ) => number;
  zkGenWalletChildKey: (ctx: unknown, parent: number, index: number, hardened: boolean, returnChainCode: boolean, chainCode: [unknown]) => number;
  zkGetWalletNodeAddrFromKeySlot: (ctx: unknown, slot: number, node: [unknown], name: [unknown], master: [number]) => number;
  zkGetWalletKeySlotFromNodeAddr: (ctx: unknown, node: string, name: string | null, master: number, slot: [number]) => number;
  /** SIMULATOR ONLY (absent from the vendor library): a wallet from a raw BIP32 seed, for test vectors. */
  zkSimRestoreWalletMasterSeedFromSeed?: (ctx: unknown, type: number, name: string, seed: Uint8Array, seedSize: number) => number;
  free: (ptr: unknown) => void;
  /** libc explicit_bzero: wipes a library buffer (a mnemonic) before it is freed. */
  wipe: (ptr: unknown, size: number) => void;
}

/** Loads `path`; throws whatever koffi throws (ZymbitModule turns it into a typed error). */
export function loadZkLibrary(path: string): ZkLibrary {
  const lib = koffi.load(path);
  const libc = koffi.load('libc.so.6');
  const f = (proto: string) => lib.func(proto) as never;
  return {
    path,
    zkOpen: f('int zkOpen(_Out_ void **ctx)'),
    zkClose: f('int zkClose(void *ctx)'),
    zkGetRandBytes: f('int zkGetRandBytes(void *ctx, _Out_ uint8_t **rdata, int rdata_sz)'),
    zkLockDataB2B: f('int zkLockDataB2B(void *ctx, const uint8_t *src_pt, int src_pt_sz, _Out_ uint8_t **dst_ct, _Out_ int *dst_ct_sz, bool use_shared_key)'),
    zkUnlockDataB2B: f(
      'int zkUnlockDataB2B(void *ctx, const uint8_t *src_ct, int src_ct_sz, _Out_ uint8_t **dst_pt, _Out_ int *dst_pt_sz, bool use_shared_key)',
    ),
    zkGenECDSASigFromDigest: f('int zkGenECDSASigFromDigest(void *ctx, const uint8_t *digest, int slot, _Out_ uint8_t **sig, _Out_ int *sig_sz)'),
    zkGenECDSASigFromDigestWithRecID: f(
      'int zkGenECDSASigFromDigestWithRecID(void *ctx, const uint8_t *digest, int slot, _Out_ uint8_t **sig, _Out_ int *sig_sz, _Out_ uint8_t *recovery_id)',
    ),
    zkVerifyECDSASigFromDigest: f('int zkVerifyECDSASigFromDigest(void *ctx, const uint8_t *digest, int pubkey_slot, const uint8_t *sig, int sig_sz)'),
    zkExportPubKey: f('int zkExportPubKey(void *ctx, _Out_ uint8_t **pk, _Out_ int *pk_sz, int pubkey_slot, bool slot_is_foreign)'),
    zkGenKeyPair: f('int zkGenKeyPair(void *ctx, int type)'),
    zkRemoveKey: f('int zkRemoveKey(void *ctx, int slot, bool slot_is_foreign)'),
    zkGetAllocSlotsList: f(
      'int zkGetAllocSlotsList(void *ctx, bool is_foreign, _Out_ int *max_num_keys, _Out_ int **alloc_key_list, _Out_ int *alloc_key_list_sz)',
    ),
    zkDoRawECDH: f('int zkDoRawECDH(void *ctx, int slot, const uint8_t *peer_pubkey, int peer_pubkey_sz, _Out_ uint8_t **pre_master_secret)'),
    zkDoECDHAndKDF: f(
      'int zkDoECDHAndKDF(void *ctx, int kdf_type, int slot, const uint8_t *peer_pubkey, int peer_pubkey_sz, const uint8_t *salt, int salt_sz, const uint8_t *info, int info_sz, int num_iterations, int derived_key_sz, _Out_ uint8_t **derived_key)',
    ),
    zkGetTime: f('int zkGetTime(void *ctx, _Out_ uint32_t *epoch_time_sec, bool precise_time)'),
    // char ** outputs are declared void ** so koffi hands back the pointer (to free), not a JS string.
    zkGetModelNumberString: f('int zkGetModelNumberString(void *ctx, _Out_ void **model_str)'),
    zkGetFirmwareVersionString: f('int zkGetFirmwareVersionString(void *ctx, _Out_ void **fw_ver_str)'),
    zkGetSerialNumberString: f('int zkGetSerialNumberString(void *ctx, _Out_ void **serial_num_str)'),
    zkGenWalletMasterSeedWithBIP39: f(
      'int zkGenWalletMasterSeedWithBIP39(void *ctx, int type, const char *variant, const char *wallet_name, const uint8_t *master_generator_key, int master_generator_key_size, const uint8_t *bip39_passphrase, _Out_ void **mnemonic)',
    ),
    zkRestoreWalletMasterSeedFromBIP39Mnemonic: f(
      'int zkRestoreWalletMasterSeedFromBIP39Mnemonic(void *ctx, int type, const char *variant, const char *wallet_name, const uint8_t *master_generator_key, int master_generator_key_size, const uint8_t *BIP39_passphrase, uint8_t *BIP39_mnemonic)',
    ),
    zkGenWalletChildKey: f(
      'int zkGenWalletChildKey(void *ctx, int parent_key_slot, uint32_t index, bool is_hardened, bool return_chain_code, _Out_ uint8_t **chain_code)',
    ),
    zkGetWalletNodeAddrFromKeySlot: f(
      'int zkGetWalletNodeAddrFromKeySlot(void *ctx, int slot, _Out_ void **node_addr, _Out_ void **wallet_name, _Out_ int *master_seed_slot)',
    ),
    zkGetWalletKeySlotFromNodeAddr: f(
      'int zkGetWalletKeySlotFromNodeAddr(void *ctx, const char *node_addr, const char *wallet_name, int master_seed_slot, _Out_ int *slot)',
    ),
    zkSimRestoreWalletMasterSeedFromSeed: optional(
      lib,
      'int zkSimRestoreWalletMasterSeedFromSeed(void *ctx, int type, const char *wallet_name, const uint8_t *seed, int seed_sz)',
    ),
    free: libc.func('void free(void *ptr)') as never,
    wipe: libc.func('void explicit_bzero(void *ptr, size_t size)') as never,
  };
}

/** A function the library may lack (the simulator-only entries): undefined when it is absent. */
function optional(lib: LibraryHandle, proto: string): never {
  try {
    return lib.func(proto) as never;
  } catch {
    return undefined as never;
  }
}

export const ZK_NISTP256 = 0;
export const ZK_SECP256K1 = 1;
export const ZK_ED25519 = 2;
export const ZK_X25519 = 3;
export const ZK_KDF_RFC5869_SHA256 = 0;
export const ZK_KDF_RFC5869_SHA512 = 1;
export const ZK_KDF_PBKDF2_SHA256 = 2;
export const ZK_KDF_PBKDF2_SHA512 = 3;
