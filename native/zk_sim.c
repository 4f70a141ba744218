/*
 * zk_sim.c — a software simulator of the Zymbit security-module C API (see zk_app_utils.h and
 * /work/shared/zymbit-c-api.md). It exists so CI and developers can exercise the real FFI path:
 * same symbols, same ownership rules (malloc'd outputs freed by the caller with free()), same
 * return conventions. It is NOT a security boundary: keys live in PEM files in a directory.
 *
 * Environment:
 *   ZK_SIM_STATE_DIR   state directory (required; created if missing). Holds device.secret and
 *                      slot-<n>.pem (all mode 0600).
 *   ZK_SIM_FAIL_OPEN=1 makes zkOpen fail (the "no module" path).
 *   ZK_SIM_MODEL       HSM6 (default), SCM (the same capabilities here) or ZYMKEY4 (no ECDH, no
 *                      secp256k1, no generated keys, no wallet).
 *   ZK_SIM_FAULTS      path of a fault file, read at the start of EVERY API call (so a test can
 *                      break and heal the module of a running process by writing/removing it):
 *                        absent, empty or blank   healthy
 *                        fail [CALL...]           the call returns -1 at once
 *                        hang MS [CALL...]        the call sleeps MS ms (0..600000), then returns -1
 *                      With CALL names (e.g. `fail zkGenECDSASigFromDigest`) only those calls fault.
 *                      Anything else in the file counts as `fail` (a typo must not look healthy).
 *                      A faulted zkClose still frees its context (it only reports -1). The
 *                      simulator-only zkSim* counters never fault.
 *
 * Wallet (BIP32/BIP39, secp256k1): master seeds and derived nodes are generated-key slots with
 * their wallet metadata in the slot file (see "wallet" below); the BIP math is in zk_sim_bip.c.
 * zkSimRestoreWalletMasterSeedFromSeed is a simulator-only test entry (not in the vendor library).
 *
 * Lock blob format (clearly not Zymbit's):
 *   "ZKSIMLK1" (8) | flags (1: 1 = shared key) | nonce (12) | AES-256-GCM ciphertext | tag (16)
 *   AAD = magic | flags.
 */
#define OPENSSL_API_COMPAT 30000
#define OPENSSL_NO_DEPRECATED 1

#include "zk_app_utils.h"
#include "zk_sim_bip.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define ZKS_CTX_MAGIC 0x5A4B53494DUL /* "ZKSIM" */
#define ZKS_SECRET_LEN 32
#define ZKS_FIRST_GEN_SLOT 16
#define ZKS_HSM6_MAX_KEYS 512
#define ZKS_ZK4_MAX_KEYS 3
#define ZKS_LOCK_MAGIC "ZKSIMLK1"
#define ZKS_LOCK_MAGIC_LEN 8
#define ZKS_NONCE_LEN 12
#define ZKS_TAG_LEN 16
#define ZKS_LOCK_HDR_LEN (ZKS_LOCK_MAGIC_LEN + 1 + ZKS_NONCE_LEN)
#define ZKS_LOCK_OVERHEAD (ZKS_LOCK_HDR_LEN + ZKS_TAG_LEN)
#define ZKS_SHARED_KEY_LABEL "zk_sim shared key v1 (stands for the Zymbit shared key)"

/* HSM6 and SCM behave alike here (secp256k1, ECDH, generated keys, wallets); ZYMKEY4 has none of it. */
typedef enum { ZKS_MODEL_HSM6 = 0, ZKS_MODEL_ZYMKEY4 = 1, ZKS_MODEL_SCM = 2 } zks_model;

typedef struct {
    unsigned long magic;
    zks_model model;
    char dir[PATH_MAX];
    uint8_t secret[ZKS_SECRET_LEN];
    uint8_t shared[SHA256_DIGEST_LENGTH];
} zks_ctx;

typedef enum { ZKS_CURVE_NONE = 0, ZKS_CURVE_P256, ZKS_CURVE_K1 } zks_curve;

static int g_handed_out = 0;
static int g_open_contexts = 0;
static unsigned g_tmp_counter = 0;

static void count_handout(void) { __atomic_add_fetch(&g_handed_out, 1, __ATOMIC_SEQ_CST); }

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                      */

static zks_ctx* get_ctx(zkCTX c) {
    zks_ctx* ctx = (zks_ctx*)c;
    if (ctx == NULL || ctx->magic != ZKS_CTX_MAGIC) return NULL;
    return ctx;
}

static int is_full(const zks_ctx* ctx) { return ctx->model == ZKS_MODEL_HSM6 || ctx->model == ZKS_MODEL_SCM; }

static int has_ecdh(const zks_ctx* ctx) { return is_full(ctx); }

static int max_keys(const zks_ctx* ctx) {
    return is_full(ctx) ? ZKS_HSM6_MAX_KEYS : ZKS_ZK4_MAX_KEYS;
}

/* Slot numbers that can exist on this model (regardless of whether they are allocated). */
static int slot_in_range(const zks_ctx* ctx, int slot) {
    if (slot >= 0 && slot <= 2) return 1;
    if (is_full(ctx) && slot >= ZKS_FIRST_GEN_SLOT &&
        slot < ZKS_FIRST_GEN_SLOT + ZKS_HSM6_MAX_KEYS)
        return 1;
    return 0;
}

static int path_join(char* out, size_t out_sz, const char* dir, const char* name) {
    int n = snprintf(out, out_sz, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= out_sz) ? -1 : 0;
}

static int slot_path(const zks_ctx* ctx, int slot, char* out, size_t out_sz) {
    char name[32];
    snprintf(name, sizeof name, "slot-%d.pem", slot);
    return path_join(out, out_sz, ctx->dir, name);
}

static int tmp_path(const char* dir, char* out, size_t out_sz) {
    char name[64];
    unsigned c = __atomic_add_fetch(&g_tmp_counter, 1, __ATOMIC_SEQ_CST);
    unsigned r = 0;
    if (RAND_bytes((unsigned char*)&r, sizeof r) != 1) r = 0;
    snprintf(name, sizeof name, ".tmp-%ld-%u-%08x", (long)getpid(), c, r);
    return path_join(out, out_sz, dir, name);
}

/* Publish tmp as final atomically without overwriting: link(2) fails with EEXIST if final exists.
 * Returns 0 if published, 1 if final already existed, -1 on error. tmp is always removed. */
static int publish_no_clobber(const char* tmp, const char* final_path) {
    int rc = 0;
    if (link(tmp, final_path) != 0) rc = (errno == EEXIST) ? 1 : -1;
    unlink(tmp);
    return rc;
}

static int write_all(int fd, const uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_exact_file(const char* path, uint8_t* buf, size_t n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    uint8_t extra;
    ssize_t more = (got == n) ? read(fd, &extra, 1) : 0;
    close(fd);
    return (got == n && more == 0) ? 0 : -1;
}

static int ensure_device_secret(zks_ctx* ctx) {
    char path[PATH_MAX], tmp[PATH_MAX];
    if (path_join(path, sizeof path, ctx->dir, "device.secret") != 0) return -1;
    if (access(path, F_OK) != 0) {
        uint8_t secret[ZKS_SECRET_LEN];
        if (RAND_bytes(secret, sizeof secret) != 1) return -1;
        if (tmp_path(ctx->dir, tmp, sizeof tmp) != 0) return -1;
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) return -1;
        int ok = fchmod(fd, 0600) == 0 && write_all(fd, secret, sizeof secret) == 0 && fsync(fd) == 0;
        ok = (close(fd) == 0) && ok;
        OPENSSL_cleanse(secret, sizeof secret);
        if (!ok) {
            unlink(tmp);
            return -1;
        }
        if (publish_no_clobber(tmp, path) < 0) return -1;
    }
    return read_exact_file(path, ctx->secret, sizeof ctx->secret);
}

