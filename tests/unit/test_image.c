/* SPDX-License-Identifier: MIT */
/* Image verification against real firmware built by others, generated images, and corrupted
 * copies of both. Images are placed so that they end at the end of the RAM flash: a read past
 * max_len would then be a read past the flash, which fails the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_ramflash.h"
#include "helper_testdata.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"

#define FLASH_SIZE 0x200000u

/* Verify img[0..len) placed at the very end of a fresh RAM flash, with max_len = len. */
static enum otk_image_result
verify_buf(const uint8_t *img, size_t len, enum otk_profile chip, struct otk_image_info *info)
{
    struct ramflash rf;
    union otk_hash_ctx h;
    uint32_t fsize = ((uint32_t)len + 8191u) & ~4095u;
    uint32_t off = fsize - (uint32_t)len;
    enum otk_image_result r;

    ramflash_init(&rf, fsize);
    ramflash_load(&rf, off, img, len);
    r = otk_image_verify(&rf.ops, otk_posix_crypto(), off, (uint32_t)len, chip, &h, info);
    assert_int_equal(rf.mutations, 0); /* verification never writes */
    ramflash_free(&rf);
    return r;
}

static uint8_t *
gen(enum otk_profile chip, uint32_t size, uint32_t seed)
{
    uint8_t *b = malloc(size);

    assert_non_null(b);
    assert_int_equal(otk_imagegen(chip, "demo", "1.2.3", size, seed, b, size), (int)size);
    return b;
}

