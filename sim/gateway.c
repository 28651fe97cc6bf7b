/* SPDX-License-Identifier: MIT */
/* The emulated gateway's tasks (see gateway.h). Everything runs in the emulator's one poll loop,
 * as the tasks of a small device share one CPU: the BLE schedule and the MQTT timers are
 * deadlines, the MQTT socket is one more descriptor, and nothing here blocks - except the CPU
 * stall the BLE task is asked to model, which blocks on purpose. */
#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "otakit/err.h"
#include "otakit/posix.h"

#define MQTT_KEEPALIVE_S    10
#define MQTT_BACKOFF_MIN_MS 250u
#define MQTT_BACKOFF_MAX_MS 4000u
#define MQTT_CONNACK_MS     5000u /* a connect that gets no CONNACK in time is retried */
#define MQTT_MISC_MS        1000u /* keepalive bookkeeping (mosquitto_loop_misc) */
#define PROGRESS_DEFAULT_MS 250u
#define PAYLOAD_MAX         512

enum mq_state {
    MQ_IDLE,       /* not connected; retry at mq_retry_at */
    MQ_CONNECTING, /* TCP connect / CONNECT sent, waiting for CONNACK */
    MQ_CONNECTED,
};

struct otk_gw {
    struct otk_gw_config cfg;
    struct otk_gw_radio radio;
    uint32_t now; /* time of the current entry point, for callbacks that get none */
    uint32_t start_ms;
    char name[64];
    char base[192];
    char t_state[224], t_sys[224], t_bt[224], t_status[224];
    struct otk_lock lock;
    struct otk_lock_participant p_ble, p_mqtt;

    /* BLE scan task */
    bool ble_on, ble_paused, ble_holding, radio_held;
    uint32_t ble_edge;      /* next window start (not holding) or end (holding) */
    uint32_t ble_win_start; /* start of the current window */
    uint32_t ble_scans, ble_seen;
    uint32_t rng;

    /* MQTT task */
    struct mosquitto *mosq;
    bool mq_on, mq_paused, mq_started, mq_refused;
    enum mq_state mq_state;
    uint32_t mq_retry_at, mq_backoff, mq_deadline, mq_misc_at;
    uint32_t reading_at, reading_seq;
    bool reading_due; /* a reading waits for the radio */
    bool state_dirty; /* state_payload was not published yet */
    char state_payload[PAYLOAD_MAX];
};

static bool
reached(uint32_t now, uint32_t at)
{
    return (int32_t)(now - at) >= 0;
}

static void
lower(int *timeout, uint32_t now, uint32_t at)
{
    int32_t d = (int32_t)(at - now);
    int t = d > 0 ? (int)d : 0;
    if (*timeout < 0 || t < *timeout)
        *timeout = t;
}

static void
rep(struct otk_gw *gw, struct otk_gw_report *r)
{
    r->now_ms = gw->now;
    if (gw->cfg.report)
        gw->cfg.report(gw->cfg.user, r);
}

static void
rep_mqtt(struct otk_gw *gw, bool connected, const char *why, uint32_t retry_ms)
{
    struct otk_gw_report r = {
        .type = OTK_GW_REP_MQTT, .flag = connected, .text = why, .value = retry_ms};
    rep(gw, &r);
}

/* JSON string body: the device's texts are plain ASCII, but never trust that. */
static void
json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7F) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

/* ---- MQTT ------------------------------------------------------------------------------ */

static bool
mq_can_send(const struct otk_gw *gw)
{
    /* The radio is shared: while BLE holds it, Wi-Fi sends nothing (the client's own keepalive
     * traffic excepted, see docs/EMULATOR.md). */
    return gw->mq_on && gw->mq_state == MQ_CONNECTED && !gw->radio_held;
}

static bool
mq_publish(struct otk_gw *gw, const char *topic, const char *payload, bool retain)
{
    if (!mq_can_send(gw))
        return false;
    int rc = mosquitto_publish(gw->mosq, NULL, topic, (int)strlen(payload), payload, 0, retain);
    return rc == MOSQ_ERR_SUCCESS;
}

