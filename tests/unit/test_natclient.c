/* SPDX-License-Identifier: MIT */
/* The native-protocol client machine (natclient.h) against the reference's byte sequences: what
 * each era of ESPHome device answers, every response code, the authentication vectors, chunk
 * acks and the window, timeouts and closes. The machine is fed by hand: no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/natclient.h"
#include "otakit/posix.h"
#include "otakit/proto.h"

#define NONCE32  "0123456789abcdef0123456789abcdef"
#define NONCE64  NONCE32 NONCE32
#define CNONCE32 "fedcba9876543210fedcba9876543210"
#define CNONCE64 CNONCE32 CNONCE32
#define MAGIC    "\x6c\x26\xf7\x5c\x45"

/* A crypto provider whose random bytes repeat a pattern: the reference's cnonce
 * "fedcba9876543210..." comes out of fe dc ba 98 76 54 32 10 repeated. */
static uint8_t pattern[32] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
static size_t pattern_len = 8;

static int
pattern_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern[i % pattern_len];
    return OTK_OK;
}

static struct otk_crypto_ops test_crypto;

static const struct otk_crypto_ops *
crypto(void)
{
    test_crypto = *otk_posix_crypto();
    test_crypto.random = pattern_random;
    return &test_crypto;
}

/* What the host sent, all of it, as the machine offered it. */
struct rig {
    struct otk_natc c;
    struct otk_natc_cfg cfg;
    uint8_t *image;
    uint8_t out[1 << 20];
    size_t out_len;
    uint32_t now;
};

static struct rig *
rig_new(uint32_t size)
{
    struct rig *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->image = malloc(size ? size : 1);
    for (uint32_t i = 0; i < size; i++)
        r->image[i] = (uint8_t)(i * 7 + 3);
    otk_natc_cfg_defaults(&r->cfg);
    r->cfg.image = r->image;
    r->cfg.size = size;
    r->cfg.crypto = crypto();
    r->now = 1000;
    return r;
}

static void
rig_free(struct rig *r)
{
    free(r->image);
    free(r);
}

/* Take everything the machine has to send (the transport takes it all). */
static size_t
drain(struct rig *r)
{
    const uint8_t *p;
    size_t n, total = 0;

    while ((n = otk_natc_output(&r->c, &p)) > 0) {
        assert_true(r->out_len + n <= sizeof r->out);
        memcpy(r->out + r->out_len, p, n);
        r->out_len += n;
        total += n;
        otk_natc_sent(&r->c, n, r->now);
    }
    return total;
}

static void
start(struct rig *r)
{
    assert_int_equal(otk_natc_start(&r->c, &r->cfg, r->now), OTK_OK);
    drain(r);
}

/* The device answers: in one piece, or a byte at a time with the host sending what it has in
 * between (as a device answers: a chunk ack follows the data it acknowledges). */
static void
answer(struct rig *r, const void *bytes, size_t len, bool split)
{
    const uint8_t *b = bytes;
    if (split) {
        for (size_t i = 0; i < len; i++) {
            otk_natc_input(&r->c, b + i, 1, r->now);
            drain(r);
        }
    } else {
        otk_natc_input(&r->c, b, len, r->now);
    }
    drain(r);
}

#define ANSWER(r, lit) answer((r), (lit), sizeof(lit) - 1, false)
#define STEPS(r, lit)  answer((r), (lit), sizeof(lit) - 1, true)

/* Bytes the host sent since the mark. */
static const uint8_t *
since(struct rig *r, size_t mark, size_t *len)
{
    *len = r->out_len - mark;
    return r->out + mark;
}

static void
expect_sent(struct rig *r, size_t mark, const void *want, size_t want_len)
{
    size_t n;
    const uint8_t *got = since(r, mark, &n);
    assert_int_equal(n, want_len);
    assert_memory_equal(got, want, want_len);
}

#define EXPECT_SENT(r, mark, lit) expect_sent((r), (mark), (lit), sizeof(lit) - 1)

static void
md5_hex(const uint8_t *data, size_t len, char out[33])
{
    otk_proto_md5_hex(otk_posix_crypto(), data, len, out);
}

