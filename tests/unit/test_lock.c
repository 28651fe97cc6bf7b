/* SPDX-License-Identifier: MIT */
/* The OTA lock: ordering, re-entrancy, the watchdog, the progress reporter, the result, and the
 * wiring to the real device engine (only an authenticated update takes the lock). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "helper_rig.h"
#include "otakit/err.h"
#include "otakit/lock.h"

/* A log of callbacks, e.g. "P:a P:b R:b R:a =error". */
struct trace {
    char log[512];
    struct otk_lock *lock;
    int progress_calls;
    struct otk_ota_progress last_prog;
    int results;
    struct otk_ota_result last_result;
    char result_text[128];
    char result_what[32];
    bool running_in_result;
    /* re-entrancy probes, filled by the pause callback of participant "probe" */
    int probe_rc[6];
    bool running_in_pause;
    bool running_in_resume;
};

struct task {
    struct otk_lock_participant p;
    struct trace *t;
    int pauses;
    int resumes;
    bool probe;
};

static void
add(struct trace *t, const char *s)
{
    size_t n = strlen(t->log);
    snprintf(t->log + n, sizeof t->log - n, "%s%s", n ? " " : "", s);
}

static struct otk_lock_participant probe_extra; /* registered from inside a callback */

static void
task_pause(void *user)
{
    struct task *k = user;
    char s[40];

    k->pauses++;
    snprintf(s, sizeof s, "P:%s", k->p.name);
    add(k->t, s);
    if (k->probe) {
        struct otk_lock *l = k->t->lock;
        k->t->running_in_pause = otk_lock_running(l);
        k->t->probe_rc[0] = otk_lock_take(l, 10, 0);
        k->t->probe_rc[1] = otk_lock_release(l, OTK_OK, "", 0);
        k->t->probe_rc[2] = otk_lock_register(l, &probe_extra);
        k->t->probe_rc[3] = otk_lock_unregister(l, &k->p);
        k->t->probe_rc[4] = otk_lock_progress(l, 5, 0);
    }
}

static void
task_resume(void *user)
{
    struct task *k = user;
    char s[40];

    k->resumes++;
    snprintf(s, sizeof s, "R:%s", k->p.name);
    add(k->t, s);
    if (k->probe) {
        k->t->running_in_resume = otk_lock_running(k->t->lock);
        k->t->probe_rc[5] = otk_lock_release(k->t->lock, OTK_OK, "", 0);
    }
}

static void
on_progress(void *user, const struct otk_ota_progress *p)
{
    struct trace *t = user;
    t->progress_calls++;
    t->last_prog = *p;
}

static void
on_result(void *user, const struct otk_ota_result *r)
{
    struct trace *t = user;
    char s[48];

    t->results++;
    t->last_result = *r;
    snprintf(t->result_text, sizeof t->result_text, "%s", r->text);
    snprintf(t->result_what, sizeof t->result_what, "%s", r->what);
    t->last_result.text = t->result_text;
    t->last_result.what = t->result_what;
    t->running_in_result = otk_lock_running(t->lock);
    snprintf(s, sizeof s, "=%s", otk_ota_phase_str(r->phase));
    add(t, s);
}

static void
task_init(struct task *k, struct trace *t, const char *name)
{
    memset(k, 0, sizeof *k);
    k->p.name = name;
    k->p.pause = task_pause;
    k->p.resume = task_resume;
    k->p.user = k;
    k->t = t;
}

static void
setup_lock(struct otk_lock *l, struct trace *t, uint32_t watchdog, uint32_t interval)
{
    struct otk_lock_config c = {watchdog, interval, on_progress, on_result, t};
    memset(t, 0, sizeof *t);
    t->lock = l;
    otk_lock_init(l, &c);
}

