/* SPDX-License-Identifier: MIT */
/* `otakit device`: an emulated ESP32 / ESP8266 that accepts ArduinoOTA updates. Option parsing
 * and reporting only; the device itself is sim/emu.c. */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "emu.h"
#include "faults.h"
#include "mdns_adv.h"
#include "otakit/err.h"
#include "otakit/posix.h"
#include "otakit/proto.h"
#include "otakit/slots.h"
#include "otakit/updater.h"

/* The only writable global of the tool: a signal handler can set nothing else safely. */
static volatile sig_atomic_t g_stop;

static void
on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct dev_out {
    bool json;
    bool quiet;
    bool tty; /* stderr is a terminal: redraw one status line */
    enum otk_profile profile;
    uint32_t start_ms;
    uint32_t last_json_ms;
    uint32_t last_status_ms;
    int last_decile;
    bool status_open; /* a "\r" status line is on screen without its newline */
    bool in_update;
    bool has_password;
    enum otk_auth_variant auth;
    const char *flash;
    bool gateway;      /* the status line shows the OTA lock's progress reports */
    uint32_t min_rate; /* the progress floor, bytes/s, for the text of a too slow update */
};

/* The help text, a format: %s is the list of network faults (also the options that
 * cli_unknown_option suggests from). */
static const char help_fmt[] =
    "usage: otakit device [options]\n"
    "\n"
    "Run an emulated ESP32/ESP8266 that accepts ArduinoOTA (espota) updates.\n"
    "\n"
    "options:\n"
    "  --profile esp32|esp8266        chip profile (default esp32)\n"
    "  --auth-variant md5|pbkdf2      password scheme (default pbkdf2 on esp32, md5 on "
    "esp8266)\n"
    "  --port N                       UDP port (default 3232 / 8266; 0 = any free)\n"
    "  --bind ADDR                    IPv4 address to bind (default 127.0.0.1)\n"
    "  --password PW                  require this password\n"
    "  --password-hash HEX            require the password whose stored hash is HEX\n"
    "                                 (MD5 hex, or SHA-256 hex for pbkdf2)\n"
    "  --flash FILE                   flash file (default otakit-<profile>.flash)\n"
    "  --flash-timing realistic|instant  flash erase/program delays (default instant)\n"
    "  --once                         exit after the first update (0 ok, 1 failed)\n"
    "  --json                         one JSON object per line on stdout\n"
    "  --crash-on-boot                a new image crashes before confirming (rollback)\n"
    "  --pre-erase                    once the running image is confirmed, erase the other\n"
    "                                 slot while idle: the next update erases nothing\n"
    "  --min-rate N                   progress floor: an update must bring N bytes/s\n"
    "                                 over every 8 s or it ends (default 1024)\n"
    "  --cut-at N                     cut the power during the N-th flash operation\n"
    "                                 (exit status 99)\n"
    "  --quiet                        no status line, no informational lines\n"
    "  --name NAME                    device name: mDNS host NAME.local and instance of\n"
    "                                 _arduino._tcp (default esp32-XXXXXX /\n"
    "                                 esp8266-XXXXXX, the digits from the flash file)\n"
    "  --no-mdns                      do not advertise the device by mDNS\n"
    "\n"
    "network model (docs/EMULATOR.md):\n"
    "  --link none|lan|wifi|weak-wifi radio link: round trip, bandwidth, jitter, stalls\n"
    "                                 and lwIP's receive window (default none: loopback)\n"
    "  --seed N                       seed of the link's and the faults' draws (default 1)\n"
    "  --fault KIND[:ARG]             inject a network fault (repeatable), KIND one of:\n"
    "%s"
    "\n"
    "gateway (a BLE + MQTT gateway around the device, with the OTA lock):\n"
    "  --gateway                      run the BLE scan and MQTT tasks\n"
    "  --no-ota-lock                  the same tasks, not paused during updates\n"
    "  --ble-window MS                radio held by each scan window (default 30;\n"
    "                                 0 = no BLE task)\n"
    "  --ble-interval MS              scan period (default 52)\n"
    "  --ble-cpu-stall MS             CPU busy after each window (default 0)\n"
    "  --mqtt-host HOST               broker (default 127.0.0.1; '' = no MQTT task)\n"
    "  --mqtt-port N                  broker port (default 1883)\n"
    "  --mqtt-topic BASE              base topic (default otakit/<name>)\n"
    "  --reading-interval MS          period of the readings (default 1000)\n"
    "  --ota-watchdog MS              release the lock after MS without progress\n"
    "                                 (default 30000)\n"
    "  -h, --help                     this text\n"
    "\n"
    "exit status: 0 ok, 1 update failed (--once) or error, 2 usage, 3 nothing bootable,\n"
    "99 power cut\n";

