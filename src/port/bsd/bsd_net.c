/* SPDX-License-Identifier: MIT */
/* BSD sockets for the device engine, written to the subset lwIP's socket API shares with POSIX
 * (socket, bind, fcntl O_NONBLOCK, select, recv/recvfrom/send/sendto with MSG_DONTWAIT,
 * shutdown, close): the same file runs on an ESP32 and in the unit tests on Linux. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "bsd_net.h"
#include "otakit/err.h"
#if OTK_CFG_PROTO_NATIVE
#include <netinet/tcp.h>

#include "otakit/native.h"
#endif

#define DATAGRAM_MAX 1460u /* an invitation or an answer is far shorter */
#define READ_ROUNDS  8     /* segments handed to the engine per step before looking again */

static bool
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL, 0);
    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

static void
to_sockaddr(const struct otk_addr *a, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    memcpy(&sa->sin_addr.s_addr, a->ip, 4);
    sa->sin_port = htons(a->port);
}

static void
linger_drop(struct otk_bsdnet *n)
{
    if (n->linger_fd >= 0) {
        close(n->linger_fd);
        n->linger_fd = -1;
    }
}

/* Half-close and drain: the peer reads what we sent, then our FIN. */
static void
start_linger(struct otk_bsdnet *n, int fd)
{
    linger_drop(n);
    shutdown(fd, SHUT_WR);
    n->linger_fd = fd;
    n->linger_until = n->now_ms() + OTK_BSDNET_LINGER_MS;
}

static void
tcp_forget(struct otk_bsdnet *n)
{
    n->tcp_fd = -1;
    n->tcp = OTK_BSDNET_TCP_NONE;
    n->in_len = 0;
    n->out_len = 0;
    n->peer_eof = false;
    n->connect_report = false;
}

/* Send from the queue what the stack takes now. @return false if the socket failed. */
static bool
flush_out(struct otk_bsdnet *n)
{
    while (n->out_len > 0) {
        ssize_t w = send(n->tcp_fd, n->out, n->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        memmove(n->out, n->out + w, n->out_len - (size_t)w);
        n->out_len -= (size_t)w;
    }
    return true;
}

static int
op_udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct otk_bsdnet *n = user;
    struct sockaddr_in sa;

    if (to->family != 4)
        return OTK_ERR_IO;
    to_sockaddr(to, &sa);
    ssize_t w = sendto(n->udp_fd, buf, len, MSG_NOSIGNAL, (struct sockaddr *)&sa, sizeof sa);
    return w == (ssize_t)len ? OTK_OK : OTK_ERR_IO;
}

/* A connect that cannot even start is reported from the next step, like any other result: an
 * op never calls back into the engine that called it. */
static void
connect_failed(struct otk_bsdnet *n, int fd)
{
    if (fd >= 0)
        close(fd);
    tcp_forget(n);
    n->connect_report = true;
    n->connect_status = OTK_ERR_IO;
}

static int
op_tcp_connect(void *user, const struct otk_addr *to)
{
    struct otk_bsdnet *n = user;
    struct sockaddr_in sa;

    if (n->tcp_fd >= 0) { /* the device has one OTA client: a new update replaces the old */
        if (n->tcp == OTK_BSDNET_TCP_CONNECTING)
            close(n->tcp_fd);
        else
            start_linger(n, n->tcp_fd);
    }
    tcp_forget(n);
    int fd = to->family == 4 ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    if (fd < 0 || !set_nonblock(fd)) {
        connect_failed(n, fd);
        return OTK_OK;
    }
    to_sockaddr(to, &sa);
    n->tcp_fd = fd;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        n->tcp = OTK_BSDNET_TCP_CONNECTED;
        n->connect_report = true;
        n->connect_status = OTK_OK;
    } else if (errno == EINPROGRESS || errno == EINTR) {
        n->tcp = OTK_BSDNET_TCP_CONNECTING;
    } else {
        connect_failed(n, fd);
    }
    return OTK_OK;
}

static int
op_tcp_send(void *user, const void *buf, size_t len)
{
    struct otk_bsdnet *n = user;

    if (n->tcp_fd < 0 || n->tcp == OTK_BSDNET_TCP_CLOSING || len > sizeof n->out - n->out_len)
        return OTK_ERR_IO;
    memcpy(n->out + n->out_len, buf, len);
    n->out_len += len;
    if (n->tcp == OTK_BSDNET_TCP_CONNECTED && !flush_out(n))
        return OTK_ERR_IO;
    return OTK_OK;
}

