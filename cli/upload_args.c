/* SPDX-License-Identifier: MIT */
/* Command line of `otakit upload`. espota.py parses with Python's argparse (ESP32) or optparse
 * (ESP8266), and IDEs build command lines for it, so we accept what argparse accepts: "--opt=v"
 * and "--opt v", unique prefixes of long options, "-p3232", clustered flags "-dr". */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "opts.h"
#include "upload_cli.h"

enum opt_id {
    O_IP,
    O_HOST_IP,
    O_PORT,
    O_HOST_PORT,
    O_AUTH,
    O_MD5,
    O_FILE,
    O_SPIFFS,
    O_DEBUG,
    O_PROGRESS,
    O_TIMEOUT,
    O_QUIET,
    O_HELP,
    O_RETRIES,
    O_JSON,
    O_LOCKSTEP,
    O_TARGETS,
    O_FORCE,
    O_STALL,
    O_RESULT,
    O_PROTOCOL,
    O_KEY,
    O_NO_RESUME,
    O_WAIT,
    O_HTTP_PORT,
    O_USER,
    O_NO_COMPRESS,
    O_TRUSTED_KEY,
};

/* The options in the order of the help text; aliases (help NULL) follow their option: they
 * exist because espota spells them with '_' (--host_ip) and '-' (--md5-target) and people mix
 * them up. */
static const struct cli_opt opts_table[] = {
    {0, NULL, NULL, 0, "espota.py options (same meaning and defaults):\n"},
    {'i', "ip", "ADDRESS", O_IP,
     "device IPv4 address or host name; repeat for several devices,\nADDRESS:PORT overrides -p "
     "for one device"},
    {'I', "host_ip", "ADDRESS", O_HOST_IP,
     "local address to use and to listen on (default 0.0.0.0 = any)"},
    {0, "host-ip", "ADDRESS", O_HOST_IP, NULL},
    {'p', "port", "PORT", O_PORT,
     "device OTA port (default: the SRV record of a NAME.local\ndevice, else 8266 for an ESP8266 "
     "app image, else 3232)"},
    {'P', "host_port", "PORT", O_HOST_PORT,
     "local TCP port the device connects back to (default: a free\none; with several devices "
     "PORT, PORT+1, ...)"},
    {0, "host-port", "PORT", O_HOST_PORT, NULL},
    {'a', "auth", "PASSWORD", O_AUTH, "OTA password (default: none)"},
    {'m', "md5-target", NULL, O_MD5,
     "the device (arduino-esp32 >= 3.3.1) stores an MD5 password\nhash: skip the SHA-256 try"},
    {0, "md5_target", NULL, O_MD5, NULL},
    {'f', "file", "FILE", O_FILE, "the image to upload"},
    {'s', "spiffs", NULL, O_SPIFFS, "FILE is a filesystem image (SPIFFS/LittleFS/FFat)"},
    {'d', "debug", NULL, O_DEBUG, "show every protocol step"},
    {'r', "progress", NULL, O_PROGRESS, "accepted for compatibility: progress is always shown"},
    {'t', "timeout", "SECONDS", O_TIMEOUT,
     "how long to wait for each answer of the device: to the\ninvitation, to the authentication, "
     "its connection (default 10)"},
    {0, NULL, NULL, 0, "\notakit options:\n"},
    {0, "retries", "N", O_RETRIES,
     "repeat the upload up to N times after transient failures (no\nanswer, stall, dropped "
     "connection, MD5 mismatch); default 2"},
    {0, "targets", "FILE", O_TARGETS,
     "read devices from FILE, one ADDRESS[:PORT] a line ('-' = stdin)"},
    {0, "json", NULL, O_JSON, "one JSON event a line on stdout (state, progress, result)"},
    {0, "lockstep", NULL, O_LOCKSTEP,
     "send 1024-byte chunks and wait for each ack, like espota.py\n(esphome: one 8 KB block per "
     "ack, like ESPHome's tool)"},
    {0, "force", NULL, O_FORCE,
     "upload an app image even if it does not start with 0xE9, or\nnames another chip than the "
     "device's mDNS board or port"},
    {0, "stall-timeout", "S", O_STALL,
     "fail when the device takes no data for S seconds (default 10)"},
    {0, "result-timeout", "S", O_RESULT,
     "wait S seconds after the last byte for the result (default 60)"},
    {0, "protocol", "P", O_PROTOCOL,
     "arduino (ArduinoOTA: UDP invitation, the device connects\nback), esphome (ESPHome's native "
     "protocol: one connection to\nthe device, no way back needed), elegantota (ElegantOTA v3 "
     "over\nHTTP, port 80), web (a web server's /update form: ESPHome\nweb_server, "
     "ESP8266HTTPUpdateServer; port 80) or auto\n(default: esphome when the device's TCP port "
     "answers its\nmagic, else arduino)"},
    {0, "user", "NAME", O_USER,
     "elegantota, web: the user name for HTTP authentication (with\n-a PASSWORD)"},
    {0, "key", "BASE64", O_KEY,
     "esphome: encrypt with the device's key (the base64 key of its\napi: or ota: encryption: in "
     "the YAML); implies esphome"},
    {0, "no-resume", NULL, O_NO_RESUME,
     "esphome: after a dropped connection send the image from byte 0\nagain (by default an otakit "
     "device continues where its flash\nends)"},
    {0, "wait", "[SECONDS]", O_WAIT,
     "for devices that sleep: look for each device until it shows\nitself (mDNS, or it answers), "
     "then upload at once; give up\nafter SECONDS (default 300) with exit code 21"},
    {0, "http-port", "PORT", O_HTTP_PORT,
     "auto: the web server port asked for an update page (default\n80)"},
    {0, "no-compress", NULL, O_NO_COMPRESS,
     "esphome: send the image as it is to an otakit device that\ninflates (by default a "
     "deflate stream goes out: fewer bytes)"},
    {0, "trusted-key", "KEY.pem", O_TRUSTED_KEY,
     "check the image's signature with this key before the first\nbyte goes out (Secure Boot V2 "
     "or ESP8266 signed image); without\nit a signed image's block is still checked"},
    {'q', "quiet", NULL, O_QUIET, "print errors only"},
    {'h', "help", NULL, O_HELP, "show this help"},
};

