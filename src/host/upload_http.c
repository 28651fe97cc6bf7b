/* SPDX-License-Identifier: MIT */
/* The upload engine's HTTP doors: ElegantOTA v3 (GET /ota/start?mode=..&hash=MD5, then a
 * multipart POST /ota/upload) and a web server's /update form (one multipart POST: ESPHome's
 * web_server and captive portal, ESP8266HTTPUpdateServer). Each request is one connection
 * (Connection: close), driven by the caller's poll loop like the other protocols.
 *
 * Authentication: a request goes out without credentials until the device challenges; then it
 * is repeated with Basic or Digest as the challenge asks, and later requests answer the known
 * challenge at once, so the image is sent once (a synchronous server reads the whole body
 * before it can answer 401). The answer is read while the body still goes out: a device that
 * refuses early is heard at once.
 *
 * An attempt whose whole upload went out without an answer is not repeated: the device may
 * have applied it (ElegantOTA reboots 2 s after its answer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "otakit/http.h"
#include "upload_int.h"

#define SLICE_MAX     (64 * 1024)
#define SEND_BUDGET   (256 * 1024) /* bytes written per step: other uploads get their turn */
#define READ_BUDGET   (16 * 1024)
#define PROGRESS_TICK 100u
#define AUTH_ROUNDS   3 /* 401s answered per attempt: a stale nonce, then a real refusal */

enum http_step {
    STEP_PROBE,  /* web, with credentials: GET /update, to learn the challenge before the body */
    STEP_START,  /* ElegantOTA: GET /ota/start */
    STEP_UPLOAD, /* the multipart POST */
};

struct otk_httpup {
    enum http_step step;
    otk_sock fd;
    bool connecting;
    bool reset;       /* the device reset the connection */
    bool write_ended; /* sending failed: the device closed its side */
    uint32_t deadline;
    uint32_t progress_t; /* when the device last took bytes */
    char path[96];
    char head[1536]; /* the request's head */
    size_t head_len;
    char mp_head[256], mp_tail[96];
    size_t mp_head_len, mp_tail_len;
    bool body;      /* this request carries the image */
    uint64_t total; /* bytes of the whole request */
    uint64_t out;   /* bytes handed to the kernel */
    uint64_t acked; /* bytes the device's TCP stack acknowledged */
    struct otk_http_resp resp;
    struct otk_http_challenge ch;
    bool have_ch;   /* answer this challenge with every request */
    bool auth_sent; /* this request carried credentials */
    unsigned nc;
    unsigned auth_rounds;
    char boundary[48];
};

static bool
due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static bool
elegant(const struct otk_upload *u)
{
    return u->proto == OTK_UP_PROTO_ELEGANTOTA;
}

static const char *
step_name(const struct otk_upload *u)
{
    if (u->http->step == STEP_PROBE)
        return "GET /update";
    if (u->http->step == STEP_START)
        return "GET /ota/start";
    return elegant(u) ? "POST /ota/upload" : "POST /update";
}

static void
end_attempt(struct otk_upload *u, uint32_t now, enum otk_up_cause cause)
{
    struct otk_httpup *h = u->http;

    u->outcome.http_step = step_name(u);
    u->outcome.http_scheme = h->have_ch ? (int)h->ch.scheme : OTK_HTTP_AUTH_NONE;
    if (h->reset)
        u->outcome.closed = OTK_UP_RESET;
    otk__up_finish(u, now, cause);
}

static void
end_detail(struct otk_upload *u, uint32_t now, enum otk_up_cause cause, const char *detail)
{
    snprintf(u->outcome.detail, sizeof u->outcome.detail, "%s", detail);
    end_attempt(u, now, cause);
}

/* ---- the request ---- */