static void
real_esp32_image(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *img = testdata_load("esp32-arduino-idf3.3.bin", &len);
    struct otk_image_info info;

    assert_int_equal(len, 977776);
    assert_int_equal(verify_buf(img, len, OTK_PROFILE_ESP32, &info), OTK_IMG_OK);
    assert_int_equal(info.chip, OTK_PROFILE_ESP32);
    assert_int_equal(info.segment_count, 5);
    assert_int_equal(info.flash_mode, 2);
    assert_int_equal(info.flash_size_freq, 0x20);
    assert_int_equal(info.chip_id, 0);
    assert_true(info.hash_appended);
    assert_int_equal(info.length, len);
    assert_true(info.has_app_desc);
    assert_string_equal(info.project, "esp32-arduino-lib-builder");
    assert_string_equal(info.version, "9036908-dirty");
    assert_string_equal(info.idf_ver, "v3.3.5-1-g85c43024c");
    assert_string_equal(info.date, "Mar 26 2021");
    assert_string_equal(info.time, "06:09:28");

    /* For the ESP8266 it is another chip's image, and the info says which. */
    assert_int_equal(verify_buf(img, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_WRONG_CHIP);
    assert_int_equal(info.chip, OTK_PROFILE_ESP32);
    assert_string_equal(info.project, "esp32-arduino-lib-builder");

    /* A bigger max_len (the whole partition) does not change anything. */
    {
        struct ramflash rf;
        union otk_hash_ctx h;

        ramflash_init(&rf, FLASH_SIZE);
        ramflash_load(&rf, 0x10000, img, len);
        assert_int_equal(otk_image_verify(&rf.ops, otk_posix_crypto(), 0x10000, 0x140000,
                                          OTK_PROFILE_ESP32, &h, &info),
                         OTK_IMG_OK);
        assert_int_equal(info.length, len);
        ramflash_free(&rf);
    }
    free(img);
}

static void
real_esp8266_image(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *img = testdata_load("esp8266-arduino.bin", &len);
    struct otk_image_info info;

    assert_int_equal(len, 410880);
    assert_int_equal(verify_buf(img, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_OK);
    assert_int_equal(info.chip, OTK_PROFILE_ESP8266);
    assert_false(info.has_app_desc);
    assert_int_equal(info.length, len); /* eboot + sketch at 0x1000 */
    assert_int_equal(info.flash_size_freq, 0x40);

    assert_int_equal(verify_buf(img, len, OTK_PROFILE_ESP32, &info), OTK_IMG_WRONG_CHIP);
    assert_int_equal(info.chip, OTK_PROFILE_ESP8266);
    free(img);
}

static void
corrupt_real_esp32(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *img = testdata_load("esp32-arduino-idf3.3.bin", &len);
    uint8_t *c = malloc(len);
    struct otk_image_info info;

    assert_non_null(c);
#define RESET() memcpy(c, img, len)
    RESET();
    c[0] = 0xEA;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_MAGIC);

    RESET();
    c[0x50000] ^= 0x01; /* inside segment 3 (IROM) */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_CHECKSUM);

    RESET();
    c[len - 32] ^= 0x80; /* first byte of the appended SHA-256 */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HASH);

    RESET();
    c[len - 33] ^= 0x01; /* the checksum byte */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_CHECKSUM);

    RESET();
    c[0x16] = 0x00;  /* padding byte in the header changed: covered by the hash only */
    c[0x10] ^= 0x01; /* min_chip_rev: not checked, but hashed */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HASH);

    RESET();
    c[12] = 2; /* chip id 2: ESP32-S2 */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_WRONG_CHIP);
    assert_int_equal(info.chip_id, 2);

    RESET();
    assert_int_equal(verify_buf(c, len - 1, OTK_PROFILE_ESP32, &info), OTK_IMG_TRUNCATED);
    assert_int_equal(verify_buf(c, len / 2, OTK_PROFILE_ESP32, &info), OTK_IMG_TRUNCATED);
    assert_int_equal(verify_buf(c, 30, OTK_PROFILE_ESP32, &info), OTK_IMG_TRUNCATED);
    assert_int_equal(verify_buf(c, 1, OTK_PROFILE_ESP32, &info), OTK_IMG_TRUNCATED);

    RESET();
    c[1] = 0;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);
    c[1] = 17;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);
    c[1] = 255;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);

    RESET();
    c[0x1c] = 0xF0; /* segment 0 length 0xFFFFFFF0-ish: absurd */
    c[0x1d] = 0xFF;
    c[0x1e] = 0xFF;
    c[0x1f] = 0xFF;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);
    c[0x1c] = 0xF0; /* 0x00FFFFF0: aligned, < 16 MB, longer than the image */
    c[0x1f] = 0x00;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_TRUNCATED);
    c[0x1c] = 0xD5; /* length not a multiple of 4 */
    c[0x1d] = 0xA0;
    c[0x1e] = 0x03;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);

    RESET();
    c[0x18] = 0x00; /* segment 0 load address 0x3F400000: breaks the MMU page rule */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);
    RESET();
    c[0x1b] = 0x10; /* load address 0x10400020: nowhere in the ESP32 map */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_HEADER);
#undef RESET
    free(c);
    free(img);
}

static void
corrupt_real_esp8266(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *img = testdata_load("esp8266-arduino.bin", &len);
    uint8_t *c = malloc(len);
    struct otk_image_info info;

    assert_non_null(c);
#define RESET() memcpy(c, img, len)
    RESET();
    c[0x100] ^= 0x04; /* eboot code: the ROM checks this checksum */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_BAD_CHECKSUM);

    RESET();
    c[0xdaf] ^= 0x01; /* eboot checksum byte */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_BAD_CHECKSUM);

    RESET();
    c[0x1000] = 0x00; /* the sketch's magic */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_BAD_MAGIC);

    RESET();
    c[0x1001] = 0; /* sketch segment count */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_BAD_HEADER);

    RESET();
    c[0x100b] = 0x50; /* sketch segment 0 load address 0x50201010: not an ESP8266 address */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_WRONG_CHIP);

    RESET();
    c[0x100e] = 0x40; /* sketch segment 0 length 0x0040B9DC: past the end */
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_TRUNCATED);

    RESET();
    assert_int_equal(verify_buf(c, len - 1, OTK_PROFILE_ESP8266, &info), OTK_IMG_TRUNCATED);
    assert_int_equal(verify_buf(c, 0x2000, OTK_PROFILE_ESP8266, &info), OTK_IMG_TRUNCATED);
    assert_int_equal(verify_buf(c, 0xdaf, OTK_PROFILE_ESP8266, &info), OTK_IMG_TRUNCATED);

    /* Documented limit: the sketch's own checksum is not enforced (eboot does not check it and
     * this real build's does not match), so a flipped sketch byte is not detected here - the
     * updater's MD5 is what catches that in transit. */
    RESET();
    c[0x20000] ^= 0x01;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_OK);

    RESET();
    c[0] = 0x1F;
    c[1] = 0x8B;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_GZIP);
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP32, &info), OTK_IMG_BAD_MAGIC);
    c[1] = 0x8C;
    assert_int_equal(verify_buf(c, len, OTK_PROFILE_ESP8266, &info), OTK_IMG_BAD_MAGIC);