const struct cli_table otk_upload_table = {
    .cmd = "upload",
    .opts = opts_table,
    .n = sizeof opts_table / sizeof opts_table[0],
    .style = CLI_ARGPARSE,
    .help_col = 26,
    .indent_long_only = true,
};

/* How messages name an option: "-p/--port", "--retries" (aliases by their option's name). */
static const char *
display(const struct cli_opt *op, char *buf, size_t cap)
{
    for (size_t i = 0; i < otk_upload_table.n; i++) {
        const struct cli_opt *o = &opts_table[i];
        if (o->longn && o->id == op->id) {
            op = o;
            break;
        }
    }
    if (op->shortc)
        snprintf(buf, cap, "-%c/--%s", op->shortc, op->longn);
    else
        snprintf(buf, cap, "--%s", op->longn);
    return buf;
}

static int
fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return OTK_UPX_USAGE;
}

/* An IDE placeholder: '{', then letters/digits/'_'/'.', at least one '.', then '}'. The dot
 * requirement keeps passwords like "{secret}" usable. */
static bool
placeholder(const char *s, const char **start, size_t *len)
{
    for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
        const char *q = p + 1;
        bool dot = false;
        while (*q && (isalnum((unsigned char)*q) || *q == '_' || *q == '.')) {
            dot |= *q == '.';
            q++;
        }
        if (*q == '}' && dot && q > p + 1) {
            *start = p;
            *len = (size_t)(q - p) + 1;
            return true;
        }
    }
    return false;
}