/* Handshake up to the data phase with a device of the 2026.5 era (48 + flags), no password. */
static void
handshake_extended(struct rig *r, uint8_t flags)
{
    char md5[33];
    uint8_t reply[2] = {0x48, flags};
    size_t mark;

    start(r);
    EXPECT_SENT(r, 0, MAGIC);
    mark = r->out_len;
    ANSWER(r, "\x00\x02");
    expect_sent(r, mark, r->cfg.gz ? "\x07" : "\x06", 1);
    mark = r->out_len;
    answer(r, reply, 2, false);
    ANSWER(r, "\x41");
    uint32_t s = r->c.data_size;
    uint8_t want[5] = {0x00, (uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};
    expect_sent(r, mark, want, 5); /* type byte 00 (app), then the size */
    mark = r->out_len;
    ANSWER(r, "\x42");
    md5_hex(r->c.compressed ? r->cfg.gz : r->image, s, md5);
    expect_sent(r, mark, md5, 32);
    assert_int_equal(r->c.phase, OTK_NATC_MD5);
}

/* The whole stream goes out, acked chunk by chunk, then 44 45 and our 00. */
static void
data_to_end(struct rig *r)
{
    size_t mark = r->out_len;
    uint32_t chunks = (r->c.data_size + 8191) / 8192;

    ANSWER(r, "\x43");
    assert_true(r->c.phase == OTK_NATC_DATA || r->c.phase == OTK_NATC_RESULT);
    for (uint32_t i = 0; i < chunks && r->c.version == 2; i++)
        ANSWER(r, "\x47");
    assert_true(r->c.all_sent);
    ANSWER(r, "\x44");
    size_t end_mark = r->out_len;
    ANSWER(r, "\x45");
    EXPECT_SENT(r, end_mark, "\x00");
    assert_true(otk_natc_done(&r->c));
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    size_t n;
    const uint8_t *data = since(r, mark, &n);
    const uint8_t *src = r->c.compressed ? r->cfg.gz : r->image;
    assert_int_equal(n, r->c.data_size + 1);
    assert_memory_equal(data, src, r->c.data_size);
}

/* ---- eras ---- */

static void
era_2026_5_extended_no_password(void **state)
{
    (void)state;
    struct rig *r = rig_new(20480); /* 3 chunks: 8192 + 8192 + 4096 */
    handshake_extended(r, 0x00);
    assert_int_equal(r->c.version, 2);
    assert_int_equal(r->c.feature_reply, 0x48);
    assert_int_equal(r->c.auth, 0);
    assert_false(r->c.compressed);
    data_to_end(r);
    assert_int_equal(r->c.acks, 3);
    assert_int_equal(r->c.acked, 20480);
    rig_free(r);
}

/* 2024: version 2, one-byte 40, MD5 challenge; the host sends no type byte. */
static void
era_2024_md5_challenge(void **state)
{
    (void)state;
    struct rig *r = rig_new(16384);
    size_t mark;
    r->cfg.password = "admin";
    start(r);
    ANSWER(r, "\x00\x02");
    ANSWER(r, "\x40");
    mark = r->out_len;
    ANSWER(r, "\x01" NONCE32);
    /* reference §4: MD5("admin" | nonce | cnonce) */
    EXPECT_SENT(r, mark, CNONCE32 "3e87f922714876a15d7d758b081c3dc8");
    assert_int_equal(r->c.auth, 0x01);
    mark = r->out_len;
    ANSWER(r, "\x41");
    EXPECT_SENT(r, mark, "\x00\x00\x40\x00"); /* the size alone: no type byte without 48 */
    ANSWER(r, "\x42");
    data_to_end(r);
    assert_int_equal(r->c.acks, 2);
    rig_free(r);
}

/* 2025.10 - 2026.4: SHA-256 challenge to a client with 02, one-byte feature reply. */
static void
era_2025_sha256_challenge(void **state)
{
    (void)state;
    struct rig *r = rig_new(100);
    size_t mark;
    r->cfg.password = "admin";
    start(r);
    ANSWER(r, "\x00\x02");
    ANSWER(r, "\x40");
    mark = r->out_len;
    answer(r, "\x02" NONCE64, 65, true); /* split: the nonce arrives a byte at a time */
    EXPECT_SENT(r, mark,
                CNONCE64 "f49678dde2c53010a902bcd8e0ed6547f03991a0f454ad16270c0d11f9aadad6");
    assert_int_equal(r->c.auth, 0x02);
    ANSWER(r, "\x41");
    ANSWER(r, "\x42");
    data_to_end(r);
    assert_int_equal(r->c.acks, 1); /* one final partial chunk */
    rig_free(r);
}

/* Version 1: no chunk acks, the whole image streams without waiting. */
static void
version_1_no_acks(void **state)
{
    (void)state;
    struct rig *r = rig_new(100000);
    start(r);
    ANSWER(r, "\x00\x01");
    ANSWER(r, "\x40\x41\x42");
    ANSWER(r, "\x43");
    assert_true(r->c.all_sent); /* never held back by a window */
    assert_int_equal(r->c.phase, OTK_NATC_RESULT);
    ANSWER(r, "\x44\x45");
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    rig_free(r);

    r = rig_new(100);
    start(r);
    ANSWER(r, "\x00\x01\x40\x41\x42\x43");
    ANSWER(r, "\x47"); /* an ack from a version-1 device */
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "unexpected-byte");
    rig_free(r);
}

static void
unknown_version(void **state)
{
    (void)state;
    struct rig *r = rig_new(100);
    start(r);
    ANSWER(r, "\x00\x03");
    assert_int_equal(r->c.cause, OTK_NATC_VERSION);
    assert_int_equal(r->c.dev_code, 3);
    assert_int_equal(r->c.end_phase, OTK_NATC_MAGIC);
    rig_free(r);
}

/* ---- compression ---- */

