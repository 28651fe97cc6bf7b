/* SPDX-License-Identifier: MIT */
/* The mDNS codec (src/core/mdns_wire.c): packets laid out byte by byte the way devices send
 * them, compression-pointer loops, truncation at every byte, the responder's answers and the
 * browse bookkeeping. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/mdns.h"

/* An ESP32 (ESP-IDF mdns) answering a multicast PTR query for _arduino._tcp.local: the PTR in
 * the answer section, SRV, TXT and A as additional records, names compressed. */
static const uint8_t esp32_answer[] = {
    /* 0: header: id 0, QR|AA, 0 questions, 1 answer, 0 authority, 3 additional */
    0x00,
    0x00,
    0x84,
    0x00,
    0x00,
    0x00,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00,
    0x03,
    /* 12: _arduino._tcp.local (labels at 12, 21, 26) */
    0x08,
    '_',
    'a',
    'r',
    'd',
    'u',
    'i',
    'n',
    'o',
    0x04,
    '_',
    't',
    'c',
    'p',
    0x05,
    'l',
    'o',
    'c',
    'a',
    'l',
    0x00,
    /* 33: PTR IN, TTL 4500, rdlength 15 */
    0x00,
    0x0c,
    0x00,
    0x01,
    0x00,
    0x00,
    0x11,
    0x94,
    0x00,
    0x0f,
    /* 43: esp32-a1b2c3 + pointer to 12 */
    0x0c,
    'e',
    's',
    'p',
    '3',
    '2',
    '-',
    'a',
    '1',
    'b',
    '2',
    'c',
    '3',
    0xc0,
    0x0c,
    /* 58: SRV, name -> 43, cache-flush IN, TTL 120, rdlength 21 */
    0xc0,
    0x2b,
    0x00,
    0x21,
    0x80,
    0x01,
    0x00,
    0x00,
    0x00,
    0x78,
    0x00,
    0x15,
    /* 70: priority 0, weight 0, port 3232, target esp32-a1b2c3 (at 76) + pointer to local */
    0x00,
    0x00,
    0x00,
    0x00,
    0x0c,
    0xa0,
    0x0c,
    'e',
    's',
    'p',
    '3',
    '2',
    '-',
    'a',
    '1',
    'b',
    '2',
    'c',
    '3',
    0xc0,
    0x1a,
    /* 91: TXT, name -> 43, cache-flush IN, TTL 4500, rdlength 55 */
    0xc0,
    0x2b,
    0x00,
    0x10,
    0x80,
    0x01,
    0x00,
    0x00,
    0x11,
    0x94,
    0x00,
    0x37,
    /* 103 */
    0x0b,
    'b',
    'o',
    'a',
    'r',
    'd',
    '=',
    'e',
    's',
    'p',
    '3',
    '2',
    /* 115 */
    0x0c,
    't',
    'c',
    'p',
    '_',
    'c',
    'h',
    'e',
    'c',
    'k',
    '=',
    'n',
    'o',
    /* 128 */
    0x0d,
    's',
    's',
    'h',
    '_',
    'u',
    'p',
    'l',
    'o',
    'a',
    'd',
    '=',
    'n',
    'o',
    /* 142 */
    0x0f,
    'a',
    'u',
    't',
    'h',
    '_',
    'u',
    'p',
    'l',
    'o',
    'a',
    'd',
    '=',
    'y',
    'e',
    's',
    /* 158: A, name -> 76 (esp32-a1b2c3.local), cache-flush IN, TTL 120, 192.168.1.50 */
    0xc0,
    0x4c,
    0x00,
    0x01,
    0x80,
    0x01,
    0x00,
    0x00,
    0x00,
    0x78,
    0x00,
    0x04,
    0xc0,
    0xa8,
    0x01,
    0x32,
};

/* A byte-by-byte packet builder for the uncompressed packets below. */
struct pk {
    uint8_t b[1024];
    size_t n;
};

static void
u8(struct pk *p, unsigned v)
{
    assert_true(p->n < sizeof p->b);
    p->b[p->n++] = (uint8_t)v;
}

static void
u16(struct pk *p, unsigned v)
{
    u8(p, v >> 8);
    u8(p, v & 0xff);
}

static void
u32(struct pk *p, uint32_t v)
{
    u16(p, v >> 16);
    u16(p, v & 0xffff);
}

static void
raw(struct pk *p, const char *s)
{
    while (*s)
        u8(p, (uint8_t)*s++);
}

/* dotted name, no escapes, uncompressed */
static void
name(struct pk *p, const char *dotted)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t l = dot ? (size_t)(dot - dotted) : strlen(dotted);
        u8(p, (unsigned)l);
        for (size_t i = 0; i < l; i++)
            u8(p, (uint8_t)dotted[i]);
        dotted += l + (dot ? 1 : 0);
    }
    u8(p, 0);
}

static void
rr_head(struct pk *p, const char *n, unsigned type, unsigned cls, uint32_t ttl, unsigned rdlen)
{
    name(p, n);
    u16(p, type);
    u16(p, cls);
    u32(p, ttl);
    u16(p, rdlen);
}

/* An ESP8266 (LEAmDNS style) answering a legacy unicast query (id 0x1234): the question
 * repeated, the records in another order (A first, PTR last), no compression, short TTLs. */
