/* SPDX-License-Identifier: MIT */
/* Protocol detection's HTTP half (include/otakit/detect.h): the rules that tell ElegantOTA,
 * ESP8266HTTPUpdateServer's form and ESPHome's web_server apart by answers to harmless GETs,
 * and the non-blocking probe that asks. Facts from ../shared/reference/http-ota.md: ElegantOTA
 * 3.x serves its page at /update gzip-encoded (§1.1), 2.x also answers /update/identity
 * (§1.4), ESP8266HTTPUpdateServer serves a plain multipart form at /update, ESPHome's
 * web_server takes POST /update only (§2), so its own page at / tells it. Nothing here starts
 * an update: /ota/start would (§1.1), so it is never asked. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otakit/detect.h"
#include "otakit/gzip.h"
#include "otakit/upload.h"

static bool
has_word(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; hay && i + n <= len; i++)
        if (!strncasecmp((const char *)hay + i, needle, n))
            return true;
    return false;
}

/* One header line "Name: value" into a. */
static void
header(struct otk_http_answer *a, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t nlen, vlen;
    const char *v;

    if (!colon)
        return;
    nlen = (size_t)(colon - line);
    v = colon + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(line + len - v);
    if (nlen == 16 && !strncasecmp(line, "Content-Encoding", 16))
        a->gzip = has_word((const uint8_t *)v, vlen, "gzip");
    else if (nlen == 16 && !strncasecmp(line, "WWW-Authenticate", 16))
        snprintf(a->challenge, sizeof a->challenge, "%.*s", (int)vlen, v);
}

long
otk_http_parse_head(const char *buf, size_t len, struct otk_http_answer *a)
{
    const char *end = NULL, *p, *eol;
    int status = 0;

    memset(a, 0, sizeof *a);
    if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0)
        return -1;
    for (size_t i = 0; i + 3 < len; i++)
        if (!memcmp(buf + i, "\r\n\r\n", 4)) {
            end = buf + i + 4;
            break;
        }
    if (!end)
        return len > 4096 ? -1 : 0;
    /* "HTTP/1.1 200 OK" */
    p = memchr(buf, ' ', (size_t)(end - buf));
    if (!p || sscanf(p, " %3d", &status) != 1 || status < 100 || status > 999)
        return -1;
    a->status = status;
    for (p = strstr(buf, "\r\n") + 2; p < end - 2; p = eol + 2) {
        eol = strstr(p, "\r\n");
        if (!eol || eol > end - 2)
            break;
        header(a, p, (size_t)(eol - p));
    }
    return (long)(end - buf);
}

/* GET /update's answer. */
static enum otk_http_kind
rule_update(const struct otk_http_answer *a, enum otk_http_step *next)
{
    if (a->status == 401)
        return OTK_HTTPK_LOCKED;
    if (a->status == 200 && (a->gzip || has_word(a->body, a->body_len, "ElegantOTA"))) {
        *next = OTK_HTTPS_IDENTITY; /* 3.x, unless it also answers as 2.x does */
        return OTK_HTTPK_UNDECIDED;
    }
    if (a->status == 200 && has_word(a->body, a->body_len, "multipart/form-data"))
        return OTK_HTTPK_UPDATE_FORM;
    *next = OTK_HTTPS_ROOT; /* no door at /update: ESPHome's web_server posts there only */
    return OTK_HTTPK_UNDECIDED;
}

