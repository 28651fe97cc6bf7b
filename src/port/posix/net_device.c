/* SPDX-License-Identifier: MIT */
/* POSIX sockets for the device engine. Nothing here blocks: connects finish in the poll loop,
 * sends that the kernel does not take at once wait in a small queue, and reads happen only while
 * the engine asks for data, so a busy engine pushes back on the uploader through TCP flow
 * control, as a real device does when its loop is stuck in a flash erase. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net_device.h"
#include "otakit/err.h"
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
    if (fl < 0)
        return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void
linger_drop(struct otk_netdev *nd)
{
    if (nd->linger_fd >= 0) {
        close(nd->linger_fd);
        nd->linger_fd = -1;
    }
}

/* Half-close: the peer reads what we sent, then EOF. Unread incoming bytes are drained and
 * discarded until the peer closes too; closing with unread data would send a RST, and the peer
 * could lose our last message (the "OK" or the error text). */
static void
start_linger(struct otk_netdev *nd, int fd)
{
    linger_drop(nd);
    shutdown(fd, SHUT_WR);
    nd->linger_fd = fd;
    nd->linger_until = otk_posix_now_ms() + LINGER_MS;
}

static void
tcp_forget(struct otk_netdev *nd)
{
    nd->tcp_fd = -1;
    nd->tcp = OTK_NETDEV_TCP_NONE;
    nd->in_len = 0;
    nd->out_len = 0;
    nd->peer_eof = false;
    nd->connect_report = false;
}

/* Send from the queue what the kernel takes now. @return false if the socket failed. */
static bool
flush_out(struct otk_netdev *nd)
{
    while (nd->out_len > 0) {
        ssize_t w = send(nd->tcp_fd, nd->out, nd->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return true;
            return false;
        }
        memmove(nd->out, nd->out + w, nd->out_len - (size_t)w);
        nd->out_len -= (size_t)w;
    }
    return true;
}

static int
op_udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct otk_netdev *nd = user;
    if (to->family != 4)
        return OTK_ERR_IO;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    memcpy(&sa.sin_addr.s_addr, to->ip, 4);
    sa.sin_port = htons(to->port);
    ssize_t w;
    do {
        w = sendto(nd->udp_fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof sa);
    } while (w < 0 && errno == EINTR);
    return (w == (ssize_t)len) ? OTK_OK : OTK_ERR_IO;
}

static int
op_tcp_connect(void *user, const struct otk_addr *to)
{
    struct otk_netdev *nd = user;
    if (nd->tcp_fd >= 0) {
        /* A previous connection still open: the device only has one OTA client. */
        if (nd->tcp == OTK_NETDEV_TCP_CONNECTING)
            close(nd->tcp_fd);
        else
            start_linger(nd, nd->tcp_fd);
        tcp_forget(nd);
    }
    if (to->family != 4)
        return OTK_ERR_IO;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return OTK_ERR_IO;
    if (set_nonblock(fd) != 0) {
        close(fd);
        return OTK_ERR_IO;
    }
    /* Acks are tiny and the uploader waits for each one: Nagle would add delayed-ACK stalls. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Before connect, so that the window scale agreed in the handshake fits it: a link model
     * wants as little as possible hidden in the kernel (see docs/EMULATOR.md). */
    if (nd->rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &nd->rcvbuf, sizeof nd->rcvbuf);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    memcpy(&sa.sin_addr.s_addr, to->ip, 4);
    sa.sin_port = htons(to->port);
    tcp_forget(nd);
    nd->tcp_fd = fd;
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc == 0) {
        /* Loopback may connect at once; still report from the loop (no re-entry). */
        nd->tcp = OTK_NETDEV_TCP_CONNECTED;
        nd->connect_report = true;
        nd->connect_status = OTK_OK;
    } else if (errno == EINPROGRESS || errno == EINTR) {
        nd->tcp = OTK_NETDEV_TCP_CONNECTING;
    } else {
        close(fd);
        nd->tcp_fd = -1;
        nd->tcp = OTK_NETDEV_TCP_NONE;
        nd->connect_report = true;
        nd->connect_status = OTK_ERR_IO;
    }
    return OTK_OK;
}

