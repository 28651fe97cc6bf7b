/* SPDX-License-Identifier: MIT */
/* The image writer: full updates of both profiles, every error number and text, the erase
 * pattern, the partition guard, and a power cut at every flash operation of an update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_ramflash.h"
#include "helper_testdata.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
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
    uint8_t sector[OTK_SECTOR_SIZE];
};

static void
dev_init(struct dev *d, enum otk_profile p)
{
    struct otk_partition parts[8];
    int n = otk_layout_default_parts(p, parts, 8);

    memset(d, 0, sizeof *d);
    d->p = p;
    ramflash_init(&d->rf, FLASH_SIZE);
    assert_int_equal(otk_layout_from_parts(parts, n, FLASH_SIZE, &d->l), OTK_OK);
    otk_upd_init(&d->u, p, &d->rf.ops, otk_posix_crypto(), &d->l, d->sector);
}

static void
dev_free(struct dev *d)
{
    ramflash_free(&d->rf);
}

static uint8_t *
gen(enum otk_profile p, const char *version, uint32_t size, uint32_t seed)
{
    uint8_t *b = malloc(size);

    assert_non_null(b);
    assert_int_equal(otk_imagegen(p, "updtest", version, size, seed, b, size), (int)size);
    return b;
}

/* Stream data in chunks of `chunk` bytes; stop at the first refused write.
 * @return the reason of end(), or of the write that failed. */
static enum otk_upd_reason
stream(struct dev *d, const uint8_t *data, size_t len, size_t chunk)
{
    size_t pos = 0;

    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;

        if (otk_upd_write(&d->u, data + pos, n) != n) {
            return otk_upd_reason_of(&d->u);
        }
        pos += n;
    }
    return otk_upd_end(&d->u);
}

static enum otk_upd_reason
update(struct dev *d, uint32_t cmd, int running, const uint8_t *img, size_t len, size_t chunk)
{
    char md5[33];
    enum otk_upd_reason r;

    otk_proto_md5_hex(otk_posix_crypto(), img, len, md5);
    r = otk_upd_begin(&d->u, (uint32_t)len, cmd, running, md5);
    if (r != OTK_UPD_OK) {
        return r;
    }
    return stream(d, img, len, chunk);
}

static void
errtext_is(struct dev *d, const char *want)
{
    char t[200];

    assert_int_equal(otk_upd_errtext(&d->u, t, sizeof t), strlen(want));
    assert_string_equal(t, want);
}

static int
errnum(struct dev *d)
{
    return otk_upd_errnum(d->p, otk_upd_reason_of(&d->u));
}

static const char *
image_version(struct dev *d, int slot)
{
    static struct otk_image_info info;
    union otk_hash_ctx h;

    if (otk_image_verify(&d->rf.ops, otk_posix_crypto(), d->l.app_offset[slot], d->l.app_size[slot],
                         d->p, &h, &info) != OTK_IMG_OK) {
        return NULL;
    }
    return info.version;
}

static void
full_update(enum otk_profile p, size_t chunk)
{
    struct dev *d = malloc(sizeof *d);
    uint8_t *old = gen(p, "1.0", 100000, 1);
    const uint32_t size = 300007; /* not a multiple of 4 KB: a partial last sector */
    uint8_t *img = gen(p, "2.0", size, 2);
    uint8_t *before = malloc(FLASH_SIZE);
    struct otk_slots_status st;
    uint32_t start, cover_end, tail, erase_end;
    int slot = -1;
    bool rolled = true;

    assert_non_null(d);
    assert_non_null(before);
    dev_init(d, p);
    ramflash_load(&d->rf, d->l.app_offset[0], old, 100000);
    /* garbage in the target slot, which the update must erase before writing */
    memset(d->rf.mem + d->l.app_offset[1], 0x5A, d->l.app_size[1]);
    memcpy(before, d->rf.mem, FLASH_SIZE);

    assert_int_equal(update(d, 0, 0, img, size, chunk), OTK_UPD_OK);
    assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_OK);
    assert_int_equal(otk_upd_progress(&d->u), size);
    assert_true(otk_upd_is_finished(&d->u));
    errtext_is(d, "No Error");

    /* the image landed in app1, bit for bit */
    start = d->l.app_offset[1];
    assert_memory_equal(d->rf.mem + start, img, size);
    /* erases: 64 KB blocks while a whole block is covered; at the tail a block too when the
     * image needs 4 or more of its sectors (cheaper than those sectors), else 4 KB sectors */
    cover_end = start + ((size + 4095u) & ~4095u);
    tail = (cover_end - start) % 65536u;
    erase_end = tail >= 4u * 4096u ? cover_end - tail + 65536u : cover_end;
    assert_int_equal(d->rf.erases_64k, (erase_end - start) / 65536u);
    assert_int_equal(d->rf.erases_4k, (erase_end - start) % 65536u / 4096u + 1u /* otadata */);
    assert_int_equal(d->rf.erases_other, 0);
    /* nothing else changed: the rest of app1 still holds the old garbage (past the image, the
     * erased tail reads 0xFF), app0 and every other partition are untouched, otadata changed in
     * one sector */
    for (uint32_t a = start + size; a < erase_end; a++) {
        assert_int_equal(d->rf.mem[a], 0xFF);
    }
    assert_memory_equal(d->rf.mem + erase_end, before + erase_end,
                        start + d->l.app_size[1] - erase_end);
    assert_memory_equal(d->rf.mem, before, d->l.otadata_offset);
    assert_memory_equal(d->rf.mem + d->l.otadata_offset + 4096, before + d->l.otadata_offset + 4096,
                        start - (d->l.otadata_offset + 4096));
    assert_memory_equal(d->rf.mem + start + d->l.app_size[1], before + start + d->l.app_size[1],
                        FLASH_SIZE - (start + d->l.app_size[1]));

    /* the slot switch */
    assert_int_equal(otk_slots_read(&d->rf.ops, &d->l, &st), OTK_OK);
    assert_int_equal(st.boot_slot, 1);
    assert_int_equal(st.boot_state, OTK_OTA_NEW);
    assert_int_equal(otk_slots_boot(&d->rf.ops, &d->l, &slot, &rolled), OTK_OK);
    assert_int_equal(slot, 1);
    assert_false(rolled);
    assert_string_equal(image_version(d, 1), "2.0");
    assert_string_equal(image_version(d, 0), "1.0");

    /* and back again, from the new image */
    {
        uint8_t *img3 = gen(p, "3.0", 50000, 3);

        assert_int_equal(otk_slots_confirm(&d->rf.ops, &d->l), OTK_OK);
        assert_int_equal(update(d, 0, 1, img3, 50000, chunk), OTK_UPD_OK);
        assert_int_equal(otk_slots_boot(&d->rf.ops, &d->l, &slot, &rolled), OTK_OK);
        assert_int_equal(slot, 0);
        assert_string_equal(image_version(d, 0), "3.0");
        assert_string_equal(image_version(d, 1), "2.0");
        free(img3);
    }
    dev_free(d);
    free(d);
    free(before);
    free(old);
    free(img);
}