/* A boundary that does not occur in the image (RFC 2046 §5.1.1). */
static void
make_boundary(struct otk_upload *u)
{
    struct otk_httpup *h = u->http;
    uint8_t r[8] = {0};

    for (int tries = 0; tries < 8; tries++) {
        if (u->cfg.crypto && u->cfg.crypto->random)
            u->cfg.crypto->random(NULL, r, sizeof r);
        else
            r[0] = (uint8_t)(r[0] + 1);
        snprintf(h->boundary, sizeof h->boundary, "otakit%02x%02x%02x%02x%02x%02x%02x%02x", r[0],
                 r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        size_t n = strlen(h->boundary);
        bool found = false;
        for (uint32_t i = 0; !found && i + n <= u->cfg.size; i++)
            found = u->cfg.image[i] == 'o' && !memcmp(u->cfg.image + i, h->boundary, n);
        if (!found)
            return;
    }
}

static void
host_header(const struct otk_upload *u, char *out, size_t cap)
{
    if (u->cfg.port == 80)
        snprintf(out, cap, "%s", u->cfg.target);
    else
        snprintf(out, cap, "%s:%u", u->cfg.target, u->cfg.port);
}

static bool
credentials(const struct otk_upload *u)
{
    return u->cfg.password && *u->cfg.password && u->cfg.http_user && *u->cfg.http_user;
}

/* The Authorization value for this request, "" without a known challenge. */
static void
authorization(struct otk_upload *u, const char *method, char *out, size_t cap)
{
    struct otk_httpup *h = u->http;
    char cnonce[20];
    uint8_t r[8] = {0};

    out[0] = 0;
    h->auth_sent = false;
    if (!h->have_ch || !credentials(u))
        return;
    if (h->ch.scheme == OTK_HTTP_AUTH_BASIC) {
        h->auth_sent = otk_http_basic(out, cap, u->cfg.http_user, u->cfg.password) > 0;
        return;
    }
    if (u->cfg.crypto && u->cfg.crypto->random)
        u->cfg.crypto->random(NULL, r, sizeof r);
    snprintf(cnonce, sizeof cnonce, "%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
             r[4], r[5], r[6], r[7]);
    h->auth_sent = otk_http_digest(out, cap, u->cfg.crypto, &h->ch, u->cfg.http_user,
                                   u->cfg.password, method, h->path, cnonce, ++h->nc) > 0;
}

static void
format_request(struct otk_upload *u)
{
    struct otk_httpup *h = u->http;
    char host[300], auth[OTK_HTTP_AUTH_MAX], type[96];
    const char *method = h->step == STEP_UPLOAD ? "POST" : "GET";

    host_header(u, host, sizeof host);
    if (h->step == STEP_PROBE) {
        snprintf(h->path, sizeof h->path, "/update");
        h->body = false;
    } else if (h->step == STEP_START) {
        snprintf(h->path, sizeof h->path, "/ota/start?mode=%s&hash=%s", u->cfg.spiffs ? "fs" : "fr",
                 u->cfg.md5);
        h->body = false;
    } else {
        snprintf(h->path, sizeof h->path, "%s", elegant(u) ? "/ota/upload" : "/update");
        h->body = true;
        /* ElegantOTA's page names the part "file"; ESP8266HTTPUpdateServer picks the
         * filesystem by the part's name; ESPHome takes any */
        const char *field = elegant(u) ? "file" : u->cfg.spiffs ? "filesystem" : "firmware";
        h->mp_head_len = otk_http_multipart_head(h->mp_head, sizeof h->mp_head, h->boundary, field,
                                                 u->cfg.spiffs ? "filesystem.bin" : "firmware.bin");
        h->mp_tail_len = otk_http_multipart_tail(h->mp_tail, sizeof h->mp_tail, h->boundary);
    }
    authorization(u, method, auth, sizeof auth);
    snprintf(type, sizeof type, "multipart/form-data; boundary=%s", h->boundary);
    long long body = h->body ? (long long)(h->mp_head_len + u->cfg.size + h->mp_tail_len) : -1;
    h->head_len = otk_http_request(h->head, sizeof h->head, method, host, h->path, auth,
                                   h->body ? type : NULL, body);
    h->total = h->head_len + (h->body ? (uint64_t)body : 0);
}

/* A new connection for the current step's request. */
static void
open_request(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;

    otk_net_close(&h->fd);
    h->out = h->acked = 0;
    h->reset = h->write_ended = false;
    otk_http_resp_init(&h->resp, false);
    format_request(u);
    u->sent = u->acked = u->tcp_acked = u->emitted = 0;
    h->connecting = true;
    h->deadline = now + u->cfg.connect_timeout_ms;
    u->dev.sin_port = htons(u->cfg.port); /* auto's detection may have moved it */
    h->progress_t = now;
    int rc = otk_net_tcp_connect(u->bind, &u->dev, SLICE_MAX, &h->fd);
    otk__up_set_state(u, OTK_UP_CONNECT);
    if (rc == OTK_NET_OK)
        h->connecting = false;
    else if (rc == OTK_NET_UNREACH)
        end_attempt(u, now, OTK_UPC_HTTP_REFUSED);
    else if (rc != OTK_NET_AGAIN)
        end_detail(u, now, OTK_UPC_HTTP_CONNECT_FAILED, otk_net_strerror());
    if (u->state != OTK_UP_DONE && u->state != OTK_UP_BACKOFF && !h->connecting)
        otk__up_set_state(u, h->step != STEP_UPLOAD ? OTK_UP_HANDSHAKE : OTK_UP_SEND);
    if (u->state != OTK_UP_DONE && u->state != OTK_UP_BACKOFF)
        otk__up_dlog(u, "%s http://%s:%u%s%s", h->step == STEP_UPLOAD ? "POST" : "GET", u->dev_ip,
                     u->cfg.port, h->path,
                     h->auth_sent ? (h->ch.scheme == OTK_HTTP_AUTH_BASIC ? " (Basic auth)"
                                                                         : " (Digest auth)")
                                  : "");
}

/* ---- sending ---- */

/* The bytes at h->out: head, multipart head, image, multipart tail. */
static const uint8_t *
segment(const struct otk_upload *u, size_t *n)
{
    const struct otk_httpup *h = u->http;
    uint64_t o = h->out;

    if (o < h->head_len) {
        *n = h->head_len - (size_t)o;
        return (const uint8_t *)h->head + o;
    }
    o -= h->head_len;
    if (!h->body)
        return NULL;
    if (o < h->mp_head_len) {
        *n = h->mp_head_len - (size_t)o;
        return (const uint8_t *)h->mp_head + o;
    }
    o -= h->mp_head_len;
    if (o < u->cfg.size) {
        *n = u->cfg.size - (size_t)o < SLICE_MAX ? u->cfg.size - (size_t)o : SLICE_MAX;
        return u->cfg.image + o;
    }
    o -= u->cfg.size;
    if (o < h->mp_tail_len) {
        *n = h->mp_tail_len - (size_t)o;
        return (const uint8_t *)h->mp_tail + o;
    }
    return NULL;
}

/* Image bytes among the first n bytes of the request. */
static uint32_t
image_part(const struct otk_upload *u, uint64_t n)
{
    const struct otk_httpup *h = u->http;
    uint64_t before = h->head_len + h->mp_head_len;

    if (!h->body || n <= before)
        return 0;
    return n - before >= u->cfg.size ? u->cfg.size : (uint32_t)(n - before);
}

static void
write_request(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    size_t budget = SEND_BUDGET, n = 0;
    const uint8_t *p;

    while (budget && !h->write_ended && (p = segment(u, &n)) != NULL) {
        long w = otk_net_send(h->fd, p, n < budget ? n : budget);
        if (w == OTK_NET_AGAIN)
            break;
        if (w < 0) {
            /* the device closed its side: its answer (a refusal) may be waiting */
            h->write_ended = true;
            h->reset = w == OTK_NET_RESET;
            break;
        }
        h->out += (uint64_t)w;
        budget -= (size_t)w;
    }
    u->sent = image_part(u, h->out);
    if (h->out == h->total && u->state == OTK_UP_SEND) {
        otk__up_set_state(u, OTK_UP_RESULT);
        h->deadline = now + u->cfg.result_timeout_ms;
        otk__up_dlog(u, "all %u bytes of the image sent; waiting up to %.0f s for the answer",
                     u->cfg.size, u->cfg.result_timeout_ms / 1000.0);
    } else if (h->out == h->total && !h->body && !h->resp.status) {
        h->deadline = now + u->cfg.invite_timeout_ms;
    }
}

static void
sync_progress(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    long outq = h->fd != OTK_SOCK_NONE ? otk_net_unacked(h->fd) : -1;
    uint64_t acked = h->out;

    if (outq == OTK_NET_RESET)
        acked = h->acked;
    else if (outq > 0 && (uint64_t)outq <= h->out)
        acked = h->out - (uint64_t)outq;
    if (acked != h->acked) {
        h->acked = acked;
        h->progress_t = now;
    }
    uint32_t img = image_part(u, acked);
    u->tcp_acked = img;
    if (img != u->acked) {
        u->acked = img;
        if (now - u->event_t >= PROGRESS_TICK || img == u->cfg.size) {
            u->event_t = now;
            u->emitted = img;
            otk__up_emit(u, OTK_UP_EV_PROGRESS, NULL);
        }
    }
}

/* ---- the answer ---- */

static void begin_step(struct otk_upload *u, uint32_t now, enum http_step step);

/* 401: answer the challenge once, or say why not. */
static void
unauthorized(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    struct otk_http_challenge ch;
    const char *v = h->resp.www_auth;

    if (!*v || otk_http_parse_challenge(v, &ch) < 0) {
        /* no challenge at all: Basic is what such servers mean (the async server's Basic) */
        memset(&ch, 0, sizeof ch);
        ch.scheme = OTK_HTTP_AUTH_BASIC;
        snprintf(ch.name, sizeof ch.name, "Basic");
    }
    snprintf(u->outcome.detail, sizeof u->outcome.detail, "%s", *v ? v : "(no WWW-Authenticate)");
    u->outcome.http_scheme = (int)ch.scheme;
    if (!credentials(u)) {
        h->have_ch = true;
        h->ch = ch;
        end_attempt(u, now, OTK_UPC_HTTP_NO_PASSWORD);
        return;
    }
    if (ch.scheme == OTK_HTTP_AUTH_OTHER || ch.unsupported) {
        h->have_ch = true;
        h->ch = ch;
        end_attempt(u, now, OTK_UPC_HTTP_AUTH_SCHEME);
        return;
    }
    if ((h->auth_sent && !ch.stale) || ++h->auth_rounds > AUTH_ROUNDS) {
        end_attempt(u, now, OTK_UPC_HTTP_AUTH_FAILED);
        return;
    }
    otk__up_dlog(u, "401: the device asks for %s authentication%s", ch.name,
                 ch.stale ? " (a new nonce)" : "");
    h->ch = ch;
    h->have_ch = true;
    h->nc = 0;
    begin_step(u, now, h->step);
}

/* A device error text: "Update already running" has its own cause, the rest are the Updater's
 * words (the same as over ArduinoOTA). */
static void
device_text(struct otk_upload *u, uint32_t now, const char *text)
{
    char clean[160];
    size_t n = strlen(text);

    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        n--;
    snprintf(clean, sizeof clean, "%.*s", (int)n, text);
    u->outcome.http_step = step_name(u);
    if (strstr(clean, "already running")) {
        snprintf(u->outcome.device_text, sizeof u->outcome.device_text, "%s", clean);
        end_attempt(u, now, OTK_UPC_HTTP_BUSY);
        return;
    }
    otk__up_device_error(u, now, clean);
}

static void
bad_status(struct otk_upload *u, uint32_t now)
{
    const struct otk_http_resp *r = &u->http->resp;
    char text[OTK_HTTP_BODY_KEEP * 4 + 1];

    u->outcome.figure = r->status;
    otk_text_escape(text, sizeof text, (const uint8_t *)r->body, r->body_len);
    snprintf(u->outcome.device_text, sizeof u->outcome.device_text, "%.159s", text);
    if (r->status == 404 || r->status == 405)
        end_attempt(u, now, OTK_UPC_HTTP_NOT_FOUND);
    else if (r->status == 400 && elegant(u) && r->body_len &&
             !strstr(r->body, "MD5 parameter invalid"))
        device_text(u, now, r->body); /* ElegantOTA's 400: the Updater's error text */
    else
        end_attempt(u, now, OTK_UPC_HTTP_STATUS);
}

static void
bad_answer(struct otk_upload *u, uint32_t now, const char *what)
{
    const struct otk_http_resp *r = &u->http->resp;
    char text[OTK_HTTP_BODY_KEEP * 4 + 1];

    otk_text_escape(text, sizeof text, (const uint8_t *)r->body,
                    r->body_len < 120 ? r->body_len : 120);
    snprintf(u->outcome.detail, sizeof u->outcome.detail, "%.200s: \"%.400s\"", what, text);
    u->outcome.figure = r->status;
    end_attempt(u, now, OTK_UPC_HTTP_BAD_ANSWER);
}

/* A web /update form's 200: the words say how it went (reference §1.4, §2). */
static void
web_verdict(struct otk_upload *u, uint32_t now)
{
    const char *b = u->http->resp.body;
    const char *p;

    if (strstr(b, "Update Successful") || strstr(b, "Update Success!"))
        otk__up_finish(u, now, OTK_UPC_OK);
    else if ((p = strstr(b, "Update Failed: ")) != NULL)
        device_text(u, now, p + 15);
    else if ((p = strstr(b, "Update error: ")) != NULL)
        device_text(u, now, p + 14);
    else if ((p = strstr(b, "Update Failed")) != NULL)
        device_text(u, now, p);
    else
        bad_answer(u, now, "a 200 without an update result (not an /update form's answer?)");
}

/* GET /update's answer: a challenge is learnt (the POST then carries the credentials, so the
 * image goes out once); anything else leaves the POST to find out. */
static void
probed(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    struct otk_http_challenge ch;

    if (h->resp.status == 401 && h->resp.www_auth[0] &&
        otk_http_parse_challenge(h->resp.www_auth, &ch) == 0 &&
        (ch.scheme == OTK_HTTP_AUTH_BASIC ||
         (ch.scheme == OTK_HTTP_AUTH_DIGEST && !ch.unsupported))) {
        otk__up_dlog(u, "the form asks for %s authentication: the upload carries it", ch.name);
        h->ch = ch;
        h->have_ch = true;
        h->nc = 0;
    }
    begin_step(u, now, STEP_UPLOAD);
}

static void
answered(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    const struct otk_http_resp *r = &h->resp;

    otk__up_dlog(u, "%s: HTTP %d, %zu bytes: %.*s", step_name(u), r->status, (size_t)r->body_seen,
                 (int)(r->body_len < 80 ? r->body_len : 80), r->body);
    if (h->step == STEP_PROBE) {
        probed(u, now);
    } else if (r->status == 401) {
        unauthorized(u, now);
    } else if (r->status != 200) {
        bad_status(u, now);
    } else if (h->step == STEP_START) {
        if (strncmp(r->body, "OK", 2))
            bad_answer(u, now, "/ota/start answered 200 without \"OK\" (not ElegantOTA v3?)");
        else
            begin_step(u, now, STEP_UPLOAD);
    } else if (elegant(u)) {
        if (strncmp(r->body, "OK", 2))
            bad_answer(u, now, "/ota/upload answered 200 without \"OK\"");
        else
            otk__up_finish(u, now, OTK_UPC_OK);
    } else {
        web_verdict(u, now);
    }
}

/* The connection ended (or broke) before a whole answer. A reset means the device threw away
 * what it had not read, and a close with bytes its stack never acknowledged left those behind:
 * either way it cannot have the whole image. Only a clean close after every byte arrived leaves
 * open whether it applied it. */
static void
no_answer(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;

    if (h->resp.status)
        bad_answer(u, now, h->resp.error ? h->resp.error : "a broken answer");
    else if (h->body && h->out == h->total && h->acked == h->total && !h->reset)
        end_attempt(u, now, OTK_UPC_HTTP_UNCONFIRMED);
    else
        end_attempt(u, now, OTK_UPC_HTTP_DROPPED);
}

static void
read_answer(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    char buf[4096];
    size_t budget = READ_BUDGET;

    while (budget) {
        long n = otk_net_recv(h->fd, buf, sizeof buf);
        if (n == OTK_NET_AGAIN)
            return;
        if (n <= 0) {
            h->reset = h->reset || n == OTK_NET_RESET;
            if (!h->reset)
                sync_progress(u, now); /* what its stack took before the close */
            otk_http_resp_eof(&h->resp);
            if (h->resp.state == OTK_HTTP_P_COMPLETE)
                answered(u, now);
            else
                no_answer(u, now);
            return;
        }
        budget -= (size_t)n < budget ? (size_t)n : budget;
        otk_http_resp_feed(&h->resp, buf, (size_t)n);
        if (h->resp.state == OTK_HTTP_P_COMPLETE) {
            answered(u, now);
            return;
        }
        if (h->resp.state == OTK_HTTP_P_ERROR) {
            bad_answer(u, now, h->resp.error);
            return;
        }
    }
}

/* ---- steps and attempts ---- */

static void
begin_step(struct otk_upload *u, uint32_t now, enum http_step step)
{
    u->http->step = step;
    open_request(u, now);
}

void
otk__uph_begin_attempt(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;

    h->auth_rounds = 0;
    u->outcome.device_text[0] = 0;
    u->outcome.detail[0] = 0;
    u->outcome.http_step = NULL;
    u->event_t = now;
    begin_step(u, now, elegant(u) ? STEP_START : credentials(u) ? STEP_PROBE : STEP_UPLOAD);
}

void
otk__uph_start(struct otk_upload *u, uint32_t now)
{
    /* --protocol elegantota / web, or what auto's detection found (it set u->proto) */
    if (u->proto != OTK_UP_PROTO_ELEGANTOTA && u->proto != OTK_UP_PROTO_WEB)
        u->proto = u->cfg.protocol;
    if (!u->http)
        u->http = calloc(1, sizeof *u->http);
    if (!u->http) {
        snprintf(u->outcome.detail, sizeof u->outcome.detail, "out of memory");
        otk__up_finish(u, now, OTK_UPC_NAT_LOCAL);
        return;
    }
    u->http->fd = OTK_SOCK_NONE;
    make_boundary(u);
    otk__up_dlog(u, "protocol: %s, HTTP %s:%u%s", otk_upload_protocol_name(u->proto), u->dev_ip,
                 u->cfg.port,
                 elegant(u) ? " (GET /ota/start, POST /ota/upload)" : " (POST /update)");
    otk__uph_begin_attempt(u, now);
}

bool
otk__uph_owns(const struct otk_upload *u)
{
    return u->http && (u->proto == OTK_UP_PROTO_ELEGANTOTA || u->proto == OTK_UP_PROTO_WEB) &&
           u->state != OTK_UP_BACKOFF && u->state != OTK_UP_DONE;
}

size_t
otk__uph_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap)
{
    const struct otk_httpup *h = u->http;

    if (h->fd == OTK_SOCK_NONE || cap == 0)
        return 0;
    fds[0].fd = h->fd;
    fds[0].events = h->connecting                          ? POLLOUT
                    : h->out < h->total && !h->write_ended ? (short)(POLLIN | POLLOUT)
                                                           : POLLIN;
    fds[0].revents = 0;
    return 1;
}

