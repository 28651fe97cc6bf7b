/* SPDX-License-Identifier: MIT */
/* The emulated gateway (`otakit device --gateway`): the tasks that disturb an update on a real
 * BLE + MQTT gateway, next to the device engine, and the library's OTA lock between them.
 *
 *  - A BLE scan task that takes the shared radio for its window every interval (the link model
 *    then delivers nothing to the OTA session) and may stall the CPU when a window ends.
 *  - An MQTT task (libmosquitto, driven from the emulator's poll loop, never blocking) that
 *    publishes periodic readings and the update's progress and result on <base>/ota/state, and
 *    reconnects with backoff when the broker goes away.
 *  - The OTA lock (include/otakit/lock.h): both tasks are participants, so an update pauses the
 *    scan and the readings (the progress topic goes on) and every end of it resumes them. With
 *    the lock disabled the same tasks run through the update.
 * Everything it has to say goes through the report callback (the CLI prints it). */
#ifndef OTK_GATEWAY_H
#define OTK_GATEWAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/device.h"
#include "otakit/lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_GW_NFDS 1 /* descriptors otk_gw_pollfds may fill */

enum otk_gw_report_type {
    OTK_GW_REP_READY,     /* tasks set up: text = base topic */
    OTK_GW_REP_LOCK,      /* flag = held; text = phase ("start", "success", "error", "stalled") */
    OTK_GW_REP_TASK,      /* task paused (flag) or resumed (!flag) */
    OTK_GW_REP_BLE_SCAN,  /* a scan window ended (flag = cut short by a pause): seq, value =
                             window ms held, seen */
    OTK_GW_REP_MQTT,      /* flag = connected; text = why (disconnects, failures); value = retry
                             in ms when not connected */
    OTK_GW_REP_READING,   /* a periodic reading: text = topic, seq, flag = published */
    OTK_GW_REP_OTA_STATE, /* progress or result: json = the payload, flag = published now,
                             prog = the library's progress */
};

struct otk_gw_report {
    enum otk_gw_report_type type;
    uint32_t now_ms;
    const char *task; /* "ble" or "mqtt" (REP_TASK) */
    const char *text;
    const char *json;
    const struct otk_ota_progress *prog;
    bool flag;
    uint32_t seq;
    uint32_t value;
    uint32_t seen;
};

/** How the BLE task takes the shared radio (the emulator wires it to its link model). */
struct otk_gw_radio {
    void (*hold)(void *user, bool held, uint32_t now_ms);
    void *user;
};

struct otk_gw_config {
    const char *name;          /* device name: MQTT client id and default base topic */
    const char *topic;         /* base topic; NULL = "otakit/<name>" */
    bool lock;                 /* pause the tasks during an update (false: --no-ota-lock) */
    uint32_t watchdog_ms;      /* the lock's watchdog; 0 = the library's 30 s */
    uint32_t ble_window_ms;    /* radio held per interval; 0 = no BLE task */
    uint32_t ble_interval_ms;  /* scan period (>= window) */
    uint32_t ble_cpu_stall_ms; /* CPU busy at the end of each window (0 = none) */
    const char *mqtt_host;     /* NULL or "" = no MQTT task */
    uint16_t mqtt_port;        /* broker port */
    uint32_t reading_ms;       /* period of the MQTT task's readings */
    uint32_t progress_ms;      /* at most one progress report per this (0 = 250 ms) */
    void (*report)(void *user, const struct otk_gw_report *r);
    void *user;
};

struct otk_gw;

/** Create the gateway's tasks (the MQTT task starts connecting at once; a broker that is not
 *  there is retried with backoff). radio may be NULL (BLE then only stalls the CPU).
 *  @return NULL on error (err receives why). */
struct otk_gw *otk_gw_new(const struct otk_gw_config *cfg, const struct otk_gw_radio *radio,
                          uint32_t now_ms, char *err, size_t errcap);

/** Stop the tasks (the broker is told goodbye if connected) and free. */
void otk_gw_free(struct otk_gw *gw);

/** The device lost power: free without a goodbye (the broker publishes the will, as it does
 *  for a device that died). NULL is ignored. */
void otk_gw_power_off(struct otk_gw *gw);

/** Feed an engine event (from the engine's on_event hook, after the emulator's own report). */
void otk_gw_on_dev_event(struct otk_gw *gw, const struct otk_dev_event *ev, uint32_t now_ms);

/** Fill up to OTK_GW_NFDS pollfds and lower *timeout_ms (-1 = none) to the next task deadline.
 *  @return count. */
int otk_gw_pollfds(struct otk_gw *gw, struct pollfd *pfds, int *timeout_ms, uint32_t now_ms);

/** Handle what poll() reported (the whole array: the gateway finds its own descriptor) and run
 *  every task deadline that is due. */
void otk_gw_process(struct otk_gw *gw, const struct pollfd *pfds, int n, uint32_t now_ms);

/** The lock (for tests and status): whether an update holds it. */
bool otk_gw_locked(const struct otk_gw *gw);

#ifdef __cplusplus
}
#endif
#endif