static void
full_update_esp32(void **state)
{
    (void)state;
    full_update(OTK_PROFILE_ESP32, 1460);
    full_update(OTK_PROFILE_ESP32, 1);    /* byte by byte */
    full_update(OTK_PROFILE_ESP32, 9000); /* more than a sector per write */
}

static void
full_update_esp8266(void **state)
{
    (void)state;
    full_update(OTK_PROFILE_ESP8266, 1460);
    full_update(OTK_PROFILE_ESP8266, 4096);
}

static void
real_images_update(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        enum otk_profile p;
    } cases[] = {
        {"esp32-arduino-idf3.3.bin", OTK_PROFILE_ESP32},
        {"esp8266-arduino.bin", OTK_PROFILE_ESP8266},
    };

    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *buf = testdata_load(cases[i].file, &n);
        struct dev *d = malloc(sizeof *d);

        assert_non_null(d);
        assert_true(n > 100000);
        /* its own chip takes it */
        dev_init(d, cases[i].p);
        assert_int_equal(update(d, 0, 0, buf, n, 1460), OTK_UPD_OK);
        dev_free(d);
        /* the other chip refuses it by its head (the ESP32 image, 955 KB, would fit the
         * 960 KB ESP8266 slot), before any flash operation, whatever the chunking */
        dev_init(d, cases[i].p == OTK_PROFILE_ESP32 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32);
        assert_int_equal(otk_image_chip(buf, n),
                         cases[i].p == OTK_PROFILE_ESP32 ? OTK_CHIP_ESP32 : OTK_CHIP_ESP8266);
        for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
            assert_int_equal(update(d, 0, 0, buf, n, chunk), OTK_UPD_WRONG_CHIP);
            assert_int_equal(d->rf.mutations, 0);
            assert_int_equal(errnum(d), 23);
            errtext_is(d, "Image For Another Chip");
        }
        /* a refused image changes nothing in otadata */
        for (uint32_t a = d->l.otadata_offset; a < d->l.otadata_offset + 0x2000; a++) {
            assert_int_equal(d->rf.mem[a], 0xFF);
        }
        dev_free(d);
        free(d);
        free(buf);
    }
}

static void
error_table(void **state)
{
    (void)state;
    static const struct {
        enum otk_upd_reason r;
        int n32;
        const char *t32;
        int n82;
        const char *t82;
    } t[] = {
        {OTK_UPD_OK, 0, "No Error", 0, "No Error"},
        {OTK_UPD_WRITE, 1, "Flash Write Failed", 1, "Flash Write Failed"},
        {OTK_UPD_ERASE, 2, "Flash Erase Failed", 2, "Flash Erase Failed"},
        {OTK_UPD_READ, 3, "Flash Read Failed", 3, "Flash Read Failed"},
        {OTK_UPD_SPACE, 4, "Not Enough Space", 4, "Not Enough Space"},
        {OTK_UPD_SIZE, 5, "Bad Size Given", 5, "Bad Size Given"},
        {OTK_UPD_STREAM, 6, "Stream Read Timeout", 6, "Stream Read Timeout"},
        {OTK_UPD_MD5, 7, "MD5 Check Failed", 7, "MD5 verification failed"},
        {OTK_UPD_MAGIC, 8, "Wrong Magic Byte", 10, "Magic byte is not 0xE9"},
        {OTK_UPD_ACTIVATE, 9, "Could Not Activate The Firmware", 21,
         "Could Not Activate The Firmware"},
        {OTK_UPD_NO_PARTITION, 10, "Partition Could Not be Found", 19,
         "Partition Could Not be Found"},
        {OTK_UPD_BAD_ARG, 11, "Bad Argument", 20, "Bad Argument"},
        {OTK_UPD_ABORTED, 12, "Aborted", 18, "Aborted"},
        {OTK_UPD_NEW_FLASH_CONFIG, 9, "Could Not Activate The Firmware", 9,
         "new Flash config wrong"},
        {OTK_UPD_BAD_IMAGE, 9, "Could Not Activate The Firmware", 17, "Image verification failed"},
        {OTK_UPD_RUNNING, 15, "Update already running", 15, "Update already running"},
        {OTK_UPD_UNKNOWN_CMD, 16, "Unknown update command", 16, "Unknown update command"},
        {OTK_UPD_NO_DATA, 13, "No data supplied", 13, "No data supplied"},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        assert_int_equal(otk_upd_errnum(OTK_PROFILE_ESP32, t[i].r), t[i].n32);
        assert_string_equal(otk_upd_reason_str(OTK_PROFILE_ESP32, t[i].r), t[i].t32);
        assert_int_equal(otk_upd_errnum(OTK_PROFILE_ESP8266, t[i].r), t[i].n82);
        assert_string_equal(otk_upd_reason_str(OTK_PROFILE_ESP8266, t[i].r), t[i].t82);
    }
    assert_int_equal(otk_upd_errnum(OTK_PROFILE_ESP32, (enum otk_upd_reason)99), -1);
}