static int
op_tcp_send(void *user, const void *buf, size_t len)
{
    struct otk_netdev *nd = user;
    if (nd->tcp_fd < 0 || nd->tcp == OTK_NETDEV_TCP_CLOSING)
        return OTK_ERR_IO;
    if (len > sizeof nd->out - nd->out_len)
        return OTK_ERR_IO;
    memcpy(nd->out + nd->out_len, buf, len);
    nd->out_len += len;
    if (nd->tcp == OTK_NETDEV_TCP_CONNECTED && !flush_out(nd))
        return OTK_ERR_IO;
    return OTK_OK;
}

static void
op_tcp_close(void *user)
{
    struct otk_netdev *nd = user;
    if (nd->tcp_fd < 0) {
        tcp_forget(nd);
        return;
    }
    if (nd->tcp == OTK_NETDEV_TCP_CONNECTING) {
        close(nd->tcp_fd);
        tcp_forget(nd);
        return;
    }
    /* From now on the engine no longer owns the connection: no closed event will follow. */
    nd->connect_report = false;
    nd->in_len = 0;
    if (flush_out(nd) && nd->out_len > 0) {
        nd->tcp = OTK_NETDEV_TCP_CLOSING;
        return;
    }
    start_linger(nd, nd->tcp_fd);
    tcp_forget(nd);
}

/* The peer sees a reset at once, as when a device's link dies under the connection. */
static void
op_tcp_abort(void *user)
{
    struct otk_netdev *nd = user;
    if (nd->tcp_fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close() sends a RST */
        setsockopt(nd->tcp_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(nd->tcp_fd);
    }
    tcp_forget(nd);
}

int
otk_netdev_open(struct otk_netdev *nd, const char *addr, uint16_t port, int tcp_window, char *err,
                size_t errcap)
{
    memset(nd, 0, sizeof *nd);
    nd->rcvbuf = tcp_window;
    nd->udp_fd = -1;
    nd->tcp_fd = -1;
    nd->linger_fd = -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        set_err(err, errcap, addr, "not an IPv4 address");
        return OTK_ERR_ARG;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        set_err(err, errcap, "socket", strerror(errno));
        return OTK_ERR_IO;
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || set_nonblock(fd) != 0) {
        int e = errno;
        char what[96];
        snprintf(what, sizeof what, "cannot bind UDP %s:%u", addr, (unsigned)port);
        set_err(err, errcap, what, strerror(e));
        close(fd);
        return e == EADDRINUSE ? OTK_ERR_BUSY : OTK_ERR_IO;
    }
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        set_err(err, errcap, "getsockname", strerror(errno));
        close(fd);
        return OTK_ERR_IO;
    }
    nd->udp_fd = fd;
    nd->port = ntohs(sa.sin_port);
    inet_ntop(AF_INET, &sa.sin_addr, nd->bind_str, sizeof nd->bind_str);
    nd->ops_tab.udp_send = op_udp_send;
    nd->ops_tab.tcp_connect = op_tcp_connect;
    nd->ops_tab.tcp_send = op_tcp_send;
    nd->ops_tab.tcp_close = op_tcp_close;
    nd->ops_tab.tcp_abort = op_tcp_abort;
    nd->ops_tab.user = nd;
    return OTK_OK;
}

static int
op_nat_send(void *user, const void *buf, size_t len)
{
    struct otk_netdev *nd = user;

    return nd->nat ? otk_netnat_send(nd->nat, buf, len) : OTK_ERR_IO;
}

static void
op_nat_close(void *user)
{
    struct otk_netdev *nd = user;

    if (nd->nat)
        otk_netnat_close_conn(nd->nat);
}

void
otk_netdev_set_native(struct otk_netdev *nd, struct otk_netnat *nn)
{
    nd->nat = nn;
    nd->ops_tab.nat_send = op_nat_send;
    nd->ops_tab.nat_close = op_nat_close;
}

const struct otk_net_ops *
otk_netdev_ops(struct otk_netdev *nd)
{
    return &nd->ops_tab;
}