#undef RESET
    free(c);
    free(img);
}

/* Every chip of the ESP32 family otakit knows, with where esptool puts its flash-mapped code
 * (IROM) and an address that chip has no memory at, but another chip has. */
static const struct {
    int chip;
    uint32_t irom;    /* the generator's code segment load address */
    uint32_t foreign; /* another chip's IROM address: no memory of this chip */
} family[] = {
    {OTK_CHIP_ESP32, 0x400D0128u, 0x42000128u},   {OTK_CHIP_ESP32S2, 0x40080128u, 0x42000128u},
    {OTK_CHIP_ESP32S3, 0x42000128u, 0x400D0128u}, {OTK_CHIP_ESP32C2, 0x42000128u, 0x42400128u},
    {OTK_CHIP_ESP32C3, 0x42000128u, 0x400D0128u}, {OTK_CHIP_ESP32C5, 0x42000128u, 0x400D0128u},
    {OTK_CHIP_ESP32C6, 0x42000128u, 0x40080128u}, {OTK_CHIP_ESP32C61, 0x42000128u, 0x3C000128u},
    {OTK_CHIP_ESP32H2, 0x42000128u, 0x3C000128u}, {OTK_CHIP_ESP32P4, 0x40000128u, 0x3C000128u},
};
#define FAMILY (sizeof family / sizeof family[0])

/* The profile of a device that is `chip` (OTK_CHIP_*). */
static enum otk_profile
profile_of(int chip)
{
    return chip == OTK_CHIP_ESP8266 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32;
}

static enum otk_image_result
head_check(const uint8_t *head, size_t len, int chip)
{
    return otk_image_head_check_chip(head, len, profile_of(chip), (uint16_t)chip);
}

static enum otk_image_result
verify_chip_buf(const uint8_t *img, size_t len, int chip, struct otk_image_info *info)
{
    struct ramflash rf;
    union otk_hash_ctx h;
    uint32_t fsize = ((uint32_t)len + 8191u) & ~4095u;
    uint32_t off = fsize - (uint32_t)len;
    enum otk_image_result r;

    ramflash_init(&rf, fsize);
    ramflash_load(&rf, off, img, len);
    r = otk_image_verify_chip(&rf.ops, otk_posix_crypto(), off, (uint32_t)len, profile_of(chip),
                              (uint16_t)chip, &h, info);
    assert_int_equal(rf.mutations, 0);
    ramflash_free(&rf);
    return r;
}

static uint8_t *
gen_chip(int chip, uint32_t size, uint32_t seed)
{
    uint8_t *b = malloc(size);

    assert_non_null(b);
    assert_int_equal(otk_imagegen_chip(chip, "demo", "1.2.3", size, seed, b, size), (int)size);
    return b;
}

/* Each chip's generated images pass as that chip, carry its id, and every other chip (and the
 * ESP8266) refuses them as an image for another chip, by the head check and by the full check. */
