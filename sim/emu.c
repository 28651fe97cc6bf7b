/* SPDX-License-Identifier: MIT */
/* The emulator's main loop and boot model. The boot model does what the ESP-IDF second-stage
 * bootloader and a rollback-enabled application do at every reset: choose the slot from otadata
 * (aborting an image that was never confirmed), check the image the way the bootloader does,
 * fall back to the other slot if it does not verify, start it, and let the firmware confirm
 * itself. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "emu.h"
#include "fault_stage.h"
#include "faults.h"
#include "mdns_adv.h"
#include "net_device.h"
#include "otakit/boot.h"
#include "otakit/err.h"
#include "otakit/layout.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

#define BOOT_ATTEMPTS 4    /* a crashing image is rolled back on the 2nd; more is a bug */
#define EXIT_FLUSH_MS 2000 /* let the uploader read our last bytes before the process ends */

struct otk_emu {
    const struct otk_emu_config *cfg;
    struct otk_flashsim fs;
    struct otk_netdev nd;
    struct otk_netnat nn; /* the native protocol's listener (cfg->native) */
    struct otk_nat nat;   /* ...and its engine state */
    /* the inflater's state for compressed native updates (zlib's port: about 52 KB) */
    _Alignas(max_align_t) uint8_t inflate_mem[64 * 1024];
    struct otk_dev dev;
    struct otk_layout layout;
    uint8_t sector_buf[OTK_SECTOR_SIZE];
    union otk_hash_ctx hash;
    int running_slot;
    bool reboot_pending;
    bool update_ok;        /* END seen */
    bool update_failed;    /* an error of an accepted update seen */
    struct otk_gw *gw;     /* --gateway: BLE and MQTT tasks with the OTA lock */
    struct otk_link *link; /* --link / --fault / --gateway: the radio between sockets and engine */
    struct otk_link *link_nat;     /* ...and the same radio for the native protocol's connection */
    struct otk_net_ops both_ops;   /* the engine's ops with two links: each op to its link's */
    struct otk_fault_stage faults; /* --fault: between the sockets and the link */
    struct otk_fault_stage faults_nat; /* ...and between the native listener and link_nat */
    bool faulty;                       /* the fault stages are in the chains */
    struct otk_dev_input engine_in;    /* the engine's input table */
    const uint8_t *datagram;           /* the one the engine is handling (NULL between calls) */
    size_t datagram_len;
    struct otk_mdns_adv adv; /* --name: the mDNS advertisement */
    bool pre_erase_done;     /* --pre-erase: the idle slot is erased (or may not be) */
    unsigned pre_erase_steps;
    uint32_t pre_erase_t0; /* when the first block went, for the report */
};

const char *
otk_emu_profile_str(enum otk_profile p)
{
    return p == OTK_PROFILE_ESP8266 ? "esp8266" : "esp32";
}

static void
report(struct otk_emu *e, struct otk_emu_report *r)
{
    if (otk_flashsim_powered_off(&e->fs) && r->type != OTK_EMU_REP_EXIT)
        return; /* a dead device says nothing: what the engine makes of the dead flash is moot */
    r->now_ms = otk_posix_now_ms();
    if (e->cfg->report)
        e->cfg->report(e->cfg->user, r);
}

static void report_text(struct otk_emu *e, enum otk_emu_report_type t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report_text(struct otk_emu *e, enum otk_emu_report_type t, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct otk_emu_report r = {.type = t, .text = msg};
    report(e, &r);
}

static void
on_flash_log(void *user, const char *msg)
{
    struct otk_emu *e = user;
    struct otk_emu_report r = {.type = OTK_EMU_REP_FLASH_LOG, .text = msg};
    report(e, &r);
}

/* Called from inside the flash operation the cut interrupted: the device dies here. Its
 * sockets go as a dying process's do (no goodbye; a reset where bytes were unread), so that
 * nothing the engine does on its way back out reaches the network; the loop then ends. */
static void
on_power_cut(void *user, uint64_t op)
{
    struct otk_emu *e = user;
    (void)op;
    otk_netdev_close(&e->nd);
}

/* The end after a power cut: no flush, no goodbyes (the gateway's will is for deaths). */
static int
power_off(struct otk_emu *e)
{
    struct otk_emu_report r = {.type = OTK_EMU_REP_EXIT,
                               .code = OTK_EMU_EXIT_POWERCUT,
                               .flash_ops = otk_flashsim_op_count(&e->fs),
                               .power_cut = true};
    report(e, &r);
    otk_gw_power_off(e->gw);
    e->gw = NULL;
    /* the mDNS socket stays as it is (no goodbye) until the process ends */
    otk_flashsim_close(&e->fs);
    otk_link_free(e->link);
    e->link = NULL;
    otk_link_free(e->link_nat);
    e->link_nat = NULL;
    return OTK_EMU_EXIT_POWERCUT;
}

/* A refused answer: look at it (the datagram the engine is handling; NULL reads as malformed)
 * to tell why. */
static void
explain_auth(struct otk_emu *e, struct otk_auth_explain *x)
{
    otk_auth_explain(otk_posix_crypto(), e->cfg->auth, e->cfg->secret, e->cfg->password,
                     otk_dev_nonce(&e->dev), e->datagram, e->datagram_len, x);
}

/* The last stage before the engine (struct otk_dev_input): it notes the datagram the engine is
 * handling, so that an authentication failure can be explained from the answer itself. */
static void
front_datagram(void *user, const struct otk_addr *from, const uint8_t *data, size_t len,
               uint32_t now_ms)
{
    struct otk_emu *e = user;
    e->datagram = data;
    e->datagram_len = len;
    e->engine_in.on_datagram(e->engine_in.user, from, data, len, now_ms);
    e->datagram = NULL;
    e->datagram_len = 0;
}

static void
front_connected(void *user, int status, uint32_t now_ms)
{
    struct otk_emu *e = user;
    e->engine_in.on_connected(e->engine_in.user, status, now_ms);
}

static size_t
front_tcp_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct otk_emu *e = user;
    return e->engine_in.on_tcp_data(e->engine_in.user, data, len, now_ms);
}

