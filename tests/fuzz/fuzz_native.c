/* SPDX-License-Identifier: MIT */
/* The native protocol's device side (native.c) fed an arbitrary sequence of events decoded from
 * the input: accepted connections from four sources, bytes, closes, time passing, idle calls,
 * ArduinoOTA invitations (the other protocol sharing the writer), and two shortcuts the fuzzer
 * could never find alone: a client's hello with the right answer to the challenge, and a whole
 * upload of the input's bytes with their MD5 (a handshake with the right Noise key first when
 * the device offers it and the hello asked for it; otakit's caps exchange when the hello set
 * 0x80; from the resume offset the device names; or only its first half, then the connection
 * drops, leaving a resume record). On a RAM flash, with or without a password, protocol
 * version 1 or 2, Noise off, offered or required.
 *
 * Input: one flags byte (FN_FLAG_*), then operations: the opcode in the low 3 bits of a byte,
 * an argument in the high 5 (enum fn_op, fuzz_common.h).
 *
 * Checked on every flash operation: the running slot is never touched, and otadata only once
 * the slot it will select holds an image the bootloader accepts. After every event: the flash
 * was used by the NOR rules, a served connection always has a deadline, a closed one sends
 * nothing more, every native update that ends leaves a slot whose bytes have the MD5 announced
 * (resumed or not), and with a password no update starts on a connection that did not give the
 * right answer or the right key (nothing the fuzzer writes can stand in for either), and a
 * device that requires encryption starts none without the handshake. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/native.h"
#include "otakit/proto.h"

#define RUNNING_IMG 1024u
#define PASSWORD    FN_PASSWORD

struct fz {
    struct otk_dev dev;
    struct otk_nat nat;
    struct fakenet net;
    struct ramflash *rf;
    struct fuzz_crypto c;
    uint8_t sector[OTK_SECTOR_SIZE];
    struct otk_addr src[4];
    struct fuzz_guarded_flash guarded;
    uint32_t now;
    size_t seen;       /* bytes of net.nat already looked at */
    int closes_seen;   /* net.nat_closes when the connection was accepted */
    bool right_answer; /* this connection answered the challenge correctly */
    bool served;       /* a connection is open (accepted, not closed by either side) */
    int ends;
    bool noise_on;         /* this connection did the handshake: units go in frames */
    struct otk_noise host; /* the uploader's side of it */
    struct fuzz_crypto hc;
    /* ...and its crypto (its own counter) */ /* updates that ended in END (either protocol) */
};

static struct fz g;
static struct ramflash flash_keep; /* one flash for the whole session, reset on every run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
guard(void *user, uint32_t addr, size_t len)
{
    struct fz *f = user;
    const struct otk_layout *l = &f->dev.cfg.layout;

    FUZZ_CHECK(!fuzz_overlaps(addr, len, l->app_offset[0], l->app_size[0]));
    if (fuzz_overlaps(addr, len, l->otadata_offset, 2 * OTK_SECTOR_SIZE)) {
        union otk_hash_ctx ctx;
        struct otk_image_info info;

        FUZZ_CHECK(otk_image_verify(&f->rf->ops, &f->c.ops, l->app_offset[1], l->app_size[1],
                                    f->dev.cfg.profile, &ctx, &info) == OTK_IMG_OK);
    }
}

/* A native update ended: what the slot holds is the image the MD5 named (a resumed update
 * included: its first part came from flash, not from this connection). */
static void
check_slot_md5(struct fz *f)
{
    union otk_hash_ctx h;
    uint8_t chunk[256], d[16];
    char hex[33];
    uint32_t at = f->dev.cfg.layout.app_offset[1], left = f->nat.size;

    f->c.ops.md5_start(&h);
    while (left) {
        uint32_t k = left < sizeof chunk ? left : (uint32_t)sizeof chunk;

        FUZZ_CHECK(f->rf->ops.read(f->rf->ops.user, at, chunk, k) == 0);
        f->c.ops.md5_update(&h, chunk, k);
        at += k;
        left -= k;
    }
    f->c.ops.md5_finish(&h, d);
    otk_hex(d, sizeof d, hex);
    FUZZ_CHECK(memcmp(hex, f->dev.upd.md5_expected, 32) == 0);
}

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct fz *f = user;

    FUZZ_CHECK(ev->type <= OTK_EV_ERROR);
    FUZZ_CHECK(ev->text != NULL);
    if (ev->type == OTK_EV_END)
        f->ends++;
    if (ev->type == OTK_EV_END && f->nat.started)
        check_slot_md5(f);
    /* with a password, only the right answer starts a native update (an ArduinoOTA one has no
     * password here and starts from its invitation) */
    if (ev->type == OTK_EV_START && f->nat.started && f->nat.cfg.password[0])
        FUZZ_CHECK(f->right_answer);
    if (ev->type == OTK_EV_START && f->nat.started && f->nat.cfg.noise == OTK_NAT_NOISE_REQUIRED)
        FUZZ_CHECK(f->noise_on);
}