static void
chips_accept_their_own_images(void **state)
{
    (void)state;
    const uint32_t size = 70001; /* the code crosses a 64 KB page */

    for (size_t i = 0; i < FAMILY; i++) {
        uint8_t *img = gen_chip(family[i].chip, size, (uint32_t)i + 5);
        struct otk_image_info info;

        assert_true(otk_image_chip_known(family[i].chip));
        assert_int_equal(otk_image_chip(img, size), family[i].chip);
        assert_int_equal(verify_chip_buf(img, size, family[i].chip, &info), OTK_IMG_OK);
        assert_int_equal(info.chip_id, family[i].chip);
        assert_int_equal(info.chip, OTK_PROFILE_ESP32);
        assert_int_equal(info.length, size & ~15u);
        assert_string_equal(info.version, "1.2.3");
        assert_int_equal(info.entry, family[i].irom);
        assert_int_equal(head_check(img, size, family[i].chip), OTK_IMG_OK);
        for (size_t j = 0; j < FAMILY; j++) {
            if (j == i) {
                continue;
            }
            assert_int_equal(verify_chip_buf(img, size, family[j].chip, &info), OTK_IMG_WRONG_CHIP);
            assert_int_equal(info.chip_id, family[i].chip); /* what the header says */
            assert_int_equal(head_check(img, size, family[j].chip), OTK_IMG_WRONG_CHIP);
        }
        /* the ESP8266 names the chip the image is for */
        assert_int_equal(verify_chip_buf(img, size, OTK_CHIP_ESP8266, &info), OTK_IMG_WRONG_CHIP);
        assert_int_equal(info.chip, OTK_PROFILE_ESP32);
        assert_int_equal(info.chip_id, family[i].chip);
        assert_int_equal(head_check(img, size, OTK_CHIP_ESP8266), OTK_IMG_WRONG_CHIP);
        free(img);
    }
}

/* The largest image the generator makes for each chip fills the chip's code window and passes;
 * one more byte of code would leave it. */
static void
chips_largest_images(void **state)
{
    (void)state;

    for (size_t i = 0; i < FAMILY; i++) {
        uint32_t max = otk_imagegen_chip_max_size(family[i].chip);
        uint8_t *img = gen_chip(family[i].chip, max, 9);
        uint8_t *b = malloc(max + 1);

        assert_non_null(b);
        assert_true(max > 1000000u);
        assert_int_equal(verify_chip_buf(img, max, family[i].chip, NULL), OTK_IMG_OK);
        assert_int_equal(otk_imagegen_chip(family[i].chip, "p", "v", max + 1, 1, b, max + 1),
                         OTK_ERR_RANGE);
        assert_int_equal(otk_imagegen_chip_min_size(family[i].chip), 336);
        free(b);
        free(img);
    }
}

/* Each chip's memory map: a segment at an address of another chip's memory, one that leaves
 * the chip's code window, and one whose flash offset and address disagree modulo the MMU page
 * are refused as bad headers, though the chip id is right. */
static void
chips_memory_maps(void **state)
{
    (void)state;
    const uint32_t size = 5008;
    const uint32_t seg2 = 24 + 8 + 256; /* the code segment's header */

    for (size_t i = 0; i < FAMILY; i++) {
        uint8_t *img = gen_chip(family[i].chip, size, 3);
        uint8_t *c = malloc(size);

        assert_non_null(c);
        memcpy(c, img, size);
        c[seg2] = (uint8_t)family[i].foreign;
        c[seg2 + 1] = (uint8_t)(family[i].foreign >> 8);
        c[seg2 + 2] = (uint8_t)(family[i].foreign >> 16);
        c[seg2 + 3] = (uint8_t)(family[i].foreign >> 24);
        assert_int_equal(verify_chip_buf(c, size, family[i].chip, NULL), OTK_IMG_BAD_HEADER);
        /* the MMU rule: 8 bytes further, the offset no longer matches (every page is >= 8 KB) */
        memcpy(c, img, size);
        c[seg2] = (uint8_t)(c[seg2] + 8);
        assert_int_equal(verify_chip_buf(c, size, family[i].chip, NULL), OTK_IMG_BAD_HEADER);
        /* the DROM segment (the app description) moved out of every memory: address 0x100 */
        memcpy(c, img, size);
        c[24] = 0x00;
        c[25] = 0x01;
        c[26] = 0x00;
        c[27] = 0x00;
        assert_int_equal(verify_chip_buf(c, size, family[i].chip, NULL), OTK_IMG_BAD_HEADER);
        free(c);
        free(img);
    }
}

