/* SPDX-License-Identifier: MIT */
/* The device engine fed an arbitrary sequence of events decoded from the input (see enum fd_op
 * in fuzz_common.h): datagrams from four sources, TCP data, connects, closes, time passing, and
 * two shortcuts the fuzzer could never find alone - the right answer to a challenge, and a
 * whole upload whose invitation carries the right MD5 - so that authenticated sessions, image
 * verification and slot switching are reached too. On a RAM flash, with or without password.
 *
 * After every event: the flash was used by the NOR rules, the running slot was never touched,
 * otadata changed only by an update that ended well, and the state agrees with itself. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_common.h"
#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/proto.h"
#include "otakit/slots.h"

#define RUNNING_IMG 1024u

struct fz {
    struct otk_dev dev;
    struct fakenet net;
    struct ramflash rf;
    struct fuzz_crypto c;
    uint8_t sector[OTK_SECTOR_SIZE];
    struct otk_addr src[4];
    uint32_t now;
    int ends;
    uint8_t running[0x10000]; /* app0 as it must stay */
    uint8_t otadata[2 * OTK_SECTOR_SIZE];
};

static struct fz g; /* 90 KB: too big for the stack; reset on every run */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct fz *f = user;

    FUZZ_CHECK(ev->type <= OTK_EV_ERROR);
    FUZZ_CHECK(ev->text != NULL);
    if (ev->type == OTK_EV_END)
        f->ends++;
}

static void
on_reboot(void *user)
{
    (void)user;
}

static void
run_deadlines(struct fz *f)
{
    uint32_t at;
    int guard = 0;

    while (otk_dev_next_deadline(&f->dev, &at) && (int32_t)(at - f->now) <= 0) {
        otk_dev_tick(&f->dev, f->now);
        FUZZ_CHECK(++guard < 100); /* a deadline that never moves on would hang a device */
    }
}

static void
check(struct fz *f)
{
    const struct otk_layout *l = &f->dev.cfg.layout;
    enum otk_dev_state s = otk_dev_state(&f->dev);

    FUZZ_CHECK(f->rf.misuse == 0);
    FUZZ_CHECK(s <= OTK_DEV_REBOOTING);
    FUZZ_CHECK(otk_dev_wants_data(&f->dev) == (s == OTK_DEV_RECEIVING));
    FUZZ_CHECK(s != OTK_DEV_IDLE || !otk_dev_next_deadline(&f->dev, NULL));
    FUZZ_CHECK(memcmp(f->rf.mem + l->app_offset[0], f->running, sizeof f->running) == 0);
    if (f->ends == 0)
        FUZZ_CHECK(memcmp(f->rf.mem + l->otadata_offset, f->otadata, sizeof f->otadata) == 0);
}

static void
send(struct fz *f, int src, const void *buf, size_t len)
{
    otk_dev_on_datagram(&f->dev, &f->src[src & 3], buf, len, f->now);
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
upload(struct fz *f, uint32_t cmd, const uint8_t *img, size_t len, size_t chunk)
{
    const struct otk_crypto_ops *c = &f->c.ops;
    union otk_hash_ctx ctx;
    uint8_t d[16];
    char md5[33], buf[100];
    size_t n;

    c->md5_start(&ctx);
    c->md5_update(&ctx, img, len);
    c->md5_finish(&ctx, d);
    otk_hex(d, 16, md5);
    n = otk_proto_format_invite(buf, sizeof buf, cmd, 40000, (uint32_t)len, md5);
    send(f, 0, buf, n);
    if (f->dev.cfg.secret[0])
        answer(f, 0);
    f->now += 100;
    run_deadlines(f);
    otk_dev_on_connected(&f->dev, OTK_OK, f->now);
    for (size_t off = 0; off < len && otk_dev_wants_data(&f->dev); off += chunk) {
        size_t k = len - off < chunk ? len - off : chunk;

        f->now += 1;
        FUZZ_CHECK(otk_dev_on_tcp_data(&f->dev, img + off, k, f->now) <= k);
        check(f);
    }
    f->now += 3000;
    run_deadlines(f);
}

static void
setup(struct fz *f, uint8_t flags)
{
    struct otk_dev_config cfg;
    struct otk_dev_hooks hooks = {on_event, on_reboot, f};

    memset(f, 0, sizeof *f);
    fuzz_crypto_init(&f->c);
    fakenet_init(&f->net);
    ramflash_init(&f->rf, FUZZ_FLASH_SIZE);
    f->rf.fail_on_misuse = false;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = flags & FD_FLAG_ESP8266 ? OTK_PROFILE_ESP8266 : OTK_PROFILE_ESP32;
    cfg.auth = flags & FD_FLAG_PBKDF2 ? OTK_AUTH_PBKDF2 : OTK_AUTH_MD5;
    cfg.rx_nudges = 3;
    fuzz_layout(&cfg.layout);
    if (flags & FD_FLAG_PASSWORD)
        otk_proto_password_secret(&f->c.ops, cfg.auth, FD_PASSWORD, strlen(FD_PASSWORD),
                                  cfg.secret);
    FUZZ_CHECK(otk_imagegen(cfg.profile, "running", "1.0.0", RUNNING_IMG, 1, f->running,
                            RUNNING_IMG) == (int)RUNNING_IMG);
    memset(f->running + RUNNING_IMG, 0xFF, sizeof f->running - RUNNING_IMG);
    ramflash_load(&f->rf, cfg.layout.app_offset[0], f->running, sizeof f->running);
    memset(f->otadata, 0xFF, sizeof f->otadata);
    FUZZ_CHECK(otk_dev_init(&f->dev, &cfg, &f->net.ops, &f->rf.ops, &f->c.ops, &hooks, f->sector) ==
               OTK_OK);
    for (int i = 0; i < 4; i++) {
        char ip[16];

        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
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
            otk_dev_on_tcp_closed(&f->dev, f->now);
            break;
        case FD_TICK:
            f->now += (uint32_t)fin_u16(&in) << (arg & 7);
            run_deadlines(f);
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
                upload(f, cmd, p, n, chunk);
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
            n = otk_proto_format_invite(buf, sizeof buf, cmds[(arg >> 2) & 3], port, sz, md5);
            send(f, arg, buf, n);
            break;
        }
        }
        check(f);
    }
    ramflash_free(&f->rf);
    return 0;
}
