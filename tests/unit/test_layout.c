/* SPDX-License-Identifier: MIT */
/* Default layouts, the ESP-IDF binary partition table codec, and layout resolution. The
 * expected MD5 digests were computed independently (Python struct + hashlib) from the ESP-IDF
 * entry format: "<2sBBII16sI" per entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/layout.h"
#include "otakit/posix.h"

static void
md5_of(const uint8_t *d, size_t n, uint8_t out[16])
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx h;

    c->md5_start(&h);
    c->md5_update(&h, d, n);
    c->md5_finish(&h, out);
}

static void
hex16(const uint8_t *d, char *out)
{
    static const char x[] = "0123456789abcdef";

    for (int i = 0; i < 16; i++) {
        out[2 * i] = x[d[i] >> 4];
        out[2 * i + 1] = x[d[i] & 15];
    }
    out[32] = '\0';
}

static void
default_esp32(void **state)
{
    (void)state;
    struct otk_partition p[8];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    assert_int_equal(n, 6);
    assert_string_equal(p[0].label, "nvs");
    assert_int_equal(p[0].type, OTK_PART_TYPE_DATA);
    assert_int_equal(p[0].subtype, OTK_PART_SUBTYPE_NVS);
    assert_int_equal(p[0].offset, 0x9000);
    assert_int_equal(p[0].size, 0x5000);
    assert_string_equal(p[1].label, "otadata");
    assert_int_equal(p[1].offset, 0xE000);
    assert_int_equal(p[1].size, 0x2000);
    assert_string_equal(p[2].label, "app0");
    assert_int_equal(p[2].type, OTK_PART_TYPE_APP);
    assert_int_equal(p[2].subtype, OTK_PART_SUBTYPE_OTA0);
    assert_int_equal(p[2].offset, 0x10000);
    assert_int_equal(p[2].size, 0x140000);
    assert_string_equal(p[3].label, "app1");
    assert_int_equal(p[3].subtype, OTK_PART_SUBTYPE_OTA1);
    assert_int_equal(p[3].offset, 0x150000);
    assert_int_equal(p[3].size, 0x140000);
    assert_string_equal(p[4].label, "spiffs");
    assert_int_equal(p[4].subtype, OTK_PART_SUBTYPE_SPIFFS);
    assert_int_equal(p[4].offset, 0x290000);
    assert_int_equal(p[4].size, 0x160000);
    assert_string_equal(p[5].label, "coredump");
    assert_int_equal(p[5].subtype, OTK_PART_SUBTYPE_COREDUMP);
    assert_int_equal(p[5].offset, 0x3F0000);
    assert_int_equal(p[5].size, 0x10000);
    assert_int_equal(otk_layout_default_flash_size(OTK_PROFILE_ESP32), 0x400000);
    /* a short array gets the first entries only */
    assert_int_equal(otk_layout_default_parts(OTK_PROFILE_ESP32, p, 2), 2);
}

static void
default_esp8266(void **state)
{
    (void)state;
    struct otk_partition p[8];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP8266, p, 8);

    assert_int_equal(n, 4);
    assert_string_equal(p[0].label, "otadata");
    assert_int_equal(p[0].offset, 0x9000);
    assert_int_equal(p[0].size, 0x2000);
    assert_int_equal(p[1].offset, 0x10000);
    assert_int_equal(p[1].size, 0xF0000);
    assert_int_equal(p[2].offset, 0x100000);
    assert_int_equal(p[2].size, 0xF0000);
    assert_int_equal(p[3].offset, 0x200000);
    assert_int_equal(p[3].size, 0x1FA000);
    assert_int_equal(otk_layout_default_flash_size(OTK_PROFILE_ESP8266), 0x400000);
}