static void
front_tcp_closed(void *user, uint32_t now_ms)
{
    struct otk_emu *e = user;
    e->engine_in.on_tcp_closed(e->engine_in.user, now_ms);
}

static bool
front_idle(void *user, uint32_t now_ms)
{
    struct otk_emu *e = user;
    return e->engine_in.on_idle(e->engine_in.user, now_ms);
}

static size_t
front_tcp_room(void *user, uint8_t **buf)
{
    struct otk_emu *e = user;
    return e->engine_in.tcp_room(e->engine_in.user, buf);
}

static bool
front_native_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    struct otk_emu *e = user;
    return e->engine_in.on_native_accept(e->engine_in.user, from, now_ms);
}

static size_t
front_native_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct otk_emu *e = user;
    return e->engine_in.on_native_data(e->engine_in.user, data, len, now_ms);
}

static void
front_native_closed(void *user, uint32_t now_ms)
{
    struct otk_emu *e = user;
    e->engine_in.on_native_closed(e->engine_in.user, now_ms);
}

static size_t
front_native_room(void *user, uint8_t **buf)
{
    struct otk_emu *e = user;
    return e->engine_in.native_room(e->engine_in.user, buf);
}

static void
on_dev_event(void *user, const struct otk_dev_event *ev)
{
    struct otk_emu *e = user;
    struct otk_auth_explain why;
    struct otk_emu_report r = {.type = OTK_EMU_REP_DEV, .ev = ev};
    if (ev->type == OTK_EV_END) {
        e->update_ok = true;
    } else if (ev->type == OTK_EV_ERROR && ev->ota_error == OTK_OTA_AUTH_ERROR) {
        if (e->cfg->native && !e->datagram) {
            /* the native protocol's refusal (no datagram in hand): the engine's words */
            why.scheme = -1;
            why.password = -1;
            snprintf(why.text, sizeof why.text, "native protocol: %s", ev->text);
        } else {
            explain_auth(e, &why); /* an auth failure is not an update: keep waiting */
        }
        r.auth = &why;
    } else if (ev->type == OTK_EV_ERROR) {
        e->update_failed = true;
#if OTK_CFG_SIGNED_IMAGES
        if (ev->reason == OTK_UPD_SIGN)
            r.signature = otk_sig_result_str(otk_upd_sig_result(&e->dev.upd));
#endif
    }
    report(e, &r);
    if (e->gw && !otk_flashsim_powered_off(&e->fs))
        otk_gw_on_dev_event(e->gw, ev, otk_posix_now_ms());
}

static void
on_reboot(void *user)
{
    /* Called from inside the engine: only note it; the loop reboots after the engine returns. */
    struct otk_emu *e = user;
    e->reboot_pending = true;
}

/* The layout lives in the flash itself, as on a real chip: decode the partition table. */
static int
load_layout(struct otk_emu *e)
{
    const struct otk_flash_ops *f = otk_flashsim_ops(&e->fs);
    uint8_t table[0xC00];
    struct otk_partition parts[OTK_PARTTABLE_MAX];
    if (f->read(f->user, OTK_PARTTABLE_OFFSET, table, sizeof table) != OTK_OK) {
        report_text(e, OTK_EMU_REP_FATAL, "cannot read the partition table");
        return OTK_ERR_FLASH;
    }
    int n = otk_parttable_decode(otk_posix_crypto(), table, sizeof table, parts, OTK_PARTTABLE_MAX);
    if (n < 0) {
        report_text(e, OTK_EMU_REP_FATAL, "no valid partition table at 0x8000: %s",
                    otk_strerror(n));
        return n;
    }
    int rc = otk_layout_from_parts(parts, n, otk_flashsim_size(&e->fs), &e->layout);
    if (rc != OTK_OK) {
        report_text(e, OTK_EMU_REP_FATAL, "partition table has no otadata + ota_0 + ota_1: %s",
                    otk_strerror(rc));
        return rc;
    }
    return OTK_OK;
}

