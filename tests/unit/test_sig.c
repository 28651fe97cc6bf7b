/* SPDX-License-Identifier: MIT */
/* Signed images: the core's checks (src/core/sig.c) over images signed here with mbedTLS
 * (src/host/sigtool.c) - Secure Boot V2 with RSA-3072 and P-256, the ESP8266 format with
 * RSA-2048 and its legacy variant - and the tampered-image corpus: flipped bits in the image
 * and in the signature (with and without a fixed CRC), a truncated or moved block, extra bytes,
 * another key, no signature. Every case names its result; none is ever accepted. With the test
 * data, the real images signed as the reference's recipes describe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helper_testdata.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"
#include "otakit/sig.h"
#include "otakit/sigtool.h"

#include "bytes.h"

/* Keys made once for the whole program (RSA key generation takes a while). */
static struct otk_hostkey rsa3072, rsa3072_other, p256, p256_other, rsa2048, rsa2048_other;

static void
make_key(struct otk_hostkey *k, enum otk_keykind kind, unsigned bits)
{
    static char pem[16384];
    char path[] = "/tmp/otk-test-sig-XXXXXX", err[200];
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(otk_hostkey_generate(kind, bits, pem, sizeof pem, err, sizeof err), 0);
    assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
    close(fd);
    assert_int_equal(otk_hostkey_load(k, path, err, sizeof err), 0);
    unlink(path);
}

static int
keys_setup(void **state)
{
    (void)state;
    if (rsa3072.pk != NULL)
        return 0; /* made by an earlier case */
    make_key(&rsa3072, OTK_KEY_RSA, 3072);
    make_key(&rsa3072_other, OTK_KEY_RSA, 3072);
    make_key(&p256, OTK_KEY_P256, 0);
    make_key(&p256_other, OTK_KEY_P256, 0);
    make_key(&rsa2048, OTK_KEY_RSA, 2048);
    make_key(&rsa2048_other, OTK_KEY_RSA, 2048);
    return 0;
}

static uint8_t *
gen(enum otk_profile p, uint32_t size, size_t *len)
{
    uint8_t *b = malloc(size);

    assert_non_null(b);
    assert_int_equal(otk_imagegen(p, "sigtest", "1.0", size, 7, b, size), (int)size);
    *len = size;
    return b;
}

static uint8_t *
sign(const struct otk_hostkey *k, enum otk_sign_as as, const uint8_t *img, size_t len,
     size_t *out_len)
{
    uint8_t *out = NULL;
    char err[200];

    assert_int_equal(otk_sign_image(k, as, img, len, &out, out_len, err, sizeof err), 0);
    return out;
}

static enum otk_sig_result
check(const uint8_t *img, size_t len, const struct otk_hostkey *k, enum otk_sig_format f)
{
    struct otk_sig_info info;
    const struct otk_sig_key *key = k ? otk_hostkey_trust(k, f) : NULL;

    if (k)
        assert_non_null(key);
    return otk_sig_check_buffer(img, len, key, &info);
}

static void
fix_crc(uint8_t *block)
{
    otk__put_u32(block + OTK_SBV2_CRC_OFF, otk_sig_crc32(block, OTK_SBV2_CRC_OFF));
}

/* The SBv2 block laid out as the reference's table says, for one key. */
static void
sbv2_layout(const uint8_t *s, size_t len, size_t unsigned_len, int version)
{
    const uint8_t *b = s + len - OTK_SBV2_SECTOR_SIZE;
    uint8_t digest[32];
    union otk_hash_ctx h;
    const struct otk_crypto_ops *c = otk_posix_crypto();

    assert_int_equal(len % 4096, 0);
    assert_int_equal(len, (unsigned_len + 4095) / 4096 * 4096 + 4096);
    assert_int_equal(b[0], 0xE7);
    assert_int_equal(b[1], version);
    c->sha256_start(&h);
    c->sha256_update(&h, s, len - 4096);
    c->sha256_finish(&h, digest);
    assert_memory_equal(b + 4, digest, 32);
    assert_int_equal(otk__get_u32(b + 1196), otk_sig_crc32(b, 1196));
    for (size_t i = 1200; i < 1216; i++)
        assert_int_equal(b[i], 0);
    for (size_t i = 1216; i < 4096; i++)
        assert_int_equal(b[i], 0xFF);
    for (size_t i = unsigned_len; i < len - 4096; i++)
        assert_int_equal(s[i], 0xFF); /* padding to the 4 KiB boundary */
}