static void
esp8266_answer(struct pk *p, uint32_t ptr_ttl)
{
    memset(p, 0, sizeof *p);
    u16(p, 0x1234);
    u16(p, 0x8400);
    u16(p, 1); /* question */
    u16(p, 4); /* answers */
    u16(p, 0);
    u16(p, 0);
    name(p, "_arduino._tcp.local");
    u16(p, 12);
    u16(p, 1);
    rr_head(p, "esp8266-0a0b0c.local", 1, 1, 10, 4);
    u8(p, 10), u8(p, 0), u8(p, 0), u8(p, 7);
    rr_head(p, "esp8266-0a0b0c._arduino._tcp.local", 33, 1, 10, 6 + 22);
    u16(p, 0), u16(p, 0), u16(p, 8266);
    name(p, "esp8266-0a0b0c.local"); /* 1+14+1+5+1 = 22 */
    rr_head(p, "esp8266-0a0b0c._arduino._tcp.local", 16, 1, 10, 14 + 13 + 14 + 15);
    u8(p, 13), raw(p, "board=generic");
    u8(p, 12), raw(p, "tcp_check=no");
    u8(p, 13), raw(p, "ssh_upload=no");
    u8(p, 14), raw(p, "auth_upload=no");
    rr_head(p, "_arduino._tcp.local", 12, 1, ptr_ttl, 36);
    name(p, "esp8266-0a0b0c._arduino._tcp.local"); /* 1+14+1+8+1+4+1+5+1 = 36 */
}

static const uint8_t *
wire(const char *text)
{
    static uint8_t buf[8][OTK_DNS_NAME_MAX];
    static int k;
    uint8_t *b = buf[k++ % 8];

    assert_true(otk_dns_name_from_text(text, b) > 0);
    return b;
}

/* ---- names ---- */

static void
names_text_round_trip(void **state)
{
    uint8_t w[OTK_DNS_NAME_MAX];
    char t[1100];
    (void)state;

    assert_int_equal(otk_dns_name_from_text("esp32-a1b2c3.local", w), 20);
    assert_memory_equal(w,
                        "\x0c"
                        "esp32-a1b2c3\x05local",
                        20);
    assert_int_equal(otk_dns_name_from_text("esp32-a1b2c3.local.", w), 20);
    assert_int_equal(otk_dns_name_from_text(".", w), 1);
    assert_int_equal(w[0], 0);
    /* a dot inside a label, a backslash, a control byte */
    assert_int_equal(otk_dns_name_from_text("My\\.Dev\\\\ice\\009.local", w), 1 + 11 + 7);
    assert_memory_equal(w,
                        "\x0b"
                        "My.Dev\\ice\x09\x05local",
                        19);
    assert_int_equal(otk_dns_name_to_text(w, t, sizeof t), 22);
    assert_string_equal(t, "My\\.Dev\\\\ice\\009.local");
    assert_int_equal(otk_dns_name_to_text(w, t, 5), OTK_ERR_NOSPACE);
    assert_string_equal(t, "");

    assert_int_equal(otk_dns_name_from_text("", w), OTK_ERR_ARG);
    assert_int_equal(otk_dns_name_from_text("a..local", w), OTK_ERR_ARG);
    assert_int_equal(otk_dns_name_from_text(".local", w), OTK_ERR_ARG);
    assert_int_equal(otk_dns_name_from_text("a\\", w), OTK_ERR_ARG);
    assert_int_equal(otk_dns_name_from_text("a\\256", w), OTK_ERR_ARG);
    char l64[70];
    memset(l64, 'x', 64);
    l64[64] = '\0';
    assert_int_equal(otk_dns_name_from_text(l64, w), OTK_ERR_ARG);
    l64[63] = '\0';
    assert_int_equal(otk_dns_name_from_text(l64, w), 65);
    /* 255 bytes is the limit: four 63-byte labels are 4 * 64 + 1 = 257 */
    char big[300];
    snprintf(big, sizeof big, "%s.%s.%s.%s", l64, l64, l64, l64);
    assert_int_equal(otk_dns_name_from_text(big, w), OTK_ERR_ARG);
    snprintf(big, sizeof big, "%s.%s.%s.%.61s", l64, l64, l64, l64); /* 3*64 + 62 + 1 = 255 */
    assert_int_equal(otk_dns_name_from_text(big, w), 255);
    snprintf(big, sizeof big, "%s.%s.%s.%.62s", l64, l64, l64, l64);
    assert_int_equal(otk_dns_name_from_text(big, w), OTK_ERR_ARG);

    assert_true(otk_dns_name_eq(wire("ESP32-A1B2C3.Local"), wire("esp32-a1b2c3.local")));
    assert_false(otk_dns_name_eq(wire("esp32-a1b2c3.local"), wire("esp32-a1b2c4.local")));
    assert_false(otk_dns_name_eq(wire("ab.c"), wire("a.bc")));
    assert_int_equal(otk_dns_name_prepend(w, "x.y", 3, wire("_arduino._tcp.local")), 1 + 3 + 21);
    assert_int_equal(w[0], 3);
    assert_int_equal(otk_dns_name_prepend(w, "x", 0, wire("local")), OTK_ERR_ARG);
}

/* ---- reading ---- */