/* The emulated chip's bootloader checks an image for the chip it is (otk_boot_decide()). */
static enum otk_image_result
verify_image(void *user, uint32_t offset, uint32_t size, struct otk_image_info *info)
{
    struct otk_emu *e = user;
    return otk_image_verify(otk_flashsim_ops(&e->fs), otk_posix_crypto(), offset, size,
                            e->cfg->profile, &e->hash, info);
}

/* The bootloader's decision (the core's, as a device's bootloader port makes it), in the
 * report's terms. */
static void
bootloader(struct otk_emu *e, struct otk_emu_boot *b, struct otk_boot_decision *d)
{
    struct otk_image_info info;
    otk_boot_decide(otk_flashsim_ops(&e->fs), &e->layout, verify_image, e, d, &info);
    if (d->otadata_rc != OTK_OK)
        report_text(e, OTK_EMU_REP_LOG, "bootloader: otadata unusable (%s), trying slot 0",
                    otk_strerror(d->otadata_rc));
    memset(b, 0, sizeof *b);
    b->slot = d->slot >= 0 ? d->slot : d->selected_slot;
    b->selected_slot = d->selected_slot;
    b->rolled_back = d->rolled_back;
    b->fallback = d->fallback;
    b->state = d->state;
    b->verify = d->verify;
    b->selected_verify = d->selected_verify;
    snprintf(b->project, sizeof b->project, "%s", info.has_app_desc ? info.project : "");
    snprintf(b->version, sizeof b->version, "%s", info.has_app_desc ? info.version : "");
}

/* The firmware's first moments: an image on trial confirms itself, unless told to crash first.
 * Returns false for a crash (the watchdog resets the chip). */
static bool
firmware_start(struct otk_emu *e, const struct otk_emu_boot *b)
{
    if (b->fallback || b->state != OTK_OTA_PENDING_VERIFY)
        return true; /* nothing to confirm */
    if (e->cfg->crash_on_boot) {
        struct otk_emu_report c = {.type = OTK_EMU_REP_CRASH, .boot = b};
        report(e, &c);
        return false; /* reset before the confirm: the bootloader rolls back */
    }
    int rc = otk_slots_confirm(otk_flashsim_ops(&e->fs), &e->layout);
    if (rc != OTK_OK) {
        report_text(e, OTK_EMU_REP_LOG, "firmware could not confirm itself: %s", otk_strerror(rc));
    } else {
        struct otk_emu_report c = {.type = OTK_EMU_REP_CONFIRM, .boot = b};
        report(e, &c);
    }
    return true;
}

/* One reset: the bootloader, then the firmware's first moments. Repeats while the firmware
 * crashes before confirming (--crash-on-boot), as a watchdog reset would. */
static int
boot(struct otk_emu *e)
{
    for (int attempt = 0; attempt < BOOT_ATTEMPTS; attempt++) {
        struct otk_emu_boot b;
        struct otk_boot_decision d;
        bootloader(e, &b, &d);
        if (d.slot < 0) {
            struct otk_emu_report r = {.type = OTK_EMU_REP_NOBOOT, .boot = &b};
            report(e, &r);
            return OTK_ERR_IMAGE;
        }
        struct otk_emu_report r = {.type = OTK_EMU_REP_BOOT, .boot = &b};
        report(e, &r);
        e->running_slot = b.slot;
        if (firmware_start(e, &b))
            return OTK_OK;
    }
    report_text(e, OTK_EMU_REP_FATAL, "boot loop: gave up after %d resets", BOOT_ATTEMPTS);
    return OTK_ERR_STATE;
}

/* With two links (ArduinoOTA's and the native connection's), the engine's one ops table sends
 * each op through the link of its connection. */
static int
both_udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link);
    return o->udp_send(o->user, to, buf, len);
}

static int
both_tcp_connect(void *user, const struct otk_addr *to)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link);
    return o->tcp_connect(o->user, to);
}

static int
both_tcp_send(void *user, const void *buf, size_t len)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link);
    return o->tcp_send(o->user, buf, len);
}

static void
both_tcp_close(void *user)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link);
    o->tcp_close(o->user);
}

static int
both_nat_send(void *user, const void *buf, size_t len)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link_nat);
    return o->nat_send(o->user, buf, len);
}

static void
both_nat_close(void *user)
{
    const struct otk_net_ops *o = otk_link_ops(((struct otk_emu *)user)->link_nat);
    o->nat_close(o->user);
}

