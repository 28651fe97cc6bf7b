/* SPDX-License-Identifier: MIT */
/* The device engine fed an arbitrary sequence of events decoded from the input (see enum fd_op
 * in fuzz_common.h): datagrams from eight sources, TCP data, connects, closes, time passing, and
 * two shortcuts the fuzzer could never find alone - the right answer to a challenge, and a
 * whole upload whose invitation carries the right MD5 - so that authenticated sessions, image
 * verification and slot switching are reached too. On a RAM flash, with or without password.
 *
 * Checked on every flash operation: the running slot is never touched, and otadata only once
 * the slot it will select holds an image the bootloader accepts. After every event: the flash
 * was used by the NOR rules and the state agrees with itself. On every challenge sent: a nonce
 * is only ever sent for one invitation. On every update started with a password: it is the
 * invitation that the answered nonce was sent for (no answer can be redirected). Sources 6 and
 * 7 share source 0's IP address (other ports): a process on the uploader's machine. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/proto.h"
#include "otakit/slots.h"

#define RUNNING_IMG 1024u
#define NONCES      16u /* challenges remembered per run */
#define INVITE_KEY  (offsetof(struct otk_invite, md5) + OTK_MD5_HEX_LEN)

/* A challenge the device sent, and the invitation it answered. */
struct sent_nonce {
    char auth[80]; /* "AUTH <nonce>" */
    struct otk_invite inv;
};

struct fz {
    struct otk_dev dev;
    struct fakenet net;
    struct ramflash *rf; /* flash_keep */
    struct fuzz_crypto c;
    uint8_t sector[OTK_SECTOR_SIZE];
    struct otk_addr src[8];            /* more than the throttle table holds */
    struct fuzz_guarded_flash guarded; /* rf.ops behind guard() */
    uint32_t now;
    int ends;
    int switches;               /* otadata writes seen */
    struct otk_net_ops net_ops; /* f->net.ops behind sent() */
    bool sending_invite;        /* the datagram being delivered parses as an invitation... */
    struct otk_invite sending;  /* ...this one */
    struct sent_nonce nonces[NONCES];
    unsigned n_nonces;
};

static struct fz g; /* reset on every run */
/* One flash for the whole session, reset on every run: a fresh 256 KB block per run costs more
 * page faults than the run itself. Reachable until exit, so no leak. */
static struct ramflash flash_keep;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct sent_nonce *
find_nonce(const struct fz *f, const char *auth)
{
    for (unsigned i = 0; i < f->n_nonces && i < NONCES; i++)
        if (strcmp(f->nonces[i].auth, auth) == 0)
            return &f->nonces[i];
    return NULL;
}

/* Every datagram the device sends: a challenge answers the invitation being delivered, and a
 * nonce seen before must have been sent for the same invitation. */
static int
sent(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct fz *f = (struct fz *)((char *)user - offsetof(struct fz, net)); /* user: &f->net */
    const struct sent_nonce *seen;
    struct sent_nonce *n;

    if (len > 5 && len < sizeof n->auth && memcmp(buf, "AUTH ", 5) == 0) {
        FUZZ_CHECK(f->sending_invite);
        n = &f->nonces[f->n_nonces % NONCES];
        memcpy(n->auth, buf, len);
        n->auth[len] = '\0';
        seen = find_nonce(f, n->auth);
        if (seen && seen != n) {
            FUZZ_CHECK(memcmp(&seen->inv, &f->sending, INVITE_KEY) == 0);
        } else {
            n->inv = f->sending;
            f->n_nonces++;
        }
    }
    return f->net.ops.udp_send(f->net.ops.user, to, buf, len);
}

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct fz *f = user;
    const struct sent_nonce *n;

    FUZZ_CHECK(ev->type <= OTK_EV_ERROR);
    FUZZ_CHECK(ev->text != NULL);
    if (ev->type == OTK_EV_END)
        f->ends++;
    /* an update that a password let in is the one its nonce was sent for */
    if (ev->type == OTK_EV_START && f->dev.cfg.secret[0]) {
        n = find_nonce(f, f->dev.challenge);
        FUZZ_CHECK(n != NULL);
        FUZZ_CHECK(memcmp(&n->inv, &f->dev.invite, INVITE_KEY) == 0);
    }
}

static void
on_reboot(void *user)
{
    (void)user;
}

