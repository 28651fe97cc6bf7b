/* SPDX-License-Identifier: MIT */
/* The emulator's link model (sim/link.c) on a virtual clock: one-way delays both ways, the TCP
 * receive window and its updates, radio holds; and the fault stage in front of it
 * (sim/fault_stage.c), as the emulator chains them: sockets -> faults -> link -> engine. The
 * device behind them is the real engine (on the unit tests' rig); "the host" is a recording
 * otk_net_ops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fault_stage.h"
#include "faults.h"
#include "helper_fakenet.h"
#include "helper_rig.h"
#include "link.h"
#include "otakit/err.h"

struct t {
    struct rig *r;
    struct fakenet host; /* what leaves the device's side of the air */
    struct otk_link *l;
    struct otk_dev_input in; /* the fault stage's input table: the sockets' side */
    struct otk_net_ops down; /* host's ops with a counting tcp_abort */
    struct otk_faults faults;
    struct otk_fault_stage stage;
    uint64_t now; /* us */
    int aborts;
    struct otk_addr from;
};

static uint64_t
clock_us(void *user)
{
    return ((struct t *)user)->now;
}

static void
abort_tcp(void *user)
{
    /* user is the host's (down.user): the test state holds it */
    struct t *t = (struct t *)((char *)user - offsetof(struct t, host));
    t->aborts++;
}

static void
link_rx_datagram(struct t *t, const struct otk_addr *from, const uint8_t *data, size_t len)
{
    t->in.on_datagram(t->in.user, from, data, len, (uint32_t)(t->now / 1000));
}

static void
link_rx_connected(struct t *t, int status)
{
    t->in.on_connected(t->in.user, status, (uint32_t)(t->now / 1000));
}

static size_t
link_rx_tcp(struct t *t, const uint8_t *data, size_t len)
{
    return t->in.on_tcp_data(t->in.user, data, len, (uint32_t)(t->now / 1000));
}

static size_t
link_rx_room(struct t *t)
{
    uint8_t *buf;
    return t->in.tcp_room(t->in.user, &buf);
}

static void
silence(void *user, uint32_t ms)
{
    otk_link_silence(((struct t *)user)->l, ms);
}

/* ESP32 device, no password, link: RTT 8 ms without jitter, unlimited bandwidth, window 5744;
 * the fault stage (with `fault`, or none) between the host and the link. */
static struct t *
setup(const char *fault)
{
    static struct t t;
    struct otk_link_params p;
    struct otk_link_io io;
    struct otk_dev_config cfg;
    char err[200];

    memset(&t, 0, sizeof t);
    t.r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    fakenet_init(&t.host);
    memset(&p, 0, sizeof p);
    p.rtt_us = 8000;
    p.window = 5744;
    memset(&io, 0, sizeof io);
    t.down = t.host.ops;
    t.down.tcp_abort = abort_tcp;
    otk_faults_init(&t.faults, 3);
    if (fault)
        assert_int_equal(otk_faults_add(&t.faults, fault, err, sizeof err), 0);
    struct otk_fault_stage_io fio = {.down = &t.down, .silence = silence, .user = &t};
    otk_fault_stage_init(&t.stage, &t.faults, &fio);
    io.down = otk_fault_stage_ops(&t.stage);
    io.clock_us = clock_us;
    io.user = &t;
    t.now = 1000000;
    t.l = otk_link_new(&p, 1, &io);
    assert_non_null(t.l);
    cfg = t.r->dev.cfg;
    assert_int_equal(otk_dev_init(&t.r->dev, &cfg, otk_link_ops(t.l), &t.r->flash.ops,
                                  t.r->dev.crypto, NULL, t.r->sector),
                     OTK_OK);
    struct otk_dev_input engine = otk_dev_input(&t.r->dev);
    otk_link_attach(t.l, &engine);
    struct otk_dev_input link_in = otk_link_input(t.l);
    otk_fault_stage_attach(&t.stage, &link_in);
    t.in = otk_fault_stage_input(&t.stage);
    t.from = fakenet_addr("127.0.0.1", 40000);
    return &t;
}

