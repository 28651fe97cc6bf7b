/* SPDX-License-Identifier: MIT */
/* Synthetic ESP application images for tests and demos. The layout is computed so that the
 * image ends exactly where the caller wants it, with the segment lengths kept multiples of 4
 * (ESP-IDF rejects other lengths) and flash-mapped segments placed where the MMU rule wants
 * them (flash offset == load address modulo 64 KB). */
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/image.h"
#include "otakit/posix.h"

#include "bytes.h"

#define APP_DESC_LEN 256u
#define SEG_HDR_LEN  8u
#define SHA_LEN      32u

/* ESP32 */
#define E32_HDR_LEN   24u
#define E32_DROM_LOAD 0x3F400020u /* header (24) + segment header (8) = 0x20 */
#define E32_IROM_BASE 0x400D0000u
#define E32_IROM_END  0x40400000u
#define E32_DATA2_OFF (E32_HDR_LEN + SEG_HDR_LEN + APP_DESC_LEN + SEG_HDR_LEN) /* 296 */
/* ESP8266 */
#define E82_HDR_LEN   8u
#define E82_DRAM_LOAD 0x3FFE8000u
#define E82_IROM_LOAD 0x40201010u /* where Arduino's sketch code lands */
#define E82_IROM_END  0x40300000u
#define E82_DATA2_OFF (E82_HDR_LEN + SEG_HDR_LEN + APP_DESC_LEN + SEG_HDR_LEN) /* 280 */

#define FLASH_DIO     2u
#define FLASH_4MB_40M 0x20u /* ESP32: size 4 MB (2) << 4 | 40 MHz (0) */
#define FLASH8266_4MB 0x40u /* ESP8266: size 4 MB (4) << 4 | 40 MHz (0) */

static void
put_str(uint8_t *dst, size_t field, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n > field - 1) {
        n = field - 1; /* always NUL-terminated, as ESP-IDF's build does */
    }
    memset(dst, 0, field);
    if (n > 0) {
        memcpy(dst, s, n);
    }
}

static void
app_desc(uint8_t *d, const char *project, const char *version)
{
    memset(d, 0, APP_DESC_LEN);
    otk__put_u32(d, OTK_APP_DESC_MAGIC);
    put_str(d + 16, 32, version);
    put_str(d + 48, 32, project);
    /* A fixed build date keeps the output a pure function of the arguments. */
    put_str(d + 80, 16, "00:00:00");
    put_str(d + 96, 16, "Jan  1 2025");
    put_str(d + 112, 32, "otakit");
}

/* xorshift32: cheap, deterministic filler that does not compress. */
static void
fill_random(uint8_t *p, uint32_t n, uint32_t seed)
{
    uint32_t x = seed != 0 ? seed : 0x9E3779B9u;

    for (uint32_t i = 0; i < n; i++) {
        if (i % 4 == 0) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
        }
        p[i] = (uint8_t)(x >> (8 * (i % 4)));
    }
}

uint32_t
otk_imagegen_min_size(enum otk_profile chip)
{
    /* header, app description, a 4-byte code segment, 3 zero bytes, checksum (+ SHA-256) */
    return chip == OTK_PROFILE_ESP8266 ? E82_DATA2_OFF + 8u : E32_DATA2_OFF + 8u + SHA_LEN;
}

uint32_t
otk_imagegen_max_size(enum otk_profile chip)
{
    if (chip == OTK_PROFILE_ESP8266) {
        /* code segment up to the end of the flash window, then padding and checksum */
        uint32_t t = (E82_DATA2_OFF + (E82_IROM_END - E82_IROM_LOAD) + 4u) & ~15u;
        return t + 15u;
    }
    return 0x1000000u;
}

int
otk_imagegen(enum otk_profile chip, const char *project, const char *version, uint32_t size,
             uint32_t seed, uint8_t *out, size_t cap)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint32_t img = size & ~15u; /* the image proper; filler after it */
    uint32_t t;                 /* position after the checksum byte */
    uint32_t data_off, code_len, code_load;
    uint8_t sum = 0xEF;

    if (out == NULL) {
        return OTK_ERR_ARG;
    }
    if (size < otk_imagegen_min_size(chip) || size > otk_imagegen_max_size(chip) ||
        size > (uint32_t)INT32_MAX) {
        return OTK_ERR_RANGE;
    }
    if (cap < size) {
        return OTK_ERR_NOSPACE;
    }
    memset(out, 0, size);
    if (chip == OTK_PROFILE_ESP8266) {
        t = img;
        data_off = E82_DATA2_OFF;
        code_load = E82_IROM_LOAD;
        out[0] = OTK_IMAGE_MAGIC;
        out[1] = 2;
        out[2] = FLASH_DIO;
        out[3] = FLASH8266_4MB;
        otk__put_u32(out + 4, code_load);
        otk__put_u32(out + 8, E82_DRAM_LOAD);
        otk__put_u32(out + 12, APP_DESC_LEN);
        app_desc(out + 16, project, version);
    } else {
        t = img - SHA_LEN;
        data_off = E32_DATA2_OFF;
        code_load = E32_IROM_BASE + (data_off % 0x10000u); /* MMU page rule */
        out[0] = OTK_IMAGE_MAGIC;
        out[1] = 2;
        out[2] = FLASH_DIO;
        out[3] = FLASH_4MB_40M;
        otk__put_u32(out + 4, code_load);
        out[8] = 0xEE; /* wp_pin: not used */
        /* spi_pin_drv[3], chip_id 0 (ESP32), revisions 0, reserved: all zero */
        out[23] = 1; /* hash_appended */
        otk__put_u32(out + 24, E32_DROM_LOAD);
        otk__put_u32(out + 28, APP_DESC_LEN);
        app_desc(out + 32, project, version);
    }
    /* Code segment: ends 3 bytes before the checksum, so the zero padding is 3 bytes and the
     * checksum sits at t - 1 with t a multiple of 16 (the 16-byte line rule). */
    code_len = t - 4u - data_off;
    otk__put_u32(out + data_off - 8u, code_load);
    otk__put_u32(out + data_off - 4u, code_len);
    fill_random(out + data_off, code_len, seed);

    /* the app description is the data of the first segment, just before the second header */
    for (uint32_t i = 0; i < APP_DESC_LEN; i++) {
        sum ^= out[data_off - SEG_HDR_LEN - APP_DESC_LEN + i];
    }
    for (uint32_t i = 0; i < code_len; i++) {
        sum ^= out[data_off + i];
    }
    out[t - 1] = sum;
    if (chip != OTK_PROFILE_ESP8266) {
        union otk_hash_ctx h;

        c->sha256_start(&h);
        c->sha256_update(&h, out, t);
        c->sha256_finish(&h, out + t);
    }
    memset(out + img, 0xFF, size - img);
    return (int)size;
}