enum otk_http_kind
otk_detect_http_rule(enum otk_http_step step, enum otk_http_kind update,
                     const struct otk_http_answer *a, enum otk_http_step *next)
{
    *next = OTK_HTTPS_DONE;
    switch (step) {
    case OTK_HTTPS_UPDATE:
        return a && a->status ? rule_update(a, next) : OTK_HTTPK_NONE;
    case OTK_HTTPS_IDENTITY:
        (void)update;
        return a && a->status == 200 ? OTK_HTTPK_ELEGANTOTA2 : OTK_HTTPK_ELEGANTOTA3;
    case OTK_HTTPS_ROOT:
        if (!a || !a->status)
            return OTK_HTTPK_NONE;
        if (a->status == 401)
            return OTK_HTTPK_LOCKED;
        /* its pages: v1 names ESPHome, v2/v3 load the <esp-app> element */
        if (a->status == 200 && (has_word(a->body, a->body_len, "esphome") ||
                                 has_word(a->body, a->body_len, "<esp-app")))
            return OTK_HTTPK_ESPHOME_WEB;
        return OTK_HTTPK_NONE;
    default:
        return OTK_HTTPK_NONE;
    }
}

const char *
otk_http_step_path(enum otk_http_step step)
{
    return step == OTK_HTTPS_IDENTITY ? "/update/identity"
           : step == OTK_HTTPS_ROOT   ? "/"
                                      : "/update";
}

