/* SPDX-License-Identifier: MIT */
/* bench_powercut: power lost at every flash operation of an OTA update, in process.
 *
 * For each profile, the device engine (otk_dev_*) runs on an in-RAM NOR flash behind a fake
 * network and a virtual clock (tests/unit/helper_rig.h), exactly as the unit tests drive it. One
 * uninterrupted run of an operation counts its flash mutations (erases and writes); then, for
 * every mutation k, the operation is re-run from the same starting flash with the power lost
 * at mutation k (that erase or write half applied, nothing after it). The device then reboots
 * as the bootloader would (otk_boot_decide(): otadata decides and the rollback rules apply, the
 * chosen image is verified and the other slot is tried if it fails) and must run the old image
 * or the new one, byte for byte - never anything else, never nothing. Last, a fresh upload must
 * succeed on the rebooted device and boot the new image.
 *
 * Operations: an application upload (from a factory-fresh device and from one that already
 * updated once), the same over the native protocol with its connection dropped at 60 % and the
 * rest resumed on a new connection (otakit's RESUME: the cut may hit either connection or the
 * read-back check between them), a compressed native upload (otakit's DEFLATE: the stream is
 * inflated into the slot as it arrives), whole and dropped at 60 % of its stream then resumed
 * with a new stream from the device's offset, a filesystem upload, the first boot of the new image
 * (NEW -> PENDING_VERIFY), the reboot of a new image that never confirmed itself (the rollback),
 * and its confirmation.
 *
 * Exit status 0 only if every cut point booted the expected image and every re-upload worked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helper_rig.h"
#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/gzip.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/native.h"
#include "otakit/posix.h"
#include "otakit/proto.h"
#include "otakit/slots.h"

#define DEFAULT_SIZE 300000u
#define QUICK_SIZE   70000u

/* What a reboot ran. */
enum which {
    W_NONE,    /* no slot holds a valid image: bricked */
    W_OLD,     /* the image running before the update, byte for byte */
    W_NEW,     /* the uploaded image, byte for byte */
    W_CORRUPT, /* a valid-looking image that is neither */
};

static const char *const which_name[] = {"none", "old", "new", "corrupt"};

#define EXPECT(w) (1u << (w))

struct images {
    enum otk_profile p;
    uint8_t *older; /* in the slot the second update overwrites */
    uint8_t *old;   /* the running image */
    uint8_t *new_img;
    uint8_t *fs_old;
    uint8_t *fs_new;
    uint32_t older_size, old_size, new_size, fs_size;
};

struct boot_result {
    int slot;
    bool rolled_back;
    bool fallback; /* otadata's choice did not verify; the other slot booted */
    enum which which;
};

enum op {
    OP_UPLOAD_APP,
    OP_UPLOAD_APP_RESUMED,         /* native: dropped at 60 %, resumed on a new connection */
    OP_UPLOAD_APP_DEFLATE,         /* native, compressed: a deflate stream inflated into the slot */
    OP_UPLOAD_APP_DEFLATE_RESUMED, /* ...dropped at 60 % of the stream, resumed with a new one */
    OP_UPLOAD_FS,
    OP_FIRST_BOOT, /* the first reset after the update: NEW -> PENDING_VERIFY */
    OP_ROLLBACK,   /* the reset after a boot that never confirmed: PENDING_VERIFY -> ABORTED */
    OP_CONFIRM,    /* the new image confirms itself: PENDING_VERIFY -> VALID */
};

struct scase {
    const char *name;
    enum op op;
    const uint8_t *start; /* the whole flash before the operation */
    int running;          /* the slot running in `start` */
    unsigned expect_cut;  /* images acceptable after a cut (EXPECT bits) */
    enum which expect_done;
    bool expect_rollback; /* the uncut operation must report a rollback */
    bool idle_work;       /* the port gives the engine its idle time (erase ahead) */
};

struct tally {
    unsigned long points, bootable, corrupt, unbootable, old, new_, fallback, unexpected;
    unsigned long reupload_ok;
    unsigned long e64, e4, wr; /* the uncut operation's flash mutations */
    bool done_ok;
    enum which done;
};

static bool verbose;

