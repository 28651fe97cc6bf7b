/* SPDX-License-Identifier: MIT */
/* The uploader's side of otakit's DEFLATE capability (natclient.c), byte by byte: it asks for
 * DEFLATE only with a deflate hook; granted, it sends the image's size and MD5, then after the
 * device's 43 (or "43 + offset" with RESUME) the 4-byte length of the stream of image[offset...]
 * its hook made, then that stream, counting the device's acks per 8192 stream bytes; a stream
 * no shorter than the image goes as length 0 and the image; not granted, ESPHome's exchange as
 * before; a hook that fails ends the attempt LOCAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/natclient.h"
#include "otakit/posix.h"
#include "otakit/proto.h"

#define MAGIC "\x6c\x26\xf7\x5c\x45"

struct rig {
    struct otk_natc c;
    struct otk_natc_cfg cfg;
    uint8_t image[40000];
    uint8_t stream[20000]; /* what the hook hands out (its content is not inflated here) */
    uint32_t stream_len;
    uint32_t hook_from; /* the offset the hook was asked for */
    int hook_calls;
    int hook_rc;
    uint8_t out[1 << 17];
    size_t out_len;
    uint32_t now;
};

static int
hook(void *user, uint32_t from, const uint8_t **stream, uint32_t *len)
{
    struct rig *r = user;

    r->hook_calls++;
    r->hook_from = from;
    *stream = r->stream;
    *len = r->stream_len;
    return r->hook_rc;
}

static struct rig *
rig_new(uint32_t stream_len, uint8_t caps)
{
    struct rig *r = calloc(1, sizeof *r);

    assert_non_null(r);
    for (size_t i = 0; i < sizeof r->image; i++)
        r->image[i] = (uint8_t)(i * 7 + 3);
    for (size_t i = 0; i < sizeof r->stream; i++)
        r->stream[i] = (uint8_t)(i * 13 + 1);
    r->stream_len = stream_len;
    otk_natc_cfg_defaults(&r->cfg);
    r->cfg.image = r->image;
    r->cfg.size = sizeof r->image;
    r->cfg.crypto = otk_posix_crypto();
    r->cfg.caps = caps;
    r->cfg.deflate = hook;
    r->cfg.deflate_user = r;
    r->now = 1000;
    return r;
}

static void
drain(struct rig *r)
{
    const uint8_t *p;
    size_t n;

    while ((n = otk_natc_output(&r->c, &p)) > 0) {
        assert_true(r->out_len + n <= sizeof r->out);
        memcpy(r->out + r->out_len, p, n);
        r->out_len += n;
        otk_natc_sent(&r->c, n, r->now);
    }
}

static void
answer(struct rig *r, const void *bytes, size_t len)
{
    otk_natc_input(&r->c, bytes, len, r->now);
    drain(r);
}

#define ANSWER(r, lit) answer((r), (lit), sizeof(lit) - 1)

static void
expect_sent(struct rig *r, size_t mark, const void *want, size_t n)
{
    assert_int_equal(r->out_len - mark, n);
    assert_memory_equal(r->out + mark, want, n);
}

/* Up to the MD5: features 86, "48 80", 41, "01 caps" -> "01 granted", type, size, 42, MD5. */
static void
handshake(struct rig *r, uint8_t granted)
{
    const uint8_t hello[2] = {0x01, r->cfg.caps}, answer_caps[2] = {0x01, granted};
    const uint8_t size[5] = {0x00, 0x00, 0x00, 0x9c, 0x40}; /* type 00, 40000 */
    char md5[33];
    size_t mark;

    assert_int_equal(otk_natc_start(&r->c, &r->cfg, r->now), OTK_OK);
    drain(r);
    expect_sent(r, 0, MAGIC, 5);
    mark = r->out_len;
    ANSWER(r, "\x00\x02");
    expect_sent(r, mark, "\x86", 1);
    mark = r->out_len;
    ANSWER(r, "\x48\x80");
    ANSWER(r, "\x41");
    expect_sent(r, mark, hello, 2);
    mark = r->out_len;
    answer(r, answer_caps, 2);
    expect_sent(r, mark, size, 5);
    mark = r->out_len;
    ANSWER(r, "\x42");
    otk_proto_md5_hex(otk_posix_crypto(), r->image, sizeof r->image, md5);
    expect_sent(r, mark, md5, 32); /* the image's MD5, compressed or not */
}