const char *
otk_http_kind_name(enum otk_http_kind k)
{
    static const char *const names[] = {
        [OTK_HTTPK_NONE] = "no update page",
        [OTK_HTTPK_ELEGANTOTA3] = "ElegantOTA 3.x",
        [OTK_HTTPK_ELEGANTOTA2] = "ElegantOTA 2.x",
        [OTK_HTTPK_ESPHOME_WEB] = "ESPHome web_server",
        [OTK_HTTPK_UPDATE_FORM] = "a web /update form (ESP8266HTTPUpdateServer)",
        [OTK_HTTPK_LOCKED] = "a web server that wants a password for /update",
        [OTK_HTTPK_UNDECIDED] = "?",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

int
otk_http_kind_protocol(enum otk_http_kind k)
{
    switch (k) {
    case OTK_HTTPK_ELEGANTOTA3:
        return OTK_UP_PROTO_ELEGANTOTA;
    case OTK_HTTPK_ELEGANTOTA2: /* 2.x takes a multipart POST /update, as the web forms */
    case OTK_HTTPK_ESPHOME_WEB:
    case OTK_HTTPK_UPDATE_FORM:
        return OTK_UP_PROTO_WEB;
    default:
        return -1;
    }
}

/* ---- the probe ---- */

static bool
due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void
finish_probe(struct otk_httpprobe *p, enum otk_http_kind k)
{
    otk_net_close(&p->fd);
    p->kind = k;
    p->done = true;
}

/* Connect for the current step and prepare its request. */
static void
begin_request(struct otk_httpprobe *p, uint32_t now)
{
    char host[INET_ADDRSTRLEN];
    int rc;

    otk_net_close(&p->fd);
    inet_ntop(AF_INET, &p->to.sin_addr, host, sizeof host);
    p->req_len = (size_t)snprintf(p->req, sizeof p->req,
                                  "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: otakit\r\n"
                                  "Accept: */*\r\nConnection: close\r\n\r\n",
                                  otk_http_step_path(p->step), host);
    p->sent = p->got = 0;
    p->connected = false;
    p->deadline = now + p->step_ms;
    rc = otk_net_tcp_connect(p->src, &p->to, 0, &p->fd);
    if (rc == OTK_NET_OK)
        p->connected = true;
    else if (rc != OTK_NET_AGAIN)
        p->fd = OTK_SOCK_NONE; /* refused or failed: judged in the step's end */
}

/* The answer to the current step is in (or will never be): apply the rule. */
static void
judge(struct otk_httpprobe *p, uint32_t now)
{
    struct otk_http_answer a;
    uint8_t page[OTK_HTTPPROBE_RX];
    enum otk_http_step next;
    long head = p->got ? otk_http_parse_head((const char *)p->rx, p->got, &a) : -1;
    enum otk_http_kind k;

    if (head > 0) {
        p->answered = true;
        p->last_status = a.status;
        a.body = p->rx + head;
        a.body_len = p->got - (size_t)head;
        if (a.gzip) {
            a.body_len = otk_gunzip_head(a.body, a.body_len, page, sizeof page);
            a.body = page;
        }
        if (a.challenge[0])
            snprintf(p->challenge, sizeof p->challenge, "%s", a.challenge);
    }
    k = otk_detect_http_rule(p->step, p->update, head > 0 ? &a : NULL, &next);
    if (p->step == OTK_HTTPS_UPDATE)
        p->update = k;
    if (k != OTK_HTTPK_UNDECIDED || next == OTK_HTTPS_DONE) {
        finish_probe(p, k == OTK_HTTPK_UNDECIDED ? OTK_HTTPK_NONE : k);
        return;
    }
    p->step = next;
    begin_request(p, now);
    if (p->fd == OTK_SOCK_NONE)
        judge(p, now);
}

void
otk_httpprobe_start(struct otk_httpprobe *p, struct in_addr src, const struct sockaddr_in *to,
                    uint32_t step_ms, uint32_t now)
{
    memset(p, 0, sizeof *p);
    p->fd = OTK_SOCK_NONE;
    p->src = src;
    p->to = *to;
    p->step_ms = step_ms;
    p->step = OTK_HTTPS_UPDATE;
    begin_request(p, now);
    if (p->fd == OTK_SOCK_NONE) {
        p->refused = true;
        finish_probe(p, OTK_HTTPK_NONE);
    }
}

size_t
otk_httpprobe_pollfds(const struct otk_httpprobe *p, struct pollfd *fds, size_t cap)
{
    if (p->done || p->fd == OTK_SOCK_NONE || cap == 0)
        return 0;
    fds[0].fd = p->fd;
    fds[0].events = (short)(p->connected && p->sent == p->req_len ? POLLIN : POLLOUT);
    fds[0].revents = 0;
    return 1;
}

int32_t
otk_httpprobe_next_ms(const struct otk_httpprobe *p, uint32_t now)
{
    int32_t d = (int32_t)(p->deadline - now);

    return p->done ? -1 : d < 0 ? 0 : d;
}

static short
revents_of(const struct pollfd *fds, size_t n, otk_sock fd)
{
    for (size_t i = 0; i < n; i++)
        if ((otk_sock)fds[i].fd == fd)
            return fds[i].revents;
    return 0;
}

/* Read what came; @return true when the answer is complete (closed, or the buffer full). */
static bool
read_answer(struct otk_httpprobe *p)
{
    for (;;) {
        long n = otk_net_recv(p->fd, p->rx + p->got, sizeof p->rx - p->got);
        if (n == OTK_NET_AGAIN)
            return false;
        if (n <= 0)
            return true;
        p->got += (size_t)n;
        if (p->got == sizeof p->rx)
            return true;
    }
}

void
otk_httpprobe_step(struct otk_httpprobe *p, const struct pollfd *fds, size_t n, uint32_t now)
{
    short ev;

    if (p->done)
        return;
    ev = revents_of(fds, n, p->fd);
    if (!p->connected && ev) {
        int rc = otk_net_connect_result(p->fd);
        if (rc != OTK_NET_OK && rc != OTK_NET_AGAIN) {
            p->refused = p->step == OTK_HTTPS_UPDATE && !p->answered;
            otk_net_close(&p->fd);
            judge(p, now);
            return;
        }
        p->connected = rc == OTK_NET_OK;
    }
    if (p->connected && p->sent < p->req_len) {
        long k = otk_net_send(p->fd, p->req + p->sent, p->req_len - p->sent);
        if (k > 0)
            p->sent += (size_t)k;
        else if (k != OTK_NET_AGAIN)
            ev |= POLLHUP; /* judged below with what came */
    }
    if (p->connected && (ev & (POLLIN | POLLHUP | POLLERR)) && read_answer(p)) {
        judge(p, now);
        return;
    }
    if (due(now, p->deadline))
        judge(p, now); /* with what came so far: a head is enough */
}

void
otk_httpprobe_close(struct otk_httpprobe *p)
{
    otk_net_close(&p->fd);
}
