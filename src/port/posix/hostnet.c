/* SPDX-License-Identifier: MIT */
/* Host sockets for POSIX systems (otakit/hostnet.h). Linux extras where they exist: ICMP errors
 * through IP_RECVERR, unacknowledged bytes through SIOCOUTQ (TIOCOUTQ). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/errqueue.h>
#include <netinet/ip_icmp.h>
#endif

#include "otakit/hostnet.h"

/* The text of the last failure: the host tool is single-threaded, and the engine reads it right
 * after the failing call. */
static char last_error[160];

static int
fail(int err, int rc)
{
    snprintf(last_error, sizeof last_error, "%s", strerror(err));
    return rc;
}

static int
map_errno(int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
        return OTK_NET_AGAIN;
    case ECONNREFUSED:
        return fail(err, OTK_NET_UNREACH);
    case ECONNRESET:
        return fail(err, OTK_NET_RESET);
    case EPIPE:
        return fail(err, OTK_NET_PIPE);
    case EADDRINUSE:
        return fail(err, OTK_NET_INUSE);
    case EADDRNOTAVAIL:
        return fail(err, OTK_NET_NOADDR);
    case EACCES:
        return fail(err, OTK_NET_DENIED);
    default:
        return fail(err, OTK_NET_FAIL);
    }
}

int
otk_net_init(void)
{
    return OTK_NET_OK;
}

const char *
otk_net_strerror(void)
{
    return last_error;
}

int
otk_net_udp_open(struct in_addr ip, otk_sock *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return map_errno(errno);
#ifdef IP_RECVERR
    /* Report ICMP errors (port unreachable: nothing listens there) instead of hiding them. */
    int on = 1;
    (void)setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
#endif
    if (ip.s_addr != htonl(INADDR_ANY)) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = ip};
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) {
            int e = errno;
            close(fd);
            return map_errno(e);
        }
    }
    *out = fd;
    return OTK_NET_OK;
}

int
otk_net_tcp_listen(struct in_addr ip, uint16_t port, int sndbuf, otk_sock *out, uint16_t *bound)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = ip};
    socklen_t alen = sizeof a;
    int on = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return map_errno(errno);
    /* a fixed -P port must be reusable at once after the previous upload */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    /* accepted sockets inherit it: a small send queue keeps progress honest */
    if (sndbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 1) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
        int e = errno;
        close(fd);
        return map_errno(e);
    }
    *bound = ntohs(a.sin_port);
    *out = fd;
    return OTK_NET_OK;
}

int
otk_net_tcp_connect(struct in_addr src, const struct sockaddr_in *to, int sndbuf, otk_sock *out)
{
    struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr = src};
    int on = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return map_errno(errno);
    if (sndbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    if (src.s_addr != htonl(INADDR_ANY) && bind(fd, (struct sockaddr *)&from, sizeof from) < 0) {
        int e = errno;
        close(fd);
        return map_errno(e);
    }
    *out = fd;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0)
        return OTK_NET_OK;
    if (errno == EINPROGRESS)
        return OTK_NET_AGAIN;
    int e = errno;
    close(fd);
    *out = OTK_SOCK_NONE;
    return map_errno(e);
}

int
otk_net_connect_result(otk_sock s)
{
    int err = 0;
    socklen_t len = sizeof err;

    if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return map_errno(errno);
    if (err == EINPROGRESS || err == EALREADY)
        return OTK_NET_AGAIN;
    return err ? map_errno(err) : OTK_NET_OK;
}

int
otk_net_accept(otk_sock listener, otk_sock *out, struct sockaddr_in *peer)
{
    socklen_t plen = sizeof *peer;
    int fd = accept4(listener, (struct sockaddr *)peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return errno == ECONNABORTED ? OTK_NET_AGAIN : map_errno(errno);
    *out = fd;
    return OTK_NET_OK;
}

long
otk_net_sendto(otk_sock s, const void *buf, size_t len, const struct sockaddr_in *to)
{
    ssize_t n = sendto(s, buf, len, MSG_NOSIGNAL, (const struct sockaddr *)to, sizeof *to);
    return n < 0 ? map_errno(errno) : (long)n;
}

long
otk_net_recvfrom(otk_sock s, void *buf, size_t cap, struct sockaddr_in *from)
{
    socklen_t flen = sizeof *from;
    ssize_t n = recvfrom(s, buf, cap, 0, (struct sockaddr *)from, &flen);
    return n < 0 ? map_errno(errno) : (long)n;
}

long
otk_net_send(otk_sock s, const void *buf, size_t len)
{
    ssize_t n = send(s, buf, len, MSG_NOSIGNAL);
    return n < 0 ? map_errno(errno) : (long)n;
}

long
otk_net_recv(otk_sock s, void *buf, size_t cap)
{
    ssize_t n = recv(s, buf, cap, 0);
    return n < 0 ? map_errno(errno) : (long)n;
}

long
otk_net_unacked(otk_sock s)
{
#ifdef TIOCOUTQ
    /* Linux: bytes in the send queue, unsent or not yet acknowledged by the peer. A reset
     * empties the queue without any byte being acknowledged: say the count is lost. */
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    int outq = 0;
    if (getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_CLOSE)
        return OTK_NET_RESET;
    if (ioctl(s, TIOCOUTQ, &outq) == 0 && outq >= 0)
        return outq;
#else
    (void)s;
#endif
    return -1;
}

bool
otk_net_take_icmp(otk_sock s, char *text, size_t cap)
{
    bool unreach = false;

    if (cap)
        text[0] = 0;
#ifdef IP_RECVERR
    for (;;) {
        char cbuf[512], dbuf[256];
        struct iovec iov = {dbuf, sizeof dbuf};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
        if (recvmsg(s, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
            break;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
            if (cm->cmsg_level != IPPROTO_IP || cm->cmsg_type != IP_RECVERR)
                continue;
            struct sock_extended_err ee;
            memcpy(&ee, CMSG_DATA(cm), sizeof ee);
            if (ee.ee_origin == SO_EE_ORIGIN_ICMP && ee.ee_type == ICMP_DEST_UNREACH &&
                ee.ee_code == ICMP_PORT_UNREACH)
                unreach = true;
            if (cap)
                snprintf(text, cap, "%s", strerror((int)ee.ee_errno));
        }
    }
#else
    (void)s;
#endif
    return unreach;
}

void
otk_net_close(otk_sock *s)
{
    if (*s >= 0) {
        close(*s);
        *s = OTK_SOCK_NONE;
    }
}

int
otk_net_resolve4(const char *name, struct in_addr *out, char *why, size_t cap)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);

    if (rc != 0 || !res) {
        if (cap)
            snprintf(why, cap, "%s", rc == 0 ? "no IPv4 address" : gai_strerror(rc));
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    *out = ((const struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

int
otk_net_source_for(const struct sockaddr_in *to, struct in_addr *src)
{
    /* connect() on a UDP socket sends nothing; it only makes the kernel pick the route */
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int rc = -1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0) {
        *src = a.sin_addr;
        rc = 0;
    }
    close(fd);
    return rc;
}

int
otk_net_poll(struct pollfd *fds, size_t n, int timeout_ms)
{
    int r = poll(fds, (nfds_t)n, timeout_ms);
    if (r < 0)
        return errno == EINTR ? OTK_NET_AGAIN : fail(errno, OTK_NET_FAIL);
    return r;
}