static const struct otk_net_ops *
engine_ops(struct otk_emu *e)
{
    if (!e->link)
        return otk_netdev_ops(&e->nd);
    if (!e->link_nat)
        return otk_link_ops(e->link);
    e->both_ops = (struct otk_net_ops){.udp_send = both_udp_send,
                                       .tcp_connect = both_tcp_connect,
                                       .tcp_send = both_tcp_send,
                                       .tcp_close = both_tcp_close,
                                       .nat_send = both_nat_send,
                                       .nat_close = both_nat_close,
                                       .user = e};
    return &e->both_ops;
}

/* The device's input chains, sockets first (the engine's sends go the other way through the
 * same stages' ops, see link_start):
 *   UDP and ArduinoOTA's TCP: netdev -> [faults] -> [link] -> front -> engine
 *   the native connection:    netnat -> [faults_nat] -> [link_nat] -> front -> engine */
static void
attach_stages(struct otk_emu *e)
{
    struct otk_dev_input front = {.on_datagram = front_datagram,
                                  .on_connected = front_connected,
                                  .on_tcp_data = front_tcp_data,
                                  .on_tcp_closed = front_tcp_closed,
                                  .on_idle = front_idle,
                                  .tcp_room = front_tcp_room,
                                  .on_native_accept = front_native_accept,
                                  .on_native_data = front_native_data,
                                  .on_native_closed = front_native_closed,
                                  .native_room = front_native_room,
                                  .user = e};
    struct otk_dev_input next = front;
    if (e->link) {
        otk_link_attach(e->link, &next);
        next = otk_link_input(e->link);
    }
    if (e->faulty) {
        otk_fault_stage_attach(&e->faults, &next);
        next = otk_fault_stage_input(&e->faults);
    }
    otk_netdev_attach(&e->nd, &next);
    next = front;
    if (e->link_nat) {
        otk_link_attach(e->link_nat, &next);
        next = otk_link_input(e->link_nat);
        if (e->faulty) {
            otk_fault_stage_attach(&e->faults_nat, &next);
            next = otk_fault_stage_input(&e->faults_nat);
        }
    }
    otk_netnat_attach(&e->nn, &next, &e->dev);
}

static int
engine_start(struct otk_emu *e)
{
    struct otk_dev_config dc;
    memset(&dc, 0, sizeof dc);
    dc.profile = e->cfg->profile;
    dc.auth = e->cfg->auth;
    memcpy(dc.secret, e->cfg->secret, sizeof dc.secret);
    dc.secret[sizeof dc.secret - 1] = '\0';
    dc.layout = e->layout;
    dc.running_slot = e->running_slot;
    /* The ESP32 core re-sends its last ack 3 times, 1 s apart, before it gives up on a silent
     * host. The ESP8266 core means to time out too but never does (a counter bug, see
     * docs/PROTOCOL.md); the emulator gives both profiles the working ESP32 behaviour. */
    dc.rx_timeout_ms = 1000;
    dc.rx_nudges = 3;
    dc.min_rate = e->cfg->min_rate;
    struct otk_dev_hooks hooks = {.on_event = on_dev_event, .reboot = on_reboot, .user = e};
    int rc = otk_dev_init(&e->dev, &dc, engine_ops(e), otk_flashsim_ops(&e->fs), otk_posix_crypto(),
                          &hooks, e->sector_buf);
    if (rc == OTK_OK && e->cfg->native)
        rc = otk_dev_native_attach(&e->dev, &e->nat, e->cfg->native);
#if OTK_CFG_NATIVE_DEFLATE
    /* like a firmware that lends the inflater its memory: compressed updates are offered */
    if (rc == OTK_OK && e->cfg->native && !e->cfg->no_inflate)
        rc = otk_dev_native_set_inflater(&e->dev, otk_posix_inflate(), e->inflate_mem,
                                         sizeof e->inflate_mem);
#endif
    if (rc == OTK_OK && e->cfg->trusted_key)
        otk_dev_set_trusted_key(&e->dev, e->cfg->trusted_key);
    if (rc != OTK_OK)
        report_text(e, OTK_EMU_REP_FATAL, "device engine refused its configuration: %s",
                    otk_strerror(rc));
    e->engine_in = otk_dev_input(&e->dev);
    attach_stages(e);
    return rc;
}

static void
report_end(struct otk_emu *e, int code, uint64_t ops)
{
    struct otk_emu_report r = {.type = OTK_EMU_REP_EXIT, .code = code, .flash_ops = ops};
    report(e, &r);
}

static void
link_report(struct otk_emu *e, struct otk_link *l, const char *which)
{
    struct otk_link_stats ls;

    if (!l)
        return;
    otk_link_flush(l); /* what the stack had queued still leaves */
    otk_link_stats(l, &ls);
    report_text(e, OTK_EMU_REP_LOG,
                "%s: %llu bytes received, max %u in flight + unread (window), max %u "
                "unread, %u stalls, %llu ms down, %u/%u datagrams in/out, %u lost",
                which, (unsigned long long)ls.tcp_pulled, ls.max_inflight, ls.max_undelivered,
                ls.stalls, (unsigned long long)(ls.down_us / 1000u), ls.udp_in, ls.udp_out,
                ls.udp_lost);
}

