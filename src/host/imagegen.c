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

/* ESP32 family */
#define E32_HDR_LEN   24u
#define E32_DATA2_OFF (E32_HDR_LEN + SEG_HDR_LEN + APP_DESC_LEN + SEG_HDR_LEN) /* 296 */
#define E32_MAX_SEG   0x1000000u /* ESP-IDF rejects segments of 16 MB or more */
/* ESP8266 */
#define E82_HDR_LEN   8u
#define E82_DRAM_LOAD 0x3FFE8000u
#define E82_IROM_LOAD 0x40201010u /* where Arduino's sketch code lands */
#define E82_IROM_END  0x40300000u
#define E82_DATA2_OFF (E82_HDR_LEN + SEG_HDR_LEN + APP_DESC_LEN + SEG_HDR_LEN) /* 280 */

/* Where each chip's generated segments load: the app description in flash-mapped data (DROM,
 * at the window's start + 0x20 = header (24) + segment header (8), so the flash offset and the
 * address agree modulo the MMU page), the code in the flash-mapped instruction window (IROM),
 * which also bounds the image's size. From esptool's targets (IROM_MAP / DROM_MAP); where DROM
 * and IROM share one window (C5, P4), the data goes to its upper half. */
static const struct gen_chip {
    int chip;
    uint32_t drom_load;
    uint32_t irom_base;
    uint32_t irom_end;
} gen_chips[] = {
    {OTK_CHIP_ESP32, 0x3F400020u, 0x400D0000u, 0x40400000u},
    {OTK_CHIP_ESP32S2, 0x3F000020u, 0x40080000u, 0x40800000u},
    {OTK_CHIP_ESP32S3, 0x3C000020u, 0x42000000u, 0x42800000u},
    {OTK_CHIP_ESP32C2, 0x3C000020u, 0x42000000u, 0x42400000u},
    {OTK_CHIP_ESP32C3, 0x3C000020u, 0x42000000u, 0x42800000u},
    {OTK_CHIP_ESP32C5, 0x43000020u, 0x42000000u, 0x43000000u},
    {OTK_CHIP_ESP32C6, 0x42800020u, 0x42000000u, 0x42800000u},
    {OTK_CHIP_ESP32C61, 0x42800020u, 0x42000000u, 0x42800000u},
    {OTK_CHIP_ESP32H2, 0x42800020u, 0x42000000u, 0x42800000u},
    {OTK_CHIP_ESP32P4, 0x44000020u, 0x40000000u, 0x44000000u},
};

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

static const struct gen_chip *
gen_chip(int chip)
{
    for (size_t i = 0; i < sizeof gen_chips / sizeof gen_chips[0]; i++) {
        if (gen_chips[i].chip == chip) {
            return &gen_chips[i];
        }
    }
    return NULL;
}

uint32_t
otk_imagegen_chip_min_size(int chip)
{
    /* header, app description, a 4-byte code segment, 3 zero bytes, checksum (+ SHA-256) */
    if (chip == OTK_CHIP_ESP8266) {
        return E82_DATA2_OFF + 8u;
    }
    return gen_chip(chip) != NULL ? E32_DATA2_OFF + 8u + SHA_LEN : 0;
}

uint32_t
otk_imagegen_chip_max_size(int chip)
{
    const struct gen_chip *g = gen_chip(chip);
    uint32_t room, t;

    if (chip == OTK_CHIP_ESP8266) {
        /* code segment up to the end of the flash window, then padding and checksum */
        t = (E82_DATA2_OFF + (E82_IROM_END - E82_IROM_LOAD) + 4u) & ~15u;
        return t + 15u;
    }
    if (g == NULL) {
        return 0;
    }
    /* the code segment up to the end of the IROM window (and below 16 MB), then 3 bytes of
     * padding, the checksum (closing a 16-byte line), the SHA-256 and up to 15 filler bytes */
    room = g->irom_end - (g->irom_base + E32_DATA2_OFF % 0x10000u);
    if (room > E32_MAX_SEG - 4u) {
        room = E32_MAX_SEG - 4u;
    }
    t = (E32_DATA2_OFF + room + 4u) & ~15u;
    return t + SHA_LEN + 15u;
}

