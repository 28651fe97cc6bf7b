/* SPDX-License-Identifier: MIT */
/* `otakit upload`: a drop-in for espota.py. The protocol lives in src/host/upload.c, the
 * command line in upload_args.c, the words for its outcomes in upload_report.c; this file loads
 * the image, runs one poll() loop over all targets, and reports: progress, errors with their
 * fixes, JSON events, a summary table. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "opts.h"
#include "otakit/image.h"
#include "otakit/mdns_host.h"
#include "otakit/posix.h"
#include "otakit/upload.h"
#include "upload_cli.h"

static const char help_head[] =
    "usage: otakit upload -i ADDRESS -f FILE [options]\n"
    "\n"
    "Upload a firmware or filesystem image to ArduinoOTA devices (ESP32, ESP8266): a drop-in\n"
    "for espota.py with the same options, that streams instead of waiting for every 1 KB,\n"
    "retries transient failures, and says what went wrong and how to fix it. Also ESPHome's\n"
    "native protocol and web servers' OTA doors (ElegantOTA, /update forms).\n"
    "\n";

static const char help_tail[] =
    "\n"
    "exit codes:\n"
    "    0 success                          9 image too big for the device\n"
    "    1 other failure, mixed failures   10 not a firmware image (wrong magic byte)\n"
    "    2 usage error                     11 MD5 mismatch: corrupted in transit\n"
    "    3 local file problem              12 device rejected the image (flash config,\n"
    "    4 host name not resolved            activation or signature failed)\n"
    "    5 no answer to the invitation     13 other error reported by the device\n"
    "    6 wrong or missing password       14 transfer stalled\n"
    "    7 no answer to authentication     15 connection dropped without a result\n"
    "    8 device never connected back     16 cannot open local sockets (-I/-P)\n"
    "                                      17 image built for another chip than the device\n"
    "                                      18 the device broke the protocol (OK too early,\n"
    "                                         acks of bytes never sent, garbage)\n"
    "                                      19 esphome: encryption required / not offered\n"
    "                                      20 esphome: whole image sent, no verdict (not\n"
    "                                         re-sent; the device may have applied it)\n"
    "                                      21 --wait: the device never showed itself\n"
    "                                      22 elegantota/web: the device has no such\n"
    "                                         door (HTTP 404/405)\n"
    "  130 interrupted\n"
    "With several devices the exit code is the failure shared by all failed devices, or 1.\n"
    "Details and IDE set-ups: docs/CLI.md.\n";

/* ---- reporting ---- */

struct reporter;

struct target {
    struct otk_upload up;
    struct reporter *rep;
    char host[256];    /* the address part */
    char label[256];   /* the target as typed: names it in output */
    int last_pct_line; /* last 10 % step printed (plain progress) */
    int last_json_pct;
    bool asleep_said;   /* the "asleep" state event went out */
    int exit_code;      /* valid once up is DONE */
    char message[1024]; /* what went wrong and how to fix it (cli_upload_describe) */
};

struct reporter {
    bool json, quiet, debug, tty, bar_shown;
    size_t ntargets;
    struct target *targets;
    uint32_t t0;
    uint32_t bar_t;
    const char *file;
};

/* The one thing a signal handler may touch. */
static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double
secs(uint32_t a, uint32_t b)
{
    return (double)(uint32_t)(b - a) / 1000.0;
}

static void
clear_bar(struct reporter *rep)
{
    if (rep->bar_shown) {
        fputs("\r\033[K", stderr);
        rep->bar_shown = false;
    }
}

static void
json_begin(const struct reporter *rep, const char *event, const struct target *t)
{
    printf("{\"event\":\"%s\",\"t\":%.3f", event, secs(rep->t0, otk_posix_now_ms()));
    if (t) {
        printf(",\"target\":");
        cli_json_str(stdout, t->label);
    }
}

static void
json_end(void)
{
    printf("}\n");
    fflush(stdout);
}

static double
rate_of(const struct otk_upload *u, uint32_t now)
{
    double dt = secs(u->t_data, now);
    if (!u->t_data)
        return 0;
    return (double)u->acked / (dt > 0.001 ? dt : 0.001);
}

static void
fmt_rate(char *buf, size_t cap, double bps)
{
    if (bps >= 1024 * 1024)
        snprintf(buf, cap, "%.1f MiB/s", bps / (1024 * 1024));
    else
        snprintf(buf, cap, "%.1f KiB/s", bps / 1024);
}