static int
finish(struct otk_emu *e, int code)
{
    link_report(e, e->link, "link");
    link_report(e, e->link_nat, "link (native)");
    otk_netdev_flush(&e->nd, EXIT_FLUSH_MS);
    otk_netnat_flush(&e->nn, EXIT_FLUSH_MS);
    otk_mdns_adv_stop(&e->adv); /* goodbye: caches forget the device now */
    otk_gw_free(e->gw);
    e->gw = NULL;
    report_end(e, code, otk_flashsim_op_count(&e->fs));
    otk_netdev_close(&e->nd);
    otk_netnat_close(&e->nn);
    otk_flashsim_close(&e->fs);
    otk_link_free(e->link);
    e->link = NULL;
    otk_link_free(e->link_nat);
    e->link_nat = NULL;
    return code;
}

/* The gateway's BLE task takes the shared radio through the link model. */
static void
gw_radio_hold(void *user, bool held, uint32_t now_ms)
{
    struct otk_emu *e = user;
    if (e->link)
        otk_link_radio_hold(e->link, held, now_ms);
    if (e->link_nat)
        otk_link_radio_hold(e->link_nat, held, now_ms);
}

static int
gateway_start(struct otk_emu *e)
{
    if (!e->cfg->gateway)
        return OTK_OK;
    char err[128];
    struct otk_gw_radio radio = {.hold = gw_radio_hold, .user = e};
    e->gw = otk_gw_new(e->cfg->gateway, &radio, otk_posix_now_ms(), err, sizeof err);
    if (!e->gw) {
        report_text(e, OTK_EMU_REP_FATAL, "gateway: %s", err);
        return OTK_ERR_ARG;
    }
    return OTK_OK;
}

static void
link_log(void *user, const char *text)
{
    report_text(user, OTK_EMU_REP_LOG, "%s", text);
}

/* The fault "stall": the air goes silent (the link's business; the fault says when). */
static void
fault_silence(void *user, uint32_t ms)
{
    struct otk_emu *e = user;
    otk_link_silence(e->link, ms);
}

/* ...on the native connection's radio */
static void
fault_silence_nat(void *user, uint32_t ms)
{
    struct otk_emu *e = user;
    otk_link_silence(e->link_nat, ms);
}

/* While the flash stalls the CPU, the air keeps moving: in-flight bytes arrive (the window fills)
 * and queued replies leave; the engine reads nothing. */
static void
link_flash_stall(void *user, uint64_t us)
{
    struct otk_emu *e = user;

    /* the connection of the update the flash works for */
    otk_link_sleep(e->link_nat && otk_dev_native_busy(&e->dev) ? e->link_nat : e->link, us);
}

/* While the engine is stalled: wait for socket events and feed them to the link, which only
 * queues them then. */
static void
link_pump(void *user, int64_t timeout_us)
{
    struct otk_emu *e = user;
    struct pollfd pfds[OTK_NETDEV_NFDS + OTK_NETNAT_NFDS];
    int tmo = -1;
    int n = e->cfg->arduino_off ? 0 : otk_netdev_pollfds(&e->nd, pfds, &tmo, otk_posix_now_ms());
    n += otk_netnat_pollfds(&e->nn, pfds + n, &tmo, otk_posix_now_ms());
    int64_t t = timeout_us < 0 ? 0 : timeout_us;
    if (tmo >= 0 && (int64_t)tmo * 1000 < t)
        t = (int64_t)tmo * 1000;
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000), .tv_nsec = (long)(t % 1000000) * 1000L};
    if (ppoll(pfds, (nfds_t)n, &ts, NULL) < 0)
        return; /* EINTR: the caller loops */
    if (!e->cfg->arduino_off)
        otk_netdev_process(&e->nd, pfds, n, otk_posix_now_ms());
    otk_netnat_process(&e->nn, pfds, n, otk_posix_now_ms());
}

/* Whether a link sits between the sockets and the engine: when a link profile, a fault or the
 * gateway's radio needs it; with none of them the engine talks to the sockets directly. Faults
 * need one even on loopback: a refused connect answers after the air's round trip, a stall
 * silences the air. */
static bool
link_wanted(const struct otk_emu_config *c)
{
    return c->link != OTK_LINK_NONE || (c->faults && c->faults->n > 0) || c->gateway;
}

/* The receive window the device's stack offers (the socket's buffer): with a link window,
 * little may hide in the kernel, at most one window beyond the model's (see docs/EMULATOR.md;
 * Linux's minimum, about 1.1 KB, would make the sender cut the stream into 576-byte segments,
 * each a wake-up and a window update of its own). 0: the kernel's default. */