static void
teardown(struct t *t)
{
    otk_link_free(t->l);
    rig_free(t->r);
}

static void
at(struct t *t, uint64_t us)
{
    t->now = us;
    otk_link_process(t->l);
}

static void
invite(struct t *t)
{
    char inv[100];
    snprintf(inv, sizeof inv, "0 48266 %u %s\n", (unsigned)t->r->img_size, t->r->md5);
    link_rx_datagram(t, &t->from, (const uint8_t *)inv, strlen(inv));
}

/* An invitation takes half a round trip to the device, the "OK" and the connect another half
 * back; the connection's SYN-ACK half a round trip again. */
static void
handshake_delays(void **state)
{
    (void)state;
    struct t *t = setup(NULL);
    uint64_t t0 = t->now;

    invite(t);
    assert_int_equal(otk_link_next_us(t->l), 4000);
    at(t, t0 + 3999);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_IDLE);
    at(t, t0 + 4000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECTING);
    assert_int_equal(t->host.n_dgrams, 0); /* "OK" still in the air */
    assert_int_equal(t->host.connects, 0);
    at(t, t0 + 7999);
    assert_int_equal(t->host.n_dgrams, 0);
    at(t, t0 + 8000);
    assert_string_equal(fakenet_last_dgram(&t->host), "OK");
    assert_int_equal(t->host.connects, 1);
    link_rx_connected(t, OTK_OK);
    at(t, t0 + 11999);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECTING);
    at(t, t0 + 12000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_RECEIVING);
    teardown(t);
}

/* The window: the device takes no more than 5744 bytes until the sender has heard, half a round
 * trip after the engine read them, that they were consumed. */
static void
receive_window(void **state)
{
    (void)state;
    struct t *t = setup(NULL);
    uint64_t t0 = t->now;
    const uint8_t *img = t->r->img;

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    assert_int_equal(link_rx_room(t), 5744);
    assert_int_equal(link_rx_tcp(t, img, 1460), 1460);
    assert_int_equal(link_rx_room(t), 5744 - 1460);
    assert_int_equal(link_rx_tcp(t, img + 1460, 10000), 5744 - 1460);
    assert_int_equal(link_rx_room(t), 0);
    assert_int_equal(link_rx_tcp(t, img + 5744, 100), 0);
    at(t, t0 + 11999);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), 0);
    at(t, t0 + 12000); /* connected, and every byte arrived */
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), 5744);
    assert_int_equal(t->host.tcp_len, 0); /* the acks are on their way */
    assert_int_equal(link_rx_room(t), 0);
    at(t, t0 + 15999);
    assert_int_equal(link_rx_room(t), 0);
    at(t, t0 + 16000);
    assert_int_equal(link_rx_room(t), 5744);
    assert_string_equal(t->host.tcp, "1460146014601364"); /* in pieces of at most 1460 */
    (void)img;
    teardown(t);
}

/* While the radio is held nothing gets through either way; then everything that waited does. */
static void
radio_hold(void **state)
{
    (void)state;
    struct t *t = setup(NULL);
    uint64_t t0 = t->now;

    otk_link_radio_hold(t->l, true, 0);
    invite(t);
    assert_int_equal(otk_link_next_us(t->l), -1);
    at(t, t0 + 50000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_IDLE);
    otk_link_radio_hold(t->l, false, 0);
    at(t, t0 + 50000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECTING);
    /* a hold during the reply: it waits */
    otk_link_radio_hold(t->l, true, 0);
    at(t, t0 + 60000);
    assert_int_equal(t->host.n_dgrams, 0);
    assert_int_equal(link_rx_room(t), 0);
    otk_link_radio_hold(t->l, false, 0);
    at(t, t0 + 60000);
    assert_string_equal(fakenet_last_dgram(&t->host), "OK");
    teardown(t);
}

/* The port may receive straight into the link's ring (tcp_room names the place): the bytes
 * reach the engine from there, with no copy in between, and the image arrives intact. */