static void
parse_esp32_answer(void **state)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    uint8_t n[OTK_DNS_NAME_MAX], a[4];
    uint16_t prio = 9, weight = 9, port = 0;
    const uint8_t *v;
    size_t vl;
    (void)state;

    assert_int_equal(sizeof esp32_answer, 174);
    assert_int_equal(otk_dns_open(&m, esp32_answer, sizeof esp32_answer), OTK_OK);
    assert_int_equal(m.hdr.flags, 0x8400);
    assert_int_equal(m.total, 4);

    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(rr.section, OTK_DNS_SEC_AN);
    assert_int_equal(rr.type, OTK_DNS_PTR);
    assert_int_equal(rr.ttl, 4500);
    assert_false(rr.top);
    assert_true(otk_dns_name_eq(rr.name, wire("_arduino._tcp.local")));
    assert_int_equal(otk_dns_rr_ptr(&m, &rr, n), 34);
    assert_true(otk_dns_name_eq(n, wire("esp32-a1b2c3._arduino._tcp.local")));
    assert_int_equal(otk_dns_rr_a(&m, &rr, a), OTK_ERR_ARG); /* not an A record */

    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(rr.section, OTK_DNS_SEC_AR);
    assert_int_equal(rr.type, OTK_DNS_SRV);
    assert_true(rr.top); /* cache flush */
    assert_int_equal(rr.rclass, OTK_DNS_IN);
    assert_true(otk_dns_name_eq(rr.name, wire("esp32-a1b2c3._arduino._tcp.local")));
    assert_int_equal(otk_dns_rr_srv(&m, &rr, &prio, &weight, &port, n), OTK_OK);
    assert_int_equal(prio, 0);
    assert_int_equal(weight, 0);
    assert_int_equal(port, 3232);
    assert_true(otk_dns_name_eq(n, wire("esp32-a1b2c3.local")));

    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(rr.type, OTK_DNS_TXT);
    assert_int_equal(rr.rdlength, 55);
    const uint8_t *rd = esp32_answer + rr.rdata;
    assert_int_equal(otk_dns_txt_get(rd, rr.rdlength, "board", &v, &vl), 1);
    assert_int_equal(vl, 5);
    assert_memory_equal(v, "esp32", 5);
    assert_int_equal(otk_dns_txt_get(rd, rr.rdlength, "AUTH_UPLOAD", &v, &vl), 1);
    assert_memory_equal(v, "yes", 3);
    assert_int_equal(otk_dns_txt_get(rd, rr.rdlength, "tcp_check", &v, &vl), 1);
    assert_memory_equal(v, "no", 2);
    assert_int_equal(otk_dns_txt_get(rd, rr.rdlength, "ssh", &v, &vl), OTK_ERR_NOTFOUND);

    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(rr.type, OTK_DNS_A);
    assert_true(otk_dns_name_eq(rr.name, wire("esp32-a1b2c3.local")));
    assert_int_equal(otk_dns_rr_a(&m, &rr, a), OTK_OK);
    assert_memory_equal(a, "\xc0\xa8\x01\x32", 4);

    assert_int_equal(otk_dns_next(&m, &rr), 0);
    assert_int_equal(otk_dns_next(&m, &rr), 0);
}

/* A copy in a heap block of exactly len bytes: ASan reports any read past it. */
static uint8_t *
exact(const uint8_t *p, size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    if (len)
        memcpy(b, p, len);
    return b;
}

static int
walk(const uint8_t *p, size_t len)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    int rc, n = 0;

    if (otk_dns_open(&m, p, len) != OTK_OK)
        return OTK_ERR_MALFORMED;
    while ((rc = otk_dns_next(&m, &rr)) == 1)
        n++;
    return rc < 0 ? rc : n;
}

static void
check_truncations(const uint8_t *pkt, size_t len, int entries)
{
    struct otk_mdns_found found[4];
    struct otk_mdns_browse b;

    for (size_t cut = 0; cut <= len; cut++) {
        uint8_t *p = exact(pkt, cut);
        otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 4);
        if (cut == len) {
            assert_int_equal(walk(p, cut), entries);
            assert_int_equal(otk_mdns_browse_feed(&b, p, cut, NULL), OTK_OK);
            assert_int_equal(b.n, 1);
        } else {
            /* every record is needed to reach the counts of the header */
            assert_int_equal(walk(p, cut), OTK_ERR_MALFORMED);
            assert_int_equal(otk_mdns_browse_feed(&b, p, cut, NULL), OTK_ERR_MALFORMED);
            assert_int_equal(b.n, 0);
        }
        free(p);
    }
}

static void
truncation_at_every_byte(void **state)
{
    struct pk p;
    (void)state;

    check_truncations(esp32_answer, sizeof esp32_answer, 4);
    esp8266_answer(&p, 10);
    check_truncations(p.b, p.n, 5);
}

static void
compression_loops_and_bad_labels(void **state)
{
    uint8_t n[OTK_DNS_NAME_MAX], msg[512];
    size_t end;
    (void)state;

    memset(msg, 0, sizeof msg);
    /* a pointer to itself */
    msg[12] = 0xc0, msg[13] = 12;
    assert_int_equal(otk_dns_read_name(msg, 14, 12, n, &end), OTK_ERR_MALFORMED);
    /* two pointers pointing at each other */
    msg[12] = 0xc0, msg[13] = 14, msg[14] = 0xc0, msg[15] = 12;
    assert_int_equal(otk_dns_read_name(msg, 16, 12, n, &end), OTK_ERR_MALFORMED);
    assert_int_equal(otk_dns_read_name(msg, 16, 14, n, &end), OTK_ERR_MALFORMED);
    /* a label, then a pointer back to that label: points before itself, and still loops */
    memcpy(msg + 12,
           "\x03"
           "abc\xc0\x0c",
           6);
    assert_int_equal(otk_dns_read_name(msg, 18, 12, n, &end), OTK_ERR_MALFORMED);
    /* ... the same reached through an earlier name */
    memcpy(msg + 12,
           "\x03"
           "abc\xc0\x12"
           "\x01x\xc0\x0c",
           10);
    assert_int_equal(otk_dns_read_name(msg, 22, 18, n, &end), OTK_ERR_MALFORMED);
    /* a pointer forward */
    memcpy(msg + 12, "\xc0\x20", 2);
    memcpy(msg + 32, "\x01x\x00", 3);
    assert_int_equal(otk_dns_read_name(msg, 35, 12, n, &end), OTK_ERR_MALFORMED);
    /* pointer cut after its first byte */
    assert_int_equal(otk_dns_read_name(msg, 13, 12, n, &end), OTK_ERR_MALFORMED);
    /* extended label types 0x40 and 0x80 */
    memcpy(msg + 12, "\x41x\x00", 3);
    assert_int_equal(otk_dns_read_name(msg, 15, 12, n, &end), OTK_ERR_MALFORMED);
    memcpy(msg + 12, "\x81x\x00", 3);
    assert_int_equal(otk_dns_read_name(msg, 15, 12, n, &end), OTK_ERR_MALFORMED);
    /* a good one: "x" at 32, "ab" -> 32 at 40 */
    memcpy(msg + 32, "\x01x\x00", 3);
    memcpy(msg + 40,
           "\x02"
           "ab\xc0\x20",
           5);
    assert_int_equal(otk_dns_read_name(msg, 45, 40, n, &end), 6);
    assert_int_equal(end, 45);
    assert_memory_equal(n,
                        "\x02"
                        "ab\x01x",
                        6);

    /* a chain of backward pointers, each name a 63-byte label in front of the previous one:
     * legal pointers, but the fourth name is 4 * 64 + 1 = 257 bytes long */
    size_t off[5], pos = 12;
    memset(msg, 0, sizeof msg);
    for (int k = 0; k < 5; k++) {
        off[k] = pos;
        msg[pos++] = 63;
        memset(msg + pos, 'a' + k, 63);
        pos += 63;
        if (k == 0) {
            msg[pos++] = 0;
        } else {
            msg[pos++] = 0xc0 | (uint8_t)(off[k - 1] >> 8);
            msg[pos++] = (uint8_t)off[k - 1];
        }
    }
    assert_int_equal(otk_dns_read_name(msg, pos, off[2], n, &end), 3 * 64 + 1);
    assert_int_equal(end, off[2] + 66);
    assert_int_equal(otk_dns_read_name(msg, pos, off[3], n, &end), OTK_ERR_MALFORMED);
    assert_int_equal(otk_dns_read_name(msg, pos, off[4], n, &end), OTK_ERR_MALFORMED);
}

