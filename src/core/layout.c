/* SPDX-License-Identifier: MIT */
/* Flash layouts: the default partition tables of the two profiles and the ESP-IDF binary
 * partition table codec. Everything is parsed byte by byte (little endian), never through
 * packed structs, so the same code runs on big- and little-endian hosts and on the chips. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/layout.h"

#include "bytes.h"

#define ENTRY_SIZE   32u
#define TABLE_SIZE   0xC00u /* ESP-IDF: ESP_PARTITION_TABLE_MAX_LEN */
#define FLASH_4MB    0x400000u
#define MAX_ENTRIES  (TABLE_SIZE / ENTRY_SIZE) /* including the MD5 entry */
#define MAGIC_PART_0 0xAA
#define MAGIC_PART_1 0x50
#define MAGIC_MD5    0xEB

#define SUBTYPE_FAT      0x81
#define SUBTYPE_LITTLEFS 0x83

struct part_def {
    uint8_t type;
    uint8_t subtype;
    uint32_t offset;
    uint32_t size;
    const char *label;
};

/* Arduino-ESP32 tools/partitions/default.csv on a 4 MB chip. */
static const struct part_def esp32_parts[] = {
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_NVS, 0x9000u, 0x5000u, "nvs"},
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_OTADATA, 0xE000u, 0x2000u, "otadata"},
    {OTK_PART_TYPE_APP, OTK_PART_SUBTYPE_OTA0, 0x10000u, 0x140000u, "app0"},
    {OTK_PART_TYPE_APP, OTK_PART_SUBTYPE_OTA1, 0x150000u, 0x140000u, "app1"},
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_SPIFFS, 0x290000u, 0x160000u, "spiffs"},
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_COREDUMP, 0x3F0000u, 0x10000u, "coredump"},
};

/* otakit's A/B model of a 4 MB ESP8266 (the real chip has no partition table; the emulator
 * stores one so that every tool reads both profiles the same way). */
static const struct part_def esp8266_parts[] = {
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_OTADATA, 0x9000u, 0x2000u, "otadata"},
    {OTK_PART_TYPE_APP, OTK_PART_SUBTYPE_OTA0, 0x10000u, 0xF0000u, "app0"},
    {OTK_PART_TYPE_APP, OTK_PART_SUBTYPE_OTA1, 0x100000u, 0xF0000u, "app1"},
    /* The FS window of Arduino's 4M2M layout (eagle.flash.4m2m.ld): it ends at 0x3FA000 because
     * the top 24 KB hold EEPROM emulation, RF calibration and the SDK's Wi-Fi settings. */
    {OTK_PART_TYPE_DATA, OTK_PART_SUBTYPE_SPIFFS, 0x200000u, 0x1FA000u, "spiffs"},
};

static void
copy_label(char *dst, const char *src)
{
    size_t i = 0;
    for (; i < 16 && src[i] != '\0'; i++) {
        dst[i] = src[i];
    }
    for (; i < 17; i++) {
        dst[i] = '\0';
    }
}

int
otk_layout_default_parts(enum otk_profile p, struct otk_partition *parts, int max)
{
    const struct part_def *defs;
    int n;

    if (p == OTK_PROFILE_ESP8266) {
        defs = esp8266_parts;
        n = (int)(sizeof esp8266_parts / sizeof esp8266_parts[0]);
    } else {
        defs = esp32_parts;
        n = (int)(sizeof esp32_parts / sizeof esp32_parts[0]);
    }
    if (parts == NULL || max < 0) {
        return 0;
    }
    if (n > max) {
        n = max;
    }
    for (int i = 0; i < n; i++) {
        parts[i].type = defs[i].type;
        parts[i].subtype = defs[i].subtype;
        parts[i].offset = defs[i].offset;
        parts[i].size = defs[i].size;
        copy_label(parts[i].label, defs[i].label);
    }
    return n;
}

uint32_t
otk_layout_default_flash_size(enum otk_profile p)
{
    (void)p; /* both profiles model a 4 MB board */
    return FLASH_4MB;
}