static int
tcp_window(const struct otk_emu_config *c)
{
    return link_wanted(c) ? (int)otk_link_params_of(c->link, c->profile).window : 0;
}

static int
link_start(struct otk_emu *e)
{
    const struct otk_emu_config *c = e->cfg;
    bool faults = c->faults && c->faults->n > 0;
    if (!link_wanted(c))
        return OTK_OK;
    struct otk_link_params p = otk_link_params_of(c->link, c->profile);
    /* the engine's sends: engine -> link -> [faults] -> sockets (and the same for link_nat) */
    struct otk_link_io io = {.down = otk_netdev_ops(&e->nd), .pump = link_pump, .user = e};
    struct otk_link_io io_nat = io;
    if (faults) {
        struct otk_fault_stage_io fio = {
            .down = io.down, .silence = fault_silence, .log = link_log, .user = e};
        otk_fault_stage_init(&e->faults, c->faults, &fio);
        io.down = otk_fault_stage_ops(&e->faults);
        fio.silence = fault_silence_nat; /* (used only with c->native) */
        otk_fault_stage_init(&e->faults_nat, c->faults, &fio);
        io_nat.down = otk_fault_stage_ops(&e->faults_nat);
        e->faulty = true;
    }
    e->link = otk_link_new(&p, c->seed, &io);
    if (e->link && c->native) {
        e->link_nat = otk_link_new(&p, c->seed + 1, &io_nat);
        if (e->link_nat)
            otk_link_set_native(e->link_nat);
    }
    if (!e->link || (c->native && !e->link_nat)) {
        report_text(e, OTK_EMU_REP_FATAL, "link model: out of memory");
        return OTK_ERR_IO;
    }
    if (c->link != OTK_LINK_NONE) {
        e->fs.stall = link_flash_stall;
        e->fs.stall_user = e;
    }
    if (p.rtt_us)
        /* wake-ups on time: the default 50 us slack per timer adds up over a LAN round trip */
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    return OTK_OK;
}

/* --pre-erase: one block of the idle slot per pass of the loop while the device is idle, so
 * the network is served between blocks (each stalls the emulated CPU like a real erase).
 * @return true if a block was done (poll without waiting, then come back). */
static bool
pre_erase_step(struct otk_emu *e)
{
    if (!e->cfg->pre_erase || e->pre_erase_done || otk_dev_state(&e->dev) != OTK_DEV_IDLE)
        return false;
    if (e->pre_erase_steps == 0)
        e->pre_erase_t0 = otk_posix_now_ms();
    int r = otk_dev_pre_erase(&e->dev);
    if (r > 0) {
        e->pre_erase_steps++;
        return true;
    }
    e->pre_erase_done = true;
    if (r < 0)
        report_text(e, OTK_EMU_REP_LOG, "pre-erase: flash error; the next update erases as usual");
    else if (e->pre_erase_steps == 0)
        report_text(e, OTK_EMU_REP_LOG,
                    "pre-erase: not now (the running image is not confirmed, or otadata boots "
                    "the other slot)");
    else
        report_text(e, OTK_EMU_REP_LOG, "pre-erase: slot %d is erased for the next update (%.2f s)",
                    1 - e->running_slot,
                    (double)(uint32_t)(otk_posix_now_ms() - e->pre_erase_t0) / 1000.0);
    return false;
}

/* Wait for the sockets, the engine's deadline, the link's timers or the pre-erase's next step.
 * @return the count of pfds filled, or -1 if poll failed (reported). */
static int
wait_events(struct otk_emu *e, struct pollfd *pfds)
{
    uint32_t now = otk_posix_now_ms();
    int timeout = pre_erase_step(e) ? 0 : -1;
    uint32_t at;
    if (timeout < 0 && otk_dev_next_deadline(&e->dev, &at)) {
        int32_t d = (int32_t)(at - now);
        timeout = d > 0 ? (int)d : 0;
    }
    if (otk_flashsim_powered_off(&e->fs))
        return 0; /* the cut came in the pre-erase: nothing to wait for */
    int n = e->cfg->arduino_off ? 0 : otk_netdev_pollfds(&e->nd, pfds, &timeout, now);
    n += otk_netnat_pollfds(&e->nn, pfds + n, &timeout, now);
    if (e->gw)
        n += otk_gw_pollfds(e->gw, pfds + n, &timeout, now);
    n += otk_mdns_adv_pollfds(&e->adv, pfds + n, &timeout, now);
    /* the link's timers are finer than milliseconds (a LAN round trip is 1 ms) */
    int64_t wait_us = timeout < 0 ? -1 : (int64_t)timeout * 1000;
    struct otk_link *links[2] = {e->link, e->link_nat};
    for (int k = 0; k < 2; k++) {
        int64_t lt = links[k] ? otk_link_next_us(links[k]) : -1;
        if (lt >= 0 && (wait_us < 0 || lt < wait_us))
            wait_us = lt;
    }
    struct timespec ts = {.tv_sec = (time_t)(wait_us / 1000000),
                          .tv_nsec = (long)(wait_us % 1000000) * 1000L};
    if (ppoll(pfds, (nfds_t)n, wait_us < 0 ? NULL : &ts, NULL) >= 0)
        return n;
    if (errno == EINTR)
        return 0; /* nothing happened; the loop looks at *stop */
    report_text(e, OTK_EMU_REP_FATAL, "poll: %s", strerror(errno));
    return -1;
}