static void
receive_in_place(void **state)
{
    (void)state;
    struct t *t = setup(NULL);
    uint64_t t0 = t->now;
    uint32_t off = 0;

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    for (int round = 0; round < 10000 && off < t->r->img_size; round++) {
        uint8_t *buf = NULL;
        size_t room = t->in.tcp_room(t->in.user, &buf);
        size_t n = room < t->r->img_size - off ? room : t->r->img_size - off;
        if (n > 0) {
            assert_non_null(buf);
            memcpy(buf, t->r->img + off, n); /* what recv() would do */
            assert_int_equal(link_rx_tcp(t, buf, n), n);
            off += (uint32_t)n;
        }
        at(t, t->now + 1000);
    }
    for (int i = 0; i < 100 && otk_dev_state(&t->r->dev) == OTK_DEV_RECEIVING; i++)
        at(t, t->now + 1000);
    assert_int_equal(off, t->r->img_size);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), t->r->img_size);
    assert_memory_equal(t->r->flash.mem + t->r->dev.cfg.layout.app_offset[1], t->r->img,
                        t->r->img_size);
    teardown(t);
}

static void
fault_lose_invite(void **state)
{
    (void)state;
    struct t *t = setup("lose-invite:2");
    uint64_t t0 = t->now;

    invite(t);
    invite(t);
    at(t, t0 + 10000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_IDLE);
    invite(t); /* the third gets through */
    at(t, t0 + 20000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECTING);
    teardown(t);
}

static void
fault_lose_ok_and_dup(void **state)
{
    (void)state;
    struct t *t = setup("lose-ok");
    uint64_t t0 = t->now;

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    assert_int_equal(t->host.n_dgrams, 0); /* lost */
    assert_int_equal(t->host.connects, 1); /* the device connects all the same */
    teardown(t);

    t = setup("dup");
    t0 = t->now;
    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    /* two invitations arrived: the repeat gets "OK" again; each "OK" went out twice */
    assert_int_equal(t->host.n_dgrams, 4);
    teardown(t);
}

/* "drop": the device gets exactly N bytes, then its connection is reset; "corrupt" flips one. */
static void
fault_drop_and_corrupt(void **state)
{
    (void)state;
    struct t *t = setup("drop:3000");
    uint64_t t0 = t->now;

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    assert_int_equal(link_rx_tcp(t, t->r->img, 5000), 3000);
    assert_int_equal(link_rx_room(t), 0);
    at(t, t0 + 8000);
    assert_int_equal(t->aborts, 1);
    at(t, t0 + 12000);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), 3000);  /* exactly N bytes, then */
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_IDLE); /* the close: aborted */
    teardown(t);

    t = setup("corrupt:10");
    t0 = t->now;
    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    assert_int_equal(link_rx_tcp(t, t->r->img, 4096), 4096);
    at(t, t0 + 12000);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), 4096);
    /* the sector went to flash with byte 10 flipped */
    assert_int_equal(t->r->flash.mem[t->r->dev.cfg.layout.app_offset[1] + 10],
                     t->r->img[10] ^ OTK_FAULT_CORRUPT_XOR);
    teardown(t);
}

static void
fault_refuse_connect(void **state)
{
    (void)state;
    struct t *t = setup("refuse-connect:2");
    uint64_t t0 = t->now;

    invite(t);
    at(t, t0 + 4000);
    assert_int_equal(t->host.connects, 0);
    /* refused after a round trip; the engine tries again 250 ms later, twice */
    at(t, t0 + 12000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECT_WAIT);
    t->now = t0 + 262000;
    otk_dev_tick(&t->r->dev, (uint32_t)(t->now / 1000));
    at(t, t0 + 270000);
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECT_WAIT);
    t->now = t0 + 520000;
    otk_dev_tick(&t->r->dev, (uint32_t)(t->now / 1000));
    at(t, t0 + 524000);
    assert_int_equal(t->host.connects, 1); /* the third goes out */
    assert_int_equal(otk_dev_state(&t->r->dev), OTK_DEV_CONNECTING);
    teardown(t);
}

/* "stall": the bytes before N still arrive, then the air is silent both ways for S: the
 * engine's acks wait in it, nothing more is taken from the socket; after it, all flows again. */