int
otk_parttable_encode(const struct otk_crypto_ops *c, const struct otk_partition *parts, int n,
                     uint8_t *out, uint32_t out_len)
{
    /* The MD5 entry takes one slot: at most OTK_PARTTABLE_MAX partitions fit in 0xC00 bytes. */
    if (out == NULL || out_len < TABLE_SIZE || n < 0 || n > OTK_PARTTABLE_MAX ||
        (n > 0 && parts == NULL)) {
        return OTK_ERR_ARG;
    }
    memset(out, 0xFF, out_len);
    for (int i = 0; i < n; i++) {
        uint8_t *e = out + (uint32_t)i * ENTRY_SIZE;
        size_t len = 0;

        while (len < 16 && parts[i].label[len] != '\0') {
            len++;
        }
        e[0] = MAGIC_PART_0;
        e[1] = MAGIC_PART_1;
        e[2] = parts[i].type;
        e[3] = parts[i].subtype;
        otk__put_u32(e + 4, parts[i].offset);
        otk__put_u32(e + 8, parts[i].size);
        memset(e + 12, 0, 16);
        memcpy(e + 12, parts[i].label, len);
        otk__put_u32(e + 28, 0); /* flags: not encrypted, not read-only */
    }
    if (c != NULL) {
        /* Without a crypto provider the table is written without the MD5 entry, as
         * gen_esp32part.py --disable-md5sum does; ESP-IDF accepts both. */
        uint8_t *m = out + (uint32_t)n * ENTRY_SIZE;
        union otk_hash_ctx ctx;

        m[0] = MAGIC_MD5;
        m[1] = MAGIC_MD5;
        c->md5_start(&ctx);
        c->md5_update(&ctx, out, (size_t)n * ENTRY_SIZE);
        c->md5_finish(&ctx, m + 16);
    }
    return OTK_OK;
}

int
otk_parttable_decode(const struct otk_crypto_ops *c, const uint8_t *in, uint32_t in_len,
                     struct otk_partition *parts, int max)
{
    uint32_t limit = in_len < TABLE_SIZE ? in_len : TABLE_SIZE;
    int n = 0;

    if (in == NULL || max < 0 || (max > 0 && parts == NULL)) {
        return OTK_ERR_ARG;
    }
    for (uint32_t i = 0; i < MAX_ENTRIES; i++) {
        uint32_t pos = i * ENTRY_SIZE;
        const uint8_t *e = in + pos;

        if (pos + ENTRY_SIZE > limit) {
            return OTK_ERR_MALFORMED; /* buffer ends inside the table, before an end marker */
        }
        if (e[0] == 0xFF && e[1] == 0xFF) {
            return n; /* erased: end of table, no MD5 entry */
        }
        if (e[0] == MAGIC_MD5 && e[1] == MAGIC_MD5) {
            if (c != NULL) {
                union otk_hash_ctx ctx;
                uint8_t md5[16];

                c->md5_start(&ctx);
                c->md5_update(&ctx, in, pos);
                c->md5_finish(&ctx, md5);
                if (memcmp(md5, e + 16, 16) != 0) {
                    return OTK_ERR_MALFORMED;
                }
            }
            return n;
        }
        if (e[0] != MAGIC_PART_0 || e[1] != MAGIC_PART_1) {
            return OTK_ERR_MALFORMED;
        }
        {
            uint32_t off = otk__get_u32(e + 4);
            uint32_t size = otk__get_u32(e + 8);

            if (off + size < off) {
                return OTK_ERR_MALFORMED; /* wraps around the address space */
            }
            if (n >= max) {
                return OTK_ERR_NOSPACE; /* caller's array too small */
            }
            parts[n].type = e[2];
            parts[n].subtype = e[3];
            parts[n].offset = off;
            parts[n].size = size;
            memcpy(parts[n].label, e + 12, 16);
            parts[n].label[16] = '\0';
            n++;
        }
    }
    return n;
}

static bool
inside(uint32_t off, uint32_t size, uint32_t flash_size)
{
    return flash_size == 0 || (off <= flash_size && size <= flash_size - off);
}