/* rdata that claims more than the message holds, names in rdata running past the rdata, a
 * count larger than the records present, bad TXT string lengths */
static void
bad_records(void **state)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    struct pk p;
    uint8_t n[OTK_DNS_NAME_MAX];
    const uint8_t *v;
    size_t vl, pos = 0;
    (void)state;

    memset(&p, 0, sizeof p);
    u16(&p, 0), u16(&p, 0x8400), u16(&p, 0), u16(&p, 2), u16(&p, 0), u16(&p, 0);
    /* PTR whose rdlength (3) cuts its target name: the name runs on into the next record */
    rr_head(&p, "_arduino._tcp.local", 12, 1, 4500, 3);
    name(&p, "ab.local");
    assert_int_equal(otk_dns_open(&m, p.b, p.n), OTK_OK);
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(otk_dns_rr_ptr(&m, &rr, n), OTK_ERR_MALFORMED);
    /* the second record is not there */
    assert_int_equal(otk_dns_next(&m, &rr), OTK_ERR_MALFORMED);
    assert_int_equal(otk_dns_next(&m, &rr), 0);

    /* rdlength past the end */
    memset(&p, 0, sizeof p);
    u16(&p, 0), u16(&p, 0x8400), u16(&p, 0), u16(&p, 1), u16(&p, 0), u16(&p, 0);
    rr_head(&p, "a.local", 1, 1, 120, 5);
    u8(&p, 1), u8(&p, 2), u8(&p, 3), u8(&p, 4);
    assert_int_equal(walk(p.b, p.n), OTK_ERR_MALFORMED);
    /* an A record of the wrong size */
    p.n -= 2 + 4;
    u16(&p, 3), u8(&p, 1), u8(&p, 2), u8(&p, 3);
    assert_int_equal(otk_dns_open(&m, p.b, p.n), OTK_OK);
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(otk_dns_rr_a(&m, &rr, n), OTK_ERR_MALFORMED);
    /* SRV shorter than its fixed part */
    memset(&p, 0, sizeof p);
    u16(&p, 0), u16(&p, 0x8400), u16(&p, 0), u16(&p, 1), u16(&p, 0), u16(&p, 0);
    rr_head(&p, "a.local", 33, 1, 120, 6);
    u16(&p, 0), u16(&p, 0), u16(&p, 1);
    assert_int_equal(otk_dns_open(&m, p.b, p.n), OTK_OK);
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(otk_dns_rr_srv(&m, &rr, NULL, NULL, NULL, n), OTK_ERR_MALFORMED);

    /* TXT: a string length past the rdata; a key-less string; a boolean; first one wins */
    static const uint8_t bad_txt[] = {3, 'a', '=', '1', 9, 'b'};
    assert_int_equal(otk_dns_txt_get(bad_txt, sizeof bad_txt, "a", &v, &vl), 1);
    assert_int_equal(otk_dns_txt_get(bad_txt, sizeof bad_txt, "b", &v, &vl), OTK_ERR_MALFORMED);
    static const uint8_t txt[] = {4,   '=', 'x', 'y', 'z', 4,   'f', 'l', 'a', 'g', 3,
                                  'k', '=', '1', 3,   'k', '=', '2', 2,   'e', '='};
    assert_int_equal(otk_dns_txt_get(txt, sizeof txt, "", &v, &vl), OTK_ERR_NOTFOUND);
    assert_int_equal(otk_dns_txt_get(txt, sizeof txt, "FLAG", &v, &vl), 0);
    assert_int_equal(otk_dns_txt_get(txt, sizeof txt, "k", &v, &vl), 1);
    assert_int_equal(vl, 1);
    assert_int_equal(v[0], '1');
    assert_int_equal(otk_dns_txt_get(txt, sizeof txt, "e", &v, &vl), 1);
    assert_int_equal(vl, 0);
    const uint8_t *s;
    size_t sl;
    assert_int_equal(otk_dns_txt_next(txt, sizeof txt, &pos, &s, &sl), 1);
    assert_int_equal(sl, 4);
    assert_int_equal(pos, 5);
}

/* ---- writing ---- */

