/* SPDX-License-Identifier: MIT */
/* The inflating stage in front of the writer (include/otakit/inflate.h) with the POSIX port's
 * inflater (zlib): a deflate stream fed in pieces of every size lands in the slot bit for bit
 * and activates it; a corrupt, truncated, overlong or short stream, a zip bomb and trailing bytes
 * fail with OTK_UPD_INFLATE and leave otadata (the old image's boot) untouched. The streams are
 * made here with zlib's deflate, as the uploader makes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "helper_ramflash.h"
#include "helper_testdata.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/inflate.h"
#include "otakit/layout.h"
#include "otakit/posix.h"
#include "otakit/proto.h"
#include "otakit/slots.h"
#include "otakit/updater.h"

#define FLASH_SIZE 0x400000u

struct dev {
    enum otk_profile p;
    struct ramflash rf;
    struct otk_layout l;
    struct otk_updater u;
    struct otk_inflater z;
    uint8_t sector[OTK_SECTOR_SIZE];
    void *zmem;
};

static struct dev *
dev_new(enum otk_profile p)
{
    struct dev *d = calloc(1, sizeof *d);
    struct otk_partition parts[8];
    int n = otk_layout_default_parts(p, parts, 8);
    const struct otk_inflate_ops *ops = otk_posix_inflate();

    assert_non_null(d);
    d->p = p;
    ramflash_init(&d->rf, FLASH_SIZE);
    assert_int_equal(otk_layout_from_parts(parts, n, FLASH_SIZE, &d->l), OTK_OK);
    otk_upd_init(&d->u, p, &d->rf.ops, otk_posix_crypto(), &d->l, d->sector);
    d->zmem = malloc(ops->state_size);
    assert_non_null(d->zmem);
    otk_inflater_bind(&d->z, ops, d->zmem, ops->state_size);
    return d;
}

static void
dev_free(struct dev *d)
{
    otk_inflater_stop(&d->z);
    ramflash_free(&d->rf);
    free(d->zmem);
    free(d);
}

/* A raw deflate stream of in (windowBits -15), as the uploader sends it. */
static uint8_t *
deflate_raw(const uint8_t *in, size_t len, int level, size_t *out_len)
{
    z_stream z = {0};
    uint8_t *out;
    uLong cap;

    assert_int_equal(deflateInit2(&z, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    cap = deflateBound(&z, len) + 16;
    out = malloc(cap);
    assert_non_null(out);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = z.total_out;
    deflateEnd(&z);
    return out;
}

static uint8_t *
gen(enum otk_profile p, const char *version, uint32_t size, uint32_t seed)
{
    uint8_t *b = malloc(size);

    assert_non_null(b);
    assert_int_equal(otk_imagegen(p, "inftest", version, size, seed, b, size), (int)size);
    return b;
}

/* begin(size) with the image's MD5, start a stream of stream_len, feed s in pieces of chunk.
 * @return the first failure, or end()'s reason. */
static enum otk_upd_reason
inflate_update(struct dev *d, const uint8_t *img, uint32_t size, const uint8_t *s,
               size_t stream_len, size_t chunk)
{
    char md5[33];
    enum otk_upd_reason r;

    otk_proto_md5_hex(otk_posix_crypto(), img, size, md5);
    r = otk_upd_begin(&d->u, size, 0, 0, md5);
    if (r != OTK_UPD_OK)
        return r;
    r = otk_inflater_start(&d->z, (uint32_t)stream_len);
    if (r != OTK_UPD_OK)
        return r;
    for (size_t at = 0; at < stream_len;) {
        size_t n = otk_inflater_wants(&d->z, stream_len - at < chunk ? stream_len - at : chunk);

        r = otk_inflater_write(&d->z, &d->u, s + at, n);
        if (r != OTK_UPD_OK) {
            otk_upd_abort(&d->u, r);
            return r;
        }
        at += n;
    }
    assert_true(otk_inflater_done(&d->z));
    return otk_upd_end(&d->u);
}

static void
boots_slot(struct dev *d, int want)
{
    struct otk_slots_status st;

    if (want < 0) { /* never activated: no otadata record at all */
        assert_int_equal(otk_slots_read(&d->rf.ops, &d->l, &st), OTK_OK);
        assert_int_equal(st.active_entry, -1);
        return;
    }
    assert_int_equal(otk_slots_read(&d->rf.ops, &d->l, &st), OTK_OK);
    assert_int_equal(st.boot_slot, want);
}

static void
good_stream_in_pieces(void **state)
{
    static const size_t chunks[] = {1, 7, 1460, 8192, 65536, 1u << 22};
    const uint32_t size = 300007;
    uint8_t *img = gen(OTK_PROFILE_ESP32, "2.0", size, 5);
    size_t slen;
    uint8_t *s = deflate_raw(img, size, 9, &slen);

    (void)state;
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        struct dev *d = dev_new(OTK_PROFILE_ESP32);

        assert_int_equal(inflate_update(d, img, size, s, slen, chunks[i]), OTK_UPD_OK);
        assert_memory_equal(d->rf.mem + d->l.app_offset[1], img, size);
        assert_int_equal(otk_upd_progress(&d->u), size);
        boots_slot(d, 1);
        dev_free(d);
    }
    free(s);
    free(img);
}

/* One failing stream: the reason, the inflater's words, and otadata untouched. */
static void
refused(enum otk_profile p, const uint8_t *img, uint32_t size, const uint8_t *s, size_t slen,
        const char *why)
{
    struct dev *d = dev_new(p);

    assert_int_equal(inflate_update(d, img, size, s, slen, 1460), OTK_UPD_INFLATE);
    assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_INFLATE);
    assert_non_null(d->z.why);
    assert_string_equal(d->z.why, why);
    assert_false(d->z.active);
    assert_int_equal(otk_upd_errnum(p, OTK_UPD_INFLATE), 24);
    boots_slot(d, -1);
    /* the writer is free again: a valid image, plain, goes through */
    {
        char md5[33];
        uint8_t *good = gen(p, "3.0", 50000, 9);

        otk_proto_md5_hex(otk_posix_crypto(), good, 50000, md5);
        assert_int_equal(otk_upd_begin(&d->u, 50000, 0, 0, md5), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, good, 50000), 50000);
        assert_int_equal(otk_upd_end(&d->u), OTK_UPD_OK);
        boots_slot(d, 1);
        free(good);
    }
    dev_free(d);
}