static void
op_tcp_close(void *user)
{
    struct otk_bsdnet *n = user;

    if (n->tcp_fd < 0 || n->tcp == OTK_BSDNET_TCP_CONNECTING) {
        if (n->tcp_fd >= 0)
            close(n->tcp_fd);
        tcp_forget(n);
        return;
    }
    /* From now on no event about this connection reaches the engine. */
    n->connect_report = false;
    n->in_len = 0;
    if (flush_out(n) && n->out_len > 0) {
        n->tcp = OTK_BSDNET_TCP_CLOSING;
        return;
    }
    start_linger(n, n->tcp_fd);
    tcp_forget(n);
}

int
otk_bsdnet_open(struct otk_bsdnet *n, uint16_t port, uint32_t (*now_ms)(void))
{
    struct sockaddr_in sa;

    memset(n, 0, sizeof *n);
    n->udp_fd = -1;
    n->tcp_fd = -1;
    n->linger_fd = -1;
#if OTK_CFG_PROTO_NATIVE
    n->lsn_fd = -1;
    n->nat_fd = -1;
#endif
    n->now_ms = now_ms;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(port);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return OTK_ERR_IO;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || !set_nonblock(fd)) {
        int busy = errno == EADDRINUSE;
        close(fd);
        return busy ? OTK_ERR_BUSY : OTK_ERR_IO;
    }
    n->udp_fd = fd;
    n->ops_tab.udp_send = op_udp_send;
    n->ops_tab.tcp_connect = op_tcp_connect;
    n->ops_tab.tcp_send = op_tcp_send;
    n->ops_tab.tcp_close = op_tcp_close;
    n->ops_tab.user = n;
    return OTK_OK;
}

uint16_t
otk_bsdnet_port(const struct otk_bsdnet *n)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;

    if (n->udp_fd < 0 || getsockname(n->udp_fd, (struct sockaddr *)&sa, &sl) != 0)
        return 0;
    return ntohs(sa.sin_port);
}

const struct otk_net_ops *
otk_bsdnet_ops(struct otk_bsdnet *n)
{
    return &n->ops_tab;
}

void
otk_bsdnet_attach(struct otk_bsdnet *n, struct otk_dev *dev)
{
    n->dev = dev;
}

static bool
want_read(const struct otk_bsdnet *n)
{
    return n->tcp == OTK_BSDNET_TCP_CONNECTED && !n->connect_report && !n->peer_eof &&
           n->in_len < sizeof n->in && otk_dev_wants_data(n->dev);
}

/* Bytes wait for the engine (it pushed back, or the peer's close follows them). */
static bool
data_pending(const struct otk_bsdnet *n)
{
    return n->tcp == OTK_BSDNET_TCP_CONNECTED && otk_dev_wants_data(n->dev) &&
           (n->in_len > 0 || n->peer_eof);
}

/* How long select() may wait: up to max, never past the engine's deadline or a lingering
 * close's end, not at all when a result or data waits in the port. */
static uint32_t
wait_limit(const struct otk_bsdnet *n, uint32_t max, uint32_t now)
{
    uint32_t at;

    if (n->connect_report)
        return 0;
#if OTK_CFG_PROTO_NATIVE
    if (n->nat_fd >= 0 && !n->nat_closing && (n->nat_eof || n->nat_in_len > 0))
        return 0; /* the engine takes all it is given: hand over the rest, or the close */
#endif
    if (data_pending(n))
        return n->in_len > 0 && !n->peer_eof ? (max < 5u ? max : 5u) : 0;
    if (otk_dev_next_deadline(n->dev, &at)) {
        int32_t left = (int32_t)(at - now);
        if (left <= 0)
            return 0;
        if ((uint32_t)left < max)
            max = (uint32_t)left;
    }
    if (n->linger_fd >= 0) {
        int32_t left = (int32_t)(n->linger_until - now);
        uint32_t l = left > 0 ? (uint32_t)left : 0u;
        if (l < max)
            max = l;
    }
    return max;
}

