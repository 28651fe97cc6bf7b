/* SPDX-License-Identifier: MIT */
/* Synthetic application images for tests and demos (host side). */
#ifndef OTK_IMAGEGEN_H
#define OTK_IMAGEGEN_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest size otk_imagegen() accepts for a chip (ESP32: 336, ESP8266: 288 bytes). */
uint32_t otk_imagegen_min_size(enum otk_profile chip);

/** Largest size otk_imagegen() accepts: the code segment must stay inside the chip's
 *  flash-mapped code window (ESP8266: 1 MB, 0x40200000..0x40300000; ESP32: 0x400D0000..
 *  0x40400000, about 3.2 MB) and below ESP-IDF's 16 MB segment limit. */
uint32_t otk_imagegen_max_size(enum otk_profile chip);

/** The same limits for a chip given as OTK_CHIP_* (the ESP8266 or a chip of the ESP32 family);
 *  0 for a chip the generator does not know. */
uint32_t otk_imagegen_chip_min_size(int chip);
uint32_t otk_imagegen_chip_max_size(int chip);

/** Write a valid application image for `chip` into out, exactly `size` bytes long, that passes
 *  otk_image_verify() for that chip and carries an app description (esp_app_desc_t) with
 *  project, version, idf_ver "otakit" and a fixed date/time, so the same arguments always give
 *  the same bytes.
 *
 *  ESP32: extended header (chip id 0, DIO, 4 MB / 40 MHz), SHA-256 appended; segment 1 (DROM)
 *  holds the app description, segment 2 (IROM) pseudo-random bytes from seed.
 *  ESP8266: v1 header (DIO, 4 MB / 40 MHz); segment 1 (DRAM) holds the app description,
 *  segment 2 (IROM) the pseudo-random bytes.
 *
 *  An image proper is always a multiple of 16 bytes long (the checksum closes a 16-byte line,
 *  and the SHA-256 is 32 bytes). When size is not a multiple of 16, the image is the largest
 *  one that fits and the last size % 16 bytes are 0xFF filler after it, which the bootloader
 *  ignores, as it ignores what follows any image in its partition.
 *
 *  project and version are truncated to 31 characters (NULL gives "").
 *  @return size (bytes written), OTK_ERR_RANGE if size is outside [min_size, max_size],
 *          OTK_ERR_NOSPACE if cap < size, OTK_ERR_ARG for a NULL out. */
int otk_imagegen(enum otk_profile chip, const char *project, const char *version, uint32_t size,
                 uint32_t seed, uint8_t *out, size_t cap);

/** otk_imagegen() for any chip otk_image_chip_known() knows (OTK_CHIP_ESP32C3, ...): the
 *  header names that chip, the segments load where esptool puts that chip's flash-mapped data
 *  and code (ESP32-C3: DROM 0x3C000020, IROM 0x42000128). OTK_ERR_RANGE for another chip. */
int otk_imagegen_chip(int chip, const char *project, const char *version, uint32_t size,
                      uint32_t seed, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
