/* SPDX-License-Identifier: MIT */
/* Writes the starting corpus of every fuzz target (valid inputs for the paths worth exploring)
 * into DIR/<target>/, so no binary seed needs to live in the repository.
 * usage: fuzz_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "bytes.h"
#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/mdns.h"
#include "otakit/noise.h"
#include "otakit/proto.h"
#include "otakit/sig.h"
#include "otakit/slots.h"

static const char *dir;

static void
put(const char *target, int n, const void *data, size_t len)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", dir, target);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/seed%02d", dir, target, n);
    f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static void
put_str(const char *target, int n, const char *s)
{
    put(target, n, s, strlen(s));
}

struct buf {
    uint8_t b[32768]; /* the resume seeds carry an image twice */
    size_t n;
};

static void
add(struct buf *b, const void *p, size_t n)
{
    if (b->n + n > sizeof b->b)
        exit(1);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}

static void
add_u8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    add(b, &c, 1);
}

static void
add_u16(struct buf *b, unsigned v)
{
    add_u8(b, v & 0xFF);
    add_u8(b, v >> 8);
}

/* One well-formed invitation (FD_INVITE) from source src, naming TCP port `port`. */
static void
add_invite(struct buf *b, unsigned src, unsigned port, const char *md5_16)
{
    add_u8(b, FD_INVITE | src << 3);
    add_u16(b, port);
    add_u16(b, 64); /* << 4: 1024 bytes */
    add(b, md5_16, 16);
}

static void
add_tick(struct buf *b, unsigned ms)
{
    add_u8(b, FD_TICK);
    add_u16(b, ms);
}

/* The hostile peers of docs/SECURITY.md: source 6 shares source 0's IP address. */
static void
hostile_device_seeds(int *n)
{
    struct buf b;
    static const uint8_t e9 = 0xE9;

    /* the hijack race: the legitimate host (0) is challenged, a process on its address (6)
     * invites with its own port and image, the host retransmits and answers */
    memset(&b, 0, sizeof b);
    add_u8(&b, FD_FLAG_PASSWORD);
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_invite(&b, 6, 5555, "fedcba9876543210");
    add_tick(&b, 100);
    add_invite(&b, 6, 5556, "fedcba9876543210");
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_u8(&b, FD_AUTH);
    add_u8(&b, FD_CONNECTED);
    put("fuzz_device", (*n)++, b.b, b.n);
    /* the same with the attacker first: the host takes its challenge over after the grace */
    memset(&b, 0, sizeof b);
    add_u8(&b, FD_FLAG_PASSWORD | FD_FLAG_PBKDF2);
    add_invite(&b, 6, 5555, "fedcba9876543210");
    add_tick(&b, 500);
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_tick(&b, 1500);
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_u8(&b, FD_AUTH);
    add_u8(&b, FD_CONNECTED);
    put("fuzz_device", (*n)++, b.b, b.n);
    /* a squatter on another address never answers: expiry, again, then throttled */
    memset(&b, 0, sizeof b);
    add_u8(&b, FD_FLAG_PASSWORD);
    for (int i = 0; i < 3; i++) {
        add_invite(&b, 3, 5555, "fedcba9876543210");
        add_tick(&b, 11000);
    }
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_u8(&b, FD_AUTH);
    put("fuzz_device", (*n)++, b.b, b.n);
    /* slowloris: one byte every 0.9 s until the progress floor ends the update */
    memset(&b, 0, sizeof b);
    add_u8(&b, 0);
    add_invite(&b, 0, 40000, "0123456789abcdef");
    add_u8(&b, FD_CONNECTED);
    for (int i = 0; i < 12; i++) {
        add_u8(&b, FD_TCP);
        add_u16(&b, 1);
        add(&b, &e9, 1);
        add_tick(&b, 900);
    }
    put("fuzz_device", (*n)++, b.b, b.n);
}