static void
writer_compresses(void **state)
{
    struct otk_dns_writer w;
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    uint8_t buf[512], n[OTK_DNS_NAME_MAX];
    (void)state;

    otk_dns_writer_init(&w, buf, sizeof buf, 0xbeef, 0);
    otk_dns_put_question(&w, wire("esp32-a1b2c3.local"), OTK_DNS_A, OTK_DNS_IN);
    otk_dns_put_a(&w, OTK_DNS_SEC_AN, wire("ESP32-A1B2C3.local"), OTK_DNS_IN, 120,
                  (const uint8_t *)"\x0a\x00\x00\x01");
    otk_dns_put_ptr(&w, OTK_DNS_SEC_AN, wire("_x._tcp.local"), OTK_DNS_IN, 4500,
                    wire("dev._x._tcp.local"));
    size_t len = otk_dns_finish(&w);
    /* question 20+4; A: pointer 2 + 10 + 4; PTR: _x._tcp + pointer to local (3+5+2), 10,
     * rdata "dev" + pointer to _x._tcp (4 + 2) */
    assert_int_equal(len, 12 + 24 + 16 + 10 + 10 + 6);
    assert_memory_equal(buf, "\xbe\xef\x00\x00\x00\x01\x00\x02\x00\x00\x00\x00", 12);
    assert_memory_equal(buf + 36, "\xc0\x0c", 2);
    assert_memory_equal(buf + 52, "\x02_x\x04_tcp\xc0\x19", 10);
    assert_int_equal(walk(buf, len), 3);
    assert_int_equal(otk_dns_open(&m, buf, len), OTK_OK);
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_true(otk_dns_name_eq(rr.name, wire("esp32-a1b2c3.local")));
    assert_int_equal(otk_dns_next(&m, &rr), 1);
    assert_int_equal(otk_dns_rr_ptr(&m, &rr, n), 19);
    assert_true(otk_dns_name_eq(n, wire("dev._x._tcp.local")));

    /* out of room at every size: never a partial message, never a write past cap */
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t *b = malloc(cap ? cap : 1);
        otk_dns_writer_init(&w, b, cap, 1, 0);
        otk_dns_put_question(&w, wire("esp32-a1b2c3.local"), OTK_DNS_A, OTK_DNS_IN);
        otk_dns_put_a(&w, OTK_DNS_SEC_AN, wire("esp32-a1b2c3.local"), OTK_DNS_IN, 120,
                      (const uint8_t *)"\x0a\x00\x00\x01");
        otk_dns_put_ptr(&w, OTK_DNS_SEC_AN, wire("_x._tcp.local"), OTK_DNS_IN, 4500,
                        wire("dev._x._tcp.local"));
        assert_int_equal(otk_dns_finish(&w), 0);
        free(b);
    }
    /* a question after a record is an error */
    otk_dns_writer_init(&w, buf, sizeof buf, 1, 0);
    otk_dns_put_a(&w, OTK_DNS_SEC_AR, wire("a.local"), OTK_DNS_IN, 1, (const uint8_t *)"abcd");
    otk_dns_put_a(&w, OTK_DNS_SEC_AN, wire("a.local"), OTK_DNS_IN, 1, (const uint8_t *)"abcd");
    assert_int_equal(otk_dns_finish(&w), 0);
    otk_dns_writer_init(&w, buf, sizeof buf, 1, 0);
    otk_dns_put_a(&w, OTK_DNS_SEC_AN, wire("a.local"), OTK_DNS_IN, 1, (const uint8_t *)"abcd");
    otk_dns_put_question(&w, wire("a.local"), OTK_DNS_A, OTK_DNS_IN);
    assert_int_equal(otk_dns_finish(&w), 0);

    size_t tl = 0;
    uint8_t t[16];
    assert_int_equal(otk_dns_txt_add(t, sizeof t, &tl, "board", "esp32"), OTK_OK);
    assert_int_equal(tl, 12);
    assert_int_equal(otk_dns_txt_add(t, sizeof t, &tl, "x", "y"), OTK_OK);
    assert_int_equal(otk_dns_txt_add(t, sizeof t, &tl, "x", "y"), OTK_ERR_NOSPACE);
    assert_int_equal(otk_dns_txt_add(t, sizeof t, &tl, "a=b", "y"), OTK_ERR_ARG);
    assert_int_equal(otk_dns_txt_add(t, sizeof t, &tl, "", "y"), OTK_ERR_ARG);
    assert_memory_equal(t,
                        "\x0b"
                        "board=esp32\x03x=y",
                        16);
}

/* ---- responder ---- */

static void
make_service(struct otk_mdns_service *s, const char *auth)
{
    uint8_t txt[128];
    size_t tl = 0;

    assert_int_equal(otk_dns_txt_add(txt, sizeof txt, &tl, "board", "esp32"), OTK_OK);
    assert_int_equal(otk_dns_txt_add(txt, sizeof txt, &tl, "tcp_check", "no"), OTK_OK);
    assert_int_equal(otk_dns_txt_add(txt, sizeof txt, &tl, "ssh_upload", "no"), OTK_OK);
    assert_int_equal(otk_dns_txt_add(txt, sizeof txt, &tl, "auth_upload", auth), OTK_OK);
    assert_int_equal(otk_mdns_service_init(s, "esp32-a1b2c3", "esp32-a1b2c3", "_arduino._tcp", 3232,
                                           (const uint8_t *)"\x7f\x00\x00\x01", txt, tl),
                     OTK_OK);
}

struct seen {
    int n[4]; /* records per section */
    unsigned types_an, types_ar;
    uint32_t max_ttl;
    bool any_flush;
    uint16_t id;
};

