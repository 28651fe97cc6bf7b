/* SPDX-License-Identifier: MIT */
/* Compressed updates on the native protocol (otakit's DEFLATE capability), device side, byte by
 * byte: the device grants DEFLATE only with an inflater; after the MD5 the host's 4-byte stream
 * length, the raw deflate stream, one chunk ack per 8192 stream bytes; the inflated image is
 * what lands in the slot and is verified (MD5 of the image, whole-image check). Bad streams
 * (corrupt, truncated, too long, trailing bytes) end with 0x84 and "Decompression Failed", the
 * old image still boots. Length 0 sends the image as it is. A dropped compressed update resumes
 * with a new stream from the device's offset. The streams are made with zlib's deflate, as the
 * uploader makes them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "helper_rig.h"
#include "helper_testdata.h"
#include "otakit/err.h"
#include "otakit/native.h"
#include "otakit/posix.h"
#include "otakit/proto.h"
#include "otakit/slots.h"

static const uint8_t magic[5] = {0x6c, 0x26, 0xf7, 0x5c, 0x45};

#define FEATURES (0x02 | 0x04 | 0x80) /* SHA-256 auth, extended, otakit */

struct nrig {
    struct rig *r;
    struct otk_nat nat;
    size_t out;
    void *zmem;
    uint8_t *img; /* what is uploaded (r->img, or a real firmware image) */
    uint32_t size;
    char md5[33];
};

static struct nrig *
nrig_new(enum otk_profile p, bool inflater)
{
    struct nrig *t = calloc(1, sizeof *t);
    struct rig_opts o;
    struct otk_nat_config cfg;
    const struct otk_inflate_ops *ops = otk_posix_inflate();

    assert_non_null(t);
    rig_opts_default(&o, p, OTK_AUTH_PBKDF2, NULL);
    t->r = rig_new_opts(&o);
    memset(&cfg, 0, sizeof cfg);
    assert_int_equal(otk_dev_native_attach(&t->r->dev, &t->nat, &cfg), OTK_OK);
    t->zmem = malloc(ops->state_size);
    assert_non_null(t->zmem);
    assert_int_equal(otk_dev_native_set_inflater(&t->r->dev, ops, t->zmem, ops->state_size - 1),
                     OTK_ERR_ARG);
    if (inflater)
        assert_int_equal(otk_dev_native_set_inflater(&t->r->dev, ops, t->zmem, ops->state_size),
                         OTK_OK);
    assert_int_equal(otk_dev_native_can_inflate(&t->r->dev), inflater);
    t->img = t->r->img;
    t->size = t->r->img_size;
    memcpy(t->md5, t->r->md5, sizeof t->md5);
    return t;
}

static void
nrig_free(struct nrig *t)
{
    rig_free(t->r);
    free(t->zmem);
    free(t);
}

static void
feed(struct nrig *t, const void *data, size_t len)
{
    assert_int_equal(otk_dev_on_native_data(&t->r->dev, data, len, t->r->now), len);
}

static void
expect_out(struct nrig *t, const void *bytes, size_t len)
{
    assert_true(t->r->net.nat_len >= t->out + len);
    assert_memory_equal(t->r->net.nat + t->out, bytes, len);
    t->out += len;
}

static void
expect_code(struct nrig *t, uint8_t code)
{
    expect_out(t, &code, 1);
}

static void
put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* The raw deflate stream of in (windowBits -15), as otakit upload makes it. */
static uint8_t *
deflate_raw(const uint8_t *in, size_t len, size_t *out_len)
{
    z_stream z = {0};
    uint8_t *out;
    uLong cap;

    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    cap = deflateBound(&z, len) + 64;
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

/* Accept, magic, features with the otakit bit, no password: "00 02", "48 80", "41"; then the
 * caps exchange "01 ask" -> "01 granted". */
static void
handshake(struct nrig *t, uint8_t ask, uint8_t granted)
{
    const uint8_t v[2] = {0x00, 0x02}, flags[2] = {0x48, 0x80}, hello[2] = {0x01, ask};
    const uint8_t answer[2] = {0x01, granted};
    uint8_t f = FEATURES;

    assert_true(otk_dev_on_native_accept(&t->r->dev, &t->r->host, t->r->now));
    feed(t, magic, sizeof magic);
    expect_out(t, v, 2);
    feed(t, &f, 1);
    expect_out(t, flags, 2);
    expect_code(t, 0x41);
    feed(t, hello, 2);
    expect_out(t, answer, 2);
}

/* Type, size, MD5 of the image: 42, then 43 (with RESUME granted "43" + the offset). */
static uint32_t
prepare(struct nrig *t, bool resume)
{
    uint8_t size[4], type = 0x00;
    uint32_t at = 0;

    feed(t, &type, 1);
    put32(size, t->size);
    feed(t, size, 4);
    expect_code(t, 0x42);
    feed(t, t->md5, 32);
    expect_code(t, 0x43);
    if (resume) {
        const uint8_t *p = t->r->net.nat + t->out;

        assert_true(t->r->net.nat_len >= t->out + 4);
        at = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        t->out += 4;
    }
    return at;
}

/* Stream length, then the stream in pieces; @return the 0x47 received. */
static int
send_stream(struct nrig *t, const uint8_t *s, uint32_t announced, uint32_t len, uint32_t piece)
{
    uint8_t l[4];
    int acks = 0;

    put32(l, announced);
    feed(t, l, 4);
    for (uint32_t at = 0; at < len && otk_dev_native_state(&t->r->dev) == OTK_NATS_DATA;
         at += piece) {
        /* 1 ms per 8 KB: fast enough for the progress floor (1024 B/s) in 1-byte pieces too */
        t->r->now += at % 8192 < piece ? 1 : 0;
        feed(t, s + at, len - at < piece ? len - at : piece);
        while (t->out < t->r->net.nat_len && t->r->net.nat[t->out] == 0x47) {
            acks++;
            t->out++;
        }
    }
    return acks;
}

static void
finish_ok(struct nrig *t)
{
    const uint8_t end = 0x00;

    expect_code(t, 0x44);
    expect_code(t, 0x45);
    feed(t, &end, 1);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_REBOOTING);
    assert_int_equal(t->r->events[OTK_EV_END], 1);
    assert_int_equal(rig_boot_slot(t->r), 1);
    assert_memory_equal(t->r->flash.mem + t->r->dev.cfg.layout.app_offset[1], t->img, t->size);
}

