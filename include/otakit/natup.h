/* SPDX-License-Identifier: MIT */
/* One attempt of a native-protocol (ESPHome) upload over a real socket: the TCP connection, the
 * natclient machine fed from it, and after an end that leaves the result open (the whole image
 * went out, then silence or a close) the check that follows instead of a blind re-send: probes
 * that watch whether the device goes away and answers again. Also the probe alone, which tells
 * an ESPHome-protocol port from anything else (--protocol auto).
 *
 * Non-blocking, one poll() loop for any number; host side only (hostnet.h). Facts only: the
 * words for each end are the CLI's. */
#ifndef OTK_NATUP_H
#define OTK_NATUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostnet.h"
#include "natclient.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the probe: magic in, "00 vv" back ---- */

enum otk_natprobe_result {
    OTK_NATPROBE_RUNNING = 0,
    OTK_NATPROBE_ANSWERED, /* "00 vv": an ESPHome-protocol port (version in .version) */
    OTK_NATPROBE_REFUSED,  /* nothing listens on the port (or it is busy: backlog full) */
    OTK_NATPROBE_SILENT,   /* connected or not, no answer in time */
    OTK_NATPROBE_OTHER,    /* answered, but not "00 vv" (first byte in .byte), or closed */
    OTK_NATPROBE_FAILED,   /* local failure (socket) */
};

struct otk_natprobe {
    enum otk_natprobe_result result;
    uint8_t version, byte;
    /* private */
    otk_sock fd;
    bool connected;
    uint8_t got[2];
    size_t got_len, sent;
    uint32_t deadline;
};

/** Ask `to` (from src; INADDR_ANY: the system's choice) whether it speaks the protocol. */
void otk_natprobe_start(struct otk_natprobe *p, struct in_addr src, const struct sockaddr_in *to,
                        uint32_t timeout_ms, uint32_t now);
size_t otk_natprobe_pollfds(const struct otk_natprobe *p, struct pollfd *fds, size_t cap);
void otk_natprobe_step(struct otk_natprobe *p, const struct pollfd *fds, size_t n, uint32_t now);
void otk_natprobe_close(struct otk_natprobe *p);

/* ---- an attempt ---- */

enum otk_natup_state {
    OTK_NATUP_CONNECT,  /* TCP connection under way */
    OTK_NATUP_EXCHANGE, /* the protocol runs (natclient) */
    OTK_NATUP_PROBE,    /* result open: watching whether the device restarts */
    OTK_NATUP_DONE,
};

/** What the probes after an open end saw. */
enum otk_natup_check {
    OTK_NATUP_CHECK_NONE = 0,  /* no check (the end was not open) */
    OTK_NATUP_CHECK_RESTARTED, /* unreachable for a while, then answering again: it restarted */
    OTK_NATUP_CHECK_STAYED,    /* answering all along: it did not restart */
    OTK_NATUP_CHECK_GONE,      /* not answering again within the window */
};

struct otk_natup_cfg {
    struct sockaddr_in dev;
    struct in_addr src; /* local address to connect from (-I); INADDR_ANY: any */
    struct otk_natc_cfg natc;
    int sndbuf;                  /* bytes; 0: the system's */
    uint32_t connect_timeout_ms; /* TCP connection */
    uint32_t check_window_ms;    /* open end: how long to watch for the device */
    uint32_t check_gap_ms;       /* between probes */
};

void otk_natup_cfg_defaults(struct otk_natup_cfg *c);

struct otk_natup {
    struct otk_natup_cfg cfg;
    enum otk_natup_state state;
    bool connect_failed; /* never connected: connect_rc says how (OTK_NET_AGAIN: timed out) */
    int connect_rc;
    bool reset;         /* the connection ended with a reset, not a close */
    struct otk_natc c;  /* the exchange, its end (c.cause, c.end_phase, c.all_sent, ...) */
    uint32_t tcp_acked; /* stream bytes the device's TCP stack acknowledged (plaintext) */
    enum otk_natup_check check;
    uint32_t check_ms; /* CHECK_RESTARTED / STAYED: ms from the end to the answer */
    unsigned probes, probes_unanswered;
    uint32_t t_connected, t_end;
    /* private */
    otk_sock fd;
    uint32_t deadline;
    struct otk_natprobe probe;
    bool probing;
    uint32_t next_probe;
};

/** Start the connection. The machine starts when it is up. */
void otk_natup_start(struct otk_natup *a, const struct otk_natup_cfg *cfg, uint32_t now);
size_t otk_natup_pollfds(const struct otk_natup *a, struct pollfd *fds, size_t cap);
int32_t otk_natup_next_ms(const struct otk_natup *a, uint32_t now);
void otk_natup_step(struct otk_natup *a, const struct pollfd *fds, size_t n, uint32_t now);
void otk_natup_close(struct otk_natup *a);

/** Data bytes the device has for sure: its chunk acks (version 2), else what its TCP stack
 *  acknowledged. */
uint32_t otk_natup_progress(const struct otk_natup *a);

#ifdef __cplusplus
}
#endif
#endif