/* A chip without a memory map here: nothing can be checked, so every image is refused. */
static void
unknown_chip_refuses_all(void **state)
{
    (void)state;
    uint8_t *img = gen_chip(OTK_CHIP_ESP32C3, 4096, 1);
    uint8_t b[400];

    assert_false(otk_image_chip_known(0x19)); /* ESP32-H21 */
    assert_false(otk_image_chip_known(OTK_CHIP_UNKNOWN));
    assert_true(otk_image_chip_known(OTK_CHIP_ESP8266));
    img[12] = 0x19;
    assert_int_equal(verify_chip_buf(img, 4096, 0x19, NULL), OTK_IMG_WRONG_CHIP);
    assert_int_equal(otk_imagegen_chip(0x19, "p", "v", sizeof b, 1, b, sizeof b), OTK_ERR_RANGE);
    assert_int_equal(otk_imagegen_chip_max_size(0x19), 0);
    free(img);
}

/* The profile-based calls are the ESP32's and the ESP8266's chips. */
static void
profile_chips(void **state)
{
    (void)state;
    uint8_t *img = gen_chip(OTK_CHIP_ESP32C3, 4096, 1);
    struct otk_image_info info;

    assert_int_equal(otk_image_profile_chip(OTK_PROFILE_ESP32), OTK_CHIP_ESP32);
    assert_int_equal(otk_image_profile_chip(OTK_PROFILE_ESP8266), OTK_CHIP_ESP8266);
    assert_int_equal(verify_buf(img, 4096, OTK_PROFILE_ESP32, &info), OTK_IMG_WRONG_CHIP);
    assert_int_equal(info.chip_id, OTK_CHIP_ESP32C3);
    assert_int_equal(otk_image_head_check(img, 4096, OTK_PROFILE_ESP32), OTK_IMG_WRONG_CHIP);
    free(img);
}

static void
generated_images_verify(void **state)
{
    (void)state;
    static const uint32_t sizes[] = {336, 337, 351, 352, 1000, 4096, 4097, 65536, 100003, 1234567};

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int chip = 0; chip < 2; chip++) {
            uint32_t size = sizes[i];
            uint8_t *img;
            struct otk_image_info info;

            if (size > otk_imagegen_max_size((enum otk_profile)chip)) {
                continue;
            }
            img = gen((enum otk_profile)chip, size, (uint32_t)i + 1);
            assert_int_equal(verify_buf(img, size, (enum otk_profile)chip, &info), OTK_IMG_OK);
            assert_int_equal(info.length, size & ~15u);
            assert_true(info.has_app_desc);
            assert_string_equal(info.project, "demo");
            assert_string_equal(info.version, "1.2.3");
            assert_string_equal(info.idf_ver, "otakit");
            assert_int_equal(info.segment_count, 2);
            assert_int_equal(info.flash_size_freq, chip == OTK_PROFILE_ESP32 ? 0x20 : 0x40);
            assert_int_equal(info.hash_appended, chip == OTK_PROFILE_ESP32);
            /* and it is the other chip's wrong image */
            assert_int_equal(verify_buf(img, size, (enum otk_profile)(1 - chip), &info),
                             OTK_IMG_WRONG_CHIP);
            assert_int_equal(info.chip, chip);
            free(img);
        }
    }
}

