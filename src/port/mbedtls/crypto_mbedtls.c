/* SPDX-License-Identifier: MIT */
/* Crypto for the core from mbedTLS, the library ESP-IDF ships too: one file for every port
 * that has mbedTLS (POSIX with Debian's 2.x, ESP-IDF with its 3.x). The port supplies only the
 * random source, otk_port_random() (crypto_mbedtls.h). */
#include <string.h>

#include <mbedtls/chachapoly.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>

#include <mbedtls/version.h>

#include "crypto_mbedtls.h"
#include "otakit/err.h"

/* mbedTLS 2.x names the returning variants *_ret; 3.x dropped the suffix. */
#if MBEDTLS_VERSION_NUMBER < 0x03000000
#define md5_starts_    mbedtls_md5_starts_ret
#define md5_update_    mbedtls_md5_update_ret
#define md5_finish_    mbedtls_md5_finish_ret
#define sha256_starts_ mbedtls_sha256_starts_ret
#define sha256_update_ mbedtls_sha256_update_ret
#define sha256_finish_ mbedtls_sha256_finish_ret
#else
#define md5_starts_    mbedtls_md5_starts
#define md5_update_    mbedtls_md5_update
#define md5_finish_    mbedtls_md5_finish
#define sha256_starts_ mbedtls_sha256_starts
#define sha256_update_ mbedtls_sha256_update
#define sha256_finish_ mbedtls_sha256_finish
#endif

_Static_assert(sizeof(mbedtls_md5_context) <= OTK_CFG_HASH_CTX_SIZE, "MD5 context too big");
_Static_assert(sizeof(mbedtls_sha256_context) <= OTK_CFG_HASH_CTX_SIZE, "SHA-256 context too big");

static void
md5_start(union otk_hash_ctx *ctx)
{
    mbedtls_md5_context *m = (mbedtls_md5_context *)ctx->bytes;
    mbedtls_md5_init(m);
    (void)md5_starts_(m);
}

static void
md5_update(union otk_hash_ctx *ctx, const void *data, size_t len)
{
    (void)md5_update_((mbedtls_md5_context *)ctx->bytes, data, len);
}

static void
md5_finish(union otk_hash_ctx *ctx, uint8_t out[16])
{
    mbedtls_md5_context *m = (mbedtls_md5_context *)ctx->bytes;
    (void)md5_finish_(m, out);
    mbedtls_md5_free(m);
}

static void
sha256_start(union otk_hash_ctx *ctx)
{
    mbedtls_sha256_context *s = (mbedtls_sha256_context *)ctx->bytes;
    mbedtls_sha256_init(s);
    (void)sha256_starts_(s, 0);
}

static void
sha256_update(union otk_hash_ctx *ctx, const void *data, size_t len)
{
    (void)sha256_update_((mbedtls_sha256_context *)ctx->bytes, data, len);
}

static void
sha256_finish(union otk_hash_ctx *ctx, uint8_t out[32])
{
    mbedtls_sha256_context *s = (mbedtls_sha256_context *)ctx->bytes;
    (void)sha256_finish_(s, out);
    mbedtls_sha256_free(s);
}

static int
pbkdf2_sha256(const void *password, size_t password_len, const void *salt, size_t salt_len,
              uint32_t iterations, uint8_t *out, size_t out_len)
{
    int rc;
#if MBEDTLS_VERSION_NUMBER >= 0x03030000
    /* 3.3 deprecated the variant on an md context: a 3.x build warns on it */
    rc = mbedtls_pkcs5_pbkdf2_hmac_ext(MBEDTLS_MD_SHA256, password, password_len, salt, salt_len,
                                       iterations, (uint32_t)out_len, out);
#else
    mbedtls_md_context_t md;
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);

    mbedtls_md_init(&md);
    rc = mbedtls_md_setup(&md, info, 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, password, password_len, salt, salt_len, iterations,
                                       (uint32_t)out_len, out);
    mbedtls_md_free(&md);
#endif
    return rc == 0 ? OTK_OK : OTK_ERR_CRYPTO;
}