static void
begin_errors(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    char md5[33];

    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        bool e32 = p == OTK_PROFILE_ESP32;
        uint8_t *img = gen((enum otk_profile)p, "x", 4096, 1);
        uint32_t slot_size;

        otk_proto_md5_hex(otk_posix_crypto(), img, 4096, md5);
        dev_init(d, (enum otk_profile)p);
        slot_size = d->l.app_size[1];
        assert_int_equal(otk_upd_begin(&d->u, 0, 0, 0, md5), OTK_UPD_SIZE);
        assert_int_equal(errnum(d), 5);
        errtext_is(d, "Bad Size Given");
        assert_int_equal(otk_upd_begin(&d->u, 100, 7, 0, md5),
                         e32 ? OTK_UPD_BAD_ARG : OTK_UPD_UNKNOWN_CMD);
        assert_int_equal(errnum(d), e32 ? 11 : 16);
        assert_int_equal(otk_upd_begin(&d->u, slot_size + 1, 0, 0, md5),
                         e32 ? OTK_UPD_SIZE : OTK_UPD_SPACE);
        assert_int_equal(errnum(d), e32 ? 5 : 4);
        assert_int_equal(otk_upd_begin(&d->u, d->l.fs_size + 1, 100, 0, md5),
                         e32 ? OTK_UPD_SIZE : OTK_UPD_SPACE);
        assert_int_equal(otk_upd_begin(&d->u, 100, 0, 2, md5), OTK_UPD_BAD_ARG);
        assert_int_equal(otk_upd_begin(&d->u, 100, 0, 0, "123"), OTK_UPD_BAD_ARG);
        assert_int_equal(otk_upd_begin(&d->u, 100, 0, 0, "g23456789012345678901234567890ab"),
                         OTK_UPD_BAD_ARG);
        /* exactly the slot size is fine; NULL or "" MD5 means "not checked" */
        assert_int_equal(otk_upd_begin(&d->u, slot_size, 0, 0, NULL), OTK_UPD_OK);
        /* a second begin while running is refused and leaves the running update alone */
        assert_int_equal(otk_upd_begin(&d->u, 4096, 0, 0, md5), OTK_UPD_RUNNING);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, img, 100), 100);
        otk_upd_abort(&d->u, OTK_UPD_STREAM);
        assert_int_equal(errnum(d), 6);
        errtext_is(d, "Stream Read Timeout");
        assert_true(otk_upd_is_finished(&d->u)); /* as the cores: aborted counts as finished */
        assert_int_equal(otk_upd_write(&d->u, img, 100), 0);
        assert_int_equal(otk_upd_end(&d->u), OTK_UPD_STREAM);
        /* after a failure a new update starts normally */
        assert_int_equal(otk_upd_begin(&d->u, 4096, 0, 0, ""), OTK_UPD_OK);
        otk_upd_abort(&d->u, OTK_UPD_OK);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_ABORTED);
        /* ESP8266: a size that fits but whose sector rounding does not */
        if (!e32) {
            struct otk_layout small = d->l;

            small.app_size[1] = 0x10800; /* not a sector multiple: rounding matters */
            d->u.layout = &small;
            assert_int_equal(otk_upd_begin(&d->u, 0x10700, 0, 0, NULL), OTK_UPD_SPACE);
            d->u.layout = &d->l;
        }
        /* no filesystem partition */
        {
            struct otk_layout nofs = d->l;

            nofs.fs_offset = 0;
            nofs.fs_size = 0;
            d->u.layout = &nofs;
            assert_int_equal(otk_upd_begin(&d->u, 100, 100, 0, NULL),
                             e32 ? OTK_UPD_NO_PARTITION : OTK_UPD_SPACE);
            assert_int_equal(errnum(d), e32 ? 10 : 4);
            d->u.layout = &d->l;
        }
        /* nothing was written by any of this but the 100 accepted bytes (still buffered) */
        assert_int_equal(d->rf.mutations, 0);
        dev_free(d);
        free(img);
    }
    free(d);
}

static void
write_more_than_announced(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    char md5[33];

    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        uint8_t *img = gen((enum otk_profile)p, "x", 20000, 1);

        dev_init(d, (enum otk_profile)p);
        otk_proto_md5_hex(otk_posix_crypto(), img, 10000, md5);
        assert_int_equal(otk_upd_begin(&d->u, 10000, 0, 0, md5), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, img, 9000), 9000);
        assert_int_equal(otk_upd_write(&d->u, img + 9000, 1460), 0);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_SPACE);
        assert_int_equal(errnum(d), 4);
        errtext_is(d, "Not Enough Space");
        assert_true(otk_upd_is_finished(&d->u));
        assert_int_equal(otk_upd_end(&d->u), OTK_UPD_SPACE);
        for (uint32_t a = d->l.otadata_offset; a < d->l.otadata_offset + 0x2000; a++) {
            assert_int_equal(d->rf.mem[a], 0xFF);
        }
        dev_free(d);
        free(img);
    }
    free(d);
}