static void
bad_streams(void **state)
{
    const uint32_t size = 200000;
    uint8_t *img = gen(OTK_PROFILE_ESP32, "2.0", size, 6);
    size_t slen;
    uint8_t *s = deflate_raw(img, size, 6, &slen);
    uint8_t *t = malloc(slen + 16);

    (void)state;
    assert_non_null(t);
    /* a corrupt block header early in the stream: a reserved block type (11) */
    memcpy(t, s, slen);
    t[0] |= 0x06;
    refused(OTK_PROFILE_ESP32, img, size, t, slen, "corrupt deflate stream");
    /* truncated: the announced length stops short of the final block */
    refused(OTK_PROFILE_ESP32, img, size, s, slen - 100,
            "the stream is truncated (no final block)");
    /* bytes after the final block, inside the announced length */
    memcpy(t, s, slen);
    memset(t + slen, 0xA5, 16);
    refused(OTK_PROFILE_ESP32, img, size, t, slen + 16,
            "the stream ends before its announced length");
    /* the image announced 4 KB larger than what the stream makes */
    {
        uint8_t *big = calloc(1, size + 4096);

        assert_non_null(big);
        memcpy(big, img, size);
        refused(OTK_PROFILE_ESP32, big, size + 4096, s, slen,
                "it inflates to less than the announced image size");
        free(big);
    }
    /* the image announced 4 KB smaller than what the stream makes */
    refused(OTK_PROFILE_ESP32, img, size - 4096, s, slen,
            "it inflates beyond the announced image size");
    free(t);
    free(s);
    free(img);
}

/* 64 MB of zeros after a valid image's bytes deflate to ~64 KB more: the writer stops at the
 * announced size (which begin() held to the slot), flash beyond the slot is never touched. */
static void
zip_bomb_bounded(void **state)
{
    const size_t big = 64u << 20;
    const uint32_t size = 100000;
    uint8_t *img = gen(OTK_PROFILE_ESP32, "2.0", size, 7);
    uint8_t *bomb = malloc(big);
    uint8_t *before = malloc(FLASH_SIZE);
    size_t slen;
    uint8_t *s;
    struct dev *d = dev_new(OTK_PROFILE_ESP32);
    uint32_t slot_end = d->l.app_offset[1] + d->l.app_size[1];

    (void)state;
    assert_non_null(bomb);
    assert_non_null(before);
    memcpy(bomb, img, size);
    memset(bomb + size, 0, big - size);
    s = deflate_raw(bomb, big, 9, &slen);
    assert_true(slen < size + big / 500); /* about 1000:1 beyond the head */
    memcpy(before, d->rf.mem, FLASH_SIZE);
    assert_int_equal(inflate_update(d, img, size, s, slen, 1460), OTK_UPD_INFLATE);
    assert_string_equal(d->z.why, "it inflates beyond the announced image size");
    assert_memory_equal(d->rf.mem + slot_end, before + slot_end, FLASH_SIZE - slot_end);
    assert_memory_equal(d->rf.mem, before, d->l.app_offset[1]);
    /* an announced size beyond the slot never starts */
    assert_int_equal(otk_upd_begin(&d->u, d->l.app_size[1] + 1, 0, 0, NULL), OTK_UPD_SIZE);
    dev_free(d);
    free(s);
    free(before);
    free(bomb);
    free(img);
}