/* The device restarts after an update: the network drops, the bootloader runs, the engine
 * starts again. @return -1 to go on, or the exit status. */
static int
restart(struct otk_emu *e)
{
    /* A restart drops the connection (after the stack sent what it had queued). */
    if (e->link)
        otk_link_flush(e->link);
    if (e->link_nat)
        otk_link_flush(e->link_nat);
    otk_netdev_flush(&e->nd, 200);
    otk_netdev_reset(&e->nd);
    otk_netnat_reset(&e->nn);
    if (e->link)
        otk_link_reset(e->link);
    if (e->link_nat)
        otk_link_reset(e->link_nat);
    int rc = boot(e);
    if (otk_flashsim_powered_off(&e->fs))
        return power_off(e); /* the cut came in the firmware's confirm */
    if (rc != OTK_OK)
        return finish(e, OTK_EMU_EXIT_NOBOOT);
    if (e->update_ok && e->cfg->once)
        return finish(e, 0);
    e->update_ok = false;
    if (engine_start(e) != OTK_OK)
        return finish(e, OTK_EMU_EXIT_FAIL);
    e->pre_erase_done = false;
    e->pre_erase_steps = 0;
    report_text(e, OTK_EMU_REP_LOG, "rebooted; listening again");
    return -1;
}

/* What the engine's events of this pass decided. @return -1 to go on, or the exit status. */
static int
after_pass(struct otk_emu *e)
{
    if (otk_flashsim_powered_off(&e->fs))
        return power_off(e);
    if (e->update_failed && e->cfg->once)
        return finish(e, OTK_EMU_EXIT_FAIL);
    if (e->update_failed) {
        /* what the failed update wrote into the idle slot is erased again */
        e->pre_erase_done = false;
        e->pre_erase_steps = 0;
    }
    e->update_failed = false;
    if (!e->reboot_pending)
        return -1;
    e->reboot_pending = false;
    return restart(e);
}

static int
loop(struct otk_emu *e)
{
    struct pollfd pfds[OTK_NETDEV_NFDS + OTK_NETNAT_NFDS + OTK_GW_NFDS + OTK_MDNS_ADV_NFDS];
    while (!(e->cfg->stop && *e->cfg->stop)) {
        int n = wait_events(e, pfds);
        if (n < 0)
            return finish(e, OTK_EMU_EXIT_FAIL);
        /* (n == 0 after an interrupted wait, or with nothing to poll: the engine's deadlines
         * still run) */
        if (!otk_flashsim_powered_off(&e->fs)) {
            if (!e->cfg->arduino_off)
                otk_netdev_process(&e->nd, pfds, n, otk_posix_now_ms());
            otk_netnat_process(&e->nn, pfds, n, otk_posix_now_ms());
            if (e->link)
                otk_link_process(e->link);
            if (e->link_nat)
                otk_link_process(e->link_nat);
            if (e->gw)
                otk_gw_process(e->gw, pfds, n, otk_posix_now_ms());
            otk_mdns_adv_process(&e->adv, pfds, n, otk_posix_now_ms());
            otk_dev_tick(&e->dev, otk_posix_now_ms());
        }
        int code = after_pass(e);
        if (code >= 0)
            return code;
    }
    return otk_flashsim_powered_off(&e->fs) ? power_off(e) : finish(e, 0);
}

/* mDNS: _arduino._tcp for the ArduinoOTA server, _esphomelib._tcp for the native one. */
static void
advertise(struct otk_emu *e)
{
    const struct otk_emu_config *cfg = e->cfg;
    char err[256] = "";

    if (!cfg->mdns_name)
        return;
    if (!cfg->arduino_off &&
        otk_mdns_adv_start(&e->adv, cfg->mdns_name, cfg->profile, cfg->secret[0] != '\0',
                           otk_netdev_addr(&e->nd), otk_netdev_port(&e->nd), link_log, e, err,
                           sizeof err) != OTK_OK)
        report_text(e, OTK_EMU_REP_LOG, "mdns: _arduino._tcp not advertised: %s", err);
    if (cfg->native &&
        otk_mdns_adv_start_esphome(&e->adv, cfg->mdns_name, cfg->profile,
                                   cfg->native->noise != OTK_NAT_NOISE_OFF, otk_netdev_addr(&e->nd),
                                   otk_netdev_port(&e->nd), link_log, e, err, sizeof err) != OTK_OK)
        report_text(e, OTK_EMU_REP_LOG, "mdns: _esphomelib._tcp not advertised: %s", err);
}