static EVP_PKEY* gen_key(zks_curve curve) {
    const char* name = curve == ZKS_CURVE_K1 ? "secp256k1" : "P-256";
    return EVP_PKEY_Q_keygen(NULL, NULL, "EC", name);
}

/* Write pkey into a fresh temp file in the state dir, after `header` (text lines, or NULL); on
 * success fills tmp. PEM readers skip the lines before "-----BEGIN", so load_slot reads either. */
static int write_key_tmp(const zks_ctx* ctx, EVP_PKEY* pkey, const char* header, char* tmp, size_t tmp_sz) {
    if (tmp_path(ctx->dir, tmp, tmp_sz) != 0) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    FILE* fp = fdopen(fd, "w");
    if (fp == NULL) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    int ok = (header == NULL || fputs(header, fp) >= 0) && PEM_write_PrivateKey(fp, pkey, NULL, NULL, 0, NULL, NULL) == 1;
    ok = (fflush(fp) == 0) && ok;
    ok = (fsync(fileno(fp)) == 0) && ok;
    ok = (fclose(fp) == 0) && ok;
    if (!ok) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Create slot file with a new key if it does not exist. 0 = created, 1 = existed, -1 = error. */
static int create_slot_if_absent(const zks_ctx* ctx, int slot, zks_curve curve) {
    char path[PATH_MAX], tmp[PATH_MAX];
    if (slot_path(ctx, slot, path, sizeof path) != 0) return -1;
    if (access(path, F_OK) == 0) return 1;
    EVP_PKEY* pkey = gen_key(curve);
    if (pkey == NULL) return -1;
    int rc = write_key_tmp(ctx, pkey, NULL, tmp, sizeof tmp);
    EVP_PKEY_free(pkey);
    if (rc != 0) return -1;
    return publish_no_clobber(tmp, path);
}

static zks_curve key_curve(const EVP_PKEY* pkey) {
    char name[64];
    size_t len = 0;
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) return ZKS_CURVE_NONE;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) != 1)
        return ZKS_CURVE_NONE;
    if (strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0 || strcmp(name, "secp256r1") == 0)
        return ZKS_CURVE_P256;
    if (strcmp(name, "secp256k1") == 0) return ZKS_CURVE_K1;
    return ZKS_CURVE_NONE;
}

/* Load the private key in a slot; NULL if the slot is out of range for the model or absent. */
static EVP_PKEY* load_slot(const zks_ctx* ctx, int slot, zks_curve* curve_out) {
    char path[PATH_MAX];
    if (!slot_in_range(ctx, slot)) return NULL;
    if (slot_path(ctx, slot, path, sizeof path) != 0) return NULL;
    FILE* fp = fopen(path, "re");
    if (fp == NULL) return NULL;
    EVP_PKEY* pkey = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (pkey == NULL) return NULL;
    zks_curve c = key_curve(pkey);
    if (c == ZKS_CURVE_NONE || (c == ZKS_CURVE_K1 && !is_full(ctx))) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    if (curve_out) *curve_out = c;
    return pkey;
}

static int export_xy(const EVP_PKEY* pkey, uint8_t out[64]) {
    BIGNUM *x = NULL, *y = NULL;
    int rc = -1;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1 && BN_bn2binpad(x, out, 32) == 32 &&
        BN_bn2binpad(y, out + 32, 32) == 32)
        rc = 0;
    BN_free(x);
    BN_free(y);
    return rc;
}