static void
order_pause_forward_resume_reverse(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a, b, c;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "a");
    task_init(&b, &t, "b");
    task_init(&c, &t, "c");
    assert_int_equal(otk_lock_register(&l, &a.p), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &b.p), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &c.p), OTK_OK);
    assert_false(otk_lock_running(&l));
    assert_int_equal(otk_lock_take(&l, 1000, 100), OTK_OK);
    assert_true(otk_lock_running(&l));
    assert_true(otk_lock_participant_paused(&b.p));
    assert_string_equal(t.log, "P:a P:b P:c");
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 200), OTK_OK);
    assert_false(otk_lock_running(&l));
    assert_false(otk_lock_participant_paused(&b.p));
    /* resumed in reverse, and only then the result */
    assert_string_equal(t.log, "P:a P:b P:c R:c R:b R:a =success");
    assert_int_equal(t.last_result.err, OTK_OK);
    assert_int_equal(t.last_result.ota_error, -1);
    assert_false(t.running_in_result);
}

static void
take_twice_is_busy_and_one_release_ends_it(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "a");
    assert_int_equal(otk_lock_register(&l, &a.p), OTK_OK);
    assert_int_equal(otk_lock_take(&l, 1000, 0), OTK_OK);
    assert_int_equal(otk_lock_progress(&l, 400, 10), OTK_OK);
    assert_int_equal(otk_lock_take(&l, 5000, 20), OTK_ERR_BUSY);
    assert_int_equal(a.pauses, 1);
    /* the second take changed nothing: same update, same total, same bytes */
    assert_int_equal(otk_lock_progress_get(&l)->total, 1000);
    assert_int_equal(otk_lock_progress_get(&l)->bytes, 400);
    assert_int_equal(otk_lock_release(&l, OTK_ERR_IO, "gone", 30), OTK_OK);
    assert_int_equal(a.resumes, 1);
    assert_false(otk_lock_running(&l));
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 40), OTK_ERR_STATE);
    assert_int_equal(a.resumes, 1);
    assert_int_equal(t.results, 1);
    assert_int_equal(t.last_result.phase, OTK_OTA_PHASE_ERROR);
    assert_int_equal(t.last_result.err, OTK_ERR_IO);
    assert_string_equal(t.last_result.text, "gone");
}

static void
release_when_not_held_calls_nothing(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "a");
    assert_int_equal(otk_lock_register(&l, &a.p), OTK_OK);
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 0), OTK_ERR_STATE);
    assert_int_equal(otk_lock_progress(&l, 10, 0), OTK_ERR_STATE);
    otk_lock_tick(&l, 1000000);
    assert_int_equal(a.pauses + a.resumes, 0);
    assert_int_equal(t.results + t.progress_calls, 0);
    assert_int_equal(otk_lock_progress_get(&l)->phase, OTK_OTA_PHASE_IDLE);
    uint32_t at;
    assert_false(otk_lock_next_deadline(&l, &at));
}

static void
register_during_hold_pauses_at_once_resumes_first(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a, b, late;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "a");
    task_init(&b, &t, "b");
    task_init(&late, &t, "late");
    assert_int_equal(otk_lock_register(&l, &a.p), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &b.p), OTK_OK);
    assert_int_equal(otk_lock_take(&l, 1000, 0), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &late.p), OTK_OK);
    assert_int_equal(late.pauses, 1);
    assert_true(otk_lock_participant_paused(&late.p));
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 10), OTK_OK);
    assert_string_equal(t.log, "P:a P:b P:late R:late R:b R:a =success");
    /* next update: the late one is an ordinary member, paused last */
    t.log[0] = '\0';
    assert_int_equal(otk_lock_take(&l, 1000, 20), OTK_OK);
    assert_string_equal(t.log, "P:a P:b P:late");
}