static void
compression_only_when_announced(void **state)
{
    (void)state;
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 1, 2, 3, 4, 5};
    /* 46 (2024 ESP8266): the gzip stream goes out, size and MD5 of it */
    struct rig *r = rig_new(50000);
    r->cfg.gz = gz;
    r->cfg.gz_size = sizeof gz;
    start(r);
    size_t mark = r->out_len;
    ANSWER(r, "\x00\x02");
    EXPECT_SENT(r, mark, "\x07");
    ANSWER(r, "\x46\x41");
    assert_true(r->c.compressed);
    assert_int_equal(r->c.data_size, sizeof gz);
    ANSWER(r, "\x42");
    data_to_end(r);
    rig_free(r);

    /* 48 01: same in the extended protocol */
    r = rig_new(50000);
    r->cfg.gz = gz;
    r->cfg.gz_size = sizeof gz;
    handshake_extended(r, 0x01);
    assert_true(r->c.compressed);
    data_to_end(r);
    rig_free(r);

    /* 48 00 and 40: the image as it is */
    r = rig_new(5000);
    r->cfg.gz = gz;
    r->cfg.gz_size = sizeof gz;
    handshake_extended(r, 0x02);
    assert_false(r->c.compressed);
    data_to_end(r);
    rig_free(r);

    /* without a gzip copy the client never offers compression, and a 46 changes nothing */
    r = rig_new(5000);
    start(r);
    mark = r->out_len;
    ANSWER(r, "\x00\x02");
    EXPECT_SENT(r, mark, "\x06");
    ANSWER(r, "\x46\x41\x42");
    assert_false(r->c.compressed);
    data_to_end(r);
    rig_free(r);
}

/* ---- streaming ---- */

static void
window_keeps_blocks_in_flight(void **state)
{
    (void)state;
    uint32_t size = 20 * 8192 + 100;
    struct rig *r = rig_new(size);
    handshake_extended(r, 0);
    size_t mark = r->out_len;
    ANSWER(r, "\x43");
    size_t n;
    since(r, mark, &n);
    assert_int_equal(n, 4 * 8192); /* window 4: four blocks, then wait for an ack */
    assert_int_equal(r->c.sent, 4 * 8192);
    mark = r->out_len;
    ANSWER(r, "\x47");
    since(r, mark, &n);
    assert_int_equal(n, 8192); /* each ack lets one more block out */
    ANSWER(r, "\x47\x47");
    assert_int_equal(r->c.sent, 7 * 8192);
    assert_int_equal(r->c.acked, 3 * 8192);
    for (int i = 3; i < 21; i++)
        ANSWER(r, "\x47");
    assert_int_equal(r->c.acks, 21);
    assert_int_equal(r->c.acked, size);
    ANSWER(r, "\x44\x45");
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    rig_free(r);

    /* window 1 is ESPHome's stop-and-wait */
    r = rig_new(3 * 8192);
    r->cfg.window = 1;
    handshake_extended(r, 0);
    mark = r->out_len;
    ANSWER(r, "\x43");
    since(r, mark, &n);
    assert_int_equal(n, 8192);
    rig_free(r);
}

/* The transport takes bytes piecemeal: counts stay exact. */
static void
partial_sends(void **state)
{
    (void)state;
    struct rig *r = rig_new(30000);
    handshake_extended(r, 0);
    otk_natc_input(&r->c, (const uint8_t *)"\x43", 1, r->now);
    const uint8_t *p;
    size_t n = otk_natc_output(&r->c, &p);
    assert_int_equal(n, 30000); /* the window (4 chunks) covers it all */
    assert_memory_equal(p, r->image, 30000);
    otk_natc_sent(&r->c, 1000, r->now);
    assert_int_equal(r->c.sent, 1000);
    n = otk_natc_output(&r->c, &p);
    assert_int_equal(n, 29000);
    assert_ptr_equal(p, r->image + 1000);
    otk_natc_sent(&r->c, 29000, r->now);
    assert_true(r->c.all_sent);
    assert_int_equal(r->c.phase, OTK_NATC_RESULT);
    rig_free(r);
}

static void
acks_that_break_the_rules(void **state)
{
    (void)state;
    /* an ack for a chunk not yet sent whole */
    struct rig *r = rig_new(30000);
    handshake_extended(r, 0);
    otk_natc_input(&r->c, (const uint8_t *)"\x43", 1, r->now);
    const uint8_t *p;
    otk_natc_output(&r->c, &p);
    otk_natc_sent(&r->c, 8000, r->now);
    ANSWER(r, "\x47");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "over-ack");
    rig_free(r);

    /* 44 before every ack came */
    r = rig_new(30000);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47\x47");
    ANSWER(r, "\x44");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "early-receive-ok");
    rig_free(r);

    /* 45 without 44 */
    r = rig_new(100);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47\x45");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    rig_free(r);

    /* more acks than chunks */
    r = rig_new(100);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47\x47");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "over-ack");
    rig_free(r);
}

/* ---- authentication ---- */

static void
auth_outcomes(void **state)
{
    (void)state;
    /* a challenge and no password */
    struct rig *r = rig_new(100);
    start(r);
    ANSWER(r, "\x00\x02\x40\x02" NONCE64);
    assert_int_equal(r->c.cause, OTK_NATC_NEED_PASSWORD);
    assert_int_equal(r->c.auth, 0x02);
    rig_free(r);

    /* wrong password: 82 after our answer */
    r = rig_new(100);
    r->cfg.password = "wrong";
    start(r);
    ANSWER(r, "\x00\x02\x40\x02" NONCE64);
    assert_int_equal(r->c.phase, OTK_NATC_AUTH_RESULT);
    ANSWER(r, "\x82");
    assert_int_equal(r->c.cause, OTK_NATC_AUTH_REFUSED);
    assert_int_equal(r->c.end_phase, OTK_NATC_AUTH_RESULT);
    rig_free(r);

    /* a password given to a device without one: 41 at once, fine */
    r = rig_new(100);
    r->cfg.password = "admin";
    handshake_extended(r, 0);
    assert_int_equal(r->c.auth, 0);
    rig_free(r);
}