static void
on_reboot(void *user)
{
    (void)user;
}

static void
check(struct fz *f)
{
    uint32_t at;

    FUZZ_CHECK(f->rf->misuse == 0);
    if (f->net.nat_closes != f->closes_seen) {
        f->served = false; /* the engine closed it: it is no longer ours */
        f->closes_seen = f->net.nat_closes;
        f->seen = f->net.nat_len;
    }
    if (!f->served && !otk_dev_native_busy(&f->dev))
        FUZZ_CHECK(f->net.nat_len == f->seen); /* nothing sent on a connection that is gone */
    if (otk_dev_native_busy(&f->dev))
        FUZZ_CHECK(otk_dev_next_deadline(&f->dev, &at)); /* a silent host is dropped */
}

static void
advance(struct fz *f, uint32_t ms)
{
    uint32_t at, until = f->now + ms;
    int guard_n = 0;

    while (otk_dev_next_deadline(&f->dev, &at) && (int32_t)(at - until) <= 0) {
        if ((int32_t)(at - f->now) > 0)
            f->now = at;
        otk_dev_tick(&f->dev, f->now);
        check(f);
        FUZZ_CHECK(++guard_n < 100);
    }
    f->now = until;
}

static void
feed(struct fz *f, const void *p, size_t n)
{
    if (!f->served)
        return;
    FUZZ_CHECK(otk_dev_on_native_data(&f->dev, p, n, f->now) == n);
    check(f);
}

/* One unit from the host: as it is, or in Noise frames of at most 1024 bytes. */
static void
feed_unit(struct fz *f, const uint8_t *p, size_t n)
{
    uint8_t fr[3 + 1024 + OTK_NOISE_TAG_LEN];

    if (!f->noise_on) {
        feed(f, p, n);
        return;
    }
    for (size_t off = 0; off < n && f->served; off += 1024) {
        size_t k = n - off < 1024 ? n - off : 1024;

        fr[0] = 1;
        fr[1] = (uint8_t)((k + OTK_NOISE_TAG_LEN) >> 8);
        fr[2] = (uint8_t)(k + OTK_NOISE_TAG_LEN);
        FUZZ_CHECK(otk_noise_encrypt(&f->host, p + off, k, fr + 3) == OTK_OK);
        feed(f, fr, 3 + k + OTK_NOISE_TAG_LEN);
    }
}

/* The device answered "48 flags" with 04 to features with 08|04: the handshake with the right
 * key (both bytes in the prologue as they went). */
static void
handshake(struct fz *f, uint8_t features, uint8_t flags)
{
    uint8_t pro[OTK_NAT_NOISE_PROLOGUE_LEN], psk[OTK_NOISE_KEY_LEN];
    uint8_t msg[4 + OTK_NOISE_HANDSHAKE_LEN] = {1, 0, 1 + OTK_NOISE_HANDSHAKE_LEN, 0};
    size_t at;

    memcpy(pro, "NoiseOTAInit" OTK_NAT_MAGIC, 17);
    pro[17] = 0;
    pro[18] = f->nat.cfg.version;
    pro[19] = features;
    pro[20] = OTK_NAT_FEATURE_FLAGS;
    pro[21] = flags;
    for (int i = 0; i < OTK_NOISE_KEY_LEN; i++)
        psk[i] = (uint8_t)i;
    fuzz_crypto_init(&f->hc);
    f->hc.counter = 1u << 20;
    FUZZ_CHECK(otk_noise_start(&f->host, &f->hc.ops, true, psk, pro, sizeof pro) == OTK_OK);
    FUZZ_CHECK(otk_noise_write_handshake(&f->host, msg + 4) == OTK_OK);
    at = f->net.nat_len;
    feed(f, msg, sizeof msg);
    /* the device's message 2 and its encrypted 41 */
    FUZZ_CHECK(f->net.nat_len == at + 4 + OTK_NOISE_HANDSHAKE_LEN + 20);
    FUZZ_CHECK(otk_noise_read_handshake(&f->host, f->net.nat + at + 4, OTK_NOISE_HANDSHAKE_LEN) ==
               OTK_OK);
    f->noise_on = true;
    f->right_answer = true;
}