static void
unregister_rules(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task k[OTK_CFG_LOCK_PARTICIPANTS + 1];
    setup_lock(&l, &t, 0, 0);
    for (int i = 0; i <= OTK_CFG_LOCK_PARTICIPANTS; i++)
        task_init(&k[i], &t, "k");
    assert_int_equal(otk_lock_register(&l, NULL), OTK_ERR_ARG);
    assert_int_equal(otk_lock_register(NULL, &k[0].p), OTK_ERR_ARG);
    for (int i = 0; i < OTK_CFG_LOCK_PARTICIPANTS; i++)
        assert_int_equal(otk_lock_register(&l, &k[i].p), OTK_OK);
    assert_int_equal(otk_lock_register(&l, &k[0].p), OTK_ERR_STATE); /* twice */
    assert_int_equal(otk_lock_register(&l, &k[OTK_CFG_LOCK_PARTICIPANTS].p), OTK_ERR_NOSPACE);
    assert_int_equal(otk_lock_unregister(&l, &k[OTK_CFG_LOCK_PARTICIPANTS].p), OTK_ERR_NOTFOUND);
    assert_int_equal(otk_lock_take(&l, 10, 0), OTK_OK);
    /* leaving during a hold calls nothing, and the leaver is not resumed later */
    assert_int_equal(otk_lock_unregister(&l, &k[1].p), OTK_OK);
    assert_int_equal(k[1].resumes, 0);
    assert_false(otk_lock_participant_paused(&k[1].p));
    /* its place is free again */
    assert_int_equal(otk_lock_register(&l, &k[OTK_CFG_LOCK_PARTICIPANTS].p), OTK_OK);
    assert_int_equal(k[OTK_CFG_LOCK_PARTICIPANTS].pauses, 1);
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 1), OTK_OK);
    assert_int_equal(k[1].pauses, 1);
    assert_int_equal(k[1].resumes, 0);
    for (int i = 0; i <= OTK_CFG_LOCK_PARTICIPANTS; i++)
        if (i != 1)
            assert_int_equal(k[i].resumes, 1);
}

static void
callbacks_cannot_reenter(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "probe");
    a.probe = true;
    assert_int_equal(otk_lock_register(&l, &a.p), OTK_OK);
    assert_int_equal(otk_lock_take(&l, 1000, 0), OTK_OK);
    assert_true(t.running_in_pause);
    assert_int_equal(t.probe_rc[0], OTK_ERR_STATE);
    assert_int_equal(t.probe_rc[1], OTK_ERR_STATE);
    assert_int_equal(t.probe_rc[2], OTK_ERR_STATE);
    assert_int_equal(t.probe_rc[3], OTK_ERR_STATE);
    assert_int_equal(t.probe_rc[4], OTK_ERR_STATE);
    /* nothing changed: still held, probe still registered (unregister refused) */
    assert_true(otk_lock_running(&l));
    assert_int_equal(otk_lock_progress_get(&l)->bytes, 0);
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, 5), OTK_OK);
    assert_false(t.running_in_resume);
    assert_int_equal(t.probe_rc[5], OTK_ERR_STATE);
    assert_int_equal(a.resumes, 1);
    assert_int_equal(t.results, 1);
    /* the refused registration really did not happen */
    assert_int_equal(otk_lock_unregister(&l, &probe_extra), OTK_ERR_NOTFOUND);
}

static void
progress_percent_rate_and_rate_limit(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    setup_lock(&l, &t, 0, 250);
    assert_int_equal(otk_lock_take(&l, 200000, 1000), OTK_OK);
    assert_int_equal(t.progress_calls, 1); /* start is always reported */
    assert_int_equal(t.last_prog.phase, OTK_OTA_PHASE_START);
    assert_int_equal(t.last_prog.total, 200000);
    assert_int_equal(t.last_prog.bytes, 0);
    /* 100 ms later: 10000 bytes -> not reported (interval 250 ms), but recorded */
    assert_int_equal(otk_lock_progress(&l, 10000, 1100), OTK_OK);
    assert_int_equal(t.progress_calls, 1);
    const struct otk_ota_progress *p = otk_lock_progress_get(&l);
    assert_int_equal(p->phase, OTK_OTA_PHASE_RUNNING);
    assert_int_equal(p->percent, 5);
    assert_int_equal(p->rate, 100000); /* 10000 B in 0.1 s, averaged since the start */
    assert_int_equal(p->elapsed_ms, 100);
    assert_int_equal(otk_lock_progress(&l, 25000, 1250), OTK_OK);
    assert_int_equal(t.progress_calls, 2);
    assert_int_equal(t.last_prog.percent, 12); /* 12.5 rounds down */
    /* a steady 50 KB/s for a while: the rate follows it */
    uint32_t bytes = 25000, now = 1250;
    while (bytes < 150000) {
        now += 100;
        bytes += 5000;
        assert_int_equal(otk_lock_progress(&l, bytes, now), OTK_OK);
    }
    assert_int_equal(otk_lock_progress_get(&l)->rate, 50000);
    /* the last byte is always reported, whatever the interval */
    int calls = t.progress_calls;
    assert_int_equal(otk_lock_progress(&l, 200000, now + 1), OTK_OK);
    assert_int_equal(t.progress_calls, calls + 1);
    assert_int_equal(t.last_prog.percent, 100);
    assert_int_equal(otk_lock_release(&l, OTK_OK, NULL, now + 2), OTK_OK);
    assert_int_equal(t.last_prog.phase, OTK_OTA_PHASE_SUCCESS);
    assert_int_equal(t.last_result.bytes, 200000);
    assert_int_equal(t.last_result.total, 200000);
    assert_int_equal(t.last_result.elapsed_ms, now + 2 - 1000);
}