static struct seen
inspect(const uint8_t *p, size_t len)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    struct seen s;

    memset(&s, 0, sizeof s);
    assert_int_equal(otk_dns_open(&m, p, len), OTK_OK);
    s.id = m.hdr.id;
    while (otk_dns_next(&m, &rr) == 1) {
        s.n[rr.section]++;
        if (rr.section == OTK_DNS_SEC_QD)
            continue;
        if (rr.section == OTK_DNS_SEC_AN)
            s.types_an |= 1u << (rr.type % 32);
        else
            s.types_ar |= 1u << (rr.type % 32);
        if (rr.ttl > s.max_ttl)
            s.max_ttl = rr.ttl;
        s.any_flush |= rr.top;
    }
    assert_int_equal(walk(p, len), s.n[0] + s.n[1] + s.n[2] + s.n[3]);
    return s;
}

#define T(x) (1u << ((x) % 32))

static void
responder_answers(void **state)
{
    struct otk_mdns_service s;
    uint8_t q[512], out[1500];
    size_t ql, ol;
    bool uni;
    struct seen r;
    (void)state;

    make_service(&s, "yes");
    /* legacy one-shot PTR query from an ephemeral port */
    ql = otk_mdns_query(q, sizeof q, 0x4242, wire("_arduino._tcp.local"), OTK_DNS_PTR, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 40000, out, sizeof out, &ol, &uni), OTK_OK);
    assert_true(ol > 0);
    assert_true(uni);
    r = inspect(out, ol);
    assert_int_equal(r.id, 0x4242);
    assert_int_equal(r.n[0], 1); /* the question repeated */
    assert_int_equal(r.n[1], 1);
    assert_int_equal(r.types_an, T(OTK_DNS_PTR));
    assert_int_equal(r.types_ar, T(OTK_DNS_SRV) | T(OTK_DNS_TXT) | T(OTK_DNS_A));
    assert_true(r.max_ttl <= 10);
    assert_false(r.any_flush);

    /* the same from port 5353: multicast, id 0, no question, cache-flush on unique records */
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    assert_false(uni);
    r = inspect(out, ol);
    assert_int_equal(r.id, 0);
    assert_int_equal(r.n[0], 0);
    assert_int_equal(r.max_ttl, 4500);
    assert_true(r.any_flush);
    /* QU bit: unicast */
    ql = otk_mdns_query(q, sizeof q, 0, wire("_arduino._tcp.local"), OTK_DNS_PTR, true);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    assert_true(uni);

    /* host name: A; AAAA: NSEC saying there is only an A */
    ql = otk_mdns_query(q, sizeof q, 7, wire("ESP32-a1b2c3.local"), OTK_DNS_A, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    r = inspect(out, ol);
    assert_int_equal(r.types_an, T(OTK_DNS_A));
    assert_int_equal(r.n[3], 0);
    ql = otk_mdns_query(q, sizeof q, 7, wire("esp32-a1b2c3.local"), OTK_DNS_AAAA, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    r = inspect(out, ol);
    assert_int_equal(r.types_an, T(OTK_DNS_NSEC));
    /* SRV: the A comes along */
    ql = otk_mdns_query(q, sizeof q, 7, wire("esp32-a1b2c3._arduino._tcp.local"), OTK_DNS_SRV,
                        false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    r = inspect(out, ol);
    assert_int_equal(r.types_an, T(OTK_DNS_SRV));
    assert_int_equal(r.types_ar, T(OTK_DNS_A));
    /* ANY on the instance: SRV and TXT */
    ql = otk_mdns_query(q, sizeof q, 7, wire("esp32-a1b2c3._arduino._tcp.local"), OTK_DNS_ANY,
                        false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    r = inspect(out, ol);
    assert_int_equal(r.types_an, T(OTK_DNS_SRV) | T(OTK_DNS_TXT));
    /* service type enumeration */
    ql = otk_mdns_query(q, sizeof q, 7, wire("_services._dns-sd._udp.local"), OTK_DNS_PTR, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    r = inspect(out, ol);
    assert_int_equal(r.types_an, T(OTK_DNS_PTR));

    /* not ours: silence */
    ql = otk_mdns_query(q, sizeof q, 7, wire("other.local"), OTK_DNS_A, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    assert_int_equal(ol, 0);
    ql = otk_mdns_query(q, sizeof q, 7, wire("_http._tcp.local"), OTK_DNS_PTR, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    assert_int_equal(ol, 0);
    /* a response is not a question */
    assert_int_equal(
        otk_mdns_respond(&s, esp32_answer, sizeof esp32_answer, 5353, out, sizeof out, &ol, &uni),
        OTK_OK);
    assert_int_equal(ol, 0);
    /* garbage */
    assert_int_equal(otk_mdns_respond(&s, q, 5, 5353, out, sizeof out, &ol, &uni),
                     OTK_ERR_MALFORMED);
    assert_int_equal(ol, 0);
    /* too small an output buffer */
    ql = otk_mdns_query(q, sizeof q, 7, wire("_arduino._tcp.local"), OTK_DNS_PTR, false);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, 60, &ol, &uni), OTK_ERR_NOSPACE);
    assert_int_equal(ol, 0);
}

/* RFC 6762 §7.1: a querier that lists our PTR with at least half its TTL gets no answer. */
static void
responder_known_answers(void **state)
{
    struct otk_mdns_service s;
    struct otk_dns_writer w;
    uint8_t q[512], out[1500];
    size_t ql, ol;
    bool uni;
    (void)state;

    make_service(&s, "no");
    for (int k = 0; k < 3; k++) {
        static const uint32_t ttls[] = {4500, 2250, 2249};
        otk_dns_writer_init(&w, q, sizeof q, 0, 0);
        otk_dns_put_question(&w, wire("_arduino._tcp.local"), OTK_DNS_PTR, OTK_DNS_IN);
        otk_dns_put_ptr(&w, OTK_DNS_SEC_AN, wire("_arduino._tcp.local"), OTK_DNS_IN, ttls[k],
                        wire("esp32-A1B2C3._arduino._tcp.local"));
        ql = otk_dns_finish(&w);
        assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
        if (k < 2)
            assert_int_equal(ol, 0);
        else
            assert_true(ol > 0);
    }
    /* a known answer for another instance suppresses nothing */
    otk_dns_writer_init(&w, q, sizeof q, 0, 0);
    otk_dns_put_question(&w, wire("_arduino._tcp.local"), OTK_DNS_PTR, OTK_DNS_IN);
    otk_dns_put_ptr(&w, OTK_DNS_SEC_AN, wire("_arduino._tcp.local"), OTK_DNS_IN, 4500,
                    wire("esp32-ffffff._arduino._tcp.local"));
    ql = otk_dns_finish(&w);
    assert_int_equal(otk_mdns_respond(&s, q, ql, 5353, out, sizeof out, &ol, &uni), OTK_OK);
    assert_true(ol > 0);
}

static void
service_validation(void **state)
{
    struct otk_mdns_service s;
    (void)state;

    assert_int_equal(otk_mdns_service_init(&s, "x", "bad.host", "_arduino._tcp", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "x", "h_", "_arduino._tcp", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "", "h", "_arduino._tcp", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "x", "h", "arduino._tcp", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "x", "h", "_arduino._sctp", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "x", "h", "_arduino", 1, NULL, NULL, 0),
                     OTK_ERR_ARG);
    assert_int_equal(otk_mdns_service_init(&s, "x", "h", "_arduino._tcp", 1, NULL,
                                           (const uint8_t *)"\x05"
                                                            "ab",
                                           3),
                     OTK_ERR_ARG);
    /* an instance label may hold dots and spaces */
    assert_int_equal(
        otk_mdns_service_init(&s, "Living room v1.2", "h", "_arduino._tcp", 1, NULL, NULL, 0),
        OTK_OK);
    assert_int_equal(s.instance[0], 16);
    assert_int_equal(s.txt_len, 1); /* one empty string */
}

/* ---- browsing ---- */

static const char *
txt_val(const struct otk_mdns_found *f, const char *key, char *buf)
{
    const uint8_t *v;
    size_t vl;

    if (otk_dns_txt_get(f->txt, f->txt_len, key, &v, &vl) != 1)
        return NULL;
    memcpy(buf, v, vl);
    buf[vl] = '\0';
    return buf;
}

static void
browse_two_devices(void **state)
{
    struct otk_mdns_found found[4];
    struct otk_mdns_browse b;
    struct pk p;
    char v[64];
    (void)state;

    otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 4);
    assert_int_equal(otk_mdns_browse_feed(&b, esp32_answer, sizeof esp32_answer,
                                          (const uint8_t *)"\xc0\xa8\x01\x32"),
                     OTK_OK);
    esp8266_answer(&p, 10);
    assert_int_equal(otk_mdns_browse_feed(&b, p.b, p.n, NULL), OTK_OK);
    /* the same answer again changes nothing */
    assert_int_equal(otk_mdns_browse_feed(&b, p.b, p.n, NULL), OTK_OK);
    assert_int_equal(b.n, 2);

    const struct otk_mdns_found *e = &found[0], *g = &found[1];
    assert_string_equal((const char *)e->label, "esp32-a1b2c3");
    assert_true(e->has_srv && e->has_txt && e->has_a);
    assert_int_equal(e->port, 3232);
    assert_memory_equal(e->ipv4, "\xc0\xa8\x01\x32", 4);
    assert_memory_equal(e->src, "\xc0\xa8\x01\x32", 4);
    assert_true(otk_dns_name_eq(e->host, wire("esp32-a1b2c3.local")));
    assert_string_equal(txt_val(e, "board", v), "esp32");
    assert_string_equal(txt_val(e, "auth_upload", v), "yes");

    assert_string_equal((const char *)g->label, "esp8266-0a0b0c");
    assert_true(g->has_srv && g->has_txt && g->has_a); /* A came before the SRV naming it */
    assert_int_equal(g->port, 8266);
    assert_memory_equal(g->ipv4, "\x0a\x00\x00\x07", 4);
    assert_string_equal(txt_val(g, "board", v), "generic");
    assert_string_equal(txt_val(g, "auth_upload", v), "no");
    assert_int_equal(otk_mdns_browse_followup(&b, 1, (uint8_t[512]){0}, 512), 0);

    /* a later SRV whose target does not parse (a forward pointer after one label) changes
     * nothing: found by fuzz_mdns, where a half-read name replaced a good host */
    memset(&p, 0, sizeof p);
    u16(&p, 0), u16(&p, 0x8400), u16(&p, 0), u16(&p, 1), u16(&p, 0), u16(&p, 0);
    rr_head(&p, "esp32-a1b2c3._arduino._tcp.local", 33, 1, 120, 6 + 4 + 2);
    u16(&p, 0), u16(&p, 0), u16(&p, 9999);
    u8(&p, 3), raw(&p, "abc"), u8(&p, 0xc0), u8(&p, 0xff);
    assert_int_equal(walk(p.b, p.n), 1);
    assert_int_equal(otk_mdns_browse_feed(&b, p.b, p.n, NULL), OTK_OK);
    assert_int_equal(e->port, 3232);
    assert_true(otk_dns_name_eq(e->host, wire("esp32-a1b2c3.local")));

    /* a goodbye (PTR with TTL 0) removes it */
    esp8266_answer(&p, 0);
    assert_int_equal(otk_mdns_browse_feed(&b, p.b, p.n, NULL), OTK_OK);
    assert_int_equal(b.n, 1);
    assert_string_equal((const char *)found[0].label, "esp32-a1b2c3");

    /* a full table counts what it drops */
    otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 1);
    esp8266_answer(&p, 10);
    otk_mdns_browse_feed(&b, esp32_answer, sizeof esp32_answer, NULL);
    otk_mdns_browse_feed(&b, p.b, p.n, NULL);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.dropped, 1);

    /* queries are not answers */
    uint8_t q[128];
    size_t ql = otk_mdns_query(q, sizeof q, 1, wire("_arduino._tcp.local"), OTK_DNS_PTR, false);
    otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 4);
    assert_int_equal(otk_mdns_browse_feed(&b, q, ql, NULL), OTK_OK);
    assert_int_equal(b.n, 0);
}

