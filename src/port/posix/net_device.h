/* SPDX-License-Identifier: MIT */
/* The device side of ArduinoOTA on POSIX sockets: a UDP socket bound to the OTA port and one
 * non-blocking TCP client that connects back to the uploader. The port owns the sockets; a
 * poll() loop asks it for its descriptors and hands back what happened, and the port feeds the
 * device's input table (struct otk_dev_input: the engine, or a stage in front of it). TCP data
 * goes on in pieces of at most 1460 bytes, the size the ESP32 core reads per loop iteration. */
#ifndef OTK_NET_DEVICE_H
#define OTK_NET_DEVICE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net_native.h"
#include "otakit/device.h"
#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_NETDEV_READ_MAX 1460u  /* bytes per otk_dev_on_tcp_data call */
#define OTK_NETDEV_OUT_MAX  16384u /* queued, not yet sent TCP bytes */
#define OTK_NETDEV_NFDS     3      /* descriptors otk_netdev_pollfds may fill */

enum otk_netdev_tcp {
    OTK_NETDEV_TCP_NONE = 0,
    OTK_NETDEV_TCP_CONNECTING,
    OTK_NETDEV_TCP_CONNECTED,
    OTK_NETDEV_TCP_CLOSING, /* engine closed it: flush the queue, then shut down */
};

struct otk_netdev {
    /* private */
    struct otk_dev_input next; /* where the events go: the engine or a stage in front of it */
    bool attached;
    int rcvbuf; /* SO_RCVBUF for the TCP client: the device's receive window (0: default) */
    int udp_fd;
    int tcp_fd;
    enum otk_netdev_tcp tcp;
    bool connect_report; /* a connect result waits to be given to the engine */
    int connect_status;
    bool peer_eof;
    uint8_t in[OTK_NETDEV_READ_MAX];
    size_t in_len;
    uint8_t out[OTK_NETDEV_OUT_MAX];
    size_t out_len;
    int linger_fd; /* a closed connection still draining so the peer reads our last bytes */
    uint32_t linger_until;
    uint16_t port;     /* the UDP port really bound */
    char bind_str[64]; /* the address bound, as text */
    uint64_t tcp_rx_bytes;
    bool idle_more;         /* the last idle call did work: come back without waiting */
    struct otk_netnat *nat; /* the native protocol's listener, or NULL */
    struct otk_net_ops ops_tab;
};

/** Bind the UDP socket to addr:port (IPv4; port 0 = ephemeral). tcp_window: the receive window
 *  the device's stack offers on its TCP connection, as lwIP's TCP_WND on a chip (SO_RCVBUF;
 *  0: the kernel's default). err receives a message.
 *  @return OTK_OK, OTK_ERR_ARG (address), OTK_ERR_BUSY (the port is in use), OTK_ERR_IO
 *  (socket, bind). */
int otk_netdev_open(struct otk_netdev *nd, const char *addr, uint16_t port, int tcp_window,
                    char *err, size_t errcap);

/** The ops table for otk_dev_init. */
const struct otk_net_ops *otk_netdev_ops(struct otk_netdev *nd);

/** Give the ops table the native protocol's connection (nat_send / nat_close go to nn). */
void otk_netdev_set_native(struct otk_netdev *nd, struct otk_netnat *nn);

/** Where the port's events go (set before the first otk_netdev_process; the table is copied):
 *  otk_dev_input() of the engine, or a stage in front of it. The port reads TCP data only as
 *  far as next->tcp_room allows, and calls next->on_idle whenever it has no data for it. */
void otk_netdev_attach(struct otk_netdev *nd, const struct otk_dev_input *next);

/** The UDP port bound (the real one when 0 was asked for). */
uint16_t otk_netdev_port(const struct otk_netdev *nd);

/** The address bound, as text. */
const char *otk_netdev_addr(const struct otk_netdev *nd);

/** Fill pfds (up to OTK_NETDEV_NFDS) for poll(). *timeout_ms is lowered (never raised; -1 = no
 *  limit) when the port has work that needs no descriptor event (a pending connect result,
 *  buffered data the engine did not take yet, a lingering close). @return count. */
int otk_netdev_pollfds(struct otk_netdev *nd, struct pollfd *pfds, int *timeout_ms,
                       uint32_t now_ms);

/** Handle what poll() reported in pfds (the same array and count) and feed the engine. */
void otk_netdev_process(struct otk_netdev *nd, const struct pollfd *pfds, int n, uint32_t now_ms);

/** The device restarts: drop the TCP connection (flushed best-effort) and the datagrams that
 *  wait unread, keep the UDP port. */
void otk_netdev_reset(struct otk_netdev *nd);

/** Give queued bytes and a lingering close up to limit_ms to reach the peer (used before the
 *  process exits). */
void otk_netdev_flush(struct otk_netdev *nd, uint32_t limit_ms);

/** Close everything. */
void otk_netdev_close(struct otk_netdev *nd);

#ifdef __cplusplus
}
#endif
#endif
