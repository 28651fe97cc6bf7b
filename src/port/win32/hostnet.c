/* SPDX-License-Identifier: MIT */
/* Host sockets for Windows (otakit/hostnet.h) on Winsock 2. What differs from POSIX, and why
 * it is handled here and nowhere else:
 * - Winsock must be started (WSAStartup) and reports errors through WSAGetLastError().
 * - An ICMP "port unreachable" for a UDP socket makes the next recvfrom() fail with
 *   WSAECONNRESET (there is no separate error queue).
 * - SO_REUSEADDR would let another program take a listening port: it is not set.
 * - WSAPoll() refuses an empty set, so poll over nothing sleeps.
 * - Unacknowledged bytes come from SIO_TCP_INFO (Windows 10 1703 and later) where present: its
 *   BytesInFlight counts bytes sent and not yet acknowledged, not those still queued unsent, so
 *   progress may run ahead by up to the send buffer (64 KB); elsewhere (older Windows, wine) it
 *   counts what the socket took. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "otakit/hostnet.h"

#include <mstcpip.h>
#include <windows.h>

static char last_error[160];

static void
set_text(int err)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             (DWORD)err, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), last_error,
                             sizeof last_error, NULL);
    /* FormatMessage ends its text with ".\r\n"; the engine adds its own punctuation */
    while (n > 0 && (last_error[n - 1] == '\n' || last_error[n - 1] == '\r' ||
                     last_error[n - 1] == '.' || last_error[n - 1] == ' '))
        last_error[--n] = 0;
    if (n == 0)
        snprintf(last_error, sizeof last_error, "Winsock error %d", err);
}

static int
map_error(int err)
{
    int rc;

    switch (err) {
    case WSAEWOULDBLOCK:
    case WSAEINTR:
    case WSAEINPROGRESS:
        return OTK_NET_AGAIN;
    case WSAECONNREFUSED:
        rc = OTK_NET_UNREACH;
        break;
    case WSAECONNRESET:
    case WSAECONNABORTED:
        rc = OTK_NET_RESET;
        break;
    case WSAESHUTDOWN:
    case WSAENOTCONN:
        rc = OTK_NET_PIPE;
        break;
    case WSAEADDRINUSE:
        rc = OTK_NET_INUSE;
        break;
    case WSAEADDRNOTAVAIL:
        rc = OTK_NET_NOADDR;
        break;
    case WSAEACCES:
        rc = OTK_NET_DENIED;
        break;
    default:
        rc = OTK_NET_FAIL;
        break;
    }
    set_text(err);
    return rc;
}

static int
last(void)
{
    return map_error(WSAGetLastError());
}

int
otk_net_init(void)
{
    static int started; /* the CLI is single-threaded */
    WSADATA wsa;
    int err;

    if (started)
        return OTK_NET_OK;
    err = WSAStartup(MAKEWORD(2, 2), &wsa);
    if (err != 0) {
        set_text(err);
        return OTK_NET_FAIL;
    }
    started = 1;
    return OTK_NET_OK;
}

const char *
otk_net_strerror(void)
{
    return last_error;
}

/* Non-blocking, and not inherited by child processes (the POSIX port's SOCK_CLOEXEC). */
static int
prepare(SOCKET s)
{
    u_long on = 1;
    (void)SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    return ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : -1;
}

int
otk_net_udp_open(struct in_addr ip, otk_sock *out)
{
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
    struct sockaddr_in a;

    if (s == INVALID_SOCKET)
        return last();
    if (prepare(s) != 0) {
        int rc = last();
        closesocket(s);
        return rc;
    }
    /* Winsock reports ICMP port unreachable as WSAECONNRESET on recvfrom() by default
     * (SIO_UDP_CONNRESET on): exactly what the engine wants to know. */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr = ip;
    /* Unlike POSIX, recvfrom() on a UDP socket that was never bound fails: always bind. */
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) {
        int rc = last();
        closesocket(s);
        return rc;
    }
    *out = (otk_sock)s;
    return OTK_NET_OK;
}

int
otk_net_tcp_listen(struct in_addr ip, uint16_t port, int sndbuf, otk_sock *out, uint16_t *bound)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in a;
    int alen = sizeof a;

    if (s == INVALID_SOCKET)
        return last();
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr = ip;
    if (sndbuf > 0)
        (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, (const char *)&sndbuf, sizeof sndbuf);
    if (prepare(s) != 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 1) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &alen) != 0) {
        int rc = last();
        closesocket(s);
        return rc;
    }
    *bound = ntohs(a.sin_port);
    *out = (otk_sock)s;
    return OTK_NET_OK;
}