static void
generator_contract(void **state)
{
    (void)state;
    uint8_t *a = malloc(5000);
    uint8_t *b = malloc(5000);

    assert_non_null(a);
    assert_non_null(b);
    /* deterministic, seed-dependent */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "p", "v", 5000, 7, a, 5000), 5000);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "p", "v", 5000, 7, b, 5000), 5000);
    assert_memory_equal(a, b, 5000);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "p", "v", 5000, 8, b, 5000), 5000);
    assert_memory_not_equal(a, b, 5000);
    /* filler after the image: 5000 % 16 = 8 bytes of 0xFF */
    for (int i = 4992; i < 5000; i++) {
        assert_int_equal(a[i], 0xFF);
    }
    /* limits */
    assert_int_equal(otk_imagegen_min_size(OTK_PROFILE_ESP32), 336);
    assert_int_equal(otk_imagegen_min_size(OTK_PROFILE_ESP8266), 288);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "p", "v", 335, 1, a, 5000), OTK_ERR_RANGE);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "p", "v", 287, 1, a, 5000), OTK_ERR_RANGE);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "p", "v", 288, 1, a, 5000), 288);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "p", "v", 5000, 1, a, 4999), OTK_ERR_NOSPACE);
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "p", "v",
                                  otk_imagegen_max_size(OTK_PROFILE_ESP8266) + 1, 1, a, 5000),
                     OTK_ERR_RANGE);
    /* long strings are cut to 31 characters */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "0123456789012345678901234567890123456789",
                                  NULL, 1000, 1, a, 5000),
                     1000);
    {
        struct otk_image_info info;

        assert_int_equal(verify_buf(a, 1000, OTK_PROFILE_ESP8266, &info), OTK_IMG_OK);
        assert_string_equal(info.project, "0123456789012345678901234567890");
        assert_string_equal(info.version, "");
    }
    free(a);
    free(b);
}

static void
largest_esp8266_image(void **state)
{
    (void)state;
    uint32_t size = otk_imagegen_max_size(OTK_PROFILE_ESP8266);
    uint8_t *img = gen(OTK_PROFILE_ESP8266, size, 3);
    struct otk_image_info info;

    assert_int_equal(verify_buf(img, size, OTK_PROFILE_ESP8266, &info), OTK_IMG_OK);
    free(img);
}

static void
corrupt_generated(void **state)
{
    (void)state;
    const uint32_t size = 20000;
    struct otk_image_info info;

    for (int chip = 0; chip < 2; chip++) {
        enum otk_profile p = (enum otk_profile)chip;
        uint8_t *img = gen(p, size, 99);
        uint8_t *c = malloc(size);
        uint32_t len = size & ~15u;

        assert_non_null(c);
        memcpy(c, img, size);
        c[5000] ^= 0x10;
        assert_int_equal(verify_buf(c, size, p, &info), OTK_IMG_BAD_CHECKSUM);

        memcpy(c, img, size);
        c[100] ^= 0x10; /* inside the app description: segment data too */
        assert_int_equal(verify_buf(c, size, p, &info), OTK_IMG_BAD_CHECKSUM);

        memcpy(c, img, size);
        assert_int_equal(verify_buf(c, len - 1, p, &info), OTK_IMG_TRUNCATED);
        assert_int_equal(verify_buf(c, 8, p, &info), OTK_IMG_TRUNCATED);

        memcpy(c, img, size);
        c[1] = 200;
        assert_int_equal(verify_buf(c, size, p, &info), OTK_IMG_BAD_HEADER);

        if (p == OTK_PROFILE_ESP32) {
            memcpy(c, img, size);
            c[len - 1] ^= 0xFF;
            assert_int_equal(verify_buf(c, size, p, &info), OTK_IMG_BAD_HASH);
        } else {
            memcpy(c, img, size);
            c[8 + 3] = 0x60; /* first segment load 0x60FE8000 */
            assert_int_equal(verify_buf(c, size, p, &info), OTK_IMG_WRONG_CHIP);
        }
        free(c);
        free(img);
    }
}

/* Random headers and segment tables: whatever the bytes, verification ends, reads nothing
 * outside [off, off + max_len) (the image ends at the end of the flash) and never says OK. */