static void
add_fd(int fd, fd_set *set, int *maxfd)
{
    FD_SET(fd, set);
    if (fd > *maxfd)
        *maxfd = fd;
}

#if OTK_CFG_PROTO_NATIVE
static void
nat_forget(struct otk_bsdnet *n)
{
    n->nat_fd = -1;
    n->nat_eof = false;
    n->nat_closing = false;
    n->nat_in_len = 0;
    n->nat_out_len = 0;
}

/* Send from the native queue what the stack takes now. @return false if the socket failed. */
static bool
nat_flush(struct otk_bsdnet *n)
{
    while (n->nat_out_len > 0) {
        ssize_t w = send(n->nat_fd, n->nat_out, n->nat_out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        memmove(n->nat_out, n->nat_out + w, n->nat_out_len - (size_t)w);
        n->nat_out_len -= (size_t)w;
    }
    return true;
}

static int
op_nat_send(void *user, const void *buf, size_t len)
{
    struct otk_bsdnet *n = user;

    if (n->nat_fd < 0 || n->nat_closing || len > sizeof n->nat_out - n->nat_out_len)
        return OTK_ERR_IO;
    memcpy(n->nat_out + n->nat_out_len, buf, len);
    n->nat_out_len += len;
    return nat_flush(n) ? OTK_OK : OTK_ERR_IO;
}

/* No closed event follows the engine's own close. */
static void
op_nat_close(void *user)
{
    struct otk_bsdnet *n = user;

    if (n->nat_fd < 0)
        return;
    n->nat_in_len = 0;
    if (nat_flush(n) && n->nat_out_len > 0) {
        n->nat_closing = true;
        return;
    }
    start_linger(n, n->nat_fd);
    nat_forget(n);
}

int
otk_bsdnet_listen_native(struct otk_bsdnet *n)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    sa.sin_port = htons(otk_bsdnet_port(n));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return OTK_ERR_IO;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* a restart finds it free */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1) != 0 ||
        !set_nonblock(fd)) {
        int busy = errno == EADDRINUSE;
        close(fd);
        return busy ? OTK_ERR_BUSY : OTK_ERR_IO;
    }
    n->lsn_fd = fd;
    n->ops_tab.nat_send = op_nat_send;
    n->ops_tab.nat_close = op_nat_close;
    return OTK_OK;
}

static void
nat_accept(struct otk_bsdnet *n, uint32_t now)
{
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    struct otk_addr a;
    int one = 1;
    int fd = accept(n->lsn_fd, (struct sockaddr *)&from, &fl);

    if (fd < 0)
        return;
    memset(&a, 0, sizeof a);
    a.family = 4;
    memcpy(a.ip, &from.sin_addr.s_addr, 4);
    a.port = ntohs(from.sin_port);
    /* one-byte answers back to back: Nagle would hold each behind the peer's delayed ack */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    nat_forget(n);
    if (!set_nonblock(fd) || !otk_dev_on_native_accept(n->dev, &a, now)) {
        close(fd); /* busy, or a source waiting out its throttle delay */
        return;
    }
    n->nat_fd = fd;
}

static void
nat_closed(struct otk_bsdnet *n, uint32_t now)
{
    close(n->nat_fd);
    nat_forget(n);
    otk_dev_on_native_closed(n->dev, now);
}

/* Flush, read and feed the native connection. @return whether bytes reached the engine. */
static bool
step_native(struct otk_bsdnet *n, bool listener_ready, uint32_t now)
{
    bool fed = false;

    if (n->nat_fd >= 0 && n->nat_closing) {
        if (!nat_flush(n) || n->nat_out_len == 0) {
            start_linger(n, n->nat_fd);
            nat_forget(n);
        }
    } else if (n->nat_fd >= 0 && !nat_flush(n)) {
        nat_closed(n, now);
    }
    if (n->nat_fd < 0 && listener_ready && !otk_dev_native_busy(n->dev))
        nat_accept(n, now);
    for (int round = 0; round < READ_ROUNDS && n->nat_fd >= 0 && !n->nat_closing; round++) {
        if (!n->nat_eof && n->nat_in_len < sizeof n->nat_in) {
            ssize_t r = recv(n->nat_fd, n->nat_in + n->nat_in_len, sizeof n->nat_in - n->nat_in_len,
                             MSG_DONTWAIT);
            if (r > 0)
                n->nat_in_len += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                n->nat_eof = true;
        }
        if (n->nat_in_len == 0) {
            if (n->nat_eof)
                nat_closed(n, now);
            break;
        }
        size_t used = otk_dev_on_native_data(n->dev, n->nat_in, n->nat_in_len, now);
        fed = true;
        if (n->nat_fd < 0 || n->nat_closing)
            break; /* the engine closed it while handling the data */
        if (used > n->nat_in_len)
            used = n->nat_in_len;
        memmove(n->nat_in, n->nat_in + used, n->nat_in_len - used);
        n->nat_in_len -= used;
        if (used == 0)
            break;
    }
    return fed;
}

