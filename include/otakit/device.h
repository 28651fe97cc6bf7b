/* SPDX-License-Identifier: MIT */
/* The device engine: the ArduinoOTA protocol server as a sans-I/O state machine. The port feeds
 * it events (a datagram arrived, the TCP connection opened, bytes arrived, it closed, time is
 * now T) and it acts through the ops tables. Time is an argument (milliseconds, wrapping). */
#ifndef OTK_DEVICE_H
#define OTK_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "layout.h"
#include "port.h"
#include "proto.h"
#include "updater.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otk_nat;

enum otk_dev_state {
    OTK_DEV_IDLE = 0,
    OTK_DEV_WAIT_AUTH,    /* challenge sent, waiting for "200 ..." */
    OTK_DEV_CONNECT_WAIT, /* ESP8266: the 100 ms pause between UDP "OK" and connect */
    OTK_DEV_CONNECTING,   /* TCP connect to the uploader started */
    OTK_DEV_RECEIVING,    /* data phase */
    OTK_DEV_FINISHING,    /* image complete; ESP8266 pauses 1 s before and after "OK" */
    OTK_DEV_REBOOTING,    /* success reported; reboot requested */
};

/* ArduinoOTA's ota_error_t values, reported through the event hook. */
enum otk_ota_error {
    OTK_OTA_AUTH_ERROR = 0,
    OTK_OTA_BEGIN_ERROR = 1,
    OTK_OTA_CONNECT_ERROR = 2,
    OTK_OTA_RECEIVE_ERROR = 3,
    OTK_OTA_END_ERROR = 4,
};

enum otk_dev_event_type {
    OTK_EV_START,    /* authenticated update accepted and begun (the OTA lock is taken here) */
    OTK_EV_PROGRESS, /* bytes of total written */
    OTK_EV_END,      /* image accepted, slot switched; reboot follows */
    OTK_EV_ERROR,    /* ota_error + updater reason + text */
};

struct otk_dev_event {
    enum otk_dev_event_type type;
    uint32_t cmd;   /* OTK_CMD_FLASH / OTK_CMD_FS */
    uint32_t bytes; /* written so far */
    uint32_t total; /* announced size */
    enum otk_ota_error ota_error;
    enum otk_upd_reason reason;
    const char *text; /* error text as sent to the host (may be "") */
};

struct otk_dev_hooks {
    void (*on_event)(void *user, const struct otk_dev_event *ev);
    /** Success: the image is active; restart the device (the emulator reboots its model). */
    void (*reboot)(void *user);
    void *user;
};

struct otk_dev_config {
    enum otk_profile profile;
    enum otk_auth_variant auth;
    /** Stored secret as the cores store it: MD5 hex (legacy) or SHA-256 hex (PBKDF2; an MD5 hex is
     *  also accepted as the PBKDF2 input). Empty = no password. See otk_proto_password_secret(). */
    char secret[OTK_SHA256_HEX_LEN + 1];
    struct otk_layout layout;
    int running_slot;         /* slot the device booted from; updates go to the other */
    uint32_t rx_timeout_ms;   /* data idle limit before a nudge; 0 = 1000 as the cores */
    uint8_t rx_nudges;        /* re-sent acks before giving up; ESP32 uses 3 */
    uint32_t auth_timeout_ms; /* WAIT_AUTH limit; 0 = 10000 (the real cores wait forever) */
    /** Progress floor: bytes per second an update must average over every 8 s, or it ends
     *  with "Stream Read Timeout" (a peer trickling bytes would hold the device for ever; the
     *  real cores have no such limit). 0 = 1024; at most 2^29 - 1. */
    uint32_t min_rate;
};

#define OTK_DEV_MSG_MAX 160

/* Brute-force throttle: sources whose authentication failed recently, each ignored for a delay
 * that doubles with its consecutive failures (0, 1 s, 2 s, 4 s ... 30 s), cleared by a success.
 * Sources pushed out of the table share the extra entry, so the total guess rate stays bounded
 * whatever the number of addresses an attacker uses. */
#define OTK_DEV_THROTTLE_SLOTS 4

struct otk_dev_throttle {
    /* private */
    struct otk_addr src; /* the source's address (port ignored) */
    uint32_t until;      /* its invitations are ignored before this time */
    uint32_t last;       /* time of its last failure: the oldest entry is replaced */
    uint8_t failures;    /* consecutive failures, saturating; 0 = free entry */
};

struct otk_dev {
    /* private: defined here so callers can allocate it statically */
    struct otk_dev_config cfg;
    const struct otk_net_ops *net;
    const struct otk_crypto_ops *crypto;
    struct otk_dev_hooks hooks;
    struct otk_updater upd;
    enum otk_dev_state state;
    struct otk_invite invite;
    struct otk_addr peer;                       /* where UDP replies go */
    char challenge[5 + OTK_SHA256_HEX_LEN + 1]; /* "AUTH <nonce>" */
    uint32_t deadline;                          /* valid when has_deadline */
    bool has_deadline;
    bool ok_sent; /* ESP8266 finishing: first pause done, "OK" sent */
    uint8_t nudges;
    uint8_t connect_tries; /* connections back to the host tried in this update */
    uint32_t last_ack;
    uint32_t floor_at;   /* the progress floor's window ends here... */
    uint32_t floor_mark; /* ...and progress must have reached this by then */
    char msg[OTK_DEV_MSG_MAX];
    struct otk_dev_throttle throttle[OTK_DEV_THROTTLE_SLOTS];
    struct otk_dev_throttle throttle_rest; /* sources evicted from throttle[] */
#if OTK_CFG_PROTO_NATIVE
    struct otk_nat *nat; /* the native protocol's state (otk_dev_native_attach), or NULL */
#endif
};