uint32_t
otk_imagegen_min_size(enum otk_profile chip)
{
    return otk_imagegen_chip_min_size(otk_image_profile_chip(chip));
}

uint32_t
otk_imagegen_max_size(enum otk_profile chip)
{
    return otk_imagegen_chip_max_size(otk_image_profile_chip(chip));
}

/* The ESP8266's v1 header and its first segment (the app description in DRAM). */
static void
header_esp8266(uint8_t *out, const char *project, const char *version)
{
    out[0] = OTK_IMAGE_MAGIC;
    out[1] = 2;
    out[2] = FLASH_DIO;
    out[3] = FLASH8266_4MB;
    otk__put_u32(out + 4, E82_IROM_LOAD);
    otk__put_u32(out + 8, E82_DRAM_LOAD);
    otk__put_u32(out + 12, APP_DESC_LEN);
    app_desc(out + 16, project, version);
}

/* The ESP32 family's extended header and its first segment (the app description in DROM). */
static void
header_esp32(uint8_t *out, const struct gen_chip *g, uint32_t code_load, const char *project,
             const char *version)
{
    out[0] = OTK_IMAGE_MAGIC;
    out[1] = 2;
    out[2] = FLASH_DIO;
    out[3] = FLASH_4MB_40M;
    otk__put_u32(out + 4, code_load);
    out[8] = 0xEE; /* wp_pin: not used */
    /* spi_pin_drv[3] zero, then the chip id; revisions 0, reserved: all zero */
    out[12] = (uint8_t)(g->chip & 0xFF);
    out[13] = (uint8_t)(g->chip >> 8);
    out[23] = 1; /* hash_appended */
    otk__put_u32(out + 24, g->drom_load);
    otk__put_u32(out + 28, APP_DESC_LEN);
    app_desc(out + 32, project, version);
}

int
otk_imagegen(enum otk_profile chip, const char *project, const char *version, uint32_t size,
             uint32_t seed, uint8_t *out, size_t cap)
{
    return otk_imagegen_chip(otk_image_profile_chip(chip), project, version, size, seed, out, cap);
}

int
otk_imagegen_chip(int chip, const char *project, const char *version, uint32_t size, uint32_t seed,
                  uint8_t *out, size_t cap)
{
    const struct gen_chip *g = gen_chip(chip);
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint32_t img = size & ~15u; /* the image proper; filler after it */
    uint32_t t;                 /* position after the checksum byte */
    uint32_t data_off, code_len, code_load;
    uint8_t sum = 0xEF;

    if (out == NULL) {
        return OTK_ERR_ARG;
    }
    if ((chip != OTK_CHIP_ESP8266 && g == NULL) || size < otk_imagegen_chip_min_size(chip) ||
        size > otk_imagegen_chip_max_size(chip) || size > (uint32_t)INT32_MAX) {
        return OTK_ERR_RANGE;
    }
    if (cap < size) {
        return OTK_ERR_NOSPACE;
    }
    memset(out, 0, size);
    if (chip == OTK_CHIP_ESP8266) {
        t = img;
        data_off = E82_DATA2_OFF;
        code_load = E82_IROM_LOAD;
        header_esp8266(out, project, version);
    } else {
        t = img - SHA_LEN;
        data_off = E32_DATA2_OFF;
        code_load = g->irom_base + (data_off % 0x10000u); /* MMU page rule */
        header_esp32(out, g, code_load, project, version);
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
    if (chip != OTK_CHIP_ESP8266) {
        union otk_hash_ctx h;

        c->sha256_start(&h);
        c->sha256_update(&h, out, t);
        c->sha256_finish(&h, out + t);
    }
    memset(out + img, 0xFF, size - img);
    return (int)size;
}