/* The reference's vectors for the response, SHA-256 with an empty password too. */
static void
auth_vectors(void **state)
{
    (void)state;
    char out[65];
    const struct otk_crypto_ops *c = otk_posix_crypto();

    otk_natc_auth_response(c, true, "admin", NONCE64, CNONCE64, 64, out);
    assert_string_equal(out, "f49678dde2c53010a902bcd8e0ed6547f03991a0f454ad16270c0d11f9aadad6");
    otk_natc_auth_response(c, true, "", NONCE64, CNONCE64, 64, out);
    assert_string_equal(out, "6d4fff3af2a78b85c721c6b8ae395eb25026b56d13abebe2cdab1d56e84b2180");
    otk_natc_auth_response(c, false, "admin", NONCE32, CNONCE32, 32, out);
    assert_string_equal(out, "3e87f922714876a15d7d758b081c3dc8");
}

/* ---- every response code ---- */

/* Each error code, at each step where a device sends one, ends the exchange as the device's
 * error with that code; the 94 of a device that requires Noise is its own cause. */
static void
every_error_code_in_every_phase(void **state)
{
    (void)state;
    static const char *const prefixes[] = {
        "",                                     /* instead of 00 vv */
        "\x00\x02",                             /* instead of the feature reply */
        "\x00\x02\x48\x00",                     /* instead of 41 */
        "\x00\x02\x48\x00\x41",                 /* instead of 42 */
        "\x00\x02\x48\x00\x41\x42",             /* instead of 43 */
        "\x00\x02\x48\x00\x41\x42\x43",         /* during the data */
        "\x00\x02\x48\x00\x41\x42\x43\x47",     /* instead of 44 */
        "\x00\x02\x48\x00\x41\x42\x43\x47\x44", /* instead of 45 */
    };
    static const size_t plen[] = {0, 2, 4, 5, 6, 7, 8, 9};
    static const enum otk_natc_phase where[] = {
        OTK_NATC_MAGIC, OTK_NATC_FEATURES, OTK_NATC_AUTH,   OTK_NATC_PREPARE,
        OTK_NATC_MD5,   OTK_NATC_RESULT,   OTK_NATC_RESULT, OTK_NATC_RESULT,
    };
    for (unsigned code = 0x80; code <= 0xff; code++) {
        if (code > 0x94 && code != 0xff)
            continue;
        assert_non_null(otk_natc_code_name((uint8_t)code));
        for (size_t i = 0; i < sizeof plen / sizeof plen[0]; i++) {
            struct rig *r = rig_new(100);
            uint8_t b = (uint8_t)code;
            start(r);
            answer(r, prefixes[i], plen[i], true);
            answer(r, &b, 1, false);
            if (!otk_natc_done(&r->c))
                fail_msg("code %02x after prefix %zu: not done", code, i);
            if (code == 0x94 && i == 1) {
                assert_int_equal(r->c.cause, OTK_NATC_NEED_KEY);
            } else if (code == 0x82 && i == 2) {
                assert_int_equal(r->c.cause, OTK_NATC_AUTH_REFUSED);
            } else {
                assert_int_equal(r->c.cause, OTK_NATC_DEVICE_ERROR);
                assert_int_equal(r->c.dev_code, code);
            }
            assert_int_equal(r->c.end_phase, where[i]);
            rig_free(r);
        }
    }
    /* bytes that are neither the expected answer nor an error code */
    struct rig *r = rig_new(100);
    start(r);
    ANSWER(r, "\x00\x02\x41");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_int_equal(r->c.dev_code, 0x41);
    rig_free(r);
    r = rig_new(100);
    start(r);
    ANSWER(r, "HTTP/1.1 400");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_int_equal(r->c.end_phase, OTK_NATC_MAGIC);
    rig_free(r);
    assert_null(otk_natc_code_name(0x50));
    assert_string_equal(otk_natc_code_name(0x94), "ERROR_ENCRYPTION_REQUIRED");
}

/* ---- time and closes ---- */

static void
timeouts_per_phase(void **state)
{
    (void)state;
    struct rig *r = rig_new(100);
    start(r);
    r->now += r->cfg.step_timeout_ms - 1;
    otk_natc_tick(&r->c, r->now);
    assert_false(otk_natc_done(&r->c));
    r->now += 1;
    otk_natc_tick(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_TIMEOUT);
    assert_int_equal(r->c.end_phase, OTK_NATC_MAGIC);
    rig_free(r);

    /* the size's answer may take long (an ESP32 erasing): the prepare timeout */
    r = rig_new(100);
    r->cfg.step_timeout_ms = 1000;
    r->cfg.prepare_timeout_ms = 30000;
    start(r);
    ANSWER(r, "\x00\x02\x40\x41");
    r->now += 29999;
    otk_natc_tick(&r->c, r->now);
    assert_false(otk_natc_done(&r->c));
    ANSWER(r, "\x42");
    r->now += 1000;
    otk_natc_tick(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_TIMEOUT);
    assert_int_equal(r->c.end_phase, OTK_NATC_MD5);
    rig_free(r);

    /* data: acks keep it alive; silence past the stall time ends it */
    r = rig_new(10 * 8192);
    r->cfg.stall_timeout_ms = 5000;
    handshake_extended(r, 0);
    ANSWER(r, "\x43");
    for (int i = 0; i < 5; i++) {
        r->now += 4000;
        ANSWER(r, "\x47");
    }
    assert_false(otk_natc_done(&r->c));
    r->now += 5000;
    otk_natc_tick(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_TIMEOUT);
    assert_int_equal(r->c.end_phase, OTK_NATC_DATA);
    assert_false(r->c.all_sent);
    rig_free(r);
}