static void
nat_wait_fds(struct otk_bsdnet *n, fd_set *rd, fd_set *wr, int *maxfd)
{
    if (n->lsn_fd >= 0 && n->nat_fd < 0 && !otk_dev_native_busy(n->dev))
        add_fd(n->lsn_fd, rd, maxfd);
    if (n->nat_fd >= 0) {
        if (!n->nat_closing && !n->nat_eof && n->nat_in_len < sizeof n->nat_in)
            add_fd(n->nat_fd, rd, maxfd);
        if (n->nat_out_len > 0)
            add_fd(n->nat_fd, wr, maxfd);
    }
}
#endif

static void
wait_sockets(struct otk_bsdnet *n, uint32_t wait_ms, fd_set *rd, fd_set *wr)
{
    struct timeval tv = {.tv_sec = (time_t)(wait_ms / 1000u),
                         .tv_usec = (suseconds_t)((wait_ms % 1000u) * 1000u)};
    int maxfd = -1;

    FD_ZERO(rd);
    FD_ZERO(wr);
    add_fd(n->udp_fd, rd, &maxfd);
    if (n->tcp_fd >= 0) {
        if (n->tcp == OTK_BSDNET_TCP_CONNECTING || n->out_len > 0)
            add_fd(n->tcp_fd, wr, &maxfd);
        if (want_read(n))
            add_fd(n->tcp_fd, rd, &maxfd);
    }
    if (n->linger_fd >= 0)
        add_fd(n->linger_fd, rd, &maxfd);
#if OTK_CFG_PROTO_NATIVE
    nat_wait_fds(n, rd, wr, &maxfd);
#endif
    if (select(maxfd + 1, rd, wr, NULL, &tv) < 0) {
        FD_ZERO(rd);
        FD_ZERO(wr);
    }
}

static void
step_linger(struct otk_bsdnet *n, uint32_t now)
{
    uint8_t junk[256];

    if (n->linger_fd < 0)
        return;
    for (;;) {
        ssize_t r = recv(n->linger_fd, junk, sizeof junk, MSG_DONTWAIT);
        if (r > 0)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if ((int32_t)(now - n->linger_until) >= 0)
                linger_drop(n);
            return;
        }
        linger_drop(n); /* the peer closed too (or reset): it has all it will get */
        return;
    }
}

static void
step_connect(struct otk_bsdnet *n, bool writable, uint32_t now)
{
    if (n->tcp == OTK_BSDNET_TCP_CONNECTING && writable) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(n->tcp_fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr == 0) {
            n->tcp = OTK_BSDNET_TCP_CONNECTED;
            n->connect_report = true;
            n->connect_status = OTK_OK;
        } else {
            connect_failed(n, n->tcp_fd);
        }
    }
    if (n->connect_report) {
        n->connect_report = false;
        if (n->connect_status == OTK_OK)
            flush_out(n);
        otk_dev_on_connected(n->dev, n->connect_status, now);
    }
}

static void
engine_closed(struct otk_bsdnet *n, uint32_t now)
{
    if (n->tcp_fd >= 0)
        close(n->tcp_fd);
    tcp_forget(n);
    otk_dev_on_tcp_closed(n->dev, now);
}