/* The latest OTA state goes out as soon as it can: it is retained, and only the latest
 * matters, so states that could not be sent are coalesced rather than queued. */
static void
flush_state(struct otk_gw *gw)
{
    if (gw->state_dirty && mq_publish(gw, gw->t_state, gw->state_payload, true))
        gw->state_dirty = false;
}

static void
publish_reading(struct otk_gw *gw)
{
    char payload[PAYLOAD_MAX];
    gw->reading_seq++;
    snprintf(payload, sizeof payload,
             "{\"seq\":%u,\"uptime_ms\":%u,\"ble_scans\":%u,\"ble_seen\":%u,\"ota\":%s}",
             (unsigned)gw->reading_seq, (unsigned)(gw->now - gw->start_ms), (unsigned)gw->ble_scans,
             (unsigned)gw->ble_seen, otk_lock_running(&gw->lock) ? "true" : "false");
    struct otk_gw_report r = {.type = OTK_GW_REP_READING,
                              .text = gw->t_sys,
                              .seq = gw->reading_seq,
                              .flag = mq_publish(gw, gw->t_sys, payload, false)};
    rep(gw, &r);
}

static void
on_connect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    struct otk_gw *gw = user;
    if (rc != 0) {
        gw->mq_refused = true; /* handled after the loop call returns */
        return;
    }
    gw->mq_state = MQ_CONNECTED;
    gw->mq_backoff = MQTT_BACKOFF_MIN_MS;
    rep_mqtt(gw, true, "connected", 0);
    mq_publish(gw, gw->t_status, "online", true);
    flush_state(gw);
}

static void
mq_schedule_retry(struct otk_gw *gw, const char *why)
{
    gw->mq_state = MQ_IDLE;
    gw->mq_retry_at = gw->now + gw->mq_backoff;
    rep_mqtt(gw, false, why, gw->mq_backoff);
    gw->mq_backoff =
        gw->mq_backoff * 2 > MQTT_BACKOFF_MAX_MS ? MQTT_BACKOFF_MAX_MS : gw->mq_backoff * 2;
}

static void
on_disconnect(struct mosquitto *m, void *user, int rc)
{
    (void)m;
    struct otk_gw *gw = user;
    char why[96];
    if (rc == 0)
        snprintf(why, sizeof why, "disconnected");
    else
        snprintf(why, sizeof why, "disconnected: %s", mosquitto_strerror(rc));
    mq_schedule_retry(gw, why);
}

/* Start a connection without waiting for it: connect_async puts a non-blocking socket in
 * connect; CONNACK arrives through the poll loop. (libmosquitto documents connect_async for
 * its threaded loop; with 2.0 it also works with loop_read/loop_write, which we rely on so that
 * a broker that is down or slow can never stall the device loop.) */
