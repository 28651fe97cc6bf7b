/* SPDX-License-Identifier: MIT */
/* The wire codec against the reference's test vectors and the devices' parsing rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/posix.h"
#include "otakit/proto.h"

#define NONCE32  "0123456789abcdef0123456789abcdef"
#define CNONCE32 "fedcba9876543210fedcba9876543210"
#define NONCE64  NONCE32 NONCE32
#define CNONCE64 CNONCE32 CNONCE32

static const uint8_t *
u8(const char *s)
{
    return (const uint8_t *)s;
}

static void
invite_reference_bytes(void **state)
{
    (void)state;
    static const char ref[] = "0 48266 1048576 d41d8cd98f00b204e9800998ecf8427e\n";
    char buf[80];
    struct otk_invite inv;

    assert_int_equal(otk_proto_format_invite(buf, sizeof buf, 0, 48266, 1048576,
                                             "d41d8cd98f00b204e9800998ecf8427e"),
                     49);
    assert_string_equal(buf, ref);
    assert_int_equal(otk_proto_parse_invite(u8(ref), strlen(ref), &inv), OTK_OK);
    assert_int_equal(inv.cmd, 0);
    assert_int_equal(inv.port, 48266);
    assert_int_equal(inv.size, 1048576);
    assert_string_equal(inv.md5, "d41d8cd98f00b204e9800998ecf8427e");
    /* too small a buffer writes nothing */
    assert_int_equal(
        otk_proto_format_invite(buf, 49, 0, 48266, 1048576, "d41d8cd98f00b204e9800998ecf8427e"), 0);
}

static void
invite_lenient_like_devices(void **state)
{
    (void)state;
    struct otk_invite inv;
    /* leading spaces, uppercase hex, CRLF, no newline at all, NUL terminator, trailing junk */
    const char *ok[] = {
        "  100 1234 99 D41D8CD98F00B204E9800998ECF8427E\n",
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427e\r\n",
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427e",
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427e   \n",
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427e\nextra stuff",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(otk_proto_parse_invite(u8(ok[i]), strlen(ok[i]), &inv), OTK_OK);
        assert_string_equal(inv.md5, "d41d8cd98f00b204e9800998ecf8427e");
        assert_int_equal(inv.port, 1234);
    }
    /* NUL ends the MD5 field, as on the devices */
    static const char nul[] = "0 1234 99 d41d8cd98f00b204e9800998ecf8427e\0zz";
    assert_int_equal(otk_proto_parse_invite(u8(nul), sizeof nul - 1, &inv), OTK_OK);
    /* a non-digit field parses as 0, as the devices' parseInt does */
    static const char flash[] = "x 1234 99 d41d8cd98f00b204e9800998ecf8427e";
    assert_int_equal(otk_proto_parse_invite(u8(flash), strlen(flash), &inv), OTK_ERR_MALFORMED);
}