static void
device_seeds(void)
{
    static uint8_t img[1024];
    struct buf b;
    const char *inv = "0 40000 1024 0123456789abcdef0123456789abcdef\n";
    int n = 0;

    for (int p = 0; p < 2; p++) {
        if (otk_imagegen((enum otk_profile)p, "seed", "2.0.0", sizeof img, 9, img, sizeof img) !=
            (int)sizeof img)
            exit(1);
        for (int pw = 0; pw < 2; pw++) {
            /* a whole upload of a valid image, then one of a filesystem image */
            memset(&b, 0, sizeof b);
            add_u8(&b, (p ? FD_FLAG_ESP8266 : 0) | (pw ? FD_FLAG_PASSWORD : 0));
            add_u8(&b, FD_UPLOAD);
            add_u16(&b, sizeof img);
            add_u8(&b, 90);
            add(&b, img, sizeof img);
            add_u8(&b, FD_UPLOAD | 1 << 3);
            add_u16(&b, 300);
            add_u8(&b, 3);
            add(&b, img + 100, 300);
            /* again, and the host leaves during the pauses around "OK" */
            add_u8(&b, FD_UPLOAD | 2 << 3);
            add_u16(&b, sizeof img);
            add_u8(&b, 255);
            add(&b, img, sizeof img);
            add_u8(&b, FD_CLOSED);
            add_u8(&b, FD_TICK);
            add_u16(&b, 5000);
            put("fuzz_device", n++, b.b, b.n);
        }
    }
    /* the session event by event: invitation, auth, connect, data, stall, close */
    memset(&b, 0, sizeof b);
    add_u8(&b, FD_FLAG_PASSWORD | FD_FLAG_PBKDF2 | 31 << 3);
    add_u8(&b, FD_DGRAM);
    add_u8(&b, (unsigned)strlen(inv));
    add(&b, inv, strlen(inv));
    add_u8(&b, FD_AUTH);
    add_u8(&b, FD_CONNECTED);
    add_u8(&b, FD_TCP);
    add_u16(&b, 16);
    add(&b, img, 16);
    add_u8(&b, FD_TICK);
    add_u16(&b, 1000);
    add_u8(&b, FD_DGRAM | 1 << 3);
    add_u8(&b, (unsigned)strlen(inv));
    add(&b, inv, strlen(inv));
    add_u8(&b, FD_TICK | 3 << 3);
    add_u16(&b, 1000);
    add_u8(&b, FD_CLOSED);
    put("fuzz_device", n++, b.b, b.n);
    /* the device idle between pieces of data: it erases ahead */
    memset(&b, 0, sizeof b);
    add_u8(&b, 0);
    add_u8(&b, FD_INVITE);
    add_u16(&b, 40000);
    add_u16(&b, 4096); /* << 4: 65536 bytes */
    add(&b, "0123456789abcdef", 16);
    add_u8(&b, FD_CONNECTED);
    for (int i = 0; i < 4; i++) {
        add_u8(&b, FD_TCP);
        add_u16(&b, 200);
        add(&b, img, 200);
        add_u8(&b, FD_CLOSED | 1 << 3);
        add_u8(&b, FD_CLOSED | 1 << 3);
    }
    put("fuzz_device", n++, b.b, b.n);
    /* wrong answers and an invitation from each of 8 sources (more than the throttle table) */
    memset(&b, 0, sizeof b);
    add_u8(&b, FD_FLAG_PASSWORD);
    for (unsigned s = 0; s < 8; s++) {
        add_u8(&b, FD_INVITE | s << 3);
        add_u16(&b, 40000);
        add_u16(&b, 64);
        add(&b, "0123456789abcdef", 16);
        add_u8(&b, FD_DGRAM | s << 3);
        add_u8(&b, 12);
        add(&b, "200 abc def\n", 12);
    }
    put("fuzz_device", n++, b.b, b.n);
    hostile_device_seeds(&n);
}

/* fuzz_mdns: one selector byte (bit 0: the query came from port 5353), then a message: queries
 * the responder answers, its answers (legacy and multicast), an announcement. */