static void
garbage_is_bounded(void **state)
{
    (void)state;
    uint32_t x = 12345;
    uint8_t buf[600];

    for (int round = 0; round < 3000; round++) {
        size_t len = 1 + (size_t)(round % (int)sizeof buf);
        struct otk_image_info info;
        enum otk_image_result r;

        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            buf[i] = (uint8_t)x;
        }
        buf[0] = 0xE9;
        if (len > 1) {
            buf[1] = (uint8_t)(1 + (x % 4)); /* few segments, so segment parsing is reached */
        }
        for (int chip = 0; chip < 2; chip++) {
            r = verify_buf(buf, len, (enum otk_profile)chip, &info);
            assert_int_not_equal(r, OTK_IMG_OK);
            assert_int_not_equal(r, OTK_IMG_READ_ERROR);
        }
    }
}

static void
read_error(void **state)
{
    (void)state;
    struct ramflash rf;
    union otk_hash_ctx h;
    struct otk_image_info info;
    uint8_t *img = gen(OTK_PROFILE_ESP32, 8192, 1);

    ramflash_init(&rf, FLASH_SIZE);
    ramflash_load(&rf, 0, img, 8192);
    ramflash_cut_after(&rf, 0, false);
    /* power goes away at the next mutation: make one happen */
    assert_int_equal(rf.ops.erase(rf.ops.user, 0x100000, 4096), OTK_ERR_FLASH);
    assert_int_equal(
        otk_image_verify(&rf.ops, otk_posix_crypto(), 0, 8192, OTK_PROFILE_ESP32, &h, &info),
        OTK_IMG_READ_ERROR);
    ramflash_power_on(&rf);
    assert_int_equal(
        otk_image_verify(&rf.ops, otk_posix_crypto(), 0, 8192, OTK_PROFILE_ESP32, &h, &info),
        OTK_IMG_OK);
    /* the same image after erased flash: still OK, the bytes after it are not looked at */
    assert_int_equal(
        otk_image_verify(&rf.ops, otk_posix_crypto(), 0, 0x100000, OTK_PROFILE_ESP32, &h, &info),
        OTK_IMG_OK);
    /* erased flash is no image */
    assert_int_equal(otk_image_verify(&rf.ops, otk_posix_crypto(), 0x80000, 0x10000,
                                      OTK_PROFILE_ESP32, &h, &info),
                     OTK_IMG_BAD_MAGIC);
    assert_int_equal(
        otk_image_verify(&rf.ops, otk_posix_crypto(), 0x80000, 0, OTK_PROFILE_ESP8266, &h, &info),
        OTK_IMG_TRUNCATED);
    assert_string_not_equal(otk_image_result_str(OTK_IMG_BAD_HASH),
                            otk_image_result_str(OTK_IMG_BAD_CHECKSUM));
    ramflash_free(&rf);
    free(img);
}

/* The chip an image is for, from its first OTK_IMAGE_HEAD_LEN bytes, and the writer's head
 * check built on it. */
