/*
 * zk_sim_bip.c — BIP32 private derivation over secp256k1 and BIP39 English mnemonics, built on
 * OpenSSL 3 (HMAC-SHA512 via EVP_Q_mac, PBKDF2, EC point and scalar arithmetic), for the wallet
 * calls of the Zymbit simulator (zk_sim.c). Checked against the BIP32 test vectors 1–3 and the
 * Trezor BIP39 vectors by test/wallet-keys.test.ts through the agent's koffi binding.
 *
 * Deliberately not here: public-only derivation (CKDpub), extended-key serialisation (xpub/xprv;
 * the module never exports them), other word lists, Unicode normalisation (callers pass NFKD).
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "zk_sim_bip.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include "bip39_english.h"

#define BIP32_MASTER_KEY "Bitcoin seed"
#define BIP39_ROUNDS 2048
#define BIP39_MAX_WORDS 24
#define BIP39_MAX_WORD_LEN 8

static int hmac_sha512(const uint8_t* key, size_t key_len, const uint8_t* data, size_t data_len, uint8_t out[64]) {
    size_t out_len = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA512", NULL, key, key_len, data, data_len, out, 64, &out_len) == NULL)
        return -1;
    return out_len == 64 ? 0 : -1;
}

/* k·G on secp256k1, written in `form` (compressed: 33 bytes, uncompressed: 65 bytes). */
static int k1_public(const uint8_t k[32], point_conversion_form_t form, uint8_t* out, size_t out_len) {
    EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_secp256k1);
    BN_CTX* bn = BN_CTX_new();
    BIGNUM* kb = BN_bin2bn(k, 32, NULL);
    EC_POINT* p = group ? EC_POINT_new(group) : NULL;
    int rc = -1;
    if (group && bn && kb && p && !BN_is_zero(kb) && BN_cmp(kb, EC_GROUP_get0_order(group)) < 0 &&
        EC_POINT_mul(group, p, kb, NULL, NULL, bn) == 1 &&
        EC_POINT_point2oct(group, p, form, out, out_len, bn) == out_len)
        rc = 0;
    EC_POINT_free(p);
    BN_clear_free(kb);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return rc;
}

/* (il + kpar) mod n into k; fails when il ≥ n or the sum is 0. kpar NULL means "0" (the master). */
static int add_mod_n(const uint8_t il[32], const uint8_t* kpar, uint8_t k[32]) {
    EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_secp256k1);
    BN_CTX* bn = BN_CTX_new();
    BIGNUM* a = BN_bin2bn(il, 32, NULL);
    BIGNUM* b = kpar ? BN_bin2bn(kpar, 32, NULL) : BN_new();
    BIGNUM* r = BN_new();
    int rc = -1;
    if (!group || !bn || !a || !b || !r) goto done;
    const BIGNUM* n = EC_GROUP_get0_order(group);
    if (BN_cmp(a, n) >= 0) goto done;
    if (BN_mod_add(r, a, b, n, bn) != 1 || BN_is_zero(r)) goto done;
    if (BN_bn2binpad(r, k, 32) != 32) goto done;
    rc = 0;
done:
    BN_clear_free(a);
    BN_clear_free(b);
    BN_clear_free(r);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return rc;
}

int zks_bip32_master(const uint8_t* seed, size_t seed_len, uint8_t k[32], uint8_t c[32]) {
    uint8_t i[64];
    int rc = -1;
    if (seed == NULL || seed_len < 16 || seed_len > 64) return -1;
    if (hmac_sha512((const uint8_t*)BIP32_MASTER_KEY, strlen(BIP32_MASTER_KEY), seed, seed_len, i) != 0) goto done;
    if (add_mod_n(i, NULL, k) != 0) goto done; /* I_L must be in [1, n-1] */
    memcpy(c, i + 32, 32);
    rc = 0;
done:
    OPENSSL_cleanse(i, sizeof i);
    return rc;
}

int zks_bip32_ckd_priv(const uint8_t kpar[32], const uint8_t cpar[32], uint32_t index, uint8_t k[32], uint8_t c[32]) {
    uint8_t data[37], i[64];
    int rc = -1;
    if (index & 0x80000000u) {
        data[0] = 0x00; /* hardened: 0x00 ‖ ser256(kpar) ‖ ser32(i) */
        memcpy(data + 1, kpar, 32);
    } else if (k1_public(kpar, POINT_CONVERSION_COMPRESSED, data, 33) != 0) { /* serP(point(kpar)) ‖ ser32(i) */
        goto done;
    }
    data[33] = (uint8_t)(index >> 24);
    data[34] = (uint8_t)(index >> 16);
    data[35] = (uint8_t)(index >> 8);
    data[36] = (uint8_t)index;
    if (hmac_sha512(cpar, 32, data, sizeof data, i) != 0) goto done;
    if (add_mod_n(i, kpar, k) != 0) goto done;
    memcpy(c, i + 32, 32);
    rc = 0;
done:
    OPENSSL_cleanse(data, sizeof data);
    OPENSSL_cleanse(i, sizeof i);
    return rc;
}