static void
encode_bytes(void **state)
{
    (void)state;
    struct otk_partition p[8];
    uint8_t t[0xC00];
    uint8_t md5[16];
    char hex[33];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, n, t, sizeof t), OTK_OK);
    /* first entry: AA 50, data/nvs, 0x9000, 0x5000, "nvs", flags 0 */
    static const uint8_t nvs[32] = {0xAA, 0x50, 0x01, 0x02, 0x00, 0x90, 0x00, 0x00,
                                    0x00, 0x50, 0x00, 0x00, 'n',  'v',  's'};
    assert_memory_equal(t, nvs, 32);
    /* MD5 entry after the six partitions */
    assert_int_equal(t[192], 0xEB);
    assert_int_equal(t[193], 0xEB);
    for (int i = 194; i < 208; i++) {
        assert_int_equal(t[i], 0xFF);
    }
    hex16(t + 208, hex);
    assert_string_equal(hex, "972dae2ff872a0142d60bad124c0666b");
    md5_of(t, 192, md5);
    assert_memory_equal(md5, t + 208, 16);
    for (size_t i = 224; i < sizeof t; i++) {
        assert_int_equal(t[i], 0xFF);
    }

    n = otk_layout_default_parts(OTK_PROFILE_ESP8266, p, 8);
    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, n, t, sizeof t), OTK_OK);
    hex16(t + 128 + 16, hex);
    assert_string_equal(hex, "62c59296a0cb4199fc78011de8bd2145");

    /* without crypto: no MD5 entry */
    assert_int_equal(otk_parttable_encode(NULL, p, n, t, sizeof t), OTK_OK);
    assert_int_equal(t[128], 0xFF);
    /* arguments */
    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, n, t, 0xBFF), OTK_ERR_ARG);
    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, 96, t, sizeof t), OTK_ERR_ARG);
    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, -1, t, sizeof t), OTK_ERR_ARG);
}

static void
roundtrip(void **state)
{
    (void)state;
    struct otk_partition p[8], q[8];
    uint8_t t[0x1000];

    for (int prof = 0; prof < 2; prof++) {
        int n = otk_layout_default_parts((enum otk_profile)prof, p, 8);

        assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, n, t, sizeof t), OTK_OK);
        assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8), n);
        for (int i = 0; i < n; i++) {
            assert_int_equal(q[i].type, p[i].type);
            assert_int_equal(q[i].subtype, p[i].subtype);
            assert_int_equal(q[i].offset, p[i].offset);
            assert_int_equal(q[i].size, p[i].size);
            assert_string_equal(q[i].label, p[i].label);
        }
        /* no MD5 entry: tolerated */
        assert_int_equal(otk_parttable_encode(NULL, p, n, t, sizeof t), OTK_OK);
        assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8), n);
    }
}

static void
decode_rejects(void **state)
{
    (void)state;
    struct otk_partition p[8], q[8];
    uint8_t t[0xC00];
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    assert_int_equal(otk_parttable_encode(otk_posix_crypto(), p, n, t, sizeof t), OTK_OK);
    /* a flipped bit in an entry: MD5 mismatch */
    t[40] ^= 0x01;
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8),
                     OTK_ERR_MALFORMED);
    /* without crypto the MD5 cannot be checked and the table is taken as it is */
    assert_int_equal(otk_parttable_decode(NULL, t, sizeof t, q, 8), 6);
    t[40] ^= 0x01;
    /* a flipped MD5 byte */
    t[220] ^= 0x01;
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8),
                     OTK_ERR_MALFORMED);
    t[220] ^= 0x01;
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8), 6);
    /* bad entry magic */
    t[32 * 2 + 1] = 0x51;
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8),
                     OTK_ERR_MALFORMED);
    t[32 * 2 + 1] = 0x50;
    /* caller's array too small */
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 5), OTK_ERR_NOSPACE);
    /* buffer ends inside the table, before any end marker */
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, 100, q, 8), OTK_ERR_MALFORMED);
    /* ... but one that ends right after the MD5 entry is complete */
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, 224, q, 8), 6);
    /* an empty (erased) table has no partitions */
    memset(t, 0xFF, sizeof t);
    assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, q, 8), 0);
    /* 96 entries with no end marker: the decoder stops at the table's 0xC00 bytes */
    for (int i = 0; i < 96; i++) {
        t[32 * i] = 0xAA;
        t[32 * i + 1] = 0x50;
        memset(t + 32 * i + 2, 0, 30);
    }
    {
        static struct otk_partition many[100];

        assert_int_equal(otk_parttable_decode(otk_posix_crypto(), t, sizeof t, many, 100), 96);
    }
    /* offset + size wrapping around */
    otk_parttable_encode(NULL, p, 1, t, sizeof t);
    t[8] = 0xFF;
    t[9] = 0xFF;
    t[10] = 0xFF;
    t[11] = 0xFF;
    assert_int_equal(otk_parttable_decode(NULL, t, sizeof t, q, 8), OTK_ERR_MALFORMED);
}

