/*
 * zk_app_utils.h — the subset of the Zymbit C API (libzk_app_utils.so) that the agent binds,
 * as documented in /work/shared/zymbit-c-api.md. Implemented for tests by the simulator in
 * zk_sim.c (libzk_sim.so); the real library exports the same symbols and signatures.
 *
 * Conventions: every function returns int, < 0 is failure. Every uint8_t** / char** / int**
 * output is allocated with malloc and must be released by the caller with libc free().
 */
#ifndef ZK_APP_UTILS_H
#define ZK_APP_UTILS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void* zkCTX;

typedef enum {
    ZK_NISTP256 = 0,
    ZK_SECP256R1 = ZK_NISTP256,
    ZK_SECP256K1 = 1,
    ZK_ED25519 = 2,
    ZK_X25519 = 3
} ZK_EC_KEY_TYPE;

typedef enum {
    ZK_KDF_RFC5869_SHA256 = 0,
    ZK_KDF_RFC5869_SHA512 = 1,
    ZK_KDF_PBKDF2_SHA256 = 2,
    ZK_KDF_PBKDF2_SHA512 = 3
} ZK_ECDH_KDF_TYPE;

int zkOpen(zkCTX* ctx);
int zkClose(zkCTX ctx);
int zkGetRandBytes(zkCTX ctx, uint8_t** rdata, int rdata_sz);
int zkLockDataB2B(zkCTX ctx, const uint8_t* src_pt, int src_pt_sz, uint8_t** dst_ct, int* dst_ct_sz, bool use_shared_key);
int zkUnlockDataB2B(zkCTX ctx, const uint8_t* src_ct, int src_ct_sz, uint8_t** dst_pt, int* dst_pt_sz, bool use_shared_key);
int zkGenECDSASigFromDigest(zkCTX ctx, const uint8_t* digest, int slot, uint8_t** sig, int* sig_sz);
int zkGenECDSASigFromDigestWithRecID(zkCTX ctx, const uint8_t* digest, int slot, uint8_t** sig, int* sig_sz, uint8_t* recovery_id);
int zkVerifyECDSASigFromDigest(zkCTX ctx, const uint8_t* digest, int pubkey_slot, const uint8_t* sig, int sig_sz);
int zkExportPubKey(zkCTX ctx, uint8_t** pk, int* pk_sz, int pubkey_slot, bool slot_is_foreign);
int zkGenKeyPair(zkCTX ctx, ZK_EC_KEY_TYPE type);
int zkRemoveKey(zkCTX ctx, int slot, bool slot_is_foreign);
int zkGetAllocSlotsList(zkCTX ctx, bool is_foreign, int* max_num_keys, int** alloc_key_list, int* alloc_key_list_sz);
int zkDoRawECDH(zkCTX ctx, int slot, const uint8_t* peer_pubkey, int peer_pubkey_sz, uint8_t** pre_master_secret);
int zkDoECDHAndKDF(zkCTX ctx, ZK_ECDH_KDF_TYPE kdf_type, int slot, const uint8_t* peer_pubkey, int peer_pubkey_sz,
                   const uint8_t* salt, int salt_sz, const uint8_t* info, int info_sz,
                   int num_iterations, int derived_key_sz, uint8_t** derived_key);
int zkGetTime(zkCTX ctx, uint32_t* epoch_time_sec, bool precise_time);
int zkGetModelNumberString(zkCTX ctx, char** model_str);
int zkGetFirmwareVersionString(zkCTX ctx, char** fw_ver_str);
int zkGetSerialNumberString(zkCTX ctx, char** serial_num_str);
/*
 * HSM6 / SCM digital wallet (BIP32/39/44), as in Zymbit's zk_app_utils.h and C API documentation
 * (see README.md "Wallet API" for sources and what is unverified on a device). Every call returns
 * < 0 on failure; the ZYMKEY4 model refuses them all. Node addresses are ASCII: "m", "m/44'/60'".
 */
/* A new wallet: its master seed's slot. With mnemonic != NULL the seed comes from 24 new BIP39
 * words (returned, malloc'd: the caller wipes and frees them); with NULL, a random BIP32 seed. */
int zkGenWalletMasterSeedWithBIP39(zkCTX ctx, ZK_EC_KEY_TYPE type, const char* variant, const char* wallet_name,
                                   const uint8_t* master_generator_key, int master_generator_key_size,
                                   const char* bip39_passphrase, char** mnemonic);
/* A wallet restored from BIP39 words (NUL-terminated, UTF-8 NFKD, English): its master seed's slot. */
int zkRestoreWalletMasterSeedFromBIP39Mnemonic(zkCTX ctx, ZK_EC_KEY_TYPE type, const char* variant,
                                               const char* wallet_name, const uint8_t* master_generator_key,
                                               int master_generator_key_size, const char* BIP39_passphrase,
                                               char* BIP39_mnemonic);
/* One BIP32 derivation step below a wallet node: the child's new slot. `index` excludes the hardened
 * bit; a chain code (32 bytes, malloc'd) is returned only for a hardened child when asked. */
int zkGenWalletChildKey(zkCTX ctx, int parent_key_slot, uint32_t index, bool is_hardened, bool return_chain_code,
                        uint8_t** chain_code);
/* The node address, wallet name (optional: NULL skips it) and master seed slot (optional) of a slot. */
int zkGetWalletNodeAddrFromKeySlot(zkCTX ctx, int slot, char** node_addr, char** wallet_name, int* master_seed_slot);
/* The slot of a node address in the wallet named wallet_name (or, with NULL, of master_seed_slot). */
int zkGetWalletKeySlotFromNodeAddr(zkCTX ctx, const char* node_addr, const char* wallet_name, int master_seed_slot,
                                   int* slot);

/* SIMULATOR ONLY — not in the vendor library. A wallet from a raw BIP32 seed (16..64 bytes), so that
 * tests can check the BIP32 test vectors (which start from seeds) through the binding. Production
 * code never calls it; the real module has no raw-seed import. */
int zkSimRestoreWalletMasterSeedFromSeed(zkCTX ctx, ZK_EC_KEY_TYPE type, const char* wallet_name, const uint8_t* seed,
                                         int seed_sz);

/* Simulator-only accounting exports (not present in the real libzk_app_utils.so). */
/* Total number of output buffers this library has handed to callers (per process, all contexts). */
int zkSimHandedOut(void);
/* Contexts opened by zkOpen minus contexts closed by zkClose (per process). */
int zkSimOpenContexts(void);

#ifdef __cplusplus
}
#endif

#endif /* ZK_APP_UTILS_H */