static void
chip_of_head(void **state)
{
    (void)state;
    uint8_t *e32 = gen(OTK_PROFILE_ESP32, 4096, 1);
    uint8_t *e82 = gen(OTK_PROFILE_ESP8266, 4096, 1);
    uint8_t gz[OTK_IMAGE_HEAD_LEN] = {0x1F, 0x8B};
    uint8_t v2[OTK_IMAGE_HEAD_LEN] = {0xEA};

    assert_int_equal(otk_image_chip(e32, 4096), OTK_CHIP_ESP32);
    assert_int_equal(otk_image_chip(e82, 4096), OTK_CHIP_ESP8266);
    assert_int_equal(otk_image_chip(e32, OTK_IMAGE_HEAD_LEN - 1), OTK_CHIP_UNKNOWN);
    assert_int_equal(otk_image_chip(v2, 1), OTK_CHIP_ESP8266);
    assert_int_equal(otk_image_chip(gz, sizeof gz), OTK_CHIP_UNKNOWN);
    /* the same ESP32-format header with an ESP32-S3's chip id */
    e32[12] = OTK_CHIP_ESP32S3;
    assert_int_equal(otk_image_chip(e32, 4096), OTK_CHIP_ESP32S3);
    assert_string_equal(otk_image_chip_name(OTK_CHIP_ESP32S3), "ESP32-S3");
    assert_string_equal(otk_image_chip_name(OTK_CHIP_ESP8266), "ESP8266");
    assert_null(otk_image_chip_name(4242));
    assert_int_equal(otk_image_head_check(e32, 4096, OTK_PROFILE_ESP32), OTK_IMG_WRONG_CHIP);
    assert_int_equal(otk_image_head_check(e32, 4096, OTK_PROFILE_ESP8266), OTK_IMG_WRONG_CHIP);
    e32[12] = OTK_CHIP_ESP32;
    assert_int_equal(otk_image_head_check(e32, 4096, OTK_PROFILE_ESP32), OTK_IMG_OK);
    assert_int_equal(otk_image_head_check(e32, 4096, OTK_PROFILE_ESP8266), OTK_IMG_WRONG_CHIP);
    assert_int_equal(otk_image_head_check(e82, 4096, OTK_PROFILE_ESP8266), OTK_IMG_OK);
    assert_int_equal(otk_image_head_check(e82, 4096, OTK_PROFILE_ESP32), OTK_IMG_WRONG_CHIP);
    /* too few bytes to tell the chip: only the magic byte counts */
    assert_int_equal(otk_image_head_check(e82, 8, OTK_PROFILE_ESP32), OTK_IMG_OK);
    /* gzip: ESP8266 only; the second image format: neither core takes it */
    assert_int_equal(otk_image_head_check(gz, 1, OTK_PROFILE_ESP8266), OTK_IMG_OK);
    assert_int_equal(otk_image_head_check(gz, 2, OTK_PROFILE_ESP8266), OTK_IMG_OK);
    assert_int_equal(otk_image_head_check(gz, 2, OTK_PROFILE_ESP32), OTK_IMG_BAD_MAGIC);
    gz[1] = 0;
    assert_int_equal(otk_image_head_check(gz, 2, OTK_PROFILE_ESP8266), OTK_IMG_BAD_MAGIC);
    assert_int_equal(otk_image_head_check(v2, 1, OTK_PROFILE_ESP8266), OTK_IMG_BAD_MAGIC);
    free(e32);
    free(e82);
}

/* The chip of the real builds, from their heads. */
static void
real_images_chip(void **state)
{
    (void)state;
    static const char *const real[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin"};

    for (size_t i = 0; i < 2; i++) {
        size_t len = 0;
        uint8_t *img = testdata_load(real[i], &len);

        assert_int_equal(otk_image_chip(img, len), i == 0 ? OTK_CHIP_ESP32 : OTK_CHIP_ESP8266);
        free(img);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_images_verify),
        cmocka_unit_test(chips_accept_their_own_images),
        cmocka_unit_test(chips_largest_images),
        cmocka_unit_test(chips_memory_maps),
        cmocka_unit_test(unknown_chip_refuses_all),
        cmocka_unit_test(profile_chips),
        cmocka_unit_test(generator_contract),
        cmocka_unit_test(largest_esp8266_image),
        cmocka_unit_test(corrupt_generated),
        cmocka_unit_test(garbage_is_bounded),
        cmocka_unit_test(read_error),
        cmocka_unit_test(chip_of_head),
    };
    const struct CMUnitTest data_tests[] = {
        cmocka_unit_test(real_esp32_image),   cmocka_unit_test(real_esp8266_image),
        cmocka_unit_test(corrupt_real_esp32), cmocka_unit_test(corrupt_real_esp8266),
        cmocka_unit_test(real_images_chip),
    };
    static const char *const files[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin", NULL};

    return testdata_main(argc, argv, tests, data_tests, files);
}