int
otk_net_tcp_connect(struct in_addr src, const struct sockaddr_in *to, int sndbuf, otk_sock *out)
{
    SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in from;
    BOOL on = TRUE;
    int rc;

    if (s == INVALID_SOCKET)
        return last();
    if (sndbuf > 0)
        (void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, (const char *)&sndbuf, sizeof sndbuf);
    (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, sizeof on);
    memset(&from, 0, sizeof from);
    from.sin_family = AF_INET;
    from.sin_addr = src;
    if (prepare(s) != 0 ||
        (src.s_addr != htonl(INADDR_ANY) && bind(s, (struct sockaddr *)&from, sizeof from) != 0)) {
        rc = last();
        closesocket(s);
        return rc;
    }
    *out = (otk_sock)s;
    if (connect(s, (const struct sockaddr *)to, sizeof *to) == 0)
        return OTK_NET_OK;
    rc = last(); /* WSAEWOULDBLOCK: under way */
    if (rc != OTK_NET_AGAIN) {
        closesocket(s);
        *out = OTK_SOCK_NONE;
    }
    return rc;
}

int
otk_net_connect_result(otk_sock s)
{
    int err = 0;
    int len = sizeof err;

    if (getsockopt((SOCKET)s, SOL_SOCKET, SO_ERROR, (char *)&err, &len) != 0)
        return last();
    return err ? map_error(err) : OTK_NET_OK;
}

int
otk_net_accept(otk_sock listener, otk_sock *out, struct sockaddr_in *peer)
{
    int plen = sizeof *peer;
    SOCKET s = accept((SOCKET)listener, (struct sockaddr *)peer, &plen);

    if (s == INVALID_SOCKET)
        return last();
    if (prepare(s) != 0) {
        int rc = last();
        closesocket(s);
        return rc;
    }
    *out = (otk_sock)s;
    return OTK_NET_OK;
}

long
otk_net_sendto(otk_sock s, const void *buf, size_t len, const struct sockaddr_in *to)
{
    int n =
        sendto((SOCKET)s, (const char *)buf, (int)len, 0, (const struct sockaddr *)to, sizeof *to);
    return n == SOCKET_ERROR ? last() : n;
}

long
otk_net_recvfrom(otk_sock s, void *buf, size_t cap, struct sockaddr_in *from)
{
    int flen = sizeof *from;
    int n = recvfrom((SOCKET)s, (char *)buf, (int)cap, 0, (struct sockaddr *)from, &flen);

    if (n != SOCKET_ERROR)
        return n;
    /* on a UDP socket, "connection reset" is the ICMP port-unreachable report */
    if (WSAGetLastError() == WSAECONNRESET) {
        set_text(WSAECONNRESET);
        return OTK_NET_UNREACH;
    }
    return last();
}

long
otk_net_send(otk_sock s, const void *buf, size_t len)
{
    int n = send((SOCKET)s, (const char *)buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    return n == SOCKET_ERROR ? last() : n;
}

long
otk_net_recv(otk_sock s, void *buf, size_t cap)
{
    int n = recv((SOCKET)s, (char *)buf, cap > INT_MAX ? INT_MAX : (int)cap, 0);
    return n == SOCKET_ERROR ? last() : n;
}

long
otk_net_unacked(otk_sock s)
{
#ifdef SIO_TCP_INFO
    DWORD version = 0, got = 0;
    TCP_INFO_v0 info;

    if (WSAIoctl((SOCKET)s, SIO_TCP_INFO, &version, sizeof version, &info, sizeof info, &got, NULL,
                 NULL) == 0 &&
        got >= sizeof info)
        return (long)info.BytesInFlight;
#else
    (void)s;
#endif
    return -1;
}

bool
otk_net_take_icmp(otk_sock s, char *text, size_t cap)
{
    /* nothing is queued apart from the data: recvfrom() reports it (OTK_NET_UNREACH) */
    (void)s;
    if (cap)
        text[0] = 0;
    return false;
}

void
otk_net_close(otk_sock *s)
{
    if (*s != OTK_SOCK_NONE) {
        closesocket((SOCKET)*s);
        *s = OTK_SOCK_NONE;
    }
}

int
otk_net_resolve4(const char *name, struct in_addr *out, char *why, size_t cap)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    if (otk_net_init() != OTK_NET_OK) {
        if (cap)
            snprintf(why, cap, "%s", last_error);
        return -1;
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_DGRAM;
    rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0 || !res) {
        if (cap) {
            if (rc == 0) {
                snprintf(why, cap, "no IPv4 address");
            } else {
                set_text(rc); /* getaddrinfo returns WSA error codes */
                snprintf(why, cap, "%s", last_error);
            }
        }
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
    struct sockaddr_in a;
    int alen = sizeof a, rc = -1;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);

    if (s == INVALID_SOCKET)
        return -1;
    if (connect(s, (const struct sockaddr *)to, sizeof *to) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &alen) == 0) {
        *src = a.sin_addr;
        rc = 0;
    }
    closesocket(s);
    return rc;
}

int
otk_net_poll(struct pollfd *fds, size_t n, int timeout_ms)
{
    int r;

    if (n == 0) {
        Sleep(timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
        return 0;
    }
    r = WSAPoll(fds, (ULONG)n, timeout_ms);
    if (r == SOCKET_ERROR)
        return last();
    return r;
}