static void
accept_from(struct fz *f, int src)
{
    if (f->served)
        return;
    f->seen = f->net.nat_len;
    f->right_answer = false;
    f->noise_on = false;
    f->served = otk_dev_on_native_accept(&f->dev, &f->src[src & 3], f->now);
}

/* Magic, features; if a challenge comes back, the right answer. */
static void
hello_auth(struct fz *f, uint8_t features)
{
    const struct otk_crypto_ops *c = &f->c.ops;
    const uint8_t *out;
    char answer[129]; /* (and otk_hex's NUL) */
    uint8_t d[32];
    union otk_hash_ctx h;
    size_t before, l;

    accept_from(f, 0);
    feed(f, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN);
    before = f->net.nat_len;
    feed(f, &features, 1);
    out = f->net.nat + before;
    l = f->net.nat_len - before;
    if (f->served && l == 2 && out[0] == OTK_NAT_FEATURE_FLAGS && (out[1] & OTK_NAT_SF_NOISE) &&
        (features & 0x0c) == 0x0c) {
        handshake(f, features, out[1]);
        return;
    }
    /* the feature reply (one or two bytes), then 02 + 64 hex or 01 + 32 hex */
    for (size_t at = 1; at <= 2 && at < l; at++) {
        size_t hl = out[at] == OTK_NAT_REQUEST_AUTH_SHA256 ? 64
                    : out[at] == OTK_NAT_REQUEST_AUTH_MD5  ? 32
                                                           : 0;
        if (!hl || l < at + 1 + hl)
            continue;
        memset(answer, 'c', hl);
        if (hl == 64) {
            c->sha256_start(&h);
            c->sha256_update(&h, PASSWORD, strlen(PASSWORD));
            c->sha256_update(&h, out + at + 1, hl);
            c->sha256_update(&h, answer, hl);
            c->sha256_finish(&h, d);
        } else {
            c->md5_start(&h);
            c->md5_update(&h, PASSWORD, strlen(PASSWORD));
            c->md5_update(&h, out + at + 1, hl);
            c->md5_update(&h, answer, hl);
            c->md5_finish(&h, d);
        }
        otk_hex(d, hl / 2, answer + hl);
        f->right_answer = true;
        feed(f, answer, 2 * hl);
        return;
    }
}

/* ...then otakit's caps exchange when the device waits for it (RESUME and a bit it does not
 * know). */
static void
hello(struct fz *f, uint8_t features)
{
    static const uint8_t caps[2] = {OTK_NAT_OTAKIT_VERSION, 0x03};

    hello_auth(f, features);
    if (f->served && otk_dev_native_state(&f->dev) == OTK_NATS_OTAKIT)
        feed_unit(f, caps, sizeof caps);
}

/* The image from where the device continues (0, or the offset after "43" with RESUME), to the
 * end and the final ack; or only to its first half, then the connection drops. */
static void
upload(struct fz *f, const uint8_t *img, size_t len, size_t piece, bool extended, bool half)
{
    uint8_t size[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                       (uint8_t)len};
    char md5[33];
    uint8_t zero = 0;

    otk_proto_md5_hex(&f->c.ops, img, len, md5);
    if (extended)
        feed_unit(f, &zero, 1);
    feed_unit(f, size, 4);
    feed_unit(f, (const uint8_t *)md5, 32);
    size_t from = f->nat.resume_at < len ? f->nat.resume_at : 0, end = half ? len / 2 : len;
    for (size_t off = from; off < end && f->served; off += piece) {
        f->now += 1;
        feed_unit(f, img + off, end - off < piece ? end - off : piece);
    }
    if (half) {
        if (f->served)
            otk_dev_on_native_closed(&f->dev, f->now);
        f->served = false;
        f->seen = f->net.nat_len;
        return;
    }
    feed_unit(f, &zero, 1);
}