static uint8_t *
gen_image(enum otk_profile p, const char *version, uint32_t size, uint32_t seed)
{
    uint8_t *img = malloc(size);

    if (!img || otk_imagegen(p, "bench", version, size, seed, img, size) != (int)size) {
        fprintf(stderr, "bench_powercut: cannot generate a %u-byte image\n", (unsigned)size);
        exit(2);
    }
    return img;
}

static uint8_t *
gen_bytes(uint32_t size, uint32_t seed)
{
    uint8_t *b = malloc(size);
    uint32_t x = seed * 2654435761u + 1u;

    if (!b)
        exit(2);
    for (uint32_t i = 0; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
    return b;
}

static struct rig *
rig_from(enum otk_profile p, const uint8_t *flash, int running)
{
    struct rig_opts o;

    rig_opts_default(&o, p, OTK_AUTH_MD5, NULL);
    o.img_size = 0; /* the images come from struct images */
    o.flash = flash;
    o.running_slot = running;
    return rig_new_opts(&o);
}

static struct rig *
rig_for(const struct scase *c, enum otk_profile p)
{
    struct rig *r = rig_from(p, c->start, c->running);

    r->idle_work = c->idle_work;
    return r;
}

static uint8_t *
snapshot(const struct rig *r)
{
    uint8_t *s = malloc(r->flash.size);

    if (!s)
        exit(2);
    memcpy(s, r->flash.mem, r->flash.size);
    return s;
}

/* The chip's bootloader checks an image for the chip it is. */
static enum otk_image_result
verify_image(void *user, uint32_t offset, uint32_t size, struct otk_image_info *info)
{
    struct rig *r = user;
    union otk_hash_ctx ctx;

    return otk_image_verify(&r->flash.ops, otk_posix_crypto(), offset, size, r->dev.cfg.profile,
                            &ctx, info);
}

/* Which image a slot holds, byte for byte. */
static enum which
which_image(struct rig *r, const struct images *im, int slot)
{
    const uint8_t *at = r->flash.mem + r->dev.cfg.layout.app_offset[slot];

    if (memcmp(at, im->new_img, im->new_size) == 0)
        return W_NEW;
    if (memcmp(at, im->old, im->old_size) == 0)
        return W_OLD;
    return W_CORRUPT;
}

/* A reset: the bootloader's decision (the core's otk_boot_decide(): otadata with its rollback
 * writes, the image check, the other slot), and what it runs. Returns whether otadata was
 * usable. */
static bool
boot(struct rig *r, const struct images *im, struct boot_result *b)
{
    struct otk_boot_decision d;

    memset(b, 0, sizeof *b);
    if (otk_boot_decide(&r->flash.ops, &r->dev.cfg.layout, verify_image, r, &d, NULL) != OTK_OK)
        return false;
    b->slot = d.slot >= 0 ? d.slot : d.selected_slot;
    b->rolled_back = d.rolled_back;
    b->fallback = d.fallback;
    b->which = d.slot >= 0 ? which_image(r, im, d.slot) : W_NONE;
    return d.otadata_rc == OTK_OK;
}

/* Power back on and reset. */
static void
reboot(struct rig *r, const struct images *im, struct boot_result *b)
{
    ramflash_power_on(&r->flash);
    (void)boot(r, im, b);
}

static bool
fs_holds(struct rig *r, const uint8_t *data, uint32_t size)
{
    return memcmp(r->flash.mem + r->dev.cfg.layout.fs_offset, data, size) == 0;
}

static void
put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* The native server of the resumed cases (one rig at a time). */
static struct otk_nat bench_nat;

static bool
nat_feed(struct rig *r, const void *p, size_t n)
{
    return otk_dev_on_native_data(&r->dev, p, n, r->now) == n;
}

/* One native connection of an otakit client (features 86, RESUME asked) for the new image:
 * the image from the offset the device names, up to `stop` bytes (then the connection drops)
 * or to the end (then the final 00 and the reboot pause). */
static bool
nat_connection(struct rig *r, const struct images *im, uint32_t stop)
{
    const uint8_t head[] = {0x6c, 0x26, 0xf7, 0x5c, 0x45, 0x86, 0x01, 0x01, 0x00};
    uint8_t size[4] = {(uint8_t)(im->new_size >> 24), (uint8_t)(im->new_size >> 16),
                       (uint8_t)(im->new_size >> 8), (uint8_t)im->new_size};
    char md5[33];
    const uint8_t *ans;
    uint32_t at;

    otk_proto_md5_hex(otk_posix_crypto(), im->new_img, im->new_size, md5);
    if (!otk_dev_on_native_accept(&r->dev, &r->host, r->now) || !nat_feed(r, head, sizeof head) ||
        !nat_feed(r, size, 4) || !nat_feed(r, md5, 32) || r->net.nat_len < 5)
        return false;
    ans = r->net.nat + r->net.nat_len - 5; /* "43" + the offset, the last answer */
    if (ans[0] != OTK_NAT_BIN_MD5_OK)
        return false;
    at = (uint32_t)ans[1] << 24 | (uint32_t)ans[2] << 16 | (uint32_t)ans[3] << 8 | ans[4];
    for (uint32_t off = at; off < (stop ? stop : im->new_size) && otk_dev_native_busy(&r->dev);
         off += 1460) {
        uint32_t end = stop ? stop : im->new_size;
        uint32_t n = end - off < 1460 ? end - off : 1460;

        r->now += 1;
        (void)nat_feed(r, im->new_img + off, n);
    }
    if (stop) {
        otk_dev_on_native_closed(&r->dev, r->now);
        return at == 0;
    }
    (void)nat_feed(r, &(const uint8_t){OTK_NAT_OK}, 1); /* the host's final ack */
    rig_run_ticks(r, r->now + 1000);
    return at > 0 && r->reboots > 0 && r->events[OTK_EV_END] == 1;
}

/* The native upload dropped at 60 % and resumed. */
static bool
upload_resumed(struct rig *r, const struct images *im)
{
    struct otk_nat_config cfg;

    memset(&cfg, 0, sizeof cfg);
    if (otk_dev_native_attach(&r->dev, &bench_nat, &cfg) != OTK_OK)
        return false;
    /* both always run: a cut in the first must leave the old image whatever the second does */
    bool first = nat_connection(r, im, im->new_size / 10 * 6);
    bool second = nat_connection(r, im, 0);
    return first && second;
}

/* The inflater's memory for the compressed cases (zlib's port: about 52 KB). */
static _Alignas(max_align_t) uint8_t bench_zmem[64 * 1024];

/* One native connection of an otakit client asking for `caps` (DEFLATE, maybe RESUME): the
 * image's size and MD5, then after "43" (+ the offset with RESUME) the length and the deflate
 * stream of the image from that offset, as otakit upload makes it; dropped at 60 % of the
 * stream when `drop`, else to the end (the final 00 and the reboot pause). */
static bool
nat_connection_z(struct rig *r, const struct images *im, uint8_t caps, bool drop)
{
    const uint8_t head[] = {0x6c, 0x26, 0xf7, 0x5c, 0x45, 0x86, 0x01, caps, 0x00};
    const size_t ok_len = caps & OTK_NAT_CAP_RESUME ? 5 : 1;
    uint8_t size[4], len[4];
    char md5[33];
    const uint8_t *ans;
    uint8_t *z = NULL;
    uint32_t at = 0, zlen = 0, stop;

    put_be32(size, im->new_size);
    otk_proto_md5_hex(otk_posix_crypto(), im->new_img, im->new_size, md5);
    if (!otk_dev_on_native_accept(&r->dev, &r->host, r->now) || !nat_feed(r, head, sizeof head) ||
        !nat_feed(r, size, 4) || !nat_feed(r, md5, 32) || r->net.nat_len < ok_len)
        return false;
    ans = r->net.nat + r->net.nat_len - ok_len;
    if (ans[0] != OTK_NAT_BIN_MD5_OK)
        return false;
    if (ok_len == 5)
        at = (uint32_t)ans[1] << 24 | (uint32_t)ans[2] << 16 | (uint32_t)ans[3] << 8 | ans[4];
    if (otk_deflate_raw(im->new_img + at, im->new_size - at, OTK_DEFLATE_LEVEL, &z, &zlen) !=
        OTK_OK)
        return false;
    put_be32(len, zlen);
    (void)nat_feed(r, len, 4);
    stop = drop ? zlen / 10 * 6 : zlen;
    for (uint32_t off = 0; off < stop && otk_dev_native_busy(&r->dev); off += 1460) {
        r->now += 1;
        (void)nat_feed(r, z + off, stop - off < 1460 ? stop - off : 1460);
    }
    free(z);
    if (drop) {
        otk_dev_on_native_closed(&r->dev, r->now);
        return at == 0;
    }
    (void)nat_feed(r, &(const uint8_t){OTK_NAT_OK}, 1);
    rig_run_ticks(r, r->now + 1000);
    return (!(caps & OTK_NAT_CAP_RESUME) || at > 0) && r->reboots > 0 && r->events[OTK_EV_END] == 1;
}

/* A compressed native upload, whole or dropped at 60 % of its stream and resumed. */
static bool
upload_deflate(struct rig *r, const struct images *im, bool resumed)
{
    const struct otk_inflate_ops *ops = otk_posix_inflate();
    struct otk_nat_config cfg;

    memset(&cfg, 0, sizeof cfg);
    if (otk_dev_native_attach(&r->dev, &bench_nat, &cfg) != OTK_OK ||
        otk_dev_native_set_inflater(&r->dev, ops, bench_zmem, sizeof bench_zmem) != OTK_OK)
        return false;
    if (!resumed)
        return nat_connection_z(r, im, OTK_NAT_CAP_DEFLATE, false);
    bool first = nat_connection_z(r, im, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME, true);
    bool second = nat_connection_z(r, im, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME, false);
    return first && second;
}

/* Run the case's operation once. For the boot operations *b gets what that boot runs. */
static bool
run_op(struct rig *r, const struct scase *c, const struct images *im, struct boot_result *b)
{
    const struct otk_layout *l = &r->dev.cfg.layout;

    memset(b, 0, sizeof *b);
    switch (c->op) {
    case OP_UPLOAD_APP:
        return rig_upload(r, OTK_CMD_FLASH, im->new_img, im->new_size, NULL);
    case OP_UPLOAD_APP_RESUMED:
        return upload_resumed(r, im);
    case OP_UPLOAD_APP_DEFLATE:
        return upload_deflate(r, im, false);
    case OP_UPLOAD_APP_DEFLATE_RESUMED:
        return upload_deflate(r, im, true);
    case OP_UPLOAD_FS:
        return rig_upload(r, OTK_CMD_FS, im->fs_new, im->fs_size, NULL);
    case OP_FIRST_BOOT:
    case OP_ROLLBACK:
        return boot(r, im, b);
    case OP_CONFIRM:
        return otk_slots_confirm(&r->flash.ops, l) == OTK_OK;
    }
    return false;
}

/* After an upload or a confirmation completed without a cut: reset, and check that the device
 * runs what it should (and that a filesystem upload landed). */
static bool
check_done(struct rig *r, const struct scase *c, const struct images *im, bool ok, enum which *done)
{
    struct boot_result b;

    *done = W_NONE;
    if (!ok)
        return false;
    reboot(r, im, &b);
    *done = b.which;
    if (c->op == OP_UPLOAD_FS && !fs_holds(r, im->fs_new, im->fs_size))
        return false;
    return b.which == c->expect_done && !b.rolled_back && !b.fallback;
}

/* A fresh upload on the rebooted device (running from `slot`) must succeed and run. */
static bool
reupload(struct rig *r, const struct scase *c, const struct images *im, int slot)
{
    struct boot_result b;

    rig_restart(r, slot);
    if (c->op == OP_UPLOAD_FS) {
        if (!rig_upload(r, OTK_CMD_FS, im->fs_new, im->fs_size, NULL))
            return false;
        reboot(r, im, &b);
        return fs_holds(r, im->fs_new, im->fs_size) && (b.which == W_OLD || b.which == W_NEW);
    }
    if (!rig_upload(r, OTK_CMD_FLASH, im->new_img, im->new_size, NULL))
        return false;
    reboot(r, im, &b);
    return b.which == W_NEW && b.slot == 1 - slot && !b.fallback;
}

static void
sweep(const struct scase *c, const struct images *im, struct tally *t)
{
    struct rig *r = rig_for(c, im->p);
    struct boot_result b;
    unsigned long before, total;
    bool ok;

    memset(t, 0, sizeof *t);
    /* the uncut run: count the operation's mutations, check where it leaves the device */
    before = r->flash.mutations;
    t->e64 = r->flash.erases_64k;
    t->e4 = r->flash.erases_4k;
    t->wr = r->flash.writes;
    ok = run_op(r, c, im, &b);
    total = r->flash.mutations - before;
    t->e64 = r->flash.erases_64k - t->e64;
    t->e4 = r->flash.erases_4k - t->e4;
    t->wr = r->flash.writes - t->wr;
    if (c->op == OP_FIRST_BOOT || c->op == OP_ROLLBACK) {
        t->done = ok ? b.which : W_NONE;
        t->done_ok =
            ok && b.which == c->expect_done && b.rolled_back == c->expect_rollback && !b.fallback;
    } else {
        t->done_ok = check_done(r, c, im, ok, &t->done);
    }
    rig_free(r);

    for (unsigned long k = 1; k <= total; k++) {
        bool good, again;

        r = rig_for(c, im->p);
        ramflash_cut_after(&r->flash, k - 1, true);
        (void)run_op(r, c, im, &b);
        reboot(r, im, &b);
        t->points++;
        switch (b.which) {
        case W_OLD:
            t->old++;
            t->bootable++;
            break;
        case W_NEW:
            t->new_++;
            t->bootable++;
            break;
        case W_CORRUPT:
            t->corrupt++;
            break;
        case W_NONE:
            t->unbootable++;
            break;
        }
        if (b.fallback)
            t->fallback++;
        good = (b.which == W_OLD || b.which == W_NEW) && (c->expect_cut & EXPECT(b.which));
        if ((b.which == W_OLD || b.which == W_NEW) && !good)
            t->unexpected++;
        again = b.which != W_NONE && reupload(r, c, im, b.slot);
        if (again)
            t->reupload_ok++;
        if (verbose || !good || !again)
            printf("    %-34s cut %3lu/%lu: boots slot %d (%s)%s%s, re-upload %s\n", c->name, k,
                   total, b.slot, which_name[b.which], b.fallback ? " after fallback" : "",
                   good ? "" : " UNEXPECTED", again ? "ok" : "FAILED");
        rig_free(r);
    }
}

/* Flash contents before the cases: a factory-fresh device running the old image from app0, and
 * one that updated once already (older image in app0, old image in app1, confirmed), its
 * filesystem holding the old filesystem image. */
static uint8_t *
start_factory(const struct images *im)
{
    struct rig *r = rig_from(im->p, NULL, 0);
    uint8_t *s;

    ramflash_load(&r->flash, r->dev.cfg.layout.app_offset[0], im->old, im->old_size);
    s = snapshot(r);
    rig_free(r);
    return s;
}

static uint8_t *
start_updated(const struct images *im)
{
    struct rig *r = rig_from(im->p, NULL, 0);
    const struct otk_layout *l = &r->dev.cfg.layout;
    int slot;
    bool rolled;
    uint8_t *s;

    ramflash_load(&r->flash, l->app_offset[0], im->older, im->older_size);
    ramflash_load(&r->flash, l->app_offset[1], im->old, im->old_size);
    ramflash_load(&r->flash, l->fs_offset, im->fs_old, im->fs_size);
    if (otk_slots_set_boot(&r->flash.ops, l, 1) != OTK_OK ||
        otk_slots_boot(&r->flash.ops, l, &slot, &rolled) != OTK_OK || slot != 1 ||
        otk_slots_confirm(&r->flash.ops, l) != OTK_OK) {
        fprintf(stderr, "bench_powercut: cannot prepare the updated device\n");
        exit(2);
    }
    s = snapshot(r);
    rig_free(r);
    return s;
}

/* The state after a complete app upload from `start` (new image NEW in the other slot), and
 * after its first boot (PENDING_VERIFY). */
static uint8_t *
after_upload(const struct images *im, const uint8_t *start, int running, bool first_boot)
{
    struct rig *r = rig_from(im->p, start, running);
    uint8_t *s;
    int slot;
    bool rolled;

    if (!rig_upload(r, OTK_CMD_FLASH, im->new_img, im->new_size, NULL) ||
        (first_boot && otk_slots_boot(&r->flash.ops, &r->dev.cfg.layout, &slot, &rolled) != 0)) {
        fprintf(stderr, "bench_powercut: the reference upload failed\n");
        exit(2);
    }
    s = snapshot(r);
    rig_free(r);
    return s;
}

static void
print_row(const char *profile, const struct scase *c, const struct tally *t)
{
    char ops[40];

    snprintf(ops, sizeof ops, "%lu/%lu/%lu", t->e64, t->e4, t->wr);
    printf("%-8s %-34s %12s %6lu %8lu %5lu %5lu %8lu %7lu %6lu %9lu  %s%s\n", profile, c->name, ops,
           t->points, t->bootable, t->old, t->new_, t->fallback, t->corrupt, t->unbootable,
           t->reupload_ok, which_name[t->done],
           t->done_ok ? (c->expect_rollback ? " (rolled back)" : "") : " FAILED");
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: bench_powercut [--quick] [--size BYTES] [--profile esp32|esp8266|all] "
            "[--verbose]\n"
            "  --size BYTES  application and filesystem image size (default %u; --quick %u)\n"
            "  --quick       the CI form: smaller images, same cases\n"
            "  --verbose     one line per cut point\n",
            DEFAULT_SIZE, QUICK_SIZE);
}