static void
invite_rejects_unsafe_input(void **state)
{
    (void)state;
    struct otk_invite inv;
    const char *bad[] = {
        "",
        "0",
        "0 1234 99",
        "0 1234 99 ",
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427",              /* 31 chars */
        "0 1234 99 d41d8cd98f00b204e9800998ecf8427ee",            /* 33 chars */
        "0 1234 99 g41d8cd98f00b204e9800998ecf8427e",             /* not hex */
        "0 0 99 d41d8cd98f00b204e9800998ecf8427e",                /* port 0 */
        "0 65536 99 d41d8cd98f00b204e9800998ecf8427e",            /* port too big */
        "0 1234 4294967296 d41d8cd98f00b204e9800998ecf8427e",     /* size overflows */
        "0 1234 00000000000099 d41d8cd98f00b204e9800998ecf8427e", /* > 10 digits */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(otk_proto_parse_invite(u8(bad[i]), strlen(bad[i]), &inv),
                         OTK_ERR_MALFORMED);
    /* The length bounds every read: a valid invitation cut one byte short must fail. */
    static const char full[] = "0 1234 99 d41d8cd98f00b204e9800998ecf8427e";
    assert_int_equal(otk_proto_parse_invite(u8(full), strlen(full) - 1, &inv), OTK_ERR_MALFORMED);
}

static void
peek_cmd(void **state)
{
    (void)state;
    assert_int_equal(otk_proto_peek_cmd(u8("200 a b"), 7), 200);
    assert_int_equal(otk_proto_peek_cmd(u8("  100 1"), 7), 100);
    assert_int_equal(otk_proto_peek_cmd(u8("abc"), 3), 0);
    assert_int_equal(otk_proto_peek_cmd(u8("20"), 1), 2); /* bounded by len */
}

static void
auth_answer_parse(void **state)
{
    (void)state;
    struct otk_auth_answer a;
    char buf[160];
    size_t n = otk_proto_format_auth(buf, sizeof buf, CNONCE32, NONCE32, 32);

    assert_int_equal(n, 70);
    assert_int_equal(otk_proto_parse_auth(u8(buf), n, &a), OTK_OK);
    assert_int_equal(a.cnonce_len, 32);
    assert_memory_equal(a.cnonce, CNONCE32, 32);
    assert_int_equal(a.response_len, 32);
    assert_memory_equal(a.response, NONCE32, 32);
    n = otk_proto_format_auth(buf, sizeof buf, CNONCE64, NONCE64, 64);
    assert_int_equal(n, 134);
    assert_int_equal(otk_proto_parse_auth(u8(buf), n, &a), OTK_OK);
    assert_int_equal(a.response_len, 64);
    assert_int_equal(otk_proto_parse_auth(u8("200 abc"), 7, &a), OTK_ERR_MALFORMED);
    assert_int_equal(otk_proto_parse_auth(u8("0 abc def"), 9, &a), OTK_ERR_MALFORMED);
    assert_int_equal(otk_proto_parse_auth(u8("200"), 3, &a), OTK_ERR_MALFORMED);
}

static void
auth_vectors_md5(void **state)
{
    (void)state;
    const struct otk_crypto_ops *c = otk_posix_crypto();
    char secret[65], out[65];

    assert_int_equal(otk_proto_password_secret(c, OTK_AUTH_MD5, "admin", 5, secret), 32);
    assert_string_equal(secret, "21232f297a57a5a743894a0e4a801fc3");
    assert_int_equal(
        otk_proto_auth_response(c, OTK_AUTH_MD5, secret, 32, NONCE32, 32, CNONCE32, 32, out),
        OTK_OK);
    assert_string_equal(out, "199cd366606a4c7b55e82b1277ecd8ec");
}

static void
auth_vectors_pbkdf2(void **state)
{
    (void)state;
    const struct otk_crypto_ops *c = otk_posix_crypto();
    char secret[65], out[65];

    assert_int_equal(otk_proto_password_secret(c, OTK_AUTH_PBKDF2, "admin", 5, secret), 64);
    assert_string_equal(secret, "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918");
    assert_int_equal(
        otk_proto_auth_response(c, OTK_AUTH_PBKDF2, secret, 64, NONCE64, 64, CNONCE64, 64, out),
        OTK_OK);
    assert_string_equal(out, "f2c591596d5b9942c3f15cb8290866f4676fc5eec1bba3b040a91f92474fa114");
    /* a device that stores the MD5 hash uses it as the PBKDF2 input */
    assert_int_equal(otk_proto_auth_response(c, OTK_AUTH_PBKDF2, "21232f297a57a5a743894a0e4a801fc3",
                                             32, NONCE64, 64, CNONCE64, 64, out),
                     OTK_OK);
    assert_string_equal(out, "506e9a94cc2374adf7c4f8480beb70ff1a7921bc09681d36b6280b41c004f4d7");
}

static void
reply_classes(void **state)
{
    (void)state;
    struct otk_reply r;

    otk_proto_parse_reply(u8("OK"), 2, &r);
    assert_int_equal(r.kind, OTK_REPLY_OK);
    otk_proto_parse_reply(u8("AUTH " NONCE32), 37, &r);
    assert_int_equal(r.kind, OTK_REPLY_AUTH);
    assert_int_equal(r.text_len, 32);
    assert_memory_equal(r.text, NONCE32, 32);
    otk_proto_parse_reply(u8("Authentication Failed"), 21, &r);
    assert_int_equal(r.kind, OTK_REPLY_AUTH_FAILED);
    otk_proto_parse_reply(u8("ERR: ERROR[4]: Not Enough Space\n"), 32, &r);
    assert_int_equal(r.kind, OTK_REPLY_ERR);
    assert_int_equal(r.text_len, 26);
    assert_memory_equal(r.text, "ERROR[4]: Not Enough Space", 26);
    otk_proto_parse_reply(u8("OKAY"), 4, &r);
    assert_int_equal(r.kind, OTK_REPLY_OTHER);
    otk_proto_parse_reply(u8("AU"), 2, &r);
    assert_int_equal(r.kind, OTK_REPLY_OTHER);
}

static void
feed_split(struct otk_ack_parser *p, const char *s, size_t step)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i += step)
        otk_ack_parser_feed(p, u8(s + i), n - i < step ? n - i : step);
}

static void
ack_stream(void **state)
{
    (void)state;
    struct otk_ack_parser p;

    /* acks run together and the stream is split anywhere, even between 'O' and 'K' */
    for (size_t step = 1; step <= 5; step++) {
        otk_ack_parser_init(&p);
        feed_split(&p, "1024102410OK", step);
        assert_true(p.ok);
        assert_false(p.error);
    }
    otk_ack_parser_init(&p);
    feed_split(&p, "14601460MD5 Check Failed\r\n", 3);
    assert_false(p.ok);
    assert_true(p.error);
    assert_string_equal(p.text, "MD5 Check Failed");
    otk_ack_parser_init(&p);
    feed_split(&p, "ERROR[10]: Magic byte is not 0xE9\n", 4);
    assert_true(p.error);
    assert_false(p.ok);
    assert_string_equal(p.text, "ERROR[10]: Magic byte is not 0xE9");
    /* an error that starts with 'O' is not success */
    otk_ack_parser_init(&p);
    feed_split(&p, "1024Out of memory", 2);
    assert_true(p.error);
    assert_false(p.ok);
    assert_string_equal(p.text, "Out of memory");
    /* digits alone: neither success nor error yet */
    otk_ack_parser_init(&p);
    feed_split(&p, "10241024", 8);
    assert_false(p.ok);
    assert_false(p.error);
    assert_int_equal(p.ack_count, 1);
}

