/* SPDX-License-Identifier: MIT */
/* The POSIX port's native-protocol listener (src/port/posix/net_native.c) over real sockets on
 * 127.0.0.1: it receives the accepted connection's bytes straight into the memory the next
 * stage's native_room names (the emulator's link ring: one copy less between the kernel and
 * the flash write), and into its own buffer when the stage names none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_native.h"
#include "otakit/err.h"

#define SENT 3000u

/* A next stage that names its own memory (or none) and records where the bytes were. */
struct rec {
    bool direct;         /* native_room names ring */
    uint8_t ring[512];   /* the stage's memory */
    const uint8_t *want; /* where every piece must be */
    uint8_t got[SENT];
    size_t got_len;
    int accepts, misplaced;
};

static bool
rec_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    (void)from;
    (void)now_ms;
    ((struct rec *)user)->accepts++;
    return true;
}

static size_t
rec_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct rec *r = user;
    (void)now_ms;
    if (data != r->want)
        r->misplaced++;
    if (len > sizeof r->got - r->got_len)
        len = sizeof r->got - r->got_len;
    memcpy(r->got + r->got_len, data, len);
    r->got_len += len;
    return len;
}

static void
rec_closed(void *user, uint32_t now_ms)
{
    (void)user;
    (void)now_ms;
}

static size_t
rec_room(void *user, uint8_t **buf)
{
    struct rec *r = user;
    *buf = r->direct ? r->ring : NULL;
    return sizeof r->ring;
}

static int
client_to(uint16_t port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* SENT bytes from a client on 127.0.0.1 through the listener into r. */
static void
run_transfer(struct rec *r)
{
    static struct otk_dev dev; /* never attached: never busy, so the listener accepts */
    struct otk_netnat nn;
    uint8_t sent[SENT];
    char err[128];

    memset(&nn, 0, sizeof nn);
    nn.listen_fd = nn.conn_fd = nn.linger_fd = -1;
    assert_int_equal(otk_netnat_open(&nn, "127.0.0.1", 0, err, sizeof err), OTK_OK);
    struct otk_dev_input next = {.on_native_accept = rec_accept,
                                 .on_native_data = rec_data,
                                 .on_native_closed = rec_closed,
                                 .native_room = rec_room,
                                 .user = r};
    otk_netnat_attach(&nn, &next, &dev);
    r->want = r->direct ? r->ring : nn.in;
    for (size_t i = 0; i < SENT; i++)
        sent[i] = (uint8_t)(i * 7u + 1u);
    int fd = client_to(otk_netnat_port(&nn));
    assert_int_equal(send(fd, sent, SENT, 0), (ssize_t)SENT);
    for (int round = 0; round < 200 && r->got_len < SENT; round++) {
        struct pollfd pfds[OTK_NETNAT_NFDS];
        int timeout = 20;
        int n = otk_netnat_pollfds(&nn, pfds, &timeout, 0);
        assert_true(poll(pfds, (nfds_t)n, timeout) >= 0);
        otk_netnat_process(&nn, pfds, n, 0);
    }
    close(fd);
    otk_netnat_close(&nn);
    assert_int_equal(r->accepts, 1);
    assert_int_equal(r->got_len, SENT);
    assert_memory_equal(r->got, sent, SENT);
}

static void
receives_into_the_stage_memory(void **state)
{
    (void)state;
    static struct rec r;
    memset(&r, 0, sizeof r);
    r.direct = true;
    run_transfer(&r);
    assert_int_equal(r.misplaced, 0); /* every piece arrived in the stage's ring */
}

static void
receives_into_its_own_buffer_otherwise(void **state)
{
    (void)state;
    static struct rec r;
    memset(&r, 0, sizeof r);
    r.direct = false;
    run_transfer(&r);
    assert_int_equal(r.misplaced, 0); /* every piece in the listener's buffer */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(receives_into_the_stage_memory),
        cmocka_unit_test(receives_into_its_own_buffer_otherwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
