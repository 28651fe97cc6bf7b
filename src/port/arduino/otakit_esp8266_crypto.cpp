/* SPDX-License-Identifier: MIT */
/* The ESP8266 port's crypto: what the core ships anyway. MD5 from the ROM (md5.h, as
 * MD5Builder and the Updater use it), SHA-256 from BearSSL (linked by every ESP8266 core
 * firmware), random bytes from the hardware RNG (ESP.random). PBKDF2 is left out: the
 * ESP8266's ArduinoOTA exchange is MD5 (OTK_AUTH_MD5). Noise is off on this core (config.h). */
#if defined(ARDUINO_ARCH_ESP8266)

#include <Arduino.h>
#include <bearssl/bearssl_hash.h>
#include <md5.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit_esp8266.h"

static_assert(sizeof(md5_context_t) <= sizeof(union otk_hash_ctx), "MD5 context too big");
static_assert(sizeof(br_sha256_context) <= sizeof(union otk_hash_ctx), "SHA-256 too big");

static void
md5_start(union otk_hash_ctx *ctx)
{
    MD5Init((md5_context_t *)ctx->bytes);
}

/* MD5Update takes a 16-bit length. */
static void
md5_update(union otk_hash_ctx *ctx, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;

    while (len > 0) {
        uint16_t n = len > 0x8000u ? 0x8000u : (uint16_t)len;
        MD5Update((md5_context_t *)ctx->bytes, p, n);
        p += n;
        len -= n;
    }
}

static void
md5_finish(union otk_hash_ctx *ctx, uint8_t out[16])
{
    MD5Final(out, (md5_context_t *)ctx->bytes);
}

static void
sha256_start(union otk_hash_ctx *ctx)
{
    br_sha256_init((br_sha256_context *)ctx->bytes);
}

static void
sha256_update(union otk_hash_ctx *ctx, const void *data, size_t len)
{
    br_sha256_update((br_sha256_context *)ctx->bytes, data, len);
}

static void
sha256_finish(union otk_hash_ctx *ctx, uint8_t out[32])
{
    br_sha256_out((br_sha256_context *)ctx->bytes, out);
}

static int
random_bytes(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    ESP.random(buf, len); /* the hardware RNG: secure while the radio runs */
    return OTK_OK;
}

const struct otk_crypto_ops *
otk_esp8266_crypto(void)
{
    static const struct otk_crypto_ops ops = {
        md5_start,    md5_update, md5_finish, sha256_start, sha256_update, sha256_finish, NULL,
        random_bytes, NULL,       NULL,       NULL,         NULL,          NULL};
    return &ops;
}

#endif
