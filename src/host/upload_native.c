/* SPDX-License-Identifier: MIT */
/* The upload engine's native-protocol path (ESPHome): one TCP connection to the device, no
 * connection back, so no firewall on this host can stand in the way. Each attempt is an
 * otk_natup (natup.h: the socket, the natclient machine, the restart check); this file turns
 * its end into a cause with facts, keeps the engine's state and progress, and with
 * --protocol auto asks the port first (otk_natprobe).
 *
 * Retries follow upload.c's rule (transient causes only), with one more: once the whole image
 * went out, nothing is re-sent: the device may have committed it (ESPHome's rule), so the
 * attempt watches for a restart and reports what it saw (OTK_UPC_NAT_UNCONFIRMED). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/gzip.h"
#include "otakit/mdns_host.h"
#include "otakit/natup.h"
#include "upload_int.h"

#define PROBE_MS         2000u /* --protocol auto: the port's answer to the magic */
#define PROGRESS_TICK    100u
#define PREPARE_MIN_MS   30000u /* an ESP32 erases the slot before it answers the size */
#define ESPHOME_WINDOW_0 4u
#define LOOK_CONNECT_MS  2000u /* --wait: a look's TCP connection to a sleeping device */

const char *
otk_upload_protocol_name(enum otk_up_protocol p)
{
    switch (p) {
    case OTK_UP_PROTO_ESPHOME:
        return "esphome";
    case OTK_UP_PROTO_AUTO:
        return "auto";
    case OTK_UP_PROTO_ELEGANTOTA:
        return "elegantota";
    case OTK_UP_PROTO_WEB:
        return "web";
    default:
        return "arduino";
    }
}

enum otk_up_protocol
otk_upload_protocol_used(const struct otk_upload *u)
{
    if (u->proto == OTK_UP_PROTO_ELEGANTOTA || u->proto == OTK_UP_PROTO_WEB || u->detected[0])
        return u->proto; /* found by auto */
    if (u->cfg.protocol == OTK_UP_PROTO_ELEGANTOTA || u->cfg.protocol == OTK_UP_PROTO_WEB)
        return u->cfg.protocol;
    if (u->state == OTK_UP_PROBE ||
        (u->state == OTK_UP_IDLE && u->cfg.protocol == OTK_UP_PROTO_AUTO))
        return OTK_UP_PROTO_AUTO;
    return u->proto == OTK_UP_PROTO_ESPHOME || u->cfg.protocol == OTK_UP_PROTO_ESPHOME
               ? OTK_UP_PROTO_ESPHOME
               : OTK_UP_PROTO_ARDUINO;
}

bool
otk__upn_owns(const struct otk_upload *u)
{
    return u->proto == OTK_UP_PROTO_ESPHOME || u->state == OTK_UP_PROBE;
}

/* The natclient's DEFLATE hook: the raw deflate stream of image[from...], made once per
 * offset (a resumed attempt starts a new stream where the device's flash ends). */
static int
make_stream(void *user, uint32_t from, const uint8_t **stream, uint32_t *len)
{
    struct otk_upload *u = user;
    int rc;

    if (from >= u->cfg.size)
        return OTK_ERR_RANGE;
    if (!u->zs || u->zs_from != from) {
        free(u->zs);
        u->zs = NULL;
        rc = otk_deflate_raw(u->cfg.image + from, u->cfg.size - from, OTK_DEFLATE_LEVEL, &u->zs,
                             &u->zs_size);
        if (rc != OTK_OK) {
            snprintf(u->outcome.detail, sizeof u->outcome.detail, "deflate failed: %s",
                     otk_strerror(rc));
            return rc;
        }
        u->zs_from = from;
        otk__up_dlog(u, "deflated the image from byte %u: %u -> %u bytes (%.1f %%)", from,
                     u->cfg.size - from, u->zs_size,
                     100.0 * u->zs_size / (double)(u->cfg.size - from));
    }
    *stream = u->zs;
    *len = u->zs_size;
    return OTK_OK;
}