static void
usage(FILE *to)
{
    fprintf(to, help_fmt, otk_faults_help());
}

static void
json_end(void)
{
    fputs("}\n", stdout);
    fflush(stdout);
}

static void
status_close(struct dev_out *o)
{
    if (o->status_open) {
        fputc('\n', stderr);
        o->status_open = false;
    }
}

/* A rate needs this much time behind it: a faster upload shows none (not "0 KB/s"). */
#define RATE_MIN_MS 100u

/* "864/1310 KB" (in bytes when the total is below 1 KB: "28/28 B"), led by the rate when it
 * could be measured ("180 KB/s  ", "700 B/s  "; rate < 0: none). */
static void
status_figures(char *out, size_t cap, uint32_t bytes, uint32_t total, long long rate)
{
    int n = 0;

    if (rate >= 1024)
        n = snprintf(out, cap, "%lld KB/s  ", rate / 1024);
    else if (rate >= 0)
        n = snprintf(out, cap, "%lld B/s  ", rate);
    if (total < 1024u)
        snprintf(out + n, cap - (size_t)n, "%u/%u B", (unsigned)bytes, (unsigned)total);
    else
        snprintf(out + n, cap - (size_t)n, "%u/%u KB", (unsigned)(bytes / 1024u),
                 (unsigned)(total / 1024u));
}

static void
status_draw(struct dev_out *o, uint32_t bytes, uint32_t total, unsigned pct, long long rate,
            uint32_t now, bool force)
{
    char fig[64];

    status_figures(fig, sizeof fig, bytes, total, rate);
    if (o->tty) {
        if (!force && now - o->last_status_ms < 100)
            return;
        o->last_status_ms = now;
        fprintf(stderr, "\rOTA %3u%%  %s  ", pct, fig);
        o->status_open = true;
    } else {
        int decile = (int)(pct / 10u);
        if (decile <= o->last_decile && !force)
            return;
        o->last_decile = decile;
        fprintf(stderr, "OTA %3u%%  %s\n", pct, fig);
    }
    fflush(stderr);
}

/* Bytes per second since the start, or -1 while too little time has passed to say. */
static long long
rate_since(uint32_t bytes, uint32_t ms)
{
    return ms >= RATE_MIN_MS ? (long long)((uint64_t)bytes * 1000u / ms) : -1;
}

static void
status_line(struct dev_out *o, const struct otk_dev_event *ev, uint32_t now, bool force)
{
    if (o->quiet || ev->total == 0 || o->gateway)
        return;
    unsigned pct = (unsigned)((uint64_t)ev->bytes * 100u / ev->total);
    status_draw(o, ev->bytes, ev->total, pct, rate_since(ev->bytes, now - o->start_ms), now, force);
}

/* A refused answer and why (sim/auth_explain.h): the device keeps waiting for another. */
static void
report_auth_failed(struct dev_out *o, const struct otk_auth_explain *why)
{
    static const char *const tri[] = {"null", "false", "true"};

    if (o->json) {
        fputs("{\"event\":\"auth_failed\",\"scheme\":", stdout);
        fputs(why->scheme < 0               ? "null"
              : why->scheme == OTK_AUTH_MD5 ? "\"md5\""
                                            : "\"pbkdf2\"",
              stdout);
        printf(",\"password_right\":%s,\"text\":", tri[why->password + 1]);
        cli_json_str(stdout, why->text);
        json_end();
    } else {
        printf("OTA auth failed: %s (still waiting)\n", why->text);
        fflush(stdout);
    }
}