static void
mq_try_connect(struct otk_gw *gw)
{
    int rc;
    errno = 0;
    if (!gw->mq_started)
        rc = mosquitto_connect_async(gw->mosq, gw->cfg.mqtt_host, gw->cfg.mqtt_port,
                                     MQTT_KEEPALIVE_S);
    else
        rc = mosquitto_reconnect_async(gw->mosq);
    if (rc == MOSQ_ERR_SUCCESS) {
        gw->mq_started = true;
        gw->mq_state = MQ_CONNECTING;
        gw->mq_deadline = gw->now + MQTT_CONNACK_MS;
        gw->mq_misc_at = gw->now + MQTT_MISC_MS;
        return;
    }
    char why[128];
    snprintf(why, sizeof why, "connect to %s:%u failed: %s", gw->cfg.mqtt_host,
             (unsigned)gw->cfg.mqtt_port,
             rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    /* a host name that did not resolve is not fatal either: it may resolve later */
    gw->mq_started = gw->mq_started || rc == MOSQ_ERR_ERRNO;
    mq_schedule_retry(gw, why);
}

static void
mq_process(struct otk_gw *gw, short revents)
{
    if (gw->mq_state == MQ_IDLE)
        return;
    if (revents & (POLLIN | POLLERR | POLLHUP))
        mosquitto_loop_read(gw->mosq, 1);
    if ((revents & POLLOUT) && mosquitto_socket(gw->mosq) >= 0)
        mosquitto_loop_write(gw->mosq, 1);
    if (gw->mq_state != MQ_IDLE && reached(gw->now, gw->mq_misc_at)) {
        gw->mq_misc_at = gw->now + MQTT_MISC_MS;
        if (mosquitto_socket(gw->mosq) >= 0)
            mosquitto_loop_misc(gw->mosq);
    }
    if (gw->mq_refused) {
        gw->mq_refused = false;
        mosquitto_disconnect(gw->mosq);
        mq_schedule_retry(gw, "the broker refused the connection");
    } else if (gw->mq_state == MQ_CONNECTING && reached(gw->now, gw->mq_deadline)) {
        mosquitto_disconnect(gw->mosq);
        mq_schedule_retry(gw, "no CONNACK from the broker");
    } else if (gw->mq_state != MQ_IDLE && mosquitto_socket(gw->mosq) < 0) {
        mq_schedule_retry(gw, "connection lost");
    }
}

static void
mq_timers(struct otk_gw *gw)
{
    if (!gw->mq_on)
        return;
    if (gw->mq_state == MQ_IDLE && reached(gw->now, gw->mq_retry_at))
        mq_try_connect(gw);
    if (reached(gw->now, gw->reading_at)) {
        gw->reading_at += gw->cfg.reading_ms;
        if (reached(gw->now, gw->reading_at))
            gw->reading_at = gw->now + gw->cfg.reading_ms; /* the loop was late: no burst */
        if (!gw->mq_paused) {
            if (gw->radio_held)
                gw->reading_due = true;
            else
                publish_reading(gw);
        }
    }
}

/* ---- BLE scan ------------------------------------------------------------------------- */

static void
radio_set(struct otk_gw *gw, bool held)
{
    gw->radio_held = held;
    if (gw->radio.hold)
        gw->radio.hold(gw->radio.user, held, gw->now);
    if (!held) {
        flush_state(gw);
        if (gw->reading_due && !gw->mq_paused) {
            gw->reading_due = false;
            publish_reading(gw);
        }
    }
}

static void
cpu_stall(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* A window ended (or was cut short by a pause): the scan's findings become a reading. */
static void
ble_window_end(struct otk_gw *gw, bool cut)
{
    uint32_t held = gw->now - gw->ble_win_start;
    gw->ble_holding = false;
    radio_set(gw, false);
    gw->ble_scans++;
    /* A fixed pseudo-random neighbourhood: 1..5 advertisers per window, reproducible. */
    gw->rng = gw->rng * 1103515245u + 12345u;
    uint32_t seen = 1u + (gw->rng >> 16) % 5u;
    int rssi = -40 - (int)((gw->rng >> 8) % 50u);
    gw->ble_seen += seen;
    bool published = false;
    if (!gw->mq_paused) {
        char payload[PAYLOAD_MAX];
        snprintf(payload, sizeof payload,
                 "{\"scan\":%u,\"seen\":%u,\"id\":\"C4:7C:8D:6A:%02X:%02X\",\"rssi\":%d}",
                 (unsigned)gw->ble_scans, (unsigned)seen, (unsigned)(gw->rng >> 24) & 0xFFu,
                 (unsigned)(gw->rng >> 4) & 0xFFu, rssi);
        published = mq_publish(gw, gw->t_bt, payload, false);
    }
    struct otk_gw_report r = {.type = OTK_GW_REP_BLE_SCAN,
                              .flag = cut,
                              .seq = gw->ble_scans,
                              .value = held,
                              .seen = seen,
                              .text = published ? "published" : ""};
    rep(gw, &r);
    if (!cut && gw->cfg.ble_cpu_stall_ms)
        cpu_stall(gw->cfg.ble_cpu_stall_ms); /* parsing the advertisements: the loop waits */
}

static void
ble_timers(struct otk_gw *gw)
{
    if (!gw->ble_on || gw->ble_paused)
        return;
    for (int guard = 0; guard < 4 && reached(gw->now, gw->ble_edge); guard++) {
        if (!gw->ble_holding) {
            gw->ble_holding = true;
            gw->ble_win_start = gw->ble_edge;
            gw->ble_edge = gw->ble_win_start + gw->cfg.ble_window_ms;
            radio_set(gw, true);
        } else {
            uint32_t next = gw->ble_win_start + gw->cfg.ble_interval_ms;
            ble_window_end(gw, false);
            gw->now = otk_posix_now_ms(); /* a CPU stall took time */
            gw->ble_edge = reached(gw->now, next) ? gw->now : next;
        }
    }
}

/* ---- the lock's participants and reports -------------------------------------------- */

static void
rep_task(struct otk_gw *gw, const char *task, bool paused)
{
    struct otk_gw_report r = {.type = OTK_GW_REP_TASK, .task = task, .flag = paused};
    rep(gw, &r);
}

static void
ble_pause(void *user)
{
    struct otk_gw *gw = user;
    gw->ble_paused = true;
    if (gw->ble_holding)
        ble_window_end(gw, true); /* stopping the scan gives the radio back at once */
    rep_task(gw, "ble", true);
}

static void
ble_resume(void *user)
{
    struct otk_gw *gw = user;
    gw->ble_paused = false;
    /* The scan restarts with a full interval ahead: first the gap, then the window. */
    gw->ble_edge = gw->now + (gw->cfg.ble_interval_ms - gw->cfg.ble_window_ms);
    rep_task(gw, "ble", false);
}

static void
mqtt_pause(void *user)
{
    struct otk_gw *gw = user;
    gw->mq_paused = true;
    gw->reading_due = false;
    rep_task(gw, "mqtt", true);
}

static void
mqtt_resume(void *user)
{
    struct otk_gw *gw = user;
    gw->mq_paused = false;
    gw->reading_at = gw->now; /* the first reading after an update goes out at once */
    rep_task(gw, "mqtt", false);
}

static void
set_state(struct otk_gw *gw, const struct otk_ota_progress *p, const char *error, int code)
{
    char err[256];
    char *o = gw->state_payload;
    size_t cap = sizeof gw->state_payload;
    int n = snprintf(o, cap,
                     "{\"state\":\"%s\",\"percent\":%u,\"bytes\":%u,\"total\":%u,\"rate\":%u,"
                     "\"error\":",
                     otk_ota_phase_str(p->phase), (unsigned)p->percent, (unsigned)p->bytes,
                     (unsigned)p->total, (unsigned)p->rate);
    if (error) {
        json_escape(err, sizeof err, error);
        n += snprintf(o + n, cap - (size_t)n, "\"%s\",\"code\":%d", err, code);
    } else {
        n += snprintf(o + n, cap - (size_t)n, "null");
    }
    snprintf(o + n, cap - (size_t)n, ",\"ms\":%u}", (unsigned)p->elapsed_ms);
    gw->state_dirty = true;
    flush_state(gw);
    struct otk_gw_report r = {.type = OTK_GW_REP_OTA_STATE,
                              .json = gw->state_payload,
                              .prog = p,
                              .flag = !gw->state_dirty};
    rep(gw, &r);
}

static void
on_progress(void *user, const struct otk_ota_progress *p)
{
    struct otk_gw *gw = user;
    if (p->phase == OTK_OTA_PHASE_SUCCESS || p->phase == OTK_OTA_PHASE_ERROR ||
        p->phase == OTK_OTA_PHASE_STALLED)
        return; /* the result follows, with its error text: one final message */
    if (p->phase == OTK_OTA_PHASE_START && gw->cfg.lock) {
        struct otk_gw_report r = {.type = OTK_GW_REP_LOCK, .flag = true, .text = "start"};
        rep(gw, &r);
    }
    set_state(gw, p, NULL, 0);
}

static void
on_result(void *user, const struct otk_ota_result *res)
{
    struct otk_gw *gw = user;
    char error[224];
    const char *e = NULL;
    if (res->phase != OTK_OTA_PHASE_SUCCESS) {
        if (res->what[0] && strcmp(res->what, res->text) != 0)
            snprintf(error, sizeof error, "%s: %s", res->what, res->text);
        else
            snprintf(error, sizeof error, "%s", res->text);
        e = error;
    }
    set_state(gw, otk_lock_progress_get(&gw->lock), e, res->err);
    if (gw->cfg.lock) {
        struct otk_gw_report r = {
            .type = OTK_GW_REP_LOCK, .flag = false, .text = otk_ota_phase_str(res->phase)};
        rep(gw, &r);
    }
}

/* ---- the public face ------------------------------------------------------------------ */

struct otk_gw *
otk_gw_new(const struct otk_gw_config *cfg, const struct otk_gw_radio *radio, uint32_t now_ms,
           char *err, size_t errcap)
{
    if (cfg->ble_window_ms && cfg->ble_window_ms >= cfg->ble_interval_ms) {
        snprintf(err, errcap, "the BLE window must be shorter than the interval");
        return NULL;
    }
    struct otk_gw *gw = calloc(1, sizeof *gw);
    if (!gw) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    gw->cfg = *cfg;
    if (radio)
        gw->radio = *radio;
    gw->now = now_ms;
    gw->start_ms = now_ms;
    gw->rng = 0x5EED;
    snprintf(gw->name, sizeof gw->name, "%s", cfg->name && *cfg->name ? cfg->name : "otakit");
    if (cfg->topic && *cfg->topic)
        snprintf(gw->base, sizeof gw->base, "%s", cfg->topic);
    else
        snprintf(gw->base, sizeof gw->base, "otakit/%s", gw->name);
    snprintf(gw->t_state, sizeof gw->t_state, "%s/ota/state", gw->base);
    snprintf(gw->t_sys, sizeof gw->t_sys, "%s/SYStoMQTT", gw->base);
    snprintf(gw->t_bt, sizeof gw->t_bt, "%s/BTtoMQTT", gw->base);
    snprintf(gw->t_status, sizeof gw->t_status, "%s/status", gw->base);
    gw->cfg.name = gw->name;
    gw->cfg.topic = gw->base;
    if (!gw->cfg.reading_ms)
        gw->cfg.reading_ms = 1000;

    struct otk_lock_config lc = {
        .watchdog_ms = cfg->watchdog_ms,
        .progress_interval_ms = cfg->progress_ms ? cfg->progress_ms : PROGRESS_DEFAULT_MS,
        .on_progress = on_progress,
        .on_result = on_result,
        .user = gw,
    };
    otk_lock_init(&gw->lock, &lc);
    /* Without the lock the progress reporter still runs: only the pausing is left out. */
    gw->p_ble = (struct otk_lock_participant){
        .name = "ble", .pause = ble_pause, .resume = ble_resume, .user = gw};
    gw->p_mqtt = (struct otk_lock_participant){
        .name = "mqtt", .pause = mqtt_pause, .resume = mqtt_resume, .user = gw};

    gw->ble_on = cfg->ble_window_ms > 0;
    gw->ble_edge = now_ms + (cfg->ble_interval_ms - cfg->ble_window_ms);
    if (gw->ble_on && cfg->lock)
        otk_lock_register(&gw->lock, &gw->p_ble);

    gw->mq_on = cfg->mqtt_host && *cfg->mqtt_host;
    if (gw->mq_on) {
        mosquitto_lib_init();
        gw->mosq = mosquitto_new(gw->name, true, gw);
        if (!gw->mosq) {
            snprintf(err, errcap, "mosquitto_new: %s", strerror(errno));
            mosquitto_lib_cleanup();
            free(gw);
            return NULL;
        }
        mosquitto_connect_callback_set(gw->mosq, on_connect);
        mosquitto_disconnect_callback_set(gw->mosq, on_disconnect);
        mosquitto_will_set(gw->mosq, gw->t_status, 7, "offline", 0, true);
        gw->mq_backoff = MQTT_BACKOFF_MIN_MS;
        gw->mq_state = MQ_IDLE;
        gw->mq_retry_at = now_ms;
        gw->reading_at = now_ms + gw->cfg.reading_ms;
        if (cfg->lock)
            otk_lock_register(&gw->lock, &gw->p_mqtt);
    }
    struct otk_gw_report r = {.type = OTK_GW_REP_READY, .text = gw->base};
    rep(gw, &r);
    mq_timers(gw); /* the first connection attempt */
    return gw;
}

void
otk_gw_free(struct otk_gw *gw)
{
    if (!gw)
        return;
    if (gw->mosq) {
        if (gw->mq_state == MQ_CONNECTED) {
            /* A clean goodbye: the will is only for deaths. */
            mosquitto_disconnect_callback_set(gw->mosq, NULL);
            mosquitto_publish(gw->mosq, NULL, gw->t_status, 7, "offline", 0, true);
            mosquitto_disconnect(gw->mosq);
        }
        mosquitto_destroy(gw->mosq);
        mosquitto_lib_cleanup();
    }
    free(gw);
}

void
otk_gw_on_dev_event(struct otk_gw *gw, const struct otk_dev_event *ev, uint32_t now_ms)
{
    gw->now = now_ms;
    otk_lock_on_dev_event(&gw->lock, ev, now_ms);
}

int
otk_gw_pollfds(struct otk_gw *gw, struct pollfd *pfds, int *timeout_ms, uint32_t now_ms)
{
    int n = 0;
    uint32_t at;
    if (gw->ble_on && !gw->ble_paused)
        lower(timeout_ms, now_ms, gw->ble_edge);
    if (gw->mq_on) {
        lower(timeout_ms, now_ms, gw->reading_at);
        if (gw->mq_state == MQ_IDLE) {
            lower(timeout_ms, now_ms, gw->mq_retry_at);
        } else {
            lower(timeout_ms, now_ms, gw->mq_misc_at);
            if (gw->mq_state == MQ_CONNECTING)
                lower(timeout_ms, now_ms, gw->mq_deadline);
            int fd = mosquitto_socket(gw->mosq);
            if (fd >= 0 && !gw->radio_held) {
                pfds[n].fd = fd;
                pfds[n].events = POLLIN | (mosquitto_want_write(gw->mosq) ? POLLOUT : 0);
                pfds[n].revents = 0;
                n++;
            }
        }
    }
    if (otk_lock_next_deadline(&gw->lock, &at))
        lower(timeout_ms, now_ms, at);
    return n;
}

void
otk_gw_process(struct otk_gw *gw, const struct pollfd *pfds, int n, uint32_t now_ms)
{
    gw->now = now_ms;
    if (gw->mq_on && !gw->radio_held) {
        short revents = 0;
        int fd = mosquitto_socket(gw->mosq);
        for (int i = 0; i < n && fd >= 0; i++)
            if (pfds[i].fd == fd)
                revents = pfds[i].revents;
        mq_process(gw, revents);
    }
    ble_timers(gw);
    mq_timers(gw);
    otk_lock_tick(&gw->lock, gw->now);
}

bool
otk_gw_locked(const struct otk_gw *gw)
{
    return otk_lock_running(&gw->lock);
}

void
otk_gw_power_off(struct otk_gw *gw)
{
    if (!gw)
        return;
    if (gw->mosq) {
        mosquitto_destroy(gw->mosq); /* closes the socket, sends no DISCONNECT */
        mosquitto_lib_cleanup();
    }
    free(gw);
}