struct totals {
    unsigned long points, bootable, corrupt;
    bool failed;
};

/* Every case of one profile; the figures add to *tot. */
static void
run_profile(enum otk_profile p, const char *pname, uint32_t size, struct totals *tot)
{
    struct images im;
    uint8_t *fac, *upd, *fac_new, *upd_new, *fac_pv, *upd_pv;

    memset(&im, 0, sizeof im);
    im.p = p;
    im.new_size = size;
    /* sizes differ so that a slot holding the tail of another image is caught */
    im.old_size = size - size / 8;
    im.older_size = size + size / 8;
    im.fs_size = size;
    if (im.old_size < otk_imagegen_min_size(p))
        im.old_size = otk_imagegen_min_size(p);
    im.new_img = gen_image(p, "3.0.0", im.new_size, 3);
    im.old = gen_image(p, "2.0.0", im.old_size, 2);
    im.older = gen_image(p, "1.0.0", im.older_size, 1);
    im.fs_old = gen_bytes(im.fs_size, 4);
    im.fs_new = gen_bytes(im.fs_size, 5);

    fac = start_factory(&im);
    upd = start_updated(&im);
    fac_new = after_upload(&im, fac, 0, false);
    upd_new = after_upload(&im, upd, 1, false);
    fac_pv = after_upload(&im, fac, 0, true);
    upd_pv = after_upload(&im, upd, 1, true);
    {
        const unsigned either = EXPECT(W_OLD) | EXPECT(W_NEW);
        const struct scase cases[] = {
            {"app upload, factory device", OP_UPLOAD_APP, fac, 0, EXPECT(W_OLD), W_NEW, false,
             false},
            {"app upload, updated device", OP_UPLOAD_APP, upd, 1, EXPECT(W_OLD), W_NEW, false,
             false},
            {"app upload, updated, erase ahead", OP_UPLOAD_APP, upd, 1, EXPECT(W_OLD), W_NEW, false,
             true},
            {"native, dropped 60 %, resumed, fac", OP_UPLOAD_APP_RESUMED, fac, 0, EXPECT(W_OLD),
             W_NEW, false, false},
            {"native, dropped 60 %, resumed, upd", OP_UPLOAD_APP_RESUMED, upd, 1, EXPECT(W_OLD),
             W_NEW, false, false},
            {"native, deflate, factory", OP_UPLOAD_APP_DEFLATE, fac, 0, EXPECT(W_OLD), W_NEW, false,
             false},
            {"native, deflate, updated", OP_UPLOAD_APP_DEFLATE, upd, 1, EXPECT(W_OLD), W_NEW, false,
             false},
            {"native, deflate, drop+resume, fac", OP_UPLOAD_APP_DEFLATE_RESUMED, fac, 0,
             EXPECT(W_OLD), W_NEW, false, false},
            {"native, deflate, drop+resume, upd", OP_UPLOAD_APP_DEFLATE_RESUMED, upd, 1,
             EXPECT(W_OLD), W_NEW, false, false},
            {"fs upload", OP_UPLOAD_FS, upd, 1, EXPECT(W_OLD), W_OLD, false, false},
            {"fs upload, erase ahead", OP_UPLOAD_FS, upd, 1, EXPECT(W_OLD), W_OLD, false, true},
            {"first boot (NEW->PENDING), factory", OP_FIRST_BOOT, fac_new, 0, either, W_NEW, false},
            {"first boot (NEW->PENDING), updated", OP_FIRST_BOOT, upd_new, 1, either, W_NEW, false},
            {"never confirmed: rollback, factory", OP_ROLLBACK, fac_pv, 0, EXPECT(W_OLD), W_OLD,
             true},
            {"never confirmed: rollback, updated", OP_ROLLBACK, upd_pv, 1, EXPECT(W_OLD), W_OLD,
             true},
            {"confirm (PENDING->VALID), factory", OP_CONFIRM, fac_pv, 0, either, W_NEW, false},
            {"confirm (PENDING->VALID), updated", OP_CONFIRM, upd_pv, 1, either, W_NEW, false},
        };

        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            struct tally t;

            sweep(&cases[i], &im, &t);
            print_row(pname, &cases[i], &t);
            fflush(stdout);
            tot->points += t.points;
            tot->bootable += t.bootable;
            tot->corrupt += t.corrupt;
            if (t.bootable != t.points || t.unexpected != 0 || t.reupload_ok != t.points ||
                !t.done_ok)
                tot->failed = true;
        }
    }
    free(fac);
    free(upd);
    free(fac_new);
    free(upd_new);
    free(fac_pv);
    free(upd_pv);
    free(im.new_img);
    free(im.old);
    free(im.older);
    free(im.fs_old);
    free(im.fs_new);
}