static bool
overlap(const struct otk_partition *a, const struct otk_partition *b)
{
    /* Both lie inside the flash (checked before), so the sums cannot wrap. */
    return a->offset < b->offset + b->size && b->offset < a->offset + a->size;
}

int
otk_layout_from_parts(const struct otk_partition *parts, int n, uint32_t flash_size,
                      struct otk_layout *out)
{
    const struct otk_partition *otadata = NULL;
    const struct otk_partition *app[2] = {NULL, NULL};
    const struct otk_partition *fs = NULL;

    if (out == NULL || n < 0 || (n > 0 && parts == NULL)) {
        return OTK_ERR_ARG;
    }
    for (int i = 0; i < n; i++) {
        const struct otk_partition *p = &parts[i];

        if (p->type == OTK_PART_TYPE_DATA && p->subtype == OTK_PART_SUBTYPE_OTADATA) {
            if (otadata == NULL) {
                otadata = p;
            }
        } else if (p->type == OTK_PART_TYPE_APP && p->subtype == OTK_PART_SUBTYPE_OTA0) {
            if (app[0] == NULL) {
                app[0] = p;
            }
        } else if (p->type == OTK_PART_TYPE_APP && p->subtype == OTK_PART_SUBTYPE_OTA1) {
            if (app[1] == NULL) {
                app[1] = p;
            }
        } else if (p->type == OTK_PART_TYPE_DATA &&
                   (p->subtype == OTK_PART_SUBTYPE_SPIFFS || p->subtype == SUBTYPE_LITTLEFS ||
                    p->subtype == SUBTYPE_FAT)) {
            if (fs == NULL) {
                fs = p;
            }
        }
    }
    if (otadata == NULL || app[0] == NULL || app[1] == NULL) {
        return OTK_ERR_NOTFOUND;
    }
    /* The slot logic erases whole sectors of otadata and the updater erases whole sectors of the
     * slots: partitions that are not sector aligned or do not fit would make it erase a
     * neighbour. App partitions must be 64 KB aligned, as the flash MMU maps them in pages. */
    if (otadata->size < 2 * OTK_SECTOR_SIZE || otadata->offset % OTK_SECTOR_SIZE != 0 ||
        !inside(otadata->offset, 2 * OTK_SECTOR_SIZE, flash_size)) {
        return OTK_ERR_RANGE;
    }
    for (int s = 0; s < 2; s++) {
        if (app[s]->offset % OTK_BLOCK_SIZE != 0 || app[s]->size % OTK_SECTOR_SIZE != 0 ||
            app[s]->size == 0 || !inside(app[s]->offset, app[s]->size, flash_size)) {
            return OTK_ERR_RANGE;
        }
    }
    if (fs != NULL && (fs->offset % OTK_SECTOR_SIZE != 0 || fs->size % OTK_SECTOR_SIZE != 0 ||
                       !inside(fs->offset, fs->size, flash_size))) {
        return OTK_ERR_RANGE;
    }
    /* The writer erases one region while another must survive: overlapping regions would let
     * an update erase otadata or the running slot. */
    {
        const struct otk_partition *r[4] = {otadata, app[0], app[1], fs};
        int nr = fs != NULL ? 4 : 3;

        for (int i = 0; i < nr; i++) {
            for (int j = i + 1; j < nr; j++) {
                if (overlap(r[i], r[j])) {
                    return OTK_ERR_RANGE;
                }
            }
        }
    }
    out->flash_size = flash_size;
    out->otadata_offset = otadata->offset;
    out->app_offset[0] = app[0]->offset;
    out->app_size[0] = app[0]->size;
    out->app_offset[1] = app[1]->offset;
    out->app_size[1] = app[1]->size;
    out->fs_offset = fs != NULL ? fs->offset : 0;
    out->fs_size = fs != NULL ? fs->size : 0;
    out->chip = 0; /* the ESP32 (OTK_CHIP_ESP32); a device of another chip sets it after this */
    return OTK_OK;
}