static EVP_PKEY* pubkey_from_xy(zks_curve curve, const uint8_t xy[64]) {
    uint8_t pt[65];
    char group[16];
    EVP_PKEY* pkey = NULL;
    pt[0] = 0x04;
    memcpy(pt + 1, xy, 64);
    strcpy(group, curve == ZKS_CURVE_K1 ? "secp256k1" : "prime256v1");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (pctx == NULL) return NULL;
    if (EVP_PKEY_fromdata_init(pctx) != 1 || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(pctx);
    return pkey;
}

/* ECDSA over a 32-byte digest (no hashing). Outputs raw r||s. */
static int sign_digest(EVP_PKEY* pkey, const uint8_t digest[32], uint8_t rs[64]) {
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    unsigned char* der = NULL;
    size_t der_len = 0;
    ECDSA_SIG* sig = NULL;
    int rc = -1;
    if (pctx == NULL) return -1;
    if (EVP_PKEY_sign_init(pctx) != 1) goto done;
    if (EVP_PKEY_sign(pctx, NULL, &der_len, digest, 32) != 1) goto done;
    der = OPENSSL_malloc(der_len);
    if (der == NULL) goto done;
    if (EVP_PKEY_sign(pctx, der, &der_len, digest, 32) != 1) goto done;
    const unsigned char* p = der;
    sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (sig == NULL) goto done;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    if (BN_bn2binpad(r, rs, 32) != 32 || BN_bn2binpad(s, rs + 32, 32) != 32) goto done;
    rc = 0;
done:
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* 1 valid, 0 invalid, -1 error. */
static int verify_digest(EVP_PKEY* pkey, const uint8_t digest[32], const uint8_t rs[64]) {
    ECDSA_SIG* sig = ECDSA_SIG_new();
    BIGNUM* r = BN_bin2bn(rs, 32, NULL);
    BIGNUM* s = BN_bin2bn(rs + 32, 32, NULL);
    unsigned char* der = NULL;
    EVP_PKEY_CTX* pctx = NULL;
    int rc = -1;
    if (sig == NULL || r == NULL || s == NULL) goto done;
    if (ECDSA_SIG_set0(sig, r, s) != 1) goto done;
    r = s = NULL; /* owned by sig now */
    int der_len = i2d_ECDSA_SIG(sig, &der);
    if (der_len <= 0) goto done;
    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (pctx == NULL || EVP_PKEY_verify_init(pctx) != 1) goto done;
    rc = EVP_PKEY_verify(pctx, der, (size_t)der_len, digest, 32) == 1 ? 1 : 0;
done:
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    OPENSSL_free(der);
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* Find the recovery id j (0..3) such that public-key recovery from (digest, r, s, j) yields pub. */
static int compute_recid(zks_curve curve, const uint8_t digest[32], const uint8_t rs[64], const uint8_t pub[64],
                         uint8_t* recid_out) {
    int nid = curve == ZKS_CURVE_K1 ? NID_secp256k1 : NID_X9_62_prime256v1;
    EC_GROUP* group = EC_GROUP_new_by_curve_name(nid);
    BN_CTX* bn = BN_CTX_new();
    EC_POINT *R = NULL, *Q = NULL;
    int rc = -1;
    if (group == NULL || bn == NULL) goto out;
    BN_CTX_start(bn);
    BIGNUM* p = BN_CTX_get(bn);
    BIGNUM* n = BN_CTX_get(bn);
    BIGNUM* r = BN_CTX_get(bn);
    BIGNUM* s = BN_CTX_get(bn);
    BIGNUM* e = BN_CTX_get(bn);
    BIGNUM* x = BN_CTX_get(bn);
    BIGNUM* rinv = BN_CTX_get(bn);
    BIGNUM* u1 = BN_CTX_get(bn);
    BIGNUM* u2 = BN_CTX_get(bn);
    BIGNUM* qx = BN_CTX_get(bn);
    BIGNUM* qy = BN_CTX_get(bn);
    if (qy == NULL) goto end;
    if (EC_GROUP_get_curve(group, p, NULL, NULL, bn) != 1) goto end;
    if (BN_copy(n, EC_GROUP_get0_order(group)) == NULL) goto end;
    if (BN_bin2bn(rs, 32, r) == NULL || BN_bin2bn(rs + 32, 32, s) == NULL || BN_bin2bn(digest, 32, e) == NULL)
        goto end;
    if (BN_mod_inverse(rinv, r, n, bn) == NULL) goto end;
    /* u1 = -e * r^-1 mod n ; u2 = s * r^-1 mod n ; Q = u1*G + u2*R */
    if (BN_mod_mul(u1, e, rinv, n, bn) != 1 || BN_mod_sub(u1, n, u1, n, bn) != 1) goto end;
    if (BN_mod_mul(u2, s, rinv, n, bn) != 1) goto end;
    R = EC_POINT_new(group);
    Q = EC_POINT_new(group);
    if (R == NULL || Q == NULL) goto end;
    for (int j = 0; j < 4; j++) {
        if (BN_copy(x, r) == NULL) goto end;
        if (j >= 2 && BN_add(x, x, n) != 1) goto end;
        if (BN_cmp(x, p) >= 0) continue;
        if (EC_POINT_set_compressed_coordinates(group, R, x, j & 1, bn) != 1) continue;
        if (EC_POINT_mul(group, Q, u1, R, u2, bn) != 1) continue;
        if (EC_POINT_get_affine_coordinates(group, Q, qx, qy, bn) != 1) continue;
        uint8_t cand[64];
        if (BN_bn2binpad(qx, cand, 32) != 32 || BN_bn2binpad(qy, cand + 32, 32) != 32) continue;
        if (memcmp(cand, pub, 64) == 0) {
            *recid_out = (uint8_t)j;
            rc = 0;
            break;
        }
    }
end:
    BN_CTX_end(bn);
out:
    EC_POINT_free(R);
    EC_POINT_free(Q);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return rc;
}

/* Raw ECDH with the slot key; writes the 32-byte shared X coordinate into out. */
static int ecdh_raw(zks_ctx* ctx, int slot, const uint8_t* peer, int peer_sz, uint8_t out[32]) {
    zks_curve curve = ZKS_CURVE_NONE;
    EVP_PKEY* key = NULL;
    EVP_PKEY* peer_key = NULL;
    EVP_PKEY_CTX* dctx = NULL;
    int rc = -1;
    if (!has_ecdh(ctx) || peer == NULL || peer_sz != 64) return -1;
    key = load_slot(ctx, slot, &curve);
    if (key == NULL) return -1;
    peer_key = pubkey_from_xy(curve, peer);
    if (peer_key == NULL) goto done;
    dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (dctx == NULL || EVP_PKEY_derive_init(dctx) != 1) goto done;
    if (EVP_PKEY_derive_set_peer_ex(dctx, peer_key, 1) != 1) goto done;
    size_t len = 0;
    if (EVP_PKEY_derive(dctx, NULL, &len) != 1 || len != 32) goto done;
    if (EVP_PKEY_derive(dctx, out, &len) != 1 || len != 32) goto done;
    rc = 0;
done:
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer_key);
    EVP_PKEY_free(key);
    return rc;
}

static char* dup_string(const char* s) {
    size_t n = strlen(s) + 1;
    char* p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int out_string(zkCTX c, char** out, const char* value) {
    if (out) *out = NULL;
    if (get_ctx(c) == NULL || out == NULL) return -1;
    char* p = dup_string(value);
    if (p == NULL) return -1;
    *out = p;
    count_handout();
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* fault injection (ZK_SIM_FAULTS)                                                              */

static int word_is(const char* p, size_t n, const char* w) { return strlen(w) == n && strncmp(p, w, n) == 0; }

/* 0 if `call` may proceed; -1 if it must fail (after sleeping, for `hang MS`). Reads the file on
 * every call on purpose: the point is to change the module's health while a process runs. */
static int fault(const char* call) {
    const char* path = getenv("ZK_SIM_FAULTS");
    if (path == NULL || path[0] == '\0') return 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0; /* absent: healthy */
    char buf[1024];
    ssize_t n;
    do n = read(fd, buf, sizeof buf - 1); while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0) return 0; /* empty: healthy */
    buf[n] = '\0';
    const char* words[64];
    size_t lens[64];
    int count = 0;
    for (char* p = buf; *p && count < 64;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        char* start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
        words[count] = start;
        lens[count++] = (size_t)(p - start);
    }
    if (count == 0) return 0; /* blank: healthy */
    long ms = 0;
    int first_call = 1;
    if (word_is(words[0], lens[0], "hang") && count >= 2) {
        char* end = NULL;
        ms = strtol(words[1], &end, 10);
        if (end != words[1] + lens[1] || ms < 0 || ms > 600000) ms = 0; /* malformed: plain fail */
        first_call = 2;
    } else if (!word_is(words[0], lens[0], "fail")) {
        return -1; /* unknown content fails closed */
    }
    if (count > first_call) {
        int named = 0;
        for (int i = first_call; i < count; i++)
            if (word_is(words[i], lens[i], call)) named = 1;
        if (!named) return 0;
    }
    if (ms > 0) {
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    return -1;
}

#define FAULT_GATE(name) do { if (fault(name) != 0) return -1; } while (0)

/* ------------------------------------------------------------------------------------------ */
/* API                                                                                          */

int zkOpen(zkCTX* ctx_out) {
    if (ctx_out == NULL) return -1;
    *ctx_out = NULL;
    FAULT_GATE("zkOpen");
    const char* fail = getenv("ZK_SIM_FAIL_OPEN");
    if (fail != NULL && strcmp(fail, "1") == 0) return -1;
    const char* dir = getenv("ZK_SIM_STATE_DIR");
    if (dir == NULL || dir[0] == '\0') return -1;
    zks_model model = ZKS_MODEL_HSM6;
    const char* m = getenv("ZK_SIM_MODEL");
    if (m != NULL && m[0] != '\0') {
        if (strcmp(m, "HSM6") == 0)
            model = ZKS_MODEL_HSM6;
        else if (strcmp(m, "ZYMKEY4") == 0)
            model = ZKS_MODEL_ZYMKEY4;
        else if (strcmp(m, "SCM") == 0)
            model = ZKS_MODEL_SCM;
        else
            return -1;
    }

    zks_ctx* ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return -1;
    ctx->model = model;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    if (dl >= sizeof ctx->dir) goto fail;
    memcpy(ctx->dir, dir, dl);
    ctx->dir[dl] = '\0';

    if (mkdir(ctx->dir, 0700) != 0 && errno != EEXIST) goto fail;
    struct stat st;
    if (stat(ctx->dir, &st) != 0 || !S_ISDIR(st.st_mode)) goto fail;
    if (ensure_device_secret(ctx) != 0) goto fail;
    SHA256((const unsigned char*)ZKS_SHARED_KEY_LABEL, strlen(ZKS_SHARED_KEY_LABEL), ctx->shared);
    for (int slot = 0; slot <= 2; slot++)
        if (create_slot_if_absent(ctx, slot, ZKS_CURVE_P256) < 0) goto fail;

    ctx->magic = ZKS_CTX_MAGIC;
    *ctx_out = ctx;
    __atomic_add_fetch(&g_open_contexts, 1, __ATOMIC_SEQ_CST);
    return 0;
fail:
    OPENSSL_cleanse(ctx, sizeof *ctx);
    free(ctx);
    return -1;
}

int zkClose(zkCTX c) {
    int faulted = fault("zkClose"); /* a faulted close still frees the context */
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL) return -1;
    OPENSSL_cleanse(ctx, sizeof *ctx);
    free(ctx);
    __atomic_sub_fetch(&g_open_contexts, 1, __ATOMIC_SEQ_CST);
    return faulted;
}

int zkGetRandBytes(zkCTX c, uint8_t** rdata, int rdata_sz) {
    if (rdata) *rdata = NULL;
    FAULT_GATE("zkGetRandBytes");
    if (get_ctx(c) == NULL || rdata == NULL || rdata_sz <= 0) return -1;
    uint8_t* buf = malloc((size_t)rdata_sz);
    if (buf == NULL) return -1;
    if (RAND_bytes(buf, rdata_sz) != 1) {
        free(buf);
        return -1;
    }
    *rdata = buf;
    count_handout();
    return 0;
}

int zkLockDataB2B(zkCTX c, const uint8_t* src_pt, int src_pt_sz, uint8_t** dst_ct, int* dst_ct_sz,
                  bool use_shared_key) {
    if (dst_ct) *dst_ct = NULL;
    if (dst_ct_sz) *dst_ct_sz = 0;
    FAULT_GATE("zkLockDataB2B");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || dst_ct == NULL || dst_ct_sz == NULL || src_pt_sz < 0) return -1;
    if (src_pt == NULL && src_pt_sz > 0) return -1;
    if (src_pt_sz > INT_MAX - ZKS_LOCK_OVERHEAD) return -1;
    size_t total = (size_t)src_pt_sz + ZKS_LOCK_OVERHEAD;
    uint8_t* out = malloc(total);
    if (out == NULL) return -1;
    EVP_CIPHER_CTX* cctx = NULL;
    int len = 0, rc = -1;
    memcpy(out, ZKS_LOCK_MAGIC, ZKS_LOCK_MAGIC_LEN);
    out[ZKS_LOCK_MAGIC_LEN] = use_shared_key ? 1 : 0;
    uint8_t* nonce = out + ZKS_LOCK_MAGIC_LEN + 1;
    uint8_t* ct = out + ZKS_LOCK_HDR_LEN;
    if (RAND_bytes(nonce, ZKS_NONCE_LEN) != 1) goto done;
    cctx = EVP_CIPHER_CTX_new();
    if (cctx == NULL) goto done;
    if (EVP_EncryptInit_ex(cctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) goto done;
    if (EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, ZKS_NONCE_LEN, NULL) != 1) goto done;
    if (EVP_EncryptInit_ex(cctx, NULL, NULL, use_shared_key ? ctx->shared : ctx->secret, nonce) != 1) goto done;
    if (EVP_EncryptUpdate(cctx, NULL, &len, out, ZKS_LOCK_MAGIC_LEN + 1) != 1) goto done;
    if (src_pt_sz > 0 && (EVP_EncryptUpdate(cctx, ct, &len, src_pt, src_pt_sz) != 1 || len != src_pt_sz)) goto done;
    if (EVP_EncryptFinal_ex(cctx, ct + src_pt_sz, &len) != 1 || len != 0) goto done;
    if (EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_GET_TAG, ZKS_TAG_LEN, ct + src_pt_sz) != 1) goto done;
    rc = 0;
done:
    EVP_CIPHER_CTX_free(cctx);
    if (rc != 0) {
        free(out);
        return -1;
    }
    *dst_ct = out;
    *dst_ct_sz = (int)total;
    count_handout();
    return 0;
}

int zkUnlockDataB2B(zkCTX c, const uint8_t* src_ct, int src_ct_sz, uint8_t** dst_pt, int* dst_pt_sz,
                    bool use_shared_key) {
    if (dst_pt) *dst_pt = NULL;
    if (dst_pt_sz) *dst_pt_sz = 0;
    FAULT_GATE("zkUnlockDataB2B");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || src_ct == NULL || dst_pt == NULL || dst_pt_sz == NULL) return -1;
    if (src_ct_sz < ZKS_LOCK_OVERHEAD) return -1;
    if (memcmp(src_ct, ZKS_LOCK_MAGIC, ZKS_LOCK_MAGIC_LEN) != 0) return -1;
    uint8_t flags = src_ct[ZKS_LOCK_MAGIC_LEN];
    if (flags != (use_shared_key ? 1 : 0)) return -1;
    const uint8_t* nonce = src_ct + ZKS_LOCK_MAGIC_LEN + 1;
    const uint8_t* ct = src_ct + ZKS_LOCK_HDR_LEN;
    int ct_sz = src_ct_sz - ZKS_LOCK_OVERHEAD;
    uint8_t tag[ZKS_TAG_LEN];
    memcpy(tag, ct + ct_sz, ZKS_TAG_LEN);
    uint8_t* out = malloc(ct_sz > 0 ? (size_t)ct_sz : 1);
    if (out == NULL) return -1;
    EVP_CIPHER_CTX* cctx = EVP_CIPHER_CTX_new();
    int len = 0, rc = -1;
    if (cctx == NULL) goto done;
    if (EVP_DecryptInit_ex(cctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1) goto done;
    if (EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, ZKS_NONCE_LEN, NULL) != 1) goto done;
    if (EVP_DecryptInit_ex(cctx, NULL, NULL, use_shared_key ? ctx->shared : ctx->secret, nonce) != 1) goto done;
    if (EVP_DecryptUpdate(cctx, NULL, &len, src_ct, ZKS_LOCK_MAGIC_LEN + 1) != 1) goto done;
    if (ct_sz > 0 && (EVP_DecryptUpdate(cctx, out, &len, ct, ct_sz) != 1 || len != ct_sz)) goto done;
    if (EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_TAG, ZKS_TAG_LEN, tag) != 1) goto done;
    /* Tag mismatch: integrity failure of the blob -> 0 with no output. */
    rc = EVP_DecryptFinal_ex(cctx, out + ct_sz, &len) == 1 ? 1 : 0;