static void
nat_cfg(struct otk_upload *u, struct otk_natup_cfg *c)
{
    const struct otk_upload_cfg *k = &u->cfg;

    otk_natup_cfg_defaults(c);
    c->dev = u->dev;
    c->src = u->bind; /* -I: the connection comes from that address */
    c->natc.image = k->image;
    c->natc.size = k->size;
    c->natc.gz = u->gz;
    c->natc.gz_size = u->gz_size;
    if (otk_gzip_available()) {
        c->natc.deflate = make_stream;
        c->natc.deflate_user = u;
    }
    c->natc.password = k->password;
    c->natc.key = k->key;
    c->natc.window = k->window ? k->window : ESPHOME_WINDOW_0;
    /* otakit's extension: a device that knows it continues a dropped image (RESUME); one that
     * does not sees ESPHome's bytes */
    c->natc.caps = k->no_resume ? 0 : OTK_NAT_CAP_RESUME;
    /* ...and one that inflates gets a deflate stream of the image: fewer bytes travel */
    if (!k->no_compress && c->natc.deflate)
        c->natc.caps |= OTK_NAT_CAP_DEFLATE;
    c->natc.crypto = k->crypto;
    c->natc.step_timeout_ms = k->invite_timeout_ms;
    c->natc.prepare_timeout_ms =
        k->result_timeout_ms > PREPARE_MIN_MS ? k->result_timeout_ms : PREPARE_MIN_MS;
    c->natc.stall_timeout_ms = k->stall_timeout_ms;
    c->natc.result_timeout_ms = k->result_timeout_ms;
    c->connect_timeout_ms = k->connect_timeout_ms;
    if (otk_upload_asleep(u) && c->connect_timeout_ms > LOOK_CONNECT_MS)
        c->connect_timeout_ms = LOOK_CONNECT_MS; /* one look; the next comes soon */
    c->check_window_ms = k->result_timeout_ms;
}

/* ---- ends ---- */

static void
copy_facts(struct otk_upload *u)
{
    const struct otk_natup *a = u->nat;
    const struct otk_natc *c = &a->c;
    struct otk_up_native *f = &u->outcome.nat;

    f->code = c->dev_code;
    f->phase = (uint8_t)c->end_phase;
    f->version = c->version;
    f->features = c->features;
    f->feature_reply = c->feature_reply;
    f->server_flags = c->server_flags;
    f->auth = c->auth;
    f->encrypted = c->encrypted;
    f->compressed = c->compressed;
    f->deflated = c->deflated;
    f->image_from = c->image_from;
    f->all_sent = c->all_sent;
    f->violation = c->violation;
    f->data_size = c->data_size;
    f->acks = c->acks;
    f->check = (uint8_t)a->check;
    f->check_ms = a->check_ms;
    f->probes_unanswered = a->probes_unanswered;
    memcpy(f->reason, c->reason, sizeof f->reason);
}

/* The device's error code as a cause (reference §2). */
static enum otk_up_cause
code_cause(const struct otk_natc *c)
{
    switch (c->dev_code) {
    case OTK_NAT_ERR_ESP8266_NOT_ENOUGH_SPACE:
    case OTK_NAT_ERR_ESP32_NOT_ENOUGH_SPACE:
    case OTK_NAT_ERR_RP2040_NOT_ENOUGH_SPACE:
        return OTK_UPC_NAT_TOO_BIG;
    case OTK_NAT_ERR_MD5_MISMATCH:
        return OTK_UPC_NAT_MD5;
    case OTK_NAT_ERR_UPDATE_END:
    case OTK_NAT_ERR_WRONG_CURRENT_FLASH_CONFIG:
    case OTK_NAT_ERR_WRONG_NEW_FLASH_CONFIG:
    case OTK_NAT_ERR_SIGNATURE_INVALID:
    case OTK_NAT_ERR_PARTITION_TABLE_VERIFY:
    case OTK_NAT_ERR_BOOTLOADER_VERIFY:
    case OTK_NAT_ERR_VERSION_DOWNGRADE:
        return OTK_UPC_NAT_REJECTED;
    case OTK_NAT_ERR_UNKNOWN:
        /* also what a device sends when it waited for data in vain (reference §2) */
        return c->end_phase == OTK_NATC_DATA ? OTK_UPC_NAT_DEVICE_TIMEOUT : OTK_UPC_NAT_DEVICE;
    default:
        return OTK_UPC_NAT_DEVICE;
    }
}

/* An end without the device's verdict. */
static enum otk_up_cause
silent_cause(const struct otk_natc *c)
{
    if (c->all_sent)
        return OTK_UPC_NAT_UNCONFIRMED;
    if (c->cause == OTK_NATC_NOISE_BROKEN)
        return OTK_UPC_NAT_FRAME;
    if (c->cause == OTK_NATC_CLOSED)
        return OTK_UPC_NAT_DROPPED;
    return c->end_phase == OTK_NATC_DATA ? OTK_UPC_NAT_STALLED : OTK_UPC_NAT_NO_ANSWER;
}

