/* SPDX-License-Identifier: MIT */
/* The native protocol's listening socket and accepted connection (net_native.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_native.h"
#include "otakit/err.h"
#include "otakit/native.h"
#include "otakit/posix.h"

#define LINGER_MS   2000u /* how long a closed connection drains before it is dropped */
#define READ_ROUNDS 64    /* pieces handed to the engine per wake-up before polling again */

static void
set_err(char *err, size_t cap, const char *what, const char *detail)
{
    if (err && cap)
        snprintf(err, cap, "%s: %s", what, detail);
}

static int
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
linger_drop(struct otk_netnat *nn)
{
    if (nn->linger_fd >= 0)
        close(nn->linger_fd);
    nn->linger_fd = -1;
}

/* Half-close and drain: closing with unread bytes would send a RST, and the uploader could lose
 * our last response byte (an error code, or 0x45). */
static void
start_linger(struct otk_netnat *nn)
{
    linger_drop(nn);
    shutdown(nn->conn_fd, SHUT_WR);
    nn->linger_fd = nn->conn_fd;
    nn->linger_until = otk_posix_now_ms() + LINGER_MS;
    nn->conn_fd = -1;
    nn->closing = false;
    nn->out_len = 0;
}

static void
conn_drop(struct otk_netnat *nn)
{
    if (nn->conn_fd >= 0)
        close(nn->conn_fd);
    nn->conn_fd = -1;
    nn->closing = false;
    nn->out_len = 0;
}

/* Send from the queue what the kernel takes now. @return false if the socket failed. */
static bool
flush_out(struct otk_netnat *nn)
{
    while (nn->out_len > 0) {
        ssize_t w = send(nn->conn_fd, nn->out, nn->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        memmove(nn->out, nn->out + w, nn->out_len - (size_t)w);
        nn->out_len -= (size_t)w;
    }
    return true;
}

int
otk_netnat_open(struct otk_netnat *nn, const char *addr, uint16_t port, char *err, size_t errcap)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    int one = 1, fd;

    memset(nn, 0, sizeof *nn);
    nn->listen_fd = nn->conn_fd = nn->linger_fd = -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        set_err(err, errcap, addr, "not an IPv4 address");
        return OTK_ERR_ARG;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errcap, "socket", strerror(errno));
        return OTK_ERR_IO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0 ||
        set_nonblock(fd) != 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        char what[96];

        snprintf(what, sizeof what, "cannot listen on TCP %s:%u", addr, (unsigned)port);
        set_err(err, errcap, what, strerror(e));
        close(fd);
        return e == EADDRINUSE ? OTK_ERR_BUSY : OTK_ERR_IO;
    }
    nn->listen_fd = fd;
    nn->port = ntohs(sa.sin_port);
    return OTK_OK;
}

void
otk_netnat_attach(struct otk_netnat *nn, const struct otk_dev_input *next, struct otk_dev *dev)
{
    nn->next = *next;
    nn->dev = dev;
}

uint16_t
otk_netnat_port(const struct otk_netnat *nn)
{
    return nn->port;
}

int
otk_netnat_send(struct otk_netnat *nn, const void *buf, size_t len)
{
    if (nn->conn_fd < 0 || nn->closing || len > sizeof nn->out - nn->out_len)
        return OTK_ERR_IO;
    memcpy(nn->out + nn->out_len, buf, len);
    nn->out_len += len;
    return flush_out(nn) ? OTK_OK : OTK_ERR_IO;
}

void
otk_netnat_close_conn(struct otk_netnat *nn)
{
    if (nn->conn_fd < 0)
        return;
    if (flush_out(nn) && nn->out_len > 0) {
        nn->closing = true; /* the rest leaves from the loop, then the close */
        return;
    }
    start_linger(nn);
}

static bool
accepting(const struct otk_netnat *nn)
{
    return nn->next.user && nn->conn_fd < 0 && !otk_dev_native_busy(nn->dev);
}

/* The bytes the next stage takes now (its window, for a link), and where to receive them:
 * *direct is the stage's own memory when it names some (the link's ring: one copy less), else
 * our buffer. */
static size_t
room(struct otk_netnat *nn, uint8_t **direct)
{
    uint8_t *buf = NULL;
    size_t r = nn->next.native_room(nn->next.user, &buf);

    *direct = buf ? buf : nn->in;
    return r < sizeof nn->in ? r : sizeof nn->in;
}

static void
add_pfd(struct pollfd *pfds, int *n, int fd, short events)
{
    pfds[*n].fd = fd;
    pfds[*n].events = events;
    pfds[*n].revents = 0;
    (*n)++;
}