static void
fault_stall(void **state)
{
    (void)state;
    struct t *t = setup("stall:0.05:3000");
    uint64_t t0 = t->now;

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    assert_int_equal(link_rx_tcp(t, t->r->img, 5000), 3000);
    assert_int_equal(link_rx_room(t), 0);
    at(t, t0 + 12000);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), 3000); /* arrived before the silence */
    at(t, t0 + 40000);
    assert_int_equal(t->host.tcp_len, 0); /* the acks wait in the silent air */
    assert_int_equal(link_rx_room(t), 0);
    at(t, t0 + 62001); /* the silence began just after the last byte arrived, 50 ms long */
    assert_string_equal(t->host.tcp, "1460146080");
    assert_int_equal(link_rx_room(t), 5744);
    assert_int_equal(link_rx_tcp(t, t->r->img + 3000, 2000), 2000); /* it fired once */
    assert_int_equal(t->faults.f[0].fired, 1);
    teardown(t);
}

/* "corrupt" with the port receiving in place (into the link's ring): only byte N differs in
 * flash, and it reached the ring through the stage's one-byte copy, the rest where it lay. */
static void
fault_corrupt_in_place(void **state)
{
    (void)state;
    struct t *t = setup("corrupt:5000");
    uint64_t t0 = t->now;
    uint32_t off = 0, want = 8192; /* two sectors: both written to flash */

    invite(t);
    at(t, t0 + 4000);
    at(t, t0 + 8000);
    link_rx_connected(t, OTK_OK);
    for (int round = 0; round < 1000 && off < want; round++) {
        uint8_t *buf = NULL;
        size_t room = t->in.tcp_room(t->in.user, &buf);
        size_t n = room < want - off ? room : want - off;
        if (n > 0) {
            memcpy(buf, t->r->img + off, n); /* what recv() would do */
            assert_int_equal(link_rx_tcp(t, buf, n), n);
            off += (uint32_t)n;
        }
        at(t, t->now + 1000);
    }
    at(t, t->now + 10000);
    assert_int_equal(otk_upd_progress(&t->r->dev.upd), want);
    const uint8_t *flash = t->r->flash.mem + t->r->dev.cfg.layout.app_offset[1];
    assert_memory_equal(flash, t->r->img, 5000);
    assert_int_equal(flash[5000], t->r->img[5000] ^ OTK_FAULT_CORRUPT_XOR);
    assert_memory_equal(flash + 5001, t->r->img + 5001, want - 5001);
    assert_int_equal(t->faults.f[0].fired, 1);
    teardown(t);
}

/* A next stage that records what the fault stage passes on (no engine, no link: the stage's
 * native side alone). */
struct rec {
    uint8_t tcp[512], nat[512];
    size_t tcp_len, nat_len;
    int accepts, nat_closed;
};

static size_t
rec_tcp_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct rec *r = user;
    (void)now_ms;
    memcpy(r->tcp + r->tcp_len, data, len);
    r->tcp_len += len;
    return len;
}

static bool
rec_native_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    (void)from;
    (void)now_ms;
    ((struct rec *)user)->accepts++;
    return true;
}

static size_t
rec_native_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct rec *r = user;
    (void)now_ms;
    memcpy(r->nat + r->nat_len, data, len);
    r->nat_len += len;
    return len;
}

static void
rec_native_closed(void *user, uint32_t now_ms)
{
    (void)now_ms;
    ((struct rec *)user)->nat_closed++;
}

static size_t
rec_room(void *user, uint8_t **buf)
{
    (void)user;
    *buf = NULL;
    return 512;
}

/* The native protocol's accepted connection goes through the same faults with its own byte
 * count (from its accept): a corrupt byte and a drop at byte N of that connection, whatever
 * ArduinoOTA's connection carried before; the drop closes it towards the engine and the port
 * (nat_close: no reset for an accepted connection) and nothing more of it passes. */
