/* SPDX-License-Identifier: MIT */
/* A native-protocol attempt (natup.h) against an in-process scripted ESPHome-style device over
 * 127.0.0.1: both in one poll() loop, so the device can close at exact moments, stay, go away
 * and come back, and record what it received. Also the probe against the device, a port that
 * speaks something else, and a closed port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zlib.h>

#include "otakit/err.h"
#include "otakit/gzip.h"
#include "otakit/natup.h"
#include "otakit/posix.h"
#include "otakit/proto.h"

/* ---- the fake device ---- */

struct fake {
    /* script */
    uint32_t close_after; /* data bytes after which it closes without a word (0: never) */
    bool silent_end;      /* all data in: close without 44 / 45 */
    uint32_t away_ms;     /* after a silent end: listener gone this long, then back */
    bool http;            /* answers the magic with text: not an ESPHome port */
    /* state */
    int lfd, cfd;
    uint16_t port;
    uint8_t in[80];
    size_t in_len;
    int step; /* 0 magic, 1 features, 2 type+size, 3 md5, 4 data, 5 end ack, 6 done */
    uint32_t size, got, acked_chunks;
    uint8_t *data;
    uint32_t back_at;
    bool away;
    unsigned accepts;
    char md5[33];
};

static int
listen_on(uint16_t port, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), on = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    *bound = ntohs(a.sin_port);
    return fd;
}

static void
fake_open(struct fake *f)
{
    f->lfd = listen_on(0, &f->port);
    f->cfd = -1;
}