void
otk_netdev_attach(struct otk_netdev *nd, const struct otk_dev_input *next)
{
    nd->next = *next;
    nd->attached = true;
}

uint16_t
otk_netdev_port(const struct otk_netdev *nd)
{
    return nd->port;
}

const char *
otk_netdev_addr(const struct otk_netdev *nd)
{
    return nd->bind_str;
}

static void
lower_timeout(int *timeout_ms, int t)
{
    if (*timeout_ms < 0 || t < *timeout_ms)
        *timeout_ms = t;
}

/* How many TCP bytes the next stage takes now (*direct: where to receive them, or NULL). */
static size_t
rx_room(const struct otk_netdev *nd, uint8_t **direct)
{
    *direct = NULL;
    if (!nd->attached)
        return 0;
    size_t room = nd->next.tcp_room(nd->next.user, direct);
    return room < OTK_NETDEV_READ_MAX ? room : OTK_NETDEV_READ_MAX;
}

static bool
rx_wanted(const struct otk_netdev *nd)
{
    uint8_t *direct;
    return rx_room(nd, &direct) > 0;
}

static bool
want_read(const struct otk_netdev *nd)
{
    return nd->tcp == OTK_NETDEV_TCP_CONNECTED && !nd->connect_report && !nd->peer_eof &&
           nd->in_len < sizeof nd->in && rx_wanted(nd);
}

int
otk_netdev_pollfds(struct otk_netdev *nd, struct pollfd *pfds, int *timeout_ms, uint32_t now_ms)
{
    int n = 0;
    pfds[n].fd = nd->udp_fd;
    pfds[n].events = POLLIN;
    pfds[n].revents = 0;
    n++;
    if (nd->tcp_fd >= 0) {
        short ev = 0;
        if (nd->tcp == OTK_NETDEV_TCP_CONNECTING || nd->out_len > 0)
            ev |= POLLOUT;
        if (want_read(nd))
            ev |= POLLIN;
        pfds[n].fd = nd->tcp_fd;
        pfds[n].events = ev;
        pfds[n].revents = 0;
        n++;
    }
    if (nd->linger_fd >= 0) {
        pfds[n].fd = nd->linger_fd;
        pfds[n].events = POLLIN;
        pfds[n].revents = 0;
        n++;
        int32_t left = (int32_t)(nd->linger_until - now_ms);
        lower_timeout(timeout_ms, left > 0 ? (int)left : 0);
    }
    if (nd->connect_report || nd->idle_more)
        lower_timeout(timeout_ms, 0);
    if (nd->tcp == OTK_NETDEV_TCP_CONNECTED && rx_wanted(nd)) {
        if (nd->peer_eof)
            lower_timeout(timeout_ms, 0); /* hand over the rest, then the close */
        else if (nd->in_len > 0)
            lower_timeout(timeout_ms, 5); /* engine pushed back; offer the rest again soon */
    }
    return n;
}

static void
process_linger(struct otk_netdev *nd, uint32_t now_ms)
{
    if (nd->linger_fd < 0)
        return;
    uint8_t junk[4096];
    for (;;) {
        ssize_t r = recv(nd->linger_fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if ((int32_t)(now_ms - nd->linger_until) >= 0)
                linger_drop(nd);
            return;
        }
        linger_drop(nd); /* EOF or error: the peer has everything it will get */
        return;
    }
}

static void
engine_closed(struct otk_netdev *nd, uint32_t now_ms)
{
    if (nd->tcp_fd >= 0)
        close(nd->tcp_fd);
    tcp_forget(nd);
    if (nd->attached)
        nd->next.on_tcp_closed(nd->next.user, now_ms);
}

/* Offer the next stage the bytes at data (nd->in, or its own memory when direct). What it
 * leaves waits in nd->in for the next round. @return bytes it used (0: back-pressure). */
static size_t
offer(struct otk_netdev *nd, const uint8_t *data, size_t len, uint32_t now_ms)
{
    size_t used = nd->next.on_tcp_data(nd->next.user, data, len, now_ms);
    if (nd->tcp != OTK_NETDEV_TCP_CONNECTED)
        return used; /* the stage closed the connection while handling the data */
    if (used > len)
        used = len;
    if (data == nd->in)
        memmove(nd->in, nd->in + used, len - used);
    else
        memcpy(nd->in, data + used, len - used); /* rare: a stage that takes less than it asked */
    nd->in_len = len - used;
    return used;
}