static bool
has_placeholder(const char *s)
{
    const char *p;
    size_t n;
    return placeholder(s, &p, &n);
}

static int
placeholder_error(char *err, size_t cap, const char *where, const char *s)
{
    const char *ph;
    size_t n;
    placeholder(s, &ph, &n);
    return fail(err, cap,
                "%s got '%.*s', an Arduino IDE placeholder that was never expanded.\n"
                "This is an Arduino IDE 2 bug (arduino/arduino-ide#740): the network port found "
                "by mDNS has no\n'port' property, so the IDE passes the pattern text through.\n"
                "Fix: create platform.local.txt next to the core's platform.txt with the port "
                "written out\n(3232 for ESP32, 8266 for ESP8266), for example:\n"
                "  tools.esp_ota.upload.pattern=otakit upload -i {upload.port.address} -p 3232 "
                "\"--auth={upload.field.password}\" -f \"{build.path}/{build.project_name}.bin\"\n"
                "then restart the IDE (docs/CLI.md, 'Arduino IDE').",
                where, (int)n, ph);
}

/* argparse's int(): optional surrounding blanks, optional sign, decimal digits. */
static bool
parse_long(const char *s, long *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

static bool
parse_seconds(const char *s, double *out)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return false;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (*end || errno || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

static int
add_target(struct otk_upload_opts *o, const char *t, char *err, size_t cap)
{
    char **n = realloc(o->targets, (o->ntargets + 1) * sizeof *n);
    if (!n)
        return fail(err, cap, "out of memory");
    o->targets = n;
    o->targets[o->ntargets] = strdup(t);
    if (!o->targets[o->ntargets])
        return fail(err, cap, "out of memory");
    o->ntargets++;
    return 0;
}

/* What the parser hands the options to. */
struct parse_ctx {
    struct otk_upload_opts *o;
    char *err;
    size_t cap;
};

/* "--retries N", "-t SECONDS", ...: the options whose value is a number. */
static int
apply_number(struct parse_ctx *c, const struct cli_opt *op, const char *v, const char *name)
{
    struct otk_upload_opts *o = c->o;
    long n;

    switch (op->id) {
    case O_PORT:
    case O_HOST_PORT:
    case O_HTTP_PORT:
        if (!parse_long(v, &n))
            return fail(c->err, c->cap, "argument %s: invalid int value: '%s'", name, v);
        if (n < (op->id == O_HOST_PORT ? 0 : 1) || n > 65535)
            return fail(c->err, c->cap, "argument %s: port %ld is out of range (1-65535)", name, n);
        if (op->id == O_PORT) {
            o->port = (int)n;
            o->port_given = true;
        } else if (op->id == O_HTTP_PORT)
            o->http_port = (int)n;
        else
            o->host_port = n == 0 ? -1 : (int)n;
        return 0;
    case O_RETRIES:
        if (!parse_long(v, &n) || n < 0 || n > 100)
            return fail(c->err, c->cap, "argument %s: invalid value '%s' (0-100)", name, v);
        o->retries = (unsigned)n;
        return 0;
    case O_WAIT:
        o->wait_s = OTK_UPLOAD_WAIT_DEFAULT_S;
        if (v && !parse_seconds(v, &o->wait_s))
            return fail(c->err, c->cap, "argument %s: invalid value '%s' (seconds, > 0)", name, v);
        return 0;
    default: {
        double *secs = op->id == O_TIMEOUT ? &o->timeout_s
                       : op->id == O_STALL ? &o->stall_timeout_s
                                           : &o->result_timeout_s;
        if (!parse_seconds(v, secs))
            return fail(c->err, c->cap, "argument %s: invalid value '%s' (seconds, > 0)", name, v);
        return 0;
    }
    }
}

/* --protocol: argparse's words for a value outside its choices. */
static int
apply_protocol(struct parse_ctx *c, const char *v, const char *name)
{
    static const char *const names[] = {
        [OTK_UP_PROTO_ARDUINO] = "arduino", [OTK_UP_PROTO_ESPHOME] = "esphome",
        [OTK_UP_PROTO_AUTO] = "auto",       [OTK_UP_PROTO_ELEGANTOTA] = "elegantota",
        [OTK_UP_PROTO_WEB] = "web",
    };

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(v, names[i])) {
            c->o->protocol = (enum otk_up_protocol)i;
            return 0;
        }
    return fail(c->err, c->cap,
                "argument %s: invalid choice: '%s' (choose from 'arduino', 'esphome', 'auto', "
                "'elegantota', 'web')",
                name, v);
}

/* The options whose value is a text. */
static int
apply_text(struct parse_ctx *c, const struct cli_opt *op, const char *v, const char *name)
{
    struct otk_upload_opts *o = c->o;

    switch (op->id) {
    case O_IP:
        if (!*v)
            return fail(c->err, c->cap, "argument %s: empty address", name);
        return add_target(o, v, c->err, c->cap);
    case O_HOST_IP:
        o->host_ip = v;
        return 0;
    case O_AUTH:
        o->auth = v;
        return 0;
    case O_USER:
        o->user = v;
        return 0;
    case O_FILE:
        o->file = v;
        return 0;
    case O_TARGETS:
        o->targets_file = v;
        return 0;
    case O_TRUSTED_KEY:
        o->trusted_key = v;
        return 0;
    case O_PROTOCOL:
        return apply_protocol(c, v, name);
    case O_WAIT:
        return apply_number(c, op, v, name);
    case O_KEY: {
        char why[160];
        if (cli_parse_key(v, o->key, why, sizeof why) < 0)
            return fail(c->err, c->cap, "argument %s: %s", name, why);
        o->has_key = true;
        return 0;
    }
    default:
        return apply_number(c, op, v, name);
    }
}

static void
apply_flag(struct otk_upload_opts *o, int id)
{
    bool *flags[] = {
        [O_MD5] = &o->md5_target,
        [O_SPIFFS] = &o->spiffs,
        [O_DEBUG] = &o->debug,
        [O_PROGRESS] = &o->progress,
        [O_QUIET] = &o->quiet,
        [O_HELP] = &o->help,
        [O_JSON] = &o->json,
        [O_LOCKSTEP] = &o->lockstep,
        [O_FORCE] = &o->force,
        [O_NO_RESUME] = &o->no_resume,
        [O_NO_COMPRESS] = &o->no_compress,
    };

    if ((size_t)id < sizeof flags / sizeof flags[0] && flags[id])
        *flags[id] = true;
}

static int
apply(void *ctx, const struct cli_opt *op, const char *v)
{
    struct parse_ctx *c = ctx;
    char name[48];

    if (!op) {
        if (has_placeholder(v))
            return placeholder_error(c->err, c->cap, "a command line argument", v);
        return fail(c->err, c->cap, "unexpected argument: '%s' (the image goes after -f)", v);
    }
    display(op, name, sizeof name);
    if (v && has_placeholder(v))
        return placeholder_error(c->err, c->cap, name, v);
    if (!op->arg) {
        apply_flag(c->o, op->id);
        return 0;
    }
    return apply_text(c, op, v, name);
}

/* The parser stopped: argparse's words for why. */
static int
parse_error(const struct cli_parse *r, char *err, size_t cap)
{
    int len = (int)strcspn(r->arg, "=");
    char name[48];

    switch (r->err) {
    case CLI_PARSE_APPLY:
        return r->rc;
    case CLI_PARSE_AMBIGUOUS:
        return fail(err, cap, "ambiguous option: %.*s could match %s", len, r->arg, r->candidates);
    case CLI_PARSE_NO_VALUE:
        return fail(err, cap, "argument %s: expected one argument",
                    display(r->opt, name, sizeof name));
    case CLI_PARSE_FLAG_VALUE:
        return fail(err, cap, "argument %s: ignored explicit argument '%s'",
                    display(r->opt, name, sizeof name), r->value);
    case CLI_PARSE_AFTER_DASHES:
        return fail(err, cap, "unexpected argument: '%s' (the image goes after -f)", r->arg);
    default:
        if (r->shortc)
            return fail(err, cap, "unrecognized argument: -%c in '%s'", r->shortc, r->arg);
        return fail(err, cap, "unrecognized argument: %.*s (see 'otakit upload --help')", len,
                    r->arg);
    }
}

int
otk_upload_parse_args(int argc, char **argv, struct otk_upload_opts *o, char *err, size_t cap)
{
    struct parse_ctx ctx = {o, err, cap};
    struct cli_parse res;

    memset(o, 0, sizeof *o);
    o->host_ip = "0.0.0.0";
    o->host_port = -1;
    o->port = OTK_PORT_ESP32;
    o->auth = "";
    o->timeout_s = 10;
    o->stall_timeout_s = 10;
    o->result_timeout_s = 60;
    o->retries = 2;
    o->protocol = OTK_UP_PROTO_AUTO;
    err[0] = 0;
    if (cli_parse_args(&otk_upload_table, argc, argv, apply, &ctx, &res))
        return parse_error(&res, err, cap);
    if (o->help)
        return 0;
    if (has_placeholder(o->host_ip))
        return placeholder_error(err, cap, "-I/--host_ip", o->host_ip);
    if (o->ntargets == 0 && !o->targets_file)
        return fail(err, cap, "the following arguments are required: -i/--ip (or --targets FILE)");
    if (!o->file)
        return fail(err, cap, "the following arguments are required: -f/--file");
    return 0;
}

int
otk_upload_split_target(const char *spec, char *buf, size_t cap, int *port)
{
    const char *colon = strchr(spec, ':');
    size_t hostlen = strlen(spec);

    /* exactly one colon and digits after it: "host:port"; anything else is a plain host */
    if (colon && !strchr(colon + 1, ':')) {
        long n;
        if (!parse_long(colon + 1, &n) || n < 1 || n > 65535)
            return -1;
        *port = (int)n;
        hostlen = (size_t)(colon - spec);
    }
    if (hostlen == 0 || hostlen + 1 > cap)
        return -1;
    memcpy(buf, spec, hostlen);
    buf[hostlen] = 0;
    return 0;
}

int
otk_upload_read_targets(struct otk_upload_opts *o, char *err, size_t cap)
{
    FILE *f;
    char line[512];
    unsigned lineno = 0;
    int rc = 0;

    if (!o->targets_file)
        return 0;
    f = strcmp(o->targets_file, "-") ? fopen(o->targets_file, "r") : stdin;
    if (!f) {
        snprintf(err, cap, "cannot read the targets file '%s': %s", o->targets_file,
                 strerror(errno));
        return OTK_UPX_FILE;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line, *e;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = 0;
        while (isspace((unsigned char)*p))
            p++;
        e = p + strlen(p);
        while (e > p && isspace((unsigned char)e[-1]))
            *--e = 0;
        if (!*p)
            continue;
        if (strpbrk(p, " \t")) {
            rc = fail(err, cap, "%s:%u: one target per line (\"host\" or \"host:port\"), got '%s'",
                      o->targets_file, lineno, p);
            break;
        }
        if (has_placeholder(p)) {
            rc = placeholder_error(err, cap, "the targets file", p);
            break;
        }
        if ((rc = add_target(o, p, err, cap)))
            break;
    }
    if (f != stdin)
        fclose(f);
    if (!rc && o->ntargets == 0)
        rc = fail(err, cap, "no targets: '%s' has no host lines and no -i was given",
                  o->targets_file);
    return rc;
}

void
otk_upload_opts_free(struct otk_upload_opts *o)
{
    for (size_t i = 0; i < o->ntargets; i++)
        free(o->targets[i]);
    free(o->targets);
    o->targets = NULL;
    o->ntargets = 0;
}