/* Send what waits; a closing connection goes to linger once its queue is out. */
static void
step_send(struct otk_bsdnet *n, uint32_t now)
{
    if (n->tcp_fd < 0 || (n->tcp != OTK_BSDNET_TCP_CONNECTED && n->tcp != OTK_BSDNET_TCP_CLOSING))
        return;
    bool ok = flush_out(n);
    if (n->tcp == OTK_BSDNET_TCP_CLOSING) {
        if (!ok) {
            close(n->tcp_fd);
            tcp_forget(n);
        } else if (n->out_len == 0) {
            start_linger(n, n->tcp_fd);
            tcp_forget(n);
        }
    } else if (!ok) {
        engine_closed(n, now);
    }
}

/* @return whether any byte reached the engine. */
static bool
step_read(struct otk_bsdnet *n, uint32_t now)
{
    bool fed = false;

    for (int round = 0; round < READ_ROUNDS; round++) {
        if (n->tcp != OTK_BSDNET_TCP_CONNECTED || !otk_dev_wants_data(n->dev))
            break;
        if (!n->peer_eof && n->in_len < sizeof n->in) {
            ssize_t r = recv(n->tcp_fd, n->in + n->in_len, sizeof n->in - n->in_len, MSG_DONTWAIT);
            if (r > 0)
                n->in_len += (size_t)r;
            else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                n->peer_eof = true; /* closed or reset: a close once the buffer is used */
        }
        if (n->in_len == 0) {
            if (n->peer_eof)
                engine_closed(n, now);
            break;
        }
        size_t used = otk_dev_on_tcp_data(n->dev, n->in, n->in_len, now);
        fed = true;
        if (n->tcp != OTK_BSDNET_TCP_CONNECTED)
            break; /* the engine closed the connection while handling the data */
        if (used > n->in_len)
            used = n->in_len;
        memmove(n->in, n->in + used, n->in_len - used);
        n->in_len -= used;
        if (used == 0)
            break; /* back-pressure: offer the rest at the next step */
    }
    return fed;
}

/* @return whether a datagram arrived. */
static bool
step_udp(struct otk_bsdnet *n, uint32_t now)
{
    uint8_t dg[DATAGRAM_MAX];
    bool got = false;

    for (int k = 0; k < 4; k++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t r = recvfrom(n->udp_fd, dg, sizeof dg, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (r < 0)
            break;
        if (from.sin_family != AF_INET)
            continue;
        struct otk_addr a;
        memset(&a, 0, sizeof a);
        a.family = 4;
        memcpy(a.ip, &from.sin_addr.s_addr, 4);
        a.port = ntohs(from.sin_port);
        otk_dev_on_datagram(n->dev, &a, dg, (size_t)r, now);
        got = true;
    }
    return got;
}

void
otk_bsdnet_step(struct otk_bsdnet *n, uint32_t max_wait_ms)
{
    fd_set rd, wr;
    uint32_t at;

    if (n->dev == NULL || n->udp_fd < 0)
        return;
    wait_sockets(n, wait_limit(n, max_wait_ms, n->now_ms()), &rd, &wr);
    uint32_t now = n->now_ms();
    step_linger(n, now);
    step_connect(n, n->tcp_fd >= 0 && FD_ISSET(n->tcp_fd, &wr), now);
    step_send(n, now);
    bool busy = step_read(n, now);
    if (FD_ISSET(n->udp_fd, &rd))
        busy = step_udp(n, now) || busy;
#if OTK_CFG_PROTO_NATIVE
    busy = step_native(n, n->lsn_fd >= 0 && FD_ISSET(n->lsn_fd, &rd), now) || busy;
#endif
    now = n->now_ms();
    if (otk_dev_next_deadline(n->dev, &at) && (int32_t)(now - at) >= 0)
        otk_dev_tick(n->dev, now);
    if (!busy)
        otk_dev_on_idle(n->dev, now); /* erase ahead while the network has nothing for us */
}

void
otk_bsdnet_close(struct otk_bsdnet *n)
{
    if (n->tcp_fd >= 0)
        close(n->tcp_fd);
    tcp_forget(n);
    linger_drop(n);
#if OTK_CFG_PROTO_NATIVE
    if (n->nat_fd >= 0)
        close(n->nat_fd);
    nat_forget(n);
    if (n->lsn_fd >= 0)
        close(n->lsn_fd);
    n->lsn_fd = -1;
#endif
    if (n->udp_fd >= 0) {
        close(n->udp_fd);
        n->udp_fd = -1;
    }
}
