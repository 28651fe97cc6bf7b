/* SPDX-License-Identifier: MIT */
/* The OTA lock (see include/otakit/lock.h for the rules). The gateway this comes from paused
 * its BLE scan when an update started and rebooted on any error, so a failed update cost a
 * restart and a stalled one left it deaf; here every way out of an update - success, error,
 * watchdog - resumes the participants, and the same object reports progress and the result. */
#include <string.h>

#include "otakit/err.h"
#include "otakit/lock.h"

#define STALL_TEXT "no progress: the watchdog released the OTA lock"

static bool
time_reached(uint32_t now, uint32_t at)
{
    return (int32_t)(now - at) >= 0;
}

static uint8_t
percent_of(uint32_t bytes, uint32_t total)
{
    uint64_t p;

    if (total == 0)
        return 0;
    p = (uint64_t)bytes * 100u / total;
    return (uint8_t)(p > 100u ? 100u : p);
}

/* Two samples, at least a window apart: the rate covers 1-2 windows, so it reacts to a stall
 * within a couple of seconds but does not jump with every 1460-byte piece. */
static void
sample(struct otk_lock *l, uint32_t now)
{
    uint32_t dt;

    if (now - l->win_t[1] >= OTK_LOCK_RATE_WINDOW_MS) {
        l->win_t[0] = l->win_t[1];
        l->win_b[0] = l->win_b[1];
        l->win_t[1] = now;
        l->win_b[1] = l->prog.bytes;
    }
    dt = now - l->win_t[0];
    l->prog.rate =
        dt ? (uint32_t)((uint64_t)(l->prog.bytes - l->win_b[0]) * 1000u / dt) : (uint32_t)0;
    l->prog.elapsed_ms = now - l->start_ms;
    l->prog.percent = percent_of(l->prog.bytes, l->prog.total);
}

static void
report(struct otk_lock *l, uint32_t now)
{
    l->report_ms = now;
    if (!l->cfg.on_progress)
        return;
    l->in_callback = true;
    l->cfg.on_progress(l->cfg.user, &l->prog);
    l->in_callback = false;
}

static void
begin_update(struct otk_lock *l, uint32_t total, uint32_t now)
{
    memset(&l->prog, 0, sizeof l->prog);
    l->prog.phase = OTK_OTA_PHASE_START;
    l->prog.total = total;
    l->start_ms = now;
    l->activity_ms = now;
    l->win_t[0] = now;
    l->win_t[1] = now;
    l->win_b[0] = 0;
    l->win_b[1] = 0;
}

void
otk_lock_init(struct otk_lock *l, const struct otk_lock_config *cfg)
{
    memset(l, 0, sizeof *l);
    if (cfg)
        l->cfg = *cfg;
    if (!l->cfg.watchdog_ms)
        l->cfg.watchdog_ms = OTK_LOCK_WATCHDOG_DEFAULT_MS;
    l->prog.phase = OTK_OTA_PHASE_IDLE;
}

static int
find(const struct otk_lock *l, const struct otk_lock_participant *p)
{
    int i;

    for (i = 0; i < l->count; i++)
        if (l->parts[i] == p)
            return i;
    return -1;
}

int
otk_lock_register(struct otk_lock *l, struct otk_lock_participant *p)
{
    if (!l || !p)
        return OTK_ERR_ARG;
    if (l->in_callback || find(l, p) >= 0)
        return OTK_ERR_STATE;
    if (l->count >= OTK_CFG_LOCK_PARTICIPANTS)
        return OTK_ERR_NOSPACE;
    l->parts[l->count++] = p;
    p->paused = false;
    if (l->held) {
        /* A task that starts mid-update must not disturb it: it joins the hold at once. */
        p->paused = true;
        if (p->pause) {
            l->in_callback = true;
            p->pause(p->user);
            l->in_callback = false;
        }
    }
    return OTK_OK;
}

int
otk_lock_unregister(struct otk_lock *l, struct otk_lock_participant *p)
{
    int i;

    if (!l || !p)
        return OTK_ERR_ARG;
    if (l->in_callback)
        return OTK_ERR_STATE;
    i = find(l, p);
    if (i < 0)
        return OTK_ERR_NOTFOUND;
    memmove(&l->parts[i], &l->parts[i + 1], (size_t)(l->count - i - 1) * sizeof l->parts[0]);
    l->count--;
    p->paused = false;
    return OTK_OK;
}

int
otk_lock_take(struct otk_lock *l, uint32_t total, uint32_t now_ms)
{
    int i;

    if (l->in_callback)
        return OTK_ERR_STATE;
    if (l->held)
        return OTK_ERR_BUSY;
    begin_update(l, total, now_ms);
    l->held = true; /* before the callbacks: a pausing task that asks sees the update */
    l->in_callback = true;
    for (i = 0; i < l->count; i++) {
        struct otk_lock_participant *p = l->parts[i];
        p->paused = true;
        if (p->pause)
            p->pause(p->user);
    }
    l->in_callback = false;
    report(l, now_ms);
    return OTK_OK;
}