/* The device's sockets: the UDP port (ArduinoOTA) and, with cfg->native, the TCP listener of
 * the same number. @return OTK_OK, or an error already reported (nothing left open). */
static int
open_network(struct otk_emu *e)
{
    const struct otk_emu_config *cfg = e->cfg;
    char err[256] = "";
    int rc = otk_netdev_open(&e->nd, cfg->bind_addr, cfg->port, tcp_window(cfg), err, sizeof err);
    if (rc != OTK_OK) {
        report_text(e, OTK_EMU_REP_FATAL, "network: %s%s", err,
                    rc == OTK_ERR_BUSY ? " (another program has that port, perhaps another "
                                         "otakit device: give another with --port N, or "
                                         "--port 0 for any free one)"
                                       : "");
        return rc;
    }
    e->nn.listen_fd = e->nn.conn_fd = e->nn.linger_fd = -1;
    if (!cfg->native)
        return OTK_OK;
    rc = otk_netnat_open(&e->nn, cfg->bind_addr, otk_netdev_port(&e->nd), err, sizeof err);
    /* --port 0: the UDP port was free, its TCP twin may not be; draw another pair */
    for (int tries = 0; rc == OTK_ERR_BUSY && cfg->port == 0 && tries < 8; tries++) {
        otk_netdev_close(&e->nd);
        rc = otk_netdev_open(&e->nd, cfg->bind_addr, 0, tcp_window(cfg), err, sizeof err);
        if (rc == OTK_OK)
            rc = otk_netnat_open(&e->nn, cfg->bind_addr, otk_netdev_port(&e->nd), err, sizeof err);
    }
    if (rc != OTK_OK) {
        report_text(e, OTK_EMU_REP_FATAL, "network: %s", err);
        otk_netdev_close(&e->nd);
        return rc;
    }
    otk_netdev_set_native(&e->nd, &e->nn);
    return OTK_OK;
}

int
otk_emu_run(const struct otk_emu_config *cfg)
{
    struct otk_emu *e = calloc(1, sizeof *e);
    if (!e) {
        struct otk_emu_report r = {.type = OTK_EMU_REP_FATAL, .text = "out of memory"};
        if (cfg->report)
            cfg->report(cfg->user, &r);
        return OTK_EMU_EXIT_FAIL;
    }
    e->cfg = cfg;
    char err[256] = "";
    bool created = false;
    int rc = otk_flashsim_open(&e->fs, cfg->flash_path, cfg->profile, cfg->timing, &created, err,
                               sizeof err);
    if (rc != OTK_OK) {
        report_text(e, OTK_EMU_REP_FATAL, "flash: %s", err);
        report_end(e, OTK_EMU_EXIT_FAIL, 0);
        free(e);
        return OTK_EMU_EXIT_FAIL;
    }
    e->fs.log = on_flash_log;
    e->fs.on_power_cut = on_power_cut;
    e->fs.user = e;
    if (created)
        report_text(e, OTK_EMU_REP_LOG, "created %s (%s factory flash, %u bytes)", cfg->flash_path,
                    otk_emu_profile_str(cfg->profile), (unsigned)otk_flashsim_size(&e->fs));
    otk_flashsim_set_cut(&e->fs, cfg->cut_at);
    if (open_network(e) != OTK_OK) {
        report_end(e, OTK_EMU_EXIT_FAIL, 0);
        otk_flashsim_close(&e->fs);
        free(e);
        return OTK_EMU_EXIT_FAIL;
    }
    int code;
    if (link_start(e) != OTK_OK) {
        code = finish(e, OTK_EMU_EXIT_FAIL);
    } else if (load_layout(e) != OTK_OK) {
        code = finish(e, OTK_EMU_EXIT_FAIL);
    } else if (boot(e) != OTK_OK) {
        code = otk_flashsim_powered_off(&e->fs) ? power_off(e) : finish(e, OTK_EMU_EXIT_NOBOOT);
    } else if (engine_start(e) != OTK_OK) {
        code = finish(e, OTK_EMU_EXIT_FAIL);
    } else {
        advertise(e);
        struct otk_emu_report r = {.type = OTK_EMU_REP_LISTENING,
                                   .text = otk_netdev_addr(&e->nd),
                                   .port = otk_netdev_port(&e->nd),
                                   .mdns_name =
                                       e->adv.on || e->adv.esphome_on ? cfg->mdns_name : NULL};
        report(e, &r);
        code = gateway_start(e) == OTK_OK ? loop(e) : finish(e, OTK_EMU_EXIT_FAIL);
    }
    free(e);
    return code;
}