static enum otk_up_cause
exchange_cause(const struct otk_natc *c)
{
    switch (c->cause) {
    case OTK_NATC_OK:
        return OTK_UPC_OK;
    case OTK_NATC_DEVICE_ERROR:
        return code_cause(c);
    case OTK_NATC_NEED_PASSWORD:
        return OTK_UPC_NAT_NO_PASSWORD;
    case OTK_NATC_AUTH_REFUSED:
        return OTK_UPC_NAT_AUTH_FAILED;
    case OTK_NATC_NEED_KEY:
        return OTK_UPC_NAT_NEEDS_KEY;
    case OTK_NATC_NOISE_ABSENT:
        return OTK_UPC_NAT_NOT_ENCRYPTED;
    case OTK_NATC_WRONG_KEY:
        return OTK_UPC_NAT_WRONG_KEY;
    case OTK_NATC_NOISE_REJECTED:
        return OTK_UPC_NAT_HANDSHAKE_REJECTED;
    case OTK_NATC_VERSION:
        return OTK_UPC_NAT_VERSION;
    case OTK_NATC_PROTOCOL:
        /* the magic answered with anything but "00 vv" or an error code: another protocol */
        return c->end_phase == OTK_NATC_MAGIC ? OTK_UPC_NAT_NOT_ESPHOME : OTK_UPC_NAT_PROTOCOL;
    case OTK_NATC_LOCAL:
        return OTK_UPC_NAT_LOCAL;
    default: /* TIMEOUT, CLOSED, NOISE_BROKEN */
        return silent_cause(c);
    }
}

static void
conclude(struct otk_upload *u, uint32_t now)
{
    const struct otk_natup *a = u->nat;
    enum otk_up_cause cause;

    copy_facts(u);
    if (a->connect_failed) {
        cause = a->connect_rc == OTK_NET_UNREACH ? OTK_UPC_NAT_REFUSED
                : a->connect_rc == OTK_NET_AGAIN ? OTK_UPC_NAT_CONNECT_TIMEOUT
                                                 : OTK_UPC_NAT_CONNECT_FAILED;
        if (cause == OTK_UPC_NAT_CONNECT_FAILED)
            snprintf(u->outcome.detail, sizeof u->outcome.detail, "%s", otk_net_strerror());
    } else {
        cause = exchange_cause(&a->c);
    }
    if (a->reset)
        u->outcome.closed = OTK_UP_RESET;
    if (a->c.cause == OTK_NATC_DEVICE_ERROR) {
        const char *name = otk_natc_code_name(a->c.dev_code);
        snprintf(u->outcome.device_text, sizeof u->outcome.device_text, "%02X %s", a->c.dev_code,
                 name ? name : "");
    }
    if (a->connect_failed)
        otk__up_dlog(u, "TCP connection to %s:%u failed (%s)", u->dev_ip, u->cfg.port,
                     a->connect_rc == OTK_NET_AGAIN ? "timed out" : otk_net_strerror());
    else
        otk__up_dlog(u, "native protocol: %s in phase %s (%s)",
                     cause == OTK_UPC_OK ? "done" : "ended", otk_natc_phase_name(a->c.end_phase),
                     otk_natc_cause_name(a->c.cause));
    otk__up_finish(u, now, cause);
}

/* ---- progress and states ---- */

/* Stream bytes as image bytes: the gzip stream is shorter than the image the CLI counts. */
static uint32_t
as_image(const struct otk_upload *u, uint32_t stream)
{
    const struct otk_natc *c = &u->nat->c;

    if (c->deflated && c->data_size)
        return c->image_from +
               (uint32_t)((uint64_t)stream * (u->cfg.size - c->image_from) / c->data_size);
    if (!c->compressed || !c->data_size)
        return stream;
    return (uint32_t)((uint64_t)stream * u->cfg.size / c->data_size);
}

static void
sync_progress(struct otk_upload *u, uint32_t now)
{
    uint32_t acked = as_image(u, otk_natup_progress(u->nat));

    u->sent = as_image(u, u->nat->c.sent);
    u->tcp_acked = as_image(u, u->nat->tcp_acked);
    if (acked == u->acked)
        return;
    u->acked = acked;
    if (now - u->event_t >= PROGRESS_TICK || acked == u->cfg.size) {
        u->event_t = now;
        u->emitted = acked;
        otk__up_emit(u, OTK_UP_EV_PROGRESS, NULL);
    }
}