/* The options: -1 to go on, else the exit status. */
static int
parse_args(int argc, char **argv, uint32_t *size, bool want[2])
{
    bool quick = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            char *end;
            unsigned long v = strtoul(argv[++i], &end, 0);

            if (*end != '\0' || v == 0 || v > 0x100000) {
                fprintf(stderr, "bench_powercut: bad --size %s\n", argv[i]);
                return 2;
            }
            *size = (uint32_t)v;
        } else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
            i++;
            want[0] = strcmp(argv[i], "esp32") == 0 || strcmp(argv[i], "all") == 0;
            want[1] = strcmp(argv[i], "esp8266") == 0 || strcmp(argv[i], "all") == 0;
            if (!want[0] && !want[1]) {
                usage(stderr);
                return 2;
            }
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (*size == 0)
        *size = quick ? QUICK_SIZE : DEFAULT_SIZE;
    return -1;
}

int
main(int argc, char **argv)
{
    uint32_t size = 0;
    bool want[2] = {true, true};
    struct totals tot = {0, 0, 0, false};
    int rc = parse_args(argc, argv, &size, want);

    if (rc >= 0)
        return rc;
    printf("power-cut sweep: %u-byte images; the cut erase or write is half applied, every later "
           "operation lost\n",
           (unsigned)size);
    printf("ops = the uncut operation's 64 KB block erases / 4 KB sector erases / writes; one cut "
           "point per op\n\n");
    printf("%-8s %-34s %12s %6s %8s %5s %5s %8s %7s %6s %9s  %s\n", "profile", "case", "ops",
           "points", "bootable", "old", "new", "fallback", "corrupt", "brick", "re-upload",
           "uncut");
    if (want[0])
        run_profile(OTK_PROFILE_ESP32, "esp32", size, &tot);
    if (want[1])
        run_profile(OTK_PROFILE_ESP8266, "esp8266", size, &tot);
    printf("\npower cuts: %lu points, %lu bootable, %lu corrupt\n", tot.points, tot.bootable,
           tot.corrupt);
    return tot.failed || tot.bootable != tot.points || tot.corrupt != 0 ? 1 : 0;
}
