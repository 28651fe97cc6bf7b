/* SPDX-License-Identifier: MIT */
/* The BSD-socket network of the ESP-IDF port (src/port/bsd/bsd_net.c), run on Linux: the real
 * engine on an in-RAM flash behind real sockets on 127.0.0.1, and the uploader's half of
 * ArduinoOTA written out here (invitation, connect-back, data, acks, the final "OK"). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bsd_net.h"
#include "helper_rig.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/native.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

struct bench {
    struct rig *r; /* engine config, flash, image */
    struct otk_bsdnet net;
    int reboots;
    int errors;
    enum otk_ota_error last_ota_error;
    int host_udp;   /* the uploader's UDP socket */
    int host_lsn;   /* its TCP listener for the connect-back */
    uint16_t lport; /* the listener's port */
};

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct bench *b = user;
    if (ev->type == OTK_EV_ERROR) {
        b->errors++;
        b->last_ota_error = ev->ota_error;
    }
}

static void
on_reboot(void *user)
{
    ((struct bench *)user)->reboots++;
}

static int
loopback_socket(int type, uint16_t *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    int fd = socket(AF_INET, type, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void
bench_init(struct bench *b)
{
    struct otk_dev_hooks hooks = {on_event, on_reboot, b};
    struct otk_dev_config cfg;
    uint16_t uport;

    memset(b, 0, sizeof *b);
    b->r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    cfg = b->r->dev.cfg;
    assert_int_equal(otk_bsdnet_open(&b->net, 0, otk_posix_now_ms), OTK_OK);
    assert_true(otk_bsdnet_port(&b->net) != 0);
    assert_int_equal(otk_dev_init(&b->r->dev, &cfg, otk_bsdnet_ops(&b->net), &b->r->flash.ops,
                                  otk_posix_crypto(), &hooks, b->r->sector),
                     OTK_OK);
    otk_bsdnet_attach(&b->net, &b->r->dev);
    b->host_udp = loopback_socket(SOCK_DGRAM, &uport);
    b->host_lsn = loopback_socket(SOCK_STREAM, &b->lport);
    assert_int_equal(listen(b->host_lsn, 1), 0);
}

static void
bench_free(struct bench *b)
{
    otk_bsdnet_close(&b->net);
    close(b->host_udp);
    if (b->host_lsn >= 0)
        close(b->host_lsn);
    rig_free(b->r);
}

static void
invite(struct bench *b, uint32_t size, const char *md5)
{
    struct sockaddr_in dev = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(otk_bsdnet_port(&b->net))};
    char msg[96];
    int len = snprintf(msg, sizeof msg, "0 %u %u %s\n", (unsigned)b->lport, (unsigned)size, md5);

    assert_int_equal(sendto(b->host_udp, msg, (size_t)len, 0, (struct sockaddr *)&dev, sizeof dev),
                     len);
}

/* Step the device until the uploader's UDP socket has a reply; return it (NUL-terminated). */
static void
await_reply(struct bench *b, char *out, size_t cap)
{
    for (int i = 0; i < 200; i++) {
        otk_bsdnet_step(&b->net, 10);
        ssize_t r = recv(b->host_udp, out, cap - 1, MSG_DONTWAIT);
        if (r >= 0) {
            out[r] = '\0';
            return;
        }
    }
    fail_msg("no UDP reply from the device");
}

static int
await_connection(struct bench *b)
{
    for (int i = 0; i < 200; i++) {
        otk_bsdnet_step(&b->net, 10);
        int fd = accept(b->host_lsn, NULL, NULL);
        if (fd >= 0) {
            assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK), 0);
            return fd;
        }
    }
    fail_msg("the device did not connect back");
    return -1;
}

/* Stream the image, stepping the device, collecting what it sends back into text until it
 * closes (or 10 s pass). */