/* Trace what the handshake learned, once each. */
static void
trace_handshake(struct otk_upload *u, enum otk_natc_phase from)
{
    const struct otk_natc *c = &u->nat->c;
    /* where it got to: an end in a phase says nothing of the phases after it */
    enum otk_natc_phase to = c->phase == OTK_NATC_DONE ? c->end_phase : c->phase;

    if (from <= OTK_NATC_MAGIC && to > OTK_NATC_MAGIC)
        otk__up_dlog(u, "device answered the magic: protocol version %u; features sent %02x",
                     c->version, c->features);
    if (from <= OTK_NATC_FEATURES && to > OTK_NATC_FEATURES)
        otk__up_dlog(u, "feature reply %02x%s (server flags %02x)%s", c->feature_reply,
                     c->feature_reply == OTK_NAT_FEATURE_FLAGS ? " extended" : "", c->server_flags,
                     c->compressed ? "; sending the gzip stream" : "");
    if (from <= OTK_NATC_MD5 && to > OTK_NATC_MD5 && c->deflated)
        otk__up_dlog(u,
                     "device inflates: sending a deflate stream of %u bytes for image bytes "
                     "%u..%u",
                     c->data_size, c->image_from, u->cfg.size);
    if (from <= OTK_NATC_NOISE && to > OTK_NATC_NOISE && c->encrypted)
        otk__up_dlog(u, "Noise handshake done: the rest is encrypted");
    if (from <= OTK_NATC_AUTH_RESULT && to > OTK_NATC_AUTH_RESULT)
        otk__up_dlog(u, "authenticated (%s)",
                     c->encrypted                             ? "by the Noise key"
                     : c->auth == OTK_NAT_REQUEST_AUTH_SHA256 ? "SHA-256"
                     : c->auth == OTK_NAT_REQUEST_AUTH_MD5    ? "MD5"
                                                              : "no password asked");
    if (from <= OTK_NATC_OTAKIT && to > OTK_NATC_OTAKIT && c->otakit)
        otk__up_dlog(u, "otakit extension: asked for capabilities %02x, granted %02x", c->cfg.caps,
                     c->caps);
    if (from <= OTK_NATC_MD5 && to > OTK_NATC_MD5)
        otk__up_dlog(u,
                     "device prepared for %u bytes (MD5 %s); sending, %u blocks of 8 KB in "
                     "flight",
                     c->deflated ? u->cfg.size : c->data_size, c->md5, c->cfg.window);
    /* the image offset: resume_at counts the stream's bytes once a deflate stream goes out */
    uint32_t at = c->resume_at > c->image_from ? c->resume_at : c->image_from;
    if (from <= OTK_NATC_MD5 && to > OTK_NATC_MD5 && at) {
        u->resumed_at = c->deflated ? at : as_image(u, at);
        otk__up_dlog(u,
                     "device holds the first %u bytes of this image from a dropped attempt: "
                     "resuming there",
                     at);
        otk__up_emit(u, OTK_UP_EV_RESUMED, NULL);
    }
}

uint32_t
otk__upn_attempt_wire(const struct otk_upload *u)
{
    const struct otk_natc *c = u->nat ? &u->nat->c : NULL;

    return c && c->sent > c->resume_at ? c->sent - c->resume_at : 0;
}

static void
sync_state(struct otk_upload *u, uint32_t now)
{
    const struct otk_natup *a = u->nat;
    enum otk_up_state s = OTK_UP_CONNECT;

    if (a->state == OTK_NATUP_EXCHANGE)
        s = a->c.phase < OTK_NATC_DATA    ? OTK_UP_HANDSHAKE
            : a->c.phase == OTK_NATC_DATA ? OTK_UP_SEND
                                          : OTK_UP_RESULT;
    else if (a->state == OTK_NATUP_PROBE)
        s = OTK_UP_CHECK;
    if (s == OTK_UP_SEND && u->state != OTK_UP_SEND)
        u->t_data = now; /* the data phase: after the handshake and the device's preparation */
    if (s == OTK_UP_CHECK && u->state != OTK_UP_CHECK)
        otk__up_dlog(u,
                     "all %u bytes went out but no result came (%s): not sending again; "
                     "watching whether the device restarts",
                     a->c.data_size, otk_natc_cause_name(a->c.cause));
    otk__up_set_state(u, s);
}

/* ---- attempts ---- */