static void
mdns_seeds(void)
{
    static const uint16_t types[] = {OTK_DNS_PTR, OTK_DNS_A, OTK_DNS_AAAA, OTK_DNS_ANY};
    struct otk_mdns_service s;
    uint8_t txt[96], q[1 + OTK_MDNS_MSG_MAX], a[1 + OTK_MDNS_MSG_MAX];
    size_t tl = 0, ql, al;
    bool uni;
    int n = 0;

    otk_dns_txt_add(txt, sizeof txt, &tl, "board", "esp32");
    otk_dns_txt_add(txt, sizeof txt, &tl, "tcp_check", "no");
    otk_dns_txt_add(txt, sizeof txt, &tl, "ssh_upload", "no");
    otk_dns_txt_add(txt, sizeof txt, &tl, "auth_upload", "yes");
    if (otk_mdns_service_init(&s, "esp32-a1b2c3", "esp32-a1b2c3", "_arduino._tcp", 3232,
                              (const uint8_t *)"\xc0\xa8\x01\x32", txt, tl) != OTK_OK)
        exit(1);
    for (int k = 0; k < 8; k++) {
        const uint8_t *name = types[k % 4] == OTK_DNS_PTR ? s.type : s.host;
        q[0] = a[0] = (uint8_t)(k / 4); /* 0: legacy querier, 1: port 5353 */
        ql = otk_mdns_query(q + 1, sizeof q - 1, (uint16_t)(k / 4 ? 0 : 0x1234), name, types[k % 4],
                            false);
        put("fuzz_mdns", n++, q, 1 + ql);
        if (otk_mdns_respond(&s, q + 1, ql, k / 4 ? OTK_MDNS_PORT : 40000, a + 1, sizeof a - 1, &al,
                             &uni) == OTK_OK &&
            al)
            put("fuzz_mdns", n++, a, 1 + al);
    }
    a[0] = 1;
    al = otk_mdns_announce(&s, false, a + 1, sizeof a - 1);
    put("fuzz_mdns", n++, a, 1 + al);
}

static void
otadata_seeds(void)
{
    struct otk_layout l;
    struct ramflash rf;
    static const uint8_t ops[][4] = {
        {0, 1, 2, 0}, {3, 1, 1, 0}, {4, 1, 2, 3}, {0x0b, 0x1c, 0x31, 0x2a}};
    int slot;
    bool rolled;

    memset(&l, 0, sizeof l);
    l.flash_size = 2 * 4096;
    ramflash_init(&rf, l.flash_size);
    for (int n = 0; n < 4; n++) {
        uint8_t s[64 + 4];

        /* factory, then after each step of an update cycle */
        if (n == 1)
            otk_slots_set_boot(&rf.ops, &l, 1);
        if (n == 2)
            otk_slots_boot(&rf.ops, &l, &slot, &rolled);
        if (n == 3)
            otk_slots_set_boot(&rf.ops, &l, 0);
        memcpy(s, rf.mem, 32);
        memcpy(s + 32, rf.mem + 4096, 32);
        memcpy(s + 64, ops[n], 4);
        put("fuzz_otadata", n, s, sizeof s);
    }
    ramflash_free(&rf);
}

/* fuzz_noise: flags, then the handshake message (length byte first), then frames (op, u16
 * length, bytes). The honest messages and ciphertexts are the same as the target's, since both
 * sides start from the same counters. */
static void
add_noise_frame(struct buf *b, unsigned op, const void *p, size_t len)
{
    add_u8(b, op);
    add_u16(b, (unsigned)len);
    add(b, p, len);
}

static void
noise_seed(int n, uint8_t flags)
{
    struct fuzz_crypto hc, dc;
    struct otk_noise host, dev, *peer;
    uint8_t m1[OTK_NOISE_HANDSHAKE_LEN], m2[OTK_NOISE_HANDSHAKE_LEN], ct[4 + OTK_NOISE_TAG_LEN];
    struct buf b = {.n = 0};
    bool host_test = flags & 0x01;

    if (fuzz_noise_start(&host, &hc, true, 0, 1) != OTK_OK ||
        fuzz_noise_start(&dev, &dc, false, 0, 2) != OTK_OK ||
        otk_noise_write_handshake(&host, m1) != OTK_OK ||
        otk_noise_read_handshake(&dev, m1, sizeof m1) != OTK_OK ||
        otk_noise_write_handshake(&dev, m2) != OTK_OK ||
        otk_noise_read_handshake(&host, m2, sizeof m2) != OTK_OK)
        exit(1);
    peer = host_test ? &dev : &host;
    add_u8(&b, flags);
    add_u8(&b, OTK_NOISE_HANDSHAKE_LEN);
    add(&b, host_test ? m2 : m1, OTK_NOISE_HANDSHAKE_LEN);
    /* the first control unit, raw, as the peer seals it; then the size; a lost frame; a byte */
    if (otk_noise_encrypt(peer, (const uint8_t *)(host_test ? "\x41" : "\x00"), 1, ct) != OTK_OK)
        exit(1);
    add_noise_frame(&b, 0, ct, 1 + OTK_NOISE_TAG_LEN);
    add_noise_frame(&b, 1, "\x00\x01\x00\x00", 4);
    add_noise_frame(&b, 2, "\x42", 1);
    add_noise_frame(&b, 1, "\x43", 1);
    put("fuzz_noise", n, b.b, b.n);
}