/* Print a (multi-line) message: the first line after the prefix, the rest indented. */
static void
print_message(struct reporter *rep, const char *prefix, const char *msg)
{
    const char *p = msg;
    bool first = true;
    clear_bar(rep);
    while (*p) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        fprintf(stderr, "%s%.*s\n", first ? prefix : "  ", len, p);
        first = false;
        p += len + (nl ? 1 : 0);
    }
}

static int
term_width(void)
{
    struct winsize ws;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

/* One device: "Uploading [=====     ]  50% 1.2 MiB/s ETA 0:03", or while it sleeps
 * "Waiting for 10.0.0.7 to wake up: 12 s of 60". */
static void
bar_one(const struct otk_upload *u, uint32_t now, int w, char *line, size_t cap)
{
    if (otk_upload_asleep(u)) {
        snprintf(line, cap, "Waiting for %s to wake up: %.0f s of %.0f", u->cfg.target,
                 secs(u->t_begin, now), u->cfg.wait_ms / 1000.0);
        return;
    }
    double p = u->cfg.size ? (double)u->acked / u->cfg.size : 1;
    double r = rate_of(u, now);
    char rate[32], eta[32] = "--:--";
    fmt_rate(rate, sizeof rate, r);
    if (r > 0) {
        unsigned s = (unsigned)((u->cfg.size - u->acked) / r + 0.5);
        snprintf(eta, sizeof eta, "%u:%02u", s / 60, s % 60);
    }
    int barw = w - 40;
    if (barw > 50)
        barw = 50;
    int fill = (int)(p * barw + 0.5);
    int n = snprintf(line, cap, "Uploading [");
    for (int i = 0; i < barw && n < (int)cap - 64; i++)
        line[n++] = i < fill ? '=' : ' ';
    snprintf(line + n, cap - (size_t)n, "] %3.0f%% %s ETA %s", p * 100, rate, eta);
}

/* Several devices: "a done | b 40% | c invite  (1.2 MiB/s)". */
static void
bar_many(const struct reporter *rep, uint32_t now, char *line, size_t cap)
{
    size_t n = 0;
    double total = 0;
    for (size_t i = 0; i < rep->ntargets && n < cap - 80; i++) {
        const struct target *t = &rep->targets[i];
        const struct otk_upload *u = &t->up;
        const char *st;
        char buf[32];
        if (u->state == OTK_UP_DONE)
            st = t->exit_code == OTK_UPX_OK ? "done" : "FAILED";
        else if (otk_upload_asleep(u))
            st = "asleep";
        else if (u->state == OTK_UP_SEND || u->state == OTK_UP_RESULT) {
            snprintf(buf, sizeof buf, "%.0f%%", 100.0 * u->acked / (u->cfg.size ? u->cfg.size : 1));
            st = buf;
            total += rate_of(u, now);
        } else
            st = otk_upload_state_name(u->state);
        n += (size_t)snprintf(line + n, cap - n, "%s%s %s", i ? " | " : "", t->label, st);
    }
    char rate[32];
    fmt_rate(rate, sizeof rate, total);
    snprintf(line + n, cap - n, "  (%s)", rate);
}

static void
draw_bar(struct reporter *rep, uint32_t now, bool force)
{
    char line[512];
    int w = term_width();

    if (!force && now - rep->bar_t < 100)
        return;
    rep->bar_t = now;
    if (rep->ntargets == 1)
        bar_one(&rep->targets[0].up, now, w, line, sizeof line);
    else
        bar_many(rep, now, line, sizeof line);
    if ((int)strlen(line) >= w)
        line[w - 1] = 0;
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    rep->bar_shown = true;
}

static void
on_log(struct target *t, const char *prefix, const char *text, uint32_t now)
{
    struct reporter *rep = t->rep;

    if (rep->debug && !rep->quiet) {
        clear_bar(rep);
        fprintf(stderr, "[%7.3f] %s%s\n", secs(rep->t0, now), prefix, text);
    }
    if (rep->json && rep->debug) {
        json_begin(rep, "log", t);
        printf(",\"text\":");
        cli_json_str(stdout, text);
        json_end();
    }
}

static void
on_state(struct target *t, const char *prefix, const char *name)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;

    /* a sleeping device's looks are not news: one "asleep", then "awake" */
    bool quiet_look = otk_upload_asleep(u) && (u->state != OTK_UP_WAIT || t->asleep_said);

    if (u->state == OTK_UP_WAIT)
        t->asleep_said = true;
    if (rep->json && !quiet_look) {
        json_begin(rep, "state", t);
        printf(",\"state\":\"%s\",\"attempt\":%u", name, u->attempt);
        json_end();
    }
    if (rep->quiet || rep->json)
        return;
    if (u->state == OTK_UP_AUTH) {
        clear_bar(rep);
        fprintf(stderr, "%sauthenticating (%s%s)...\n", prefix,
                u->variant == OTK_AUTH_PBKDF2 ? "PBKDF2-HMAC-SHA256" : "MD5",
                u->variant == OTK_AUTH_PBKDF2 && u->md5_secret ? ", MD5 password hash" : "");
    } else if (u->state == OTK_UP_SEND && !rep->tty) {
        fprintf(stderr, "%sdevice connected; uploading %u bytes\n", prefix, u->cfg.size);
    }
}

