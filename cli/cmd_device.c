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
#include "key.h"
#include "json.h"
#include "opts.h"
#include "otakit/sigtool.h"
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
    const struct otk_nat_config *native; /* NULL: the native protocol is not served */
    bool arduino_off;
    enum otk_auth_variant auth;
    const char *flash;
    bool gateway;          /* the status line shows the OTA lock's progress reports */
    uint32_t min_rate;     /* the progress floor, bytes/s, for the text of a too slow update */
    const char *signature; /* the report's signature finding (OTK_UPD_SIGN errors) */
};

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
            if (o->signature) {
                fputs(",\"signature\":", stdout);
                cli_json_str(stdout, o->signature);
            }
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
            if (o->signature)
                printf(" (%s; the running image stays)", o->signature);
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

static const char *const noise_modes[] = {"off", "offered", "required"};

/* The listening event's protocol fields: "protocols" and the native server's settings. */
static void
report_protocols_json(const struct dev_out *o)
{
    const struct otk_nat_config *n = o->native;

    printf(",\"protocols\":[%s%s%s]", o->arduino_off ? "" : "\"arduino\"",
           !o->arduino_off && n ? "," : "", n ? "\"esphome\"" : "");
    if (n)
        printf(",\"native\":{\"version\":%u,\"password\":%s,\"encryption\":\"%s\"}",
               (unsigned)n->version, n->password[0] ? "true" : "false", noise_modes[n->noise]);
}

static void
report_native_text(const struct dev_out *o, const struct otk_emu_report *r)
{
    const struct otk_nat_config *n = o->native;

    if (!n || o->quiet)
        return;
    printf("otakit device: ESPHome native protocol v%u on TCP %s:%u (%s, encryption %s)%s\n",
           (unsigned)n->version, r->text, (unsigned)r->port,
           n->password[0] ? "password, SHA-256 auth" : "no password", noise_modes[n->noise],
           o->arduino_off ? "; ArduinoOTA not served" : "");
}

/* The "listening" line or event: where, which protocols, which password scheme. */
static void
report_listening(struct dev_out *o, const struct otk_emu_report *r)
{
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
        report_protocols_json(o);
        json_end();
    } else {
        report_native_text(o, r);
        if (r->mdns_name && !o->quiet)
            printf("otakit device: advertised by mDNS as %s.local (%s)\n", r->mdns_name,
                   o->arduino_off ? "_esphomelib._tcp"
                   : o->native    ? "_arduino._tcp, _esphomelib._tcp"
                                  : "_arduino._tcp");
        printf("otakit device: %s listening on %s:%u (%s), flash %s\n",
               otk_emu_profile_str(o->profile), r->text, (unsigned)r->port,
               !o->has_password          ? "no password"
               : o->auth == OTK_AUTH_MD5 ? "password, MD5 auth"
                                         : "password, PBKDF2 auth",
               o->flash);
        fflush(stdout);
    }
}

static void
report_log(struct dev_out *o, const struct otk_emu_report *r)
{
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
}

static void
report_exit(struct dev_out *o, const struct otk_emu_report *r)
{
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
}

static void
on_report(void *user, const struct otk_emu_report *r)
{
    struct dev_out *o = user;
    switch (r->type) {
    case OTK_EMU_REP_LISTENING:
        report_listening(o, r);
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
        o->signature = r->signature;
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
        report_log(o, r);
        break;
    case OTK_EMU_REP_EXIT:
        report_exit(o, r);
        break;
    }
}

static void
gw_mqtt(struct dev_out *o, const struct otk_gw_report *r)
{
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
}

