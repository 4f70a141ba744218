/*
 * zk_sim_bip.h — BIP32 (secp256k1 private derivation) and BIP39 (English mnemonics, seeds) for the
 * simulator's wallet calls in zk_sim.c. Internal to libzk_sim.so (hidden visibility): not part of
 * the Zymbit API. Every function returns 0 on success, -1 on failure, and wipes its temporaries.
 */
#ifndef ZK_SIM_BIP_H
#define ZK_SIM_BIP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define ZKS_HIDDEN __attribute__((visibility("hidden")))

/* BIP32 master key from a seed (16..64 bytes): HMAC-SHA512("Bitcoin seed", seed) = k ‖ c.
 * Fails when k is 0 or ≥ n (BIP32: "the master key is invalid"). */
ZKS_HIDDEN int zks_bip32_master(const uint8_t* seed, size_t seed_len, uint8_t k[32], uint8_t c[32]);

/* BIP32 CKDpriv: child (k, c) of parent (kpar, cpar) at index i (i ≥ 2^31 is hardened).
 * Fails when I_L ≥ n or the child key is 0 (BIP32 says: proceed with the next i; the caller decides). */
ZKS_HIDDEN int zks_bip32_ckd_priv(const uint8_t kpar[32], const uint8_t cpar[32], uint32_t i, uint8_t k[32],
                                  uint8_t c[32]);

/* An EVP_PKEY (secp256k1 key pair) from a private scalar; NULL on failure. */
ZKS_HIDDEN EVP_PKEY* zks_k1_pkey_from_priv(const uint8_t k[32]);

/* The 32-byte private scalar of an EC EVP_PKEY. */
ZKS_HIDDEN int zks_pkey_priv32(const EVP_PKEY* pkey, uint8_t k[32]);

/* A BIP39 mnemonic (English, single spaces, NUL-terminated, malloc'd) for 16/20/24/28/32 bytes of
 * entropy; NULL on failure. The caller wipes and frees it. */
ZKS_HIDDEN char* zks_bip39_from_entropy(const uint8_t* entropy, size_t len);

/* 0 when `mnemonic` is 12/15/18/21/24 lower-case English words separated by single spaces with a
 * valid checksum; -1 otherwise. */
ZKS_HIDDEN int zks_bip39_check(const char* mnemonic);

/* The BIP39 seed: PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" ‖ passphrase, 2048, 64). Both strings are
 * taken as given (the caller passes them NFKD-normalised). */
ZKS_HIDDEN int zks_bip39_seed(const char* mnemonic, const char* passphrase, uint8_t seed[64]);

#endif /* ZK_SIM_BIP_H */
