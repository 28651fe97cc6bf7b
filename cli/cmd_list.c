/* SPDX-License-Identifier: MIT */
/* `otakit list`: find ArduinoOTA devices by mDNS (service _arduino._tcp, RFC 6763) and print
 * what they advertise: name, address, port, board, whether uploads need a password
 * (auth_upload), tcp_check, ssh_upload. The querier is src/host/mdns.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opts.h"
#include "json.h"
#include "otakit/err.h"
#include "otakit/hostnet.h"
#include "otakit/mdns_host.h"

#define LIST_MAX 256 /* instances kept (more are left out) */

enum list_opt { L_TIMEOUT, L_JSON, L_INTERFACE, L_HELP };

static const struct cli_opt list_opts_table[] = {
    {0, NULL, NULL, 0,
     "usage: otakit list [--timeout S] [--json] [--interface ADDR]\n"
     "\n"
     "Find ArduinoOTA devices (ESP32, ESP8266, otakit device) on the local network by mDNS:\n"
     "the service _arduino._tcp they advertise, with the TXT keys board, auth_upload,\n"
     "tcp_check and ssh_upload.\n"
     "\n"
     "options:\n"},
    {'t', "timeout", "S", L_TIMEOUT, "how long to collect answers (default 2 seconds)"},
    {0, "json", NULL, L_JSON, "one JSON array on stdout"},
    {'I', "interface", "ADDR", L_INTERFACE,
     "ask on this interface only: an IPv4 address of this host or\n(Linux) an interface name; "
     "default: every multicast-capable\ninterface and the loopback"},
    {'h', "help", NULL, L_HELP, "show this help"},
    {0, NULL, NULL, 0,
     "\n"
     "Upload to a device found here with: otakit upload -i NAME.local -p PORT -f FILE\n"
     "(add -a PASSWORD when PASSWORD says yes).\n"
     "\n"
     "exit status: 0 devices found, 1 none answered (or a network error), 2 usage error\n"},
};

static const struct cli_table list_table = {
    .cmd = "list",
    .opts = list_opts_table,
    .n = sizeof list_opts_table / sizeof list_opts_table[0],
    .style = CLI_PLAIN,
    .help_col = 26,
    .indent_long_only = true,
};

struct list_opts {
    const char *iface;
    double timeout;
    bool json, help;
};

static int
list_apply(void *ctx, const struct cli_opt *op, const char *v)
{
    struct list_opts *l = ctx;
    char *end;

    if (!op)
        return cli_unknown_arg(&list_table, v);
    switch (op->id) {
    case L_HELP:
        l->help = true;
        return CLI_APPLY_STOP;
    case L_JSON:
        l->json = true;
        return 0;
    case L_INTERFACE:
        l->iface = v;
        return 0;
    default: /* L_TIMEOUT */
        errno = 0;
        l->timeout = strtod(v, &end);
        if (errno || end == v || *end || !(l->timeout > 0) || l->timeout > 600)
            return cli_usage_error("list", "bad --timeout '%s' (seconds, more than 0, at most 600)",
                                   v);
        return 0;
    }
}

/* A TXT value as text ("" if absent); *present tells whether the key is there. */
static void
txt_text(const struct otk_mdns_found *f, const char *key, char *out, size_t cap, bool *present)
{
    const uint8_t *v;
    size_t vl;
    int rc = f->has_txt ? otk_dns_txt_get(f->txt, f->txt_len, key, &v, &vl) : OTK_ERR_NOTFOUND;

    out[0] = '\0';
    *present = rc >= 0;
    if (rc == 1) {
        if (vl >= cap)
            vl = cap - 1;
        memcpy(out, v, vl);
        out[vl] = '\0';
    }
}

/* yes/no keys: 1, 0, or -1 (absent or another value) */
static int
txt_bool(const struct otk_mdns_found *f, const char *key)
{
    char v[16];
    bool present;

    txt_text(f, key, v, sizeof v, &present);
    for (char *p = v; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1")   ? 1
           : !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") ? 0
                                                                        : -1;
}

static const char *
yes_no(int b)
{
    return b == 1 ? "yes" : b == 0 ? "no" : "?";
}

static void
json_bool(int b)
{
    fputs(b == 1 ? "true" : b == 0 ? "false" : "null", stdout);
}

/* The address to upload to: the A record of the SRV target, else the responder's source. */
static void
address(const struct otk_mdns_found *f, char *out, size_t cap)
{
    struct in_addr a;

    memcpy(&a, f->has_a ? f->ipv4 : f->src, 4);
    if (!inet_ntop(AF_INET, &a, out, (socklen_t)cap))
        snprintf(out, cap, "?");
}

/* Instance labels are shown as they are, control bytes as '?', cut at 32 columns' worth. */
static void
label_text(const struct otk_mdns_found *f, char *out, size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < f->label_len && n + 1 < cap; i++)
        out[n++] = f->label[i] < 0x20 || f->label[i] == 0x7F ? '?' : (char)f->label[i];
    out[n] = '\0';
}