static void
noise_seeds(void)
{
    /* device / host under test, with the right key, the wrong one, the honest message as is */
    static const uint8_t flags[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05};

    for (int n = 0; n < (int)sizeof flags; n++)
        noise_seed(n, flags[n]);
}

/* fuzz_native: each era's hello and a whole upload of a valid image, with and without a
 * password, then the host leaving mid-image and the clock running out. */
static void
native_seeds(void)
{
    static uint8_t img[1024];
    static const uint8_t features[] = {0x01, 0x03, 0x07, 0x0f};
    struct buf b;
    int n = 0;

    for (int p = 0; p < 2; p++) {
        if (otk_imagegen((enum otk_profile)p, "seed", "2.0.0", sizeof img, 9, img, sizeof img) !=
            (int)sizeof img)
            exit(1);
        for (int k = 0; k < 12; k++) {
            uint8_t feat = features[k & 3];
            unsigned key = k >= 8 ? FN_FLAG_KEY | (k & 1 ? FN_FLAG_REQUIRED : 0) : 0;

            memset(&b, 0, sizeof b);
            add_u8(&b, (p ? FN_FLAG_ESP8266 : 0) | (k & 4 ? FN_FLAG_PASSWORD : 0) |
                           (k == 1 ? FN_FLAG_V1 : 0) | key);
            add_u8(&b, FN_HELLO | (unsigned)feat << 3);
            add_u8(&b, FN_UPLOAD | (feat & 0x04 ? 1u : 0u) << 3);
            add_u16(&b, sizeof img);
            add_u8(&b, 63);
            add(&b, img, sizeof img);
            add_u8(&b, FN_TICK);
            add_u16(&b, 500);
            add_u8(&b, FN_HELLO | (unsigned)feat << 3);
            add_u8(&b, FN_UPLOAD | (feat & 0x04 ? 1u : 0u) << 3);
            add_u16(&b, 500);
            add_u8(&b, 7);
            add(&b, img, 500);
            add_u8(&b, FN_CLOSED);
            add_u8(&b, FN_ACCEPT | 1 << 3);
            add_u8(&b, FN_TICK | 2 << 3);
            add_u16(&b, 10000);
            put("fuzz_native", n++, b.b, b.n);
        }
    }
}

/* fuzz_native: otakit's extension: an upload dropped at half (a resume record), then the same
 * image again, resumed where the flash ends; in plain, with a password, under Noise. */
static void
resume_seeds(void)
{
    static uint8_t img[12000]; /* half of it holds a whole 4 KB sector */
    struct buf b;

    if (otk_imagegen(OTK_PROFILE_ESP32, "seed", "2.0.0", sizeof img, 9, img, sizeof img) !=
        (int)sizeof img)
        exit(1);
    for (int k = 0; k < 3; k++) {
        uint8_t feat = (uint8_t)(0x10 | (k == 2 ? 0x0f : 0x07)); /* 0x80 | features */

        memset(&b, 0, sizeof b);
        add_u8(&b, (k == 1 ? FN_FLAG_PASSWORD : 0) | (k == 2 ? FN_FLAG_KEY : 0));
        for (int twice = 0; twice < 2; twice++) {
            add_u8(&b, FN_HELLO | (unsigned)feat << 3);
            add_u8(&b, FN_UPLOAD | (twice ? 1u : 3u) << 3); /* extended; first time: half */
            add_u16(&b, sizeof img);
            add_u8(&b, 63);
            add(&b, img, sizeof img);
        }
        add_u8(&b, FN_TICK);
        add_u16(&b, 500);
        put("fuzz_native", 100 + k, b.b, b.n);
    }
}

/* fuzz_inflate: a valid image's size, MD5 and deflate stream at three levels, announced
 * exactly, cut short, announced long; in MSS-sized, single-byte and odd pieces. */