static void
silent_update_is_re_reported_with_falling_rate(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    setup_lock(&l, &t, 10000, 100);
    assert_int_equal(otk_lock_take(&l, 1000000, 0), OTK_OK);
    uint32_t now = 0, bytes = 0;
    while (now < 3000) {
        now += 50;
        bytes += 5000; /* 100 KB/s */
        otk_lock_progress(&l, bytes, now);
    }
    assert_int_equal(t.last_prog.rate, 100000);
    uint32_t at;
    assert_true(otk_lock_next_deadline(&l, &at));
    assert_true(at > now && at <= now + OTK_LOCK_REFRESH_MS);
    /* silence: nothing until the refresh is due */
    int calls = t.progress_calls;
    otk_lock_tick(&l, now + 500);
    assert_int_equal(t.progress_calls, calls);
    otk_lock_tick(&l, now + 1000);
    assert_int_equal(t.progress_calls, calls + 1);
    /* the last whole window saw no byte */
    assert_int_equal(t.last_prog.rate, 0);
    otk_lock_tick(&l, now + 2000);
    otk_lock_tick(&l, now + 3000);
    assert_int_equal(t.progress_calls, calls + 3);
    assert_int_equal(t.last_prog.rate, 0); /* a whole window without a byte */
    assert_int_equal(t.last_prog.phase, OTK_OTA_PHASE_RUNNING);
    assert_int_equal(t.last_prog.bytes, bytes);
    assert_true(otk_lock_running(&l));
}

static void
watchdog_releases_a_stalled_update(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a, b;
    setup_lock(&l, &t, 5000, 0);
    task_init(&a, &t, "ble");
    task_init(&b, &t, "mqtt");
    otk_lock_register(&l, &a.p);
    otk_lock_register(&l, &b.p);
    assert_int_equal(otk_lock_take(&l, 100000, 1000), OTK_OK);
    otk_lock_progress(&l, 30000, 2000);
    uint32_t at;
    otk_lock_tick(&l, 6999); /* 4999 ms without progress */
    assert_true(otk_lock_running(&l));
    assert_true(otk_lock_next_deadline(&l, &at));
    assert_true(at <= 7000);
    otk_lock_tick(&l, 7000);
    assert_false(otk_lock_running(&l));
    assert_string_equal(t.log, "P:ble P:mqtt R:mqtt R:ble =stalled");
    assert_int_equal(t.last_result.phase, OTK_OTA_PHASE_STALLED);
    assert_int_equal(t.last_result.err, OTK_ERR_TIMEOUT);
    assert_int_equal(t.last_result.bytes, 30000);
    assert_true(strlen(t.last_result.text) > 0);
    assert_int_equal(t.last_prog.phase, OTK_OTA_PHASE_STALLED);
    /* the dead update's late events do not take the lock back or report twice */
    assert_int_equal(otk_lock_progress(&l, 40000, 7100), OTK_ERR_STATE);
    struct otk_dev_event ev = {.type = OTK_EV_ERROR,
                               .ota_error = OTK_OTA_RECEIVE_ERROR,
                               .reason = OTK_UPD_STREAM,
                               .text = "Stream Read Timeout"};
    otk_lock_on_dev_event(&l, &ev, 7200);
    assert_int_equal(t.results, 1);
    assert_int_equal(a.pauses, 1);
    assert_int_equal(a.resumes, 1);
}