static void
on_progress(struct target *t, const char *prefix, uint32_t now)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;
    int p = u->cfg.size ? (int)(100.0 * u->acked / u->cfg.size) : 100;

    if (rep->json && (p != t->last_json_pct || u->acked == u->cfg.size)) {
        t->last_json_pct = p;
        json_begin(rep, "progress", t);
        printf(",\"bytes\":%u,\"total\":%u,\"percent\":%d,\"rate\":%.0f", u->acked, u->cfg.size, p,
               rate_of(u, now));
        json_end();
    }
    if (rep->quiet || rep->json)
        return;
    if (rep->tty) {
        draw_bar(rep, now, u->acked == u->cfg.size);
    } else if (p / 10 > t->last_pct_line) {
        char rate[32];
        t->last_pct_line = p / 10;
        fmt_rate(rate, sizeof rate, rate_of(u, now));
        fprintf(stderr, "%s%3d%% (%u of %u bytes, %s)\n", prefix, p, u->acked, u->cfg.size, rate);
    }
}

static void
on_retry(struct target *t, uint32_t now)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;
    int code = cli_upload_describe(u, t->message, sizeof t->message);

    if (rep->json) {
        json_begin(rep, "retry", t);
        printf(",\"attempt\":%u,\"error\":\"%s\",\"exit_code\":%d,\"message\":", u->attempt,
               cli_upload_exit_name(code), code);
        cli_json_str(stdout, t->message);
        json_end();
    }
    if (!rep->quiet) {
        /* one line: the whole message (cause and fix) comes once, with the final result */
        clear_bar(rep);
        fprintf(stderr, "%s: attempt %u of %u failed (%s); retrying in %.0f s\n", t->label,
                u->attempt, u->cfg.retries + 1, cli_upload_exit_name(code),
                secs(now, u->retry_at) > 0 ? secs(now, u->retry_at) : 0.0);
    }
    t->last_pct_line = 0;
}

/* An attempt continues where a dropped one left the device's flash. */
static void
on_resumed(struct target *t, const char *prefix)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;
    int pct = (int)((uint64_t)u->resumed_at * 100 / (u->cfg.size ? u->cfg.size : 1));

    if (rep->json) {
        json_begin(rep, "resumed", t);
        printf(",\"attempt\":%u,\"offset\":%u,\"percent\":%d", u->attempt, u->resumed_at, pct);
        json_end();
    }
    if (rep->quiet || rep->json)
        return;
    clear_bar(rep);
    fprintf(stderr,
            "%sresumed at %d %% (the device kept %u of %u bytes from the dropped attempt)\n",
            prefix, pct, u->resumed_at, u->cfg.size);
    t->last_pct_line = pct / 10;
}

