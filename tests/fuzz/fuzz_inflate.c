/* SPDX-License-Identifier: MIT */
/* Inflate input through the device's path: arbitrary bytes as a compressed update's deflate
 * stream, sent by an otakit client that was granted DEFLATE over the native protocol, through
 * the native server (native.c), the inflating stage (inflate.c) and the port's inflater (zlib,
 * as otakit device uses it) into the writer on a RAM flash, in pieces whose sizes the input
 * chooses.
 *
 * Input: byte 0 = piece-size selector, bytes 1-2 = the announced image size (little endian;
 * 0 or beyond the slot is refused at begin), bytes 3-34 = the image's MD5 in hex as the client
 * sends it, bytes 35-36 = how much the announced stream length exceeds the bytes that follow
 * (0: exactly those), then the stream.
 *
 * Checked on every flash operation: the running slot is never touched, otadata only once the
 * target slot holds an image the bootloader accepts. After the session: the flash was used by
 * the NOR rules; an update that ended successfully wrote exactly the announced image bytes; a
 * failed one was reported with a text (a stream's fault as "Decompression Failed: ..."); the
 * inflater's state is given back; the native server is idle or rebooting, never stuck. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/native.h"
#include "otakit/posix.h"

#define RUNNING_IMG 1024u
#define HEAD        37u

struct fz {
    struct otk_dev dev;
    struct otk_nat nat;
    struct fakenet net;
    struct ramflash *rf;
    struct fuzz_crypto c;
    struct fuzz_guarded_flash guarded;
    uint8_t sector[OTK_SECTOR_SIZE];
    uint32_t now;
    int ends, errors;
};

static struct fz g;
static struct ramflash flash_keep;
static _Alignas(max_align_t) uint8_t zmem[64 * 1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
guard(void *user, uint32_t addr, size_t len)
{
    struct fz *f = user;
    const struct otk_layout *l = &f->dev.cfg.layout;

    FUZZ_CHECK(!fuzz_overlaps(addr, len, l->app_offset[0], l->app_size[0]));
    if (fuzz_overlaps(addr, len, l->otadata_offset, 2 * OTK_SECTOR_SIZE)) {
        union otk_hash_ctx ctx;
        struct otk_image_info info;

        FUZZ_CHECK(otk_image_verify(&f->rf->ops, &f->c.ops, l->app_offset[1], l->app_size[1],
                                    f->dev.cfg.profile, &ctx, &info) == OTK_IMG_OK);
    }
}

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct fz *f = user;

    FUZZ_CHECK(ev->text != NULL);
    if (ev->type == OTK_EV_END) {
        FUZZ_CHECK(ev->bytes == ev->total); /* exactly the announced image, inflated */
        f->ends++;
    }
    if (ev->type == OTK_EV_ERROR) {
        FUZZ_CHECK(ev->text[0] != '\0');
        if (ev->reason == OTK_UPD_INFLATE)
            FUZZ_CHECK(strncmp(ev->text, "Decompression Failed: ", 22) == 0);
        f->errors++;
    }
}

static void
on_reboot(void *user)
{
    (void)user;
}

static void
setup(struct fz *f)
{
    struct otk_dev_config cfg;
    struct otk_nat_config nc;
    struct otk_dev_hooks hooks = {on_event, on_reboot, f};
    uint8_t running[RUNNING_IMG];
    const struct otk_inflate_ops *ops = otk_posix_inflate();

    memset(f, 0, sizeof *f);
    fuzz_crypto_init(&f->c);
    fakenet_init(&f->net);
    if (!flash_keep.mem)
        ramflash_init(&flash_keep, FUZZ_FLASH_SIZE);
    ramflash_reset(&flash_keep);
    f->rf = &flash_keep;
    f->rf->fail_on_misuse = false;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = OTK_PROFILE_ESP32;
    cfg.auth = OTK_AUTH_MD5;
    fuzz_layout(&cfg.layout);
    FUZZ_CHECK(otk_imagegen(cfg.profile, "running", "1.0.0", RUNNING_IMG, 1, running,
                            RUNNING_IMG) == (int)RUNNING_IMG);
    ramflash_load(f->rf, cfg.layout.app_offset[0], running, RUNNING_IMG);
    fuzz_guarded_flash_init(&f->guarded, &f->rf->ops, guard, f);
    FUZZ_CHECK(otk_dev_init(&f->dev, &cfg, &f->net.ops, &f->guarded.ops, &f->c.ops, &hooks,
                            f->sector) == OTK_OK);
    memset(&nc, 0, sizeof nc);
    FUZZ_CHECK(otk_dev_native_attach(&f->dev, &f->nat, &nc) == OTK_OK);
    FUZZ_CHECK(ops->state_size <= sizeof zmem);
    FUZZ_CHECK(otk_dev_native_set_inflater(&f->dev, ops, zmem, sizeof zmem) == OTK_OK);
    f->now = 1000;
}

