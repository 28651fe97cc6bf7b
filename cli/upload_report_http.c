/* SPDX-License-Identifier: MIT */
/* The words for the HTTP doors' outcomes (--protocol elegantota, web): what happened and how
 * to fix it, with the sketch's or the YAML's settings by name. upload_report.c's table gives
 * each OTK_UPC_HTTP_* cause its exit code and hands it here. */
#include <stdio.h>
#include <string.h>

#include "otakit/http.h"
#include "upload_cli.h"

static bool
elegant(const struct otk_upload *u)
{
    return otk_upload_protocol_used(u) == OTK_UP_PROTO_ELEGANTOTA;
}

/* What the door is, for sentences: "ElegantOTA" / "the /update form". */
static const char *
door(const struct otk_upload *u)
{
    return elegant(u) ? "ElegantOTA" : "the web /update form";
}

static const char *
step(const struct otk_upload *u)
{
    return u->outcome.http_step ? u->outcome.http_step : "the request";
}

static void
say_connect(const struct otk_upload *u, struct cli_msg *w)
{
    const struct otk_upload_outcome *o = &u->outcome;

    if (o->cause == OTK_UPC_HTTP_REFUSED)
        cli_say(w, "%s refused the TCP connection on port %u: no web server listens there",
                u->cfg.target, u->cfg.port);
    else if (o->cause == OTK_UPC_HTTP_CONNECT_TIMEOUT)
        cli_say(w, "no TCP connection to %s port %u within %.0f s: the device does not answer",
                u->cfg.target, u->cfg.port, u->cfg.connect_timeout_ms / 1000.0);
    else
        cli_say(w, "cannot connect to %s port %u: %s", u->cfg.target, u->cfg.port, o->detail);
    cli_say(w, ".\nfix: check the address and the port (-p, or ADDRESS:PORT; the sketch's "
               "WebServer/AsyncWebServer port, 80 by default); a device in deep sleep or still "
               "restarting answers nothing.");
}

static const char *
scheme_name(int scheme)
{
    return scheme == OTK_HTTP_AUTH_DIGEST ? "Digest" : scheme == OTK_HTTP_AUTH_BASIC ? "Basic" : "";
}

static void
say_auth(const struct otk_upload *u, struct cli_msg *w)
{
    const struct otk_upload_outcome *o = &u->outcome;
    const char *where = elegant(u) ? "the user name and password of ElegantOTA.begin(&server, "
                                     "USER, PASSWORD) or setAuth()"
                                   : "web_server: auth: username/password of its YAML (or "
                                     "httpUpdater.setup(&server, PATH, USER, PASSWORD))";

    if (o->cause == OTK_UPC_HTTP_NO_PASSWORD)
        cli_say(w,
                "%s asks for HTTP %s authentication (401 to %s) and no user name and password were "
                "given.\nfix: pass %s with --user USER -a PASSWORD.",
                u->cfg.target, scheme_name(o->http_scheme), step(u), where);
    else if (o->cause == OTK_UPC_HTTP_AUTH_FAILED)
        cli_say(w,
                "%s refused the user name and password (401 to our %s answer on %s).\nfix: use %s, "
                "as written, with --user USER -a PASSWORD.",
                u->cfg.target, scheme_name(o->http_scheme), step(u), where);
    else
        cli_say(
            w,
            "%s asks for an HTTP authentication otakit cannot answer (%s).\nfix: otakit answers "
            "Basic and Digest (MD5 or SHA-256, qop auth); report the device's server to otakit.",
            u->cfg.target, o->detail);
}

static void
say_not_found(const struct otk_upload *u, struct cli_msg *w)
{
    cli_say(w, "%s answered HTTP %ld to %s: it has no %s door there.\n", u->cfg.target,
            u->outcome.figure, step(u), door(u));
    if (elegant(u))
        cli_say(
            w,
            "fix: check that the sketch calls ElegantOTA.begin(&server) (v3: /ota/start and "
            "/ota/upload) and the port; an ElegantOTA 2.x or ESP8266HTTPUpdateServer device takes "
            "--protocol web, an ESPHome device --protocol esphome or web.");
    else
        cli_say(w,
                "fix: an ESPHome device needs `ota: - platform: web_server` (or its captive portal "
                "running); a sketch needs ESP8266HTTPUpdateServer on /update; an ElegantOTA v3 "
                "device takes --protocol elegantota.");
}