static void
magic_checks(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    uint8_t data[8192];

    assert_non_null(d);
    memset(data, 0x11, sizeof data);
    for (int p = 0; p < 2; p++) {
        bool e32 = p == OTK_PROFILE_ESP32;

        dev_init(d, (enum otk_profile)p);
        /* wrong first byte: refused at once, before any flash op */
        data[0] = 0x00;
        assert_int_equal(otk_upd_begin(&d->u, sizeof data, 0, 0, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, data, 1), 0);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_MAGIC);
        assert_int_equal(errnum(d), e32 ? 8 : 10);
        errtext_is(d, e32 ? "Wrong Magic Byte" : "Magic byte is not 0xE9");
        assert_int_equal(d->rf.mutations, 0);
        /* gzip: only the ESP8266 takes it; split 1F | 8B across writes */
        data[0] = 0x1F;
        data[1] = 0x8B;
        {
            char md5[33];

            otk_proto_md5_hex(otk_posix_crypto(), data, sizeof data, md5);
            assert_int_equal(otk_upd_begin(&d->u, sizeof data, 0, 0, md5), OTK_UPD_OK);
            if (e32) {
                assert_int_equal(otk_upd_write(&d->u, data, 1), 0);
                assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_MAGIC);
            } else {
                assert_int_equal(otk_upd_write(&d->u, data, 1), 1);
                assert_int_equal(stream(d, data + 1, sizeof data - 1, 1000), OTK_UPD_OK);
                /* accepted as is (eboot inflates it) and activated */
                {
                    struct otk_slots_status st;

                    assert_int_equal(otk_slots_read(&d->rf.ops, &d->l, &st), OTK_OK);
                    assert_int_equal(st.boot_slot, 1);
                }
            }
        }
        /* 1F not followed by 8B */
        data[1] = 0x00;
        assert_int_equal(otk_upd_begin(&d->u, sizeof data, 0, 1, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, data, 1), e32 ? 0u : 1u);
        if (!e32) {
            assert_int_equal(otk_upd_write(&d->u, data + 1, 100), 0);
        }
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_MAGIC);
        assert_int_equal(otk_upd_begin(&d->u, sizeof data, 0, 1, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, data, 2), 0);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_MAGIC);
        /* the filesystem has no magic */
        data[0] = 0x00;
        assert_int_equal(otk_upd_begin(&d->u, sizeof data, 100, 0, NULL), OTK_UPD_OK);
        assert_int_equal(stream(d, data, sizeof data, 1460), OTK_UPD_OK);
        dev_free(d);
    }
    free(d);
}

static void
md5_mismatch(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);

    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        uint8_t *img = gen((enum otk_profile)p, "x", 30000, 5);
        char good[33];
        char text[200];

        otk_proto_md5_hex(otk_posix_crypto(), img, 30000, good);
        dev_init(d, (enum otk_profile)p);
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, "0123456789abcdef0123456789ABCDEF"),
                         OTK_UPD_OK);
        assert_int_equal(stream(d, img, 30000, 1460), OTK_UPD_MD5);
        assert_int_equal(errnum(d), 7);
        if (p == OTK_PROFILE_ESP32) {
            errtext_is(d, "MD5 Check Failed");
        } else {
            snprintf(text, sizeof text,
                     "MD5 verification failed: expected: 0123456789abcdef0123456789abcdef, "
                     "calculated: %s",
                     good);
            errtext_is(d, text);
            /* a short buffer gets a NUL-terminated prefix */
            assert_int_equal(otk_upd_errtext(&d->u, text, 10), 9);
            assert_string_equal(text, "MD5 verif");
        }
        for (uint32_t a = d->l.otadata_offset; a < d->l.otadata_offset + 0x2000; a++) {
            assert_int_equal(d->rf.mem[a], 0xFF);
        }
        /* the MD5 in upper case is the same MD5 */
        for (int i = 0; i < 32; i++) {
            if (good[i] >= 'a') {
                good[i] = (char)(good[i] - 'a' + 'A');
            }
        }
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, good), OTK_UPD_OK);
        assert_int_equal(stream(d, img, 30000, 1460), OTK_UPD_OK);
        dev_free(d);
        free(img);
    }
    free(d);
}

static void
bad_images(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);

    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        bool e32 = p == OTK_PROFILE_ESP32;
        uint8_t *img = gen((enum otk_profile)p, "x", 30000, 5);
        uint8_t *other = gen(e32 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32, "x", 30000, 5);

        dev_init(d, (enum otk_profile)p);
        /* a flipped byte, sent with the MD5 of the flipped data: only the image check sees it */
        img[12345] ^= 0x40;
        assert_int_equal(update(d, 0, 0, img, 30000, 1460),
                         e32 ? OTK_UPD_ACTIVATE : OTK_UPD_BAD_IMAGE);
        assert_int_equal(errnum(d), e32 ? 9 : 17);
        errtext_is(d, e32 ? "Could Not Activate The Firmware" : "Image verification failed");
        img[12345] ^= 0x40;
        /* the other chip's image: refused by its head, before any flash operation */
        {
            uint64_t before = d->rf.mutations;

            assert_int_equal(update(d, 0, 0, other, 30000, 1460), OTK_UPD_WRONG_CHIP);
            assert_int_equal(d->rf.mutations, before);
        }
        assert_int_equal(errnum(d), 23);
        errtext_is(d, "Image For Another Chip");
        /* truncated image (a whole image's MD5, but fewer bytes announced and sent) */
        assert_int_equal(update(d, 0, 0, img, 20000, 1460),
                         e32 ? OTK_UPD_ACTIVATE : OTK_UPD_BAD_IMAGE);
        if (!e32) {
            /* ESP8266 image for a bigger flash than this board's (header says 8 MB) */
            img[3] = 0x80;
            assert_int_equal(update(d, 0, 0, img, 30000, 1460), OTK_UPD_NEW_FLASH_CONFIG);
            img[3] = 0x40;
        }
        /* none of it touched otadata; the good image then goes through */
        for (uint32_t a = d->l.otadata_offset; a < d->l.otadata_offset + 0x2000; a++) {
            assert_int_equal(d->rf.mem[a], 0xFF);
        }
        assert_int_equal(update(d, 0, 0, img, 30000, 1460), OTK_UPD_OK);
        dev_free(d);
        free(img);
        free(other);
    }
    free(d);
}