static void
closes(void **state)
{
    (void)state;
    /* mid-data: not all sent, a retry is safe */
    struct rig *r = rig_new(10 * 8192);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47");
    otk_natc_closed(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_CLOSED);
    assert_int_equal(r->c.end_phase, OTK_NATC_DATA);
    assert_false(r->c.all_sent);
    rig_free(r);

    /* after the last byte: the device may have committed */
    r = rig_new(100);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47");
    otk_natc_closed(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_CLOSED);
    assert_int_equal(r->c.end_phase, OTK_NATC_RESULT);
    assert_true(r->c.all_sent);
    rig_free(r);

    /* after 45, before our 00 went out: success (the device reboots anyway) */
    r = rig_new(100);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47\x44");
    otk_natc_input(&r->c, (const uint8_t *)"\x45", 1, r->now);
    assert_int_equal(r->c.phase, OTK_NATC_END);
    otk_natc_closed(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    rig_free(r);

    /* 45 and our 00 never taken: done after a moment, successfully */
    r = rig_new(100);
    handshake_extended(r, 0);
    STEPS(r, "\x43\x47\x44");
    otk_natc_input(&r->c, (const uint8_t *)"\x45", 1, r->now);
    r->now += 1000;
    otk_natc_tick(&r->c, r->now);
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    rig_free(r);
}

/* ---- Noise: what the machine does before any key material is used ---- */

static void
keyed_client_fails_closed(void **state)
{
    (void)state;
    static const uint8_t key[32] = {1};
    /* a device that answers one byte (older than the extended protocol) */
    struct rig *r = rig_new(100);
    r->cfg.key = key;
    start(r);
    size_t mark = r->out_len;
    ANSWER(r, "\x00\x02");
    EXPECT_SENT(r, mark, "\x0e"); /* 02 | 04 | 08 */
    mark = r->out_len;
    ANSWER(r, "\x40");
    assert_int_equal(r->c.cause, OTK_NATC_NOISE_ABSENT);
    EXPECT_SENT(r, mark, ""); /* nothing more: no size, no image */
    rig_free(r);

    /* an extended device that does not offer Noise */
    r = rig_new(100);
    r->cfg.key = key;
    start(r);
    ANSWER(r, "\x00\x02\x48\x01");
    assert_int_equal(r->c.cause, OTK_NATC_NOISE_ABSENT);
    rig_free(r);

    /* a device that requires Noise and a client without a key: 94 */
    r = rig_new(100);
    start(r);
    ANSWER(r, "\x00\x02\x94");
    assert_int_equal(r->c.cause, OTK_NATC_NEED_KEY);
    assert_int_equal(r->c.end_phase, OTK_NATC_FEATURES);
    rig_free(r);

    /* an offering device and a client without a key: plaintext, password still asked for */
    r = rig_new(100);
    r->cfg.password = "admin";
    start(r);
    ANSWER(r, "\x00\x02\x48\x04\x02" NONCE64);
    assert_int_equal(r->c.phase, OTK_NATC_AUTH_RESULT);
    assert_false(r->c.encrypted);
    rig_free(r);
}

/* ---- Noise: the reference's vectors (§6), and a responder from noise.h as the device ---- */

static size_t
unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        out[n++] = (uint8_t)v;
    }
    return n;
}

static void
expect_hex(struct rig *r, size_t mark, const char *hex)
{
    uint8_t want[256];
    size_t n = unhex(hex, want);
    expect_sent(r, mark, want, n);
}