/* The whole exchange with DEFLATE (and RESUME) granted: one ack per 8192 stream bytes. */
static void
compressed_upload(struct nrig *t, uint8_t ask, uint32_t piece)
{
    size_t slen;
    uint8_t *s = deflate_raw(t->img, t->size, &slen);

    handshake(t, ask, ask);
    assert_int_equal(prepare(t, ask & OTK_NAT_CAP_RESUME), 0);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_STREAM);
    assert_int_equal(send_stream(t, s, (uint32_t)slen, (uint32_t)slen, piece),
                     (int)((slen + 8191) / 8192));
    finish_ok(t);
    free(s);
}

static void
deflate_granted_and_inflated(void **state)
{
    static const uint8_t asks[] = {OTK_NAT_CAP_DEFLATE, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME};
    static const uint32_t pieces[] = {1, 1460, 65536};

    (void)state;
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof asks; i++)
            for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
                struct nrig *t = nrig_new((enum otk_profile)p, true);

                compressed_upload(t, asks[i], pieces[k]);
                nrig_free(t);
            }
}

/* A device without an inflater does not grant DEFLATE: the image goes as it is. */
static void
no_inflater_plain(void **state)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, false);
    uint8_t l[4];
    int acks = 0;

    (void)state;
    handshake(t, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME, OTK_NAT_CAP_RESUME);
    assert_int_equal(prepare(t, true), 0);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_DATA);
    (void)l;
    for (uint32_t at = 0; at < t->size; at += 1460) {
        feed(t, t->img + at, t->size - at < 1460 ? t->size - at : 1460);
        while (t->out < t->r->net.nat_len && t->r->net.nat[t->out] == 0x47) {
            acks++;
            t->out++;
        }
    }
    assert_int_equal(acks, (int)((t->size + 8191) / 8192));
    finish_ok(t);
    nrig_free(t);
}

/* Stream length 0: the uploader found nothing to gain; the image follows as it is. */
static void
zero_length_means_plain(void **state)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP8266, true);
    uint8_t zero[4] = {0};
    int acks = 0;

    (void)state;
    handshake(t, OTK_NAT_CAP_DEFLATE, OTK_NAT_CAP_DEFLATE);
    prepare(t, false);
    feed(t, zero, 4);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_DATA);
    for (uint32_t at = 0; at < t->size; at += 4000) {
        feed(t, t->img + at, t->size - at < 4000 ? t->size - at : 4000);
        while (t->out < t->r->net.nat_len && t->r->net.nat[t->out] == 0x47) {
            acks++;
            t->out++;
        }
    }
    assert_int_equal(acks, (int)((t->size + 8191) / 8192));
    finish_ok(t);
    nrig_free(t);
}

/* One bad stream: 84, the error event names the stream's fault, otadata untouched, the writer
 * and the native server free for the next connection. */