static void
early_end(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        bool e32 = p == OTK_PROFILE_ESP32;
        uint8_t *img = gen((enum otk_profile)p, "x", 30000, 5);

        dev_init(d, (enum otk_profile)p);
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_end(&d->u), e32 ? OTK_UPD_ABORTED : OTK_UPD_NO_DATA);
        assert_int_equal(errnum(d), e32 ? 12 : 13);
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, img, 20000), 20000);
        assert_false(otk_upd_is_finished(&d->u));
        assert_int_equal(otk_upd_end(&d->u), OTK_UPD_ABORTED);
        assert_int_equal(errnum(d), e32 ? 12 : 18);
        errtext_is(d, "Aborted");
        /* end() on an updater that never started */
        dev_free(d);
        dev_init(d, (enum otk_profile)p);
        assert_int_equal(otk_upd_end(&d->u), OTK_UPD_NO_DATA);
        dev_free(d);
        free(img);
    }
    free(d);
}

static void
filesystem_upload(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    const uint32_t size = 200000;
    uint8_t *fs = malloc(size);
    uint8_t *before = malloc(FLASH_SIZE);

    assert_non_null(d);
    assert_non_null(fs);
    assert_non_null(before);
    for (uint32_t i = 0; i < size; i++) {
        fs[i] = (uint8_t)(i * 7u + (i >> 9));
    }
    for (int p = 0; p < 2; p++) {
        uint32_t end;

        dev_init(d, (enum otk_profile)p);
        memcpy(before, d->rf.mem, FLASH_SIZE);
        assert_int_equal(update(d, 100, 0, fs, size, 1460), OTK_UPD_OK);
        assert_memory_equal(d->rf.mem + d->l.fs_offset, fs, size);
        end = d->l.fs_offset + ((size + 4095u) & ~4095u);
        /* only the covered part of spiffs changed; no slot switch (otadata untouched) */
        assert_memory_equal(d->rf.mem, before, d->l.fs_offset);
        assert_memory_equal(d->rf.mem + end, before + end, FLASH_SIZE - end);
        dev_free(d);
    }
    free(before);
    free(fs);
    free(d);
}

static void
flash_failures(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    assert_non_null(d);
    for (int p = 0; p < 2; p++) {
        uint8_t *img = gen((enum otk_profile)p, "x", 30000, 5);

        dev_init(d, (enum otk_profile)p);
        /* an old image in the target slot: erased slots are not erased again */
        memset(d->rf.mem + d->l.app_offset[1], 0x5A, 0x10000);
        /* the first mutation of an update is the erase ahead of the first sector */
        ramflash_cut_after(&d->rf, 0, false);
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, img, 5000), 0);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_ERASE);
        assert_int_equal(errnum(d), 2);
        ramflash_power_on(&d->rf);
        /* then the write of that sector */
        ramflash_cut_after(&d->rf, 1, true);
        assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, NULL), OTK_UPD_OK);
        assert_int_equal(otk_upd_write(&d->u, img, 5000), 0);
        assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_WRITE);
        assert_int_equal(errnum(d), 1);
        ramflash_power_on(&d->rf);
        /* a read failure during the image check: power lost after the last data write */
        if (p == OTK_PROFILE_ESP32) {
            /* 30000 bytes: one block erase (8 sectors are dearer) + 8 sector writes before
             * end() reads */
            ramflash_cut_after(&d->rf, 9, false);
            assert_int_equal(otk_upd_begin(&d->u, 30000, 0, 0, NULL), OTK_UPD_OK);
            assert_int_equal(otk_upd_write(&d->u, img, 30000), 30000);
            /* cut the power with a mutation outside the update, then end() must read */
            assert_int_equal(d->rf.ops.erase(d->rf.ops.user, 0x3FF000, 4096), OTK_ERR_FLASH);
            assert_int_equal(otk_upd_end(&d->u), OTK_UPD_READ);
            assert_int_equal(errnum(d), 3);
            ramflash_power_on(&d->rf);
        }
        dev_free(d);
        free(img);
    }
    free(d);
}

/* The partition guard: even if the updater's bookkeeping were wrong (simulated here by
 * shrinking its idea of the partition after begin), no erase or write leaves the partition. */
static void
partition_guard(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    uint8_t *img = gen(OTK_PROFILE_ESP32, "x", 8192, 5);

    assert_non_null(d);
    dev_init(d, OTK_PROFILE_ESP32);
    memset(d->rf.mem + d->l.app_offset[1], 0x5A, 0x10000); /* not erased: needs erasing */
    assert_int_equal(otk_upd_begin(&d->u, 8192, 0, 0, NULL), OTK_UPD_OK);
    d->u.part_size = 4096;
    assert_int_equal(otk_upd_write(&d->u, img, 8192), 0);
    assert_int_equal(otk_upd_reason_of(&d->u), OTK_UPD_ERASE);
    assert_memory_equal(d->rf.mem + d->l.app_offset[1], img, 4096);
    for (uint32_t a = d->l.app_offset[1] + 4096; a < d->l.app_offset[1] + 0x10000; a++) {
        assert_int_equal(d->rf.mem[a], 0x5A);
    }
    assert_int_equal(d->rf.erases_4k, 1);
    assert_int_equal(d->rf.writes, 1);
    dev_free(d);
    free(d);
    free(img);
}