static void
gw_ota_state(struct dev_out *o, const struct otk_gw_report *r)
{
    const struct otk_ota_progress *p = r->prog;
    if (o->json) {
        /* the payload is one JSON object: splice its members into the event */
        size_t len = strlen(r->json);
        printf("{\"event\":\"ota_state\",%.*s,\"published\":%s", (int)(len - 2), r->json + 1,
               r->flag ? "true" : "false");
        json_end();
    }
    if (o->quiet)
        return;
    if (p->phase == OTK_OTA_PHASE_START || p->phase == OTK_OTA_PHASE_RUNNING) {
        status_draw(o, p->bytes, p->total, p->percent,
                    p->elapsed_ms >= RATE_MIN_MS ? (long long)p->rate : -1, r->now_ms,
                    p->bytes >= p->total);
    } else if (p->phase == OTK_OTA_PHASE_STALLED) {
        status_close(o);
        fprintf(stderr, "OTA stalled at %u%%: the watchdog released the OTA lock\n", p->percent);
        fflush(stderr);
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
        gw_mqtt(o, r);
        break;
    case OTK_GW_REP_READING:
        if (o->json) {
            fputs("{\"event\":\"reading\",\"topic\":", stdout);
            cli_json_str(stdout, r->text);
            printf(",\"seq\":%u,\"published\":%s", (unsigned)r->seq, r->flag ? "true" : "false");
            json_end();
        }
        break;
    case OTK_GW_REP_OTA_STATE:
        gw_ota_state(o, r);
        break;
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

/* ---- the command line ---- */

enum device_opt {
    D_PROFILE,
    D_AUTH_VARIANT,
    D_PORT,
    D_BIND,
    D_PASSWORD,
    D_PASSWORD_HASH,
    D_PROTOCOL,
    D_KEY,
    D_REQUIRE_ENCRYPTION,
    D_NO_INFLATE,
    D_NATIVE_VERSION,
    D_TRUSTED_KEY,
    D_FLASH,
    D_FLASH_TIMING,
    D_ONCE,
    D_JSON,
    D_CRASH_ON_BOOT,
    D_PRE_ERASE,
    D_MIN_RATE,
    D_CUT_AT,
    D_QUIET,
    D_NAME,
    D_NO_MDNS,
    D_LINK,
    D_SEED,
    D_FAULT,
    D_GATEWAY,
    D_NO_OTA_LOCK,
    D_BLE_WINDOW,
    D_BLE_INTERVAL,
    D_BLE_CPU_STALL,
    D_MQTT_HOST,
    D_MQTT_PORT,
    D_MQTT_TOPIC,
    D_READING_INTERVAL,
    D_OTA_WATCHDOG,
    D_HELP,
};

static const struct cli_opt device_opts_table[] = {
    {0, NULL, NULL, 0,
     "usage: otakit device [options]\n"
     "\n"
     "Run an emulated ESP32/ESP8266 that accepts ArduinoOTA (espota) updates and ESPHome's\n"
     "native OTA protocol (espota2, on TCP, same port number).\n"
     "\n"
     "options:\n"},
    {0, "profile", "esp32|esp8266", D_PROFILE, "chip profile (default esp32)"},
    {0, "auth-variant", "md5|pbkdf2", D_AUTH_VARIANT,
     "password scheme (default pbkdf2 on esp32, md5 on esp8266)"},
    {0, "port", "N", D_PORT, "UDP port (default 3232 / 8266; 0 = any free)"},
    {0, "bind", "ADDR", D_BIND, "IPv4 address to bind (default 127.0.0.1)"},
    {0, "password", "PW", D_PASSWORD, "require this password"},
    {0, "password-hash", "HEX", D_PASSWORD_HASH,
     "require the password whose stored hash is HEX\n(MD5 hex, or SHA-256 hex for pbkdf2; "
     "ArduinoOTA\nonly: the native protocol needs the password)"},
    {0, "protocol", "arduino|esphome|both", D_PROTOCOL,
     "protocols served (default both; without\n--protocol, --password-hash serves ArduinoOTA "
     "only)"},
    {0, "key", "BASE64", D_KEY,
     "native protocol: offer Noise encryption with this\nkey (ESPHome's api encryption key)"},
    {0, "require-encryption", NULL, D_REQUIRE_ENCRYPTION,
     "native protocol: refuse clients without the key\n(0x94), as ESPHome's `ota: encryption:`"},
    {0, "no-inflate", NULL, D_NO_INFLATE,
     "native protocol: no inflater (as a firmware without\none): compressed updates are not "
     "offered"},
    {0, "native-version", "1|2", D_NATIVE_VERSION,
     "native protocol version announced (default 2;\n1 sends no chunk acks)"},
    {0, "trusted-key", "KEY.pem", D_TRUSTED_KEY,
     "activate only images signed with this key (public\nor private PEM): esp32 Secure Boot V2 "
     "(RSA-3072\nor P-256), esp8266 the Arduino format (RSA)"},
    {0, "flash", "FILE", D_FLASH, "flash file (default otakit-<profile>.flash)"},
    {0, "flash-timing", "realistic|instant", D_FLASH_TIMING,
     "flash erase/program delays (default instant)"},
    {0, "once", NULL, D_ONCE, "exit after the first update (0 ok, 1 failed)"},
    {0, "json", NULL, D_JSON, "one JSON object per line on stdout"},
    {0, "crash-on-boot", NULL, D_CRASH_ON_BOOT, "a new image crashes before confirming (rollback)"},
    {0, "pre-erase", NULL, D_PRE_ERASE,
     "once the running image is confirmed, erase the other\nslot while idle: the next update "
     "erases nothing"},
    {0, "min-rate", "N", D_MIN_RATE,
     "progress floor: an update must bring N bytes/s\nover every 8 s or it ends (default 1024)"},
    {0, "cut-at", "N", D_CUT_AT, "cut the power during the N-th flash operation\n(exit status 99)"},
    {0, "quiet", NULL, D_QUIET, "no status line, no informational lines"},
    {'q', NULL, NULL, D_QUIET, NULL},
    {0, "name", "NAME", D_NAME,
     "device name: mDNS host NAME.local and instance of\n_arduino._tcp / _esphomelib._tcp "
     "(default esp32-XXXXXX /\n"
     "esp8266-XXXXXX, the digits from the flash file)"},
    {0, "no-mdns", NULL, D_NO_MDNS, "do not advertise the device by mDNS"},
    {0, NULL, NULL, 0, "\nnetwork model (docs/EMULATOR.md):\n"},
    {0, "link", "none|lan|wifi|weak-wifi", D_LINK,
     "radio link: round trip, bandwidth, jitter, stalls\nand lwIP's receive window (default none: "
     "loopback)"},
    {0, "seed", "N", D_SEED, "seed of the link's and the faults' draws (default 1)"},
    {0, "fault", "KIND[:ARG]", D_FAULT, "inject a network fault (repeatable), KIND one of:"},
    /* (usage() prints the list of faults here) */
    {0, NULL, NULL, 0, "\ngateway (a BLE + MQTT gateway around the device, with the OTA lock):\n"},
    {0, "gateway", NULL, D_GATEWAY, "run the BLE scan and MQTT tasks"},
    {0, "no-ota-lock", NULL, D_NO_OTA_LOCK, "the same tasks, not paused during updates"},
    {0, "ble-window", "MS", D_BLE_WINDOW,
     "radio held by each scan window (default 30;\n0 = no BLE task)"},
    {0, "ble-interval", "MS", D_BLE_INTERVAL, "scan period (default 52)"},
    {0, "ble-cpu-stall", "MS", D_BLE_CPU_STALL, "CPU busy after each window (default 0)"},
    {0, "mqtt-host", "HOST", D_MQTT_HOST, "broker (default 127.0.0.1; '' = no MQTT task)"},
    {0, "mqtt-port", "N", D_MQTT_PORT, "broker port (default 1883)"},
    {0, "mqtt-topic", "BASE", D_MQTT_TOPIC, "base topic (default otakit/<name>)"},
    {0, "reading-interval", "MS", D_READING_INTERVAL, "period of the readings (default 1000)"},
    {0, "ota-watchdog", "MS", D_OTA_WATCHDOG,
     "release the lock after MS without progress\n(default 30000)"},
    {'h', "help", NULL, D_HELP, "this text"},
    {0, NULL, NULL, 0,
     "\n"
     "exit status: 0 ok, 1 update failed (--once) or error, 2 usage, 3 nothing bootable,\n"
     "99 power cut\n"},
};

static const struct cli_table device_table = {
    .cmd = "device",
    .opts = device_opts_table,
    .n = sizeof device_opts_table / sizeof device_opts_table[0],
    .style = CLI_PLAIN,
    .help_col = 33,
};

static void
usage(FILE *to)
{
    size_t fault = 0;

    while (device_opts_table[fault].id != D_FAULT || !device_opts_table[fault].longn)
        fault++;
    cli_help_rows(to, &device_table, 0, fault + 1);
    fputs(otk_faults_help(), to);
    cli_help_rows(to, &device_table, fault + 1, device_table.n);
}

/* What the command line says. The parser fills it; the wiring (cmd_device) reads it. */
struct device_opts {
    struct otk_emu_config cfg; /* the emulator's settings that options set as they are */
    struct otk_gw_config gw;
    struct otk_faults faults;
    const char *auth, *password, *hash, *flash, *name;
    const char *protocol, *key, *native_version; /* the native protocol's options */
    const char *trusted_key;                     /* --trusted-key's file */
    struct otk_hostkey hostkey;                  /* ...and the key read from it */
    bool require_encryption;
    struct otk_nat_config native;
    long port; /* -1: the profile's */
    bool json, quiet, gateway, gw_opts, no_mdns, help;
    char flash_default[64]; /* otakit-<profile>.flash */
    char mdns_default[32];  /* <profile>-XXXXXX */
};

static void
device_opts_defaults(struct device_opts *d)
{
    memset(d, 0, sizeof *d);
    d->cfg.profile = OTK_PROFILE_ESP32;
    d->cfg.bind_addr = "127.0.0.1";
    d->cfg.timing = OTK_FLASH_INSTANT;
    d->cfg.seed = 1;
    d->port = -1;
    d->gw.lock = true;
    d->gw.ble_window_ms = 30; /* the gateway's BLEScanWindow / BLEScanInterval */
    d->gw.ble_interval_ms = 52;
    d->gw.mqtt_host = "127.0.0.1";
    d->gw.mqtt_port = 1883;
    d->gw.reading_ms = 1000;
    otk_faults_init(&d->faults, 1);
}

static int
device_flag(struct device_opts *d, int id)
{
    switch (id) {
    case D_HELP:
        d->help = true;
        return CLI_APPLY_STOP; /* the help, whatever follows */
    case D_ONCE:
        d->cfg.once = true;
        break;
    case D_JSON:
        d->json = true;
        break;
    case D_QUIET:
        d->quiet = true;
        break;
    case D_CRASH_ON_BOOT:
        d->cfg.crash_on_boot = true;
        break;
    case D_PRE_ERASE:
        d->cfg.pre_erase = true;
        break;
    case D_GATEWAY:
        d->gateway = true;
        break;
    case D_NO_OTA_LOCK:
        d->gw.lock = false;
        d->gw_opts = true;
        break;
    case D_REQUIRE_ENCRYPTION:
        d->require_encryption = true;
        break;
    case D_NO_INFLATE:
        d->cfg.no_inflate = true;
        break;
    default: /* D_NO_MDNS */
        d->no_mdns = true;
        break;
    }
    return 0;
}

/* A number in milliseconds of the gateway's tasks: min..max. */
static int
gateway_ms(const char *v, unsigned long long min, unsigned long long max, uint32_t *out,
           const char *what)
{
    unsigned long long num;

    if (!parse_u64(v, max, &num) || num < min)
        return cli_usage_error("device", "bad %s '%s' (milliseconds%s)", what, v,
                               min == 0   ? ""
                               : min == 1 ? ", > 0"
                                          : ", >= 10");
    *out = (uint32_t)num;
    return 0;
}

static int
device_gateway(struct device_opts *d, int id, const char *v)
{
    unsigned long long num;

    d->gw_opts = true;
    switch (id) {
    case D_BLE_WINDOW:
        return gateway_ms(v, 0, 600000, &d->gw.ble_window_ms, "--ble-window");
    case D_BLE_INTERVAL:
        return gateway_ms(v, 1, 600000, &d->gw.ble_interval_ms, "--ble-interval");
    case D_BLE_CPU_STALL:
        return gateway_ms(v, 0, 60000, &d->gw.ble_cpu_stall_ms, "--ble-cpu-stall");
    case D_READING_INTERVAL:
        return gateway_ms(v, 10, 3600000, &d->gw.reading_ms, "--reading-interval");
    case D_OTA_WATCHDOG:
        return gateway_ms(v, 1, 3600000, &d->gw.watchdog_ms, "--ota-watchdog");
    case D_MQTT_HOST:
        d->gw.mqtt_host = v;
        return 0;
    case D_MQTT_PORT:
        if (!parse_u64(v, 65535, &num) || num == 0)
            return cli_usage_error("device", "bad --mqtt-port '%s' (1..65535)", v);
        d->gw.mqtt_port = (uint16_t)num;
        return 0;
    default: /* D_MQTT_TOPIC */
        if (!*v || strlen(v) > 128 || strpbrk(v, "#+"))
            return cli_usage_error("device",
                                   "bad --mqtt-topic '%s' (no wildcards, up to 128 characters)", v);
        d->gw.topic = v;
        return 0;
    }
}

/* The device's own settings that are a choice of words. */
static int
device_choice(struct device_opts *d, int id, const char *v)
{
    switch (id) {
    case D_PROFILE:
        if (!strcmp(v, "esp32"))
            d->cfg.profile = OTK_PROFILE_ESP32;
        else if (!strcmp(v, "esp8266"))
            d->cfg.profile = OTK_PROFILE_ESP8266;
        else
            return cli_usage_error("device", "unknown profile '%s' (esp32 or esp8266)", v);
        return 0;
    case D_AUTH_VARIANT:
        if (strcmp(v, "md5") && strcmp(v, "pbkdf2"))
            return cli_usage_error("device", "unknown auth variant '%s' (md5 or pbkdf2)", v);
        d->auth = v;
        return 0;
    case D_FLASH_TIMING:
        if (!strcmp(v, "instant"))
            d->cfg.timing = OTK_FLASH_INSTANT;
        else if (!strcmp(v, "realistic"))
            d->cfg.timing = OTK_FLASH_REALISTIC;
        else
            return cli_usage_error("device", "unknown flash timing '%s' (realistic or instant)", v);
        return 0;
    default: /* D_LINK */
        if (otk_link_profile_parse(v, &d->cfg.link) != 0)
            return cli_usage_error("device", "unknown link '%s' (none, lan, wifi or weak-wifi)", v);
        return 0;
    }
}

/* The device's own settings that are numbers. */
static int
device_number(struct device_opts *d, int id, const char *v)
{
    unsigned long long num;

    switch (id) {
    case D_PORT:
        if (!parse_u64(v, 65535, &num))
            return cli_usage_error("device", "bad port '%s' (0..65535)", v);
        d->port = (long)num;
        return 0;
    case D_MIN_RATE:
        /* (bytes per 8 s must fit 32 bits) */
        if (!parse_u64(v, UINT32_MAX >> 3, &num) || num == 0)
            return cli_usage_error("device", "bad --min-rate '%s' (bytes per second, >= 1)", v);
        d->cfg.min_rate = (uint32_t)num;
        return 0;
    case D_CUT_AT:
        if (!parse_u64(v, (unsigned long long)UINT64_MAX, &num) || num == 0)
            return cli_usage_error("device", "bad --cut-at '%s' (a flash operation number, 1..)",
                                   v);
        d->cfg.cut_at = num;
        return 0;
    default: /* D_SEED */
        if (!parse_u64(v, (unsigned long long)UINT64_MAX, &num))
            return cli_usage_error("device", "bad --seed '%s' (a number)", v);
        d->cfg.seed = num;
        return 0;
    }
}

static int
device_apply(void *ctx, const struct cli_opt *op, const char *v)
{
    struct device_opts *d = ctx;
    char ferr[1024];

    if (!op)
        return cli_unknown_arg(&device_table, v); /* the device takes no arguments */
    switch (op->id) {
    case D_BLE_WINDOW:
    case D_BLE_INTERVAL:
    case D_BLE_CPU_STALL:
    case D_MQTT_HOST:
    case D_MQTT_PORT:
    case D_MQTT_TOPIC:
    case D_READING_INTERVAL:
    case D_OTA_WATCHDOG:
        return device_gateway(d, op->id, v);
    case D_PROFILE:
    case D_AUTH_VARIANT:
    case D_FLASH_TIMING:
    case D_LINK:
        return device_choice(d, op->id, v);
    case D_PORT:
    case D_MIN_RATE:
    case D_CUT_AT:
    case D_SEED:
        return device_number(d, op->id, v);
    case D_NAME:
        /* a host name label: it is also NAME.local */
        if (!*v || strlen(v) > 63 ||
            strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
                strlen(v))
            return cli_usage_error("device", "bad --name '%s' (1 to 63 letters, digits and '-')",
                                   v);
        d->name = v;
        return 0;
    case D_BIND:
        d->cfg.bind_addr = v;
        return 0;
    case D_PASSWORD_HASH:
        d->hash = v;
        return 0;
    case D_PASSWORD:
        d->password = v;
        return 0;
    case D_PROTOCOL:
        d->protocol = v;
        return 0;
    case D_KEY:
        d->key = v;
        return 0;
    case D_NATIVE_VERSION:
        d->native_version = v;
        return 0;
    case D_TRUSTED_KEY:
        d->trusted_key = v;
        return 0;
    case D_FLASH:
        d->flash = v;
        return 0;
    case D_FAULT:
        if (otk_faults_add(&d->faults, v, ferr, sizeof ferr) != 0)
            return cli_usage_error("device", "%s", ferr);
        return 0;
    default:
        return device_flag(d, op->id);
    }
}

/* The password's secret as the device stores it: from --password, or --password-hash as
 * given. @return -1 to go on, or the exit code. */
static int
device_secret(struct device_opts *d)
{
    struct otk_emu_config *cfg = &d->cfg;
    const char *hash = d->hash;

    if (d->password) {
        otk_proto_password_secret(otk_posix_crypto(), cfg->auth, d->password, strlen(d->password),
                                  cfg->secret);
        return -1;
    }
    if (!hash)
        return -1;
    /* The cores store the hash verbatim and the host always sends lowercase digests. */
    bool ok = is_hex(hash, OTK_MD5_HEX_LEN) ||
              (cfg->auth == OTK_AUTH_PBKDF2 && is_hex(hash, OTK_SHA256_HEX_LEN));
    if (!ok)
        return cli_usage_error("device",
                               cfg->auth == OTK_AUTH_PBKDF2
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
    snprintf(cfg->secret, sizeof cfg->secret, "%s", hash);
    return -1;
}

/* --protocol, --key, --require-encryption, --native-version: the native server's settings.
 * The native protocol checks the password itself (ESPHome keeps it in plain), so a device
 * given only a hash serves ArduinoOTA alone unless told otherwise (then it is an error).
 * @return -1 to go on, or the exit code. */
static int
device_native(struct device_opts *d)
{
    char why[160];
    struct otk_nat_config *nc = &d->native;
    const char *protocol = d->protocol;
    bool native = true, arduino = true;

    if (protocol && !strcmp(protocol, "arduino"))
        native = false;
    else if (protocol && !strcmp(protocol, "esphome"))
        arduino = false;
    else if (protocol && strcmp(protocol, "both"))
        return cli_usage_error("device", "unknown protocol '%s' (arduino, esphome or both)",
                               protocol);
    if (d->hash && native && protocol)
        return cli_usage_error("device", "%s",
                               "the native protocol needs --password (ESPHome devices check "
                               "the password itself, not a hash): use --protocol arduino");
    if (d->hash && !protocol)
        native = false;
    if ((d->key || d->require_encryption || d->native_version) && !native)
        return cli_usage_error("device", "%s",
                               "--key, --require-encryption and --native-version are for the "
                               "native protocol (--protocol esphome or both)");
    if (d->password && strlen(d->password) >= sizeof nc->password)
        return cli_usage_error("device", "--password is longer than %u bytes",
                               (unsigned)(sizeof nc->password - 1));
    if (d->password)
        snprintf(nc->password, sizeof nc->password, "%s", d->password);
    if (d->key && cli_parse_key(d->key, nc->key, why, sizeof why) != 0)
        return cli_usage_error("device", "--key '%s': %s", d->key, why);
    if (d->require_encryption && !d->key)
        return cli_usage_error("device", "%s", "--require-encryption needs --key");
    nc->noise = d->require_encryption ? OTK_NAT_NOISE_REQUIRED
                : d->key              ? OTK_NAT_NOISE_OFFERED
                                      : OTK_NAT_NOISE_OFF;
    if (d->native_version && strcmp(d->native_version, "1") && strcmp(d->native_version, "2"))
        return cli_usage_error("device", "bad --native-version '%s' (1 or 2)", d->native_version);
    nc->version = d->native_version ? (uint8_t)(d->native_version[0] - '0') : 2;
    d->cfg.native = native ? nc : NULL;
    d->cfg.arduino_off = !arduino;
    return -1;
}

/* --trusted-key: the key the profile's format checks against. @return -1 to go on, or the
 * exit code. */
static int
device_trusted_key(struct device_opts *d)
{
    bool esp8266 = d->cfg.profile == OTK_PROFILE_ESP8266;
    char err[200];

    if (!d->trusted_key)
        return -1;
    if (otk_hostkey_load(&d->hostkey, d->trusted_key, err, sizeof err) != 0)
        return cli_usage_error("device", "--trusted-key %s: %s", d->trusted_key, err);
    d->cfg.trusted_key =
        otk_hostkey_trust(&d->hostkey, esp8266 ? OTK_SIG_FMT_ESP8266 : OTK_SIG_FMT_SBV2);
    if (!d->cfg.trusted_key)
        return cli_usage_error("device", "--trusted-key %s: %s", d->trusted_key,
                               esp8266 ? "an ESP8266 checks RSA signatures: give an RSA key"
                                       : "an ESP32 checks Secure Boot V2 signatures: give an "
                                         "RSA-3072 or ECDSA P-256 key");
    return -1;
}

/* Check what the options say together and complete the emulator's settings from them.
 * @return -1 to go on, or the exit code. */
static int
device_settle(struct device_opts *d)
{
    struct otk_emu_config *cfg = &d->cfg;

    otk_faults_seed(&d->faults, cfg->seed);
    cfg->faults = &d->faults;
    if (d->gw_opts && !d->gateway)
        return cli_usage_error("device", "%s", "gateway options need --gateway");
    if (d->gateway && d->gw.ble_window_ms && d->gw.ble_window_ms >= d->gw.ble_interval_ms)
        return cli_usage_error("device", "%s", "--ble-window must be shorter than --ble-interval");
    if (d->password && !*d->password)
        return cli_usage_error("device", "%s",
                               "--password is empty (leave it out for no password)");
    if (d->password && d->hash)
        return cli_usage_error("device", "%s", "--password and --password-hash exclude each other");
    if (!d->auth)
        cfg->auth = cfg->profile == OTK_PROFILE_ESP8266 ? OTK_AUTH_MD5 : OTK_AUTH_PBKDF2;
    else
        cfg->auth = !strcmp(d->auth, "md5") ? OTK_AUTH_MD5 : OTK_AUTH_PBKDF2;
    if (cfg->profile == OTK_PROFILE_ESP8266 && cfg->auth == OTK_AUTH_PBKDF2)
        fprintf(stderr, "otakit device: warning: no ESP8266 core uses PBKDF2 auth; emulating "
                        "it anyway\n");
    if (d->port < 0)
        d->port = cfg->profile == OTK_PROFILE_ESP8266 ? OTK_PORT_ESP8266 : OTK_PORT_ESP32;
    cfg->port = (uint16_t)d->port;
    cfg->password = d->password;
    int rc = device_native(d);
    if (rc < 0)
        rc = device_trusted_key(d);
    return rc >= 0 ? rc : device_secret(d);
}

/* The flash file and the device's name, by default from the profile and the flash file. */
static void
device_names(struct device_opts *d)
{
    struct otk_emu_config *cfg = &d->cfg;

    if (!d->flash) {
        snprintf(d->flash_default, sizeof d->flash_default, "otakit-%s.flash",
                 otk_emu_profile_str(cfg->profile));
        d->flash = d->flash_default;
    }
    cfg->flash_path = d->flash;
    otk_mdns_adv_default_name(cfg->profile, d->flash, d->mdns_default, sizeof d->mdns_default);
    if (!d->name)
        d->name = d->mdns_default;
    if (!d->no_mdns)
        cfg->mdns_name = d->name;
}

/* Run the emulator with what the options say, reporting to out. */
static int
device_run(struct device_opts *d, struct dev_out *out)
{
    struct otk_emu_config *cfg = &d->cfg;

    memset(out, 0, sizeof *out);
    out->json = d->json;
    out->quiet = d->quiet;
    out->tty = isatty(STDERR_FILENO) == 1;
    out->profile = cfg->profile;
    out->last_decile = -1;
    out->has_password = cfg->secret[0] != '\0';
    out->native = cfg->native;
    out->arduino_off = cfg->arduino_off;
    out->auth = cfg->auth;
    out->flash = cfg->flash_path;
    out->min_rate = cfg->min_rate ? cfg->min_rate : 1024;
    cfg->report = on_report;
    cfg->user = out;
    if (d->gateway) {
        d->gw.name = d->name; /* the device's one name: mDNS, MQTT client id, base topic */
        d->gw.report = on_gw_report;
        d->gw.user = out;
        out->gateway = true;
        cfg->gateway = &d->gw;
    }
    cfg->stop = &g_stop;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: poll() must return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    return otk_emu_run(cfg);
}

int
cmd_device(int argc, char **argv)
{
    struct device_opts d;
    struct dev_out out;
    struct cli_parse res;
    int rc;

    device_opts_defaults(&d);
    if (cli_parse_args(&device_table, argc, argv, device_apply, &d, &res))
        return cli_parse_report(&device_table, &res);
    if (d.help) {
        usage(stdout);
        return OTK_EXIT_OK;
    }
    rc = device_settle(&d);
    if (rc < 0) {
        device_names(&d);
        rc = device_run(&d, &out);
    }
    otk_hostkey_free(&d.hostkey);
    return rc;
}