static void
report_dev(struct dev_out *o, const struct otk_dev_event *ev, const struct otk_auth_explain *why,
           uint32_t now)
{
    switch (ev->type) {
    case OTK_EV_START:
        o->start_ms = now;
        o->last_json_ms = now;
        o->last_status_ms = 0;
        o->last_decile = -1;
        o->in_update = true;
        if (o->json) {
            printf("{\"event\":\"start\",\"cmd\":%u,\"size\":%u", (unsigned)ev->cmd,
                   (unsigned)ev->total);
            json_end();
        } else if (!o->quiet) {
            printf("OTA start: %s image, %u bytes\n",
                   ev->cmd == OTK_CMD_FS ? "filesystem" : "firmware", (unsigned)ev->total);
            fflush(stdout);
        }
        break;
    case OTK_EV_PROGRESS: {
        bool last = ev->bytes >= ev->total;
        if (o->json && (last || now - o->last_json_ms >= 100)) {
            o->last_json_ms = now;
            long long rate = rate_since(ev->bytes, now - o->start_ms);
            unsigned pct = ev->total ? (unsigned)((uint64_t)ev->bytes * 100u / ev->total) : 0;
            printf("{\"event\":\"progress\",\"bytes\":%u,\"total\":%u,\"percent\":%u,"
                   "\"rate_kbs\":",
                   (unsigned)ev->bytes, (unsigned)ev->total, pct);
            if (rate < 0)
                fputs("null", stdout);
            else
                printf("%.1f", (double)rate / 1024.0);
            json_end();
        }
        status_line(o, ev, now, last);
        break;
    }
    case OTK_EV_END:
        status_close(o);
        o->in_update = false;
        if (o->json) {
            printf("{\"event\":\"end\",\"bytes\":%u,\"ms\":%u", (unsigned)ev->bytes,
                   (unsigned)(now - o->start_ms));
            json_end();
        } else if (!o->quiet) {
            printf("OTA end: image accepted (%u bytes in %.1f s), rebooting\n", (unsigned)ev->bytes,
                   (double)(now - o->start_ms) / 1000.0);
            fflush(stdout);
        }
        break;
    case OTK_EV_ERROR:
        status_close(o);
        o->in_update = false;
        if (ev->ota_error == OTK_OTA_AUTH_ERROR) {
            report_auth_failed(o, why);
            break;
        }
        if (o->json) {
            printf("{\"event\":\"error\",\"ota_error\":%d,\"code\":%d,\"bytes\":%u,\"text\":",
                   (int)ev->ota_error, otk_upd_errnum(o->profile, ev->reason), (unsigned)ev->bytes);
            cli_json_str(stdout, ev->text ? ev->text : "");
            json_end();
        } else {
            static const char *const names[] = {"auth", "begin", "connect", "receive", "end"};
            const char *n = (unsigned)ev->ota_error < 5 ? names[ev->ota_error] : "?";
            printf("OTA error (%s, %d): %s", n, otk_upd_errnum(o->profile, ev->reason),
                   ev->text && *ev->text ? ev->text : "(no text sent)");
            if (ev->ota_error == OTK_OTA_RECEIVE_ERROR && ev->reason == OTK_UPD_STREAM)
                printf(" (the host sent nothing for 1 s and 3 nudges, or less than %u bytes/s "
                       "over 8 s: the progress floor)",
                       (unsigned)o->min_rate);
            putchar('\n');
            fflush(stdout);
        }
        break;
    }
}