/* ms pass: every deadline due on the way runs at its own time. */
static void
advance(struct fz *f, uint32_t ms)
{
    uint32_t at, until = f->now + ms;
    int guard = 0;

    while (otk_dev_next_deadline(&f->dev, &at) && (int32_t)(at - until) <= 0) {
        if ((int32_t)(at - f->now) > 0)
            f->now = at;
        otk_dev_tick(&f->dev, f->now);
        FUZZ_CHECK(++guard < 100); /* a deadline that never moves on would hang a device */
    }
    f->now = until;
}

/* Every erase and write the engine makes passes here first. The running slot (app0) is never
 * touched; otadata only as the last step of an application update that passed, so the slot it
 * is about to select must hold an image the bootloader accepts. */
static void
guard(void *user, uint32_t addr, size_t len)
{
    struct fz *f = user;
    const struct otk_layout *l = &f->dev.cfg.layout;

    FUZZ_CHECK(!fuzz_overlaps(addr, len, l->app_offset[0], l->app_size[0]));
    if (fuzz_overlaps(addr, len, l->otadata_offset, 2 * OTK_SECTOR_SIZE)) {
        union otk_hash_ctx ctx;
        struct otk_image_info info;
        enum otk_image_result r;

        r = otk_image_verify(&f->rf->ops, &f->c.ops, l->app_offset[1], l->app_size[1],
                             f->dev.cfg.profile, &ctx, &info);
        /* an ESP8266 takes gzip images unverified: its boot loader inflates them */
        FUZZ_CHECK(r == OTK_IMG_OK ||
                   (r == OTK_IMG_GZIP && f->dev.cfg.profile == OTK_PROFILE_ESP8266));
        f->switches++;
    }
}

static void
check(struct fz *f)
{
    enum otk_dev_state s = otk_dev_state(&f->dev);

    FUZZ_CHECK(f->rf->misuse == 0);
    FUZZ_CHECK(s <= OTK_DEV_REBOOTING);
    FUZZ_CHECK(otk_dev_wants_data(&f->dev) == (s == OTK_DEV_RECEIVING));
    FUZZ_CHECK(s != OTK_DEV_IDLE || !otk_dev_next_deadline(&f->dev, NULL));
    /* a slot switch (an otadata erase and write) ends in END, at once or after the pauses */
    FUZZ_CHECK(f->switches <= 2 * f->ends + 2);
}

static void
send(struct fz *f, int src, const void *buf, size_t len)
{
    f->sending_invite = otk_proto_parse_invite(buf, len, &f->sending) == OTK_OK;
    otk_dev_on_datagram(&f->dev, &f->src[src & 7], buf, len, f->now);
    f->sending_invite = false;
}

/* The right answer to the last challenge, if the last datagram was one. */
static void
answer(struct fz *f, int src)
{
    const char *dg = fakenet_last_dgram(&f->net);
    size_t hl = otk_auth_hex_len(f->dev.cfg.auth);
    char resp[65], cnonce[65], buf[200];
    size_t n;

    if (strncmp(dg, "AUTH ", 5) != 0 || strlen(dg + 5) != hl)
        return;
    memset(cnonce, 'c', hl);
    cnonce[hl] = '\0';
    if (otk_proto_auth_response(&f->c.ops, f->dev.cfg.auth, f->dev.cfg.secret,
                                strlen(f->dev.cfg.secret), dg + 5, hl, cnonce, hl, resp) != OTK_OK)
        return;
    n = otk_proto_format_auth(buf, sizeof buf, cnonce, resp, hl);
    send(f, src, buf, n);
}

static void
upload(struct fz *f, uint32_t cmd, const uint8_t *img, size_t len, size_t chunk, bool stop)
{
    const struct otk_crypto_ops *c = &f->c.ops;
    char md5[33], buf[100];
    size_t n;

    otk_proto_md5_hex(c, img, len, md5);
    n = otk_proto_format_invite(buf, sizeof buf, cmd, 40000, (uint32_t)len, md5);
    send(f, 0, buf, n);
    if (f->dev.cfg.secret[0])
        answer(f, 0);
    advance(f, 100);
    otk_dev_on_connected(&f->dev, OTK_OK, f->now);
    for (size_t off = 0; off < len && otk_dev_wants_data(&f->dev); off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;

        f->now += 1;
        FUZZ_CHECK(otk_dev_on_tcp_data(&f->dev, img + off, k, f->now) <= k);
        check(f);
    }
    if (!stop)
        advance(f, 3000);
}