#if OTK_CFG_NOISE
#if defined(ESP_PLATFORM) && !defined(MBEDTLS_CHACHAPOLY_C)
/* ESP-IDF's mbedTLS leaves ChaCha20-Poly1305 out by default; the component's Kconfig option
 * CONFIG_OTAKIT_NOISE selects it (ports/esp-idf/otakit/Kconfig). */
#error "otakit's Noise needs CONFIG_MBEDTLS_CHACHAPOLY_C (set CONFIG_OTAKIT_NOISE)"
#endif

/* mbedtls_ecp_mul's blinding wants a random source (mandatory in 3.x). */
static int
ecp_rng(void *user, unsigned char *buf, size_t len)
{
    return otk_port_random(user, buf, len) == OTK_OK ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

/* RFC 7748 scalars are little-endian and clamped: the three low bits cleared (cofactor), bit 255
 * cleared, bit 254 set. mbedtls_ecp_mul refuses a Montgomery scalar that is not clamped. */
static int
x25519_read_scalar(mbedtls_mpi *d, const uint8_t scalar[32])
{
    uint8_t k[32];
    int rc;

    memcpy(k, scalar, sizeof k);
    k[0] &= 248;
    k[31] &= 127;
    k[31] |= 64;
    rc = mbedtls_mpi_read_binary_le(d, k, sizeof k);
    mbedtls_platform_zeroize(k, sizeof k);
    return rc;
}

static int
x25519(const uint8_t scalar[32], const uint8_t *point, uint8_t out[32])
{
    static const uint8_t zero[32];
    mbedtls_ecp_group grp;
    mbedtls_ecp_point peer, result;
    mbedtls_mpi d;
    size_t olen;
    int rc;

    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&peer);
    mbedtls_ecp_point_init(&result);
    mbedtls_mpi_init(&d);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519);
    if (rc == 0)
        rc = x25519_read_scalar(&d, scalar);
    /* A u-coordinate is little-endian; mbedTLS masks bit 255 as RFC 7748 says, and refuses the
     * points of small order (their product would be all zero). */
    if (rc == 0 && point)
        rc = mbedtls_ecp_point_read_binary(&grp, &peer, point, 32);
    if (rc == 0)
        rc = mbedtls_ecp_mul(&grp, &result, &d, point ? &peer : &grp.G, ecp_rng, NULL);
    /* the point's u-coordinate, little-endian (the struct's fields are private in 3.x) */
    if (rc == 0)
        rc = mbedtls_ecp_point_write_binary(&grp, &result, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, out,
                                            32);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_point_free(&result);
    mbedtls_ecp_point_free(&peer);
    mbedtls_ecp_group_free(&grp);
    if (rc == 0 && memcmp(out, zero, sizeof zero) == 0)
        rc = -1;
    return rc == 0 ? OTK_OK : OTK_ERR_CRYPTO;
}

static void
hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, uint8_t out[32])
{
    (void)mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, key_len, data, len,
                          out);
}

static int
chachapoly_seal(const uint8_t key[32], const uint8_t nonce[12], const void *ad, size_t ad_len,
                const void *in, size_t len, void *out, uint8_t tag[16])
{
    mbedtls_chachapoly_context ctx;
    int rc;

    mbedtls_chachapoly_init(&ctx);
    rc = mbedtls_chachapoly_setkey(&ctx, key);
    if (rc == 0)
        rc = mbedtls_chachapoly_encrypt_and_tag(&ctx, len, nonce, ad, ad_len, in, out, tag);
    mbedtls_chachapoly_free(&ctx);
    return rc == 0 ? OTK_OK : OTK_ERR_CRYPTO;
}

static int
chachapoly_open(const uint8_t key[32], const uint8_t nonce[12], const void *ad, size_t ad_len,
                const void *in, size_t len, void *out, const uint8_t tag[16])
{
    mbedtls_chachapoly_context ctx;
    int rc;

    mbedtls_chachapoly_init(&ctx);
    rc = mbedtls_chachapoly_setkey(&ctx, key);
    if (rc == 0)
        rc = mbedtls_chachapoly_auth_decrypt(&ctx, len, nonce, ad, ad_len, tag, in, out);
    mbedtls_chachapoly_free(&ctx);
    if (rc == MBEDTLS_ERR_CHACHAPOLY_AUTH_FAILED)
        return OTK_ERR_AUTH;
    return rc == 0 ? OTK_OK : OTK_ERR_CRYPTO;
}

