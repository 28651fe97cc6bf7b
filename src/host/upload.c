/* SPDX-License-Identifier: MIT */
/* The host upload engine (the espota.py side), as a non-blocking state machine.
 *
 * What it does differently from espota.py, and why:
 * - One UDP socket per handshake, invitations retransmitted from it with backoff (0.5 s, 1 s,
 *   2 s, ...), because devices answer to the source port of the datagram they received; but no
 *   invitation once an AUTH challenge arrived, because a device in WAITAUTH that receives one
 *   drops back to IDLE ("200 was expected. got 0 instead") and ignores our answer.
 * - The TCP listener is polled from the start: if the device connects back, its UDP "OK" was
 *   merely lost.
 * - The image is streamed: non-blocking sends of large slices into a send buffer capped at
 *   64 KB, so the link stays full and progress (bytes the device's TCP stack acknowledged)
 *   tracks reality; never a byte more than announced.
 * - Success only on "OK"; every end is a cause with its facts (struct otk_upload_outcome): the
 *   caller words it (the CLI: cli/upload_report.c).
 *
 * Sockets only through otakit/hostnet.h (one port per OS), so this file builds for Windows. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otakit/err.h"
#include "otakit/hostnet.h"
#include "otakit/image.h"
#include "otakit/mdns_host.h"
#include "otakit/upload.h"
#include "upload_int.h"

#define SNDBUF_CAP          (64 * 1024)
#define SLICE_MAX           (64 * 1024)
#define LOCKSTEP_CHUNK      1024
#define INVITE_GAP0_MS      500
#define BUSY_GAP_MS         1000 /* invitations to a busy device: steady, to catch its end */
#define AUTH_GAP0_MS        1000
#define ERROR_GRACE_MS      1500
#define PROGRESS_TICK       100
#define PORT_UNREACH_GIVEUP 3
#define READ_BUDGET         (16 * 1024) /* reply bytes read per step: a flood cannot hold us */
#define DGRAM_BUDGET        32          /* datagrams read per step */
#define LOOK_GAP_MS         1000        /* --wait: between two looks for a sleeping device */
#define LOOK_INVITE_MS      2000        /* --wait: invitations of one look (0, 0.5 and 1.5 s) */
#define LOOK_MDNS_MS        1000        /* --wait: one look's mDNS query for a .local name */

/* ---- outcomes ---- */

bool
otk_upload_cause_transient(enum otk_up_cause cause)
{
    switch (cause) {
    case OTK_UPC_NO_ANSWER:
    case OTK_UPC_PORT_UNREACH:
    case OTK_UPC_AUTH_NO_ANSWER:
    case OTK_UPC_STALLED:
    case OTK_UPC_STOPPED_READING:
    case OTK_UPC_DEV_STREAM_TIMEOUT:
    case OTK_UPC_DROPPED:
    case OTK_UPC_DROPPED_AFTER_ALL:
    case OTK_UPC_NO_RESULT:
    case OTK_UPC_DEV_MD5:
    /* the native protocol: never after the whole image went out (OTK_UPC_NAT_UNCONFIRMED) */
    case OTK_UPC_NAT_REFUSED:
    case OTK_UPC_NAT_CONNECT_TIMEOUT:
    case OTK_UPC_NAT_CONNECT_FAILED:
    case OTK_UPC_NAT_NO_ANSWER:
    case OTK_UPC_NAT_FRAME:
    case OTK_UPC_NAT_MD5: /* the device said so: it did not commit */
    case OTK_UPC_NAT_DEVICE_TIMEOUT:
    case OTK_UPC_NAT_DROPPED:
    case OTK_UPC_NAT_STALLED:
    /* the HTTP doors: never after the whole upload went out (OTK_UPC_HTTP_UNCONFIRMED) */
    case OTK_UPC_HTTP_REFUSED:
    case OTK_UPC_HTTP_CONNECT_TIMEOUT:
    case OTK_UPC_HTTP_CONNECT_FAILED:
    case OTK_UPC_HTTP_NO_ANSWER:
    case OTK_UPC_HTTP_DROPPED:
    case OTK_UPC_HTTP_STALLED:
        return true;
    default:
        return false;
    }
}

static bool
contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncasecmp(hay, needle, n))
            return true;
    return false;
}

enum otk_up_cause
otk_upload_classify_device_error(const char *text)
{
    /* ESP32 Updater strings and ESP8266 "ERROR[n]: ..." strings (espota-protocol.md §5, §7) */
    if (contains(text, "Not Enough Space") || contains(text, "Bad Size Given"))
        return OTK_UPC_DEV_TOO_BIG;
    if (contains(text, "Wrong Magic Byte") || contains(text, "Magic byte is not"))
        return OTK_UPC_DEV_NOT_FIRMWARE;
    if (contains(text, "MD5 Check Failed") || contains(text, "MD5 verification failed"))
        return OTK_UPC_DEV_MD5;
    if (contains(text, "Image For Another Chip")) /* otakit devices: the image's header said so */
        return OTK_UPC_DEV_WRONG_CHIP;
    if (contains(text, "Could Not Activate") || contains(text, "Flash config wrong") ||
        contains(text, "verification failed") || contains(text, "Decryption error"))
        return OTK_UPC_DEV_REJECTED;
    /* the device gave up waiting for data: the link stalled, worth another attempt */
    if (contains(text, "Stream Read Timeout"))
        return OTK_UPC_DEV_STREAM_TIMEOUT;
    return OTK_UPC_DEV_OTHER;
}

static const char *const state_names[] = {
    [OTK_UP_IDLE] = "idle",           [OTK_UP_INVITE] = "invite", [OTK_UP_AUTH] = "auth",
    [OTK_UP_CONNECT] = "connect",     [OTK_UP_SEND] = "send",     [OTK_UP_RESULT] = "result",
    [OTK_UP_BACKOFF] = "backoff",     [OTK_UP_DONE] = "done",     [OTK_UP_PROBE] = "probe",
    [OTK_UP_HANDSHAKE] = "handshake", [OTK_UP_CHECK] = "check",   [OTK_UP_WAIT] = "asleep",
};