/* Power lost at each flash operation of an update, both partially applied and not at all.
 * After power returns, the boot decision must land on a valid image: the old one while the
 * slot switch (the last operation) has not completed, the new one once it has. The running
 * image's bytes are never touched. */
static void
sweep(enum otk_profile p, int running, bool erased_target)
{
    struct dev *d = malloc(sizeof *d);
    const uint32_t old_size = 70000, size = 150003;
    uint8_t *old = gen(p, "old", old_size, 11);
    uint8_t *img = gen(p, "new", size, 12);
    unsigned long total;
    int target = 1 - running;

    assert_non_null(d);
#define PREPARE()                                                                                  \
    do {                                                                                           \
        dev_init(d, p);                                                                            \
        ramflash_load(&d->rf, d->l.app_offset[running], old, old_size);                            \
        if (!erased_target)                                                                        \
            memset(d->rf.mem + d->l.app_offset[target], 0x5A, d->l.app_size[target]);              \
        if (running == 1) {                                                                        \
            /* app1 running and confirmed: seq 2, in sector 0 */                                   \
            assert_int_equal(otk_slots_set_boot(&d->rf.ops, &d->l, 1), OTK_OK);                    \
            assert_int_equal(otk_slots_confirm(&d->rf.ops, &d->l), OTK_OK);                        \
        }                                                                                          \
    } while (0)

    PREPARE();
    total = d->rf.mutations;
    assert_int_equal(update(d, 0, running, img, size, 1460), OTK_UPD_OK);
    total = d->rf.mutations - total;
    dev_free(d);
    /* 150003 bytes: 3 blocks erased (the tail's 5 sectors cost more than a block) unless the
     * target reads as erased already, 37 sectors written, otadata erase + write */
    assert_int_equal(total, (erased_target ? 0 : 3) + 37 + 2);

    for (unsigned long k = 0; k <= total; k++) {
        for (int partial = 0; partial < 2; partial++) {
            enum otk_upd_reason r;
            int slot = -1;
            bool rolled;

            PREPARE();
            if (k < total) {
                ramflash_cut_after(&d->rf, k, partial != 0);
            }
            r = update(d, 0, running, img, size, 1460);
            ramflash_power_on(&d->rf);
            /* reboot */
            assert_int_equal(otk_slots_boot(&d->rf.ops, &d->l, &slot, &rolled), OTK_OK);
            assert_false(rolled);
            if (k < total) {
                assert_int_not_equal(r, OTK_UPD_OK);
                assert_int_equal(slot, running);
                assert_string_equal(image_version(d, slot), "old");
            } else {
                assert_int_equal(r, OTK_UPD_OK);
                assert_int_equal(slot, target);
                assert_string_equal(image_version(d, slot), "new");
            }
            assert_memory_equal(d->rf.mem + d->l.app_offset[running], old, old_size);
            dev_free(d);
            if (k == total) {
                break;
            }
        }
    }
#undef PREPARE
    free(d);
    free(old);
    free(img);
}

/* Erasing ahead (what the device does while it waits for data): at most the block being written
 * and the next are erased, units that read as erased are skipped (a half-erased one is not),
 * and the writes do not erase again. */
static void
erase_ahead(void **state)
{
    (void)state;
    struct dev *d = malloc(sizeof *d);
    const uint32_t size = 300000;
    uint8_t *img = gen(OTK_PROFILE_ESP32, "4.0", size, 4);
    uint32_t start;
    char md5[33];

    assert_non_null(d);
    dev_init(d, OTK_PROFILE_ESP32);
    start = d->l.app_offset[1];
    memset(d->rf.mem + start, 0x5A, d->l.app_size[1]);
    memset(d->rf.mem + start + 0x10000, 0xFF, 0x10000); /* block 1 reads as erased */
    memset(d->rf.mem + start + 0x30000, 0xFF, 0x8000);  /* block 3 only half (a power cut) */
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0);    /* no update running */
    otk_proto_md5_hex(otk_posix_crypto(), img, size, md5);
    assert_int_equal(otk_upd_begin(&d->u, size, 0, 0, md5), OTK_UPD_OK);
    assert_int_equal(d->rf.mutations, 0); /* begin erases nothing */
    /* nor does erase-ahead before the head (magic, chip) has been checked */
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0);
    assert_int_equal(otk_upd_write(&d->u, img, OTK_IMAGE_HEAD_LEN - 1), OTK_IMAGE_HEAD_LEN - 1);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0);
    assert_int_equal(otk_upd_write(&d->u, img + OTK_IMAGE_HEAD_LEN - 1, 1), 1);
    assert_int_equal(d->rf.mutations, 0);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 1);
    assert_int_equal(d->rf.erases_64k, 1);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 1); /* block 1: skipped */
    assert_int_equal(d->rf.erases_64k, 1);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0); /* two blocks ahead are enough */
    /* writing the first two blocks erases nothing more */
    assert_int_equal(otk_upd_write(&d->u, img + OTK_IMAGE_HEAD_LEN, 0x20000 - OTK_IMAGE_HEAD_LEN),
                     0x20000 - OTK_IMAGE_HEAD_LEN);
    assert_int_equal(d->rf.erases_64k, 1);
    assert_int_equal(d->rf.erases_4k, 0);
    /* now blocks 2 and 3 may go */
    assert_int_equal(otk_upd_erase_ahead(&d->u), 1);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 1);
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0);
    assert_int_equal(d->rf.erases_64k, 3);
    assert_int_equal(stream(d, img + 0x20000, size - 0x20000, 1460), OTK_UPD_OK);
    /* 300000 bytes cover 4 blocks + 9 sectors: the tail is erased as a block */
    assert_int_equal(d->rf.erases_64k, 4);
    assert_int_equal(d->rf.erases_4k, 1); /* otadata */
    assert_int_equal(otk_upd_erase_ahead(&d->u), 0);
    assert_string_equal(image_version(d, 1), "4.0");
    dev_free(d);
    free(d);
    free(img);
}