EVP_PKEY* zks_k1_pkey_from_priv(const uint8_t k[32]) {
    uint8_t pub[65];
    EVP_PKEY* pkey = NULL;
    if (k1_public(k, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof pub) != 0) return NULL;
    BIGNUM* priv = BN_secure_new();
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM* params = NULL;
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    int ok = priv && bld && pctx && BN_bin2bn(k, 32, priv) &&
             OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "secp256k1", 0) == 1 &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) == 1 &&
             OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) == 1 &&
             (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(pctx) == 1;
    if (!ok || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) pkey = NULL;
    /* The params block holds a copy of the scalar; BN_secure_new asks OpenSSL to keep it in (and
     * clear it from) its secure heap where one is configured. The simulator is no security boundary. */
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pctx);
    BN_clear_free(priv);
    return pkey;
}

int zks_pkey_priv32(const EVP_PKEY* pkey, uint8_t k[32]) {
    BIGNUM* priv = NULL;
    int rc = -1;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &priv) == 1 && BN_bn2binpad(priv, k, 32) == 32) rc = 0;
    BN_clear_free(priv);
    return rc;
}

/* ---- BIP39 ---------------------------------------------------------------------------------- */

static int word_index(const char* w, size_t len) {
    if (len == 0 || len > BIP39_MAX_WORD_LEN) return -1;
    int lo = 0, hi = ZKS_BIP39_WORDS - 1; /* the English list is sorted */
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const char* cand = zks_bip39_english[mid];
        int cmp = strncmp(w, cand, len);
        if (cmp == 0) cmp = (cand[len] == '\0') ? 0 : -1;
        if (cmp == 0) return mid;
        if (cmp < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

static int get_bit(const uint8_t* bits, size_t i) { return (bits[i / 8] >> (7 - i % 8)) & 1; }
static void set_bit(uint8_t* bits, size_t i) { bits[i / 8] |= (uint8_t)(1u << (7 - i % 8)); }

char* zks_bip39_from_entropy(const uint8_t* entropy, size_t len) {
    if (entropy == NULL || len < 16 || len > 32 || len % 4 != 0) return NULL;
    uint8_t buf[33], h[SHA256_DIGEST_LENGTH];
    size_t cs = len / 4; /* checksum bits = ENT / 32 */
    size_t words = (len * 8 + cs) / 11;
    memcpy(buf, entropy, len);
    SHA256(entropy, len, h);
    buf[len] = h[0];
    char* out = malloc(words * (BIP39_MAX_WORD_LEN + 1));
    if (out != NULL) {
        char* p = out;
        for (size_t w = 0; w < words; w++) {
            unsigned idx = 0;
            for (size_t b = 0; b < 11; b++) idx = (idx << 1) | (unsigned)get_bit(buf, w * 11 + b);
            size_t n = strlen(zks_bip39_english[idx]);
            if (w > 0) *p++ = ' ';
            memcpy(p, zks_bip39_english[idx], n);
            p += n;
        }
        *p = '\0';
    }
    OPENSSL_cleanse(buf, sizeof buf);
    OPENSSL_cleanse(h, sizeof h);
    return out;
}

int zks_bip39_check(const char* mnemonic) {
    uint8_t bits[33] = {0}, h[SHA256_DIGEST_LENGTH];
    size_t words = 0;
    int rc = -1;
    if (mnemonic == NULL) return -1;
    const char* p = mnemonic;
    for (;;) {
        const char* end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int idx = word_index(p, len); /* empty words (double or edge spaces) are refused here */
        if (idx < 0 || words == BIP39_MAX_WORDS) goto done;
        for (size_t b = 0; b < 11; b++)
            if ((idx >> (10 - b)) & 1) set_bit(bits, words * 11 + b);
        words++;
        if (end == NULL) break;
        p = end + 1;
    }
    if (words < 12 || words % 3 != 0) goto done;
    size_t total = words * 11, cs = total / 33, ent = total - cs;
    SHA256(bits, ent / 8, h);
    for (size_t b = 0; b < cs; b++)
        if (get_bit(bits, ent + b) != get_bit(h, b)) goto done;
    rc = 0;
done:
    OPENSSL_cleanse(bits, sizeof bits);
    OPENSSL_cleanse(h, sizeof h);
    return rc;
}

int zks_bip39_seed(const char* mnemonic, const char* passphrase, uint8_t seed[64]) {
    if (mnemonic == NULL) return -1;
    if (passphrase == NULL) passphrase = "";
    size_t plen = strlen(passphrase);
    size_t salt_len = 8 + plen;
    uint8_t* salt = malloc(salt_len);
    if (salt == NULL) return -1;
    memcpy(salt, "mnemonic", 8);
    memcpy(salt + 8, passphrase, plen);
    int ok = PKCS5_PBKDF2_HMAC(mnemonic, (int)strlen(mnemonic), salt, (int)salt_len, BIP39_ROUNDS, EVP_sha512(), 64,
                               seed) == 1;
    OPENSSL_cleanse(salt, salt_len);
    free(salt);
    return ok ? 0 : -1;
}