static void
json_result(const struct target *t)
{
    const struct otk_upload *u = &t->up;
    const char *rule = cli_upload_rule_name(&u->outcome);
    int code = t->exit_code;

    json_begin(t->rep, "result", t);
    printf(",\"ok\":%s,\"exit_code\":%d,\"error\":", code ? "false" : "true", code);
    if (code)
        printf("\"%s\"", cli_upload_exit_name(code));
    else
        printf("null");
    printf(",\"cause\":");
    if (rule)
        cli_json_str(stdout, rule);
    else
        printf("null");
    printf(",\"message\":");
    cli_json_str(stdout, t->message);
    printf(",\"device_text\":");
    cli_json_str(stdout, u->outcome.device_text);
    printf(",\"bytes\":%u,\"total\":%u,\"seconds\":%.3f,\"data_seconds\":%.3f,\"attempts\":%u",
           u->acked, u->cfg.size, secs(u->t_begin, u->t_end),
           u->t_data ? secs(u->t_data, u->t_end) : 0.0, u->attempt);
    printf(",\"protocol\":\"%s\"", otk_upload_protocol_name(otk_upload_protocol_used(u)));
    /* image payload bytes sent over all attempts: a resume or compression shows as less */
    printf(",\"image_bytes\":%u,\"wire_bytes\":%u", u->cfg.size, u->wire_bytes);
    json_end();
}

static void
on_done(struct target *t)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;
    char prefix[400];

    t->exit_code = cli_upload_describe(u, t->message, sizeof t->message);
    if (rep->json)
        json_result(t);
    if (t->exit_code == OTK_UPX_OK) {
        if (!rep->quiet) {
            char rate[32];
            fmt_rate(rate, sizeof rate, rate_of(u, u->t_end));
            clear_bar(rep);
            fprintf(stderr, "%s: OK: %u bytes in %.2f s (%s)%s\n", t->label, u->cfg.size,
                    secs(u->t_begin, u->t_end), rate, u->attempt > 1 ? " after a retry" : "");
        }
    } else if (u->attempt > 1) {
        snprintf(prefix, sizeof prefix, "error (attempt %u of %u): ", u->attempt,
                 u->cfg.retries + 1);
        print_message(rep, prefix, t->message);
    } else {
        print_message(rep, "error: ", t->message);
    }
}

/* --wait: the device showed itself. */
static void
on_awake(struct target *t, const char *how, uint32_t now)
{
    struct reporter *rep = t->rep;
    const struct otk_upload *u = &t->up;

    if (rep->json) {
        json_begin(rep, "awake", t);
        printf(",\"after\":%.3f,\"how\":", secs(u->t_begin, now));
        cli_json_str(stdout, how);
        json_end();
    }
    if (rep->quiet || rep->json)
        return;
    clear_bar(rep);
    fprintf(stderr, "%s: awake after %.1f s (%s)\n", t->label, secs(u->t_begin, now), how);
}

/* --protocol auto: what it found, one line. */
static void
on_detected(struct target *t, const char *what)
{
    struct reporter *rep = t->rep;

    if (rep->json) {
        json_begin(rep, "detected", t);
        printf(",\"protocol\":\"%s\",\"found\":",
               otk_upload_protocol_name(otk_upload_protocol_used(&t->up)));
        cli_json_str(stdout, what);
        json_end();
    }
    if (rep->quiet || rep->json)
        return;
    clear_bar(rep);
    fprintf(stderr, "%s: %s\n", t->label, what);
}

static void
on_event(void *user, struct otk_upload *u, enum otk_up_event ev, const char *text)
{
    struct target *t = user;
    uint32_t now = otk_posix_now_ms();
    char prefix[400];
    (void)u;

    snprintf(prefix, sizeof prefix, "%s: ", t->label);
    switch (ev) {
    case OTK_UP_EV_LOG:
        on_log(t, prefix, text, now);
        break;
    case OTK_UP_EV_STATE:
        on_state(t, prefix, text);
        break;
    case OTK_UP_EV_PROGRESS:
        on_progress(t, prefix, now);
        break;
    case OTK_UP_EV_RETRY:
        on_retry(t, now);
        break;
    case OTK_UP_EV_RESUMED:
        on_resumed(t, prefix);
        break;
    case OTK_UP_EV_DONE:
        on_done(t);
        break;
    case OTK_UP_EV_AWAKE:
        on_awake(t, text, now);
        break;
    case OTK_UP_EV_DETECTED:
        on_detected(t, text);
        break;
    }
}

/* ---- the image ---- */

/* An app image starts with 0xE9: refuse anything else (the .elf, a data file) here, before
 * the device refuses it, unless --force. @return 0, or -1 with the reason said. */