static void
power_cut_sweep_esp32(void **state)
{
    (void)state;
    sweep(OTK_PROFILE_ESP32, 0, false);
    sweep(OTK_PROFILE_ESP32, 1, false);
    sweep(OTK_PROFILE_ESP32, 0, true);
}

static void
power_cut_sweep_esp8266(void **state)
{
    (void)state;
    sweep(OTK_PROFILE_ESP8266, 0, false);
    sweep(OTK_PROFILE_ESP8266, 1, false);
}

/* While the running image has not confirmed itself, the other slot is its rollback target: an
 * app update must be refused (nothing written), a filesystem update may go ahead, and once the
 * running image is confirmed the app update is accepted. */
static void
unconfirmed_running_image_protects_rollback_target(void **state)
{
    (void)state;
    struct dev d;
    uint8_t *a = gen(OTK_PROFILE_ESP32, "1.0.0", 40000, 1);
    uint8_t *b = gen(OTK_PROFILE_ESP32, "2.0.0", 40000, 2);
    uint8_t fs[5000];
    char md5[33];
    int slot;
    bool rolled_back;
    unsigned long before;

    dev_init(&d, OTK_PROFILE_ESP32);
    /* 1.0.0 into slot 1, booted once: now PENDING_VERIFY and running from slot 1 */
    assert_int_equal(update(&d, 0, 0, a, 40000, 4096), OTK_UPD_OK);
    assert_int_equal(otk_slots_boot(&d.rf.ops, &d.l, &slot, &rolled_back), OTK_OK);
    assert_int_equal(slot, 1);
    before = d.rf.mutations;
    otk_proto_md5_hex(otk_posix_crypto(), b, 40000, md5);
    assert_int_equal(otk_upd_begin(&d.u, 40000, 0, 1, md5), OTK_UPD_UNCONFIRMED);
    assert_int_equal(d.rf.mutations, before);
    errtext_is(&d, "Running Firmware Not Confirmed");
    memset(fs, 0x5A, sizeof fs);
    assert_int_equal(update(&d, 100, 1, fs, sizeof fs, 1000), OTK_UPD_OK);
    assert_int_equal(otk_slots_confirm(&d.rf.ops, &d.l), OTK_OK);
    assert_int_equal(update(&d, 0, 1, b, 40000, 4096), OTK_UPD_OK);
    dev_free(&d);
    free(a);
    free(b);
}

static int
pre_erase_all(struct dev *d, int running)
{
    int steps = 0, r;

    while ((r = otk_upd_pre_erase(&d->u, running)) == 1) {
        steps++;
    }
    assert_int_equal(r, 0);
    return steps;
}

/* Pre-erasing the idle slot: never the image an update just activated, never the rollback
 * target of an unconfirmed image, one block a call once allowed, and the next update into
 * that slot then erases nothing. */
