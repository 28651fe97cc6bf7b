/* SPDX-License-Identifier: MIT */
/* The emulator's radio link: a stage between the device's sockets (src/port/posix/net_device.c)
 * and the device engine (it implements struct otk_dev_input and feeds the next one), and makes
 * everything the device sees and sends pay a round-trip time, a bandwidth, jitter and stalls, with
 * a TCP receive window like lwIP's so that the uploader feels back-pressure as it would over Wi-Fi.
 * Faults are a stage of their own between the sockets and the link (sim/fault_stage.h).
 *
 * Time is real (CLOCK_MONOTONIC, microseconds): the sockets are real. The model:
 *
 *   host --(kernel socket)--> [pulled: in flight on the air] --(owd + serialisation)-->
 *        [arrived, undelivered] --(engine reads, <= 1460 bytes a time)--> engine
 *
 * The device pulls bytes from the kernel only while in-flight + undelivered bytes, as the
 * sender knows them, stay below the window; the sender learns of consumed bytes one one-way
 * delay after the engine consumed them (a window update). So a window-limited transfer moves
 * at most `window` bytes per round trip, as TCP does. While the engine is stalled in a flash
 * operation, otk_link_sleep() keeps the air moving: bytes in flight arrive, queued replies
 * leave, the window fills - the engine itself reads nothing. */
#ifndef OTK_LINK_H
#define OTK_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/device.h"
#include "otakit/layout.h"
#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_link_profile {
    OTK_LINK_NONE = 0,  /* plain loopback: no delay, no window (the kernel's buffers) */
    OTK_LINK_LAN,       /* RTT 1 ms, 100 Mbit/s */
    OTK_LINK_WIFI,      /* RTT 8 ms +- 3 ms, 20 Mbit/s */
    OTK_LINK_WEAK_WIFI, /* RTT 40 ms +- 15 ms, 4 Mbit/s, a 300 ms stall every 2-8 s */
};

struct otk_link_params {
    uint32_t rtt_us;           /* mean round-trip time */
    uint32_t jitter_us;        /* the round trip varies uniformly within +- jitter_us */
    uint64_t bits_per_s;       /* each direction; 0 = unlimited */
    uint32_t window;           /* device TCP receive window in bytes; 0 = none (no model) */
    uint32_t stall_ms;         /* length of the link's stalls; 0 = never stalls */
    uint32_t stall_gap_min_ms; /* time between two stalls: uniform in [min, max] */
    uint32_t stall_gap_max_ms;
};

/** Parse "none", "lan", "wifi", "weak-wifi". @return 0 or -1. */
int otk_link_profile_parse(const char *s, enum otk_link_profile *out);
const char *otk_link_profile_str(enum otk_link_profile p);

/** The numbers of a profile; the window is the chip's lwIP TCP_WND: 5744 bytes (ESP32,
 *  4 x MSS 1436) or 2144 bytes (ESP8266 lwIP2 low-memory build, 4 x MSS 536). */
struct otk_link_params otk_link_params_of(enum otk_link_profile p, enum otk_profile chip);

/** What the link needs from its surroundings. */
struct otk_link_io {
    /** Towards the sockets (the port, or the fault stage in front of it): the link calls it
     *  when a reply or a connect "leaves"; a connect it fails is refused after a round trip. */
    const struct otk_net_ops *down;
    /** Wait up to timeout_us for socket events and feed them to the link (its input table,
     *  which only queues while the engine is stalled). Used by otk_link_sleep(). May be NULL. */
    void (*pump)(void *user, int64_t timeout_us);
    /** Monotonic microseconds; NULL = CLOCK_MONOTONIC. */
    uint64_t (*clock_us)(void *user);
    void *user;
};

struct otk_link;

/** A link with these numbers and seeded random draws (jitter, stall times).
 *  @return NULL on out of memory. */
struct otk_link *otk_link_new(const struct otk_link_params *p, uint64_t seed,
                              const struct otk_link_io *io);
void otk_link_free(struct otk_link *l);

/** Right after otk_link_new: the link carries ESPHome's native protocol instead, i.e. the one
 *  connection the port accepted (its input table's native entries, its ops nat_send /
 *  nat_close, its io.down's nat_send / nat_close), with the same model: delays, bandwidth,
 *  window, stalls (faults are a stage in front of it). A device serving both protocols over an
 *  emulated radio has two links, one per connection (the engine's ops table takes the native
 *  ops from this one). */
void otk_link_set_native(struct otk_link *l);

/** The ops table the engine must be given (otk_dev_init): its sends go through the link. */
const struct otk_net_ops *otk_link_ops(struct otk_link *l);

/** Where the link delivers (set after every otk_dev_init; the table is copied): the engine's
 *  otk_dev_input() or another stage in front of it. */
void otk_link_attach(struct otk_link *l, const struct otk_dev_input *next);

/** The link's own input table, for the port (user = l). Its entries only queue what comes
 *  from the sockets (the link's clock, not now_ms, times it); tcp_room is the window's room (0
 *  while the link is down), no more than fits at the ring's tail, where the port may receive
 *  directly; on_idle delivers one due item or passes the pause on (nothing during
 *  otk_link_sleep). */
struct otk_dev_input otk_link_input(struct otk_link *l);

/* ---- the loop ---- */

/** Microseconds until the link has something to do (-1 = nothing scheduled). */
int64_t otk_link_next_us(struct otk_link *l);

/** Send what is due to the sockets, deliver what has arrived to the engine, and let an idle
 *  engine use the pause (otk_dev_on_idle). */
void otk_link_process(struct otk_link *l);

/** The engine is stalled (a flash operation) for us microseconds: keep the air moving (pump
 *  the sockets, send due replies) without calling the engine; returns after us. */
void otk_link_sleep(struct otk_link *l, uint64_t us);

/** The radio is taken by something else (the gateway's BLE scan) while held: the link
 *  delivers nothing in either direction; what is in the air waits (TCP: at most a window; UDP:
 *  at most 32 datagrams each way, then they are lost, as a radio's buffer overflows). */
void otk_link_radio_hold(struct otk_link *l, bool held, uint32_t now_ms);

/** The air goes silent both ways for ms (the fault "stall"): from the moment what is on its
 *  way to the device has arrived, nothing passes; what would arrive meanwhile arrives at the
 *  end; nothing is taken from the socket until then. */
void otk_link_silence(struct otk_link *l, uint32_t ms);

/** Send everything queued towards the host now, ignoring the delays (before a reboot or an
 *  exit: what the stack had queued still leaves). */
void otk_link_flush(struct otk_link *l);

/** The device restarts: forget the TCP connection's queues (UDP queues stay). */
void otk_link_reset(struct otk_link *l);

/** Counters for reports and tests. */
struct otk_link_stats {
    uint64_t tcp_pulled;      /* bytes taken from the socket */
    uint64_t tcp_delivered;   /* bytes the engine consumed */
    uint32_t max_undelivered; /* largest arrived-but-unread backlog seen */
    uint32_t max_inflight;    /* largest in flight + undelivered seen (<= window) */
    uint32_t udp_in, udp_out, udp_lost;
    uint32_t stalls;  /* profile stalls that began */
    uint64_t down_us; /* time the link was down (stalls, holds) */
};
void otk_link_stats(const struct otk_link *l, struct otk_link_stats *out);

#ifdef __cplusplus
}
#endif
#endif