int32_t
otk__uph_next_ms(const struct otk_upload *u, uint32_t now)
{
    int32_t d = (int32_t)(u->http->deadline - now);

    if (d < 0)
        return 0;
    return d > (int32_t)PROGRESS_TICK ? (int32_t)PROGRESS_TICK : d;
}

static void
connected(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;
    int rc = otk_net_connect_result(h->fd);

    if (rc == OTK_NET_AGAIN)
        return;
    if (rc == OTK_NET_UNREACH) {
        end_attempt(u, now, OTK_UPC_HTTP_REFUSED);
        return;
    }
    if (rc != OTK_NET_OK) {
        end_detail(u, now, OTK_UPC_HTTP_CONNECT_FAILED, otk_net_strerror());
        return;
    }
    h->connecting = false;
    h->progress_t = now;
    if (h->step == STEP_UPLOAD)
        u->t_data = now;
    otk__up_set_state(u, h->step != STEP_UPLOAD ? OTK_UP_HANDSHAKE : OTK_UP_SEND);
}

static bool
still_here(const struct otk_upload *u, enum http_step step, unsigned attempt)
{
    return u->state != OTK_UP_DONE && u->state != OTK_UP_BACKOFF && u->http->step == step &&
           u->attempt == attempt;
}

static void
timers(struct otk_upload *u, uint32_t now)
{
    struct otk_httpup *h = u->http;

    if (h->connecting) {
        if (due(now, h->deadline))
            end_attempt(u, now, OTK_UPC_HTTP_CONNECT_TIMEOUT);
    } else if (h->out < h->total && !h->write_ended) {
        if (now - h->progress_t >= u->cfg.stall_timeout_ms)
            end_attempt(u, now, h->body ? OTK_UPC_HTTP_STALLED : OTK_UPC_HTTP_NO_ANSWER);
    } else if (h->body && h->acked < h->total && now - h->progress_t >= u->cfg.stall_timeout_ms) {
        end_attempt(u, now, OTK_UPC_HTTP_STALLED); /* its stack stopped taking the rest */
    } else if (due(now, h->deadline)) {
        if (h->body && h->out == h->total && h->acked < h->total)
            end_attempt(u, now, OTK_UPC_HTTP_STALLED); /* its stack never took the rest */
        else
            end_attempt(u, now, h->body ? OTK_UPC_HTTP_UNCONFIRMED : OTK_UPC_HTTP_NO_ANSWER);
    }
}