done:
    EVP_CIPHER_CTX_free(cctx);
    if (rc != 1) {
        OPENSSL_cleanse(out, ct_sz > 0 ? (size_t)ct_sz : 1);
        free(out);
        return rc;
    }
    *dst_pt = out;
    *dst_pt_sz = ct_sz;
    count_handout();
    return 1;
}

static int gen_sig(zkCTX c, const uint8_t* digest, int slot, uint8_t** sig, int* sig_sz, uint8_t* recovery_id,
                   int want_recid) {
    if (sig) *sig = NULL;
    if (sig_sz) *sig_sz = 0;
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || digest == NULL || sig == NULL || sig_sz == NULL) return -1;
    if (want_recid && recovery_id == NULL) return -1;
    zks_curve curve = ZKS_CURVE_NONE;
    EVP_PKEY* key = load_slot(ctx, slot, &curve);
    if (key == NULL) return -1;
    uint8_t rs[64], pub[64];
    int rc = -1;
    if (want_recid && curve == ZKS_CURVE_K1 && !is_full(ctx)) goto done;
    if (sign_digest(key, digest, rs) != 0) goto done;
    if (want_recid) {
        uint8_t recid = 0;
        if (export_xy(key, pub) != 0 || compute_recid(curve, digest, rs, pub, &recid) != 0) goto done;
        *recovery_id = recid;
    }
    uint8_t* out = malloc(64);
    if (out == NULL) goto done;
    memcpy(out, rs, 64);
    *sig = out;
    *sig_sz = 64;
    count_handout();
    rc = 0;
