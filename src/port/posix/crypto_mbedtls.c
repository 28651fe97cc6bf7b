/* SPDX-License-Identifier: MIT */
/* Crypto for the core from mbedTLS, the library ESP-IDF ships too. */
#include <errno.h>
#include <sys/random.h>

#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha256.h>

#include <mbedtls/version.h>

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
#include "otakit/posix.h"

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
    mbedtls_md_context_t md;
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    int rc;

    mbedtls_md_init(&md);
    rc = mbedtls_md_setup(&md, info, 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, password, password_len, salt, salt_len, iterations,
                                       (uint32_t)out_len, out);
    mbedtls_md_free(&md);
    return rc == 0 ? OTK_OK : OTK_ERR_CRYPTO;
}

static int
random_bytes(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return OTK_ERR_CRYPTO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return OTK_OK;
}

static const struct otk_crypto_ops posix_crypto = {
    .md5_start = md5_start,
    .md5_update = md5_update,
    .md5_finish = md5_finish,
    .sha256_start = sha256_start,
    .sha256_update = sha256_update,
    .sha256_finish = sha256_finish,
    .pbkdf2_sha256 = pbkdf2_sha256,
    .random = random_bytes,
    .user = 0,
};

const struct otk_crypto_ops *
otk_posix_crypto(void)
{
    return &posix_crypto;
}