static void
layout_resolution(void **state)
{
    (void)state;
    struct otk_partition p[8];
    struct otk_layout l;
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);

    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_OK);
    assert_int_equal(l.flash_size, 0x400000);
    assert_int_equal(l.otadata_offset, 0xE000);
    assert_int_equal(l.app_offset[0], 0x10000);
    assert_int_equal(l.app_size[0], 0x140000);
    assert_int_equal(l.app_offset[1], 0x150000);
    assert_int_equal(l.app_size[1], 0x140000);
    assert_int_equal(l.fs_offset, 0x290000);
    assert_int_equal(l.fs_size, 0x160000);

    n = otk_layout_default_parts(OTK_PROFILE_ESP8266, p, 8);
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_OK);
    assert_int_equal(l.otadata_offset, 0x9000);
    assert_int_equal(l.app_offset[1], 0x100000);
    assert_int_equal(l.fs_offset, 0x200000);
    assert_int_equal(l.fs_size, 0x1FA000);

    /* no filesystem: fine, fs is 0 */
    assert_int_equal(otk_layout_from_parts(p, 3, 0x400000, &l), OTK_OK);
    assert_int_equal(l.fs_offset, 0);
    assert_int_equal(l.fs_size, 0);
    /* no second slot / no otadata */
    assert_int_equal(otk_layout_from_parts(p, 2, 0x400000, &l), OTK_ERR_NOTFOUND);
    assert_int_equal(otk_layout_from_parts(p + 1, 3, 0x400000, &l), OTK_ERR_NOTFOUND);
    /* a partition past the end of a 2 MB flash */
    assert_int_equal(otk_layout_from_parts(p, n, 0x200000, &l), OTK_ERR_RANGE);
    /* an app slot that is not 64 KB aligned */
    p[2].offset = 0x101000;
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_ERR_RANGE);
}

static void
layout_rejects_overlap(void **state)
{
    (void)state;
    struct otk_partition p[8];
    struct otk_layout l;
    int n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);
    int app0 = 2, app1 = 3, fs = 4;

    assert_int_equal(p[app0].subtype, OTK_PART_SUBTYPE_OTA0);
    assert_int_equal(p[app1].subtype, OTK_PART_SUBTYPE_OTA1);
    assert_int_equal(p[fs].subtype, OTK_PART_SUBTYPE_SPIFFS);
    /* both slots at one offset: an update would erase the running image */
    p[app1].offset = p[app0].offset;
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_ERR_RANGE);
    /* the filesystem reaching into app1 by one sector */
    n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);
    p[fs].offset = p[app1].offset + p[app1].size - OTK_SECTOR_SIZE;
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_ERR_RANGE);
    /* otadata inside app0 */
    n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);
    p[1].offset = p[app0].offset;
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_ERR_RANGE);
    /* touching is not overlapping */
    n = otk_layout_default_parts(OTK_PROFILE_ESP32, p, 8);
    assert_int_equal(p[app0].offset + p[app0].size, p[app1].offset);
    assert_int_equal(otk_layout_from_parts(p, n, 0x400000, &l), OTK_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_esp32),          cmocka_unit_test(default_esp8266),
        cmocka_unit_test(encode_bytes),           cmocka_unit_test(roundtrip),
        cmocka_unit_test(decode_rejects),         cmocka_unit_test(layout_resolution),
        cmocka_unit_test(layout_rejects_overlap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
