/* SPDX-License-Identifier: MIT */
/* Which OTA door a device has open, for `otakit upload --protocol auto` (host side).
 *
 * The order (docs/CLI.md, "protocol detection"): what a .local device publishes by mDNS first
 * (_esphomelib._tcp: ESPHome's native protocol; _arduino._tcp: ArduinoOTA), then probes that
 * change nothing on the device: ESPHome's magic on the OTA port's TCP number, an HTTP GET of
 * /update (ElegantOTA's start page, ESP8266HTTPUpdateServer's form) and of / (ESPHome's
 * web_server), and last the ArduinoOTA invitation, which is the upload's own: on a real device
 * it starts an update, so it is never sent just to ask.
 *
 * The rules are plain functions of what came back (unit-tested); otk_httpprobe is the
 * non-blocking HTTP probe the upload engine drives from its poll() loop. */
#ifndef OTK_DETECT_H
#define OTK_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostnet.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an HTTP server on the device is, as far as its answers tell. */
enum otk_http_kind {
    OTK_HTTPK_NONE = 0,    /* no web server, or one without an update door we know */
    OTK_HTTPK_ELEGANTOTA3, /* ElegantOTA 3.x: gzip page at /update, no /update/identity */
    OTK_HTTPK_ELEGANTOTA2, /* ElegantOTA 2.x: also answers /update/identity */
    OTK_HTTPK_ESPHOME_WEB, /* ESPHome's web_server (POST /update) */
    OTK_HTTPK_UPDATE_FORM, /* a plain multipart /update form: ESP8266HTTPUpdateServer */
    OTK_HTTPK_LOCKED,      /* /update asks for a password: which door cannot be told */
    OTK_HTTPK_UNDECIDED,   /* not yet: ask the next request of the plan */
};

/** One HTTP answer as the rules see it. */
struct otk_http_answer {
    int status;          /* 200, 401, 404, ...; 0: not HTTP */
    bool gzip;           /* Content-Encoding: gzip */
    char challenge[128]; /* WWW-Authenticate, "" if none */
    const uint8_t *body; /* its first bytes, inflated when gzip (may be NULL) */
    size_t body_len;
};

/** Parse the status line and headers of an answer (buf holds at least the head).
 *  @return the head's length (the body starts there), 0 if the head is incomplete, -1 if it
 *  is not HTTP. */
long otk_http_parse_head(const char *buf, size_t len, struct otk_http_answer *a);

/** The requests of the probe, in order. */
enum otk_http_step {
    OTK_HTTPS_UPDATE = 0, /* GET /update */
    OTK_HTTPS_IDENTITY,   /* GET /update/identity (only after a gzip /update page) */
    OTK_HTTPS_ROOT,       /* GET / */
    OTK_HTTPS_DONE,
};

/** The rule: what the answer to step says, and *next the request to make when the answer is
 *  OTK_HTTPK_UNDECIDED. `update` is what /update said (for the later steps). */
enum otk_http_kind otk_detect_http_rule(enum otk_http_step step, enum otk_http_kind update,
                                        const struct otk_http_answer *a, enum otk_http_step *next);

/** The path a step asks for ("/update"). */
const char *otk_http_step_path(enum otk_http_step step);

/** Words for a kind: "ElegantOTA 3.x", "ESPHome web_server", ... */
const char *otk_http_kind_name(enum otk_http_kind k);

/** Whether a kind is an upload door, and which --protocol uploads through it (ELEGANTOTA or
 *  WEB as int values of enum otk_up_protocol; -1: none). */
int otk_http_kind_protocol(enum otk_http_kind k);

/* ---- the non-blocking probe ---- */

#define OTK_HTTPPROBE_RX 8192 /* bytes of an answer kept: the head and the page's start */

struct otk_httpprobe {
    bool done;
    enum otk_http_kind kind; /* valid when done */
    bool answered;           /* an HTTP server answered at all (the device is up) */
    bool refused;            /* the first connection was refused */
    int last_status;         /* the last answer's status (0: none) */
    char challenge[128];     /* OTK_HTTPK_LOCKED: the WWW-Authenticate header */
    /* private */
    enum otk_http_step step;
    enum otk_http_kind update; /* what /update said */
    struct in_addr src;
    struct sockaddr_in to;
    otk_sock fd;
    bool connected;
    size_t sent, req_len, got;
    char req[256];
    uint8_t rx[OTK_HTTPPROBE_RX];
    uint32_t deadline, step_ms;
};

/** Start with GET /update to `to` (from src), each request bounded by step_ms. */
void otk_httpprobe_start(struct otk_httpprobe *p, struct in_addr src, const struct sockaddr_in *to,
                         uint32_t step_ms, uint32_t now);
size_t otk_httpprobe_pollfds(const struct otk_httpprobe *p, struct pollfd *fds, size_t cap);
int32_t otk_httpprobe_next_ms(const struct otk_httpprobe *p, uint32_t now);
void otk_httpprobe_step(struct otk_httpprobe *p, const struct pollfd *fds, size_t n, uint32_t now);
void otk_httpprobe_close(struct otk_httpprobe *p);

#ifdef __cplusplus
}
#endif
#endif