static void
setup(struct fz *f, uint8_t flags)
{
    struct otk_dev_config cfg;
    struct otk_nat_config nc;
    struct otk_dev_hooks hooks = {on_event, on_reboot, f};
    uint8_t running[RUNNING_IMG];

    memset(f, 0, sizeof *f);
    fuzz_crypto_init(&f->c);
    fakenet_init(&f->net);
    if (!flash_keep.mem)
        ramflash_init(&flash_keep, FUZZ_FLASH_SIZE);
    ramflash_reset(&flash_keep);
    f->rf = &flash_keep;
    f->rf->fail_on_misuse = false;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = flags & FN_FLAG_ESP8266 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32;
    cfg.auth = OTK_AUTH_MD5;
    cfg.rx_nudges = 3;
    fuzz_layout(&cfg.layout);
    FUZZ_CHECK(otk_imagegen(cfg.profile, "running", "1.0.0", RUNNING_IMG, 1, running,
                            RUNNING_IMG) == (int)RUNNING_IMG);
    ramflash_load(f->rf, cfg.layout.app_offset[0], running, RUNNING_IMG);
    fuzz_guarded_flash_init(&f->guarded, &f->rf->ops, guard, f);
    FUZZ_CHECK(otk_dev_init(&f->dev, &cfg, &f->net.ops, &f->guarded.ops, &f->c.ops, &hooks,
                            f->sector) == OTK_OK);
    memset(&nc, 0, sizeof nc);
    if (flags & FN_FLAG_PASSWORD)
        memcpy(nc.password, PASSWORD, sizeof PASSWORD);
    nc.version = flags & FN_FLAG_V1 ? 1 : 2;
    for (int i = 0; i < OTK_NOISE_KEY_LEN; i++)
        nc.key[i] = (uint8_t)i;
    nc.noise = !(flags & FN_FLAG_KEY)       ? OTK_NAT_NOISE_OFF
               : (flags & FN_FLAG_REQUIRED) ? OTK_NAT_NOISE_REQUIRED
                                            : OTK_NAT_NOISE_OFFERED;
    FUZZ_CHECK(otk_dev_native_attach(&f->dev, &f->nat, &nc) == OTK_OK);
    for (int i = 0; i < 4; i++) {
        char ip[16];

        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        f->src[i] = fakenet_addr(ip, (unsigned)(40000 + i));
    }
    f->now = (uint32_t)(flags >> 5) << 27;
}

static void
invite(struct fz *f, struct fuzz_in *in)
{
    char buf[100], md5[33];
    const uint8_t *p;
    size_t n = fin_take(in, fin_u16(in), &p), k;
    struct otk_addr from = fakenet_addr("10.0.0.9", 41000);

    otk_proto_md5_hex(&f->c.ops, p, n, md5);
    k = otk_proto_format_invite(buf, sizeof buf, OTK_CMD_FLASH, 48266, (uint32_t)n, md5);
    otk_dev_on_datagram(&f->dev, &from, (const uint8_t *)buf, k, f->now);
    if (f->net.connects > 0 && n > 0) {
        otk_dev_on_connected(&f->dev, OTK_OK, f->now);
        for (size_t off = 0; off < n && otk_dev_wants_data(&f->dev); off += 1460)
            (void)otk_dev_on_tcp_data(&f->dev, p + off, n - off < 1460 ? n - off : 1460, f->now);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    struct fz *f = &g;

    setup(f, fin_u8(&in));
    while (fin_more(&in)) {
        uint8_t b = fin_u8(&in), arg = b >> 3;
        const uint8_t *p;
        size_t n;

        switch ((enum fn_op)(b & 7)) {
        case FN_ACCEPT:
            accept_from(f, arg);
            break;
        case FN_DATA:
            n = fin_take(&in, fin_u16(&in), &p);
            feed(f, p, n);
            break;
        case FN_CLOSED:
            if (f->served)
                otk_dev_on_native_closed(&f->dev, f->now);
            f->served = false;
            f->seen = f->net.nat_len;
            break;
        case FN_TICK:
            advance(f, (uint32_t)fin_u16(&in) << (arg & 7));
            break;
        case FN_IDLE:
            (void)otk_dev_on_idle(&f->dev, f->now);
            break;
        case FN_HELLO:
            /* arg bit 4: otakit's 0x80 */
            hello(f, (uint8_t)((arg & 0x0f) | (arg & 0x10 ? OTK_NAT_CF_OTAKIT : 0)));
            break;
        case FN_UPLOAD: {
            size_t len = fin_u16(&in), piece = (size_t)fin_u8(&in) * 16u + 1u;

            n = fin_take(&in, len, &p);
            upload(f, p, n, piece, (arg & 1) != 0, (arg & 2) != 0);
            break;
        }
        case FN_INVITE:
            invite(f, &in);
            break;
        }
        check(f);
    }
    if (getenv("OTK_FUZZ_VERBOSE"))
        printf("native state %s, %zu bytes sent, %d closes, %d update(s) ended\n",
               otk_nat_state_str(otk_dev_native_state(&f->dev)), f->net.nat_len, f->net.nat_closes,
               f->ends);
    return 0;
}