static void
setup(struct fz *f, uint8_t flags)
{
    struct otk_dev_config cfg;
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
    cfg.profile = flags & FD_FLAG_ESP8266 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32;
    cfg.auth = flags & FD_FLAG_PBKDF2 ? OTK_AUTH_PBKDF2 : OTK_AUTH_MD5;
    cfg.rx_nudges = 3;
    fuzz_layout(&cfg.layout);
    if (flags & FD_FLAG_PASSWORD)
        otk_proto_password_secret(&f->c.ops, cfg.auth, FD_PASSWORD, strlen(FD_PASSWORD),
                                  cfg.secret);
    FUZZ_CHECK(otk_imagegen(cfg.profile, "running", "1.0.0", RUNNING_IMG, 1, running,
                            RUNNING_IMG) == (int)RUNNING_IMG);
    ramflash_load(f->rf, cfg.layout.app_offset[0], running, RUNNING_IMG);
    fuzz_guarded_flash_init(&f->guarded, &f->rf->ops, guard, f);
    f->net_ops = f->net.ops;
    f->net_ops.udp_send = sent;
    FUZZ_CHECK(otk_dev_init(&f->dev, &cfg, &f->net_ops, &f->guarded.ops, &f->c.ops, &hooks,
                            f->sector) == OTK_OK);
    for (int i = 0; i < 8; i++) {
        char ip[16];

        snprintf(ip, sizeof ip, "10.0.0.%d", i < 6 ? i + 1 : 1);
        f->src[i] = fakenet_addr(ip, (unsigned)(40000 + i));
    }
    f->now = (uint32_t)(flags >> 3) << 27;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    struct fz *f = &g;

    setup(f, fin_u8(&in));
    while (fin_more(&in)) {
        uint8_t b = fin_u8(&in);
        uint8_t arg = b >> 3;
        const uint8_t *p;
        size_t n;

        switch ((enum fd_op)(b & 7)) {
        case FD_DGRAM:
            n = fin_take(&in, fin_u8(&in), &p);
            send(f, arg, p, n);
            break;
        case FD_TCP:
            n = fin_take(&in, fin_u16(&in), &p);
            FUZZ_CHECK(otk_dev_on_tcp_data(&f->dev, p, n, f->now) <= n);
            break;
        case FD_CONNECTED:
            otk_dev_on_connected(&f->dev, arg & 1 ? OTK_ERR_IO : OTK_OK, f->now);
            break;
        case FD_CLOSED:
            if (arg & 1)
                (void)otk_dev_on_idle(&f->dev, f->now);
            else
                otk_dev_on_tcp_closed(&f->dev, f->now);
            break;
        case FD_TICK:
            advance(f, (uint32_t)fin_u16(&in) << (arg & 7));
            break;
        case FD_AUTH:
            answer(f, arg);
            break;
        case FD_UPLOAD: {
            uint32_t cmd = arg & 1 ? OTK_CMD_FS : OTK_CMD_FLASH;
            size_t len = fin_u16(&in);
            size_t chunk = (size_t)fin_u8(&in) * 16u + 1u;

            n = fin_take(&in, len, &p);
            if (n > 0)
                upload(f, cmd, p, n, chunk, arg & 2);
            break;
        }
        case FD_INVITE: {
            static const uint32_t cmds[] = {OTK_CMD_FLASH, OTK_CMD_FS, OTK_CMD_AUTH, 7};
            char buf[100], md5[33];
            uint16_t port = fin_u16(&in);
            uint32_t sz = (uint32_t)fin_u16(&in) << 4;

            n = fin_take(&in, 16, &p);
            memset(md5, '0', 32);
            otk_hex(p, n, md5);
            md5[2 * n] = '0'; /* a short input: the rest stays '0' */
            md5[32] = '\0';
            n = otk_proto_format_invite(buf, sizeof buf, cmds[(arg >> 3) & 3], port, sz, md5);
            send(f, arg, buf, n);
            break;
        }
        }
        check(f);
    }
    if (getenv("OTK_FUZZ_VERBOSE")) /* for looking at one input: what did it reach? */
        printf("state %s, %d update(s) ended, tcp \"%s\", last datagram \"%s\"\n",
               otk_dev_state_str(otk_dev_state(&f->dev)), f->ends, f->net.tcp,
               fakenet_last_dgram(&f->net));
    return 0;
}