static void
report_boot(struct dev_out *o, const char *what, const struct otk_emu_boot *b)
{
    if (o->json) {
        printf("{\"event\":\"%s\",\"slot\":%d,\"project\":", what, b->slot);
        cli_json_str(stdout, b->project);
        fputs(",\"version\":", stdout);
        cli_json_str(stdout, b->version);
        printf(",\"state\":\"%s\",\"rolled_back\":%s,\"fallback\":%s,\"selected_slot\":%d,"
               "\"verify\":",
               cli_ota_state_key(b->state), b->rolled_back ? "true" : "false",
               b->fallback ? "true" : "false", b->selected_slot);
        printf("\"%s\",\"verify_text\":", cli_image_result_key(b->verify));
        cli_json_str(stdout, otk_image_result_str(b->verify));
        json_end();
        return;
    }
    if (o->quiet && strcmp(what, "no_boot") != 0)
        return;
    char name[80];
    if (b->project[0] || b->version[0])
        snprintf(name, sizeof name, "%s %s", b->project, b->version);
    else
        snprintf(name, sizeof name, "image without app description");
    if (!strcmp(what, "boot")) {
        if (b->rolled_back)
            printf("bootloader: unconfirmed image aborted, rolled back\n");
        if (b->fallback)
            printf("bootloader: slot %d does not verify (%s), falling back to slot %d\n",
                   b->selected_slot, otk_image_result_str(b->selected_verify), b->slot);
        printf("boot: slot %d: %s [%s]\n", b->slot, name, cli_ota_state_key(b->state));
    } else if (!strcmp(what, "confirm")) {
        printf("firmware confirmed itself: slot %d (%s) is valid\n", b->slot, name);
    } else if (!strcmp(what, "crash")) {
        printf("firmware %s crashed before confirming (--crash-on-boot): reset\n", name);
    } else {
        printf("bootloader: no bootable image (slot %d: %s)\n", b->selected_slot,
               otk_image_result_str(b->selected_verify));
    }
    fflush(stdout);
}

static void
on_report(void *user, const struct otk_emu_report *r)
{
    struct dev_out *o = user;
    switch (r->type) {
    case OTK_EMU_REP_LISTENING:
        if (o->json) {
            printf("{\"event\":\"listening\",\"profile\":\"%s\",\"addr\":",
                   otk_emu_profile_str(o->profile));
            cli_json_str(stdout, r->text);
            printf(",\"port\":%u,\"auth\":\"%s\",\"password\":%s,\"flash\":", (unsigned)r->port,
                   o->auth == OTK_AUTH_MD5 ? "md5" : "pbkdf2", o->has_password ? "true" : "false");
            cli_json_str(stdout, o->flash);
            fputs(",\"mdns\":", stdout);
            if (r->mdns_name)
                cli_json_str(stdout, r->mdns_name);
            else
                fputs("null", stdout);
            json_end();
        } else {
            if (r->mdns_name && !o->quiet)
                printf("otakit device: advertised by mDNS as %s.local (_arduino._tcp)\n",
                       r->mdns_name);
            printf("otakit device: %s listening on %s:%u (%s), flash %s\n",
                   otk_emu_profile_str(o->profile), r->text, (unsigned)r->port,
                   !o->has_password          ? "no password"
                   : o->auth == OTK_AUTH_MD5 ? "password, MD5 auth"
                                             : "password, PBKDF2 auth",
                   o->flash);
            fflush(stdout);
        }
        break;
    case OTK_EMU_REP_BOOT:
        report_boot(o, "boot", r->boot);
        break;
    case OTK_EMU_REP_CONFIRM:
        report_boot(o, "confirm", r->boot);
        break;
    case OTK_EMU_REP_CRASH:
        report_boot(o, "crash", r->boot);
        break;
    case OTK_EMU_REP_NOBOOT:
        report_boot(o, "no_boot", r->boot);
        break;
    case OTK_EMU_REP_DEV:
        report_dev(o, r->ev, r->auth, r->now_ms);
        break;
    case OTK_EMU_REP_FATAL:
        status_close(o);
        fprintf(stderr, "otakit device: error: %s\n", r->text);
        if (o->json) {
            fputs("{\"event\":\"fatal\",\"text\":", stdout);
            cli_json_str(stdout, r->text);
            json_end();
        }
        break;
    case OTK_EMU_REP_FLASH_LOG:
    case OTK_EMU_REP_LOG:
        status_close(o);
        if (o->json) {
            printf("{\"event\":\"%s\",\"text\":",
                   r->type == OTK_EMU_REP_FLASH_LOG ? "flash_error" : "log");
            cli_json_str(stdout, r->text);
            json_end();
        } else if (r->type == OTK_EMU_REP_FLASH_LOG) {
            fprintf(stderr, "otakit device: flash: %s\n", r->text);
        } else if (!o->quiet) {
            printf("%s\n", r->text);
            fflush(stdout);
        }
        break;
    case OTK_EMU_REP_EXIT:
        status_close(o);
        if (o->json) {
            printf("{\"event\":\"exit\",\"code\":%d,\"flash_ops\":%llu%s", r->code,
                   (unsigned long long)r->flash_ops, r->power_cut ? ",\"power_cut\":true" : "");
            json_end();
        } else if (r->power_cut) {
            printf("power cut during flash operation %llu (exit 99)\n",
                   (unsigned long long)r->flash_ops);
        } else if (!o->quiet) {
            printf("exit %d (%llu flash operations)\n", r->code, (unsigned long long)r->flash_ops);
        }
        fflush(stdout);
        break;
    }
}