static void
fault_native_connection(void **state)
{
    (void)state;
    struct fakenet host;
    struct otk_faults faults;
    struct otk_fault_stage st;
    struct rec r;
    uint8_t bytes[256];
    char err[128];
    uint8_t *buf;
    struct otk_addr from = fakenet_addr("127.0.0.1", 40001);

    fakenet_init(&host);
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)i;
    otk_faults_init(&faults, 3);
    assert_int_equal(otk_faults_add(&faults, "corrupt:30", err, sizeof err), 0);
    assert_int_equal(otk_faults_add(&faults, "drop:100", err, sizeof err), 0);
    struct otk_fault_stage_io fio = {.down = &host.ops};
    otk_fault_stage_init(&st, &faults, &fio);
    struct otk_dev_input next = {.on_tcp_data = rec_tcp_data,
                                 .tcp_room = rec_room,
                                 .on_native_accept = rec_native_accept,
                                 .on_native_data = rec_native_data,
                                 .on_native_closed = rec_native_closed,
                                 .native_room = rec_room,
                                 .user = &r};
    otk_fault_stage_attach(&st, &next);
    struct otk_dev_input in = otk_fault_stage_input(&st);
    assert_non_null(in.on_native_data); /* the port's ops have nat_send / nat_close */

    /* 80 bytes of ArduinoOTA's connection: byte 30 flipped there, no drop (N is 100) */
    assert_int_equal(in.on_tcp_data(in.user, bytes, 80, 0), 80);
    assert_int_equal(r.tcp[30], bytes[30] ^ OTK_FAULT_CORRUPT_XOR);
    /* the native connection counts from its own start: 100 bytes pass, then the drop */
    assert_true(in.on_native_accept(in.user, &from, 0));
    assert_int_equal(in.native_room(in.user, &buf), 512);
    assert_int_equal(in.on_native_data(in.user, bytes, 150, 0), 100);
    assert_int_equal(r.nat_len, 100);
    assert_memory_equal(r.nat, bytes, 100); /* the corrupt fault fired once, on the other */
    assert_int_equal(r.nat_closed, 1);
    assert_int_equal(host.nat_closes, 1);
    assert_int_equal(host.closes, 0);
    assert_int_equal(in.native_room(in.user, &buf), 0);
    assert_int_equal(in.on_native_data(in.user, bytes + 100, 50, 0), 50); /* lost */
    in.on_native_closed(in.user, 0); /* the port's own close of it: already told */
    assert_int_equal(r.nat_len, 100);
    assert_int_equal(r.nat_closed, 1);
    assert_int_equal(faults.f[0].fired + faults.f[1].fired, 2);
    /* the next native connection starts clean (the faults fired once) */
    assert_true(in.on_native_accept(in.user, &from, 0));
    assert_int_equal(in.on_native_data(in.user, bytes, 150, 0), 150);
    assert_int_equal(r.nat_len, 250);
    assert_int_equal(r.accepts, 2);
}

static void
fault_specs(void **state)
{
    (void)state;
    struct otk_faults f;
    char err[1024];

    otk_faults_init(&f, 1);
    assert_int_equal(otk_faults_add(&f, "stall:2.5:1000", err, sizeof err), 0);
    assert_int_equal(f.f[0].stall_ms, 2500);
    assert_int_equal(f.f[0].at, 1000);
    assert_int_equal(otk_faults_add(&f, "lose-ok:3", err, sizeof err), 0);
    assert_int_equal(f.f[1].left, 3);
    assert_int_equal(otk_faults_add(&f, "explode", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown fault"));
    assert_int_equal(otk_faults_add(&f, "drop:x", err, sizeof err), -1);
    assert_int_equal(otk_faults_add(&f, "lose-invite:0", err, sizeof err), -1);
    assert_int_equal(otk_faults_add(&f, "stall:0", err, sizeof err), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(handshake_delays),
        cmocka_unit_test(receive_window),
        cmocka_unit_test(radio_hold),
        cmocka_unit_test(receive_in_place),
        cmocka_unit_test(fault_lose_invite),
        cmocka_unit_test(fault_lose_ok_and_dup),
        cmocka_unit_test(fault_drop_and_corrupt),
        cmocka_unit_test(fault_refuse_connect),
        cmocka_unit_test(fault_stall),
        cmocka_unit_test(fault_corrupt_in_place),
        cmocka_unit_test(fault_native_connection),
        cmocka_unit_test(fault_specs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
