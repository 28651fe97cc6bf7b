/* SPDX-License-Identifier: MIT */
/* Host sockets: the few socket operations the host side (the upload engine) needs, as one small
 * API with one implementation per operating system:
 *   src/port/posix/hostnet.c  BSD sockets (Linux: ICMP errors through IP_RECVERR)
 *   src/port/win32/hostnet.c  Winsock 2 (WSAPoll)
 * src/host calls only these, so it compiles unchanged for both. This header is the one place
 * that knows which system headers declare struct sockaddr_in, struct pollfd and POLLIN/POLLOUT.
 *
 * Every call is non-blocking. Failures are negative enum otk_net_rc values; the system's text
 * for the most recent failure is otk_net_strerror(). Host side only (not for the core). */
#ifndef OTK_HOSTNET_H
#define OTK_HOSTNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601 /* Windows 7: WSAPoll, inet_pton, inet_ntop */
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** A socket. An int on every system: Winsock's SOCKET handles fit in 32 bits (Windows keeps
 *  kernel handles 32-bit significant so that 32- and 64-bit processes can share them). */
typedef int otk_sock;
#define OTK_SOCK_NONE (-1)

enum otk_net_rc {
    OTK_NET_OK = 0,
    OTK_NET_AGAIN = -1,   /* would block, or interrupted: poll and try again */
    OTK_NET_UNREACH = -2, /* UDP: the peer's host reported "port unreachable" (ICMP) */
    OTK_NET_RESET = -3,   /* TCP: the peer reset the connection */
    OTK_NET_PIPE = -4,    /* TCP: the peer closed; nothing more can be sent */
    OTK_NET_INUSE = -5,   /* bind: the address and port are in use */
    OTK_NET_NOADDR = -6,  /* bind: not an address of this host */
    OTK_NET_DENIED = -7,  /* bind: a privileged port */
    OTK_NET_FAIL = -8,    /* anything else: see otk_net_strerror() */
};

/** Start the socket library (Winsock needs it; idempotent, cheap). @return 0 or OTK_NET_FAIL */
int otk_net_init(void);

/** The system's description of the most recent failure of a call below. */
const char *otk_net_strerror(void);

/** A non-blocking UDP socket bound to ip (INADDR_ANY: any address, ephemeral port) that reports
 *  ICMP errors (see otk_net_take_icmp / OTK_NET_UNREACH). */
int otk_net_udp_open(struct in_addr ip, otk_sock *out);

/** A non-blocking TCP listener on ip:port (port 0: ephemeral) whose accepted connections get a
 *  send buffer of sndbuf bytes (0: the system's default). *bound receives the port. */
int otk_net_tcp_listen(struct in_addr ip, uint16_t port, int sndbuf, otk_sock *out,
                       uint16_t *bound);

/** Start a non-blocking TCP connection from src (INADDR_ANY: the system's choice) to `to`, with
 *  a send buffer of sndbuf bytes (0: the system's default) and Nagle off (the native protocol's
 *  answers are single bytes).
 *  @return OTK_NET_OK (connected at once), OTK_NET_AGAIN (under way: poll for POLLOUT, then ask
 *  otk_net_connect_result) or a failure (OTK_NET_UNREACH: refused, nothing listens) */
int otk_net_tcp_connect(struct in_addr src, const struct sockaddr_in *to, int sndbuf,
                        otk_sock *out);

/** How a connection otk_net_tcp_connect left under way turned out: OTK_NET_OK, OTK_NET_AGAIN
 *  (still under way) or the failure (OTK_NET_UNREACH: refused). */
int otk_net_connect_result(otk_sock s);

/** Accept one pending connection (non-blocking). @return 0, OTK_NET_AGAIN or a failure */
int otk_net_accept(otk_sock listener, otk_sock *out, struct sockaddr_in *peer);

/** Send one datagram. @return bytes sent or a negative otk_net_rc */
long otk_net_sendto(otk_sock s, const void *buf, size_t len, const struct sockaddr_in *to);

/** Receive one datagram. @return its length or a negative otk_net_rc (OTK_NET_UNREACH: an ICMP
 *  "port unreachable" arrived instead) */
long otk_net_recvfrom(otk_sock s, void *buf, size_t cap, struct sockaddr_in *from);

/** Send on a TCP connection without raising SIGPIPE. @return bytes taken or a negative rc */
long otk_net_send(otk_sock s, const void *buf, size_t len);

/** Receive from a TCP connection. @return bytes, 0 when the peer closed, or a negative rc */
long otk_net_recv(otk_sock s, void *buf, size_t cap);

/** Bytes handed to a TCP socket that the peer has not acknowledged yet, -1 if the system
 *  cannot tell (then progress counts bytes handed to the socket), or OTK_NET_RESET where the
 *  system can tell that the connection is gone (its queue, and so the count, is lost). */
long otk_net_unacked(otk_sock s);

/** Read the ICMP errors queued on a UDP socket (where the system queues them apart from the
 *  data). @return true if one was "port unreachable"; text gets the last one's description
 *  ("" if none was queued). */
bool otk_net_take_icmp(otk_sock s, char *text, size_t cap);

/** Close and set *s to OTK_SOCK_NONE (nothing if it already is). */
void otk_net_close(otk_sock *s);

/** Resolve a host name or dotted address to one IPv4 address (blocking).
 *  @return 0, or -1 with the resolver's reason in why */
int otk_net_resolve4(const char *name, struct in_addr *out, char *why, size_t cap);

/** The local address the system would send from to reach to. @return 0 or -1 */
int otk_net_source_for(const struct sockaddr_in *to, struct in_addr *src);

/** poll() over n descriptors; n == 0 just sleeps. @return how many have events, 0 on timeout,
 *  OTK_NET_AGAIN when interrupted by a signal, or OTK_NET_FAIL */
int otk_net_poll(struct pollfd *fds, size_t n, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