static void
no_inflater(void **state)
{
    struct otk_inflater z;
    const struct otk_inflate_ops *ops = otk_posix_inflate();
    void *mem = malloc(ops->state_size);

    (void)state;
    memset(&z, 0, sizeof z);
    otk_inflater_bind(&z, NULL, NULL, 0);
    assert_false(otk_inflater_available(&z));
    assert_int_equal(otk_inflater_start(&z, 100), OTK_UPD_INFLATE);
    assert_string_equal(z.why, "no inflater");
    otk_inflater_bind(&z, ops, mem, ops->state_size - 1);
    assert_false(otk_inflater_available(&z));
    otk_inflater_bind(&z, ops, mem, ops->state_size);
    assert_true(otk_inflater_available(&z));
    assert_int_equal(otk_inflater_start(&z, 0), OTK_UPD_INFLATE);
    assert_string_equal(z.why, "empty stream");
    assert_int_equal(otk_inflater_start(&z, 10), OTK_UPD_OK);
    assert_int_equal(otk_inflater_wants(&z, 100), 10);
    otk_inflater_stop(&z);
    assert_int_equal(otk_inflater_wants(&z, 100), 0);
    free(mem);
}

/* The port's ops alone: a stream's end is reported where it ends, finish() tells a complete
 * stream from a truncated one. */
static void
posix_ops_contract(void **state)
{
    const struct otk_inflate_ops *o = otk_posix_inflate();
    void *mem = malloc(o->state_size);
    static const uint8_t text[] = "otakit otakit otakit otakit otakit";
    size_t slen, used = 0, n = 0;
    uint8_t *s = deflate_raw(text, sizeof text, 9, &slen);
    uint8_t *t = malloc(slen + 3);
    const uint8_t *out = NULL;

    (void)state;
    assert_int_equal(o->init(o->user, mem, o->state_size - 1), OTK_ERR_ARG);
    memcpy(t, s, slen);
    memcpy(t + slen, "xyz", 3);
    assert_int_equal(o->init(o->user, mem, o->state_size), OTK_OK);
    assert_int_equal(o->feed(o->user, mem, t, slen + 3, &used, &out, &n), OTK_INFLATE_END);
    assert_int_equal(used, slen);
    assert_int_equal(n, sizeof text);
    assert_memory_equal(out, text, sizeof text);
    assert_int_equal(o->finish(o->user, mem), OTK_OK);
    assert_int_equal(o->init(o->user, mem, o->state_size), OTK_OK);
    assert_int_equal(o->feed(o->user, mem, s, slen - 1, &used, &out, &n), OTK_INFLATE_NEED_INPUT);
    assert_int_equal(o->finish(o->user, mem), OTK_ERR_MALFORMED);
    free(t);
    free(s);
    free(mem);
}

/* The two real firmware images: inflated through the device path bit for bit, and what their
 * stream costs on the wire at the uploader's level. */
static void
real_images(void **state)
{
    static const struct {
        const char *file;
        enum otk_profile p;
    } cases[] = {{"esp32-arduino-idf3.3.bin", OTK_PROFILE_ESP32},
                 {"esp8266-arduino.bin", OTK_PROFILE_ESP8266}};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        size_t n, slen;
        uint8_t *img = testdata_load(cases[i].file, &n);
        uint8_t *s = deflate_raw(img, n, 9, &slen);
        struct dev *d = dev_new(cases[i].p);

        print_message("%s: %zu -> %zu bytes (%.1f %%)\n", cases[i].file, n, slen,
                      100.0 * (double)slen / (double)n);
        assert_int_equal(inflate_update(d, img, (uint32_t)n, s, slen, 1460), OTK_UPD_OK);
        assert_memory_equal(d->rf.mem + d->l.app_offset[1], img, n);
        dev_free(d);
        free(s);
        free(img);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_stream_in_pieces), cmocka_unit_test(bad_streams),
        cmocka_unit_test(zip_bomb_bounded),      cmocka_unit_test(no_inflater),
        cmocka_unit_test(posix_ops_contract),
    };
    const struct CMUnitTest data_tests[] = {cmocka_unit_test(real_images)};
    static const char *const files[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin", NULL};

    return testdata_main(argc, argv, tests, data_tests, files);
}