/* Read what the next stage takes and hand it over. @return true if bytes went on. */
static bool
process_read(struct otk_netdev *nd, uint32_t now_ms)
{
    bool moved = false;
    for (int round = 0; round < READ_ROUNDS && nd->tcp == OTK_NETDEV_TCP_CONNECTED; round++) {
        uint8_t *direct;
        size_t room = rx_room(nd, &direct);
        if (room == 0)
            break;
        if (nd->in_len > 0) { /* what the stage left last time goes first */
            size_t len = nd->in_len < room ? nd->in_len : room;
            if (offer(nd, nd->in, len, now_ms) == 0)
                break; /* back-pressure: try again after a tick */
            moved = true;
            continue;
        }
        if (nd->peer_eof) {
            engine_closed(nd, now_ms);
            break;
        }
        uint8_t *dst = direct ? direct : nd->in;
        ssize_t r = recv(nd->tcp_fd, dst, room, MSG_DONTWAIT);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (r <= 0) {
            nd->peer_eof = true; /* EOF or reset: a close, once what is read is used */
            continue;
        }
        nd->tcp_rx_bytes += (uint64_t)r;
        moved = true;
        if (offer(nd, dst, (size_t)r, now_ms) == 0)
            break;
    }
    return moved;
}

/* A connect that poll() says has finished: learn how, and report it from the loop.
 * @return the events left for the connection (none if they were the connect's). */
static short
process_connect(struct otk_netdev *nd, short tcp_ev, uint32_t now_ms)
{
    if (nd->tcp == OTK_NETDEV_TCP_CONNECTING && (tcp_ev & (POLLOUT | POLLERR | POLLHUP))) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(nd->tcp_fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        nd->connect_report = true;
        if (soerr == 0) {
            nd->tcp = OTK_NETDEV_TCP_CONNECTED;
            nd->connect_status = OTK_OK;
        } else {
            close(nd->tcp_fd);
            nd->tcp_fd = -1;
            nd->tcp = OTK_NETDEV_TCP_NONE;
            nd->connect_status = OTK_ERR_IO;
        }
        tcp_ev = 0;
    }
    if (nd->connect_report) {
        nd->connect_report = false;
        if (nd->connect_status == OTK_OK && nd->out_len > 0)
            flush_out(nd);
        if (nd->attached)
            nd->next.on_connected(nd->next.user, nd->connect_status, now_ms);
    }
    return tcp_ev;
}

/* Send what waits; finish a close once the queue is out; notice a dead connection. */
static void
process_write(struct otk_netdev *nd, short tcp_ev, uint32_t now_ms)
{
    if (nd->tcp_fd < 0 ||
        (nd->tcp != OTK_NETDEV_TCP_CONNECTED && nd->tcp != OTK_NETDEV_TCP_CLOSING))
        return;
    bool ok = flush_out(nd);
    if (nd->tcp == OTK_NETDEV_TCP_CLOSING) {
        if (!ok) {
            close(nd->tcp_fd);
            tcp_forget(nd);
        } else if (nd->out_len == 0) {
            start_linger(nd, nd->tcp_fd);
            tcp_forget(nd);
        }
    } else if (!ok) {
        engine_closed(nd, now_ms);
    } else if ((tcp_ev & (POLLERR | POLLHUP)) && !want_read(nd)) {
        /* The connection is dead (reset) while the engine is not reading: tell it now, or
         * poll() would report the hang-up forever. A reading engine learns it from recv()
         * after the buffered bytes. */
        engine_closed(nd, now_ms);
    }
}