/* Every SBv2 mutation of the reference's negative-case table, for one key. */
static void
sbv2_corpus(const struct otk_hostkey *k, const struct otk_hostkey *other, int version)
{
    size_t len, slen, olen;
    uint8_t *img = gen(OTK_PROFILE_ESP32, 50000, &len);
    uint8_t *s = sign(k, OTK_SIGN_SBV2, img, len, &slen);
    uint8_t *o = sign(other, OTK_SIGN_SBV2, img, len, &olen);
    uint8_t *blk = s + slen - 4096;
    size_t sig_at = version == 2 ? 812 : 101;
    struct otk_sig_info info;

    sbv2_layout(s, slen, len, version);
    assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_OK);
    assert_int_equal(otk_sig_check_buffer(s, slen, NULL, &info), OTK_SIG_OK);
    assert_int_equal(info.format, OTK_SIG_FMT_SBV2);
    assert_int_equal(info.alg, version == 2 ? OTK_SIG_ALG_RSA_PSS : OTK_SIG_ALG_ECDSA_P256);
    assert_memory_equal(info.key_digest, k->trust_sbv2.digest, 32);
    /* another key: a genuine signature, not by the trusted key */
    assert_int_equal(check(o, olen, k, OTK_SIG_FMT_SBV2), OTK_SIG_WRONG_KEY);
    assert_int_equal(check(o, olen, NULL, OTK_SIG_FMT_NONE), OTK_SIG_OK);
    /* unsigned */
    assert_int_equal(check(img, len, k, OTK_SIG_FMT_SBV2), OTK_SIG_UNSIGNED);
    assert_int_equal(check(img, len, NULL, OTK_SIG_FMT_NONE), OTK_SIG_UNSIGNED);
    /* one image byte flipped (in the header, in the middle, in the padding) */
    static const size_t image_at[] = {1, 25000, 49999, 50001};
    for (size_t i = 0; i < 4; i++) {
        s[image_at[i]] ^= 0x10;
        assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_CHANGED);
        assert_int_equal(check(s, slen, NULL, OTK_SIG_FMT_NONE), OTK_SIG_CHANGED);
        s[image_at[i]] ^= 0x10;
    }
    /* a signature byte flipped: the CRC catches it; with the CRC fixed, the signature does */
    blk[sig_at + 5] ^= 0x01;
    assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    fix_crc(blk);
    assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_BAD);
    assert_int_equal(check(s, slen, NULL, OTK_SIG_FMT_NONE), OTK_SIG_BAD);
    blk[sig_at + 5] ^= 0x01;
    fix_crc(blk);
    /* the digest in the block changed with a fixed CRC: the image no longer matches it */
    blk[10] ^= 0x80;
    fix_crc(blk);
    assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_CHANGED);
    blk[10] ^= 0x80;
    fix_crc(blk);
    /* truncated (by one byte, inside the block), one byte more, the sector moved: no block
     * where the bootloader reads it, and named as a broken one (not as no signature) */
    assert_int_equal(check(s, slen - 1, k, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    assert_int_equal(check(s, slen - 1, NULL, OTK_SIG_FMT_NONE), OTK_SIG_MALFORMED);
    assert_int_equal(check(s, slen - 4096 + 1000, NULL, OTK_SIG_FMT_NONE), OTK_SIG_MALFORMED);
    assert_int_equal(check(s, slen - 4096, k, OTK_SIG_FMT_SBV2), OTK_SIG_UNSIGNED);
    uint8_t *more = malloc(slen + 4096);
    memcpy(more, s, slen);
    memset(more + slen, 0xFF, 4096);
    assert_int_equal(check(more, slen + 1, k, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    assert_int_equal(check(more, slen + 1, NULL, OTK_SIG_FMT_NONE), OTK_SIG_MALFORMED);
    assert_int_equal(check(more, slen + 4096, k, OTK_SIG_FMT_SBV2), OTK_SIG_UNSIGNED);
    free(more);
    /* the sector's FF tail after the blocks is covered by nothing (the bootloader reads the
     * blocks only): a change there leaves the signature valid */
    blk[3000] = 0;
    assert_int_equal(check(s, slen, k, OTK_SIG_FMT_SBV2), OTK_SIG_OK);
    free(img);
    free(s);
    free(o);
}

static void
sbv2_rsa3072(void **state)
{
    (void)state;
    sbv2_corpus(&rsa3072, &rsa3072_other, 2);
}

static void
sbv2_p256(void **state)
{
    (void)state;
    sbv2_corpus(&p256, &p256_other, 3);
}

/* A sector with two blocks (espsecure --append-signatures): the trusted key may be either. */
static void
sbv2_two_blocks(void **state)
{
    size_t len, slen, olen;
    uint8_t *img = gen(OTK_PROFILE_ESP32, 8192, &len);
    uint8_t *s = sign(&rsa3072, OTK_SIGN_SBV2, img, len, &slen);
    uint8_t *o = sign(&p256, OTK_SIGN_SBV2, img, len, &olen);
    struct otk_sig_info info;

    (void)state;
    assert_int_equal(slen, olen);
    memcpy(s + slen - 4096 + 1216, o + olen - 4096, 1216);
    assert_int_equal(otk_sig_check_buffer(s, slen, &p256.trust_sbv2, &info), OTK_SIG_OK);
    assert_int_equal(info.blocks, 2);
    assert_int_equal(info.block_used, 1);
    assert_int_equal(otk_sig_check_buffer(s, slen, &rsa3072.trust_sbv2, &info), OTK_SIG_OK);
    assert_int_equal(info.block_used, 0);
    assert_int_equal(otk_sig_check_buffer(s, slen, &p256_other.trust_sbv2, &info),
                     OTK_SIG_WRONG_KEY);
    free(img);
    free(s);
    free(o);
}

/* Block kinds the parser knows but does not check, and broken headers. */
static void
sbv2_block_kinds(void **state)
{
    size_t len, slen;
    uint8_t *img = gen(OTK_PROFILE_ESP32, 4096, &len);
    uint8_t *s = sign(&p256, OTK_SIGN_SBV2, img, len, &slen);
    uint8_t *b = s + slen - 4096;
    struct otk_sig_info info;

    (void)state;
    b[36] = 1; /* P-192 */
    fix_crc(b);
    assert_int_equal(otk_sig_sbv2_parse_block(b, 1216, &info), OTK_SIG_UNSUPPORTED);
    assert_int_equal(check(s, slen, NULL, OTK_SIG_FMT_NONE), OTK_SIG_UNSUPPORTED);
    b[36] = 9; /* no such curve */
    fix_crc(b);
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    b[36] = 2;
    b[1] = 4; /* unknown version */
    fix_crc(b);
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    b[1] = 3;
    b[1205] = 1; /* the zero tail after the CRC */
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    b[1205] = 0;
    b[500] = 1; /* the reserved bytes of an ECDSA block */
    fix_crc(b);
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_MALFORMED);
    b[500] = 0;
    fix_crc(b);
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_OK);
    assert_int_equal(otk_sig_sbv2_parse_block(b, 1215, &info), OTK_SIG_MALFORMED);
    /* a P-256 key's trust does not take an RSA block, nor the reverse */
    assert_null(otk_hostkey_trust(&rsa2048, OTK_SIG_FMT_SBV2));
    assert_null(otk_hostkey_trust(&p256, OTK_SIG_FMT_ESP8266));
    free(img);
    free(s);
}

static void
esp8266_corpus(void **state)
{
    size_t len, slen, olen, blen;
    uint8_t *img = gen(OTK_PROFILE_ESP8266, 30000, &len);
    uint8_t *s = sign(&rsa2048, OTK_SIGN_ESP8266, img, len, &slen);
    uint8_t *o = sign(&rsa2048_other, OTK_SIGN_ESP8266, img, len, &olen);
    uint8_t *big = sign(&rsa3072, OTK_SIGN_ESP8266, img, len, &blen);
    struct otk_sig_info info;

    (void)state;
    assert_int_equal(slen, len + 260);
    assert_int_equal(otk__get_u32(s + slen - 4), 256); /* trailer 00 01 00 00 */
    assert_memory_equal(s, img, len);
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_OK);
    assert_int_equal(otk_sig_check_buffer(s, slen, NULL, &info), OTK_SIG_OK);
    assert_int_equal(info.format, OTK_SIG_FMT_ESP8266);
    assert_int_equal(info.sig_len, 256);
    assert_false(info.key_checked); /* without the key only the trailer can be checked */
    assert_int_equal(check(o, olen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_BAD);
    assert_int_equal(check(big, blen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_WRONG_KEY);
    assert_int_equal(check(img, len, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_UNSIGNED);
    assert_int_equal(check(img, len, NULL, OTK_SIG_FMT_NONE), OTK_SIG_UNSIGNED);
    s[100] ^= 0x04;
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_CHANGED);
    s[100] ^= 0x04;
    s[len + 17] ^= 0x04; /* in the signature */
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_BAD);
    s[len + 17] ^= 0x04;
    s[slen - 3] = 0x02; /* the trailer says 512: another key size */
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_WRONG_KEY);
    s[slen - 3] = 0x03; /* 768: no RSA signature this format takes */
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_UNSIGNED);
    s[slen - 3] = 0x01;
    assert_int_equal(check(s, slen - 1, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_UNSIGNED);
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_OK);
    free(img);
    free(s);
    free(o);
    free(big);
}