void
otk__uph_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    struct otk_httpup *h = u->http;
    short ev = 0;
    enum http_step step = h->step;
    unsigned attempt = u->attempt;

    for (size_t i = 0; i < n; i++)
        if ((otk_sock)fds[i].fd == h->fd)
            ev = fds[i].revents;
    if (h->connecting && ev)
        connected(u, now);
    if (!still_here(u, step, attempt) || h->connecting) {
        if (still_here(u, step, attempt))
            timers(u, now);
        return;
    }
    if (ev & (POLLIN | POLLHUP | POLLERR)) {
        read_answer(u, now);
        if (!still_here(u, step, attempt) || h->resp.state == OTK_HTTP_P_COMPLETE)
            return;
    }
    if ((ev & POLLOUT) && h->out < h->total) {
        write_request(u, now);
        if (h->write_ended) {
            read_answer(u, now); /* an answer before the close, or the close itself */
            return;
        }
    }
    sync_progress(u, now);
    timers(u, now);
}

void
otk__uph_close_attempt(struct otk_upload *u)
{
    if (u->http)
        otk_net_close(&u->http->fd);
}

void
otk__uph_free(struct otk_upload *u)
{
    if (!u->http)
        return;
    otk_net_close(&u->http->fd);
    free(u->http);
    u->http = NULL;
}