static int
check_app_image(const struct otk_upload_opts *o, const uint8_t *d, uint32_t size)
{
    const char *f = o->file;

    if (!o->spiffs && d[0] != 0xE9) {
        bool gz = size >= 2 && d[0] == 0x1F && d[1] == 0x8B;
        bool elf = size >= 4 && !memcmp(d,
                                        "\x7f"
                                        "ELF",
                                        4);
        if (gz) {
            if (!o->quiet)
                fprintf(stderr,
                        "otakit upload: note: '%s' is gzip-compressed; only ESP8266 "
                        "devices accept compressed images.\n",
                        f);
        } else if (!o->force) {
            fprintf(stderr,
                    "otakit upload: error: '%s' is not an application image: its first byte is "
                    "0x%02X, an ESP32/ESP8266 app image starts with 0xE9%s.\n"
                    "  fix: upload the .bin the build produced; for a filesystem image add "
                    "-s/--spiffs; to send it anyway add --force.\n",
                    f, d[0], elf ? " (this is an ELF file: use the .bin next to it)" : "");
            return -1;
        }
    }
    return 0;
}

static int
load_image(const struct otk_upload_opts *o, uint8_t **data, uint32_t *size)
{
    const char *f = o->file;
    struct stat st;
    int fd = open(f, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr,
                "otakit upload: error: cannot open the image '%s': %s.\n"
                "  fix: check the path (build first: PlatformIO passes $SOURCE, the Arduino "
                "IDE {build.path}/{build.project_name}.bin).\n",
                f, strerror(errno));
        if (fd >= 0)
            close(fd);
        return OTK_UPX_FILE;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(stderr, "otakit upload: error: '%s' is not a regular file.\n", f);
        close(fd);
        return OTK_UPX_FILE;
    }
    if (st.st_size == 0) {
        fprintf(stderr,
                "otakit upload: error: the image '%s' is empty (0 bytes).\n"
                "  fix: the build did not finish or wrote elsewhere; rebuild and check the "
                "path.\n",
                f);
        close(fd);
        return OTK_UPX_FILE;
    }
    if ((uint64_t)st.st_size > UINT32_MAX) {
        fprintf(stderr, "otakit upload: error: '%s' is too big for the protocol (%lld bytes).\n", f,
                (long long)st.st_size);
        close(fd);
        return OTK_UPX_FILE;
    }
    *size = (uint32_t)st.st_size;
    *data = malloc(*size);
    if (!*data) {
        close(fd);
        fprintf(stderr, "otakit upload: error: out of memory\n");
        return OTK_UPX_FAIL;
    }
    for (uint32_t got = 0; got < *size;) {
        ssize_t n = read(fd, *data + got, *size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            fprintf(stderr, "otakit upload: error: reading '%s' failed: %s.\n", f,
                    n < 0 ? strerror(errno) : "the file shrank while being read");
            close(fd);
            free(*data);
            return OTK_UPX_FILE;
        }
        got += (uint32_t)n;
    }
    close(fd);

    if (check_app_image(o, *data, *size) != 0) {
        free(*data);
        return OTK_UPX_FILE;
    }
    int rc = cli_upload_check_signature(o, *data, *size);
    if (rc != 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* ---- summary ---- */

static int
aggregate_exit(const struct reporter *rep)
{
    int code = 0;
    for (size_t i = 0; i < rep->ntargets; i++) {
        int r = rep->targets[i].exit_code;
        if (r == OTK_UPX_OK)
            continue;
        if (code == 0)
            code = r;
        else if (code != r)
            code = OTK_UPX_FAIL;
    }
    return code;
}

/* The first line of a failure's message, cut to fit the table's column. */
static void
detail_of(const struct target *t, char *detail, size_t cap)
{
    const char *m = t->message;
    size_t len = strcspn(m, "\n");

    if (len > cap - 1)
        len = cap - 1;
    memcpy(detail, m, len);
    detail[len] = 0;
    if (len == cap - 1)
        memcpy(detail + len - 3, "...", 3);
}

static void
summary(struct reporter *rep)
{
    size_t ok = 0;
    int code = aggregate_exit(rep);

    for (size_t i = 0; i < rep->ntargets; i++)
        ok += rep->targets[i].exit_code == OTK_UPX_OK;
    if (rep->json) {
        json_begin(rep, "summary", NULL);
        printf(",\"targets\":%zu,\"ok\":%zu,\"failed\":%zu,\"exit_code\":%d", rep->ntargets, ok,
               rep->ntargets - ok, code);
        json_end();
    }
    if (rep->quiet || rep->ntargets < 2)
        return;
    clear_bar(rep);
    FILE *f = rep->json ? stderr : stdout;
    fprintf(f, "\n%-24s %-16s %10s %9s %12s %3s  %s\n", "TARGET", "RESULT", "BYTES", "TIME", "RATE",
            "TRY", "DETAIL");
    for (size_t i = 0; i < rep->ntargets; i++) {
        const struct target *t = &rep->targets[i];
        const struct otk_upload *u = &t->up;
        char rate[32] = "-", detail[72] = "";
        if (t->exit_code == OTK_UPX_OK)
            fmt_rate(rate, sizeof rate, rate_of(u, u->t_end));
        else
            detail_of(t, detail, sizeof detail);
        fprintf(f, "%-24s %-16s %10u %8.2fs %12s %3u  %s\n", t->label,
                cli_upload_exit_name(t->exit_code), u->acked, secs(u->t_begin, u->t_end), rate,
                u->attempt, detail);
    }
    fprintf(f, "%zu of %zu uploads succeeded\n", ok, rep->ntargets);
    fflush(f);
}

/* ---- main ---- */

/* Parse the command line and read --targets. @return -1 to go on, or the exit code. */
static int
parse_command_line(int argc, char **argv, struct otk_upload_opts *o)
{
    char err[2048];
    int rc = otk_upload_parse_args(argc, argv, o, err, sizeof err);

    if (rc) {
        static const char unknown[] = "unrecognized argument: ";
        char hint[CLI_WORD_MAX + 3];
        fprintf(stderr, "otakit upload: error: %s\n", err);
        /* the parser (upload_args.c) names the option it does not know */
        if (!strncmp(err, unknown, sizeof unknown - 1)) {
            char *name = err + sizeof unknown - 1;
            name[strcspn(name, " ")] = '\0';
            if (cli_table_suggest(&otk_upload_table, name, hint, sizeof hint))
                fprintf(stderr, "did you mean '%s'?\n", hint);
        }
        fprintf(stderr, "usage: otakit upload -i ADDRESS -f FILE [options] (see --help)\n");
        return rc;
    }
    if (o->help) {
        fputs(help_head, stdout);
        cli_help_print(stdout, &otk_upload_table);
        fputs(help_tail, stdout);
        return 0;
    }
    rc = otk_upload_read_targets(o, err, sizeof err);
    if (rc) {
        fprintf(stderr, "otakit upload: error: %s\n", err);
        return rc;
    }
    if (o->host_port > 0 && o->host_port + (long)o->ntargets - 1 > 65535) {
        fprintf(stderr, "otakit upload: error: -P %d leaves no room for %zu devices (ports %d..)\n",
                o->host_port, o->ntargets, o->host_port);
        return OTK_UPX_USAGE;
    }
    return -1;
}

/* What every target shares: the options, the image. */
static void
base_config(const struct otk_upload_opts *o, const uint8_t *image, uint32_t size, const char *md5,
            struct otk_upload_cfg *base)
{
    otk_upload_cfg_defaults(base);
    base->host_ip = o->host_ip;
    base->password = o->auth;
    base->http_user = o->user;
    base->md5_target = o->md5_target;
    base->spiffs = o->spiffs;
    base->lockstep = o->lockstep;
    base->force = o->force;
    base->port_auto = !o->port_given;
    base->protocol = o->protocol;
    base->wait_ms = (uint32_t)(o->wait_s * 1000);
    base->http_port = (uint16_t)o->http_port;
    base->key = o->has_key ? o->key : NULL;
    base->window = o->lockstep ? 1 : 0; /* native: ESPHome's own stop-and-wait */
    base->no_resume = o->no_resume;
    base->no_compress = o->no_compress;
    base->image = image;
    base->size = size;
    memcpy(base->md5, md5, sizeof base->md5);
    /* -t bounds every wait for the device during the handshake; espota applied it to the
     * invitation only and waited a fixed 10 s (= the default) for the rest */
    base->invite_timeout_ms = (uint32_t)(o->timeout_s * 1000);
    base->auth_timeout_ms = base->invite_timeout_ms;
    base->connect_timeout_ms = base->invite_timeout_ms;
    base->stall_timeout_ms = (uint32_t)(o->stall_timeout_s * 1000);
    base->result_timeout_ms = (uint32_t)(o->result_timeout_s * 1000);
    base->retries = o->retries;
    base->crypto = otk_posix_crypto();
    base->on_event = on_event;
}

/* One upload per target, each with its own port. @return 0, or OTK_UPX_USAGE. */
static int
init_targets(struct reporter *rep, const struct otk_upload_opts *o,
             const struct otk_upload_cfg *base)
{
    /* espota.py's default port is its core's: 3232 (ESP32) or 8266 (ESP8266). Without -p the
     * port follows the image: an ESP8266 app image goes to 8266, anything else to 3232. */
    int default_port = o->port;
    if (!o->port_given && !o->spiffs && otk_image_chip(base->image, base->size) == OTK_CHIP_ESP8266)
        default_port = OTK_PORT_ESP8266;
    bool http = o->protocol == OTK_UP_PROTO_ELEGANTOTA || o->protocol == OTK_UP_PROTO_WEB;
    if (http && !o->port_given)
        default_port = 80; /* a web server's port, not an mDNS SRV record's */
    for (size_t i = 0; i < o->ntargets; i++) {
        struct target *t = &rep->targets[i];
        int port = -1;
        struct otk_upload_cfg c = *base;
        if (otk_upload_split_target(o->targets[i], t->host, sizeof t->host, &port) < 0) {
            fprintf(stderr,
                    "otakit upload: error: bad device address '%s' (ADDRESS or "
                    "ADDRESS:PORT)\n",
                    o->targets[i]);
            return OTK_UPX_USAGE;
        }
        if (port < 0)
            port = default_port;
        else
            c.port_auto = false; /* ADDRESS:PORT */
        if (http)
            c.port_auto = false;
        snprintf(t->label, sizeof t->label, "%s", o->targets[i]);
        t->rep = rep;
        c.target = t->host;
        c.port = (uint16_t)port;
        c.host_port = o->host_port > 0 ? (uint16_t)(o->host_port + (int)i) : 0;
        c.user = t;
        otk_upload_init(&t->up, &c);
    }
    return 0;
}

static void
announce(const struct reporter *rep, const struct otk_upload_opts *o, uint32_t size,
         const char *md5)
{
    const char *kind = o->spiffs ? "filesystem" : "app";

    if (o->json) {
        json_begin(rep, "start", NULL);
        printf(",\"file\":");
        cli_json_str(stdout, o->file);
        printf(",\"size\":%u,\"md5\":\"%s\",\"command\":\"%s\",\"targets\":%zu", size, md5,
               o->spiffs ? "filesystem" : "flash", o->ntargets);
        if (o->wait_s > 0)
            printf(",\"wait\":%.3f", o->wait_s);
        json_end();
    }
    if (o->quiet || o->json)
        return;
    if (o->wait_s > 0)
        fprintf(stderr,
                "Waiting up to %.0f s for %s to wake up; each is updated as soon as it shows "
                "itself\n",
                o->wait_s, o->ntargets == 1 ? "the device" : "the devices");
    if (o->ntargets == 1) {
        const struct otk_upload *u = &rep->targets[0].up;
        fprintf(stderr, "Uploading %s (%u bytes, %s image, MD5 %s) to %s port %u%s\n", o->file,
                size, kind, md5, rep->targets[0].host, u->cfg.port,
                u->cfg.port_auto && otk_mdns_is_local(rep->targets[0].host)
                    ? " (unless its mDNS record names another)"
                    : "");
    } else {
        fprintf(stderr, "Uploading %s (%u bytes, %s image, MD5 %s) to %zu devices\n", o->file, size,
                kind, md5, o->ntargets);
    }
    char signedname[4096];
    snprintf(signedname, sizeof signedname, "%s.signed", o->file);
    if (access(signedname, R_OK) == 0)
        fprintf(stderr,
                "otakit upload: note: %s exists; ESP8266's espota.py would upload it instead, "
                "otakit uploads exactly %s\n",
                signedname, o->file);
}

/* The descriptors of every running upload (owner[j]: the target of fds[j]) and the earliest
 * deadline. @return how many uploads still run. */
static size_t
collect_fds(const struct reporter *rep, uint32_t now, struct pollfd *fds, size_t *owner,
            size_t *nfds, int *timeout)
{
    size_t active = 0;

    *nfds = 0;
    *timeout = -1;
    for (size_t i = 0; i < rep->ntargets; i++) {
        const struct otk_upload *u = &rep->targets[i].up;
        if (u->state == OTK_UP_DONE)
            continue;
        active++;
        size_t k = otk_upload_pollfds(u, fds + *nfds, 3);
        for (size_t j = 0; j < k; j++)
            owner[*nfds + j] = i;
        *nfds += k;
        int32_t d = otk_upload_next_ms(u, now);
        if (d >= 0 && (*timeout < 0 || d < *timeout))
            *timeout = d;
    }
    return active;
}

/* Hand each running upload its own poll results. */
static void
step_all(struct reporter *rep, const struct pollfd *fds, const size_t *owner, size_t nfds,
         uint32_t now)
{
    for (size_t i = 0; i < rep->ntargets; i++) {
        struct otk_upload *u = &rep->targets[i].up;
        size_t first = 0, cnt = 0;
        if (u->state == OTK_UP_DONE)
            continue;
        for (size_t j = 0; j < nfds; j++) {
            if (owner[j] == i) {
                if (cnt == 0)
                    first = j;
                cnt++;
            }
        }
        otk_upload_step(u, fds + first, cnt, now);
    }
}

static bool
any_asleep(const struct reporter *rep)
{
    for (size_t i = 0; i < rep->ntargets; i++)
        if (otk_upload_asleep(&rep->targets[i].up))
            return true;
    return false;
}

/* One poll() loop over every upload until all are done. @return true if interrupted. */
static bool
run_uploads(struct reporter *rep)
{
    struct pollfd *fds = calloc(rep->ntargets * 3 + 1, sizeof *fds);
    size_t *owner = calloc(rep->ntargets * 3 + 1, sizeof *owner);
    bool aborted = false;

    for (size_t i = 0; i < rep->ntargets; i++)
        otk_upload_start(&rep->targets[i].up, otk_posix_now_ms());
    for (;;) {
        uint32_t now = otk_posix_now_ms();
        size_t nfds;
        int timeout;

        if (interrupted && !aborted) {
            aborted = true;
            for (size_t i = 0; i < rep->ntargets; i++)
                otk_upload_abort(&rep->targets[i].up, now, "interrupted");
        }
        if (collect_fds(rep, now, fds, owner, &nfds, &timeout) == 0)
            break;
        if (rep->tty && !rep->quiet && (rep->bar_shown || any_asleep(rep)))
            draw_bar(rep, now, false);
        int n = otk_net_poll(fds, nfds, timeout); /* poll() or WSAPoll() */
        if (n < 0 && n != OTK_NET_AGAIN)
            break;
        step_all(rep, fds, owner, nfds, otk_posix_now_ms());
    }
    clear_bar(rep);
    free(fds);
    free(owner);
    return aborted;
}

/* Upload the loaded image to every target. @return the exit code. */
static int
upload_image(const struct otk_upload_opts *o, const uint8_t *image, uint32_t size)
{
    struct reporter rep = {0};
    struct otk_upload_cfg base;
    char md5[33];
    int rc;

    otk_proto_md5_hex(otk_posix_crypto(), image, size, md5);
    rep.json = o->json;
    rep.quiet = o->quiet;
    rep.debug = o->debug;
    rep.tty = isatty(2) && !o->json;
    rep.t0 = otk_posix_now_ms();
    rep.file = o->file;
    rep.ntargets = o->ntargets;
    rep.targets = calloc(o->ntargets, sizeof *rep.targets);
    if (!rep.targets)
        return OTK_UPX_FAIL;
    base_config(o, image, size, md5, &base);
    rc = init_targets(&rep, o, &base);
    if (rc) {
        free(rep.targets);
        return rc;
    }
#ifdef SIGPIPE /* not on Windows, which has no such signal */
    signal(SIGPIPE, SIG_IGN);
#endif
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    announce(&rep, o, size, md5);
    bool aborted = run_uploads(&rep);
    summary(&rep);
    rc = aborted ? 130 : aggregate_exit(&rep);
    for (size_t i = 0; i < rep.ntargets; i++)
        otk_upload_close(&rep.targets[i].up);
    free(rep.targets);
    return rc;
}

int
cmd_upload(int argc, char **argv)
{
    struct otk_upload_opts o;
    uint8_t *image = NULL;
    uint32_t size = 0;
    int rc = parse_command_line(argc, argv, &o);

    if (rc < 0)
        rc = load_image(&o, &image, &size);
    if (rc == 0 && image) {
        rc = upload_image(&o, image, size);
        free(image);
    }
    otk_upload_opts_free(&o);
    return rc;
}
