/* SPDX-License-Identifier: MIT */
/* The device side of ESPHome's native OTA protocol on POSIX sockets: a TCP socket listening on
 * the OTA port (the number the ArduinoOTA side binds for UDP, as ESPHome devices listen on 3232
 * or 8266) and one accepted connection at a time, the others waiting in the backlog as on an
 * ESPHome device (listen(1)). Nothing blocks: a poll() loop asks for the descriptors and hands
 * back what happened; the next stage (the engine's struct otk_dev_input, or the link in front
 * of it) gets the native entries, and the engine's nat_send / nat_close ops land in
 * otk_netnat_send / otk_netnat_close. Reads go no further than next->native_room allows, in
 * pieces of at most 1024 bytes, what an ESPHome device reads per call (OTA_BUFFER_SIZE), and
 * straight into the memory native_room names, if any (as net_device.c does with tcp_room). */
#ifndef OTK_NET_NATIVE_H
#define OTK_NET_NATIVE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_NETNAT_READ_MAX 1024u
#define OTK_NETNAT_OUT_MAX  4096u /* queued, not yet sent bytes (responses are single bytes) */
#define OTK_NETNAT_NFDS     3     /* descriptors otk_netnat_pollfds may fill */

struct otk_netnat {
    /* private */
    int listen_fd;
    int conn_fd;
    bool closing; /* the engine closed it: flush the queue, then shut down */
    uint8_t in[OTK_NETNAT_READ_MAX];
    uint8_t out[OTK_NETNAT_OUT_MAX];
    size_t out_len;
    int linger_fd; /* a closed connection draining so the peer reads our last bytes */
    uint32_t linger_until;
    uint16_t port;
    struct otk_dev *dev; /* asked whether it serves a connection already */
    struct otk_dev_input next;
};

/** Listen on addr:port (IPv4; port 0 = ephemeral). @return OTK_OK, OTK_ERR_ARG (address),
 *  OTK_ERR_BUSY (the port is in use), OTK_ERR_IO; err receives a message. */
int otk_netnat_open(struct otk_netnat *nn, const char *addr, uint16_t port, char *err,
                    size_t errcap);

/** Where the listener's events go (the table is copied): otk_dev_input() of dev, or a stage in
 *  front of it; dev (its otk_dev_native_attach() done) says when it is busy. */
void otk_netnat_attach(struct otk_netnat *nn, const struct otk_dev_input *next,
                       struct otk_dev *dev);

uint16_t otk_netnat_port(const struct otk_netnat *nn);

/** What the engine's nat_send / nat_close ops do (a port's ops table forwards to these). */
int otk_netnat_send(struct otk_netnat *nn, const void *buf, size_t len);
void otk_netnat_close_conn(struct otk_netnat *nn);

/** Fill pfds (up to OTK_NETNAT_NFDS) for poll(); *timeout_ms is lowered (never raised) for a
 *  lingering close. @return count. */
int otk_netnat_pollfds(struct otk_netnat *nn, struct pollfd *pfds, int *timeout_ms,
                       uint32_t now_ms);

/** Handle what poll() reported in pfds (any array holding ours) and feed the engine. */
void otk_netnat_process(struct otk_netnat *nn, const struct pollfd *pfds, int n, uint32_t now_ms);

/** The device restarts: the accepted connection ends (flushed best-effort), the listener stays. */
void otk_netnat_reset(struct otk_netnat *nn);

/** Give queued bytes and a lingering close up to limit_ms to reach the peer. */
void otk_netnat_flush(struct otk_netnat *nn, uint32_t limit_ms);

/** Close everything. */
void otk_netnat_close(struct otk_netnat *nn);

#ifdef __cplusplus
}
#endif
#endif