done:
    EVP_PKEY_free(key);
    return rc;
}

int zkGenECDSASigFromDigest(zkCTX c, const uint8_t* digest, int slot, uint8_t** sig, int* sig_sz) {
    if (sig) *sig = NULL;
    if (sig_sz) *sig_sz = 0;
    FAULT_GATE("zkGenECDSASigFromDigest");
    return gen_sig(c, digest, slot, sig, sig_sz, NULL, 0);
}

int zkGenECDSASigFromDigestWithRecID(zkCTX c, const uint8_t* digest, int slot, uint8_t** sig, int* sig_sz,
                                     uint8_t* recovery_id) {
    if (sig) *sig = NULL;
    if (sig_sz) *sig_sz = 0;
    FAULT_GATE("zkGenECDSASigFromDigestWithRecID");
    return gen_sig(c, digest, slot, sig, sig_sz, recovery_id, 1);
}

int zkVerifyECDSASigFromDigest(zkCTX c, const uint8_t* digest, int pubkey_slot, const uint8_t* sig, int sig_sz) {
    FAULT_GATE("zkVerifyECDSASigFromDigest");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || digest == NULL || sig == NULL || sig_sz != 64) return -1;
    EVP_PKEY* key = load_slot(ctx, pubkey_slot, NULL);
    if (key == NULL) return -1;
    int rc = verify_digest(key, digest, sig);
    EVP_PKEY_free(key);
    return rc;
}

int zkExportPubKey(zkCTX c, uint8_t** pk, int* pk_sz, int pubkey_slot, bool slot_is_foreign) {
    if (pk) *pk = NULL;
    if (pk_sz) *pk_sz = 0;
    FAULT_GATE("zkExportPubKey");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || pk == NULL || pk_sz == NULL || slot_is_foreign) return -1;
    EVP_PKEY* key = load_slot(ctx, pubkey_slot, NULL);
    if (key == NULL) return -1;
    uint8_t xy[64];
    int rc = export_xy(key, xy);
    EVP_PKEY_free(key);
    if (rc != 0) return -1;
    uint8_t* out = malloc(64);
    if (out == NULL) return -1;
    memcpy(out, xy, 64);
    *pk = out;
    *pk_sz = 64;
    count_handout();
    return 0;
}

/* Collect allocated slot numbers (sorted). Returns count or -1; *list malloc'd (caller frees). */
static int cmp_int(const void* a, const void* b) {
    int x = *(const int*)a, y = *(const int*)b;
    return (x > y) - (x < y);
}

static int list_slots(const zks_ctx* ctx, int** list) {
    *list = NULL;
    DIR* d = opendir(ctx->dir);
    if (d == NULL) return -1;
    int cap = 16, n = 0;
    int* arr = malloc(sizeof(int) * (size_t)cap);
    if (arr == NULL) {
        closedir(d);
        return -1;
    }
    struct dirent* de;
    while ((de = readdir(d)) != NULL) {
        int slot = -1;
        char tail[8] = {0};
        if (sscanf(de->d_name, "slot-%d.pe%1[m]", &slot, tail) != 2) continue;
        char expect[32];
        snprintf(expect, sizeof expect, "slot-%d.pem", slot);
        if (strcmp(expect, de->d_name) != 0 || !slot_in_range(ctx, slot)) continue;
        if (n == cap) {
            int* grown = realloc(arr, sizeof(int) * (size_t)cap * 2);
            if (grown == NULL) {
                free(arr);
                closedir(d);
                return -1;
            }
            arr = grown;
            cap *= 2;
        }
        arr[n++] = slot;
    }
    closedir(d);
    qsort(arr, (size_t)n, sizeof(int), cmp_int);
    *list = arr;
    return n;
}

/* Stores `key` (after `header`, or NULL) in the first free generated-key slot: the slot, or -1
 * (key store full, or an I/O error). link(2) publishes without clobbering, so two processes
 * allocating at once get different slots. */
static int alloc_slot(const zks_ctx* ctx, EVP_PKEY* key, const char* header) {
    int* slots = NULL;
    int n = list_slots(ctx, &slots);
    free(slots);
    if (n < 0 || n >= max_keys(ctx)) return -1;
    char tmp[PATH_MAX], path[PATH_MAX];
    for (int slot = ZKS_FIRST_GEN_SLOT; slot < ZKS_FIRST_GEN_SLOT + ZKS_HSM6_MAX_KEYS; slot++) {
        if (slot_path(ctx, slot, path, sizeof path) != 0) return -1;
        if (access(path, F_OK) == 0) continue;
        if (write_key_tmp(ctx, key, header, tmp, sizeof tmp) != 0) return -1;
        int pr = publish_no_clobber(tmp, path);
        if (pr == 0) return slot;
        if (pr < 0) return -1;
        /* raced with another process for this slot: try the next one */
    }
    return -1;
}

int zkGenKeyPair(zkCTX c, ZK_EC_KEY_TYPE type) {
    FAULT_GATE("zkGenKeyPair");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || !is_full(ctx)) return -1;
    zks_curve curve;
    if (type == ZK_NISTP256)
        curve = ZKS_CURVE_P256;
    else if (type == ZK_SECP256K1)
        curve = ZKS_CURVE_K1;
    else
        return -1; /* Ed25519 / X25519 (SCM / HSM60 / ZYMKEY5) are not simulated */
    EVP_PKEY* key = gen_key(curve);
    if (key == NULL) return -1;
    int result = alloc_slot(ctx, key, NULL);
    EVP_PKEY_free(key);
    return result;
}

int zkRemoveKey(zkCTX c, int slot, bool slot_is_foreign) {
    FAULT_GATE("zkRemoveKey");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || slot_is_foreign) return -1;
    if (slot < ZKS_FIRST_GEN_SLOT || !slot_in_range(ctx, slot)) return -1;
    char path[PATH_MAX];
    if (slot_path(ctx, slot, path, sizeof path) != 0) return -1;
    return unlink(path) == 0 ? 0 : -1;
}