/* After the 43: the length, the stream (acked per 8192 of its bytes), 44 45 00. */
static void
stream_to_end(struct rig *r, const void *md5_ok, size_t ok_len, uint32_t want_from)
{
    size_t mark = r->out_len;
    uint8_t len[4] = {(uint8_t)(r->stream_len >> 24), (uint8_t)(r->stream_len >> 16),
                      (uint8_t)(r->stream_len >> 8), (uint8_t)r->stream_len};

    answer(r, md5_ok, ok_len);
    assert_int_equal(r->hook_calls, 1);
    assert_int_equal(r->hook_from, want_from);
    assert_true(r->c.deflated);
    assert_int_equal(r->c.image_from, want_from);
    for (uint32_t i = 0; i < (r->stream_len + 8191) / 8192; i++)
        ANSWER(r, "\x47");
    assert_true(r->c.all_sent);
    assert_int_equal(r->out_len - mark, 4 + r->stream_len);
    assert_memory_equal(r->out + mark, len, 4);
    assert_memory_equal(r->out + mark + 4, r->stream, r->stream_len);
    ANSWER(r, "\x44");
    ANSWER(r, "\x45");
    assert_true(otk_natc_done(&r->c));
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    assert_int_equal(r->c.sent, r->stream_len);
}

static void
granted_sends_the_stream(void **state)
{
    struct rig *r = rig_new(17000, OTK_NAT_CAP_DEFLATE);

    (void)state;
    handshake(r, OTK_NAT_CAP_DEFLATE);
    stream_to_end(r, "\x43", 1, 0);
    free(r);
}

/* With RESUME the stream is of the image from the device's offset; acks count the stream. */
static void
resumed_stream_from_offset(void **state)
{
    struct rig *r = rig_new(9000, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME);

    (void)state;
    handshake(r, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME);
    stream_to_end(r, "\x43\x00\x00\x40\x00", 5, 16384);
    free(r);
}

/* Nothing to gain (the stream is no shorter than the image it stands for): length 0, then the
 * image from the offset, acked as ESPHome's rule says from there. */
static void
incompressible_goes_plain(void **state)
{
    struct rig *r = rig_new(20000, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME);
    size_t mark;

    (void)state;
    handshake(r, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME);
    mark = r->out_len;
    ANSWER(r, "\x43\x00\x00\x4e\x20"); /* resume at 20000: the rest is 20000, the stream too */
    assert_int_equal(r->hook_calls, 1);
    assert_int_equal(r->hook_from, 20000);
    assert_false(r->c.deflated);
    for (int i = 0; i < 3; i++)
        ANSWER(r, "\x47");
    assert_true(r->c.all_sent);
    assert_int_equal(r->out_len - mark, 4 + 20000);
    assert_memory_equal(r->out + mark, "\x00\x00\x00\x00", 4);
    assert_memory_equal(r->out + mark + 4, r->image + 20000, 20000);
    ANSWER(r, "\x44");
    ANSWER(r, "\x45");
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    free(r);
}

/* Not granted (a device without an inflater): no hook call, the image as ESPHome sends it. */
static void
not_granted_plain(void **state)
{
    struct rig *r = rig_new(17000, OTK_NAT_CAP_DEFLATE | OTK_NAT_CAP_RESUME);
    size_t mark;

    (void)state;
    handshake(r, OTK_NAT_CAP_RESUME);
    mark = r->out_len;
    ANSWER(r, "\x43\x00\x00\x00\x00");
    for (int i = 0; i < 5; i++)
        ANSWER(r, "\x47");
    assert_int_equal(r->hook_calls, 0);
    assert_false(r->c.deflated);
    assert_int_equal(r->out_len - mark, sizeof r->image);
    assert_memory_equal(r->out + mark, r->image, sizeof r->image);
    free(r);
}

static void
hook_failure_is_local(void **state)
{
    struct rig *r = rig_new(17000, OTK_NAT_CAP_DEFLATE);

    (void)state;
    r->hook_rc = OTK_ERR_IO;
    handshake(r, OTK_NAT_CAP_DEFLATE);
    ANSWER(r, "\x43");
    assert_true(otk_natc_done(&r->c));
    assert_int_equal(r->c.cause, OTK_NATC_LOCAL);
    free(r);
    /* and asking for DEFLATE without a hook is a caller's error */
    r = rig_new(17000, OTK_NAT_CAP_DEFLATE);
    r->cfg.deflate = NULL;
    assert_int_equal(otk_natc_start(&r->c, &r->cfg, r->now), OTK_ERR_ARG);
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(granted_sends_the_stream),  cmocka_unit_test(resumed_stream_from_offset),
        cmocka_unit_test(incompressible_goes_plain), cmocka_unit_test(not_granted_plain),
        cmocka_unit_test(hook_failure_is_local),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
