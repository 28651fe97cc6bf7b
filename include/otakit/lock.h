/* SPDX-License-Identifier: MIT */
/* The OTA lock: while an update runs, the application's other radio and CPU users (a BLE scan,
 * an MQTT client, sensor polls) pause, and they resume when the update ends - after success
 * (before the reboot), after a failure, or when a watchdog decides the update has stalled, so a
 * failed update never leaves a gateway deaf. The lock also turns the engine's events into a
 * progress report (state, bytes, total, percent, rate) for a small screen or an LED, and one
 * result per update with an error code and a text.
 *
 * Freestanding like the rest of the core: participants are caller-owned structs held in a
 * fixed-capacity table, no heap, and time is an argument (milliseconds, wrapping).
 *
 * Rules (each one is tested in tests/unit/test_lock.c):
 *  - Pause callbacks run in registration order, resume callbacks in reverse order, so a task
 *    that depends on an earlier one stops first and starts last.
 *  - The lock is not counted: taking it while it is held returns OTK_ERR_BUSY and pauses
 *    nobody again; one release ends the hold. Releasing a lock that is not held returns
 *    OTK_ERR_STATE and calls nothing.
 *  - A participant registered while the lock is held is paused before otk_lock_register()
 *    returns, and is resumed with the others (first, being the newest).
 *  - Unregistering calls no callback: a participant that leaves during a hold stays paused
 *    as far as it is concerned (it is going away).
 *  - From inside a pause, resume, progress or result callback, otk_lock_running() already
 *    reports the new state (true while pausing, false while resuming and in the result); all
 *    calls that change the lock (register, unregister, take, release, progress, tick) return
 *    OTK_ERR_STATE there and change nothing.
 *  - With the device engine (otk_lock_on_dev_event): only OTK_EV_START takes the lock, and the
 *    engine emits it only after authentication succeeded and the space was reserved, so a
 *    stray, malformed or unauthenticated invitation never pauses anything. */
#ifndef OTK_LOCK_H
#define OTK_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_LOCK_WATCHDOG_DEFAULT_MS 30000u /* the gateway's ota_timeout_millis */
#define OTK_LOCK_RATE_WINDOW_MS      1000u  /* the rate covers the last 1-2 s */
#define OTK_LOCK_REFRESH_MS          1000u  /* a silent update is re-reported this often */

/** One application task that must be quiet during an update. Caller-owned; name, pause,
 *  resume and user are set by the caller before otk_lock_register() and not changed while
 *  registered. pause and resume may be NULL. */
struct otk_lock_participant {
    const char *name;
    void (*pause)(void *user);
    void (*resume)(void *user);
    void *user;
    /* private */
    bool paused;
};

/** Where an update is, as a screen or an LED would show it. */
enum otk_ota_phase {
    OTK_OTA_PHASE_IDLE = 0, /* no update since init */
    OTK_OTA_PHASE_START,    /* accepted and begun, no data yet */
    OTK_OTA_PHASE_RUNNING,  /* data arriving */
    OTK_OTA_PHASE_SUCCESS,  /* image accepted; the device reboots next */
    OTK_OTA_PHASE_ERROR,    /* failed or aborted */
    OTK_OTA_PHASE_STALLED,  /* no progress for the watchdog's limit: the lock let go */
};

/** A progress report. rate is bytes per second over the last OTK_LOCK_RATE_WINDOW_MS to twice
 *  that (since the start when the update is younger), so a stall shows as a falling rate. */
struct otk_ota_progress {
    enum otk_ota_phase phase;
    uint32_t bytes;      /* written so far */
    uint32_t total;      /* announced size */
    uint8_t percent;     /* 0..100, rounded down */
    uint32_t rate;       /* bytes per second */
    uint32_t elapsed_ms; /* since the start */
};

/** The result of one update, reported once, after the participants have been resumed. */
struct otk_ota_result {
    enum otk_ota_phase phase; /* SUCCESS, ERROR or STALLED */
    int err;                  /* OTK_OK on success, else an enum otk_err */
    int ota_error;            /* enum otk_ota_error from the engine, or -1 */
    int reason;               /* enum otk_upd_reason from the engine, or 0 */
    const char *what;         /* ArduinoOTA's onError words ("Receive Failed"...), "" if none */
    const char *text;         /* the detail as sent to the uploader, or `what`; never NULL */
    uint32_t bytes;
    uint32_t total;
    uint32_t elapsed_ms;
};

struct otk_lock_config {
    uint32_t watchdog_ms;          /* no progress for this long releases the lock; 0 = 30 s */
    uint32_t progress_interval_ms; /* at most one report per interval (start, 100 % and the
                                      end are always reported); 0 = every event */
    /** Progress for a screen, an LED or a status topic. May be NULL. */
    void (*on_progress)(void *user, const struct otk_ota_progress *p);
    /** The outcome. Pointers in *r are valid during the call only. May be NULL. */
    void (*on_result)(void *user, const struct otk_ota_result *r);
    void *user;
};