int
otk_lock_progress(struct otk_lock *l, uint32_t bytes, uint32_t now_ms)
{
    bool due;

    if (l->in_callback || !l->held)
        return OTK_ERR_STATE;
    l->prog.phase = OTK_OTA_PHASE_RUNNING;
    l->prog.bytes = bytes;
    l->activity_ms = now_ms;
    sample(l, now_ms);
    due = l->cfg.progress_interval_ms == 0 || bytes >= l->prog.total ||
          now_ms - l->report_ms >= l->cfg.progress_interval_ms;
    if (due)
        report(l, now_ms);
    return OTK_OK;
}

/* End the hold: final progress, resume in reverse order, then the result. */
static void
finish(struct otk_lock *l, struct otk_ota_result *r, uint32_t now)
{
    int i;

    l->prog.phase = r->phase;
    sample(l, now);
    report(l, now);
    l->held = false; /* before the callbacks: a resuming task that asks sees no update */
    l->in_callback = true;
    for (i = l->count - 1; i >= 0; i--) {
        struct otk_lock_participant *p = l->parts[i];
        if (!p->paused)
            continue;
        p->paused = false;
        if (p->resume)
            p->resume(p->user);
    }
    r->bytes = l->prog.bytes;
    r->total = l->prog.total;
    r->elapsed_ms = l->prog.elapsed_ms;
    if (l->cfg.on_result)
        l->cfg.on_result(l->cfg.user, r);
    l->in_callback = false;
}

int
otk_lock_release(struct otk_lock *l, int err, const char *text, uint32_t now_ms)
{
    struct otk_ota_result r;

    if (l->in_callback || !l->held)
        return OTK_ERR_STATE;
    memset(&r, 0, sizeof r);
    r.phase = err == OTK_OK ? OTK_OTA_PHASE_SUCCESS : OTK_OTA_PHASE_ERROR;
    r.err = err;
    r.ota_error = -1;
    r.what = "";
    r.text = text ? text : "";
    finish(l, &r, now_ms);
    return OTK_OK;
}

void
otk_lock_tick(struct otk_lock *l, uint32_t now_ms)
{
    struct otk_ota_result r;

    if (l->in_callback || !l->held)
        return;
    if (time_reached(now_ms, l->activity_ms + l->cfg.watchdog_ms)) {
        memset(&r, 0, sizeof r);
        r.phase = OTK_OTA_PHASE_STALLED;
        r.err = OTK_ERR_TIMEOUT;
        r.ota_error = -1;
        r.what = "";
        r.text = STALL_TEXT;
        finish(l, &r, now_ms);
        return;
    }
    if (time_reached(now_ms, l->report_ms + OTK_LOCK_REFRESH_MS)) {
        sample(l, now_ms);
        report(l, now_ms);
    }
}

bool
otk_lock_next_deadline(const struct otk_lock *l, uint32_t *at)
{
    uint32_t wd, rf;

    if (!l->held)
        return false;
    wd = l->activity_ms + l->cfg.watchdog_ms;
    rf = l->report_ms + OTK_LOCK_REFRESH_MS;
    if (at)
        *at = (int32_t)(rf - wd) < 0 ? rf : wd;
    return true;
}

bool
otk_lock_running(const struct otk_lock *l)
{
    return l->held;
}

const struct otk_ota_progress *
otk_lock_progress_get(const struct otk_lock *l)
{
    return &l->prog;
}

bool
otk_lock_participant_paused(const struct otk_lock_participant *p)
{
    return p->paused;
}

/* The engine's reasons as library error codes, so a result handler can switch on one enum. */
static int
err_of(const struct otk_dev_event *ev)
{
    switch (ev->reason) {
    case OTK_UPD_MD5:
        return OTK_ERR_MD5;
    case OTK_UPD_SPACE:
    case OTK_UPD_SIZE:
        return OTK_ERR_NOSPACE;
    case OTK_UPD_STREAM:
        return OTK_ERR_TIMEOUT;
    case OTK_UPD_WRITE:
    case OTK_UPD_ERASE:
    case OTK_UPD_READ:
        return OTK_ERR_FLASH;
    case OTK_UPD_MAGIC:
    case OTK_UPD_ACTIVATE:
    case OTK_UPD_NEW_FLASH_CONFIG:
    case OTK_UPD_BAD_IMAGE:
        return OTK_ERR_IMAGE;
    case OTK_UPD_RUNNING:
        return OTK_ERR_BUSY;
    case OTK_UPD_ABORTED:
        return ev->ota_error == OTK_OTA_CONNECT_ERROR ? OTK_ERR_IO : OTK_ERR_CLOSED;
    default:
        break;
    }
    switch (ev->ota_error) {
    case OTK_OTA_AUTH_ERROR:
        return OTK_ERR_AUTH;
    case OTK_OTA_CONNECT_ERROR:
        return OTK_ERR_IO;
    case OTK_OTA_RECEIVE_ERROR:
        return OTK_ERR_TIMEOUT;
    default:
        return OTK_ERR_STATE;
    }
}