int zkGetAllocSlotsList(zkCTX c, bool is_foreign, int* max_num_keys, int** alloc_key_list, int* alloc_key_list_sz) {
    if (alloc_key_list) *alloc_key_list = NULL;
    if (alloc_key_list_sz) *alloc_key_list_sz = 0;
    FAULT_GATE("zkGetAllocSlotsList");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || is_foreign || max_num_keys == NULL || alloc_key_list == NULL || alloc_key_list_sz == NULL)
        return -1;
    int* list = NULL;
    int n = list_slots(ctx, &list);
    if (n < 0) return -1;
    *max_num_keys = max_keys(ctx);
    *alloc_key_list = list;
    *alloc_key_list_sz = n;
    count_handout();
    return 0;
}

int zkDoRawECDH(zkCTX c, int slot, const uint8_t* peer_pubkey, int peer_pubkey_sz, uint8_t** pre_master_secret) {
    if (pre_master_secret) *pre_master_secret = NULL;
    FAULT_GATE("zkDoRawECDH");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || pre_master_secret == NULL) return -1;
    uint8_t z[32];
    if (ecdh_raw(ctx, slot, peer_pubkey, peer_pubkey_sz, z) != 0) return -1;
    uint8_t* out = malloc(32);
    if (out == NULL) {
        OPENSSL_cleanse(z, sizeof z);
        return -1;
    }
    memcpy(out, z, 32);
    OPENSSL_cleanse(z, sizeof z);
    *pre_master_secret = out;
    count_handout();
    return 0;
}

int zkDoECDHAndKDF(zkCTX c, ZK_ECDH_KDF_TYPE kdf_type, int slot, const uint8_t* peer_pubkey, int peer_pubkey_sz,
                   const uint8_t* salt, int salt_sz, const uint8_t* info, int info_sz, int num_iterations,
                   int derived_key_sz, uint8_t** derived_key) {
    if (derived_key) *derived_key = NULL;
    FAULT_GATE("zkDoECDHAndKDF");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || derived_key == NULL || derived_key_sz <= 0) return -1;
    if (salt_sz < 0 || info_sz < 0 || (salt == NULL && salt_sz > 0) || (info == NULL && info_sz > 0)) return -1;
    int is_hkdf;
    const char* md;
    switch (kdf_type) {
        case ZK_KDF_RFC5869_SHA256: is_hkdf = 1; md = "SHA256"; break;
        case ZK_KDF_RFC5869_SHA512: is_hkdf = 1; md = "SHA512"; break;
        case ZK_KDF_PBKDF2_SHA256: is_hkdf = 0; md = "SHA256"; break;
        case ZK_KDF_PBKDF2_SHA512: is_hkdf = 0; md = "SHA512"; break;
        default: return -1;
    }
    if (!is_hkdf && num_iterations <= 0) return -1;

    uint8_t z[32];
    if (ecdh_raw(ctx, slot, peer_pubkey, peer_pubkey_sz, z) != 0) return -1;

    static unsigned char empty[1] = {0};
    char mdname[16];
    strcpy(mdname, md);
    OSSL_PARAM params[8];
    int i = 0;
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, mdname, 0);
    if (is_hkdf) {
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, sizeof z);
        if (salt_sz > 0)
            params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void*)salt, (size_t)salt_sz);
        if (info_sz > 0)
            params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void*)info, (size_t)info_sz);
    } else {
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, z, sizeof z);
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_sz > 0 ? (void*)salt : empty,
                                                        (size_t)salt_sz);
        uint64_t iter = (uint64_t)num_iterations;
        params[i++] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter);
        int pkcs5 = 1; /* disable SP 800-132 lower-bound checks; the caller chooses the parameters */
        params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5);
        params[i] = OSSL_PARAM_construct_end();
    }
    params[i] = OSSL_PARAM_construct_end();

    int rc = -1;
    uint8_t* out = malloc((size_t)derived_key_sz);
    EVP_KDF* kdf = EVP_KDF_fetch(NULL, is_hkdf ? "HKDF" : "PBKDF2", NULL);
    EVP_KDF_CTX* kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (out != NULL && kctx != NULL && EVP_KDF_derive(kctx, out, (size_t)derived_key_sz, params) == 1) rc = 0;
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    OPENSSL_cleanse(z, sizeof z);
    if (rc != 0) {
        if (out) OPENSSL_cleanse(out, (size_t)derived_key_sz);
        free(out);
        return -1;
    }
    *derived_key = out;
    count_handout();
    return 0;
}