/* A responder that only gives the PTR (the additional records lost): the browse asks for the
 * rest, and the responder's answers complete the instance. */
static void
browse_follows_up(void **state)
{
    struct otk_mdns_found found[2];
    struct otk_mdns_browse b;
    struct otk_mdns_service s;
    struct otk_dns_writer w;
    uint8_t msg[1500], out[1500];
    size_t len, ol;
    bool uni;
    char v[16];
    (void)state;

    make_service(&s, "no");
    otk_dns_writer_init(&w, msg, sizeof msg, 0, OTK_DNS_QR | OTK_DNS_AA);
    otk_dns_put_ptr(&w, OTK_DNS_SEC_AN, s.type, OTK_DNS_IN, 4500, s.instance);
    len = otk_dns_finish(&w);
    otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 2);
    assert_int_equal(otk_mdns_browse_feed(&b, msg, len, NULL), OTK_OK);
    assert_int_equal(b.n, 1);
    assert_false(found[0].has_srv || found[0].has_txt || found[0].has_a);

    for (int round = 0; round < 2; round++) {
        len = otk_mdns_browse_followup(&b, 0x77, msg, sizeof msg);
        assert_true(len > 0);
        struct seen q = inspect(msg, len);
        /* first SRV + TXT; then nothing more is missing (the A came as additional) */
        assert_int_equal(q.n[0], 2);
        assert_int_equal(otk_mdns_respond(&s, msg, len, 50000, out, sizeof out, &ol, &uni), OTK_OK);
        assert_true(uni);
        assert_int_equal(otk_mdns_browse_feed(&b, out, ol, NULL), OTK_OK);
        if (found[0].has_a)
            break;
    }
    assert_true(found[0].has_srv && found[0].has_txt && found[0].has_a);
    assert_memory_equal(found[0].ipv4, "\x7f\x00\x00\x01", 4);
    assert_string_equal(txt_val(&found[0], "auth_upload", v), "no");
    assert_int_equal(otk_mdns_browse_followup(&b, 1, msg, sizeof msg), 0);
}