static void
watchdog_across_clock_wrap(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    setup_lock(&l, &t, 3000, 0);
    uint32_t t0 = 0xFFFFF000u; /* 4096 ms before the wrap */
    assert_int_equal(otk_lock_take(&l, 100, t0), OTK_OK);
    otk_lock_progress(&l, 50, t0 + 2000);
    assert_int_equal(otk_lock_progress_get(&l)->rate, 25); /* 50 B in 2 s */
    otk_lock_tick(&l, t0 + 4999); /* past the wrap, 2999 ms after the progress */
    assert_true(otk_lock_running(&l));
    otk_lock_tick(&l, t0 + 5000);
    assert_false(otk_lock_running(&l));
    assert_int_equal(t.last_result.elapsed_ms, 5000);
}

static void
names(void **state)
{
    (void)state;
    assert_string_equal(otk_ota_phase_str(OTK_OTA_PHASE_RUNNING), "running");
    assert_string_equal(otk_ota_phase_str(OTK_OTA_PHASE_STALLED), "stalled");
    assert_string_equal(otk_ota_error_str(OTK_OTA_RECEIVE_ERROR), "Receive Failed");
    assert_string_equal(otk_ota_error_str(OTK_OTA_END_ERROR), "End Failed");
    assert_string_equal(otk_ota_error_str(42), "");
}