static void
esp8266_legacy(void **state)
{
    size_t len, slen;
    uint8_t *img = gen(OTK_PROFILE_ESP8266, 20000, &len);
    uint8_t *s = sign(&rsa2048, OTK_SIGN_ESP8266_LEGACY, img, len, &slen);
    struct otk_sig_key legacy = rsa2048.trust_esp8266;
    struct otk_sig_info info;

    (void)state;
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_LEGACY);
    legacy.accept_legacy = true;
    assert_int_equal(otk_sig_check_buffer(s, slen, &legacy, &info), OTK_SIG_OK);
    s[5] ^= 1;
    assert_int_equal(otk_sig_check_buffer(s, slen, &legacy, &info), OTK_SIG_CHANGED);
    free(img);
    free(s);
}

/* The texts a host prints and the CRC's check value (zlib's crc32 of "123456789"). */
static void
names_and_crc(void **state)
{
    (void)state;
    assert_int_equal(otk_sig_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_string_equal(otk_sig_result_str(OTK_SIG_WRONG_KEY), "signed with another key");
    assert_string_equal(otk_sig_result_str(OTK_SIG_CHANGED), "image changed after signing");
    assert_string_equal(otk_sig_result_str(OTK_SIG_UNSIGNED), "no signature");
    assert_string_equal(otk_sig_alg_str(OTK_SIG_ALG_ECDSA_P256), "SBv2 ECDSA P-256");
    assert_int_equal(otk_sig_esp8266_trailer(1000, (const uint8_t[]){0, 1, 0, 0}), 256);
    assert_int_equal(otk_sig_esp8266_trailer(200, (const uint8_t[]){0, 1, 0, 0}), 0);
    assert_int_equal(otk_sig_esp8266_trailer(1000, (const uint8_t[]){0x11, 1, 0, 0}), 0);
}

/* The reference's recipe figures on the real images: esp32-arduino-idf3.3.bin, 977,776 bytes,
 * pads to 978,944 and signs to 983,040 with the padded image's SHA-256 17d79fd9...0520e in the
 * block; esp8266-arduino.bin, 410,880 bytes, signs to 411,140 with the trailer 00 01 00 00. */
static void
real_images(void **state)
{
    size_t len, slen;
    uint8_t *img = testdata_load("esp32-arduino-idf3.3.bin", &len);
    uint8_t *s = sign(&rsa3072, OTK_SIGN_SBV2, img, len, &slen);
    char hex[65];

    (void)state;
    assert_int_equal(len, 977776);
    assert_int_equal(slen, 983040);
    otk_sig_digest_hex(s + slen - 4096 + 4, hex);
    assert_memory_equal(hex, "17d79fd9", 8);
    assert_memory_equal(hex + 59, "0520e", 5);
    assert_int_equal(check(s, slen, &rsa3072, OTK_SIG_FMT_SBV2), OTK_SIG_OK);
    free(s);
    s = sign(&p256, OTK_SIGN_SBV2, img, len, &slen);
    assert_int_equal(check(s, slen, &p256, OTK_SIG_FMT_SBV2), OTK_SIG_OK);
    free(s);
    free(img);
    img = testdata_load("esp8266-arduino.bin", &len);
    s = sign(&rsa2048, OTK_SIGN_ESP8266, img, len, &slen);
    assert_int_equal(len, 410880);
    assert_int_equal(slen, 411140);
    assert_memory_equal(s + slen - 4, "\x00\x01\x00\x00", 4);
    assert_int_equal(check(s, slen, &rsa2048, OTK_SIG_FMT_ESP8266), OTK_SIG_OK);
    free(s);
    free(img);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(sbv2_rsa3072, keys_setup),
        cmocka_unit_test_setup(sbv2_p256, keys_setup),
        cmocka_unit_test_setup(sbv2_two_blocks, keys_setup),
        cmocka_unit_test_setup(sbv2_block_kinds, keys_setup),
        cmocka_unit_test_setup(esp8266_corpus, keys_setup),
        cmocka_unit_test_setup(esp8266_legacy, keys_setup),
        cmocka_unit_test(names_and_crc),
    };
    const struct CMUnitTest data_tests[] = {
        cmocka_unit_test_setup(real_images, keys_setup),
    };
    static const char *const files[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin", NULL};

    return testdata_main(argc, argv, tests, data_tests, files);
}