/* The gateway's tasks and lock (--gateway). The OTA state is printed as the MQTT payload it
 * published, so the log and the broker carry the same figures. */
static void
on_gw_report(void *user, const struct otk_gw_report *r)
{
    struct dev_out *o = user;
    switch (r->type) {
    case OTK_GW_REP_READY:
        if (o->json) {
            fputs("{\"event\":\"gateway\",\"topic\":", stdout);
            cli_json_str(stdout, r->text);
            json_end();
        } else if (!o->quiet) {
            printf("gateway: tasks running, MQTT base topic %s\n", r->text);
            fflush(stdout);
        }
        break;
    case OTK_GW_REP_LOCK:
        if (o->json) {
            printf("{\"event\":\"lock\",\"held\":%s,\"phase\":", r->flag ? "true" : "false");
            cli_json_str(stdout, r->text);
            json_end();
        } else if (!o->quiet) {
            status_close(o);
            printf("OTA lock %s (%s)\n", r->flag ? "taken" : "released", r->text);
            fflush(stdout);
        }
        break;
    case OTK_GW_REP_TASK:
        if (o->json) {
            printf("{\"event\":\"task\",\"task\":\"%s\",\"state\":\"%s\"", r->task,
                   r->flag ? "paused" : "resumed");
            json_end();
        } else if (!o->quiet) {
            status_close(o);
            printf("task %s %s\n", r->task, r->flag ? "paused" : "resumed");
            fflush(stdout);
        }
        break;
    case OTK_GW_REP_BLE_SCAN:
        if (o->json) {
            printf("{\"event\":\"ble_scan\",\"scan\":%u,\"held_ms\":%u,\"seen\":%u,"
                   "\"cut\":%s,\"published\":%s",
                   (unsigned)r->seq, (unsigned)r->value, (unsigned)r->seen,
                   r->flag ? "true" : "false", r->text && *r->text ? "true" : "false");
            json_end();
        }
        break;
    case OTK_GW_REP_MQTT:
        if (o->json) {
            printf("{\"event\":\"mqtt\",\"connected\":%s,\"text\":", r->flag ? "true" : "false");
            cli_json_str(stdout, r->text ? r->text : "");
            if (!r->flag)
                printf(",\"retry_ms\":%u", (unsigned)r->value);
            json_end();
        } else if (!o->quiet) {
            status_close(o);
            if (r->flag)
                printf("mqtt: %s\n", r->text);
            else
                printf("mqtt: %s (retry in %u ms)\n", r->text, (unsigned)r->value);
            fflush(stdout);
        }
        break;
    case OTK_GW_REP_READING:
        if (o->json) {
            fputs("{\"event\":\"reading\",\"topic\":", stdout);
            cli_json_str(stdout, r->text);
            printf(",\"seq\":%u,\"published\":%s", (unsigned)r->seq, r->flag ? "true" : "false");
            json_end();
        }
        break;
    case OTK_GW_REP_OTA_STATE: {
        const struct otk_ota_progress *p = r->prog;
        if (o->json) {
            /* the payload is one JSON object: splice its members into the event */
            size_t len = strlen(r->json);
            printf("{\"event\":\"ota_state\",%.*s,\"published\":%s", (int)(len - 2), r->json + 1,
                   r->flag ? "true" : "false");
            json_end();
        }
        if (o->quiet)
            break;
        if (p->phase == OTK_OTA_PHASE_START || p->phase == OTK_OTA_PHASE_RUNNING) {
            status_draw(o, p->bytes, p->total, p->percent,
                        p->elapsed_ms >= RATE_MIN_MS ? (long long)p->rate : -1, r->now_ms,
                        p->bytes >= p->total);
        } else if (p->phase == OTK_OTA_PHASE_STALLED) {
            status_close(o);
            fprintf(stderr, "OTA stalled at %u%%: the watchdog released the OTA lock\n",
                    p->percent);
            fflush(stderr);
        }
        break;
    }
    }
}