static void
screen_line(void **state)
{
    (void)state;
    struct otk_ota_progress p = {
        .phase = OTK_OTA_PHASE_RUNNING, .percent = 66, .rate = 184320, .elapsed_ms = 5000};
    char buf[32];
    assert_int_equal(otk_ota_progress_line(&p, buf, sizeof buf), 16);
    assert_string_equal(buf, "OTA 66% 180 KB/s");
    /* a stall is measured: its rate shows, in bytes below 1 KB/s */
    p.rate = 0;
    otk_ota_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "OTA 66% 0 B/s");
    p.rate = 700;
    otk_ota_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "OTA 66% 700 B/s");
    /* a small image that arrived before any time passed: no rate to show */
    p.percent = 100;
    p.rate = 0;
    p.elapsed_ms = 0;
    otk_ota_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "OTA 100%");
    p.elapsed_ms = 5000;
    /* truncated, still terminated */
    p.percent = 66;
    p.rate = 184320;
    assert_int_equal(otk_ota_progress_line(&p, buf, 8), 7);
    assert_string_equal(buf, "OTA 66%");
    p.phase = OTK_OTA_PHASE_STALLED;
    otk_ota_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "OTA stalled");
    p.phase = OTK_OTA_PHASE_SUCCESS;
    otk_ota_progress_line(&p, buf, sizeof buf);
    assert_string_equal(buf, "OTA done");
    p.phase = OTK_OTA_PHASE_IDLE;
    assert_int_equal(otk_ota_progress_line(&p, buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

/* --- with the real device engine ------------------------------------------------------- */

struct wired {
    struct rig *r;
    struct otk_lock l;
    struct trace t;
    struct task ble, mqtt;
    struct otk_dev_hooks orig;
    bool running_at_reboot;
    bool running_at_first_byte;
    int reboots;
};

static void
wired_event(void *user, const struct otk_dev_event *ev)
{
    struct wired *w = user;
    if (ev->type == OTK_EV_PROGRESS && ev->bytes > 0 && ev->bytes <= 1460)
        w->running_at_first_byte = otk_lock_running(&w->l) && w->ble.pauses == 1;
    otk_lock_on_dev_event(&w->l, ev, w->r->now);
    w->orig.on_event(w->orig.user, ev);
}

static void
wired_reboot(void *user)
{
    struct wired *w = user;
    w->reboots++;
    w->running_at_reboot = otk_lock_running(&w->l);
    w->orig.reboot(w->orig.user);
}

/* The engine's hook goes to the lock adapter first (a port does this in its hook). */
static void
wire(struct wired *w, struct rig *r)
{
    memset(w, 0, sizeof *w);
    w->r = r;
    setup_lock(&w->l, &w->t, 0, 0);
    task_init(&w->ble, &w->t, "ble");
    task_init(&w->mqtt, &w->t, "mqtt");
    otk_lock_register(&w->l, &w->ble.p);
    otk_lock_register(&w->l, &w->mqtt.p);
    w->orig = r->dev.hooks;
    r->dev.hooks.on_event = wired_event;
    r->dev.hooks.reboot = wired_reboot;
    r->dev.hooks.user = w;
}

static void
engine_success_releases_before_reboot(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, "OTAPASSWORD");
    struct wired w;
    wire(&w, r);
    assert_true(rig_upload(r, OTK_CMD_FLASH, r->img, r->img_size, "OTAPASSWORD"));
    assert_true(w.running_at_first_byte);
    assert_int_equal(w.reboots, 1);
    assert_false(w.running_at_reboot);
    assert_string_equal(w.t.log, "P:ble P:mqtt R:mqtt R:ble =success");
    assert_int_equal(w.t.last_result.err, OTK_OK);
    assert_int_equal(w.t.last_result.bytes, r->img_size);
    assert_int_equal(w.t.last_prog.percent, 100);
    rig_free(r);
}

static void
engine_esp8266_success_releases_before_reboot(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    struct wired w;
    wire(&w, r);
    assert_true(rig_upload(r, OTK_CMD_FLASH, r->img, r->img_size, NULL));
    assert_int_equal(w.reboots, 1);
    assert_false(w.running_at_reboot);
    assert_string_equal(w.t.log, "P:ble P:mqtt R:mqtt R:ble =success");
    rig_free(r);
}

static void
engine_unauthenticated_invitations_never_take_it(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "OTAPASSWORD");
    struct wired w;
    wire(&w, r);
    /* junk and an unknown command */
    rig_send_dgram(r, &r->host, "hello");
    rig_send_dgram(r, &r->host, "7 1234 100 0123456789abcdef0123456789abcdef\n");
    assert_false(otk_lock_running(&w.l));
    /* an invitation that is never authenticated, until the engine gives up */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    assert_false(otk_lock_running(&w.l));
    rig_run_ticks(r, r->now + 11000);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    /* a wrong password */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_MD5, "wrong");
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_false(otk_lock_running(&w.l));
    assert_int_equal(w.ble.pauses + w.mqtt.pauses, 0);
    assert_int_equal(w.t.results, 0); /* not an update: no result either */
    assert_int_equal(w.t.progress_calls, 0);
    /* the right one takes it (once the throttle's delay is over: the abandoned challenge and
     * the wrong answer count as two failures) */
    r->now += 1000;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_MD5, "OTAPASSWORD");
    assert_true(otk_lock_running(&w.l));
    assert_int_equal(w.ble.pauses, 1);
    rig_free(r);
}

static void
engine_refused_begin_never_takes_it(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    struct wired w;
    wire(&w, r);
    rig_invite(r, OTK_CMD_FLASH, 0x140000 + 1, r->md5); /* larger than the slot */
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(w.ble.pauses, 0);
    assert_int_equal(w.t.results, 0);
    rig_free(r);
}