const char *
otk_upload_state_name(enum otk_up_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

void
otk_upload_cfg_defaults(struct otk_upload_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->port = OTK_PORT_ESP32;
    c->invite_timeout_ms = 10000;
    c->auth_timeout_ms = 10000;
    c->connect_timeout_ms = 10000;
    c->stall_timeout_ms = 10000;
    c->result_timeout_ms = 60000;
    c->retries = 2;
    c->retry_backoff_ms = 1000;
}

/* ---- helpers ---- */

static bool
due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static void
emit(struct otk_upload *u, enum otk_up_event ev, const char *text)
{
    if (u->cfg.on_event)
        u->cfg.on_event(u->cfg.user, u, ev, text);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
dlog(struct otk_upload *u, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (!u->cfg.on_event)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(u, OTK_UP_EV_LOG, buf);
}

/* What the device sent, for the debug trace: at most max bytes, escaped (otk_text_escape) so
 * that one reply stays on one line. */
static const char *
escaped(char *out, size_t cap, const void *buf, size_t len, size_t max)
{
    otk_text_escape(out, cap, buf, len < max ? len : max);
    return out;
}

static void
set_state(struct otk_upload *u, enum otk_up_state s)
{
    if (u->state == s)
        return;
    u->state = s;
    emit(u, OTK_UP_EV_STATE, otk_upload_state_name(s));
}

static void
close_fd(int *fd)
{
    otk_net_close(fd);
}

static void
close_attempt(struct otk_upload *u)
{
    close_fd(&u->udp_fd);
    close_fd(&u->conn_fd);
    otk__upn_close_attempt(u);
    otk__uph_close_attempt(u);
}

void
otk_upload_close(struct otk_upload *u)
{
    close_attempt(u);
    close_fd(&u->listen_fd);
    otk__upn_free(u);
    otk__uph_free(u);
    otk_mdns_watch_close(u->watch);
    u->watch = NULL;
}

/* --wait: the look ended without a sign of the device. Look again in LOOK_GAP_MS unless the
 * wait is over. @return true if it goes on waiting. */
static bool
keep_waiting(struct otk_upload *u, uint32_t now, enum otk_up_cause cause)
{
    u->outcome.asleep_cause = cause;
    u->looks++;
    close_attempt(u);
    if (due(now, u->wait_end))
        return false;
    /* the last look comes at the end of the wait, not after it */
    u->deadline = u->retry_at =
        due(now + LOOK_GAP_MS, u->wait_end) ? u->wait_end : now + LOOK_GAP_MS;
    dlog(u, "no sign of the device yet (look %u); looking again in %.1f s, for %.0f s more",
         u->looks, LOOK_GAP_MS / 1000.0, (double)(int32_t)(u->wait_end - now) / 1000.0);
    set_state(u, OTK_UP_WAIT);
    return true;
}

/* Finish the attempt with a cause; the facts come from u (the caller wrote the cause's own
 * ones into u->outcome first). Transient failures with attempts left go to BACKOFF. */
static void
finish(struct otk_upload *u, uint32_t now, enum otk_up_cause cause)
{
    struct otk_upload_outcome *o = &u->outcome;

    if (cause != OTK_UPC_OK && otk__upw_asleep_cause(u, cause)) {
        if (keep_waiting(u, now, cause))
            return;
        o->figure = (long)u->looks;
        cause = OTK_UPC_NEVER_AWOKE;
    }
    if (cause == OTK_UPC_OK) {
        u->acked = u->sent; /* "OK" means the device has every byte, whatever we sampled last */
        if (u->emitted != u->acked) {
            u->emitted = u->acked;
            emit(u, OTK_UP_EV_PROGRESS, NULL);
        }
    }
    o->cause = cause;
    o->phase = u->state;
    o->sent = u->sent;
    o->acked = u->acked;
    o->tcp_acked = u->tcp_acked;
    o->claimed = u->parser.claimed;
    o->invites = u->invites;
    o->busy = u->busy;
    o->unreach = u->unreach;
    u->wire_bytes += otk__upn_owns(u) ? otk__upn_attempt_wire(u) : u->sent;
    close_attempt(u);
    if (cause != OTK_UPC_OK && otk_upload_cause_transient(cause) && u->attempt <= u->cfg.retries &&
        u->state != OTK_UP_IDLE) {
        uint32_t wait = u->cfg.retry_backoff_ms << (u->attempt - 1 < 8 ? u->attempt - 1 : 8);
        u->deadline = now + wait;
        u->retry_at = u->deadline;
        emit(u, OTK_UP_EV_RETRY, NULL);
        dlog(u, "attempt %u failed; next attempt in %.1f s", u->attempt, wait / 1000.0);
        set_state(u, OTK_UP_BACKOFF);
        return;
    }
    close_fd(&u->listen_fd);
    u->t_end = now;
    set_state(u, OTK_UP_DONE);
    emit(u, OTK_UP_EV_DONE, NULL);
}

/* Finish with one of the system's failures: its words go to the outcome. */
static void
finish_sys(struct otk_upload *u, uint32_t now, enum otk_up_cause cause, const char *words)
{
    snprintf(u->outcome.detail, sizeof u->outcome.detail, "%s", words);
    finish(u, now, cause);
}

/* ---- chips ---- */

/* The chip the image is built for: OTK_CHIP_UNKNOWN for filesystem images, heads that are no
 * app image, and chip ids otakit does not know (more likely a damaged header than a new chip). */
static int
image_chip(const struct otk_upload *u)
{
    int chip = u->cfg.spiffs ? OTK_CHIP_UNKNOWN : otk_image_chip(u->cfg.image, u->cfg.size);

    return otk_image_chip_name(chip) ? chip : OTK_CHIP_UNKNOWN;
}

/* ESP8266, or the ESP32 family (OTK_CHIP_ESP32 stands for all of it): what a port or an error
 * text can tell apart. */
static int
family(int chip)
{
    return chip == OTK_CHIP_UNKNOWN || chip == OTK_CHIP_ESP8266 ? chip : OTK_CHIP_ESP32;
}

/* The chip family the device's own words reveal: the ESP8266 core's Update errors read
 * "ERROR[n]: text" on TCP, the ESP32 core's bare "text"; over UDP only an ESP8266 refuses an
 * image as "Not Enough Space" (the ESP32 says "Bad Size Given"). */
static int
family_of_error(const char *text, bool udp)
{
    if (udp)
        return contains(text, "Not Enough Space") ? OTK_CHIP_ESP8266
               : contains(text, "Bad Size Given") ? OTK_CHIP_ESP32
                                                  : OTK_CHIP_UNKNOWN;
    return strncmp(text, "ERROR[", 6) == 0 ? OTK_CHIP_ESP8266 : OTK_CHIP_ESP32;
}

/* The image is for one chip and the device is another (device_chip, or its family). */
static void
wrong_chip(struct otk_upload *u, uint32_t now, int img, int dev, bool fam,
           enum otk_up_chip_source how)
{
    u->outcome.image_chip = img;
    u->outcome.device_chip = dev;
    u->outcome.device_family = fam;
    u->outcome.chip_source = how;
    finish(u, now, OTK_UPC_WRONG_CHIP);
}

/* A device busy with another host. "Update already running" means an upload is running (or
 * finishing): a challenge pending for another host gets no answer from the cores, nor from
 * otakit's device during its grace (docs/SECURITY.md). A device whose text names a challenge
 * is reported as such. */
static bool
busy_text(const char *text)
{
    return contains(text, "already running") || contains(text, "challenge");
}

static void
device_error(struct otk_upload *u, uint32_t now, const char *text, bool udp)
{
    enum otk_up_cause cause = otk_upload_classify_device_error(text);

    snprintf(u->outcome.device_text, sizeof u->outcome.device_text, "%s", text);
    u->outcome.via_udp = udp;
    if (cause == OTK_UPC_DEV_WRONG_CHIP || cause == OTK_UPC_DEV_TOO_BIG ||
        cause == OTK_UPC_DEV_REJECTED) {
        /* A refusal of an image for another chip: name both chips, whatever the words. */
        int img = image_chip(u), dev = family_of_error(text, udp);

        if (img != OTK_CHIP_UNKNOWN && dev != OTK_CHIP_UNKNOWN &&
            (cause == OTK_UPC_DEV_WRONG_CHIP || family(img) != dev)) {
            wrong_chip(u, now, img, dev, false, OTK_UP_CHIP_ERROR);
            return;
        }
    }
    finish(u, now, cause);
}

/* ---- UDP handshake ---- */

static int
open_udp(struct otk_upload *u)
{
    /* With -I, the invitation must come from that address: the device connects back to the
     * source address of the datagram. The port reports ICMP errors (port unreachable). */
    otk_sock fd = OTK_SOCK_NONE;
    if (otk_net_udp_open(u->bind, &fd) != OTK_NET_OK)
        return -1;
    return fd;
}

static void
send_dgram(struct otk_upload *u, const void *buf, size_t len, const char *what)
{
    long n = otk_net_sendto(u->udp_fd, buf, len, &u->dev);
    if (n < 0)
        dlog(u, "sending the %s to %s:%u failed: %s", what, u->dev_ip, u->cfg.port,
             otk_net_strerror());
    else
        dlog(u, "sent %s (%zu bytes) to %s:%u: %.*s", what, len, u->dev_ip, u->cfg.port,
             (int)(len && ((const char *)buf)[len - 1] == '\n' ? len - 1 : len), (const char *)buf);
}

static void
send_invite(struct otk_upload *u)
{
    char buf[96];
    size_t n = otk_proto_format_invite(buf, sizeof buf, u->cfg.spiffs ? OTK_CMD_FS : OTK_CMD_FLASH,
                                       u->listen_port, u->cfg.size, u->cfg.md5);
    u->invites++;
    send_dgram(u, buf, n, u->invites == 1 ? "invitation" : "invitation (retransmission)");
}

/* A handshake: a fresh UDP socket (a fresh source port, so late replies to an earlier one
 * cannot be mistaken for answers), an invitation, and retransmissions until an answer. */
static void
begin_handshake(struct otk_upload *u, uint32_t now)
{
    close_fd(&u->udp_fd);
    u->udp_fd = open_udp(u);
    if (u->udp_fd < 0) {
        finish_sys(u, now, OTK_UPC_UDP_OPEN, otk_net_strerror());
        return;
    }
    u->invites = 0;
    u->handshakes++;
    u->unreach = 0;
    u->busy = 0;
    u->answered = false;
    u->extra_challenge = false;
    set_state(u, OTK_UP_INVITE);
    send_invite(u);
    u->gap = INVITE_GAP0_MS;
    u->next_send = now + u->gap;
    u->deadline = now + u->cfg.invite_timeout_ms;
    if (otk_upload_asleep(u) && u->cfg.invite_timeout_ms > LOOK_INVITE_MS)
        u->deadline = now + LOOK_INVITE_MS; /* one look; the next comes after LOOK_GAP_MS */
}

static void
begin_attempt(struct otk_upload *u, uint32_t now)
{
    u->sent = u->acked = u->emitted = u->tcp_acked = u->end_digits = 0;
    u->outcome.violation = OTK_UPV_NONE;
    u->outcome.device_text[0] = 0;
    u->handshakes = 0;
    u->rerun_done = false;
    u->authenticated = false;
    u->grace_on = false;
    otk_ack_parser_init(&u->parser);
    begin_handshake(u, now);
}

static void
answer_challenge(struct otk_upload *u, uint32_t now, const char *nonce, size_t nonce_len)
{
    const struct otk_crypto_ops *c = u->cfg.crypto;
    const char *pw = u->cfg.password ? u->cfg.password : "";
    char secret[OTK_SHA256_HEX_LEN + 1], response[OTK_SHA256_HEX_LEN + 1];
    char cnonce[OTK_SHA256_HEX_LEN + 1];
    uint8_t rnd[32];
    size_t hex;

    if (nonce_len == OTK_MD5_HEX_LEN) {
        u->variant = OTK_AUTH_MD5;
    } else if (nonce_len == OTK_SHA256_HEX_LEN) {
        u->variant = OTK_AUTH_PBKDF2;
    } else {
        u->outcome.figure = (long)nonce_len;
        finish(u, now, OTK_UPC_BAD_NONCE);
        return;
    }
    if (!*pw) {
        finish(u, now, OTK_UPC_NO_PASSWORD);
        return;
    }
    hex = otk_auth_hex_len(u->variant);
    /* The secret the device stores: MD5 hex (legacy), SHA-256 hex (PBKDF2), or on PBKDF2
     * devices configured with an MD5 hash (-m, or the fallback) the MD5 hex. */
    otk_proto_password_secret(c, u->md5_secret ? OTK_AUTH_MD5 : u->variant, pw, strlen(pw), secret);
    /* espota derives the cnonce from file name, size and address; any string of the right
     * length works, and a random one does not leak anything. */
    if (c->random(c->user, rnd, hex / 2) != OTK_OK) {
        finish(u, now, OTK_UPC_RANDOM_FAILED);
        return;
    }
    otk_hex(rnd, hex / 2, cnonce);
    if (otk_proto_auth_response(c, u->variant, secret, strlen(secret), nonce, nonce_len, cnonce,
                                hex, response) != OTK_OK) {
        finish(u, now, OTK_UPC_AUTH_COMPUTE);
        return;
    }
    u->answer_len = otk_proto_format_auth(u->answer, sizeof u->answer, cnonce, response, hex);
    dlog(u, "AUTH challenge (%s, nonce %.*s); answering with the %s password hash",
         u->variant == OTK_AUTH_MD5 ? "MD5" : "PBKDF2-HMAC-SHA256", (int)nonce_len, nonce,
         u->md5_secret || u->variant == OTK_AUTH_MD5 ? "MD5" : "SHA-256");
    set_state(u, OTK_UP_AUTH);
    send_dgram(u, u->answer, u->answer_len, "auth answer");
    u->gap = AUTH_GAP0_MS;
    u->next_send = now + u->gap;
    u->deadline = now + u->cfg.auth_timeout_ms;
}

static void
auth_failed(struct otk_upload *u, uint32_t now)
{
    /* Several invitations in flight can make the device wait for another nonce than the one
     * we answered (a retransmission knocked it out of WAITAUTH and a later one started a new
     * challenge): that failure says nothing about the password, so run the handshake again. */
    if ((u->invites > 1 || u->extra_challenge) && !u->rerun_done) {
        u->rerun_done = true;
        dlog(u, "\"Authentication Failed\" with several invitations in flight: repeating the "
                "handshake once to rule out a crossed challenge");
        begin_handshake(u, now);
        return;
    }
    if (u->variant == OTK_AUTH_PBKDF2 && !u->md5_secret) {
        /* arduino-esp32 >= 3.3.1 sketches may still pass an MD5 hash to setPasswordHash();
         * after a failure the device is IDLE, so a fresh invitation gets a fresh nonce. */
        u->md5_secret = true;
        u->rerun_done = false;
        dlog(u, "\"Authentication Failed\" with the SHA-256 password hash; retrying with the "
                "MD5 hash (devices whose sketch sets an MD5 hash)");
        begin_handshake(u, now);
        return;
    }
    finish(u, now, OTK_UPC_AUTH_FAILED);
}

static void
connected(struct otk_upload *u, uint32_t now, int fd, const struct sockaddr_in *peer)
{
    char ip[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &peer->sin_addr, ip, sizeof ip);
    dlog(u, "device connected from %s:%u%s", ip, ntohs(peer->sin_port),
         u->state == OTK_UP_CONNECT ? "" : " (its UDP OK was lost or is still on its way)");
    u->conn_fd = fd;
    close_fd(&u->udp_fd);
    u->t_data = now;
    u->progress_t = now;
    u->event_t = now;
    u->lock_wait = false;
    set_state(u, OTK_UP_SEND);
}

/* A datagram or a connection that is not the device's: refused, noted for messages. */
static void
stranger(struct otk_upload *u, const struct sockaddr_in *from, const char *what)
{
    char ip[INET_ADDRSTRLEN];

    inet_ntop(AF_INET, &from->sin_addr, ip, sizeof ip);
    snprintf(u->outcome.stranger, sizeof u->outcome.stranger, "%s:%u", ip, ntohs(from->sin_port));
    u->outcome.strangers++;
    dlog(u, "refused %s from %s: %s", what, u->outcome.stranger,
         from->sin_addr.s_addr != u->dev.sin_addr.s_addr
             ? "not the device's address"
             : "the device has not answered the invitation yet");
}

/* Only the device may connect, and only once it answered this handshake: a connection from
 * anywhere else, or before, is closed at once and the listener waits for the real one. */
static void
try_accept(struct otk_upload *u, uint32_t now)
{
    struct sockaddr_in peer;
    otk_sock fd = OTK_SOCK_NONE;
    int rc = otk_net_accept(u->listen_fd, &fd, &peer);
    if (rc != OTK_NET_OK) {
        if (rc != OTK_NET_AGAIN)
            dlog(u, "accept failed: %s", otk_net_strerror());
        return;
    }
    if (!u->answered || peer.sin_addr.s_addr != u->dev.sin_addr.s_addr) {
        otk_net_close(&fd);
        stranger(u, &peer, "a TCP connection");
        return;
    }
    connected(u, now, fd, &peer);
}

/* Read the ICMP errors the port queued. @return true if one was "port unreachable". */
static bool
drain_errqueue(struct otk_upload *u)
{
    char text[128];
    bool unreach = otk_net_take_icmp(u->udp_fd, text, sizeof text);
    if (text[0])
        dlog(u, "ICMP error from the network: %s", text);
    return unreach;
}

static void
no_answer(struct otk_upload *u, uint32_t now)
{
    finish(u, now, u->busy ? OTK_UPC_BUSY : u->unreach ? OTK_UPC_PORT_UNREACH : OTK_UPC_NO_ANSWER);
}

/* An error text answered to the invitation or the auth answer. */
static void
error_reply(struct otk_upload *u, uint32_t now, const struct otk_reply *r)
{
    char t[160];

    otk_text_escape(t, sizeof t, (const uint8_t *)r->text, r->text_len);
    if (u->state == OTK_UP_INVITE && busy_text(t)) {
        /* Busy with another upload, or finishing one: not final. Keep inviting, once a
         * second, until it is free or -t runs out (no_answer() then says so). */
        snprintf(u->outcome.device_text, sizeof u->outcome.device_text, "%s", t);
        u->busy++;
        u->gap = BUSY_GAP_MS;
        u->next_send = now + BUSY_GAP_MS;
        dlog(u, "the device is busy; inviting again in %.1f s", BUSY_GAP_MS / 1000.0);
        return;
    }
    device_error(u, now, t, true);
}

/* One datagram from the device (shown: its escaped text, for messages). */
static void
handle_reply(struct otk_upload *u, uint32_t now, const struct otk_reply *r, const char *shown)
{
    if (u->state == OTK_UP_CONNECT) {
        char t[160];
        otk_text_escape(t, sizeof t, (const uint8_t *)r->text, r->text_len);
        /* "already running" after our "OK" answers a late copy of our own invitation: the
         * session it refers to is ours, so it is no reason to give up. */
        if (r->kind == OTK_REPLY_ERR && !contains(t, "already running"))
            device_error(u, now, t, true);
        return; /* duplicates of OK and such: nothing to do */
    }
    if (r->kind == OTK_REPLY_OK || r->kind == OTK_REPLY_AUTH)
        u->outcome.device_text[0] = 0; /* a busy answer before this one is history */
    switch (r->kind) {
    case OTK_REPLY_OK:
        u->answered = true;
        if (u->state == OTK_UP_AUTH)
            u->authenticated = true;
        dlog(u, "device accepted; waiting up to %.0f s for it to connect to %s:%u",
             u->cfg.connect_timeout_ms / 1000.0, u->local_ip, u->listen_port);
        set_state(u, OTK_UP_CONNECT);
        u->deadline = now + u->cfg.connect_timeout_ms;
        break;
    case OTK_REPLY_AUTH:
        u->answered = true;
        if (u->state == OTK_UP_INVITE) {
            answer_challenge(u, now, r->text, r->text_len);
        } else {
            /* a second challenge: a retransmitted invitation started another session */
            u->extra_challenge = true;
            dlog(u, "a second AUTH challenge arrived; ignoring it");
        }
        break;
    case OTK_REPLY_AUTH_FAILED:
        if (u->state == OTK_UP_AUTH)
            auth_failed(u, now);
        else
            finish(u, now, OTK_UPC_AUTH_UNSOLICITED);
        break;
    case OTK_REPLY_ERR:
        error_reply(u, now, r);
        break;
    case OTK_REPLY_OTHER:
        finish_sys(u, now, OTK_UPC_UNEXPECTED_REPLY, shown);
        break;
    }
}

static void
handle_udp(struct otk_upload *u, uint32_t now, short revents)
{
    if (revents & POLLERR) {
        if (drain_errqueue(u))
            u->unreach++;
    }
    for (unsigned k = 0;
         k < DGRAM_BUDGET && u->udp_fd >= 0 &&
         (u->state == OTK_UP_INVITE || u->state == OTK_UP_AUTH || u->state == OTK_UP_CONNECT);
         k++) {
        uint8_t dg[512];
        struct sockaddr_in from;
        long n = otk_net_recvfrom(u->udp_fd, dg, sizeof dg - 1, &from);
        if (n < 0) {
            if (n == OTK_NET_UNREACH) {
                u->unreach++;
                (void)drain_errqueue(u);
                continue;
            }
            break;
        }
        if (from.sin_addr.s_addr != u->dev.sin_addr.s_addr) {
            stranger(u, &from, "a UDP reply");
            continue;
        }
        dg[n] = 0;
        otk__up_woke(u, now, "it answered the ArduinoOTA invitation");
        if (u->cfg.protocol == OTK_UP_PROTO_AUTO && !u->detected[0])
            otk__up_detected(u, "ArduinoOTA on UDP %u (it answered the invitation)", u->cfg.port);
        struct otk_reply r;
        otk_proto_parse_reply(dg, (size_t)n, &r);
        char shown[640];
        escaped(shown, sizeof shown, dg, (size_t)n, 150);
        dlog(u, "UDP reply from %s:%u in state %s: \"%s\"", inet_ntoa(from.sin_addr),
             ntohs(from.sin_port), otk_upload_state_name(u->state), shown);
        handle_reply(u, now, &r, shown);
    }
}

/* ---- data phase ---- */

/* The device broke the protocol (figure: the violation's number of bytes). Never retried: a
 * device that lies once lies again. */
static void
protocol_error(struct otk_upload *u, uint32_t now, enum otk_up_violation v, long figure)
{
    u->outcome.violation = v;
    u->outcome.figure = figure;
    finish(u, now, OTK_UPC_PROTOCOL);
}

/* Every honest device, before its "OK", has been sent every byte, acked after the last one
 * arrived, and let its TCP stack acknowledge all of them. (Its acks cannot be required to add
 * up to the image: joined by TCP, an ESP8266's acks of more than 1460 bytes read short.) */
static void
judge_ok(struct otk_upload *u, uint32_t now)
{
    long unacked = otk_net_unacked(u->conn_fd);

    if (u->sent < u->cfg.size)
        protocol_error(u, now, OTK_UPV_OK_BEFORE_SENT, u->sent);
    else if (u->parser.digits == u->end_digits)
        protocol_error(u, now, OTK_UPV_OK_WITHOUT_END_ACK, 0);
    else if (unacked > 0)
        protocol_error(u, now, OTK_UPV_OK_BEFORE_TCP_ACK, unacked);
    else
        finish(u, now, OTK_UPC_OK);
}

static void
conclude_closed(struct otk_upload *u, uint32_t now, enum otk_up_close how)
{
    u->outcome.closed = how;
    if (u->parser.ok)
        judge_ok(u, now);
    else if (u->parser.error)
        device_error(u, now, u->parser.text, false);
    else
        finish(u, now, u->tcp_acked >= u->cfg.size ? OTK_UPC_DROPPED_AFTER_ALL : OTK_UPC_DROPPED);
}

/* Progress is what the device acknowledged with its acks, never more than its TCP stack
 * acknowledged (the bytes still queued in the device's kernel or in flight are not written
 * yet). Either moving counts against the stall timeout. */
static void
update_acked(struct otk_upload *u, uint32_t now)
{
    uint32_t tcp = u->sent, acked;
    /* bytes still in our send queue (unsent or not acknowledged by the device's stack); where
     * the system cannot tell, the socket's intake is the bound */
    long outq = u->conn_fd >= 0 ? otk_net_unacked(u->conn_fd) : -1;
    if (outq == OTK_NET_RESET)
        tcp = u->tcp_acked; /* the queue is lost: the last figure seen stays */
    else if (outq > 0 && (uint32_t)outq <= u->sent)
        tcp = u->sent - (uint32_t)outq;
    if (tcp != u->tcp_acked) {
        u->tcp_acked = tcp;
        u->progress_t = now;
    }
    acked = u->parser.claimed < tcp ? u->parser.claimed : tcp;
    if (acked != u->acked) {
        u->acked = acked;
        u->progress_t = now;
        if (now - u->event_t >= PROGRESS_TICK || acked == u->cfg.size) {
            u->event_t = now;
            u->emitted = acked;
            emit(u, OTK_UP_EV_PROGRESS, NULL);
        }
    }
}

/* What the replies read so far decide. */
static void
judge_replies(struct otk_upload *u, uint32_t now, bool had_error)
{
    const struct otk_ack_parser *p = &u->parser;

    if (p->claimed_min > u->sent) {
        protocol_error(u, now, OTK_UPV_OVER_ACK, p->claimed_min);
    } else if (p->garbage) {
        if (p->text_total > OTK_ACK_TEXT_MAX) {
            snprintf(u->outcome.detail, sizeof u->outcome.detail, "%.60s", p->text);
            protocol_error(u, now, OTK_UPV_TEXT_TOO_LONG, OTK_ACK_TEXT_MAX);
        } else {
            protocol_error(u, now, OTK_UPV_SEPARATORS, OTK_ACK_SEP_MAX);
        }
    } else if (p->ok) {
        judge_ok(u, now);
    } else if (p->error && !had_error) {
        /* the text runs to the close; give it a moment to arrive complete */
        u->grace_on = true;
        u->grace = now + ERROR_GRACE_MS;
    }
}

static void
read_replies(struct otk_upload *u, uint32_t now)
{
    /* a budget per step, so that a device flooding us cannot keep the deadlines from being
     * checked */
    for (size_t budget = READ_BUDGET; budget > 0;) {
        uint8_t buf[512];
        size_t want = budget < sizeof buf ? budget : sizeof buf;
        long n = otk_net_recv(u->conn_fd, buf, want);
        if (n > 0) {
            bool had_error = u->parser.error;
            budget -= (size_t)n;
            update_acked(u, now);
            u->parser.room =
                u->tcp_acked > u->parser.claimed ? u->tcp_acked - u->parser.claimed : 0;
            otk_ack_parser_feed(&u->parser, buf, (size_t)n);
            if ((size_t)n < want) /* the socket is empty: its digits end an ack */
                otk_ack_parser_end_run(&u->parser);
            update_acked(u, now);
            u->lock_wait = false;
            /* acks are many and say little: log the first one and any text */
            if (u->parser.ack_count <= 1 || u->parser.error || u->parser.ok ||
                u->parser.pending_o) {
                char shown[640];
                dlog(u, "device says: \"%s\"", escaped(shown, sizeof shown, buf, (size_t)n, 100));
            }
            judge_replies(u, now, had_error);
            if (u->state != OTK_UP_SEND && u->state != OTK_UP_RESULT)
                return;
            continue;
        }
        if (n == 0) {
            conclude_closed(u, now, OTK_UP_CLOSED);
            return;
        }
        if (n == OTK_NET_AGAIN)
            return;
        conclude_closed(u, now, n == OTK_NET_RESET ? OTK_UP_RESET : OTK_UP_LOST);
        return;
    }
}

static void
write_image(struct otk_upload *u, uint32_t now)
{
    while (u->sent < u->cfg.size && !u->lock_wait && !u->parser.error) {
        uint32_t rem = u->cfg.size - u->sent;
        uint32_t len = rem < SLICE_MAX ? rem : SLICE_MAX;
        if (u->cfg.lockstep) {
            /* finish the current 1024-byte chunk, then wait for an ack (espota.py) */
            uint32_t in_chunk = LOCKSTEP_CHUNK - u->sent % LOCKSTEP_CHUNK;
            len = rem < in_chunk ? rem : in_chunk;
        }
        long n = otk_net_send(u->conn_fd, u->cfg.image + u->sent, len);
        if (n < 0) {
            if (n == OTK_NET_AGAIN)
                break;
            /* the device may have written its reason before closing */
            read_replies(u, now);
            if (u->state == OTK_UP_SEND)
                conclude_closed(u, now, n == OTK_NET_PIPE ? OTK_UP_CLOSED : OTK_UP_LOST);
            return;
        }
        u->sent += (uint32_t)n;
        if (u->cfg.lockstep && u->sent % LOCKSTEP_CHUNK == 0)
            u->lock_wait = true;
    }
    if (u->sent >= u->cfg.size && u->state == OTK_UP_SEND) {
        dlog(u, "all %u bytes written; waiting for the device's result", u->cfg.size);
        u->end_digits = u->parser.digits; /* the device's last ack is still to come */
        u->deadline = 0;
        set_state(u, OTK_UP_RESULT);
    }
}

static void
data_timers(struct otk_upload *u, uint32_t now)
{
    update_acked(u, now);
    if (u->grace_on && due(now, u->grace)) {
        device_error(u, now, u->parser.text, false);
        return;
    }
    if (u->grace_on)
        return;
    if (u->tcp_acked < u->cfg.size || u->state == OTK_UP_SEND) {
        if (now - u->progress_t >= u->cfg.stall_timeout_ms)
            finish(u, now, OTK_UPC_STALLED);
        return;
    }
    /* everything acknowledged by the device's TCP stack: now it verifies and answers */
    if (u->deadline == 0) {
        u->deadline = now + u->cfg.result_timeout_ms;
        dlog(u,
             "the device's network stack has all %u bytes (its acks account for %u); waiting up "
             "to %.0f s for its result",
             u->cfg.size, u->acked, u->cfg.result_timeout_ms / 1000.0);
    } else if (due(now, u->deadline) && u->acked < u->cfg.size) {
        /* the kernel took the rest, the application did not: it stopped reading */
        finish(u, now, OTK_UPC_STOPPED_READING);
    } else if (due(now, u->deadline)) {
        finish(u, now, OTK_UPC_NO_RESULT);
    }
}

/* ---- public ---- */

void
otk_upload_init(struct otk_upload *u, const struct otk_upload_cfg *cfg)
{
    memset(u, 0, sizeof *u);
    u->cfg = *cfg;
    u->udp_fd = u->listen_fd = u->conn_fd = -1;
    u->probe.fd = OTK_SOCK_NONE;
    u->mdns_says = OTK_UP_PROTO_AUTO; /* nothing yet */
    u->md5_secret = cfg->md5_target;
    u->state = OTK_UP_IDLE;
}

/* -I as an address: u->bind (both protocols use it: the listener, or the connection's source). */
static int
resolve_bind(struct otk_upload *u, uint32_t now)
{
    struct in_addr ip;
    const char *hip = u->cfg.host_ip ? u->cfg.host_ip : "0.0.0.0";
    char why[128];

    /* espota binds to whatever Python's bind() accepts: host names too */
    if (inet_pton(AF_INET, hip, &ip) != 1 && otk_net_resolve4(hip, &ip, why, sizeof why) != 0) {
        finish(u, now, OTK_UPC_BIND_ADDR);
        return -1;
    }
    u->bind = ip;
    return 0;
}

static int
open_listener(struct otk_upload *u, uint32_t now)
{
    int rc =
        otk_net_tcp_listen(u->bind, u->cfg.host_port, SNDBUF_CAP, &u->listen_fd, &u->listen_port);
    if (rc != OTK_NET_OK) {
        u->outcome.net_rc = rc;
        finish_sys(u, now, OTK_UPC_LISTEN, otk_net_strerror());
        return -1;
    }
    return 0;
}

/* The address the device will connect back to: -I, or the source address the kernel picks
 * for datagrams to the device. Only needed for messages. */
static void
find_local_ip(struct otk_upload *u)
{
    if (u->bind.s_addr != htonl(INADDR_ANY)) {
        inet_ntop(AF_INET, &u->bind, u->local_ip, sizeof u->local_ip);
        return;
    }
    snprintf(u->local_ip, sizeof u->local_ip, "<this host>");
    struct in_addr src;
    if (otk_net_source_for(&u->dev, &src) == 0)
        inet_ntop(AF_INET, &src, u->local_ip, sizeof u->local_ip);
}

/* What a .local device's mDNS records said: its board, its port, its protocol for auto. */
static void
mdns_found(struct otk_upload *u, const struct otk_mdns_device *dev)
{
    dlog(u, "%s resolved by mDNS (port %u, board \"%s\"%s%s)", u->cfg.target, dev->port, dev->board,
         dev->esphome ? ", _esphomelib._tcp, platform " : "", dev->platform);
    snprintf(u->board, sizeof u->board, "%s", dev->board);
    if (u->cfg.port_auto && dev->port)
        u->cfg.port = dev->port; /* what the device publishes beats any default */
    otk__upn_mdns(u, dev);
}

static void
set_address(struct otk_upload *u, struct in_addr ip)
{
    memset(&u->dev, 0, sizeof u->dev);
    u->dev.sin_family = AF_INET;
    u->dev.sin_addr = ip;
    u->dev.sin_port = htons(u->cfg.port);
    inet_ntop(AF_INET, &u->dev.sin_addr, u->dev_ip, sizeof u->dev_ip);
}

static int
resolve(struct otk_upload *u, uint32_t now)
{
    const char *t = u->cfg.target;
    struct in_addr ip;
    char why[128];
    bool mdns = otk_mdns_is_local(t);
    struct otk_mdns_device dev;

    /* ".local" belongs to mDNS (RFC 6762 §3): ask the link ourselves, so that no avahi /
     * Bonjour is needed; the system resolver remains the fallback. -I picks the interface. */
    if (mdns && otk_mdns_resolve_device(t, u->cfg.host_ip,
                                        otk_upload_asleep(u) ? LOOK_MDNS_MS : OTK_MDNS_RESOLVE_MS,
                                        (uint8_t *)&ip, &dev) == OTK_OK) {
        otk__up_woke(u, now, "it answered the mDNS query for its name");
        mdns_found(u, &dev);
    } else if (otk_net_resolve4(t, &ip, why, sizeof why) != 0) {
        struct in6_addr a6;
        u->outcome.mdns = mdns;
        if (inet_pton(AF_INET6, t, &a6) == 1)
            finish(u, now, OTK_UPC_IPV6);
        else
            finish_sys(u, now, OTK_UPC_NOT_RESOLVED, why);
        return -1;
    }
    set_address(u, ip);
    return 0;
}

/* --wait for a .local name: the watcher asks every 2 s and hears the device's announcement.
 * @return 1: the address is known, 0: still asleep (state WAIT), -1: no watcher could be had
 * (ask as usual) */
static int
watch_name(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    struct otk_mdns_device dev;
    struct in_addr ip;
    bool announced;

    if (!u->watch)
        u->watch = otk_mdns_watch_open(u->cfg.target, u->cfg.host_ip, now);
    if (!u->watch)
        return -1;
    if (otk_mdns_watch_step(u->watch, fds, n, now, (uint8_t *)&ip, &dev, &announced)) {
        otk_mdns_watch_close(u->watch);
        u->watch = NULL;
        otk__up_woke(u, now,
                     announced ? "it announced itself by mDNS"
                               : "it answered the mDNS query for its name");
        mdns_found(u, &dev);
        set_address(u, ip);
        return 1;
    }
    if (due(now, u->wait_end)) {
        u->outcome.mdns = true;
        finish_sys(u, now, OTK_UPC_NOT_RESOLVED, "no mDNS answer and no announcement");
        return 0;
    }
    u->deadline = u->wait_end;
    set_state(u, OTK_UP_WAIT);
    return 0;
}

/* The chip an mDNS TXT board value names (ARDUINO_BOARD: "ESP8266_GENERIC", "ESP32_DEV",
 * "ESP32S3_DEV"; "esp32" from otakit device): the ESP8266, or "ESP32" followed by a variant
 * otk_image_chip_name() knows (S3, C3, ... with or without '-' / '_') or by nothing of the
 * kind (the ESP32 itself); OTK_CHIP_UNKNOWN where the board name says no chip
 * ("M5STACK_CORE2"). */
static int
board_chip(const char *board)
{
    const char *p = board;

    if (contains(board, "8266"))
        return OTK_CHIP_ESP8266;
    while (*p && strncasecmp(p, "ESP32", 5) != 0)
        p++;
    if (!*p)
        return OTK_CHIP_UNKNOWN;
    p += 5;
    if (*p == '-' || *p == '_')
        p++;
    /* ESP-IDF's chip ids are small numbers; the names of the variants read "ESP32-<variant>" */
    for (int id = OTK_CHIP_ESP32 + 1; id < 64; id++) {
        const char *name = otk_image_chip_name(id);
        size_t n = name ? strlen(name + 6) : 0;

        if (n && !strncasecmp(p, name + 6, n) && !isalnum((unsigned char)p[n]))
            return id;
    }
    return OTK_CHIP_ESP32;
}

/* Before a byte goes out: an app image for another chip than the device's mDNS TXT board
 * names, or of another family than its port says (3232: the ESP32 family, 8266: the ESP8266),
 * is refused, unless --force. */
static bool
chip_refused(struct otk_upload *u, uint32_t now)
{
    int img = image_chip(u);
    int dev = u->cfg.port == OTK_PORT_ESP8266 ? OTK_CHIP_ESP8266
              : u->cfg.port == OTK_PORT_ESP32 ? OTK_CHIP_ESP32
                                              : OTK_CHIP_UNKNOWN;
    int named = board_chip(u->board);

    if (u->cfg.force || img == OTK_CHIP_UNKNOWN)
        return false;
    if (named != OTK_CHIP_UNKNOWN) {
        if (named == img)
            return false;
        wrong_chip(u, now, img, named, false, OTK_UP_CHIP_BOARD);
        return true;
    }
    if (dev == OTK_CHIP_UNKNOWN || family(img) == dev)
        return false;
    wrong_chip(u, now, img, dev, dev == OTK_CHIP_ESP32, OTK_UP_CHIP_PORT);
    return true;
}

/* Where the device is and whether the image may go there (resolve once, chip, -I).
 * @return 0, or -1 when the upload ended or waits for the device (--wait) */
static int
locate(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (!u->resolved) {
        int w =
            u->cfg.wait_ms && otk_mdns_is_local(u->cfg.target) ? watch_name(u, fds, n, now) : -1;
        if (w == 0 || (w < 0 && resolve(u, now) < 0) || chip_refused(u, now))
            return -1;
        u->resolved = true;
    }
    return resolve_bind(u, now);
}

static void
start_protocol(struct otk_upload *u, uint32_t now)
{
    if (u->cfg.protocol == OTK_UP_PROTO_ELEGANTOTA || u->cfg.protocol == OTK_UP_PROTO_WEB) {
        otk__uph_start(u, now);
    } else if (u->cfg.protocol != OTK_UP_PROTO_ARDUINO) {
        otk__upn_start(u, now);
    } else {
        dlog(u, "protocol: arduino (ArduinoOTA), as asked");
        otk__up_begin_arduino(u, now);
    }
}

int
otk_upload_start(struct otk_upload *u, uint32_t now)
{
    u->t_begin = now;
    u->attempt = 1;
    u->wire_bytes = 0;
    u->resumed_at = 0;
    u->wait_end = now + u->cfg.wait_ms;
    if (otk_net_init() != OTK_NET_OK) {
        finish_sys(u, now, OTK_UPC_NET_INIT, otk_net_strerror());
        return -1;
    }
    if (u->cfg.wait_ms)
        dlog(u, "waiting up to %.0f s for the device to show itself", u->cfg.wait_ms / 1000.0);
    if (locate(u, NULL, 0, now) == 0)
        start_protocol(u, now);
    return u->state == OTK_UP_DONE ? -1 : 0;
}

/* --wait: the next look for a device that has not shown itself. */
static void
look_again(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (!u->watch)
        dlog(u, "look %u for the device", u->looks + 1);
    if (locate(u, fds, n, now) == 0)
        start_protocol(u, now);
}

int
otk__up_begin_arduino(struct otk_upload *u, uint32_t now)
{
    /* --wait: the listener of an earlier look is still open */
    if (u->listen_fd < 0 && open_listener(u, now) < 0)
        return -1;
    find_local_ip(u);
    dlog(u, "device %s is %s:%u; listening for its connection on %s:%u (TCP)", u->cfg.target,
         u->dev_ip, u->cfg.port, u->local_ip, u->listen_port);
    begin_attempt(u, now);
    return u->state == OTK_UP_DONE ? -1 : 0;
}

size_t
otk_upload_pollfds(const struct otk_upload *u, struct pollfd *fds, size_t cap)
{
    size_t n = 0;

    if (u->state == OTK_UP_WAIT)
        return u->watch ? otk_mdns_watch_pollfds(u->watch, fds, cap) : 0;
    if (otk__uph_owns(u))
        return otk__uph_pollfds(u, fds, cap);
    if (otk__upn_owns(u))
        return otk__upn_pollfds(u, fds, cap);

#define ADD(fd_, ev_)                                                                              \
    do {                                                                                           \
        if ((fd_) >= 0 && n < cap) {                                                               \
            fds[n].fd = (fd_);                                                                     \
            fds[n].events = (ev_);                                                                 \
            fds[n].revents = 0;                                                                    \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)
    switch (u->state) {
    case OTK_UP_INVITE:
    case OTK_UP_AUTH:
    case OTK_UP_CONNECT:
        ADD(u->udp_fd, POLLIN);
        ADD(u->listen_fd, POLLIN);
        break;
    case OTK_UP_SEND:
        ADD(u->conn_fd, POLLIN | (u->lock_wait || u->parser.error ? 0 : POLLOUT));
        break;
    case OTK_UP_RESULT:
        ADD(u->conn_fd, POLLIN);
        break;
    default:
        break;
    }
#undef ADD
    return n;
}

int32_t
otk_upload_next_ms(const struct otk_upload *u, uint32_t now)
{
    int32_t d;

    if (u->state != OTK_UP_WAIT && otk__uph_owns(u))
        return otk__uph_next_ms(u, now);
    if (otk__upn_owns(u) && u->state != OTK_UP_BACKOFF && u->state != OTK_UP_DONE &&
        u->state != OTK_UP_WAIT)
        return otk__upn_next_ms(u, now);
    switch (u->state) {
    case OTK_UP_INVITE:
    case OTK_UP_AUTH:
        d = (int32_t)(u->deadline - now);
        if ((int32_t)(u->next_send - now) < d)
            d = (int32_t)(u->next_send - now);
        return d < 0 ? 0 : d;
    case OTK_UP_WAIT:
        if (u->watch && otk_mdns_watch_next_ms(u->watch, now) < (int32_t)(u->deadline - now))
            return otk_mdns_watch_next_ms(u->watch, now);
        /* fall through */
    case OTK_UP_CONNECT:
    case OTK_UP_BACKOFF:
        d = (int32_t)(u->deadline - now);
        return d < 0 ? 0 : d;
    case OTK_UP_SEND:
    case OTK_UP_RESULT:
        /* progress sampling, stall and result deadlines */
        return PROGRESS_TICK;
    default:
        return -1;
    }
}

static short
revents_of(const struct pollfd *fds, size_t n, int fd)
{
    if (fd < 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((otk_sock)fds[i].fd == fd) /* Winsock's SOCKET is unsigned */
            return fds[i].revents;
    return 0;
}

void
otk_upload_step(struct otk_upload *u, const struct pollfd *fds, size_t n, uint32_t now)
{
    short ev;

    if (u->state != OTK_UP_WAIT && otk__uph_owns(u)) {
        otk__uph_step(u, fds, n, now);
        return;
    }
    if (otk__upn_owns(u) && u->state != OTK_UP_BACKOFF && u->state != OTK_UP_DONE &&
        u->state != OTK_UP_WAIT) {
        otk__upn_step(u, fds, n, now);
        return;
    }
    switch (u->state) {
    case OTK_UP_INVITE:
    case OTK_UP_AUTH:
    case OTK_UP_CONNECT:
        /* UDP first: an answer that arrived with the connection explains it */
        ev = revents_of(fds, n, u->udp_fd);
        if (ev)
            handle_udp(u, now, ev);
        if (u->state == OTK_UP_DONE || u->state == OTK_UP_BACKOFF)
            return;
        if (u->listen_fd >= 0 && (revents_of(fds, n, u->listen_fd) & POLLIN)) {
            try_accept(u, now);
            if (u->state == OTK_UP_SEND) {
                write_image(u, now);
                return;
            }
        }
        if (u->state == OTK_UP_INVITE) {
            if (u->unreach >= PORT_UNREACH_GIVEUP || due(now, u->deadline)) {
                no_answer(u, now);
            } else if (due(now, u->next_send)) {
                send_invite(u);
                u->gap *= 2;
                u->next_send = now + u->gap;
            }
        } else if (u->state == OTK_UP_AUTH) {
            if (due(now, u->deadline)) {
                finish(u, now, OTK_UPC_AUTH_NO_ANSWER);
            } else if (due(now, u->next_send)) {
                /* Same datagram, same socket: harmless in every device state (in IDLE a 200
                 * is ignored, in RUNUPDATE UDP is not read). */
                send_dgram(u, u->answer, u->answer_len, "auth answer (retransmission)");
                u->gap *= 2;
                u->next_send = now + u->gap;
            }
        } else if (u->state == OTK_UP_CONNECT && due(now, u->deadline)) {
            finish(u, now, OTK_UPC_NO_CONNECT);
        }
        return;
    case OTK_UP_SEND:
    case OTK_UP_RESULT:
        ev = revents_of(fds, n, u->conn_fd);
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            read_replies(u, now);
            if (u->state != OTK_UP_SEND && u->state != OTK_UP_RESULT)
                return;
        }
        if (u->state == OTK_UP_SEND && (ev & POLLOUT)) {
            write_image(u, now);
            if (u->state != OTK_UP_SEND && u->state != OTK_UP_RESULT)
                return;
        }
        data_timers(u, now);
        return;
    case OTK_UP_BACKOFF:
        if (due(now, u->deadline)) {
            u->attempt++;
            dlog(u, "attempt %u of %u", u->attempt, u->cfg.retries + 1);
            if (u->proto == OTK_UP_PROTO_ESPHOME)
                otk__upn_begin_attempt(u, now);
            else if (u->proto == OTK_UP_PROTO_ELEGANTOTA || u->proto == OTK_UP_PROTO_WEB)
                otk__uph_begin_attempt(u, now);
            else
                begin_attempt(u, now);
        }
        return;
    case OTK_UP_WAIT:
        if (u->watch || due(now, u->deadline))
            look_again(u, fds, n, now);
        return;
    default:
        return;
    }
}

void
otk_upload_abort(struct otk_upload *u, uint32_t now, const char *why)
{
    if (u->state == OTK_UP_DONE)
        return;
    u->cfg.retries = 0;
    u->state = OTK_UP_IDLE; /* so that finish() does not schedule a retry */
    finish_sys(u, now, OTK_UPC_ABORTED, why);
}

/* ---- for the native protocol's half (upload_int.h) ---- */

void
otk__up_finish(struct otk_upload *u, uint32_t now, enum otk_up_cause cause)
{
    finish(u, now, cause);
}

void
otk__up_device_error(struct otk_upload *u, uint32_t now, const char *text)
{
    device_error(u, now, text, false);
}

void
otk__up_set_state(struct otk_upload *u, enum otk_up_state s)
{
    set_state(u, s);
}

void
otk__up_emit(struct otk_upload *u, enum otk_up_event ev, const char *text)
{
    emit(u, ev, text);
}

void
otk__up_dlog(struct otk_upload *u, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (!u->cfg.on_event)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(u, OTK_UP_EV_LOG, buf);
}