static void
put(struct fake *f, const void *b, size_t n)
{
    assert_int_equal(send(f->cfd, b, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void
fake_hangup(struct fake *f)
{
    close(f->cfd);
    f->cfd = -1;
}

/* Consume the control bytes a step needs; return true when complete. */
static bool
need(struct fake *f, size_t n)
{
    return f->in_len >= n;
}

static void
take(struct fake *f, size_t n)
{
    memmove(f->in, f->in + n, f->in_len - n);
    f->in_len -= n;
}

static void
fake_control(struct fake *f)
{
    if (f->step == 0 && need(f, 5)) {
        assert_memory_equal(f->in, "\x6c\x26\xf7\x5c\x45", 5);
        take(f, 5);
        put(f, f->http ? "HTTP/1.1 400" : "\x00\x02", f->http ? 12 : 2);
        f->step = f->http ? 6 : 1;
    } else if (f->step == 1 && need(f, 1)) {
        assert_int_equal(f->in[0] & 0x06, 0x06);
        take(f, 1);
        put(f, "\x48\x00\x41", 3);
        f->step = 2;
    } else if (f->step == 2 && need(f, 5)) {
        assert_int_equal(f->in[0], 0x00);
        f->size = (uint32_t)f->in[1] << 24 | (uint32_t)f->in[2] << 16 | f->in[3] << 8 | f->in[4];
        f->data = malloc(f->size);
        take(f, 5);
        put(f, "\x42", 1);
        f->step = 3;
    } else if (f->step == 3 && need(f, 32)) {
        memcpy(f->md5, f->in, 32);
        take(f, 32);
        put(f, "\x43", 1);
        f->step = 4;
    } else if (f->step == 5 && need(f, 1)) {
        assert_int_equal(f->in[0], 0);
        take(f, 1);
        f->step = 6;
        fake_hangup(f);
    } else {
        return;
    }
    if (f->cfd >= 0 && f->in_len)
        fake_control(f);
}

/* Data: at most 1024 bytes per read, one 47 per 8192 and one for a final part, as the device
 * loop in the reference does. */
static void
fake_data(struct fake *f, uint32_t now)
{
    uint8_t buf[1024];
    uint32_t want = f->size - f->got < sizeof buf ? f->size - f->got : sizeof buf;
    ssize_t n = recv(f->cfd, buf, want, 0);
    if (n <= 0)
        return;
    memcpy(f->data + f->got, buf, (size_t)n);
    f->got += (uint32_t)n;
    if (f->close_after && f->got >= f->close_after) {
        fake_hangup(f);
        return;
    }
    while ((f->acked_chunks + 1) * 8192 <= f->got ||
           (f->got == f->size && f->acked_chunks * 8192 < f->size)) {
        put(f, "\x47", 1);
        f->acked_chunks++;
    }
    if (f->got < f->size)
        return;
    if (f->silent_end) {
        fake_hangup(f);
        if (f->away_ms) {
            close(f->lfd);
            f->lfd = -1;
            f->away = true;
            f->back_at = now + f->away_ms;
        }
        f->step = 6;
        return;
    }
    put(f, "\x44\x45", 2);
    f->step = 5;
}

static size_t
fake_fds(struct fake *f, struct pollfd *fds)
{
    size_t n = 0;
    if (f->lfd >= 0)
        fds[n++] = (struct pollfd){.fd = f->lfd, .events = POLLIN};
    if (f->cfd >= 0)
        fds[n++] = (struct pollfd){.fd = f->cfd, .events = POLLIN};
    return n;
}

static void
fake_step(struct fake *f, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (f->away && (int32_t)(now - f->back_at) >= 0) {
        uint16_t p;
        f->lfd = listen_on(f->port, &p);
        f->away = false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fds[i].revents)
            continue;
        if (fds[i].fd == f->lfd && f->lfd >= 0) {
            int c = accept4(f->lfd, NULL, NULL, SOCK_NONBLOCK);
            if (c < 0)
                continue;
            f->accepts++;
            if (f->cfd >= 0) { /* one client at a time, as the device */
                close(c);
                continue;
            }
            f->cfd = c;
            f->step = 0;
            f->in_len = 0;
        } else if (fds[i].fd == f->cfd && f->cfd >= 0) {
            if (f->step == 4) {
                fake_data(f, now);
                continue;
            }
            ssize_t k = recv(f->cfd, f->in + f->in_len, sizeof f->in - f->in_len, 0);
            if (k <= 0) {
                fake_hangup(f);
                continue;
            }
            f->in_len += (size_t)k;
            fake_control(f);
        }
    }
}

static void
fake_close(struct fake *f)
{
    if (f->cfd >= 0)
        close(f->cfd);
    if (f->lfd >= 0)
        close(f->lfd);
    free(f->data);
}

/* ---- the loop ---- */

static uint32_t
now_ms(void)
{
    return otk_posix_now_ms();
}

static void
run(struct otk_natup *a, struct fake *f, uint32_t limit_ms)
{
    uint32_t t0 = now_ms();
    while (a->state != OTK_NATUP_DONE) {
        struct pollfd fds[8];
        size_t n = otk_natup_pollfds(a, fds, 4);
        size_t m = f ? fake_fds(f, fds + n) : 0;
        uint32_t now = now_ms();
        int32_t wait = otk_natup_next_ms(a, now);
        if (wait < 0 || wait > 50)
            wait = 50;
        poll(fds, n + m, wait);
        now = now_ms();
        if (f)
            fake_step(f, fds + n, m, now);
        otk_natup_step(a, fds, n, now);
        assert_true(now - t0 < limit_ms);
    }
}

static uint8_t *
image(uint32_t size)
{
    uint8_t *p = malloc(size);
    for (uint32_t i = 0; i < size; i++)
        p[i] = (uint8_t)(i * 13 + i / 251);
    return p;
}

static void
setup_attempt(struct otk_natup_cfg *cfg, struct fake *f, const uint8_t *img, uint32_t size)
{
    otk_natup_cfg_defaults(cfg);
    cfg->dev.sin_family = AF_INET;
    cfg->dev.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cfg->dev.sin_port = htons(f->port);
    cfg->natc.image = img;
    cfg->natc.size = size;
    cfg->natc.crypto = otk_posix_crypto();
    cfg->check_gap_ms = 200;
    cfg->check_window_ms = 3000;
}

static void
full_upload(void **state)
{
    (void)state;
    struct fake f = {0};
    struct otk_natup_cfg cfg;
    struct otk_natup *a = malloc(sizeof *a);
    uint32_t size = 300 * 1024 + 77;
    uint8_t *img = image(size);
    char md5[33];

    fake_open(&f);
    setup_attempt(&cfg, &f, img, size);
    otk_natup_start(a, &cfg, now_ms());
    run(a, &f, 20000);
    assert_int_equal(a->c.cause, OTK_NATC_OK);
    assert_int_equal(a->check, OTK_NATUP_CHECK_NONE);
    assert_int_equal(f.got, size);
    assert_memory_equal(f.data, img, size);
    otk_proto_md5_hex(otk_posix_crypto(), img, size, md5);
    assert_memory_equal(f.md5, md5, 32);
    assert_int_equal(a->c.acks, (size + 8191) / 8192);
    assert_int_equal(otk_natup_progress(a), size);
    otk_natup_close(a);
    fake_close(&f);
    free(img);
    free(a);
}

static void
refused(void **state)
{
    (void)state;
    struct fake f = {0};
    struct otk_natup_cfg cfg;
    struct otk_natup *a = malloc(sizeof *a);
    uint8_t img[10] = {0};

    fake_open(&f);
    setup_attempt(&cfg, &f, img, sizeof img);
    close(f.lfd); /* nothing listens there now */
    f.lfd = -1;
    otk_natup_start(a, &cfg, now_ms());
    run(a, NULL, 5000);
    assert_true(a->connect_failed);
    assert_int_equal(a->connect_rc, OTK_NET_UNREACH);
    otk_natup_close(a);
    free(a);
}

/* Closes mid-data: the result is not open (the device cannot have committed), no check. */
static void
dropped_mid_data(void **state)
{
    (void)state;
    struct fake f = {.close_after = 50000};
    struct otk_natup_cfg cfg;
    struct otk_natup *a = malloc(sizeof *a);
    uint32_t size = 200000;
    uint8_t *img = image(size);

    fake_open(&f);
    setup_attempt(&cfg, &f, img, size);
    otk_natup_start(a, &cfg, now_ms());
    run(a, &f, 20000);
    assert_int_equal(a->c.cause, OTK_NATC_CLOSED);
    assert_false(a->c.all_sent);
    assert_int_equal(a->check, OTK_NATUP_CHECK_NONE);
    assert_int_equal(f.accepts, 1);
    otk_natup_close(a);
    fake_close(&f);
    free(img);
    free(a);
}

/* Everything sent, then a close without a result: probes watch the device. */
static void
open_end_checked(void **state)
{
    (void)state;
    uint32_t size = 40000;
    uint8_t *img = image(size);
    struct otk_natup *a = malloc(sizeof *a);
    struct otk_natup_cfg cfg;

    /* the device stays: it answers the first probe */
    struct fake f = {.silent_end = true};
    fake_open(&f);
    setup_attempt(&cfg, &f, img, size);
    otk_natup_start(a, &cfg, now_ms());
    run(a, &f, 20000);
    assert_int_equal(a->c.cause, OTK_NATC_CLOSED);
    assert_true(a->c.all_sent);
    assert_int_equal(a->check, OTK_NATUP_CHECK_STAYED);
    assert_int_equal(a->probes_unanswered, 0);
    assert_int_equal(f.accepts, 2); /* the upload and one probe: nothing re-sent */
    otk_natup_close(a);
    fake_close(&f);

    /* the device restarts: away for a second, then answering */
    struct fake g = {.silent_end = true, .away_ms = 1000};
    fake_open(&g);
    setup_attempt(&cfg, &g, img, size);
    otk_natup_start(a, &cfg, now_ms());
    run(a, &g, 20000);
    assert_int_equal(a->check, OTK_NATUP_CHECK_RESTARTED);
    assert_true(a->probes_unanswered >= 1);
    assert_true(a->check_ms >= 900);
    assert_int_equal(g.got, size);
    otk_natup_close(a);
    fake_close(&g);

    /* the device does not come back within the window */
    struct fake h = {.silent_end = true, .away_ms = 60000};
    fake_open(&h);
    setup_attempt(&cfg, &h, img, size);
    cfg.check_window_ms = 1000;
    otk_natup_start(a, &cfg, now_ms());
    run(a, &h, 20000);
    assert_int_equal(a->check, OTK_NATUP_CHECK_GONE);
    otk_natup_close(a);
    fake_close(&h);
    free(img);
    free(a);
}

static void
probe_kinds(void **state)
{
    (void)state;
    struct otk_natprobe p;
    struct sockaddr_in to = {.sin_family = AF_INET};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    for (int kind = 0; kind < 3; kind++) {
        struct fake f = {.http = kind == 1};
        fake_open(&f);
        to.sin_port = htons(f.port);
        if (kind == 2) {
            close(f.lfd);
            f.lfd = -1;
        }
        otk_natprobe_start(&p, (struct in_addr){htonl(INADDR_ANY)}, &to, 2000, now_ms());
        uint32_t t0 = now_ms();
        while (p.result == OTK_NATPROBE_RUNNING) {
            struct pollfd fds[4];
            size_t n = otk_natprobe_pollfds(&p, fds, 1);
            size_t m = fake_fds(&f, fds + n);
            poll(fds, n + m, 50);
            fake_step(&f, fds + n, m, now_ms());
            otk_natprobe_step(&p, fds, n, now_ms());
            assert_true(now_ms() - t0 < 5000);
        }
        if (kind == 0) {
            assert_int_equal(p.result, OTK_NATPROBE_ANSWERED);
            assert_int_equal(p.version, 2);
        } else if (kind == 1) {
            assert_int_equal(p.result, OTK_NATPROBE_OTHER);
            assert_int_equal(p.byte, 'H');
        } else {
            assert_int_equal(p.result, OTK_NATPROBE_REFUSED);
        }
        otk_natprobe_close(&p);
        fake_close(&f);
    }
}

/* The gzip stream inflates back to the image (zlib's own inflate, gzip framing). */
static void
gzip_round_trip(void **state)
{
    (void)state;
    uint32_t size = 200000;
    uint8_t *img = image(size), *gz, *back = malloc(size);
    uint32_t gz_len;
    uLongf back_len = size;

    assert_true(otk_gzip_available());
    assert_int_equal(otk_gzip(img, size, &gz, &gz_len), OTK_OK);
    assert_true(gz_len > 18 && gz_len < size);
    assert_int_equal(gz[0], 0x1f);
    assert_int_equal(gz[1], 0x8b);
    z_stream z = {0};
    assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = gz;
    z.avail_in = gz_len;
    z.next_out = back;
    z.avail_out = (uInt)back_len;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, size);
    inflateEnd(&z);
    assert_memory_equal(back, img, size);
    free(gz);
    free(back);
    free(img);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_upload),      cmocka_unit_test(refused),
        cmocka_unit_test(dropped_mid_data), cmocka_unit_test(open_end_checked),
        cmocka_unit_test(probe_kinds),      cmocka_unit_test(gzip_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