static const uint8_t psk_ref[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                    16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

/* A device's side of the encrypted channel, built on the same noise.h (responder). */
struct dev_noise {
    struct otk_noise s;
    uint8_t prologue[22];
};

static void
set_pattern(uint8_t b)
{
    memset(pattern, b, sizeof pattern);
    pattern_len = sizeof pattern;
}

/* The device encrypts one response byte into a frame and hands it to the host. */
static void
dev_says(struct rig *r, struct dev_noise *d, uint8_t code)
{
    uint8_t frame[3 + 1 + 16] = {1, 0, 17};
    assert_int_equal(otk_noise_encrypt(&d->s, &code, 1, frame + 3), OTK_OK);
    answer(r, frame, sizeof frame, false);
}

/* The device decrypts the host's frames since mark: each must be one frame of its own; the
 * plaintexts are appended to out. @return the number of frames. */
static size_t
dev_reads(struct rig *r, struct dev_noise *d, size_t mark, uint8_t *out, size_t *out_len)
{
    size_t n, frames = 0;
    const uint8_t *p = since(r, mark, &n);
    while (n) {
        assert_true(n >= 3);
        assert_int_equal(p[0], 1);
        size_t len = (size_t)p[1] << 8 | p[2];
        assert_true(len > 16 && len <= 1024 + 16 && n >= 3 + len);
        assert_int_equal(otk_noise_decrypt(&d->s, p + 3, len, out + *out_len), OTK_OK);
        *out_len += len - 16;
        p += 3 + len;
        n -= 3 + len;
        frames++;
    }
    return frames;
}

static void
noise_reference_vectors(void **state)
{
    (void)state;
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0};
    struct rig *r = rig_new(65536);
    struct dev_noise *d = calloc(1, sizeof *d);
    size_t mark;

    r->cfg.key = psk_ref;
    r->cfg.gz = gz; /* client features 0F, as in the vector */
    r->cfg.gz_size = sizeof gz;
    set_pattern(0x11); /* host ephemeral private key: 32 x 11 */
    start(r);
    mark = r->out_len;
    ANSWER(r, "\x00\x02");
    EXPECT_SENT(r, mark, "\x0f");
    mark = r->out_len;
    ANSWER(r, "\x48\x04");
    assert_int_equal(r->c.phase, OTK_NATC_NOISE);
    expect_hex(r, mark,
               "01003100"
               "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
               "410838c772608f003af0e4d340aea563");

    /* the device: prologue as in the vector, ephemeral 32 x 22 */
    unhex("4e6f6973654f5441496e69746c26f75c4500020f4804", d->prologue);
    set_pattern(0x22);
    assert_int_equal(otk_noise_start(&d->s, r->cfg.crypto, false, psk_ref, d->prologue, 22),
                     OTK_OK);
    assert_int_equal(otk_noise_read_handshake(&d->s, r->out + mark + 4, 48), OTK_OK);
    uint8_t msg2[4 + 48] = {1, 0, 0x31, 0};
    assert_int_equal(otk_noise_write_handshake(&d->s, msg2 + 4), OTK_OK);
    uint8_t ref2[52];
    unhex("01003100"
          "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
          "744a2655c2b4acf82f43588d620f0920",
          ref2);
    assert_memory_equal(msg2, ref2, sizeof ref2);
    mark = r->out_len;
    answer(r, msg2, sizeof msg2, false);
    assert_true(r->c.encrypted);
    assert_int_equal(r->c.phase, OTK_NATC_AUTH);

    /* first D->H frame: 41, as in the vector; the host answers type 00 and size 00 01 00 00 */
    uint8_t f41[20];
    unhex("010011981c25b800e40468cb3ed9f37a930f1557", f41);
    uint8_t code = 0x41;
    uint8_t mine[17];
    assert_int_equal(otk_noise_encrypt(&d->s, &code, 1, mine), OTK_OK);
    assert_memory_equal(mine, f41 + 3, 17);
    answer(r, f41, sizeof f41, false);
    expect_hex(r, mark,
               "010011"
               "0864b4a12ca31ecf6ad41f0d9be9be4945"
               "010014"
               "43183a2bff06342692b014b5eaf43daeff0a20e3");
    assert_false(r->c.compressed); /* server flags 04: no compression */
    uint8_t plain[70000];
    size_t plain_len = 0;
    assert_int_equal(dev_reads(r, d, mark, plain, &plain_len), 2);

    /* the rest through the device's own cipher: MD5 in one frame, data in 1024-byte frames */
    mark = r->out_len;
    dev_says(r, d, 0x42);
    plain_len = 0;
    assert_int_equal(dev_reads(r, d, mark, plain, &plain_len), 1);
    assert_int_equal(plain_len, 32);
    assert_memory_equal(plain, r->c.md5, 32);
    mark = r->out_len;
    dev_says(r, d, 0x43);
    size_t frames = 0;
    plain_len = 0;
    for (int i = 0; i < 8; i++) {
        frames += dev_reads(r, d, mark, plain, &plain_len);
        mark = r->out_len;
        dev_says(r, d, 0x47);
    }
    frames += dev_reads(r, d, mark, plain, &plain_len);
    assert_int_equal(frames, 64); /* 65536 / 1024 */
    assert_int_equal(plain_len, 65536);
    assert_memory_equal(plain, r->image, 65536);
    assert_true(r->c.all_sent);
    dev_says(r, d, 0x44);
    mark = r->out_len;
    dev_says(r, d, 0x45);
    plain_len = 0;
    assert_int_equal(dev_reads(r, d, mark, plain, &plain_len), 1);
    assert_int_equal(plain[0], 0x00);
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    free(d);
    rig_free(r);
    pattern_len = 8;
    memcpy(pattern, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
}

/* After the handshake, a frame whose tag does not check out (damaged, or not the device's):
 * the exchange ends as a broken frame, not as the device's answer. */
static void
noise_tampered_transport(void **state)
{
    (void)state;
    struct rig *r = rig_new(100);
    struct dev_noise *d = calloc(1, sizeof *d);
    uint8_t prologue[22];

    r->cfg.key = psk_ref;
    set_pattern(0x11);
    start(r);
    ANSWER(r, "\x00\x02\x48\x04");
    /* client features 0E here (no gzip copy) */
    unhex("4e6f6973654f5441496e69746c26f75c4500020e4804", prologue);
    set_pattern(0x22);
    assert_int_equal(otk_noise_start(&d->s, r->cfg.crypto, false, psk_ref, prologue, 22), OTK_OK);
    assert_int_equal(otk_noise_read_handshake(&d->s, r->out + r->out_len - 48, 48), OTK_OK);
    uint8_t msg2[4 + 48] = {1, 0, 0x31, 0};
    assert_int_equal(otk_noise_write_handshake(&d->s, msg2 + 4), OTK_OK);
    answer(r, msg2, sizeof msg2, false);
    assert_true(r->c.encrypted);
    uint8_t frame[3 + 1 + 16] = {1, 0, 17};
    uint8_t code = 0x41;
    assert_int_equal(otk_noise_encrypt(&d->s, &code, 1, frame + 3), OTK_OK);
    frame[sizeof frame - 1] ^= 1;
    answer(r, frame, sizeof frame, false);
    assert_int_equal(r->c.cause, OTK_NATC_NOISE_BROKEN);
    assert_int_equal(r->c.end_phase, OTK_NATC_AUTH);
    free(d);
    rig_free(r);
    pattern_len = 8;
    memcpy(pattern, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
}

static void
noise_wrong_key(void **state)
{
    (void)state;
    static const uint8_t gz[] = {0x1f, 0x8b, 8, 0};
    uint8_t key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(i + 1);
    struct rig *r = rig_new(65536);
    r->cfg.key = key;
    r->cfg.gz = gz;
    r->cfg.gz_size = sizeof gz;
    set_pattern(0x11);
    start(r);
    ANSWER(r, "\x00\x02");
    size_t mark = r->out_len;
    ANSWER(r, "\x48\x04");
    /* reference: same ephemeral, the tag of a wrong key */
    expect_hex(r, mark,
               "01003100"
               "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
               "9364fa1d84d2f0977fce0f5170fb5485");
    mark = r->out_len;
    uint8_t reject[25];
    unhex("0100160148616e647368616b65204d4143206661696c757265", reject);
    answer(r, reject, sizeof reject, true);
    assert_int_equal(r->c.cause, OTK_NATC_WRONG_KEY);
    assert_string_equal(r->c.reason, "Handshake MAC failure");
    EXPECT_SENT(r, mark, "");
    rig_free(r);

    /* another reason: refused, but not for the key */
    r = rig_new(100);
    r->cfg.key = key;
    start(r);
    ANSWER(r, "\x00\x02\x48\x04");
    ANSWER(r, "\x01\x00\x10\x01Handshake error");
    assert_int_equal(r->c.cause, OTK_NATC_NOISE_REJECTED);
    assert_string_equal(r->c.reason, "Handshake error");
    rig_free(r);

    /* a message 2 that does not fit our key (a device with another key answering) */
    r = rig_new(100);
    r->cfg.key = key;
    start(r);
    ANSWER(r, "\x00\x02\x48\x04");
    uint8_t msg2[52];
    unhex("01003100"
          "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
          "744a2655c2b4acf82f43588d620f0920",
          msg2);
    answer(r, msg2, sizeof msg2, false);
    assert_int_equal(r->c.cause, OTK_NATC_WRONG_KEY);
    rig_free(r);
    pattern_len = 8;
    memcpy(pattern, "\xfe\xdc\xba\x98\x76\x54\x32\x10", 8);
}

static void
noise_broken_frames(void **state)
{
    (void)state;
    /* a zero-length frame, a bad indicator, a frame longer than any device sends */
    static const char *const bad[] = {"\x01\x00\x00", "\x02\x00\x01\x00", "\x01\x7f\xff"};
    static const size_t bad_len[] = {3, 4, 3};
    for (size_t i = 0; i < 3; i++) {
        struct rig *r = rig_new(100);
        r->cfg.key = psk_ref;
        start(r);
        ANSWER(r, "\x00\x02\x48\x04");
        answer(r, bad[i], bad_len[i], false);
        assert_int_equal(r->c.cause, OTK_NATC_NOISE_BROKEN);
        rig_free(r);
    }
    /* a plaintext error code instead of message 2: the device's refusal */
    struct rig *r = rig_new(100);
    r->cfg.key = psk_ref;
    start(r);
    ANSWER(r, "\x00\x02\x48\x04\x82");
    assert_int_equal(r->c.cause, OTK_NATC_DEVICE_ERROR);
    assert_int_equal(r->c.dev_code, 0x82);
    rig_free(r);
}

static void
bad_arguments(void **state)
{
    (void)state;
    struct otk_natc *c = malloc(sizeof *c);
    struct otk_natc_cfg cfg;
    static const uint8_t img[1];
    otk_natc_cfg_defaults(&cfg);
    cfg.crypto = otk_posix_crypto();
    assert_int_equal(otk_natc_start(c, &cfg, 0), OTK_ERR_ARG); /* no image */
    cfg.image = img;
    assert_int_equal(otk_natc_start(c, &cfg, 0), OTK_ERR_ARG); /* empty */
    cfg.size = 1;
    assert_int_equal(otk_natc_start(c, &cfg, 0), OTK_OK);
    free(c);
}

/* ---- otakit's extension ---- */

/* Up to the MD5 with an otakit device: features 86, "48 80", 41, "01 caps" -> "01 granted". */
static void
handshake_otakit(struct rig *r, uint8_t granted)
{
    char md5[33];
    uint8_t answer_unit[2] = {0x01, granted};
    size_t mark;
    uint32_t s = r->cfg.size;
    uint8_t want[5] = {0x00, (uint8_t)(s >> 24), (uint8_t)(s >> 16), (uint8_t)(s >> 8), (uint8_t)s};

    r->cfg.caps = OTK_NAT_CAP_RESUME;
    start(r);
    mark = r->out_len;
    ANSWER(r, "\x00\x02");
    EXPECT_SENT(r, mark, "\x86");
    mark = r->out_len;
    ANSWER(r, "\x48\x80\x41");
    EXPECT_SENT(r, mark, "\x01\x01"); /* version 1, RESUME asked */
    assert_int_equal(r->c.phase, OTK_NATC_OTAKIT);
    mark = r->out_len;
    answer(r, answer_unit, 2, true);
    expect_sent(r, mark, want, 5);
    assert_true(r->c.otakit);
    assert_int_equal(r->c.caps, granted);
    mark = r->out_len;
    ANSWER(r, "\x42");
    md5_hex(r->image, s, md5);
    expect_sent(r, mark, md5, 32);
}

static void
otakit_device_resumes(void **state)
{
    (void)state;
    struct rig *r = rig_new(70000);
    const uint32_t at = 7 * 4096;
    size_t mark, n;
    const uint8_t *data;
    uint32_t chunks = (70000 - at + 8191) / 8192; /* counted from the offset: 6 */

    handshake_otakit(r, 0x01);
    mark = r->out_len;
    ANSWER(r, "\x43\x00\x00\x70\x00"); /* 43 + offset 28672, byte by byte below too */
    assert_int_equal(r->c.resume_at, at);
    assert_int_equal(r->c.acked, at);
    /* window 4: 4 chunks beyond the offset, not beyond */
    assert_int_equal(r->out_len - mark, 4 * 8192);
    for (uint32_t i = 0; i < chunks; i++)
        ANSWER(r, "\x47");
    assert_true(r->c.all_sent);
    assert_int_equal(r->c.acked, 70000);
    ANSWER(r, "\x44\x45");
    assert_true(otk_natc_done(&r->c));
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    data = since(r, mark, &n);
    assert_int_equal(n, 70000 - at + 1); /* the rest of the image and our 00 */
    assert_memory_equal(data, r->image + at, 70000 - at);
    rig_free(r);
}

static void
otakit_device_resume_offset_zero(void **state)
{
    (void)state;
    struct rig *r = rig_new(20480);

    handshake_otakit(r, 0x01);
    STEPS(r, "\x43\x00\x00\x00\x00");
    assert_int_equal(r->c.resume_at, 0);
    for (int i = 0; i < 3; i++)
        ANSWER(r, "\x47");
    ANSWER(r, "\x44\x45");
    assert_int_equal(r->c.cause, OTK_NATC_OK);
    assert_int_equal(r->c.sent, 20480);
    rig_free(r);
}

static void
otakit_answers_that_break_the_rules(void **state)
{
    (void)state;
    struct rig *r = rig_new(20480);
    size_t mark;

    /* a capability not asked for */
    r->cfg.caps = OTK_NAT_CAP_RESUME;
    start(r);
    ANSWER(r, "\x00\x02\x48\x80\x41");
    ANSWER(r, "\x01\x03");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "otakit-caps");
    rig_free(r);
    /* an error byte instead of the answer */
    r = rig_new(20480);
    r->cfg.caps = OTK_NAT_CAP_RESUME;
    start(r);
    ANSWER(r, "\x00\x02\x48\x80\x41\xff");
    assert_int_equal(r->c.cause, OTK_NATC_DEVICE_ERROR);
    assert_int_equal(r->c.dev_code, 0xff);
    rig_free(r);
    /* a resume offset at or beyond the end */
    r = rig_new(20480);
    handshake_otakit(r, 0x01);
    ANSWER(r, "\x43\x00\x00\x50\x00");
    assert_int_equal(r->c.cause, OTK_NATC_PROTOCOL);
    assert_string_equal(r->c.violation, "resume-offset");
    rig_free(r);
    /* a device without the bit (48 00): ESPHome's bytes, no caps unit */
    r = rig_new(20480);
    r->cfg.caps = OTK_NAT_CAP_RESUME;
    start(r);
    mark = r->out_len;
    ANSWER(r, "\x00\x02\x48\x00\x41");
    EXPECT_SENT(r, mark, "\x86\x00\x00\x00\x50\x00");
    assert_false(r->c.otakit);
    ANSWER(r, "\x42");
    data_to_end(r);
    rig_free(r);
    /* a one-byte feature reply (an older device): the same */
    r = rig_new(20480);
    r->cfg.caps = OTK_NAT_CAP_RESUME;
    start(r);
    mark = r->out_len;
    ANSWER(r, "\x00\x02\x40\x41");
    EXPECT_SENT(r, mark, "\x86\x00\x00\x50\x00");
    rig_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(era_2026_5_extended_no_password),
        cmocka_unit_test(era_2024_md5_challenge),
        cmocka_unit_test(era_2025_sha256_challenge),
        cmocka_unit_test(version_1_no_acks),
        cmocka_unit_test(unknown_version),
        cmocka_unit_test(compression_only_when_announced),
        cmocka_unit_test(window_keeps_blocks_in_flight),
        cmocka_unit_test(partial_sends),
        cmocka_unit_test(acks_that_break_the_rules),
        cmocka_unit_test(auth_outcomes),
        cmocka_unit_test(auth_vectors),
        cmocka_unit_test(every_error_code_in_every_phase),
        cmocka_unit_test(timeouts_per_phase),
        cmocka_unit_test(closes),
        cmocka_unit_test(keyed_client_fails_closed),
        cmocka_unit_test(noise_reference_vectors),
        cmocka_unit_test(noise_wrong_key),
        cmocka_unit_test(noise_tampered_transport),
        cmocka_unit_test(noise_broken_frames),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(otakit_device_resumes),
        cmocka_unit_test(otakit_device_resume_offset_zero),
        cmocka_unit_test(otakit_answers_that_break_the_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