static void
engine_receive_failure_releases(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    struct wired w;
    wire(&w, r);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_stream(r, r->img, 20000, 1460); /* then the host goes silent */
    assert_true(otk_lock_running(&w.l));
    rig_run_ticks(r, r->now + 3999); /* 1 s timeout + 3 nudges: not yet */
    assert_true(otk_lock_running(&w.l));
    rig_run_ticks(r, r->now + 2);
    assert_false(otk_lock_running(&w.l));
    assert_string_equal(w.t.log, "P:ble P:mqtt R:mqtt R:ble =error");
    assert_int_equal(w.t.last_result.err, OTK_ERR_TIMEOUT);
    assert_int_equal(w.t.last_result.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_string_equal(w.t.last_result.what, "Receive Failed");
    assert_string_equal(w.t.last_result.text, r->last_error_text);
    assert_true(strlen(w.t.last_result.text) > 0);
    assert_int_equal(w.t.last_result.bytes, 20000);
    assert_int_equal(w.t.last_prog.phase, OTK_OTA_PHASE_ERROR);
    rig_free(r);
}

static void
engine_md5_failure_and_abort_release(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    struct wired w;
    wire(&w, r);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, "0123456789abcdef0123456789abcdef");
    rig_stream(r, r->img, r->img_size, 1460);
    assert_false(otk_lock_running(&w.l));
    assert_int_equal(w.t.last_result.err, OTK_ERR_MD5);
    assert_string_equal(w.t.last_result.what, "End Failed");
    assert_string_equal(w.t.last_result.text, "MD5 Check Failed");
    /* the host hangs up mid-way: aborted */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_stream(r, r->img, 5000, 1460);
    assert_true(otk_lock_running(&w.l));
    otk_dev_on_tcp_closed(&r->dev, r->now);
    assert_false(otk_lock_running(&w.l));
    assert_int_equal(w.t.results, 2);
    assert_int_equal(w.t.last_result.err, OTK_ERR_CLOSED);
    assert_int_equal(w.ble.pauses, 2);
    assert_int_equal(w.ble.resumes, 2);
    rig_free(r);
}

static void
engine_restart_mid_update_restarts_progress_only(void **state)
{
    (void)state;
    struct otk_lock l;
    struct trace t;
    struct task a;
    setup_lock(&l, &t, 0, 0);
    task_init(&a, &t, "a");
    otk_lock_register(&l, &a.p);
    struct otk_dev_event ev = {.type = OTK_EV_START, .total = 5000};
    otk_lock_on_dev_event(&l, &ev, 0);
    ev.type = OTK_EV_PROGRESS;
    ev.bytes = 2000;
    otk_lock_on_dev_event(&l, &ev, 100);
    ev.type = OTK_EV_START;
    ev.total = 8000;
    ev.bytes = 0;
    otk_lock_on_dev_event(&l, &ev, 200);
    assert_int_equal(a.pauses, 1);
    assert_int_equal(t.last_prog.phase, OTK_OTA_PHASE_START);
    assert_int_equal(t.last_prog.total, 8000);
    assert_int_equal(t.last_prog.bytes, 0);
    ev.type = OTK_EV_END;
    ev.bytes = 8000;
    otk_lock_on_dev_event(&l, &ev, 300);
    assert_int_equal(a.resumes, 1);
    assert_int_equal(t.last_result.bytes, 8000);
    assert_int_equal(t.last_result.elapsed_ms, 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_pause_forward_resume_reverse),
        cmocka_unit_test(take_twice_is_busy_and_one_release_ends_it),
        cmocka_unit_test(release_when_not_held_calls_nothing),
        cmocka_unit_test(register_during_hold_pauses_at_once_resumes_first),
        cmocka_unit_test(unregister_rules),
        cmocka_unit_test(callbacks_cannot_reenter),
        cmocka_unit_test(progress_percent_rate_and_rate_limit),
        cmocka_unit_test(silent_update_is_re_reported_with_falling_rate),
        cmocka_unit_test(watchdog_releases_a_stalled_update),
        cmocka_unit_test(watchdog_across_clock_wrap),
        cmocka_unit_test(names),
        cmocka_unit_test(screen_line),
        cmocka_unit_test(engine_success_releases_before_reboot),
        cmocka_unit_test(engine_esp8266_success_releases_before_reboot),
        cmocka_unit_test(engine_unauthenticated_invitations_never_take_it),
        cmocka_unit_test(engine_refused_begin_never_takes_it),
        cmocka_unit_test(engine_receive_failure_releases),
        cmocka_unit_test(engine_md5_failure_and_abort_release),
        cmocka_unit_test(engine_restart_mid_update_restarts_progress_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