static void
print_json(const struct otk_mdns_found *found, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++) {
        const struct otk_mdns_found *f = &found[i];
        char host[1100], addr[16], board[256];
        bool has_board;
        size_t pos = 0, sl;
        const uint8_t *s;
        int first = 1;

        address(f, addr, sizeof addr);
        txt_text(f, "board", board, sizeof board, &has_board);
        fputs(i ? ",\n {\"name\":" : "\n {\"name\":", stdout);
        cli_json_bytes(stdout, f->label, f->label_len);
        fputs(",\"host\":", stdout);
        if (f->has_srv && otk_dns_name_to_text(f->host, host, sizeof host) >= 0)
            cli_json_str(stdout, host);
        else
            fputs("null", stdout);
        fputs(",\"address\":", stdout);
        cli_json_str(stdout, addr);
        printf(",\"address_from\":\"%s\"", f->has_a ? "a-record" : "source");
        if (f->has_srv)
            printf(",\"port\":%u", (unsigned)f->port);
        else
            fputs(",\"port\":null", stdout);
        fputs(",\"board\":", stdout);
        if (has_board)
            cli_json_str(stdout, board);
        else
            fputs("null", stdout);
        fputs(",\"auth_upload\":", stdout);
        json_bool(txt_bool(f, "auth_upload"));
        fputs(",\"tcp_check\":", stdout);
        json_bool(txt_bool(f, "tcp_check"));
        fputs(",\"ssh_upload\":", stdout);
        json_bool(txt_bool(f, "ssh_upload"));
        /* every TXT key, as the device sent it */
        fputs(",\"txt\":{", stdout);
        while (f->has_txt && otk_dns_txt_next(f->txt, f->txt_len, &pos, &s, &sl) == 1) {
            size_t k = 0;
            while (k < sl && s[k] != '=')
                k++;
            if (k == 0)
                continue;
            if (!first)
                putchar(',');
            first = 0;
            cli_json_bytes(stdout, s, k);
            putchar(':');
            if (k < sl)
                cli_json_bytes(stdout, s + k + 1, sl - k - 1);
            else
                fputs("true", stdout); /* a boolean attribute (RFC 6763 §6.4) */
        }
        fputs("}}", stdout);
    }
    fputs(n ? "\n]\n" : "]\n", stdout);
}

static void
print_table(const struct otk_mdns_found *found, size_t n)
{
    int w = 4;
    char name[80];

    for (size_t i = 0; i < n; i++) {
        label_text(&found[i], name, sizeof name);
        if ((int)strlen(name) > w)
            w = (int)strlen(name);
    }
    printf("%-*s  %-15s  %5s  %-10s  %-8s  %-9s  %s\n", w, "NAME", "ADDRESS", "PORT", "BOARD",
           "PASSWORD", "TCP_CHECK", "SSH_UPLOAD");
    for (size_t i = 0; i < n; i++) {
        const struct otk_mdns_found *f = &found[i];
        char addr[16], board[64], port[8];
        bool has_board;

        label_text(f, name, sizeof name);
        address(f, addr, sizeof addr);
        txt_text(f, "board", board, sizeof board, &has_board);
        snprintf(port, sizeof port, f->has_srv ? "%u" : "?", (unsigned)f->port);
        printf("%-*s  %-15s  %5s  %-10s  %-8s  %-9s  %s\n", w, name, addr, port,
               has_board ? board : "?", yes_no(txt_bool(f, "auth_upload")),
               yes_no(txt_bool(f, "tcp_check")), yes_no(txt_bool(f, "ssh_upload")));
    }
}

int
cmd_list(int argc, char **argv)
{
    struct list_opts l = {NULL, 2.0, false, false};
    struct cli_parse res;
    const char *iface;
    double timeout;
    bool json;
    struct otk_mdns_found *found;
    size_t n = 0;
    char err[256] = "";
    int rc;

    if (cli_parse_args(&list_table, argc, argv, list_apply, &l, &res))
        return cli_parse_report(&list_table, &res);
    if (l.help) {
        cli_help_print(stdout, &list_table);
        return OTK_EXIT_OK;
    }
    iface = l.iface;
    timeout = l.timeout;
    json = l.json;
    found = calloc(LIST_MAX, sizeof *found);
    if (!found) {
        fprintf(stderr, "otakit list: error: out of memory\n");
        return OTK_EXIT_FAIL;
    }
    rc = otk_mdns_browse_run("_arduino._tcp", iface, (uint32_t)(timeout * 1000.0 + 0.5), found,
                             LIST_MAX, &n, err, sizeof err);
    if (rc == OTK_ERR_ARG) {
        free(found);
        return cli_usage_error("list", "%s", err);
    }
    if (rc != OTK_OK) {
        fprintf(stderr, "otakit list: error: %s\n", err);
        free(found);
        return OTK_EXIT_FAIL;
    }
    if (json)
        print_json(found, n);
    else if (n)
        print_table(found, n);
    if (n == 0)
        fprintf(stderr,
                "otakit list: no ArduinoOTA device answered within %.1f s%s%s.\n"
                "fix: check that the devices are on and on this network (mDNS does not cross "
                "routers), that\ntheir firmware enables mDNS (ArduinoOTA does by default), and "
                "with several interfaces\nchoose one with --interface.\n",
                timeout, iface ? " on " : "", iface ? iface : "");
    free(found);
    return n ? OTK_EXIT_OK : OTK_EXIT_FAIL;
}
