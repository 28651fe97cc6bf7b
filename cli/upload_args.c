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
};

struct opt {
    char shortc;       /* 0 = long only */
    const char *longn; /* without the dashes */
    bool value;
    enum opt_id id;
    const char *display; /* for messages */
};

/* Aliases with '-' and '_' exist because espota spells them with '_' (--host_ip) and '-'
 * (--md5-target) and people mix them up. */
static const struct opt opts_table[] = {
    {'i', "ip", true, O_IP, "-i/--ip"},
    {'I', "host_ip", true, O_HOST_IP, "-I/--host_ip"},
    {0, "host-ip", true, O_HOST_IP, "-I/--host_ip"},
    {'p', "port", true, O_PORT, "-p/--port"},
    {'P', "host_port", true, O_HOST_PORT, "-P/--host_port"},
    {0, "host-port", true, O_HOST_PORT, "-P/--host_port"},
    {'a', "auth", true, O_AUTH, "-a/--auth"},
    {'m', "md5-target", false, O_MD5, "-m/--md5-target"},
    {0, "md5_target", false, O_MD5, "-m/--md5-target"},
    {'f', "file", true, O_FILE, "-f/--file"},
    {'s', "spiffs", false, O_SPIFFS, "-s/--spiffs"},
    {'d', "debug", false, O_DEBUG, "-d/--debug"},
    {'r', "progress", false, O_PROGRESS, "-r/--progress"},
    {'t', "timeout", true, O_TIMEOUT, "-t/--timeout"},
    {'q', "quiet", false, O_QUIET, "-q/--quiet"},
    {'h', "help", false, O_HELP, "-h/--help"},
    {0, "retries", true, O_RETRIES, "--retries"},
    {0, "json", false, O_JSON, "--json"},
    {0, "lockstep", false, O_LOCKSTEP, "--lockstep"},
    {0, "targets", true, O_TARGETS, "--targets"},
    {0, "force", false, O_FORCE, "--force"},
    {0, "stall-timeout", true, O_STALL, "--stall-timeout"},
    {0, "result-timeout", true, O_RESULT, "--result-timeout"},
};
#define NOPTS (sizeof opts_table / sizeof opts_table[0])

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

static int
apply(struct otk_upload_opts *o, const struct opt *op, const char *v, char *err, size_t cap)
{
    long n;

    if (v && has_placeholder(v))
        return placeholder_error(err, cap, op->display, v);
    switch (op->id) {
    case O_IP:
        if (!*v)
            return fail(err, cap, "argument %s: empty address", op->display);
        return add_target(o, v, err, cap);
    case O_HOST_IP:
        o->host_ip = v;
        break;
    case O_PORT:
    case O_HOST_PORT:
        if (!parse_long(v, &n))
            return fail(err, cap, "argument %s: invalid int value: '%s'", op->display, v);
        if (n < (op->id == O_HOST_PORT ? 0 : 1) || n > 65535)
            return fail(err, cap, "argument %s: port %ld is out of range (1-65535)", op->display,
                        n);
        if (op->id == O_PORT) {
            o->port = (int)n;
            o->port_given = true;
        } else
            o->host_port = n == 0 ? -1 : (int)n;
        break;
    case O_AUTH:
        o->auth = v;
        break;
    case O_MD5:
        o->md5_target = true;
        break;
    case O_FILE:
        o->file = v;
        break;
    case O_SPIFFS:
        o->spiffs = true;
        break;
    case O_DEBUG:
        o->debug = true;
        break;
    case O_PROGRESS:
        o->progress = true;
        break;
    case O_TIMEOUT:
        if (!parse_seconds(v, &o->timeout_s))
            return fail(err, cap, "argument %s: invalid value '%s' (seconds, > 0)", op->display, v);
        break;
    case O_STALL:
        if (!parse_seconds(v, &o->stall_timeout_s))
            return fail(err, cap, "argument %s: invalid value '%s' (seconds, > 0)", op->display, v);
        break;
    case O_RESULT:
        if (!parse_seconds(v, &o->result_timeout_s))
            return fail(err, cap, "argument %s: invalid value '%s' (seconds, > 0)", op->display, v);
        break;
    case O_QUIET:
        o->quiet = true;
        break;
    case O_HELP:
        o->help = true;
        break;
    case O_RETRIES:
        if (!parse_long(v, &n) || n < 0 || n > 100)
            return fail(err, cap, "argument %s: invalid value '%s' (0-100)", op->display, v);
        o->retries = (unsigned)n;
        break;
    case O_JSON:
        o->json = true;
        break;
    case O_LOCKSTEP:
        o->lockstep = true;
        break;
    case O_TARGETS:
        o->targets_file = v;
        break;
    case O_FORCE:
        o->force = true;
        break;
    }
    return 0;
}