/** Initialise a device. sector_buf: OTK_SECTOR_SIZE bytes owned by the caller.
 *  @return OTK_OK or OTK_ERR_ARG. */
int otk_dev_init(struct otk_dev *d, const struct otk_dev_config *cfg, const struct otk_net_ops *net,
                 const struct otk_flash_ops *flash, const struct otk_crypto_ops *crypto,
                 const struct otk_dev_hooks *hooks, uint8_t *sector_buf);

/** The platform switches slots itself (otk_upd_set_activate: ESP-IDF's
 *  esp_ota_set_boot_partition). Call after otk_dev_init. */
void otk_dev_set_activate(struct otk_dev *d, int (*fn)(void *user, uint32_t app_offset),
                          void *user);

/** A datagram arrived on the OTA UDP port from `from`. */
void otk_dev_on_datagram(struct otk_dev *d, const struct otk_addr *from, const uint8_t *data,
                         size_t len, uint32_t now_ms);

/** The TCP connect started by net->tcp_connect finished: status OTK_OK or an OTK_ERR_*. */
void otk_dev_on_connected(struct otk_dev *d, int status, uint32_t now_ms);

/** Bytes arrived on the TCP connection. @return bytes consumed (the port keeps the rest and
 *  offers it again; consuming less is how the engine applies back-pressure). */
size_t otk_dev_on_tcp_data(struct otk_dev *d, const uint8_t *data, size_t len, uint32_t now_ms);

/** The TCP connection closed or failed. */
void otk_dev_on_tcp_closed(struct otk_dev *d, uint32_t now_ms);

/** Time passed: run timeouts and pauses. Call at otk_dev_next_deadline() or sooner. */
void otk_dev_tick(struct otk_dev *d, uint32_t now_ms);

/** Whether a deadline is pending; if so *at gets it. */
bool otk_dev_next_deadline(const struct otk_dev *d, uint32_t *at);

/** The nonce of the last challenge sent ("" before the first): with the failed answer, a port
 *  can tell a wrong password from a right one in the other scheme (sim/auth_explain.h). */
static inline const char *
otk_dev_nonce(const struct otk_dev *d)
{
    return d->challenge + 5; /* after "AUTH " (all zero before the first) */
}

/** Whether the engine wants TCP data now (RECEIVING). */
bool otk_dev_wants_data(const struct otk_dev *d);

/** The port has no data for the engine right now: during an update the engine uses the pause
 *  to erase flash ahead of the writes (one erase unit per call; a real chip stalls the CPU for
 *  it, while the bytes already in the air keep arriving). @return true if it did flash work
 *  (the port should look for data, then may call again), false if there was nothing to do. */
bool otk_dev_on_idle(struct otk_dev *d, uint32_t now_ms);

/** Opt-in: between updates, erase the slot the next update will write, one 64 KB block a call
 *  (see otk_upd_pre_erase: only once the running image is confirmed; the previous image is
 *  lost). Call it when the firmware is idle and can afford a flash stall. Does nothing while an
 *  update or its handshake runs. @return 1 if it erased or checked a block (call again), 0 if
 *  there is nothing to do now, -1 on a flash error. */
int otk_dev_pre_erase(struct otk_dev *d);

/** The device's input events as one table: the engine's entry points above with a user
 *  pointer instead of the engine. The engine provides one for itself (otk_dev_input); anything
 *  a port puts in front of the engine (the emulator's link model) implements the same table and
 *  passes the events on to its own `next`. So a port holds one table, feeds it, and never knows
 *  what is behind it (TinyUSB's single dcd_event_handler seam). Adding an event is one member
 *  here, one adapter in device.c, one forwarding entry per stage. */
struct otk_dev_input {
    void (*on_datagram)(void *user, const struct otk_addr *from, const uint8_t *data, size_t len,
                        uint32_t now_ms);
    void (*on_connected)(void *user, int status, uint32_t now_ms);
    /** @return bytes consumed (the port keeps the rest and offers it again). */
    size_t (*on_tcp_data)(void *user, const uint8_t *data, size_t len, uint32_t now_ms);
    void (*on_tcp_closed)(void *user, uint32_t now_ms);
    /** The port has no data for the stage now. @return true if it did work (call again). */
    bool (*on_idle)(void *user, uint32_t now_ms);
    /** Back-pressure: how many TCP bytes the stage takes now (0: leave them in the kernel).
     *  *buf may name the stage's own memory for that many bytes, where the port receives them
     *  directly and then passes that pointer to on_tcp_data (one copy less); NULL: none. */
    size_t (*tcp_room)(void *user, uint8_t **buf);
    /* ESPHome's native protocol (include/otakit/native.h): the accepted connection, as
     * otk_dev_on_native_accept / _data / _closed; NULL in a table without it. native_room is
     * tcp_room's twin for that connection. */
    bool (*on_native_accept)(void *user, const struct otk_addr *from, uint32_t now_ms);
    size_t (*on_native_data)(void *user, const uint8_t *data, size_t len, uint32_t now_ms);
    void (*on_native_closed)(void *user, uint32_t now_ms);
    size_t (*native_room)(void *user, uint8_t **buf);
    void *user;
};

/** The engine's own table (user = d): each entry calls the otk_dev_on_* function of its name;
 *  tcp_room is "any amount" while otk_dev_wants_data(), else 0. */
struct otk_dev_input otk_dev_input(struct otk_dev *d);

enum otk_dev_state otk_dev_state(const struct otk_dev *d);
const char *otk_dev_state_str(enum otk_dev_state s);

/** Whether an update is running (between START and END/ERROR), by either protocol. */
bool otk_dev_update_running(const struct otk_dev *d);

#ifdef __cplusplus
}
#endif
#endif