static void
pre_erase_idle_slot(void **state)
{
    (void)state;
    struct dev d;
    uint8_t *a = gen(OTK_PROFILE_ESP32, "1.0.0", 40000, 1);
    uint8_t *b = gen(OTK_PROFILE_ESP32, "2.0.0", 40000, 2);
    struct otk_slots_status st;
    uint32_t blocks;
    unsigned long before;
    bool rolled_back;
    int slot;

    dev_init(&d, OTK_PROFILE_ESP32);
    blocks = (d.l.app_size[1] + OTK_BLOCK_SIZE - 1) / OTK_BLOCK_SIZE;
    /* a into slot 1 while running slot 0: activated (NEW), not to be touched */
    assert_int_equal(update(&d, 0, 0, a, 40000, 4096), OTK_UPD_OK);
    before = d.rf.mutations;
    assert_int_equal(pre_erase_all(&d, 0), 0);
    /* booted once from slot 1, not confirmed: slot 0 is the rollback target */
    assert_int_equal(otk_slots_boot(&d.rf.ops, &d.l, &slot, &rolled_back), OTK_OK);
    assert_int_equal(slot, 1);
    before = d.rf.mutations;
    assert_int_equal(pre_erase_all(&d, 1), 0);
    assert_int_equal(d.rf.mutations, before);
    /* confirmed, then b into slot 0, booted and confirmed: slot 1 (a) may go */
    assert_int_equal(otk_slots_confirm(&d.rf.ops, &d.l), OTK_OK);
    assert_int_equal(update(&d, 0, 1, b, 40000, 4096), OTK_UPD_OK);
    assert_int_equal(otk_slots_boot(&d.rf.ops, &d.l, &slot, &rolled_back), OTK_OK);
    assert_int_equal(slot, 0);
    assert_int_equal(otk_slots_confirm(&d.rf.ops, &d.l), OTK_OK);
    assert_non_null(image_version(&d, 1));
    before = d.rf.erases_64k;
    assert_int_equal(pre_erase_all(&d, 0), (int)blocks); /* one step per block, erased or not */
    assert_int_equal(d.rf.erases_64k - before, 1);       /* a filled one block */
    assert_null(image_version(&d, 1));
    for (uint32_t i = 0; i < d.l.app_size[1]; i++) {
        assert_int_equal(d.rf.mem[d.l.app_offset[1] + i], 0xFF);
    }
    assert_int_equal(pre_erase_all(&d, 0), 0); /* done: no further reads or erases */
    /* the next update into slot 1 erases nothing but the otadata sector it rewrites */
    before = d.rf.erases_64k + d.rf.erases_4k + d.rf.erases_other;
    assert_int_equal(update(&d, 0, 0, a, 40000, 4096), OTK_UPD_OK);
    assert_int_equal(d.rf.erases_64k + d.rf.erases_4k + d.rf.erases_other - before, 1);
    assert_string_equal(image_version(&d, 1), "1.0.0");
    /* never during an update */
    assert_int_equal(otk_upd_begin(&d.u, 40000, 0, 0, NULL), OTK_UPD_OK);
    assert_int_equal(otk_upd_pre_erase(&d.u, 0), 0);
    otk_upd_abort(&d.u, OTK_UPD_ABORTED);
    dev_free(&d);

    /* An UNDEFINED winner (otadata written without rollback support) is not enough: confirming
     * rewrites it, and a power cut in that rewrite boots the older entry's slot. */
    dev_init(&d, OTK_PROFILE_ESP32);
    assert_int_equal(update(&d, 0, 0, a, 40000, 4096), OTK_UPD_OK);
    assert_int_equal(otk_slots_read(&d.rf.ops, &d.l, &st), OTK_OK);
    memset(d.rf.mem + d.l.otadata_offset + (uint32_t)st.active_entry * OTK_SECTOR_SIZE + 24, 0xFF,
           4);
    assert_int_equal(otk_slots_read(&d.rf.ops, &d.l, &st), OTK_OK);
    assert_int_equal(st.boot_slot, 1);
    assert_int_equal(st.boot_state, OTK_OTA_UNDEFINED);
    before = d.rf.mutations;
    assert_int_equal(pre_erase_all(&d, 1), 0);
    assert_int_equal(d.rf.mutations, before);
    assert_int_equal(otk_slots_confirm(&d.rf.ops, &d.l), OTK_OK);
    assert_int_equal(pre_erase_all(&d, 1), (int)blocks);
    dev_free(&d);
    free(a);
    free(b);
}

/* A platform's own slot switch (ESP-IDF: esp_ota_set_boot_partition): it gets the written
 * slot's offset and the core leaves otadata alone; when it refuses, the update fails as
 * "Could Not Activate The Firmware" (ESP32 9) and otadata is still untouched; with the hook
 * taken away again the core writes the record itself. */
struct activation {
    int calls;
    uint32_t offset;
    int answer;
};

static int
activate_rec(void *user, uint32_t app_offset)
{
    struct activation *a = user;

    a->calls++;
    a->offset = app_offset;
    return a->answer;
}

static void
platform_activation(void **state)
{
    struct dev d;
    struct activation a = {0, 0, OTK_OK};
    struct otk_slots_status st;
    uint8_t *img = gen(OTK_PROFILE_ESP32, "3.0.0", 60000, 5);

    (void)state;
    dev_init(&d, OTK_PROFILE_ESP32);
    otk_upd_set_activate(&d.u, activate_rec, &a);
    assert_int_equal(update(&d, 0, 0, img, 60000, 1460), OTK_UPD_OK);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.offset, d.l.app_offset[1]);
    assert_int_equal(otk_slots_read(&d.rf.ops, &d.l, &st), OTK_OK);
    assert_int_equal(st.active_entry, -1); /* the core wrote no otadata */
    assert_string_equal(image_version(&d, 1), "3.0.0");

    a.answer = OTK_ERR_IMAGE;
    assert_int_equal(update(&d, 0, 0, img, 60000, 1460), OTK_UPD_ACTIVATE);
    assert_int_equal(a.calls, 2);
    assert_int_equal(errnum(&d), 9);
    assert_int_equal(otk_slots_read(&d.rf.ops, &d.l, &st), OTK_OK);
    assert_int_equal(st.active_entry, -1);

    otk_upd_set_activate(&d.u, NULL, NULL);
    assert_int_equal(update(&d, 0, 0, img, 60000, 1460), OTK_UPD_OK);
    assert_int_equal(a.calls, 2);
    assert_int_equal(otk_slots_read(&d.rf.ops, &d.l, &st), OTK_OK);
    assert_int_equal(st.boot_slot, 1);
    assert_int_equal(st.boot_state, OTK_OTA_NEW);
    free(img);
    dev_free(&d);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_update_esp32),
        cmocka_unit_test(full_update_esp8266),
        cmocka_unit_test(error_table),
        cmocka_unit_test(begin_errors),
        cmocka_unit_test(write_more_than_announced),
        cmocka_unit_test(magic_checks),
        cmocka_unit_test(md5_mismatch),
        cmocka_unit_test(bad_images),
        cmocka_unit_test(early_end),
        cmocka_unit_test(filesystem_upload),
        cmocka_unit_test(flash_failures),
        cmocka_unit_test(partition_guard),
        cmocka_unit_test(erase_ahead),
        cmocka_unit_test(power_cut_sweep_esp32),
        cmocka_unit_test(power_cut_sweep_esp8266),
        cmocka_unit_test(unconfirmed_running_image_protects_rollback_target),
        cmocka_unit_test(pre_erase_idle_slot),
        cmocka_unit_test(platform_activation),
    };
    const struct CMUnitTest data_tests[] = {
        cmocka_unit_test(real_images_update),
    };
    static const char *const files[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin", NULL};

    return testdata_main(argc, argv, tests, data_tests, files);
}