/* The announcement parses as a full answer; a goodbye has TTL 0 and removes the instance. */
static void
announce_and_goodbye(void **state)
{
    struct otk_mdns_found found[2];
    struct otk_mdns_browse b;
    struct otk_mdns_service s;
    uint8_t msg[1500];
    size_t len;
    (void)state;

    make_service(&s, "yes");
    len = otk_mdns_announce(&s, false, msg, sizeof msg);
    assert_true(len > 0);
    struct seen r = inspect(msg, len);
    assert_int_equal(r.n[1], 5);
    otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 2);
    assert_int_equal(otk_mdns_browse_feed(&b, msg, len, NULL), OTK_OK);
    assert_int_equal(b.n, 1);
    assert_true(found[0].has_a);
    len = otk_mdns_announce(&s, true, msg, sizeof msg);
    r = inspect(msg, len);
    assert_int_equal(r.max_ttl, 0);
    assert_int_equal(otk_mdns_browse_feed(&b, msg, len, NULL), OTK_OK);
    assert_int_equal(b.n, 0);
    assert_int_equal(otk_mdns_announce(&s, false, msg, 100), 0);
}

/* Random and mutated bytes through every parser: no crash, no read outside the buffer (ASan),
 * and what parses stays inside it. A quick version of tests/fuzz/fuzz_mdns.c. */
static void
random_bytes(void **state)
{
    struct otk_mdns_service s;
    struct otk_mdns_found found[4];
    struct otk_mdns_browse b;
    uint8_t out[1500];
    uint64_t x = 88172645463325252ull;
    (void)state;

    make_service(&s, "no");
    for (int it = 0; it < 20000; it++) {
        size_t len;
        uint8_t *p;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        len = (size_t)(x % 200);
        p = malloc(len ? len : 1);
        if (it % 2 && len <= sizeof esp32_answer) {
            memcpy(p, esp32_answer, len); /* mutate a real packet */
            for (int k = 0; k < 4 && len; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[x % len] = (uint8_t)(x >> 32);
            }
        } else {
            for (size_t i = 0; i < len; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                p[i] = (uint8_t)x;
            }
            if (len >= 12)
                p[4] = p[6] = p[8] = p[10] = 0; /* small counts, so records get parsed */
        }
        size_t ol;
        bool uni;
        (void)walk(p, len);
        (void)otk_mdns_respond(&s, p, len, 5353, out, sizeof out, &ol, &uni);
        otk_mdns_browse_init(&b, wire("_arduino._tcp.local"), found, 4);
        (void)otk_mdns_browse_feed(&b, p, len, NULL);
        for (size_t i = 0; i < b.n; i++)
            assert_true(found[i].label_len > 0 && found[i].txt_len <= OTK_MDNS_TXT_MAX);
        free(p);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_text_round_trip),
        cmocka_unit_test(parse_esp32_answer),
        cmocka_unit_test(truncation_at_every_byte),
        cmocka_unit_test(compression_loops_and_bad_labels),
        cmocka_unit_test(bad_records),
        cmocka_unit_test(writer_compresses),
        cmocka_unit_test(responder_answers),
        cmocka_unit_test(responder_known_answers),
        cmocka_unit_test(service_validation),
        cmocka_unit_test(browse_two_devices),
        cmocka_unit_test(browse_follows_up),
        cmocka_unit_test(announce_and_goodbye),
        cmocka_unit_test(random_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