static size_t
stream(struct bench *b, int fd, char *text, size_t cap)
{
    const uint8_t *img = b->r->img;
    size_t sent = 0, got = 0;
    uint32_t until = otk_posix_now_ms() + 10000;

    while ((int32_t)(otk_posix_now_ms() - until) < 0) {
        if (sent < b->r->img_size) {
            size_t want = b->r->img_size - sent > 1460 ? 1460 : b->r->img_size - sent;
            ssize_t w = send(fd, img + sent, want, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0)
                sent += (size_t)w;
        }
        otk_bsdnet_step(&b->net, 2);
        ssize_t r = recv(fd, text + got, cap - 1 - got, MSG_DONTWAIT);
        if (r == 0)
            break;
        if (r > 0)
            got += (size_t)r;
    }
    text[got] = '\0';
    assert_int_equal(sent, b->r->img_size);
    return got;
}

/* A whole update over loopback: "OK" to the invitation, the connect-back, acks, the final
 * "OK", the image in slot 1, otadata naming it NEW, the reboot hook. */
static void
test_update_over_loopback(void **state)
{
    struct bench b;
    char reply[64];
    static char text[65536];
    struct otk_slots_status st;
    uint8_t back[256];

    (void)state;
    bench_init(&b);
    invite(&b, b.r->img_size, b.r->md5);
    await_reply(&b, reply, sizeof reply);
    assert_string_equal(reply, "OK");
    int fd = await_connection(&b);
    size_t n = stream(&b, fd, text, sizeof text);
    assert_true(n >= 2);
    /* acks (ESP32: the bytes of each piece taken, as digits), then the final "OK" */
    assert_true(text[0] >= '1' && text[0] <= '9');
    assert_string_equal(text + n - 2, "OK");
    for (int i = 0; i < 100 && b.reboots == 0; i++)
        otk_bsdnet_step(&b.net, 20);
    assert_int_equal(b.reboots, 1);
    assert_int_equal(b.errors, 0);
    assert_int_equal(otk_slots_read(&b.r->flash.ops, &b.r->dev.cfg.layout, &st), OTK_OK);
    assert_int_equal(st.boot_slot, 1);
    assert_int_equal(st.boot_state, OTK_OTA_NEW);
    assert_int_equal(b.r->flash.ops.read(b.r->flash.ops.user, b.r->dev.cfg.layout.app_offset[1],
                                         back, sizeof back),
                     OTK_OK);
    assert_memory_equal(back, b.r->img, sizeof back);
    close(fd);
    bench_free(&b);
}

/* Nobody listens where the invitation says: the connect fails, the engine reports ArduinoOTA's
 * connect error and goes back to idle, and the otadata is untouched. */
static void
test_connect_refused(void **state)
{
    struct bench b;
    char reply[64];
    struct otk_slots_status st;

    (void)state;
    bench_init(&b);
    close(b.host_lsn);
    b.host_lsn = -1;
    invite(&b, b.r->img_size, b.r->md5);
    await_reply(&b, reply, sizeof reply);
    assert_string_equal(reply, "OK");
    for (int i = 0; i < 400 && b.errors == 0; i++)
        otk_bsdnet_step(&b.net, 10);
    assert_int_equal(b.errors, 1);
    assert_int_equal(b.last_ota_error, OTK_OTA_CONNECT_ERROR);
    assert_int_equal(otk_dev_state(&b.r->dev), OTK_DEV_IDLE);
    assert_int_equal(otk_slots_read(&b.r->flash.ops, &b.r->dev.cfg.layout, &st), OTK_OK);
    assert_int_equal(st.active_entry, -1);
    bench_free(&b);
}

/* A second device cannot take a port in use: OTK_ERR_BUSY, and the first keeps it. */
static void
test_port_in_use(void **state)
{
    struct otk_bsdnet a, b;

    (void)state;
    assert_int_equal(otk_bsdnet_open(&a, 0, otk_posix_now_ms), OTK_OK);
    assert_int_equal(otk_bsdnet_open(&b, otk_bsdnet_port(&a), otk_posix_now_ms), OTK_ERR_BUSY);
    assert_int_equal(otk_bsdnet_port(&b), 0);
    assert_true(otk_bsdnet_port(&a) != 0);
    otk_bsdnet_close(&a);
}

