/* SPDX-License-Identifier: MIT */
/* The upload engine's detection and waiting (include/otakit/upload.h, detect.h):
 * - --protocol auto: after the native magic went unanswered, the HTTP probe (GET /update, /)
 *   decides between a web door (ElegantOTA, a /update form, ESPHome's web_server) and
 *   ArduinoOTA, whose invitation is the upload's own and so comes last;
 * - --wait: which ends of a look mean "not there yet", the moment the device shows itself
 *   (the AWAKE event), and the one line saying what auto found (the DETECTED event). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otakit/detect.h"
#include "upload_int.h"

#define HTTP_STEP_MS 1500u /* each GET of the probe */
#define HTTP_PORT    80u

bool
otk_upload_asleep(const struct otk_upload *u)
{
    return u->cfg.wait_ms && !u->awake && u->state != OTK_UP_DONE;
}

bool
otk__upw_asleep_cause(const struct otk_upload *u, enum otk_up_cause cause)
{
    if (!u->cfg.wait_ms || u->awake)
        return false;
    switch (cause) {
    case OTK_UPC_NOT_RESOLVED: /* a .local name nobody answers for yet */
    case OTK_UPC_NO_ANSWER:
    case OTK_UPC_PORT_UNREACH:
    case OTK_UPC_NAT_REFUSED:
    case OTK_UPC_NAT_CONNECT_TIMEOUT:
    case OTK_UPC_NAT_CONNECT_FAILED: /* no route to it while it sleeps */
    case OTK_UPC_HTTP_REFUSED:
    case OTK_UPC_HTTP_CONNECT_TIMEOUT:
    case OTK_UPC_HTTP_CONNECT_FAILED:
        return true;
    default:
        return false;
    }
}

void
otk__up_woke(struct otk_upload *u, uint32_t now, const char *how)
{
    if (u->awake)
        return;
    u->awake = true;
    u->woke_at = now;
    if (!u->cfg.wait_ms)
        return;
    otk__up_dlog(u, "the device showed itself after %.1f s: %s", (now - u->t_begin) / 1000.0, how);
    otk__up_emit(u, OTK_UP_EV_AWAKE, how);
}

void
otk__up_detected(struct otk_upload *u, const char *fmt, ...)
{
    va_list ap;

    if (u->detected[0] || u->cfg.protocol != OTK_UP_PROTO_AUTO)
        return;
    va_start(ap, fmt);
    vsnprintf(u->detected, sizeof u->detected, fmt, ap);
    va_end(ap);
    otk__up_emit(u, OTK_UP_EV_DETECTED, u->detected);
}

/* ---- auto's HTTP probe ---- */

static uint16_t
http_port(const struct otk_upload *u)
{
    return u->cfg.http_port ? u->cfg.http_port : HTTP_PORT;
}

void
otk__upd_http_start(struct otk_upload *u, uint32_t now)
{
    struct sockaddr_in to = u->dev;

    if (!u->hprobe)
        u->hprobe = calloc(1, sizeof *u->hprobe);
    if (!u->hprobe) {
        otk__up_dlog(u, "no memory for the HTTP probe: protocol: arduino (ArduinoOTA)");
        u->proto = OTK_UP_PROTO_ARDUINO;
        otk__up_begin_arduino(u, now);
        return;
    }
    to.sin_port = htons(http_port(u));
    otk__up_dlog(u, "asking TCP port %u for a web update page (GET /update)", http_port(u));
    otk_httpprobe_start(u->hprobe, u->bind, &to, HTTP_STEP_MS, now);
    if (u->hprobe->done)
        otk__upd_step(u, NULL, 0, now); /* refused at once: decide now */
}

bool
otk__upd_http_running(const struct otk_upload *u)
{
    return u->hprobe && !u->hprobe->done && u->state == OTK_UP_PROBE;
}

size_t
otk__upd_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap)
{
    return otk_httpprobe_pollfds(u->hprobe, fds, cap);
}

int32_t
otk__upd_next_ms(const struct otk_upload *u, uint32_t now)
{
    return otk_httpprobe_next_ms(u->hprobe, now);
}

/* A web door: hand over to its uploader (upload_http.c) on the port it was found on. */
static void
web_door(struct otk_upload *u, uint32_t now, enum otk_http_kind k)
{
    u->proto = (enum otk_up_protocol)otk_http_kind_protocol(k);
    otk__up_detected(u, "%s over HTTP (port %u)", otk_http_kind_name(k), http_port(u));
    u->cfg.port = http_port(u);
    u->dev.sin_port = htons(u->cfg.port);
    otk__uph_start(u, now);
}

static void
http_decided(struct otk_upload *u, uint32_t now)
{
    const struct otk_httpprobe *p = u->hprobe;
    enum otk_http_kind k = p->kind;

    otk_httpprobe_close(u->hprobe);
    if (p->answered)
        otk__up_woke(u, now, "its web server answered");
    otk__up_dlog(u, "HTTP port %u: %s (last status %d)", http_port(u),
                 p->refused    ? "refused the connection"
                 : p->answered ? otk_http_kind_name(k)
                               : "no answer",
                 p->last_status);
    if (otk_http_kind_protocol(k) >= 0) {
        web_door(u, now, k);
    } else if (k == OTK_HTTPK_LOCKED) {
        otk__up_detected(u, "%s (port %u)", otk_http_kind_name(k), http_port(u));
        snprintf(u->outcome.detail, sizeof u->outcome.detail, "%s", p->challenge);
        otk__up_finish(u, now, OTK_UPC_HTTP_UNKNOWN);
    } else {
        otk__up_dlog(u, "protocol: arduino (ArduinoOTA)");
        u->proto = OTK_UP_PROTO_ARDUINO;
        otk__up_begin_arduino(u, now);
    }
}

void
otk__upd_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    otk_httpprobe_step(u->hprobe, fds, n, now);
    if (u->hprobe->done)
        http_decided(u, now);
}

void
otk__upd_close(struct otk_upload *u)
{
    if (u->hprobe)
        otk_httpprobe_close(u->hprobe);
}

void
otk__upd_free(struct otk_upload *u)
{
    otk__upd_close(u);
    free(u->hprobe);
    u->hprobe = NULL;
}
