/* SPDX-License-Identifier: MIT */
/* The signature checks (src/core/sig.c) on arbitrary files: the SBv2 block parser, the ESP8266
 * trailer, and otk_sig_verify with no key, an SBv2 key pinned to the file's own block, or an
 * ESP8266 key. The file sits at the very end of a RAM flash, so a read past it is flash misuse
 * and fails the run. The public-key operations are mbedTLS's, or stand-ins the fuzzer can
 * steer (RSA: the identity, so that the input is the opened signature and the PSS and PKCS#1
 * padding checks see any bytes; ECDSA: a verdict from the hash), so the paths behind a valid
 * signature are reached too.
 *
 * Input: one mode byte (bits 0-1: 0 no key, 1 SBv2 key of the file's block 0, 2 ESP8266
 * RSA-2048 key, 3 the same accepting legacy signatures; bit 2: mbedTLS instead of the
 * stand-ins), then the file. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/sig.h"

#define LEAD 4096u /* flash before the file */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
identity_rsa(const uint8_t *n, size_t len, uint32_t e, const uint8_t *in, uint8_t *out)
{
    (void)n;
    (void)e;
    memmove(out, in, len);
    return OTK_OK;
}

static int
hash_verdict_ecdsa(const uint8_t pub[64], const uint8_t hash[32], const uint8_t r[32],
                   const uint8_t s[32])
{
    (void)pub;
    return (hash[0] ^ r[0] ^ s[31]) & 1 ? OTK_OK : OTK_ERR_AUTH;
}

/* The key a mode asks for, into key (modulus: 256 bytes of scratch). NULL for no key. */
static const struct otk_sig_key *
mode_key(uint8_t mode, const struct ramflash *rf, size_t n, struct fuzz_crypto *c,
         struct otk_sig_key *key, uint8_t *modulus)
{
    memset(key, 0, sizeof *key);
    switch (mode & 3u) {
    case 1: {
        const uint8_t *b = rf->mem + LEAD + n - OTK_SBV2_SECTOR_SIZE;
        union otk_hash_ctx h;

        if (n < OTK_SBV2_SECTOR_SIZE)
            return NULL;
        key->format = OTK_SIG_FMT_SBV2;
        key->alg = b[1] == 2 ? OTK_SIG_ALG_RSA_PSS : OTK_SIG_ALG_ECDSA_P256;
        otk_sig_sbv2_key_digest(&c->ops, &h, b, key->digest);
        return key;
    }
    case 0:
        return NULL;
    default:
        memset(modulus, 0xC5, 256); /* odd, 2048 bits: mbedTLS takes it as a public key */
        key->format = OTK_SIG_FMT_ESP8266;
        key->alg = OTK_SIG_ALG_RSA_PKCS1;
        key->modulus = modulus;
        key->modulus_len = 256;
        key->exponent = 65537;
        key->accept_legacy = (mode & 3u) == 3;
        return key;
    }
}

static void
check_parsers(const uint8_t *file, size_t n)
{
    struct otk_sig_info info;

    for (size_t off = 0; off + OTK_SBV2_BLOCK_SIZE <= n && off < 3 * OTK_SBV2_BLOCK_SIZE;
         off += OTK_SBV2_BLOCK_SIZE) {
        enum otk_sig_result r = otk_sig_sbv2_parse_block(file + off, n - off, &info);

        FUZZ_CHECK(r == OTK_SIG_OK || r == OTK_SIG_UNSIGNED || r == OTK_SIG_MALFORMED ||
                   r == OTK_SIG_UNSUPPORTED);
        if (r == OTK_SIG_OK)
            FUZZ_CHECK(info.alg == OTK_SIG_ALG_RSA_PSS || info.alg == OTK_SIG_ALG_ECDSA_P256);
    }
    if (n >= 4) {
        uint32_t s = otk_sig_esp8266_trailer((uint32_t)n, file + n - 4);

        FUZZ_CHECK(s == 0 || (s >= 64 && s <= OTK_SIG_RSA_MAX && s + 4 < n));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t work[OTK_SIG_WORK_SIZE], modulus[256];
    struct fuzz_crypto c;
    struct ramflash rf;
    struct otk_sig_key key_store;
    const struct otk_sig_key *key;
    struct otk_sig_info info;
    union otk_hash_ctx h;
    enum otk_sig_result r;
    size_t n;

    if (size < 1 || size > (1u << 18))
        return 0;
    n = size - 1;
    fuzz_crypto_init(&c);
    if (!(data[0] & 4u)) {
        c.ops.rsa_public = identity_rsa;
        c.ops.ecdsa_p256_verify = hash_verdict_ecdsa;
    }
    ramflash_init(&rf, LEAD + (uint32_t)n);
    rf.fail_on_misuse = false;
    ramflash_load(&rf, LEAD, data + 1, n);
    check_parsers(data + 1, n);
    key = mode_key(data[0], &rf, n, &c, &key_store, modulus);
    struct otk_sig_image img = {&rf.ops, &c.ops, LEAD, (uint32_t)n, work, &h};
    r = otk_sig_verify(&img, key, &info);
    FUZZ_CHECK(r <= OTK_SIG_NO_CRYPTO);
    FUZZ_CHECK(otk_sig_result_str(r) != NULL && otk_sig_alg_str(info.alg) != NULL);
    FUZZ_CHECK(rf.misuse == 0);
    FUZZ_CHECK(info.signed_len <= n);
    if (r == OTK_SIG_OK && info.format == OTK_SIG_FMT_SBV2) {
        FUZZ_CHECK(n % OTK_SBV2_SECTOR_SIZE == 0 && info.signed_len == n - OTK_SBV2_SECTOR_SIZE);
        FUZZ_CHECK(info.block_used < OTK_SBV2_MAX_BLOCKS);
    }
    if (r == OTK_SIG_OK && key != NULL)
        FUZZ_CHECK(info.key_checked && info.format == key->format);
    ramflash_free(&rf);
    return 0;
}