static void
feed(struct fz *f, const void *p, size_t n)
{
    if (otk_dev_native_state(&f->dev) == OTK_NATS_IDLE)
        return;
    FUZZ_CHECK(otk_dev_on_native_data(&f->dev, p, n, f->now) == n);
}

static size_t
piece(uint8_t sel, size_t i)
{
    static const size_t sizes[] = {1, 3, 64, 536, 1460, 4096, 8192, 65536};

    return sel & 0x80 ? 1 + (i * 131 + sel) % 2000 : sizes[sel & 7];
}

/* Up to the stream: magic, features 86, "01 02" (DEFLATE), type, size, MD5. */
static bool
handshake(struct fz *f, uint32_t size, const uint8_t *md5)
{
    const uint8_t head[] = {0x6c, 0x26, 0xf7, 0x5c, 0x45, 0x86, 0x01, 0x02, 0x00};
    uint8_t be[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                     (uint8_t)size};
    struct otk_addr from = fakenet_addr("10.0.0.1", 40000);

    FUZZ_CHECK(otk_dev_on_native_accept(&f->dev, &from, f->now));
    feed(f, head, sizeof head);
    FUZZ_CHECK(f->nat.deflate); /* granted: the device has an inflater */
    feed(f, be, 4);
    feed(f, md5, 32);
    return otk_dev_native_state(&f->dev) == OTK_NATS_STREAM;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz *f = &g;
    uint32_t image, slen, at = HEAD;
    uint8_t be[4];

    if (size < HEAD)
        return 0;
    setup(f);
    image = (uint32_t)(data[1] | data[2] << 8);
    slen = (uint32_t)(size - HEAD) + (uint32_t)(data[35] | data[36] << 8);
    if (handshake(f, image, data + 3)) {
        be[0] = (uint8_t)(slen >> 24);
        be[1] = (uint8_t)(slen >> 16);
        be[2] = (uint8_t)(slen >> 8);
        be[3] = (uint8_t)slen;
        feed(f, be, 4);
        for (size_t i = 0; at < size && otk_dev_native_state(&f->dev) == OTK_NATS_DATA; i++) {
            size_t n = size - at < piece(data[0], i) ? size - at : piece(data[0], i);

            f->now += 1;
            feed(f, data + at, n);
            at += (uint32_t)n;
        }
        feed(f, &(const uint8_t){0x00}, 1); /* the host's final ack, if it gets that far */
    }
    if (otk_dev_native_state(&f->dev) != OTK_NATS_IDLE &&
        otk_dev_native_state(&f->dev) != OTK_NATS_REBOOTING)
        otk_dev_on_native_closed(&f->dev, f->now); /* the stream was cut short */
    FUZZ_CHECK(otk_dev_native_state(&f->dev) == OTK_NATS_IDLE ||
               otk_dev_native_state(&f->dev) == OTK_NATS_REBOOTING);
    FUZZ_CHECK(!f->nat.inflater.active);
    FUZZ_CHECK(f->rf->misuse == 0);
    FUZZ_CHECK(f->ends + f->errors <= 1);
    if (getenv("OTK_FUZZ_VERBOSE"))
        printf("inflate: image %u, stream %u, %s, %d end(s), %d error(s)\n", image, slen,
               otk_nat_state_str(otk_dev_native_state(&f->dev)), f->ends, f->errors);
    return 0;
}
