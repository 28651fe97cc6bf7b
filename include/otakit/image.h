/* SPDX-License-Identifier: MIT */
/* ESP application images: parse and verify them the way the chip's bootloader does (header,
 * segments, checksum, appended SHA-256, chip id), and read the app description. */
#ifndef OTK_IMAGE_H
#define OTK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_IMAGE_MAGIC        0xE9
#define OTK_APP_DESC_MAGIC     0xABCD5432u
#define OTK_IMAGE_MAX_SEGMENTS 16

enum otk_image_result {
    OTK_IMG_OK = 0,
    OTK_IMG_BAD_MAGIC,    /* first byte is not 0xE9 (nor gzip on ESP8266) */
    OTK_IMG_BAD_HEADER,   /* segment count, sizes or addresses out of bounds */
    OTK_IMG_BAD_CHECKSUM, /* XOR checksum of segment data wrong */
    OTK_IMG_BAD_HASH,     /* appended SHA-256 wrong */
    OTK_IMG_WRONG_CHIP,   /* built for another chip */
    OTK_IMG_TRUNCATED,    /* image extends past the given length */
    OTK_IMG_READ_ERROR,   /* flash read failed */
    OTK_IMG_GZIP,         /* ESP8266 gzip image: accepted, contents not verifiable here */
};

struct otk_image_info {
    enum otk_profile chip; /* chip the image is for */
    uint8_t segment_count;
    uint8_t flash_mode;
    uint8_t flash_size_freq; /* header byte 3 */
    uint32_t entry;
    uint16_t chip_id; /* ESP32 family's extended header: OTK_CHIP_ESP32 (0), _ESP32C3 (5) ... */
    bool hash_appended;
    uint32_t length; /* bytes covered: header .. checksum (+ SHA-256) */
    bool has_app_desc;
    char version[33];
    char project[33];
    char idf_ver[33];
    char date[17];
    char time[17];
};

/** Verify the image stored at flash offset off, of at most max_len bytes, for a device of
 *  profile p: the ESP8266, or the chip `chip` of the ESP32 family (an OTK_CHIP_* image chip id,
 *  ignored for the ESP8266), whose id the header must carry and whose memory map (esptool's) the
 *  segments must fit; for a chip otk_image_chip_known() does not know, every image is
 *  OTK_IMG_WRONG_CHIP. Reads through f in small pieces (no large buffers); hash_ctx is caller
 *  scratch.
 *  @return an otk_image_result; info is filled as far as parsing got (info->chip_id: the chip
 *  the header names). */
enum otk_image_result otk_image_verify_chip(const struct otk_flash_ops *f,
                                            const struct otk_crypto_ops *c, uint32_t off,
                                            uint32_t max_len, enum otk_profile p, uint16_t chip,
                                            union otk_hash_ctx *hash_ctx,
                                            struct otk_image_info *info);

/** otk_image_verify_chip() for a profile's own chip: the ESP32 (chip id 0) or the ESP8266. */
enum otk_image_result otk_image_verify(const struct otk_flash_ops *f,
                                       const struct otk_crypto_ops *c, uint32_t off,
                                       uint32_t max_len, enum otk_profile expect,
                                       union otk_hash_ctx *hash_ctx, struct otk_image_info *info);

/* The chip an image is built for. The ESP32 family's extended header carries ESP-IDF's chip id
 * (esp_chip_id_t: these values); the ESP8266's header has none, so it gets a value of otakit's
 * own that no ESP-IDF chip id takes. */
#define OTK_CHIP_ESP32     0
#define OTK_CHIP_ESP32S2   2
#define OTK_CHIP_ESP32C3   5
#define OTK_CHIP_ESP32S3   9
#define OTK_CHIP_ESP32C2   12
#define OTK_CHIP_ESP32C6   13
#define OTK_CHIP_ESP32H2   16
#define OTK_CHIP_ESP32P4   18
#define OTK_CHIP_ESP32C61  20
#define OTK_CHIP_ESP32C5   23
#define OTK_CHIP_ESP8266   0x8266
#define OTK_CHIP_UNKNOWN   (-1)
#define OTK_IMAGE_HEAD_LEN 16 /* bytes otk_image_chip() needs to decide */

/** The chip an application image is built for, from its first bytes: OTK_CHIP_ESP8266 for the
 *  ESP8266 formats (0xE9 with an ESP8266 load address where the ESP32 family has its extended
 *  header, or 0xEA), else the ESP32 family's chip id; OTK_CHIP_UNKNOWN when len is below
 *  OTK_IMAGE_HEAD_LEN or the bytes are no app image (another magic, gzip). Reads only the head:
 *  the rest of the image may be anything. */
int otk_image_chip(const uint8_t *head, size_t len);

/** The chip a profile expects unless told otherwise: OTK_CHIP_ESP8266 or OTK_CHIP_ESP32. */
int otk_image_profile_chip(enum otk_profile p);

/** Whether otakit knows the chip's memory map, so that its images can be checked: the ESP8266,
 *  ESP32, -S2, -S3, -C2, -C3, -C5, -C6, -C61, -H2, -P4. */
bool otk_image_chip_known(int chip);

/** What the image writer checks of an application image's first len (>= 1) bytes for a device
 *  of profile p (of the ESP32 family: the chip `chip`, OTK_CHIP_*), as soon as they arrive:
 *  OTK_IMG_BAD_MAGIC if it does not start with 0xE9 (ESP8266: nor with gzip's 1F 8B),
 *  OTK_IMG_WRONG_CHIP if its header names another chip (as the ESP32 family's bootloader checks
 *  the chip id), else OTK_IMG_OK (also while fewer than OTK_IMAGE_HEAD_LEN bytes leave the chip
 *  open). */
enum otk_image_result otk_image_head_check_chip(const uint8_t *head, size_t len, enum otk_profile p,
                                                uint16_t chip);

/** otk_image_head_check_chip() for a profile's own chip (the ESP32's for the ESP32 profile). */
enum otk_image_result otk_image_head_check(const uint8_t *head, size_t len, enum otk_profile p);

/** "ESP32-S3", "ESP8266", ...; NULL for a chip id it does not know. */
const char *otk_image_chip_name(int chip);

/** Short English text for a result. */
const char *otk_image_result_str(enum otk_image_result r);

#ifdef __cplusplus
}
#endif
#endif
