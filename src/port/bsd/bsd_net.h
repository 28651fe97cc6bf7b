/* SPDX-License-Identifier: MIT */
/* The device's network on BSD sockets, for a chip's TCP/IP stack (lwIP on ESP-IDF) as much as
 * for Linux, where the unit tests run it over loopback: the ArduinoOTA UDP port and the one TCP
 * client that connects back to the uploader. Nothing blocks but the select() in
 * otk_bsdnet_step(), which waits at most as long as the caller allows and never past the
 * engine's next deadline. Small and fixed memory: one TCP segment in, a short queue out (the
 * device sends only acks and status texts). */
#ifndef OTK_BSD_NET_H
#define OTK_BSD_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/device.h"
#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_BSDNET_READ_MAX  1460u /* bytes per otk_dev_on_tcp_data call (one TCP segment) */
#define OTK_BSDNET_OUT_MAX   512u  /* queued TCP bytes not yet taken by the stack */
#define OTK_BSDNET_LINGER_MS 2000u /* a closed connection drains this long at most */

enum otk_bsdnet_tcp {
    OTK_BSDNET_TCP_NONE = 0,
    OTK_BSDNET_TCP_CONNECTING,
    OTK_BSDNET_TCP_CONNECTED,
    OTK_BSDNET_TCP_CLOSING, /* the engine closed it: send the queue, then shut down */
};

struct otk_bsdnet {
    /* private: defined here so a firmware can allocate it statically */
    int udp_fd;
    int tcp_fd;
    enum otk_bsdnet_tcp tcp;
    bool connect_report; /* a connect result waits to be given to the engine */
    int connect_status;
    bool peer_eof;
    int linger_fd; /* a closed connection drained until the peer closes, so it reads our last
                      bytes (closing with unread data would send a reset instead) */
    uint32_t linger_until;
    uint32_t (*now_ms)(void);
    struct otk_dev *dev;
    struct otk_net_ops ops_tab;
    size_t in_len;
    size_t out_len;
    uint8_t in[OTK_BSDNET_READ_MAX];
    uint8_t out[OTK_BSDNET_OUT_MAX];
#if OTK_CFG_PROTO_NATIVE
    /* ESPHome's native protocol: a listening socket (the UDP port's number) and the one
     * connection accepted from it */
    int lsn_fd;
    int nat_fd;
    bool nat_eof;
    bool nat_closing; /* the engine closed it: send the queue, then shut down */
    size_t nat_in_len;
    size_t nat_out_len;
    uint8_t nat_in[OTK_BSDNET_READ_MAX];
    uint8_t nat_out[OTK_BSDNET_OUT_MAX];
#endif
};

/** Bind the UDP socket to port on every IPv4 address (0: an ephemeral port). now_ms: the
 *  port's millisecond clock. @return OTK_OK, OTK_ERR_BUSY (port in use) or OTK_ERR_IO. */
int otk_bsdnet_open(struct otk_bsdnet *n, uint16_t port, uint32_t (*now_ms)(void));

#if OTK_CFG_PROTO_NATIVE
/** Also listen for ESPHome's native protocol on TCP, on the UDP port's number: after open,
 *  before otk_dev_native_attach (which wants the ops' nat_send and nat_close this sets). One
 * connection is served at a time: the next waits in the backlog while otk_dev_native_busy().
 * @return OTK_OK, OTK_ERR_BUSY (the TCP port is in use) or OTK_ERR_IO. */
int otk_bsdnet_listen_native(struct otk_bsdnet *n);
#endif

/** The UDP port bound (the real one when 0 was asked for); 0 if not open. */
uint16_t otk_bsdnet_port(const struct otk_bsdnet *n);

/** The ops table for otk_dev_init. */
const struct otk_net_ops *otk_bsdnet_ops(struct otk_bsdnet *n);

/** The engine fed by otk_bsdnet_step (set once, after otk_dev_init). */
void otk_bsdnet_attach(struct otk_bsdnet *n, struct otk_dev *dev);

/** Wait for socket events up to max_wait_ms (0: only look), or less when the engine has a
 *  deadline or the port has something to hand over, then feed the engine: the connect result,
 *  TCP data while it wants it, a closed connection, datagrams, the tick, and, when nothing
 *  arrived, the idle call that erases ahead during an update. */
void otk_bsdnet_step(struct otk_bsdnet *n, uint32_t max_wait_ms);

/** Close every socket (no event reaches the engine). */
void otk_bsdnet_close(struct otk_bsdnet *n);

#ifdef __cplusplus
}
#endif
#endif
