/* SPDX-License-Identifier: MIT */
/* Image verification (header, segments, checksum, SHA-256, app description) of arbitrary
 * bytes, for both chips. The bytes sit at the very end of a RAM flash, so reading one byte past
 * what the verifier was given is a read past the flash: the flash refuses it and counts it as
 * misuse, which fails the run. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_ramflash.h"
#include "otakit/image.h"

#define LEAD 4096u /* flash before the image */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_str(const char *s, size_t cap)
{
    FUZZ_CHECK(memchr(s, '\0', cap) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_crypto c;
    struct ramflash rf;

    if (size > 1u << 20)
        return 0;
    fuzz_crypto_init(&c);
    ramflash_init(&rf, LEAD + (uint32_t)size);
    rf.fail_on_misuse = false;
    ramflash_load(&rf, LEAD, data, size);
    for (int chip = 0; chip < 2; chip++) {
        union otk_hash_ctx ctx;
        struct otk_image_info info;
        enum otk_image_result r;

        memset(&info, 0x55, sizeof info); /* anything the verifier leaves unset stays visible */
        r = otk_image_verify(&rf.ops, &c.ops, LEAD, (uint32_t)size, (enum otk_profile)chip, &ctx,
                             &info);
        FUZZ_CHECK(r <= OTK_IMG_GZIP);
        FUZZ_CHECK(rf.misuse == 0);
        FUZZ_CHECK(otk_image_result_str(r) != NULL);
        if (r == OTK_IMG_OK) {
            FUZZ_CHECK(info.length <= size);
            FUZZ_CHECK(info.segment_count <= OTK_IMAGE_MAX_SEGMENTS);
            if (info.has_app_desc) {
                check_str(info.version, sizeof info.version);
                check_str(info.project, sizeof info.project);
                check_str(info.idf_ver, sizeof info.idf_ver);
                check_str(info.date, sizeof info.date);
                check_str(info.time, sizeof info.time);
            }
        }
        if (size > 0) {
            enum otk_image_result h = otk_image_head_check(data, size, (enum otk_profile)chip);

            FUZZ_CHECK(h == OTK_IMG_OK || h == OTK_IMG_BAD_MAGIC || h == OTK_IMG_WRONG_CHIP);
        }
    }
    {
        int id = otk_image_chip(data, size);

        FUZZ_CHECK(id == OTK_CHIP_UNKNOWN || id == OTK_CHIP_ESP8266 || (id >= 0 && id <= 0xFFFF));
        (void)otk_image_chip_name(id);
    }
    FUZZ_CHECK(rf.mutations == 0); /* verification only reads */
    ramflash_free(&rf);
    return 0;
}