int
otk_netnat_pollfds(struct otk_netnat *nn, struct pollfd *pfds, int *timeout_ms, uint32_t now_ms)
{
    int n = 0;

    if (nn->listen_fd >= 0 && accepting(nn))
        add_pfd(pfds, &n, nn->listen_fd, POLLIN);
    if (nn->conn_fd >= 0) {
        uint8_t *dst;
        bool readable = !nn->closing && room(nn, &dst) > 0;

        add_pfd(pfds, &n, nn->conn_fd,
                (short)((readable ? POLLIN : 0) | (nn->out_len > 0 ? POLLOUT : 0)));
    }
    if (nn->linger_fd >= 0) {
        int32_t left = (int32_t)(nn->linger_until - now_ms);

        add_pfd(pfds, &n, nn->linger_fd, POLLIN);
        if (*timeout_ms < 0 || left < *timeout_ms)
            *timeout_ms = left > 0 ? (int)left : 0;
    }
    return n;
}

static void
process_linger(struct otk_netnat *nn, uint32_t now_ms)
{
    uint8_t junk[1024];

    while (nn->linger_fd >= 0) {
        ssize_t r = recv(nn->linger_fd, junk, sizeof junk, MSG_DONTWAIT);

        if (r > 0 || (r < 0 && errno == EINTR))
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((int32_t)(now_ms - nn->linger_until) >= 0)
                linger_drop(nn);
            return;
        }
        linger_drop(nn); /* EOF or error: the peer has everything it will get */
    }
}

static void
process_accept(struct otk_netnat *nn, uint32_t now_ms)
{
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    struct otk_addr a;
    int one = 1;
    int fd = accept(nn->listen_fd, (struct sockaddr *)&from, &fl);

    if (fd < 0)
        return;
    if (set_nonblock(fd) != 0 || from.sin_family != AF_INET) {
        close(fd);
        return;
    }
    /* Responses are single bytes that the uploader waits for: no Nagle delay on them. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.family = 4;
    memcpy(a.ip, &from.sin_addr.s_addr, 4);
    a.port = ntohs(from.sin_port);
    nn->conn_fd = fd;
    nn->closing = false;
    nn->out_len = 0;
    if (!nn->next.on_native_accept(nn->next.user, &a, now_ms))
        conn_drop(nn); /* throttled or busy: closed at once, nothing said */
}

/* Read and feed the engine until the kernel has nothing more (or a round limit). */
static void
process_read(struct otk_netnat *nn, uint32_t now_ms)
{
    for (int round = 0; round < READ_ROUNDS && nn->conn_fd >= 0 && !nn->closing; round++) {
        uint8_t *dst;
        size_t want = room(nn, &dst), used;
        ssize_t r;

        if (want == 0)
            return; /* back-pressure: the bytes wait in the kernel */
        r = recv(nn->conn_fd, dst, want, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (r <= 0) {
            conn_drop(nn); /* EOF or reset */
            nn->next.on_native_closed(nn->next.user, now_ms);
            return;
        }
        used = nn->next.on_native_data(nn->next.user, dst, (size_t)r, now_ms);
        if (used < (size_t)r)
            return; /* cannot happen: room() said it takes them */
    }
}

void
otk_netnat_process(struct otk_netnat *nn, const struct pollfd *pfds, int n, uint32_t now_ms)
{
    short listen_ev = 0;

    for (int i = 0; i < n; i++)
        if (pfds[i].fd == nn->listen_fd && nn->listen_fd >= 0)
            listen_ev = pfds[i].revents;
    process_linger(nn, now_ms);
    if (nn->conn_fd >= 0 && !flush_out(nn)) {
        bool engine_owned = !nn->closing;

        conn_drop(nn);
        if (engine_owned)
            nn->next.on_native_closed(nn->next.user, now_ms);
    }
    if (nn->conn_fd >= 0 && nn->closing && nn->out_len == 0)
        start_linger(nn);
    if (nn->conn_fd >= 0 && nn->next.user)
        process_read(nn, now_ms);
    if ((listen_ev & POLLIN) && accepting(nn))
        process_accept(nn, now_ms);
    if (nn->conn_fd >= 0 && nn->next.user)
        process_read(nn, now_ms); /* what a fresh client sent with its connection */
}

void
otk_netnat_reset(struct otk_netnat *nn)
{
    if (nn->conn_fd >= 0) {
        flush_out(nn);
        start_linger(nn);
    }
}

void
otk_netnat_flush(struct otk_netnat *nn, uint32_t limit_ms)
{
    uint32_t until = otk_posix_now_ms() + limit_ms;

    while (nn->conn_fd >= 0 && nn->out_len > 0 && (int32_t)(otk_posix_now_ms() - until) < 0) {
        struct pollfd p = {.fd = nn->conn_fd, .events = POLLOUT};

        if (poll(&p, 1, 10) < 0 || !flush_out(nn))
            break;
    }
    if (nn->conn_fd >= 0)
        start_linger(nn);
    while (nn->linger_fd >= 0 && (int32_t)(otk_posix_now_ms() - until) < 0) {
        struct pollfd p = {.fd = nn->linger_fd, .events = POLLIN};

        if (poll(&p, 1, 10) < 0)
            break;
        process_linger(nn, otk_posix_now_ms());
    }
}

void
otk_netnat_close(struct otk_netnat *nn)
{
    conn_drop(nn);
    linger_drop(nn);
    if (nn->listen_fd >= 0)
        close(nn->listen_fd);
    nn->listen_fd = -1;
}