/* Hand waiting datagrams on. @return true if one went. */
static bool
process_udp(struct otk_netdev *nd, uint32_t now_ms)
{
    uint8_t dg[1500];
    bool moved = false;
    for (int k = 0; k < 16; k++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t r =
            recvfrom(nd->udp_fd, dg, sizeof dg, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (r < 0)
            break;
        if (from.sin_family != AF_INET || !nd->attached)
            continue;
        struct otk_addr a;
        memset(&a, 0, sizeof a);
        a.family = 4;
        memcpy(a.ip, &from.sin_addr.s_addr, 4);
        a.port = ntohs(from.sin_port);
        nd->next.on_datagram(nd->next.user, &a, dg, (size_t)r, now_ms);
        moved = true;
    }
    return moved;
}

void
otk_netdev_process(struct otk_netdev *nd, const struct pollfd *pfds, int n, uint32_t now_ms)
{
    short udp_ev = 0, tcp_ev = 0;
    for (int i = 0; i < n; i++) {
        if (pfds[i].fd == nd->udp_fd)
            udp_ev = pfds[i].revents;
        else if (pfds[i].fd == nd->tcp_fd && nd->tcp_fd >= 0)
            tcp_ev = pfds[i].revents;
    }
    process_linger(nd, now_ms);
    tcp_ev = process_connect(nd, tcp_ev, now_ms);
    process_write(nd, tcp_ev, now_ms);
    bool moved = false;
    if (nd->attached && nd->tcp == OTK_NETDEV_TCP_CONNECTED)
        moved = process_read(nd, now_ms);
    if ((udp_ev & POLLIN) && process_udp(nd, now_ms))
        moved = true;
    /* No data for the stage now: the engine may use the pause (erase ahead), one unit a pass
     * so that data arriving meanwhile is not kept waiting behind a row of erases. */
    nd->idle_more = !moved && nd->attached && nd->next.on_idle(nd->next.user, now_ms);
}

void
otk_netdev_reset(struct otk_netdev *nd)
{
    uint8_t junk[16];

    /* Datagrams that arrived while the device was going down die with its network stack; the
     * sender retransmits to the device that comes back. */
    while (recv(nd->udp_fd, junk, sizeof junk, MSG_DONTWAIT) >= 0 || errno == EINTR)
        ;
    if (nd->tcp_fd >= 0) {
        if (nd->tcp == OTK_NETDEV_TCP_CONNECTING) {
            close(nd->tcp_fd);
        } else {
            flush_out(nd);
            start_linger(nd, nd->tcp_fd);
        }
    }
    tcp_forget(nd);
}

void
otk_netdev_flush(struct otk_netdev *nd, uint32_t limit_ms)
{
    uint32_t start = otk_posix_now_ms();
    for (;;) {
        uint32_t now = otk_posix_now_ms();
        uint32_t spent = now - start;
        if (spent >= limit_ms)
            break;
        if (nd->tcp == OTK_NETDEV_TCP_CLOSING || (nd->tcp_fd >= 0 && nd->out_len > 0)) {
            if (!flush_out(nd)) {
                close(nd->tcp_fd);
                tcp_forget(nd);
            } else if (nd->out_len == 0 && nd->tcp == OTK_NETDEV_TCP_CLOSING) {
                start_linger(nd, nd->tcp_fd);
                tcp_forget(nd);
            }
        }
        process_linger(nd, now);
        bool busy = nd->linger_fd >= 0 || (nd->tcp_fd >= 0 && nd->out_len > 0);
        if (!busy)
            break;
        struct pollfd p[2];
        int n = 0;
        if (nd->linger_fd >= 0) {
            p[n].fd = nd->linger_fd;
            p[n].events = POLLIN;
            n++;
        }
        if (nd->tcp_fd >= 0 && nd->out_len > 0) {
            p[n].fd = nd->tcp_fd;
            p[n].events = POLLOUT;
            n++;
        }
        int wait = (int)(limit_ms - spent);
        if (wait > 50)
            wait = 50;
        poll(p, (nfds_t)n, wait);
    }
}

void
otk_netdev_close(struct otk_netdev *nd)
{
    if (nd->tcp_fd >= 0)
        close(nd->tcp_fd);
    tcp_forget(nd);
    linger_drop(nd);
    if (nd->udp_fd >= 0) {
        close(nd->udp_fd);
        nd->udp_fd = -1;
    }
}