void
otk__upn_begin_attempt(struct otk_upload *u, uint32_t now)
{
    struct otk_natup_cfg cfg;

    u->sent = u->acked = u->emitted = u->tcp_acked = 0;
    u->resumed_at = 0;
    memset(&u->outcome.nat, 0, sizeof u->outcome.nat);
    u->outcome.device_text[0] = 0;
    nat_cfg(u, &cfg);
    otk_natup_start(u->nat, &cfg, now);
    u->event_t = now;
    otk__up_set_state(u, OTK_UP_CONNECT);
    if (u->nat->state == OTK_NATUP_DONE)
        conclude(u, now);
}

static void
choose_native(struct otk_upload *u, uint32_t now)
{
    u->proto = OTK_UP_PROTO_ESPHOME;
    otk__up_dlog(u, "protocol: esphome (native), TCP %s:%u%s", u->dev_ip, u->cfg.port,
                 u->cfg.key ? ", Noise with the given key" : "");
    if (!u->nat)
        u->nat = calloc(1, sizeof *u->nat);
    if (!u->nat) {
        snprintf(u->outcome.detail, sizeof u->outcome.detail, "out of memory");
        otk__up_finish(u, now, OTK_UPC_NAT_LOCAL);
        return;
    }
    u->nat->fd = u->nat->probe.fd = OTK_SOCK_NONE;
    /* offered only where the device asks (46, or flag 01); made once for every attempt */
    if (!u->gz && otk_gzip_available() &&
        otk_gzip(u->cfg.image, u->cfg.size, &u->gz, &u->gz_size) != OTK_OK)
        otk__up_dlog(u, "gzip failed: the image goes out as it is");
    otk__upn_begin_attempt(u, now);
}

static void
probe_decided(struct otk_upload *u, uint32_t now)
{
    const struct otk_natprobe *p = &u->probe;
    static const char *const what[] = {
        [OTK_NATPROBE_REFUSED] = "refused the connection",
        [OTK_NATPROBE_SILENT] = "gave no answer",
        [OTK_NATPROBE_OTHER] = "answered something else",
        [OTK_NATPROBE_FAILED] = "could not be asked",
    };

    otk_natprobe_close(&u->probe);
    if (p->result == OTK_NATPROBE_ANSWERED || p->result == OTK_NATPROBE_OTHER)
        otk__up_woke(u, now, "its TCP port answered");
    if (p->result == OTK_NATPROBE_ANSWERED) {
        otk__up_dlog(u, "TCP port %u answered the native magic with version %u", u->cfg.port,
                     p->version);
        u->proto = OTK_UP_PROTO_ESPHOME; /* for the DETECTED event's reader */
        otk__up_detected(u, "ESPHome native OTA, protocol version %u, on TCP %u", p->version,
                         u->cfg.port);
        choose_native(u, now);
        return;
    }
    otk__up_dlog(u, "TCP port %u %s: not ESPHome's native protocol", u->cfg.port, what[p->result]);
    otk__upd_http_start(u, now); /* then ArduinoOTA if no web door answers */
}

/* ESPHome's default OTA ports by its TXT platform (reference: the ports table). */
static uint16_t
esphome_port(const char *platform)
{
    static const struct {
        const char *platform;
        uint16_t port;
    } ports[] = {{"ESP32", 3232}, {"ESP8266", 8266}, {"RP2040", 2040}, {"BK72XX", 8892}};

    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (!strcmp(platform, ports[i].platform))
            return ports[i].port;
    return 0;
}

void
otk__upn_mdns(struct otk_upload *u, const struct otk_mdns_device *dev)
{
    uint16_t port = esphome_port(dev->platform);

    if (dev->esphome && !dev->http_port)
        u->mdns_says = OTK_UP_PROTO_ESPHOME; /* also when it offers both: no way back needed */
    else if (dev->port && !dev->esphome)
        u->mdns_says = OTK_UP_PROTO_ARDUINO;
    /* a web server too (ESPHome's web_server, a sketch's page): its OTA may be the web door
     * only, so auto asks the native port, then that web server, then ArduinoOTA */
    if (dev->http_port && !u->cfg.http_port)
        u->cfg.http_port = dev->http_port;
    /* its SRV port is the API's: the OTA port follows the platform, unless -p or ArduinoOTA's
     * SRV said it */
    if (dev->esphome && u->cfg.port_auto && !dev->port && port)
        u->cfg.port = port;
}