/* Like argparse: an argument that starts with '-' is an option unless it looks like a
 * negative number, so "-a -f x" is "-a" missing its value, not a password "-f". */
static bool
looks_like_option(const char *s)
{
    if (s[0] != '-' || s[1] == 0)
        return false;
    long dummy;
    return !parse_long(s, &dummy);
}

static const struct opt *
find_long(const char *name, size_t len, char *err, size_t cap, int *rc)
{
    const struct opt *hit = NULL;
    int hits = 0;
    char names[256] = "";

    for (size_t i = 0; i < NOPTS; i++)
        if (strlen(opts_table[i].longn) == len && !memcmp(opts_table[i].longn, name, len))
            return &opts_table[i];
    for (size_t i = 0; i < NOPTS; i++) {
        if (strncmp(opts_table[i].longn, name, len))
            continue;
        /* aliases of one option are one match */
        if (hit && hit->id == opts_table[i].id)
            continue;
        hit = &opts_table[i];
        hits++;
        size_t used = strlen(names);
        snprintf(names + used, sizeof names - used, "%s--%s", used ? ", " : "", hit->longn);
    }
    if (hits == 1)
        return hit;
    if (hits == 0)
        *rc = fail(err, cap, "unrecognized argument: --%.*s (see 'otakit upload --help')", (int)len,
                   name);
    else
        *rc = fail(err, cap, "ambiguous option: --%.*s could match %s", (int)len, name, names);
    return NULL;
}

static const struct opt *
find_short(char c)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (opts_table[i].shortc == c)
            return &opts_table[i];
    return NULL;
}

int
otk_upload_parse_args(int argc, char **argv, struct otk_upload_opts *o, char *err, size_t cap)
{
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->host_ip = "0.0.0.0";
    o->host_port = -1;
    o->port = OTK_PORT_ESP32;
    o->auth = "";
    o->timeout_s = 10;
    o->stall_timeout_s = 10;
    o->result_timeout_s = 60;
    o->retries = 2;
    err[0] = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            if (i + 1 < argc)
                return fail(err, cap, "unexpected argument: '%s' (the image goes after -f)",
                            argv[i + 1]);
            break;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const struct opt *op = find_long(name, len, err, cap, &rc);
            if (!op)
                return rc;
            const char *v = NULL;
            if (op->value) {
                if (eq)
                    v = eq + 1;
                else if (i + 1 < argc && !looks_like_option(argv[i + 1]))
                    v = argv[++i];
                else
                    return fail(err, cap, "argument %s: expected one argument", op->display);
            } else if (eq) {
                return fail(err, cap, "argument %s: ignored explicit argument '%s'", op->display,
                            eq + 1);
            }
            if ((rc = apply(o, op, v, err, cap)))
                return rc;
            continue;
        }
        if (a[0] == '-' && a[1] != 0) {
            /* a cluster: flags, and at most one option taking a value at the end ("-dp3232") */
            for (const char *c = a + 1; *c; c++) {
                const struct opt *op = find_short(*c);
                if (!op)
                    return fail(err, cap, "unrecognized argument: -%c in '%s'", *c, a);
                const char *v = NULL;
                if (op->value) {
                    if (c[1]) {
                        v = c[1] == '=' ? c + 2 : c + 1;
                    } else if (i + 1 < argc && !looks_like_option(argv[i + 1])) {
                        v = argv[++i];
                    } else {
                        return fail(err, cap, "argument %s: expected one argument", op->display);
                    }
                }
                if ((rc = apply(o, op, v, err, cap)))
                    return rc;
                if (op->value)
                    break;
            }
            continue;
        }
        if (has_placeholder(a))
            return placeholder_error(err, cap, "a command line argument", a);
        return fail(err, cap, "unexpected argument: '%s' (the image goes after -f)", a);
    }
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