static bool
is_hex(const char *s, size_t n)
{
    if (strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return false;
    return true;
}

static bool
parse_u64(const char *s, unsigned long long max, unsigned long long *out)
{
    if (!*s || !isdigit((unsigned char)*s))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

int
cmd_device(int argc, char **argv)
{
    struct otk_emu_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = OTK_PROFILE_ESP32;
    cfg.bind_addr = "127.0.0.1";
    cfg.timing = OTK_FLASH_INSTANT;
    const char *auth = NULL, *password = NULL, *hash = NULL, *flash = NULL;
    long port = -1;
    bool json = false, quiet = false;
    struct otk_gw_config gw;
    memset(&gw, 0, sizeof gw);
    gw.lock = true;
    gw.ble_window_ms = 30; /* the gateway's BLEScanWindow / BLEScanInterval */
    gw.ble_interval_ms = 52;
    gw.mqtt_host = "127.0.0.1";
    gw.mqtt_port = 1883;
    gw.reading_ms = 1000;
    bool gateway = false, gw_opts = false;
    const char *name = NULL;
    bool no_mdns = false;
    struct otk_faults faults;
    otk_faults_init(&faults, 1);
    cfg.seed = 1;
    cfg.faults = &faults;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        bool missing = false;
        unsigned long long num;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return OTK_EXIT_OK;
        } else if (!strcmp(a, "--once")) {
            cfg.once = true;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            quiet = true;
        } else if (!strcmp(a, "--crash-on-boot")) {
            cfg.crash_on_boot = true;
        } else if (!strcmp(a, "--pre-erase")) {
            cfg.pre_erase = true;
        } else if (!strcmp(a, "--gateway")) {
            gateway = true;
        } else if (!strcmp(a, "--no-ota-lock")) {
            gw.lock = false;
            gw_opts = true;
        } else if (!strcmp(a, "--no-mdns")) {
            no_mdns = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--name", NULL, &missing))) {
            /* a host name label: it is also NAME.local */
            if (!*v || strlen(v) > 63 ||
                strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-") != strlen(v))
                return cli_usage_error("device",
                                       "bad --name '%s' (1 to 63 letters, digits and '-')", v);
            name = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--ble-window", NULL, &missing))) {
            if (!parse_u64(v, 600000, &num))
                return cli_usage_error("device", "bad --ble-window '%s' (milliseconds)", v);
            gw.ble_window_ms = (uint32_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--ble-interval", NULL, &missing))) {
            if (!parse_u64(v, 600000, &num) || num == 0)
                return cli_usage_error("device", "bad --ble-interval '%s' (milliseconds, > 0)", v);
            gw.ble_interval_ms = (uint32_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--ble-cpu-stall", NULL, &missing))) {
            if (!parse_u64(v, 60000, &num))
                return cli_usage_error("device", "bad --ble-cpu-stall '%s' (milliseconds)", v);
            gw.ble_cpu_stall_ms = (uint32_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--mqtt-host", NULL, &missing))) {
            gw.mqtt_host = v;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--mqtt-port", NULL, &missing))) {
            if (!parse_u64(v, 65535, &num) || num == 0)
                return cli_usage_error("device", "bad --mqtt-port '%s' (1..65535)", v);
            gw.mqtt_port = (uint16_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--mqtt-topic", NULL, &missing))) {
            if (!*v || strlen(v) > 128 || strpbrk(v, "#+"))
                return cli_usage_error(
                    "device", "bad --mqtt-topic '%s' (no wildcards, up to 128 characters)", v);
            gw.topic = v;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--reading-interval", NULL, &missing))) {
            if (!parse_u64(v, 3600000, &num) || num < 10)
                return cli_usage_error("device",
                                       "bad --reading-interval '%s' (milliseconds, >= 10)", v);
            gw.reading_ms = (uint32_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--ota-watchdog", NULL, &missing))) {
            if (!parse_u64(v, 3600000, &num) || num == 0)
                return cli_usage_error("device", "bad --ota-watchdog '%s' (milliseconds, > 0)", v);
            gw.watchdog_ms = (uint32_t)num;
            gw_opts = true;
        } else if ((v = cli_opt_value(argc, argv, &i, "--profile", NULL, &missing))) {
            if (!strcmp(v, "esp32"))
                cfg.profile = OTK_PROFILE_ESP32;
            else if (!strcmp(v, "esp8266"))
                cfg.profile = OTK_PROFILE_ESP8266;
            else
                return cli_usage_error("device", "unknown profile '%s' (esp32 or esp8266)", v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--auth-variant", NULL, &missing))) {
            if (strcmp(v, "md5") && strcmp(v, "pbkdf2"))
                return cli_usage_error("device", "unknown auth variant '%s' (md5 or pbkdf2)", v);
            auth = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--port", NULL, &missing))) {
            if (!parse_u64(v, 65535, &num))
                return cli_usage_error("device", "bad port '%s' (0..65535)", v);
            port = (long)num;
        } else if ((v = cli_opt_value(argc, argv, &i, "--bind", NULL, &missing))) {
            cfg.bind_addr = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--password-hash", NULL, &missing))) {
            hash = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--password", NULL, &missing))) {
            password = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--flash-timing", NULL, &missing))) {
            if (!strcmp(v, "instant"))
                cfg.timing = OTK_FLASH_INSTANT;
            else if (!strcmp(v, "realistic"))
                cfg.timing = OTK_FLASH_REALISTIC;
            else
                return cli_usage_error("device", "unknown flash timing '%s' (realistic or instant)",
                                       v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--flash", NULL, &missing))) {
            flash = v;
        } else if ((v = cli_opt_value(argc, argv, &i, "--min-rate", NULL, &missing))) {
            /* (bytes per 8 s must fit 32 bits) */
            if (!parse_u64(v, UINT32_MAX >> 3, &num) || num == 0)
                return cli_usage_error("device", "bad --min-rate '%s' (bytes per second, >= 1)", v);
            cfg.min_rate = (uint32_t)num;
        } else if ((v = cli_opt_value(argc, argv, &i, "--cut-at", NULL, &missing))) {
            if (!parse_u64(v, (unsigned long long)UINT64_MAX, &num) || num == 0)
                return cli_usage_error("device",
                                       "bad --cut-at '%s' (a flash operation number, 1..)", v);
            cfg.cut_at = num;
        } else if ((v = cli_opt_value(argc, argv, &i, "--link", NULL, &missing))) {
            if (otk_link_profile_parse(v, &cfg.link) != 0)
                return cli_usage_error("device", "unknown link '%s' (none, lan, wifi or weak-wifi)",
                                       v);
        } else if ((v = cli_opt_value(argc, argv, &i, "--seed", NULL, &missing))) {
            if (!parse_u64(v, (unsigned long long)UINT64_MAX, &num))
                return cli_usage_error("device", "bad --seed '%s' (a number)", v);
            cfg.seed = num;
        } else if ((v = cli_opt_value(argc, argv, &i, "--fault", NULL, &missing))) {
            char ferr[1024];
            if (otk_faults_add(&faults, v, ferr, sizeof ferr) != 0)
                return cli_usage_error("device", "%s", ferr);
        } else if (missing) {
            return cli_usage_error("device", "option %s needs a value", a);
        } else {
            return cli_unknown_option("device", a, help_fmt);
        }
        if (missing)
            return cli_usage_error("device", "option %s needs a value", a);
    }

    otk_faults_seed(&faults, cfg.seed);
    if (gw_opts && !gateway)
        return cli_usage_error("device", "%s", "gateway options need --gateway");
    if (gateway && gw.ble_window_ms && gw.ble_window_ms >= gw.ble_interval_ms)
        return cli_usage_error("device", "%s", "--ble-window must be shorter than --ble-interval");
    if (password && !*password)
        return cli_usage_error("device", "%s",
                               "--password is empty (leave it out for no password)");
    if (password && hash)
        return cli_usage_error("device", "%s", "--password and --password-hash exclude each other");
    if (!auth)
        cfg.auth = cfg.profile == OTK_PROFILE_ESP8266 ? OTK_AUTH_MD5 : OTK_AUTH_PBKDF2;
    else
        cfg.auth = !strcmp(auth, "md5") ? OTK_AUTH_MD5 : OTK_AUTH_PBKDF2;
    if (cfg.profile == OTK_PROFILE_ESP8266 && cfg.auth == OTK_AUTH_PBKDF2)
        fprintf(stderr, "otakit device: warning: no ESP8266 core uses PBKDF2 auth; emulating "
                        "it anyway\n");
    if (port < 0)
        port = cfg.profile == OTK_PROFILE_ESP8266 ? OTK_PORT_ESP8266 : OTK_PORT_ESP32;
    cfg.port = (uint16_t)port;
    cfg.password = password;
    if (password) {
        otk_proto_password_secret(otk_posix_crypto(), cfg.auth, password, strlen(password),
                                  cfg.secret);
    } else if (hash) {
        /* The cores store the hash verbatim and the host always sends lowercase digests. */
        bool ok = is_hex(hash, OTK_MD5_HEX_LEN) ||
                  (cfg.auth == OTK_AUTH_PBKDF2 && is_hex(hash, OTK_SHA256_HEX_LEN));
        if (!ok)
            return cli_usage_error(
                "device",
                cfg.auth == OTK_AUTH_PBKDF2
                    ? "--password-hash '%s' must be 32 (MD5) or 64 (SHA-256) hex "
                      "digits"
                    : "--password-hash '%s' must be 32 hex digits (MD5)",
                hash);
        for (const char *p = hash; *p; p++)
            if (isupper((unsigned char)*p)) {
                fprintf(stderr, "otakit device: warning: uppercase hash: a real device would "
                                "never match it; stored as given\n");
                break;
            }
        snprintf(cfg.secret, sizeof cfg.secret, "%s", hash);
    }
    char flash_default[64];
    if (!flash) {
        snprintf(flash_default, sizeof flash_default, "otakit-%s.flash",
                 otk_emu_profile_str(cfg.profile));
        flash = flash_default;
    }
    cfg.flash_path = flash;
    char mdns_default[32];
    otk_mdns_adv_default_name(cfg.profile, flash, mdns_default, sizeof mdns_default);
    if (!name)
        name = mdns_default;
    if (!no_mdns)
        cfg.mdns_name = name;

    struct dev_out out;
    memset(&out, 0, sizeof out);
    out.json = json;
    out.quiet = quiet;
    out.tty = isatty(STDERR_FILENO) == 1;
    out.profile = cfg.profile;
    out.last_decile = -1;
    out.has_password = cfg.secret[0] != '\0';
    out.auth = cfg.auth;
    out.flash = cfg.flash_path;
    out.min_rate = cfg.min_rate ? cfg.min_rate : 1024;
    cfg.report = on_report;
    cfg.user = &out;
    if (gateway) {
        gw.name = name; /* the device's one name: mDNS, MQTT client id, base topic */
        gw.report = on_gw_report;
        gw.user = &out;
        out.gateway = true;
        cfg.gateway = &gw;
    }
    cfg.stop = &g_stop;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() must return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    return otk_emu_run(&cfg);
}