#endif /* OTK_CFG_NOISE */

#if OTK_CFG_SIGNED_IMAGES
#if defined(ESP_PLATFORM) && (!defined(MBEDTLS_RSA_C) || !defined(MBEDTLS_ECDSA_C))
#error "otakit's signed images need CONFIG_MBEDTLS_RSA_C and CONFIG_MBEDTLS_ECDSA_C"
#endif

static int
rsa_public(const uint8_t *n, size_t len, uint32_t e, const uint8_t *in, uint8_t *out)
{
    const uint8_t e_be[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
    mbedtls_rsa_context rsa;
    int rc;

#if MBEDTLS_VERSION_NUMBER < 0x03000000
    mbedtls_rsa_init(&rsa, MBEDTLS_RSA_PKCS_V15, 0);
#else
    mbedtls_rsa_init(&rsa);
#endif
    rc = mbedtls_rsa_import_raw(&rsa, n, len, NULL, 0, NULL, 0, NULL, 0, e_be, sizeof e_be);
    if (rc == 0)
        rc = mbedtls_rsa_complete(&rsa);
    /* a modulus of another length than the signature, an even one, e < 3: no public key */
    if (rc == 0 && (mbedtls_rsa_check_pubkey(&rsa) != 0 || mbedtls_rsa_get_len(&rsa) != len))
        rc = -1;
    /* the input must be below n (mbedtls_rsa_public refuses it otherwise) */
    if (rc == 0)
        rc = mbedtls_rsa_public(&rsa, in, out);
    mbedtls_rsa_free(&rsa);
    return rc == 0 ? OTK_OK : OTK_ERR_AUTH;
}

static int
ecdsa_p256_verify(const uint8_t pub_xy[64], const uint8_t hash[32], const uint8_t r[32],
                  const uint8_t s[32])
{
    uint8_t point[65];
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi mr, ms;
    int rc;

    point[0] = 0x04; /* uncompressed: X || Y */
    memcpy(point + 1, pub_xy, 64);
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&mr);
    mbedtls_mpi_init(&ms);
    rc = mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1);
    if (rc != 0) {
        rc = OTK_ERR_CRYPTO;
    } else if (mbedtls_ecp_point_read_binary(&grp, &q, point, sizeof point) != 0 ||
               mbedtls_ecp_check_pubkey(&grp, &q) != 0 || mbedtls_mpi_read_binary(&mr, r, 32) ||
               mbedtls_mpi_read_binary(&ms, s, 32) ||
               mbedtls_ecdsa_verify(&grp, hash, 32, &q, &mr, &ms) != 0) {
        rc = OTK_ERR_AUTH; /* not on the curve, r or s out of range, or does not verify */
    }
    mbedtls_mpi_free(&ms);
    mbedtls_mpi_free(&mr);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return rc == 0 ? OTK_OK : rc;
}
#endif /* OTK_CFG_SIGNED_IMAGES */

static const struct otk_crypto_ops mbedtls_crypto = {
    .md5_start = md5_start,
    .md5_update = md5_update,
    .md5_finish = md5_finish,
    .sha256_start = sha256_start,
    .sha256_update = sha256_update,
    .sha256_finish = sha256_finish,
    .pbkdf2_sha256 = pbkdf2_sha256,
    .random = otk_port_random,
#if OTK_CFG_NOISE
    .x25519 = x25519,
    .hmac_sha256 = hmac_sha256,
    .chachapoly_seal = chachapoly_seal,
    .chachapoly_open = chachapoly_open,
#endif
#if OTK_CFG_SIGNED_IMAGES
    .rsa_public = rsa_public,
    .ecdsa_p256_verify = ecdsa_p256_verify,
#endif
    .user = 0,
};

const struct otk_crypto_ops *
otk_mbedtls_crypto(void)
{
    return &mbedtls_crypto;
}
