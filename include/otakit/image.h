/* SPDX-License-Identifier: MIT */
/* ESP application images: parse and verify them the way the chip's bootloader does (header,
 * segments, checksum, appended SHA-256, chip id), and read the app description. */
#ifndef OTK_IMAGE_H
#define OTK_IMAGE_H

#include <stdbool.h>
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
    uint16_t chip_id; /* ESP32 extended header (0 = ESP32) */
    bool hash_appended;
    uint32_t length; /* bytes covered: header .. checksum (+ SHA-256) */
    bool has_app_desc;
    char version[33];
    char project[33];
    char idf_ver[33];
    char date[17];
    char time[17];
};

/** Verify the image stored at flash offset off, of at most max_len bytes, for chip `expect`.
 *  Reads through f in small pieces (no large buffers); hash_ctx is caller scratch.
 *  @return an otk_image_result; info is filled as far as parsing got. */
enum otk_image_result otk_image_verify(const struct otk_flash_ops *f,
                                       const struct otk_crypto_ops *c, uint32_t off,
                                       uint32_t max_len, enum otk_profile expect,
                                       union otk_hash_ctx *hash_ctx, struct otk_image_info *info);

/** Short English text for a result. */
const char *otk_image_result_str(enum otk_image_result r);

#ifdef __cplusplus
}
#endif
#endif
