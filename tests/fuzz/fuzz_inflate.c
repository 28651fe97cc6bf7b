/* SPDX-License-Identifier: MIT */
/* Inflate input through the device's path: arbitrary bytes as a compressed update's deflate
 * stream, through the inflating stage (inflate.c) and the port's inflater (zlib, as otakit
 * device uses it) into the writer on a RAM flash, in pieces whose sizes the input chooses.
 *
 * Input: byte 0 = piece-size selector, bytes 1-2 = the announced image size (little endian,
 * 1..65535, at most the 64 KB slot), bytes 3-4 = how much the announced stream length differs
 * from the bytes that follow (0: exactly those), then the stream.
 *
 * Checked: the running slot is never touched; otadata only once the target slot holds an image
 * the bootloader accepts; nothing beyond the announced image is written; the flash is used by the
 * NOR rules; a stream the stage accepts whole ends with exactly the announced image bytes
 * written; a failure is OTK_UPD_INFLATE with a reason or the writer's own, and leaves the writer
 * free for the next update. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/inflate.h"
#include "otakit/posix.h"
#include "otakit/updater.h"

struct fz {
    struct ramflash rf;
    struct otk_layout l;
    struct otk_updater u;
    struct otk_inflater z;
    struct fuzz_crypto c;
    struct otk_flash_ops guarded;
    uint8_t sector[OTK_SECTOR_SIZE];
    uint32_t size;
    void *zmem;
};

static struct fz g;
static bool ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
overlaps(uint32_t addr, size_t len, uint32_t off, uint32_t size)
{
    return addr < off + size && off < addr + len;
}

static void
guard(uint32_t addr, size_t len)
{
    union otk_hash_ctx ctx;
    struct otk_image_info info;

    FUZZ_CHECK(!overlaps(addr, len, g.l.app_offset[0], g.l.app_size[0]));
    if (overlaps(addr, len, g.l.otadata_offset, 2 * OTK_SECTOR_SIZE))
        FUZZ_CHECK(otk_image_verify(&g.rf.ops, &g.c.ops, g.l.app_offset[1], g.l.app_size[1],
                                    OTK_PROFILE_ESP32, &ctx, &info) == OTK_IMG_OK);
    else
        FUZZ_CHECK(addr >= g.l.app_offset[1] &&
                   addr + len <= g.l.app_offset[1] + ((g.size + 0xFFFFu) & ~0xFFFFu));
}

static int
g_read(void *user, uint32_t addr, void *buf, size_t len)
{
    (void)user;
    return g.rf.ops.read(g.rf.ops.user, addr, buf, len);
}

static int
g_write(void *user, uint32_t addr, const void *buf, size_t len)
{
    (void)user;
    guard(addr, len);
    return g.rf.ops.write(g.rf.ops.user, addr, buf, len);
}

static int
g_erase(void *user, uint32_t addr, uint32_t len)
{
    (void)user;
    guard(addr, len);
    return g.rf.ops.erase(g.rf.ops.user, addr, len);
}

static void
setup(void)
{
    const struct otk_inflate_ops *ops = otk_posix_inflate();

    ramflash_init(&g.rf, FUZZ_FLASH_SIZE);
    fuzz_layout(&g.l);
    g.guarded = (struct otk_flash_ops){g_read, g_write, g_erase, NULL};
    g.zmem = malloc(ops->state_size);
    FUZZ_CHECK(g.zmem != NULL);
    ready = true;
}

static size_t
piece(uint8_t sel, size_t i)
{
    static const size_t sizes[] = {1, 3, 64, 536, 1460, 4096, 8192, 65536};

    return sel & 0x80 ? 1 + (i * 131 + sel) % 2000 : sizes[sel & 7];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct otk_inflate_ops *ops = otk_posix_inflate();
    enum otk_upd_reason r = OTK_UPD_OK;
    uint32_t slen;
    size_t at = 5, i = 0;

    if (size < 5)
        return 0;
    if (!ready)
        setup();
    ramflash_reset(&g.rf);
    fuzz_crypto_init(&g.c);
    otk_upd_init(&g.u, OTK_PROFILE_ESP32, &g.guarded, &g.c.ops, &g.l, g.sector);
    otk_inflater_bind(&g.z, ops, g.zmem, ops->state_size);
    g.size = (uint32_t)(data[1] | data[2] << 8);
    slen = (uint32_t)(size - 5) + (uint32_t)(data[3] | data[4] << 8);
    if (otk_upd_begin(&g.u, g.size, 0, 0, NULL) != OTK_UPD_OK)
        return 0; /* size 0, or beyond the slot: never starts */
    if (otk_inflater_start(&g.z, slen) != OTK_UPD_OK) {
        FUZZ_CHECK(slen == 0);
        return 0;
    }
    while (at < size && r == OTK_UPD_OK) {
        size_t n =
            otk_inflater_wants(&g.z, size - at < piece(data[0], i) ? size - at : piece(data[0], i));

        FUZZ_CHECK(n > 0);
        r = otk_inflater_write(&g.z, &g.u, data + at, n);
        FUZZ_CHECK(otk_upd_progress(&g.u) <= g.size);
        at += n;
        i++;
    }
    if (r == OTK_UPD_OK && otk_inflater_done(&g.z)) {
        /* the whole stream was accepted: it made exactly the announced image */
        FUZZ_CHECK(otk_upd_progress(&g.u) == g.size);
        (void)otk_upd_end(&g.u);
    } else if (r == OTK_UPD_INFLATE) {
        FUZZ_CHECK(g.z.why != NULL && !g.z.active);
        otk_upd_abort(&g.u, r);
    } else {
        otk_inflater_stop(&g.z); /* the stream is cut short: what a lost connection does */
        otk_upd_abort(&g.u, r == OTK_UPD_OK ? OTK_UPD_ABORTED : r);
    }
    FUZZ_CHECK(!g.z.active);
    FUZZ_CHECK(g.rf.misuse == 0);
    /* the writer is free for the next update */
    FUZZ_CHECK(otk_upd_begin(&g.u, 100, 0, 0, NULL) == OTK_UPD_OK);
    otk_upd_abort(&g.u, OTK_UPD_ABORTED);
    return 0;
}