static void
refused(const uint8_t *s, uint32_t announced, uint32_t len, const char *why)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, true);
    char want[160];
    const uint8_t *p;
    bool seen84 = false;

    handshake(t, OTK_NAT_CAP_DEFLATE, OTK_NAT_CAP_DEFLATE);
    prepare(t, false);
    send_stream(t, s, announced, len, 1460);
    for (p = t->r->net.nat + t->out; p < t->r->net.nat + t->r->net.nat_len; p++)
        seen84 |= *p == 0x84;
    assert_true(seen84);
    assert_int_equal(t->r->net.nat[t->r->net.nat_len - 1], 0x84);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_IDLE);
    snprintf(want, sizeof want, "Decompression Failed: %s", why);
    assert_string_equal(t->r->last_error_text, want);
    assert_int_equal(t->r->last_error.reason, OTK_UPD_INFLATE);
    assert_int_equal(t->r->events[OTK_EV_END], 0);
    assert_int_equal(rig_boot_slot(t->r), 0);
    assert_false(t->nat.inflater.active);
    t->out = t->r->net.nat_len;
    compressed_upload(t, OTK_NAT_CAP_DEFLATE, 1460); /* and the next one goes through */
    nrig_free(t);
}

static void
bad_streams(void **state)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, true);
    size_t slen;
    uint8_t *s = deflate_raw(t->img, t->size, &slen), *b = malloc(slen + 8);

    (void)state;
    assert_non_null(b);
    memcpy(b, s, slen);
    b[0] |= 0x06; /* reserved block type */
    refused(b, (uint32_t)slen, (uint32_t)slen, "corrupt deflate stream");
    refused(s, (uint32_t)slen - 50, (uint32_t)slen - 50,
            "the stream is truncated (no final block)");
    memcpy(b, s, slen);
    memset(b + slen, 0, 8);
    refused(b, (uint32_t)slen + 8, (uint32_t)slen + 8,
            "the stream ends before its announced length");
    nrig_free(t);
    free(b);
    free(s);
}

/* A stream that inflates to more than the announced image (a zip bomb) stops at it. */
static void
overlong_stream(void **state)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, true);
    uint32_t big = t->size + 4u * 1024 * 1024;
    uint8_t *bomb = calloc(1, big);
    size_t slen;
    uint8_t *s;

    (void)state;
    assert_non_null(bomb);
    memcpy(bomb, t->img, t->size);
    s = deflate_raw(bomb, big, &slen);
    nrig_free(t);
    refused(s, (uint32_t)slen, (uint32_t)slen, "it inflates beyond the announced image size");
    free(s);
    free(bomb);
}

/* The connection drops mid-stream; the next one resumes at the device's offset with a new
 * stream of the rest of the image, and the result is the image, bit for bit. */
static void
resume_compressed(void **state)
{
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, true);
    const uint8_t both = OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME;
    size_t slen, rlen;
    uint8_t *s = deflate_raw(t->img, t->size, &slen), *rest;
    uint32_t at;

    (void)state;
    handshake(t, both, both);
    prepare(t, true);
    send_stream(t, s, (uint32_t)slen, (uint32_t)slen * 3 / 4, 1460);
    otk_dev_on_native_closed(&t->r->dev, t->r->now);
    assert_int_equal(otk_dev_native_state(&t->r->dev), OTK_NATS_IDLE);
    assert_false(t->nat.inflater.active);
    t->out = t->r->net.nat_len;
    t->r->now += 100;
    handshake(t, both, both);
    at = prepare(t, true);
    assert_true(at > 0 && at < t->size && at % 4096 == 0);
    rest = deflate_raw(t->img + at, t->size - at, &rlen);
    assert_int_equal(send_stream(t, rest, (uint32_t)rlen, (uint32_t)rlen, 1460),
                     (int)((rlen + 8191) / 8192));
    finish_ok(t);
    free(rest);
    free(s);
    nrig_free(t);
}

/* The two real firmware images through the device path: what travels, and that they boot. */
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
        struct nrig *t = nrig_new(cases[i].p, true);
        uint8_t *img = testdata_load(cases[i].file, &n);
        uint8_t *s = deflate_raw(img, n, &slen);

        t->img = img;
        t->size = (uint32_t)n;
        otk_proto_md5_hex(otk_posix_crypto(), img, n, t->md5);
        handshake(t, OTK_NAT_CAP_DEFLATE, OTK_NAT_CAP_DEFLATE);
        prepare(t, false);
        assert_int_equal(send_stream(t, s, (uint32_t)slen, (uint32_t)slen, 1460),
                         (int)((slen + 8191) / 8192));
        finish_ok(t);
        print_message("%s: %zu image bytes, %zu on the wire (%.1f %%)\n", cases[i].file, n, slen,
                      100.0 * (double)slen / (double)n);
        free(s);
        free(img);
        nrig_free(t);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deflate_granted_and_inflated),
        cmocka_unit_test(no_inflater_plain),
        cmocka_unit_test(zero_length_means_plain),
        cmocka_unit_test(bad_streams),
        cmocka_unit_test(overlong_stream),
        cmocka_unit_test(resume_compressed),
    };
    const struct CMUnitTest data_tests[] = {cmocka_unit_test(real_images)};
    static const char *const files[] = {"esp32-arduino-idf3.3.bin", "esp8266-arduino.bin", NULL};

    return testdata_main(argc, argv, tests, data_tests, files);
}