/* ESPHome's native protocol on the listening socket: a whole upload from a client written out
 * here (espota2 without a password: magic, features, size, MD5, the image, the end ack), the
 * image in slot 1, the engine's close reaching the client, the reboot after the pause. */
static int
nat_connect(struct bench *b)
{
    struct sockaddr_in dev = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons(otk_bsdnet_port(&b->net))};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&dev, sizeof dev), 0);
    assert_int_equal(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK), 0);
    return fd;
}

/* Send all of buf, stepping the device while the socket is full. */
static void
nat_send_all(struct bench *b, int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t sent = 0;

    for (int i = 0; i < 100000 && sent < len; i++) {
        ssize_t w = send(fd, p + sent, len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            sent += (size_t)w;
        otk_bsdnet_step(&b->net, 0);
    }
    assert_int_equal(sent, len);
}

/* Step the device until `want` bytes came back (or the peer closed); @return the count. */
static size_t
nat_read(struct bench *b, int fd, uint8_t *out, size_t want)
{
    size_t got = 0;

    for (int i = 0; i < 500 && got < want; i++) {
        otk_bsdnet_step(&b->net, 5);
        ssize_t r = recv(fd, out + got, want - got, MSG_DONTWAIT);
        if (r == 0)
            break;
        if (r > 0)
            got += (size_t)r;
    }
    return got;
}

static void
test_native_upload(void **state)
{
    static struct otk_nat nat;
    struct otk_nat_config ncfg;
    struct bench b;
    uint8_t in[16];
    struct otk_slots_status st;

    (void)state;
    bench_init(&b);
    memset(&ncfg, 0, sizeof ncfg);
    ncfg.version = 1; /* no chunk acks: the answers below are fixed */
    assert_int_equal(otk_bsdnet_listen_native(&b.net), OTK_OK); /* gives the ops nat_send */
    assert_int_equal(otk_dev_native_attach(&b.r->dev, &nat, &ncfg), OTK_OK);
    int fd = nat_connect(&b);
    nat_send_all(&b, fd, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN);
    assert_int_equal(nat_read(&b, fd, in, 2), 2);
    assert_int_equal(in[0], 0x00);
    assert_int_equal(in[1], 1);
    nat_send_all(&b, fd, "\x00", 1); /* features: none */
    assert_int_equal(nat_read(&b, fd, in, 2), 2);
    assert_memory_equal(in, "\x40\x41", 2); /* header OK, no password: auth OK */
    uint32_t size = b.r->img_size;
    uint8_t be[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                     (uint8_t)size};
    nat_send_all(&b, fd, be, 4);
    assert_int_equal(nat_read(&b, fd, in, 1), 1);
    assert_int_equal(in[0], 0x42);
    nat_send_all(&b, fd, b.r->md5, 32);
    assert_int_equal(nat_read(&b, fd, in, 1), 1);
    assert_int_equal(in[0], 0x43);
    nat_send_all(&b, fd, b.r->img, b.r->img_size);
    assert_int_equal(nat_read(&b, fd, in, 2), 2);
    assert_memory_equal(in, "\x44\x45", 2); /* received, update ended */
    nat_send_all(&b, fd, "\x00", 1);
    assert_int_equal(nat_read(&b, fd, in, 1), 0); /* the device closed the connection */
    for (int i = 0; i < 100 && b.reboots == 0; i++)
        otk_bsdnet_step(&b.net, 20);
    assert_int_equal(b.reboots, 1);
    assert_int_equal(b.errors, 0);
    assert_int_equal(otk_slots_read(&b.r->flash.ops, &b.r->dev.cfg.layout, &st), OTK_OK);
    assert_int_equal(st.boot_slot, 1);
    close(fd);
    bench_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_over_loopback),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_native_upload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
