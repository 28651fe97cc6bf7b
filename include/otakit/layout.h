/* SPDX-License-Identifier: MIT */
/* Flash layout: the ESP32 partition table (binary format at 0x8000) and the layouts otakit
 * uses for each chip profile. */
#ifndef OTK_LAYOUT_H
#define OTK_LAYOUT_H

#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_profile {
    OTK_PROFILE_ESP32 = 0,
    OTK_PROFILE_ESP8266 = 1,
};

#define OTK_SECTOR_SIZE      4096u
#define OTK_BLOCK_SIZE       65536u
#define OTK_PARTTABLE_OFFSET 0x8000u
#define OTK_PARTTABLE_MAX    95 /* entries in the 0xC00-byte table, as ESP-IDF */

/* Partition types and subtypes (ESP-IDF values). */
#define OTK_PART_TYPE_APP         0x00
#define OTK_PART_TYPE_DATA        0x01
#define OTK_PART_SUBTYPE_OTA0     0x10
#define OTK_PART_SUBTYPE_OTA1     0x11
#define OTK_PART_SUBTYPE_OTADATA  0x00
#define OTK_PART_SUBTYPE_NVS      0x02
#define OTK_PART_SUBTYPE_SPIFFS   0x82
#define OTK_PART_SUBTYPE_COREDUMP 0x03

struct otk_partition {
    uint8_t type;
    uint8_t subtype;
    uint32_t offset;
    uint32_t size;
    char label[17];
};

/** What the core needs to know of a layout: resolved from a partition table. */
struct otk_layout {
    uint32_t flash_size;
    uint32_t otadata_offset; /* two 4 KB sectors */
    uint32_t app_offset[2];
    uint32_t app_size[2];
    uint32_t fs_offset; /* 0 if none */
    uint32_t fs_size;
};

/** The default layout of a profile: ESP32 = Arduino default.csv on 4 MB (nvs, otadata, app0,
 *  app1 of 1.25 MB each, spiffs, coredump); ESP8266 = otakit's A/B model of a 4 MB board
 *  (see docs/EMULATOR.md). Fills parts[] (up to max) and returns the count. */
int otk_layout_default_parts(enum otk_profile p, struct otk_partition *parts, int max);
uint32_t otk_layout_default_flash_size(enum otk_profile p);

/** Encode parts[] as an ESP-IDF binary partition table (32-byte entries, magic 0x50AA, then the
 *  0xEBEB MD5 entry, rest 0xFF) into out (OTK_SECTOR_SIZE bytes... caller gives 0xC00 or more).
 *  @return OTK_OK, OTK_ERR_ARG. */
int otk_parttable_encode(const struct otk_crypto_ops *c, const struct otk_partition *parts, int n,
                         uint8_t *out, uint32_t out_len);

/** Decode a binary partition table (checks magic of each entry and the MD5 entry if present).
 *  @return number of partitions (>= 0) or OTK_ERR_MALFORMED. */
int otk_parttable_decode(const struct otk_crypto_ops *c, const uint8_t *in, uint32_t in_len,
                         struct otk_partition *parts, int max);

/** Resolve otadata, ota_0, ota_1 and the first spiffs/littlefs/fat data partition.
 *  @return OTK_OK or OTK_ERR_NOTFOUND (no otadata or no two OTA slots). */
int otk_layout_from_parts(const struct otk_partition *parts, int n, uint32_t flash_size,
                          struct otk_layout *out);

#ifdef __cplusplus
}
#endif
#endif