struct otk_lock {
    /* private: defined here so callers can allocate it statically */
    struct otk_lock_config cfg;
    struct otk_lock_participant *parts[OTK_CFG_LOCK_PARTICIPANTS];
    uint8_t count;
    bool held;
    bool in_callback;
    struct otk_ota_progress prog;
    uint32_t start_ms;
    uint32_t activity_ms; /* start or last progress: the watchdog counts from here */
    uint32_t report_ms;   /* last progress report */
    uint32_t win_t[2];    /* rate window: two samples (time, bytes), older first */
    uint32_t win_b[2];
};

/** Initialise (no participants, not held). cfg may be NULL for the defaults. */
void otk_lock_init(struct otk_lock *l, const struct otk_lock_config *cfg);

/** Add a participant (at the end of the order). If the lock is held, p is paused before this
 *  returns. @return OTK_OK, OTK_ERR_ARG (NULL), OTK_ERR_STATE (already registered, or called
 *  from a callback), OTK_ERR_NOSPACE (table full). */
int otk_lock_register(struct otk_lock *l, struct otk_lock_participant *p);

/** Remove a participant; no callback is called. @return OTK_OK, OTK_ERR_ARG,
 *  OTK_ERR_NOTFOUND, OTK_ERR_STATE (from a callback). */
int otk_lock_unregister(struct otk_lock *l, struct otk_lock_participant *p);

/** An update of `total` bytes started: pause every participant in registration order and
 *  report phase START. @return OTK_OK, OTK_ERR_BUSY (already held: nothing changes),
 *  OTK_ERR_STATE (from a callback). */
int otk_lock_take(struct otk_lock *l, uint32_t total, uint32_t now_ms);

/** bytes of the update are written. Feeds the watchdog and the rate; reports progress
 *  (rate-limited). @return OTK_OK, OTK_ERR_STATE (not held, or from a callback). */
int otk_lock_progress(struct otk_lock *l, uint32_t bytes, uint32_t now_ms);

/** The update ended: err OTK_OK is a success, anything else a failure with `text` (NULL = "").
 *  Reports the final progress, resumes every participant in reverse order, then reports the
 *  result. @return OTK_OK, OTK_ERR_STATE (not held, or from a callback). */
int otk_lock_release(struct otk_lock *l, int err, const char *text, uint32_t now_ms);

/** Time passed: the watchdog releases a lock whose update made no progress for watchdog_ms
 *  (phase STALLED, err OTK_ERR_TIMEOUT), and a running update without progress is re-reported
 *  every OTK_LOCK_REFRESH_MS so its falling rate shows. */
void otk_lock_tick(struct otk_lock *l, uint32_t now_ms);

/** Whether the lock wants a tick; if so *at gets the time. */
bool otk_lock_next_deadline(const struct otk_lock *l, uint32_t *at);

/** Whether an update holds the lock. Participants may ask at any time. */
bool otk_lock_running(const struct otk_lock *l);

/** The latest progress (phase IDLE before the first update). */
const struct otk_ota_progress *otk_lock_progress_get(const struct otk_lock *l);

/** Whether this participant is paused by the lock. */
bool otk_lock_participant_paused(const struct otk_lock_participant *p);

/** Feed a device engine event: START takes the lock, PROGRESS reports, END releases with
 *  success, ERROR releases with the engine's error (events while not held are ignored, except
 *  that a START while held restarts the progress of the new update). Call it from the engine's
 *  on_event hook with the port's clock. */
void otk_lock_on_dev_event(struct otk_lock *l, const struct otk_dev_event *ev, uint32_t now_ms);

/** One line for a small screen (21 characters fit a 128-pixel SSD1306 row): "OTA 66% 180 KB/s"
 *  while data flows (KB = 1024 bytes; below 1 KB/s in B/s; "OTA 100%" without a rate when no
 *  time has passed to measure one), "OTA start", "OTA done", "OTA failed", "OTA stalled"; ""
 *  when idle. Always NUL-terminated (truncated to cap - 1). @return the length written. */
size_t otk_ota_progress_line(const struct otk_ota_progress *p, char *out, size_t cap);

/** Short lower-case name of a phase: "idle", "start", "running", "success", "error",
 *  "stalled". */
const char *otk_ota_phase_str(enum otk_ota_phase ph);

/** ArduinoOTA's onError words for an ota_error_t: "Auth Failed", "Begin Failed",
 *  "Connect Failed", "Receive Failed", "End Failed"; "" for anything else. */
const char *otk_ota_error_str(int ota_error);

#ifdef __cplusplus
}
#endif
#endif