void
otk__upn_start(struct otk_upload *u, uint32_t now)
{
    if (u->cfg.spiffs) {
        /* filesystem images exist in ArduinoOTA only */
        if (u->cfg.protocol == OTK_UP_PROTO_ESPHOME || u->cfg.key) {
            otk__up_finish(u, now, OTK_UPC_NAT_NO_FILESYSTEM);
        } else {
            otk__up_dlog(u, "protocol: arduino (a filesystem image)");
            otk__up_begin_arduino(u, now);
        }
        return;
    }
    /* a key means the native protocol: ArduinoOTA has no encryption to use it for */
    if (u->cfg.protocol == OTK_UP_PROTO_ESPHOME || u->cfg.key) {
        choose_native(u, now);
        return;
    }
    if (u->mdns_says != OTK_UP_PROTO_AUTO) {
        otk__up_dlog(u, "mDNS: the device publishes %s",
                     u->mdns_says == OTK_UP_PROTO_ESPHOME ? "_esphomelib._tcp" : "_arduino._tcp");
        u->proto = u->mdns_says;
        if (u->mdns_says == OTK_UP_PROTO_ESPHOME) {
            otk__up_detected(u, "ESPHome native OTA on TCP %u (mDNS: _esphomelib._tcp)",
                             u->cfg.port);
            choose_native(u, now);
        } else {
            otk__up_detected(u, "ArduinoOTA on UDP %u (mDNS: _arduino._tcp)", u->cfg.port);
            otk__up_dlog(u, "protocol: arduino (ArduinoOTA)");
            u->proto = OTK_UP_PROTO_ARDUINO;
            otk__up_begin_arduino(u, now);
        }
        return;
    }
    otk__up_set_state(u, OTK_UP_PROBE);
    otk_natprobe_start(&u->probe, u->bind, &u->dev, PROBE_MS, now);
    if (u->probe.result != OTK_NATPROBE_RUNNING)
        probe_decided(u, now);
}

size_t
otk__upn_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap)
{
    if (otk__upd_http_running(u))
        return otk__upd_pollfds(u, fds, cap);
    if (u->state == OTK_UP_PROBE)
        return otk_natprobe_pollfds(&u->probe, fds, cap);
    if (!u->nat || u->state == OTK_UP_BACKOFF || u->state == OTK_UP_DONE || u->state == OTK_UP_WAIT)
        return 0;
    return otk_natup_pollfds(u->nat, fds, cap);
}

int32_t
otk__upn_next_ms(const struct otk_upload *u, uint32_t now)
{
    int32_t d;

    if (otk__upd_http_running(u))
        return otk__upd_next_ms(u, now);
    if (u->state == OTK_UP_PROBE) {
        d = (int32_t)(u->probe.deadline - now);
        return d < 0 ? 0 : d;
    }
    d = otk_natup_next_ms(u->nat, now);
    return d < 0 || d > (int32_t)PROGRESS_TICK ? (int32_t)PROGRESS_TICK : d;
}

void
otk__upn_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (otk__upd_http_running(u)) {
        otk__upd_step(u, fds, n, now);
        return;
    }
    if (u->state == OTK_UP_PROBE) {
        otk_natprobe_step(&u->probe, fds, n, now);
        if (u->probe.result != OTK_NATPROBE_RUNNING)
            probe_decided(u, now);
        return;
    }
    enum otk_natc_phase from = u->nat->c.phase;
    bool was_exchange = u->nat->state == OTK_NATUP_EXCHANGE;
    otk_natup_step(u->nat, fds, n, now);
    if (!was_exchange && u->nat->state == OTK_NATUP_EXCHANGE)
        otk__up_woke(u, now, "its native OTA port took the connection");
    if (was_exchange || u->nat->state == OTK_NATUP_EXCHANGE)
        trace_handshake(u, was_exchange ? from : OTK_NATC_MAGIC);
    sync_progress(u, now);
    if (u->nat->state == OTK_NATUP_DONE)
        conclude(u, now);
    else
        sync_state(u, now);
}

void
otk__upn_close_attempt(struct otk_upload *u)
{
    otk_natprobe_close(&u->probe);
    otk__upd_close(u);
    if (u->nat)
        otk_natup_close(u->nat);
}

void
otk__upn_free(struct otk_upload *u)
{
    otk__upn_close_attempt(u);
    free(u->nat);
    u->nat = NULL;
    otk__upd_free(u);
    free(u->gz);
    u->gz = NULL;
    u->gz_size = 0;
    free(u->zs);
    u->zs = NULL;
    u->zs_size = 0;
}