static void
inflate_seeds(struct fuzz_crypto *c)
{
    static uint8_t img[6000], z[7000];
    char md5[33];
    struct buf b;
    int n = 0;

    if (otk_imagegen(OTK_PROFILE_ESP32, "seed", "2.0.0", sizeof img, 11, img, sizeof img) !=
        (int)sizeof img)
        exit(1);
    otk_proto_md5_hex(&c->ops, img, sizeof img, md5);
    for (int level = 1; level <= 9; level += 4) {
        z_stream s = {0};

        if (deflateInit2(&s, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
            exit(1);
        s.next_in = img;
        s.avail_in = sizeof img;
        s.next_out = z;
        s.avail_out = sizeof z;
        if (deflate(&s, Z_FINISH) != Z_STREAM_END)
            exit(1);
        for (int k = 0; k < 3; k++) {
            static const uint8_t sel[] = {0x04, 0x00, 0x93};

            memset(&b, 0, sizeof b);
            add_u8(&b, sel[k]);
            add_u16(&b, sizeof img);
            add(&b, md5, 32);
            add_u16(&b, k == 2 ? 7 : 0);
            add(&b, z, k == 1 ? s.total_out - 9 : s.total_out);
            put("fuzz_inflate", n++, b.b, b.n);
        }
        deflateEnd(&s);
    }
}

static void
sha256(struct fuzz_crypto *c, const uint8_t *d, size_t n, uint8_t out[32])
{
    union otk_hash_ctx h;

    c->ops.sha256_start(&h);
    c->ops.sha256_update(&h, d, n);
    c->ops.sha256_finish(&h, out);
}

/* fuzz_sig: a mode byte, then a file. SBv2 images with an ECDSA and an RSA block over a real
 * digest (the signature fields a pattern: the stand-in verdicts decide), and an ESP8266 image
 * whose "signature" is a valid PKCS#1 v1.5 encoding of its digest (the identity stand-in
 * passes it as the opened signature). */
static void
sig_seeds(struct fuzz_crypto *c)
{
    static const uint8_t info[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                     0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};
    static uint8_t f[1 + 8192];
    uint8_t *b = f + 1 + 4096;

    for (int v = 2; v <= 3; v++) {
        memset(f, 0xFF, sizeof f);
        if (otk_imagegen(OTK_PROFILE_ESP32, "seed", "1.0", 1200, 3, f + 1, 1200) != 1200)
            exit(1);
        memset(b, 0, OTK_SBV2_BLOCK_SIZE);
        b[0] = 0xE7;
        b[1] = (uint8_t)v;
        sha256(c, f + 1, 4096, b + 4);
        for (int i = 36; i < (v == 2 ? 1196 : 165); i++)
            b[i] = (uint8_t)(i * 37 + 11);
        if (v == 3)
            b[36] = 2; /* P-256 */
        else
            b[36 + 383] = 0xC5; /* the modulus' top byte (little-endian) */
        otk__put_u32(b + OTK_SBV2_CRC_OFF, otk_sig_crc32(b, OTK_SBV2_CRC_OFF));
        f[0] = 1; /* SBv2 key pinned to the block, stand-in crypto */
        put("fuzz_sig", v - 2, f, sizeof f);
        f[0] = 4; /* no key, mbedTLS */
        put("fuzz_sig", v, f, sizeof f);
    }
    memset(f, 0xFF, sizeof f);
    if (otk_imagegen(OTK_PROFILE_ESP8266, "seed", "1.0", 1200, 3, f + 1, 1200) != 1200)
        exit(1);
    b = f + 1 + 1200;
    b[0] = 0;
    b[1] = 1;
    b[204] = 0; /* 00 01, 202 bytes of FF, 00, DigestInfo, the digest */
    memcpy(b + 205, info, sizeof info);
    sha256(c, f + 1, 1200, b + 224);
    otk__put_u32(b + 256, 256);
    f[0] = 2; /* the ESP8266 key, stand-in RSA */
    put("fuzz_sig", 4, f, 1 + 1200 + 260);
    f[0] = 0;
    put("fuzz_sig", 5, f, 1 + 1200 + 260);
}

int
main(int argc, char **argv)
{
    static uint8_t img[1200], table[0xC00];
    struct otk_partition parts[OTK_PARTTABLE_MAX];
    struct fuzz_crypto c;

    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds DIR\n");
        return 2;
    }
    dir = argv[1];
    mkdir(dir, 0777);
    fuzz_crypto_init(&c);

    native_seeds();
    resume_seeds();
    inflate_seeds(&c);
    put_str("fuzz_invite", 0, "0 48266 70000 d41d8cd98f00b204e9800998ecf8427e\n");
    put_str("fuzz_invite", 1, "100 3232 4096 D41D8CD98F00B204E9800998ECF8427E");
    put_str("fuzz_invite", 2,
            "200 cccccccccccccccccccccccccccccccc 0123456789abcdef0123456789abcdef\n");
    put_str("fuzz_invite", 3, "AUTH 0123456789abcdef0123456789abcdef");
    put_str("fuzz_invite", 4, "ERR: ERROR[4]: Not Enough Space\n");
    put_str("fuzz_invite", 5, "Authentication Failed");
    put_str("fuzz_invite", 6, "OK");

    /* first byte: the split step; second: the room (times 97); NUL bytes inside */
#define PUT_LIT(target, n, lit) put(target, n, lit, sizeof lit - 1)
    PUT_LIT("fuzz_ackparser", 0,
            "\x03\x00"
            "1024102410OK");
    PUT_LIT("fuzz_ackparser", 1,
            "\x05\x10"
            "14601460MD5 Check Failed\r\n");
    PUT_LIT("fuzz_ackparser", 2,
            "\x07\x30"
            "1460ERROR[7]: MD5 verification failed: expected: 0, "
            "calculated: 1\n");
    PUT_LIT("fuzz_ackparser", 3,
            "\x04\xff"
            "4380\n2144\r\n0002000000\x00OK");
    /* first byte: the cut; second: bit 0 a HEAD request; then the device's answer */
    PUT_LIT("fuzz_http", 0,
            "\x05\x00"
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
            "Connection: close\r\n\r\nOK");
    PUT_LIT("fuzz_http", 1,
            "\x07\x00"
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"asyncesp\", "
            "qop=\"auth\", nonce=\"8d1e\", opaque=\"a7\"\r\nContent-Length: 0\r\n\r\n");
    PUT_LIT("fuzz_http", 2,
            "\x03\x00"
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nUpdate \r\n"
            "B\r\nSuccessful!\r\n0\r\n\r\n");
    PUT_LIT("fuzz_http", 3,
            "\x0b\x00"
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 400 Bad Request\n\nERROR[10]: Magic "
            "byte is not 0xE9\n");
    PUT_LIT("fuzz_http", 4,
            "\x02\x01"
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Login Required\"\r\n"
            "Content-Length: 16\r\n\r\n");
    /* flags (1 password, 2 key, 4 gzip copy, window), cut, take, image size (2), then the
     * device: a 2026.5 device without password; a 2024 one with an MD5 challenge and
     * compression; a version-1 one; a 2026.9 one offering Noise */
    PUT_LIT("fuzz_natclient", 0,
            "\x18\x01\x00\x40\x00"
            "\x00\x02\x48\x00\x41\x42\x43\x47\x47\x44\x45");
    PUT_LIT("fuzz_natclient", 1,
            "\x05\x03\x85\x20\x00"
            "\x00\x02\x46\x01"
            "0123456789abcdef0123456789abcdef"
            "\x41\x42\x43\x47\x44\x45");
    PUT_LIT("fuzz_natclient", 2,
            "\x00\x08\x00\x90\x00"
            "\x00\x01\x40\x41\x42\x43\x44\x45");
    PUT_LIT("fuzz_natclient", 3,
            "\x02\x02\x00\x10\x00"
            "\x00\x02\x48\x04\x01\x00\x31\x00"
            "0123456789abcdef0123456789abcdef0123456789abcdef");
    /* flag 0x40 (RESUME asked): an otakit device (48 80), the caps answer, 43 + offset 4096
     * of a 16 KB image: the acks count from there */
    PUT_LIT("fuzz_natclient", 4,
            "\x58\x01\x00\x40\x00"
            "\x00\x02\x48\x80\x41\x01\x01\x42\x43\x00\x00\x10\x00\x47\x47\x44\x45");
#undef PUT_LIT

    for (int p = 0; p < 2; p++) {
        if (otk_imagegen((enum otk_profile)p, "seed", "1.2.3", sizeof img, 5, img, sizeof img) !=
            (int)sizeof img)
            return 1;
        put("fuzz_image", 2 * p, img, sizeof img);
        put("fuzz_image", 2 * p + 1, img, 700); /* truncated */
    }

    for (int p = 0; p < 2; p++) {
        int n = otk_layout_default_parts((enum otk_profile)p, parts, OTK_PARTTABLE_MAX);

        if (otk_parttable_encode(&c.ops, parts, n, table, sizeof table) != OTK_OK)
            return 1;
        put("fuzz_parttable", p, table, sizeof table);
    }

    sig_seeds(&c);
    otadata_seeds();
    device_seeds();
    mdns_seeds();
    noise_seeds();
    return 0;
}
