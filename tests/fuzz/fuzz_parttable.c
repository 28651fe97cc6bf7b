/* SPDX-License-Identifier: MIT */
/* The ESP-IDF binary partition table decoder, and the layout resolved from what it returns.
 * A decoded table must encode back to one that decodes to the same partitions. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct otk_partition parts[OTK_PARTTABLE_MAX], back[OTK_PARTTABLE_MAX];
    static uint8_t table[0xC00];
    struct fuzz_crypto c;
    struct otk_layout l;
    int n, m;

    fuzz_crypto_init(&c);
    for (int with_md5 = 0; with_md5 < 2; with_md5++) {
        const struct otk_crypto_ops *ops = with_md5 ? &c.ops : NULL;

        n = otk_parttable_decode(ops, data, (uint32_t)size, parts, OTK_PARTTABLE_MAX);
        FUZZ_CHECK(n <= OTK_PARTTABLE_MAX);
        if (n < 0) {
            FUZZ_CHECK(n == OTK_ERR_MALFORMED || n == OTK_ERR_NOSPACE);
            continue;
        }
        for (int i = 0; i < n; i++)
            FUZZ_CHECK(parts[i].label[16] == '\0');
        if (otk_layout_from_parts(parts, n, 0x400000, &l) == OTK_OK) {
            /* what the updater and the slots will erase lies inside the flash, aligned */
            for (int s = 0; s < 2; s++) {
                FUZZ_CHECK(l.app_offset[s] % OTK_BLOCK_SIZE == 0 && l.app_size[s] != 0);
                FUZZ_CHECK((uint64_t)l.app_offset[s] + l.app_size[s] <= l.flash_size);
            }
            FUZZ_CHECK(l.otadata_offset % OTK_SECTOR_SIZE == 0);
            FUZZ_CHECK((uint64_t)l.otadata_offset + 2 * OTK_SECTOR_SIZE <= l.flash_size);
            FUZZ_CHECK((uint64_t)l.fs_offset + l.fs_size <= l.flash_size);
        }
        FUZZ_CHECK(otk_parttable_encode(&c.ops, parts, n, table, sizeof table) == OTK_OK);
        m = otk_parttable_decode(&c.ops, table, sizeof table, back, OTK_PARTTABLE_MAX);
        FUZZ_CHECK(m == n);
        for (int i = 0; i < n; i++) {
            FUZZ_CHECK(back[i].type == parts[i].type && back[i].subtype == parts[i].subtype);
            FUZZ_CHECK(back[i].offset == parts[i].offset && back[i].size == parts[i].size);
            FUZZ_CHECK(strcmp(back[i].label, parts[i].label) == 0);
        }
    }
    return 0;
}