static void
say_status(const struct otk_upload *u, struct cli_msg *w)
{
    const struct otk_upload_outcome *o = &u->outcome;

    cli_say(w, "%s answered HTTP %ld to %s%s%s%s.\n", u->cfg.target, o->figure, step(u),
            o->device_text[0] ? ": \"" : "", o->device_text, o->device_text[0] ? "\"" : "");
    if (o->figure >= 300 && o->figure < 400)
        cli_say(w,
                "fix: the device redirects (a captive portal sends every page to its own): check "
                "the address and the port.");
    else if (strstr(o->device_text, "MD5 parameter"))
        cli_say(w, "fix: the device refused the image's MD5 as a parameter; report this to otakit "
                   "with -d's output.");
    else
        cli_say(w, "fix: check the device's log; upload again once it works normally.");
}

static void
say_bad_answer(const struct otk_upload *u, struct cli_msg *w)
{
    cli_say(w,
            "%s gave an answer to %s that %s never gives: %s.\nfix: check the protocol and the "
            "port (%s); -d shows the exchange.",
            u->cfg.target, step(u), door(u), u->outcome.detail,
            elegant(u) ? "ElegantOTA v3 answers \"OK\"" : "an /update form answers \"Update ...\"");
}

static void
say_transfer(const struct otk_upload *u, struct cli_msg *w)
{
    const struct otk_upload_outcome *o = &u->outcome;

    if (o->cause == OTK_UPC_HTTP_NO_ANSWER)
        cli_say(w, "%s did not answer %s within %.0f s", u->cfg.target, step(u),
                u->cfg.invite_timeout_ms / 1000.0);
    else if (o->cause == OTK_UPC_HTTP_DROPPED)
        cli_say(
            w,
            "%s %s the connection during %s (at byte %u of %u) without an answer: it lost Wi-Fi, "
            "restarted, or gave up; it cannot have taken the image",
            u->cfg.target, o->closed == OTK_UP_RESET ? "reset" : "closed", step(u), o->acked,
            u->cfg.size);
    else
        cli_say(w, "transfer to %s stalled at byte %u of %u: no data taken for %.0f s",
                u->cfg.target, o->acked, u->cfg.size, u->cfg.stall_timeout_ms / 1000.0);
    cli_say(w, ".\nfix: upload again (--retries does this automatically); check the Wi-Fi link and "
               "the device's power supply.");
}

static void
say_unconfirmed(const struct otk_upload *u, struct cli_msg *w)
{
    cli_say(
        w,
        "%s had the whole image (%u bytes), but the connection ended without its answer; otakit "
        "did not send it again, since the device may have applied it (ElegantOTA and ESPHome "
        "restart right after a good update).\nfix: check the version it runs; upload again only "
        "if it still runs the old one.",
        u->cfg.target, u->cfg.size);
}

static void
say_busy(const struct otk_upload *u, struct cli_msg *w)
{
    cli_say(w,
            "%s answered %s with \"%s\": an earlier update is still open on it (%s).\nfix: restart "
            "the device, then upload again; ElegantOTA's synchronous build does not end an update "
            "whose connection broke.",
            u->cfg.target, step(u), u->outcome.device_text,
            u->attempt > 1 ? "this upload's earlier attempt was cut off"
                           : "another upload, or one that was cut off");
}

size_t
cli_upload_http_words(const struct otk_upload *u, char *buf, size_t cap)
{
    struct cli_msg w = {buf, cap, 0};

    if (cap)
        buf[0] = 0;
    switch (u->outcome.cause) {
    case OTK_UPC_HTTP_REFUSED:
    case OTK_UPC_HTTP_CONNECT_TIMEOUT:
    case OTK_UPC_HTTP_CONNECT_FAILED:
        say_connect(u, &w);
        break;
    case OTK_UPC_HTTP_NO_PASSWORD:
    case OTK_UPC_HTTP_AUTH_FAILED:
    case OTK_UPC_HTTP_AUTH_SCHEME:
        say_auth(u, &w);
        break;
    case OTK_UPC_HTTP_NOT_FOUND:
        say_not_found(u, &w);
        break;
    case OTK_UPC_HTTP_STATUS:
        say_status(u, &w);
        break;
    case OTK_UPC_HTTP_BAD_ANSWER:
        say_bad_answer(u, &w);
        break;
    case OTK_UPC_HTTP_UNCONFIRMED:
        say_unconfirmed(u, &w);
        break;
    case OTK_UPC_HTTP_BUSY:
        say_busy(u, &w);
        break;
    default: /* NO_ANSWER, DROPPED, STALLED */
        say_transfer(u, &w);
        break;
    }
    return w.len;
}