int zkGetTime(zkCTX c, uint32_t* epoch_time_sec, bool precise_time) {
    FAULT_GATE("zkGetTime");
    if (get_ctx(c) == NULL || epoch_time_sec == NULL) return -1;
    if (precise_time) {
        /* The real module may block up to 1 s waiting for the next RTC second; the simulator
         * blocks ZK_SIM_PRECISE_MS (default 0) so tests can prove callers stay off the event loop. */
        const char* ms = getenv("ZK_SIM_PRECISE_MS");
        long n = ms ? strtol(ms, NULL, 10) : 0;
        if (n > 0 && n <= 5000) {
            struct timespec ts = { n / 1000, (n % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    time_t now = time(NULL);
    if (now == (time_t)-1) return -1;
    *epoch_time_sec = (uint32_t)now;
    return 0;
}

int zkGetModelNumberString(zkCTX c, char** model_str) {
    if (fault("zkGetModelNumberString") != 0) {
        if (model_str) *model_str = NULL;
        return -1;
    }
    zks_ctx* ctx = get_ctx(c);
    const char* s = "HSM6 (simulated)";
    if (ctx != NULL && ctx->model == ZKS_MODEL_ZYMKEY4) s = "ZYMKEY4 (simulated)";
    if (ctx != NULL && ctx->model == ZKS_MODEL_SCM) s = "SCM (simulated)";
    return out_string(c, model_str, s);
}

int zkGetFirmwareVersionString(zkCTX c, char** fw_ver_str) {
    if (fw_ver_str) *fw_ver_str = NULL;
    FAULT_GATE("zkGetFirmwareVersionString");
    return out_string(c, fw_ver_str, "sim-1.0.0");
}

int zkGetSerialNumberString(zkCTX c, char** serial_num_str) {
    if (serial_num_str) *serial_num_str = NULL;
    FAULT_GATE("zkGetSerialNumberString");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL) {
        if (serial_num_str) *serial_num_str = NULL;
        return -1;
    }
    uint8_t h[SHA256_DIGEST_LENGTH];
    char s[4 + 16 + 1];
    SHA256(ctx->secret, sizeof ctx->secret, h);
    memcpy(s, "SIM-", 4);
    for (int i = 0; i < 8; i++) snprintf(s + 4 + 2 * i, 3, "%02x", h[i]);
    return out_string(c, serial_num_str, s);
}

/* ------------------------------------------------------------------------------------------ */
/* wallet (BIP32/BIP39; HSM6 and SCM only)                                                      */
/*
 * A wallet node is a generated-key slot whose file carries, before its PEM private key, the lines
 *   zk-sim wallet node v1 / wallet <hex name> / node <address> / master <slot or -1 for itself> /
 *   depth <n> / chain <hex chain code>
 * so every existing call (sign, export, verify, remove, slot list) works on it unchanged. Node
 * addresses are as Zymbit's own SDKs use them: "m", "m/44'", "m/44'/60'/0'/0/5".
 */

#define ZKS_WALLET_MAGIC "zk-sim wallet node v1\n"
#define ZKS_MAX_WALLET_NAME 64
#define ZKS_MAX_DEPTH 16
#define ZKS_MAX_NODE_ADDR (1 + ZKS_MAX_DEPTH * 12) /* "/2147483647'" is 12 characters */
#define ZKS_MAX_PASSPHRASE 1024
#define ZKS_MAX_MNEMONIC 255 /* 24 words of at most 8 letters and 23 spaces is 215 */
#define ZKS_HARDENED 0x80000000u

typedef struct {
    char wallet[ZKS_MAX_WALLET_NAME + 1];
    char node[ZKS_MAX_NODE_ADDR + 1];
    int master; /* the slot of the wallet's master seed (its own slot for "m") */
    int depth;
    uint8_t chain[32];
} zks_wnode;

/* Printable ASCII, 1..64 characters (the API says "an ASCII string"). */
static int valid_wallet_name(const char* name) {
    if (name == NULL) return 0;
    size_t n = strnlen(name, ZKS_MAX_WALLET_NAME + 1);
    if (n == 0 || n > ZKS_MAX_WALLET_NAME) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e) return 0;
    return 1;
}

static void to_hex(const uint8_t* in, size_t n, char* out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int from_hex(const char* in, size_t n_hex, uint8_t* out) {
    if (n_hex % 2 != 0) return -1;
    for (size_t i = 0; i < n_hex / 2; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char ch = in[2 * i + (size_t)j];
            v <<= 4;
            if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
            else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
            else return -1;
        }
        out[i] = (uint8_t)v;
    }
    return 0;
}

static int node_header(const zks_wnode* w, char* out, size_t out_sz) {
    char name_hex[2 * ZKS_MAX_WALLET_NAME + 1], chain_hex[65];
    to_hex((const uint8_t*)w->wallet, strlen(w->wallet), name_hex);
    to_hex(w->chain, 32, chain_hex);
    int n = snprintf(out, out_sz, "%swallet %s\nnode %s\nmaster %d\ndepth %d\nchain %s\n", ZKS_WALLET_MAGIC,
                     name_hex, w->node, w->master, w->depth, chain_hex);
    OPENSSL_cleanse(chain_hex, sizeof chain_hex);
    return (n < 0 || (size_t)n >= out_sz) ? -1 : 0;
}

/* 0 and *out filled when `slot` holds a wallet node; 1 when it holds another key; -1 when absent. */
static int read_wnode(const zks_ctx* ctx, int slot, zks_wnode* out) {
    char path[PATH_MAX], line[512];
    if (slot < ZKS_FIRST_GEN_SLOT || !slot_in_range(ctx, slot) || slot_path(ctx, slot, path, sizeof path) != 0)
        return -1;
    FILE* fp = fopen(path, "re");
    if (fp == NULL) return -1;
    int rc = 1, seen = 0;
    memset(out, 0, sizeof *out);
    if (fgets(line, sizeof line, fp) != NULL && strcmp(line, ZKS_WALLET_MAGIC) == 0) {
        rc = -1;
        while (fgets(line, sizeof line, fp) != NULL && strncmp(line, "-----BEGIN", 10) != 0) {
            size_t len = strcspn(line, "\n");
            line[len] = '\0';
            if (strncmp(line, "wallet ", 7) == 0 && len - 7 <= 2 * ZKS_MAX_WALLET_NAME &&
                from_hex(line + 7, len - 7, (uint8_t*)out->wallet) == 0) {
                out->wallet[(len - 7) / 2] = '\0';
                seen |= 1;
            } else if (strncmp(line, "node ", 5) == 0 && len - 5 <= ZKS_MAX_NODE_ADDR) {
                memcpy(out->node, line + 5, len - 5 + 1);
                seen |= 2;
            } else if (sscanf(line, "master %d", &out->master) == 1) {
                seen |= 4;
            } else if (sscanf(line, "depth %d", &out->depth) == 1) {
                seen |= 8;
            } else if (strncmp(line, "chain ", 6) == 0 && len == 6 + 64 && from_hex(line + 6, 64, out->chain) == 0) {
                seen |= 16;
            }
        }
        if (seen == 31) rc = 0;
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(fp);
    if (rc == 0 && out->master < 0) out->master = slot;
    if (rc != 0) OPENSSL_cleanse(out, sizeof *out);
    return rc;
}

/* The slot of node `addr` in the wallet whose master seed is in slot `master` (or, when `name` is
 * set, the master node of wallet `name`); -1 if there is none. */
static int find_node(const zks_ctx* ctx, int master, const char* name, const char* addr) {
    int* slots = NULL;
    int n = list_slots(ctx, &slots);
    int found = -1;
    zks_wnode w;
    for (int i = 0; i < n && found < 0; i++) {
        if (read_wnode(ctx, slots[i], &w) != 0) continue;
        if (name != NULL ? (strcmp(w.node, "m") == 0 && strcmp(w.wallet, name) == 0)
                         : (w.master == master && strcmp(w.node, addr) == 0))
            found = slots[i];
        OPENSSL_cleanse(&w, sizeof w);
    }
    free(slots);
    return found;
}

static int find_master(const zks_ctx* ctx, const char* name) { return find_node(ctx, -1, name, NULL); }

/* Stores node `w` with private key `k` in a new slot: the slot, or -1. */
static int store_node(const zks_ctx* ctx, const zks_wnode* w, const uint8_t k[32]) {
    char header[768];
    EVP_PKEY* key = zks_k1_pkey_from_priv(k);
    int slot = -1;
    if (key != NULL && node_header(w, header, sizeof header) == 0) slot = alloc_slot(ctx, key, header);
    OPENSSL_cleanse(header, sizeof header);
    EVP_PKEY_free(key);
    return slot;
}

/* A new wallet `name` from a BIP32 seed: its master node's slot, or -1. */
static int create_wallet(const zks_ctx* ctx, ZK_EC_KEY_TYPE type, const char* variant, const char* name,
                         int master_generator_key_size, const uint8_t* seed, size_t seed_len) {
    /* Only secp256k1 without a variant, and only without a master generator key: how the module
     * folds one into the seed is undocumented, so the simulator refuses rather than invent it. */
    if (!is_full(ctx) || type != ZK_SECP256K1 || (variant != NULL && variant[0] != '\0')) return -1;
    if (master_generator_key_size != 0) return -1;
    if (!valid_wallet_name(name) || find_master(ctx, name) >= 0) return -1; /* names are unique */
    zks_wnode w;
    uint8_t k[32];
    int slot = -1;
    memset(&w, 0, sizeof w);
    memcpy(w.wallet, name, strlen(name) + 1);
    strcpy(w.node, "m");
    w.master = -1;
    if (zks_bip32_master(seed, seed_len, k, w.chain) == 0) slot = store_node(ctx, &w, k);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(&w, sizeof w);
    return slot;
}

int zkGenWalletMasterSeedWithBIP39(zkCTX c, ZK_EC_KEY_TYPE type, const char* variant, const char* wallet_name,
                                   const uint8_t* master_generator_key, int master_generator_key_size,
                                   const char* bip39_passphrase, char** mnemonic) {
    if (mnemonic) *mnemonic = NULL;
    FAULT_GATE("zkGenWalletMasterSeedWithBIP39");
    zks_ctx* ctx = get_ctx(c);
    (void)master_generator_key;
    if (ctx == NULL || !is_full(ctx)) return -1;
    if (bip39_passphrase != NULL && strnlen(bip39_passphrase, ZKS_MAX_PASSPHRASE + 1) > ZKS_MAX_PASSPHRASE) return -1;
    uint8_t seed[64], entropy[32];
    char* words = NULL;
    int slot = -1;
    if (mnemonic == NULL) { /* "If NULL, the master seed is generated per BIP32": a random seed */
        if (RAND_priv_bytes(seed, sizeof seed) != 1) goto done;
    } else {
        if (RAND_priv_bytes(entropy, sizeof entropy) != 1) goto done; /* 24 words */
        words = zks_bip39_from_entropy(entropy, sizeof entropy);
        if (words == NULL || zks_bip39_seed(words, bip39_passphrase, seed) != 0) goto done;
    }
    slot = create_wallet(ctx, type, variant, wallet_name, master_generator_key_size, seed, sizeof seed);
done:
    OPENSSL_cleanse(seed, sizeof seed);
    OPENSSL_cleanse(entropy, sizeof entropy);
    if (slot < 0) {
        if (words != NULL) {
            OPENSSL_cleanse(words, strlen(words));
            free(words);
        }
        return -1;
    }
    if (words != NULL) {
        *mnemonic = words;
        count_handout();
    }
    return slot;
}

int zkRestoreWalletMasterSeedFromBIP39Mnemonic(zkCTX c, ZK_EC_KEY_TYPE type, const char* variant,
                                               const char* wallet_name, const uint8_t* master_generator_key,
                                               int master_generator_key_size, const char* BIP39_passphrase,
                                               char* BIP39_mnemonic) {
    FAULT_GATE("zkRestoreWalletMasterSeedFromBIP39Mnemonic");
    zks_ctx* ctx = get_ctx(c);
    (void)master_generator_key;
    if (ctx == NULL || !is_full(ctx) || BIP39_mnemonic == NULL) return -1;
    if (BIP39_passphrase != NULL && strnlen(BIP39_passphrase, ZKS_MAX_PASSPHRASE + 1) > ZKS_MAX_PASSPHRASE) return -1;
    if (strnlen(BIP39_mnemonic, ZKS_MAX_MNEMONIC + 1) > ZKS_MAX_MNEMONIC || zks_bip39_check(BIP39_mnemonic) != 0)
        return -1;
    uint8_t seed[64];
    int slot = -1;
    if (zks_bip39_seed(BIP39_mnemonic, BIP39_passphrase, seed) == 0)
        slot = create_wallet(ctx, type, variant, wallet_name, master_generator_key_size, seed, sizeof seed);
    OPENSSL_cleanse(seed, sizeof seed);
    return slot;
}

int zkGenWalletChildKey(zkCTX c, int parent_key_slot, uint32_t index, bool is_hardened, bool return_chain_code,
                        uint8_t** chain_code) {
    if (chain_code) *chain_code = NULL;
    FAULT_GATE("zkGenWalletChildKey");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || !is_full(ctx)) return -1;
    /* `index` is the child number without the hardened bit; the API returns a chain code only for
     * hardened children ("Has to be a hardened node as well"). */
    if (index >= ZKS_HARDENED || (return_chain_code && (!is_hardened || chain_code == NULL))) return -1;
    zks_wnode parent, child;
    uint8_t kpar[32], k[32];
    EVP_PKEY* pkey = NULL;
    int slot = -1;
    if (read_wnode(ctx, parent_key_slot, &parent) != 0 || parent.depth >= ZKS_MAX_DEPTH) goto done;
    memset(&child, 0, sizeof child);
    memcpy(child.wallet, parent.wallet, sizeof child.wallet);
    int n = snprintf(child.node, sizeof child.node, "%s/%u%s", parent.node, index, is_hardened ? "'" : "");
    if (n < 0 || (size_t)n >= sizeof child.node) goto done;
    child.master = parent.master;
    child.depth = parent.depth + 1;
    if (find_node(ctx, child.master, NULL, child.node) >= 0) goto done; /* that node already has a slot */
    if ((pkey = load_slot(ctx, parent_key_slot, NULL)) == NULL || zks_pkey_priv32(pkey, kpar) != 0) goto done;
    if (zks_bip32_ckd_priv(kpar, parent.chain, is_hardened ? index | ZKS_HARDENED : index, k, child.chain) != 0)
        goto done;
    uint8_t* cc = NULL;
    if (return_chain_code && (cc = malloc(32)) == NULL) goto done;
    slot = store_node(ctx, &child, k);
    if (slot >= 0 && cc != NULL) {
        memcpy(cc, child.chain, 32);
        *chain_code = cc;
        count_handout();
    } else {
        free(cc);
    }
done:
    EVP_PKEY_free(pkey);
    OPENSSL_cleanse(kpar, sizeof kpar);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(&parent, sizeof parent);
    OPENSSL_cleanse(&child, sizeof child);
    return slot;
}

int zkGetWalletNodeAddrFromKeySlot(zkCTX c, int slot, char** node_addr, char** wallet_name, int* master_seed_slot) {
    if (node_addr) *node_addr = NULL;
    if (wallet_name) *wallet_name = NULL;
    FAULT_GATE("zkGetWalletNodeAddrFromKeySlot");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || !is_full(ctx) || node_addr == NULL) return -1;
    zks_wnode w;
    if (read_wnode(ctx, slot, &w) != 0) return -1;
    char* addr = dup_string(w.node);
    char* name = wallet_name ? dup_string(w.wallet) : NULL;
    int master = w.master;
    OPENSSL_cleanse(&w, sizeof w);
    if (addr == NULL || (wallet_name != NULL && name == NULL)) {
        free(addr);
        free(name);
        return -1;
    }
    *node_addr = addr;
    count_handout();
    if (wallet_name) {
        *wallet_name = name;
        count_handout();
    }
    if (master_seed_slot) *master_seed_slot = master;
    return 0;
}

int zkGetWalletKeySlotFromNodeAddr(zkCTX c, const char* node_addr, const char* wallet_name, int master_seed_slot,
                                   int* slot) {
    FAULT_GATE("zkGetWalletKeySlotFromNodeAddr");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || !is_full(ctx) || node_addr == NULL || slot == NULL) return -1;
    /* The wallet is named, or (wallet_name NULL or empty) given by its master seed slot. */
    int master = (wallet_name != NULL && wallet_name[0] != '\0') ? find_master(ctx, wallet_name) : master_seed_slot;
    if (master < 0) return -1;
    int found = find_node(ctx, master, NULL, node_addr);
    if (found < 0) return -1;
    *slot = found;
    return 0;
}

int zkSimRestoreWalletMasterSeedFromSeed(zkCTX c, ZK_EC_KEY_TYPE type, const char* wallet_name, const uint8_t* seed,
                                         int seed_sz) {
    FAULT_GATE("zkSimRestoreWalletMasterSeedFromSeed");
    zks_ctx* ctx = get_ctx(c);
    if (ctx == NULL || seed == NULL || seed_sz < 16 || seed_sz > 64) return -1;
    return create_wallet(ctx, type, NULL, wallet_name, 0, seed, (size_t)seed_sz);
}

int zkSimHandedOut(void) { return __atomic_load_n(&g_handed_out, __ATOMIC_SEQ_CST); }

int zkSimOpenContexts(void) { return __atomic_load_n(&g_open_contexts, __ATOMIC_SEQ_CST); }