void
otk_lock_on_dev_event(struct otk_lock *l, const struct otk_dev_event *ev, uint32_t now_ms)
{
    struct otk_ota_result r;

    if (l->in_callback)
        return;
    switch (ev->type) {
    case OTK_EV_START:
        if (l->held) {
            /* The engine began a new update without ending the last one (it restarted):
             * the tasks are paused already; only the report starts over. */
            begin_update(l, ev->total, now_ms);
            report(l, now_ms);
        } else {
            (void)otk_lock_take(l, ev->total, now_ms);
        }
        break;
    case OTK_EV_PROGRESS:
        (void)otk_lock_progress(l, ev->bytes, now_ms);
        break;
    case OTK_EV_END:
        if (l->held) {
            l->prog.bytes = ev->bytes;
            (void)otk_lock_release(l, OTK_OK, "", now_ms);
        }
        break;
    case OTK_EV_ERROR:
        /* Auth and begin failures come without a START: the lock was never taken. */
        if (!l->held)
            break;
        memset(&r, 0, sizeof r);
        r.phase = OTK_OTA_PHASE_ERROR;
        r.err = err_of(ev);
        r.ota_error = (int)ev->ota_error;
        r.reason = (int)ev->reason;
        r.what = otk_ota_error_str((int)ev->ota_error);
        r.text = ev->text && ev->text[0] ? ev->text : r.what;
        l->prog.bytes = ev->bytes;
        finish(l, &r, now_ms);
        break;
    }
}

/* Bounded writes for the screen line: truncated, never overflowing. */
static void
put_str(char *out, size_t cap, size_t *n, const char *s)
{
    while (*s && *n + 1 < cap)
        out[(*n)++] = *s++;
}

static void
put_uint(char *out, size_t cap, size_t *n, uint32_t v)
{
    char tmp[10];
    size_t k = 0;

    do {
        tmp[k++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (k > 0 && *n + 1 < cap)
        out[(*n)++] = tmp[--k];
}

size_t
otk_ota_progress_line(const struct otk_ota_progress *p, char *out, size_t cap)
{
    size_t n = 0;

    if (!out || cap == 0)
        return 0;
    switch (p->phase) {
    case OTK_OTA_PHASE_IDLE:
        break;
    case OTK_OTA_PHASE_START:
        put_str(out, cap, &n, "OTA start");
        break;
    case OTK_OTA_PHASE_RUNNING:
        put_str(out, cap, &n, "OTA ");
        put_uint(out, cap, &n, p->percent);
        put_str(out, cap, &n, "%");
        /* No time has passed yet (a small image can arrive in one piece): no rate to show. */
        if (p->elapsed_ms == 0)
            break;
        put_str(out, cap, &n, " ");
        put_uint(out, cap, &n, p->rate < 1024u ? p->rate : p->rate / 1024u);
        put_str(out, cap, &n, p->rate < 1024u ? " B/s" : " KB/s");
        break;
    case OTK_OTA_PHASE_SUCCESS:
        put_str(out, cap, &n, "OTA done");
        break;
    case OTK_OTA_PHASE_ERROR:
        put_str(out, cap, &n, "OTA failed");
        break;
    case OTK_OTA_PHASE_STALLED:
        put_str(out, cap, &n, "OTA stalled");
        break;
    }
    out[n] = '\0';
    return n;
}

const char *
otk_ota_phase_str(enum otk_ota_phase ph)
{
    switch (ph) {
    case OTK_OTA_PHASE_IDLE:
        return "idle";
    case OTK_OTA_PHASE_START:
        return "start";
    case OTK_OTA_PHASE_RUNNING:
        return "running";
    case OTK_OTA_PHASE_SUCCESS:
        return "success";
    case OTK_OTA_PHASE_ERROR:
        return "error";
    case OTK_OTA_PHASE_STALLED:
        return "stalled";
    }
    return "unknown";
}

const char *
otk_ota_error_str(int ota_error)
{
    switch (ota_error) {
    case OTK_OTA_AUTH_ERROR:
        return "Auth Failed";
    case OTK_OTA_BEGIN_ERROR:
        return "Begin Failed";
    case OTK_OTA_CONNECT_ERROR:
        return "Connect Failed";
    case OTK_OTA_RECEIVE_ERROR:
        return "Receive Failed";
    case OTK_OTA_END_ERROR:
        return "End Failed";
    default:
        return "";
    }
}