/* What acks can stand for: the least in any reading (over-acknowledgement), and the reading
 * by pieces of one ESP32 read at most, or whole when a run came alone (progress). */
static void
ack_readings(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        uint32_t room; /* what the device's TCP stack holds beyond the acks */
        uint32_t claimed, claimed_min, digits;
    } cases[] = {
        {"1460", 0, 1460, 65, 4},             /* 10 + 4 + 60 at least */
        {"146014601460", 0, 4380, 195, 12},   /* joined ESP32 acks: exact */
        {"9814361460", 0, 2994, 96, 10},      /* 98 + 1436 + 1460 */
        {"11460", 0, 1461, 66, 5},            /* the larger reading: 1 + 1460 */
        {"4380", 100000, 4380, 87, 4},        /* an ESP8266 drain on its own: whole */
        {"4380", 1000, 384, 87, 4},           /* ...unless its TCP stack cannot hold it */
        {"2000000", 0, 2000000, 2000000, 7},  /* zeros follow their digit in every reading */
        {"1460\r\n1460\n", 0, 2920, 130, 8},  /* separators some fakes send */
        {"0001460", 0, 1460, 65, 7},          /* zeros that start no ack count for nothing */
        {"99999999999999", 0, 4095, 126, 14}, /* pieces of at most 1460: 4 x 999 + 99 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t step = 1; step <= 4; step++) {
            struct otk_ack_parser p;
            otk_ack_parser_init(&p);
            p.room = cases[i].room;
            feed_split(&p, cases[i].in, step);
            otk_ack_parser_end_run(&p);
            /* a split by TCP changes neither the least reading nor, without room, the other */
            assert_int_equal(p.claimed_min, cases[i].claimed_min);
            assert_int_equal(p.digits, cases[i].digits);
            assert_false(p.garbage);
            assert_false(p.error);
            if (step == 4 || cases[i].room == 0)
                assert_int_equal(p.claimed, cases[i].claimed);
        }
    }
}

/* Garbage: no device sends more than a short error text, or separators and stray zeros by the
 * dozen; a NUL is kept visible in the text. */
static void
ack_garbage(void **state)
{
    (void)state;
    struct otk_ack_parser p;
    char big[OTK_ACK_TEXT_MAX + 2];

    otk_ack_parser_init(&p);
    otk_ack_parser_feed(&p, u8("\0OK"), 3);
    assert_true(p.error);
    assert_false(p.ok);
    assert_false(p.garbage);
    assert_string_equal(p.text, "\\x00OK");
    otk_ack_parser_init(&p);
    otk_ack_parser_feed(&p, u8("\xff\x07x"), 3);
    assert_string_equal(p.text, "\\xff\\x07x");

    memset(big, 'A', sizeof big);
    otk_ack_parser_init(&p);
    otk_ack_parser_feed(&p, u8(big), OTK_ACK_TEXT_MAX);
    assert_false(p.garbage); /* a long error text is still one */
    otk_ack_parser_feed(&p, u8(big), 1);
    assert_true(p.garbage);
    assert_int_equal(p.text_len, sizeof p.text - 1); /* bounded */

    for (int z = 0; z < 2; z++) {
        otk_ack_parser_init(&p);
        for (unsigned i = 0; i < OTK_ACK_SEP_MAX; i++)
            otk_ack_parser_feed(&p, u8(z ? "0" : "\n"), 1);
        assert_false(p.garbage);
        otk_ack_parser_feed(&p, u8(z ? "0" : "\r"), 1);
        assert_true(p.garbage);
        assert_false(p.error);
    }
    /* zeros inside an ack are no junk, however many */
    otk_ack_parser_init(&p);
    feed_split(&p, "10000000000000000000000000000000000000000000000000000000000000000000000000", 7);
    assert_false(p.garbage);
    assert_int_equal(p.claimed_min, UINT32_MAX); /* saturated, never wrapped */
}

static void
ct_equal(void **state)
{
    (void)state;
    assert_true(otk_ct_equal("abc", "abc", 3));
    assert_false(otk_ct_equal("abc", "abd", 3));
    assert_true(otk_ct_equal("", "x", 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invite_reference_bytes),
        cmocka_unit_test(invite_lenient_like_devices),
        cmocka_unit_test(invite_rejects_unsafe_input),
        cmocka_unit_test(peek_cmd),
        cmocka_unit_test(auth_answer_parse),
        cmocka_unit_test(auth_vectors_md5),
        cmocka_unit_test(auth_vectors_pbkdf2),
        cmocka_unit_test(reply_classes),
        cmocka_unit_test(ack_stream),
        cmocka_unit_test(ack_readings),
        cmocka_unit_test(ack_garbage),
        cmocka_unit_test(ct_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
