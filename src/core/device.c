/* SPDX-License-Identifier: MIT */
/* The ArduinoOTA device engine. Wire behaviour follows the ESP32 and ESP8266 cores (see
 * docs/PROTOCOL.md) with their known bugs fixed where the fix is invisible to a correct host:
 * a repeated invitation gets the same challenge again, the wait for AUTH times out, begin
 * failures reach the host on every profile, a second uploader is told the device is busy,
 * sources that keep guessing the password are made to wait longer and longer, and an update
 * that does not move forward ends. Against hostile peers (docs/SECURITY.md): a challenge binds
 * its address, its invitation and its nonce, which nothing replaces while it is answerable. */
#include <stddef.h>
#include <string.h>

#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/native.h"

#include "device_priv.h"
#include "text.h"

#define DEFAULT_RX_TIMEOUT_MS   1000u  /* the cores' _ota_timeout */
#define DEFAULT_AUTH_TIMEOUT_MS 10000u /* espota waits 10 s for the auth reply */
#define AUTH_GRACE_MS           2000u  /* an unanswered challenge holds off other invitations */
#define DEFAULT_MIN_RATE        1024u  /* bytes per second an update must average... */
#define FLOOR_WINDOW_MS         8000u  /* ...over every 8 s (FLOOR_WINDOW_MS / 1000 = 1 << 3) */
#define CONNECT_TIMEOUT_MS      10000u /* the uploader waits 10 s for our connection */
#define ESP8266_CONNECT_PAUSE   100u   /* between UDP "OK" and connect, as the core */
#define ESP8266_OK_PAUSE        1000u  /* before and after "OK": stops the host coalescing */
#define ESP32_REBOOT_PAUSE      110u   /* 10 ms + 100 ms after "OK", as the core */
#define CONNECT_TRIES           3u     /* connections back tried when one is refused */
#define CONNECT_RETRY_MS        250u   /* pause before trying again */
#define THROTTLE_BASE_MS        1000u  /* delay after the second consecutive failure */
#define THROTTLE_MAX_MS         30000u /* delays double up to this */

static bool
time_reached(uint32_t now, uint32_t at)
{
    return (int32_t)(now - at) >= 0;
}

static void
set_deadline(struct otk_dev *d, uint32_t at)
{
    d->deadline = at;
    d->has_deadline = true;
}

static void
go_idle(struct otk_dev *d)
{
    d->state = OTK_DEV_IDLE;
    d->has_deadline = false;
}

static void
emit(struct otk_dev *d, enum otk_dev_event_type type, enum otk_ota_error e,
     enum otk_upd_reason reason, const char *text)
{
    struct otk_dev_event ev;

    if (!d->hooks.on_event)
        return;
    ev.type = type;
    ev.cmd = d->invite.cmd;
    ev.bytes = otk_upd_progress(&d->upd);
    ev.total = d->invite.size;
    ev.ota_error = e;
    ev.reason = reason;
    ev.text = text ? text : "";
    d->hooks.on_event(d->hooks.user, &ev);
}

static void
udp_reply(struct otk_dev *d, const struct otk_addr *to, const char *text)
{
    (void)d->net->udp_send(d->net->user, to, text, strlen(text));
}

static bool
same_ip(const struct otk_addr *a, const struct otk_addr *b)
{
    return a->family == b->family && memcmp(a->ip, b->ip, a->family == 6 ? 16 : 4) == 0;
}

/* ---- brute-force throttle ----
 * A wrong answer makes its source wait before its next invitation is heard: nothing after the
 * first failure (espota's fallback from the SHA-256 to the MD5 password hash costs one failure
 * and must go through at once), then 1 s, 2 s, 4 s ... 30 s. The invitations are ignored, not
 * refused: hosts retransmit them, so a legitimate retry simply gets its answer later. */

static uint32_t
throttle_delay(uint8_t failures)
{
    if (failures < 2)
        return 0;
    if (failures - 2 >= 5)
        return THROTTLE_MAX_MS; /* 1000 << 5 already exceeds the cap; 1000 << 4 does not */
    return THROTTLE_BASE_MS << (failures - 2);
}

static struct otk_dev_throttle *
throttle_find(struct otk_dev *d, const struct otk_addr *from)
{
    for (int i = 0; i < OTK_DEV_THROTTLE_SLOTS; i++) {
        struct otk_dev_throttle *t = &d->throttle[i];

        if (t->failures != 0 && same_ip(&t->src, from))
            return t;
    }
    return NULL;
}

static bool
throttle_blocks(const struct otk_dev_throttle *t, uint32_t now)
{
    uint32_t left = t->until - now;

    /* Blocked while now is before `until`. No delay exceeds the cap, so a distance beyond it
     * means `until` is in the past (also after the 32-bit clock wrapped). */
    return t->failures != 0 && left != 0 && left <= THROTTLE_MAX_MS;
}

/* Sources in the table answer for themselves; any other source is held by the shared entry. */
static bool
throttled(struct otk_dev *d, const struct otk_addr *from, uint32_t now)
{
    const struct otk_dev_throttle *t = throttle_find(d, from);

    return throttle_blocks(t ? t : &d->throttle_rest, now);
}

static void
throttle_bump(struct otk_dev_throttle *t, uint32_t now)
{
    if (t->failures < UINT8_MAX)
        t->failures++;
    t->last = now;
    t->until = now + throttle_delay(t->failures);
}

static void
throttle_failure(struct otk_dev *d, const struct otk_addr *from, uint32_t now)
{
    struct otk_dev_throttle *t = throttle_find(d, from);

    if (!t) {
        /* A free entry, else the one whose last failure is the oldest. Its source then counts
         * among the untracked ones: the shared entry takes a failure, and a newcomer starts from
         * the shared count, so rotating through more addresses than the table holds meets the
         * same growing delay as a single address. */
        for (int i = 0; i < OTK_DEV_THROTTLE_SLOTS; i++) {
            struct otk_dev_throttle *c = &d->throttle[i];

            if (c->failures == 0) {
                t = c;
                break;
            }
            if (!t || now - c->last > now - t->last)
                t = c;
        }
        if (t->failures != 0)
            throttle_bump(&d->throttle_rest, now);
        memset(t, 0, sizeof *t);
        t->src.family = from->family;
        memcpy(t->src.ip, from->ip, sizeof t->src.ip);
        t->failures = d->throttle_rest.failures;
    }
    throttle_bump(t, now);
}

static void
throttle_success(struct otk_dev *d, const struct otk_addr *from)
{
    struct otk_dev_throttle *t = throttle_find(d, from);

    if (t)
        memset(t, 0, sizeof *t);
    memset(&d->throttle_rest, 0, sizeof d->throttle_rest);
}

#if OTK_CFG_PROTO_NATIVE
/* The native protocol server (native.c) shares the throttle and "one update at a time". */
bool
otk__dev_throttled(struct otk_dev *d, const struct otk_addr *from, uint32_t now)
{
    return throttled(d, from, now);
}

void
otk__dev_throttle_failure(struct otk_dev *d, const struct otk_addr *from, uint32_t now)
{
    throttle_failure(d, from, now);
}

void
otk__dev_throttle_success(struct otk_dev *d, const struct otk_addr *from)
{
    throttle_success(d, from);
}

bool
otk__dev_arduino_busy(const struct otk_dev *d)
{
    return d->state != OTK_DEV_IDLE && d->state != OTK_DEV_WAIT_AUTH;
}
#endif

/* "ERROR[n]: ", what ESP8266's Update.printError() puts before the text. */
static void
error_number(struct otk_dev *d, struct otk__sbuf *s, enum otk_upd_reason r)
{
    otk__sb_str(s, "ERROR[");
    otk__sb_uint(s, (uint32_t)otk_upd_errnum(d->cfg.profile, r));
    otk__sb_str(s, "]: ");
}

/* Tell the host over UDP why the update cannot start. The ESP8266 core does this; the ESP32
 * core stays silent and leaves the host to time out, which is the bug we fix here. */
static void
reply_refused(struct otk_dev *d, const struct otk_addr *to, enum otk_upd_reason r)
{
    struct otk__sbuf s = {d->msg, sizeof d->msg, 0};

    otk__sb_str(&s, "ERR: ");
    error_number(d, &s, r);
    otk__sb_str(&s, otk_upd_reason_str(d->cfg.profile, r));
    otk__sb_str(&s, "\n");
    udp_reply(d, to, d->msg);
}

/* End a started update: tell the host on TCP (in the profile's format), close, report. */
static void
fail_update(struct otk_dev *d, enum otk_ota_error e, enum otk_upd_reason r, bool tell_host)
{
    struct otk__sbuf s = {d->msg, sizeof d->msg, 0};
    bool esp8266 = d->cfg.profile == OTK_PROFILE_ESP8266;
    const char *text;
    size_t text_end;

    if (otk_upd_reason_of(&d->upd) == OTK_UPD_OK || d->upd.running)
        otk_upd_abort(&d->upd, r);
    r = otk_upd_reason_of(&d->upd);
    /* The host reads "ERROR[n]: text\n" from an ESP8266, "text\r\n" from an ESP32. */
    if (esp8266)
        error_number(d, &s, r);
    text = d->msg + s.n;
    s.n += otk_upd_errtext(&d->upd, d->msg + s.n, s.cap - s.n);
    text_end = s.n;
    otk__sb_str(&s, esp8266 ? "\n" : "\r\n");
    if (tell_host)
        (void)d->net->tcp_send(d->net->user, d->msg, s.n);
    d->msg[text_end] = '\0'; /* the event carries the text alone */
    if (d->state == OTK_DEV_CONNECTING || d->state == OTK_DEV_RECEIVING ||
        d->state == OTK_DEV_FINISHING)
        d->net->tcp_close(d->net->user);
    go_idle(d);
    emit(d, OTK_EV_ERROR, e, r, text);
}

#define NONCE_AT 5 /* the nonce is kept as the challenge: "AUTH <nonce>" */

/* Send the pending challenge (again) to `to`. */
static void
challenge(struct otk_dev *d, const struct otk_addr *to)
{
    udp_reply(d, to, d->challenge);
}

/* An invitation for one of the two update commands. Malformed invitations and unknown
 * commands are ignored silently, as on the devices. */
static bool
parse_command(const uint8_t *data, size_t len, struct otk_invite *inv)
{
    return otk_proto_parse_invite(data, len, inv) == OTK_OK &&
           (inv->cmd == OTK_CMD_FLASH || inv->cmd == OTK_CMD_FS);
}

static int
make_nonce(struct otk_dev *d)
{
    uint8_t raw[OTK_SHA256_HEX_LEN / 2];
    size_t n = otk_auth_hex_len(d->cfg.auth) / 2;

    if (d->crypto->random(d->crypto->user, raw, n) != OTK_OK)
        return OTK_ERR_CRYPTO;
    memcpy(d->challenge, "AUTH ", NONCE_AT);
    otk_hex(raw, n, d->challenge + NONCE_AT);
    return OTK_OK;
}

static void
connect_back(struct otk_dev *d, uint32_t now)
{
    struct otk_addr to = d->peer;

    d->connect_tries++;
    to.port = d->invite.port;
    d->state = OTK_DEV_CONNECTING;
    set_deadline(d, now + CONNECT_TIMEOUT_MS);
    if (d->net->tcp_connect(d->net->user, &to) != OTK_OK)
        fail_update(d, OTK_OTA_CONNECT_ERROR, OTK_UPD_ABORTED, false);
}

/* Authenticated (or no password): reserve the space first, then say "OK". Doing begin before
 * the reply on both profiles means a refusal can always be reported over UDP. */
static void
start_update(struct otk_dev *d, uint32_t now)
{
    enum otk_upd_reason r;

    r = otk_upd_begin(&d->upd, d->invite.size, d->invite.cmd, d->cfg.running_slot, d->invite.md5);
    if (r != OTK_UPD_OK) {
        reply_refused(d, &d->peer, r);
        go_idle(d);
        emit(d, OTK_EV_ERROR, OTK_OTA_BEGIN_ERROR, r, otk_upd_reason_str(d->cfg.profile, r));
        return;
    }
    udp_reply(d, &d->peer, "OK");
    d->connect_tries = 0; /* (nudges and last_ack are set by the first data, before any use) */
    emit(d, OTK_EV_START, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    if (d->cfg.profile == OTK_PROFILE_ESP8266) {
        d->state = OTK_DEV_CONNECT_WAIT;
        set_deadline(d, now + ESP8266_CONNECT_PAUSE);
    } else {
        connect_back(d, now);
    }
}

/* A new exchange: the update starts at once without a password; with one, the invitation,
 * its address and a fresh nonce become one challenge, fixed until it ends. */
static void
begin_exchange(struct otk_dev *d, const struct otk_addr *from, const struct otk_invite *inv,
               uint32_t now)
{
    d->invite = *inv;
    d->peer = *from;
    if (d->cfg.secret[0] == '\0') {
        start_update(d, now);
    } else if (make_nonce(d) == OTK_OK) {
        challenge(d, from);
        d->state = OTK_DEV_WAIT_AUTH;
        set_deadline(d, now + d->cfg.auth_timeout_ms);
    }
}

static bool
auth_answer_ok(struct otk_dev *d, const uint8_t *data, size_t len)
{
    struct otk_auth_answer a;
    size_t hl = otk_auth_hex_len(d->cfg.auth);
    char expect[OTK_SHA256_HEX_LEN + 1];

    if (otk_proto_parse_auth(data, len, &a) != OTK_OK)
        return false;
    if (a.cnonce_len != hl || a.response_len != hl)
        return false;
    if (otk_proto_auth_response(d->crypto, d->cfg.auth, d->cfg.secret, strlen(d->cfg.secret),
                                d->challenge + NONCE_AT, hl, a.cnonce, hl, expect) != OTK_OK)
        return false;
    return otk_ct_equal(expect, a.response, hl);
}

/* The answer to the pending challenge, from its address (any port: the newest espota answers
 * from a new socket). It starts the update announced by the challenged invitation, nothing
 * else; right or wrong, the nonce dies with it, so a captured answer cannot be replayed. */
static void
handle_answer(struct otk_dev *d, const struct otk_addr *from, const uint8_t *data, size_t len,
              uint32_t now)
{
    if (auth_answer_ok(d, data, len)) {
        throttle_success(d, from);
        d->peer = *from;
        start_update(d, now);
        return;
    }
    throttle_failure(d, from, now);
    udp_reply(d, from, "Authentication Failed");
    go_idle(d);
    emit(d, OTK_EV_ERROR, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, "Authentication Failed");
}

/* The challenge ends unanswered (expired, or taken over after the grace): it counts against
 * its address like a wrong answer, so holding the device that way costs the same. */
static void
abandon_challenge(struct otk_dev *d, uint32_t now)
{
    throttle_failure(d, &d->peer, now);
    go_idle(d);
}

/* The rules for a datagram, in order. Anything but an invitation for one of the two update
 * commands, or the answer to a pending challenge, is ignored, as on the devices. A challenge
 * binds its address, its invitation and its nonce: nothing replaces them during the grace,
 * and after it only a new exchange with a fresh nonce does, so an answer can only ever start
 * the update it was computed for. */
void
otk_dev_on_datagram(struct otk_dev *d, const struct otk_addr *from, const uint8_t *data, size_t len,
                    uint32_t now_ms)
{
    struct otk_invite inv;
    bool ours = same_ip(from, &d->peer);

    /* A restarting device hears nothing, as a real one (its loop no longer runs); a refusal
     * here would tell the next uploader to give up on a device that is back in a moment. The
     * uploader retransmits its invitation and gets the rebooted device. */
    if (d->state == OTK_DEV_REBOOTING)
        return;
#if OTK_CFG_PROTO_NATIVE
    if (otk__nat_rebooting(d))
        return;
#endif
    if (d->state == OTK_DEV_WAIT_AUTH && ours && otk_proto_peek_cmd(data, len) == OTK_CMD_AUTH) {
        handle_answer(d, from, data, len, now_ms);
        return;
    }
    if (!parse_command(data, len, &inv))
        return;
    /* The host retransmitted the invitation being served (from any port: espota uses a new
     * socket): the same challenge again, which keeps both of its datagrams valid and does not
     * extend the challenge (the real cores drop to IDLE here: "200 was expected. got 0
     * instead"); without a password, before any data, our lost "OK" again. */
    if (d->state != OTK_DEV_IDLE && ours &&
        memcmp(&inv, &d->invite, offsetof(struct otk_invite, md5) + OTK_MD5_HEX_LEN) == 0) {
        if (d->state == OTK_DEV_WAIT_AUTH) {
            challenge(d, from);
            return;
        }
        /* (no byte has moved before RECEIVING, and always has after it) */
        if (d->cfg.secret[0] == '\0' && d->state <= OTK_DEV_RECEIVING &&
            otk_upd_progress(&d->upd) == 0) {
            udp_reply(d, from, "OK");
            return;
        }
    }
    /* A source still waiting out its throttle delay is not heard at all. */
    if (throttled(d, from, now_ms))
        return;
    /* Past the grace, a challenge nobody answered gives way to the new invitation. */
    if (d->state == OTK_DEV_WAIT_AUTH &&
        time_reached(now_ms, d->deadline - d->cfg.auth_timeout_ms + AUTH_GRACE_MS))
        abandon_challenge(d, now_ms);
#if OTK_CFG_PROTO_NATIVE
    /* One update at a time across both protocols: a native update holds the writer. */
    if (d->state == OTK_DEV_IDLE && otk__nat_holds_writer(d)) {
        reply_refused(d, from, OTK_UPD_RUNNING);
        return;
    }
#endif
    if (d->state == OTK_DEV_IDLE) {
        begin_exchange(d, from, &inv, now_ms);
        return;
    }
    /* During the grace what the challenge was sent for is fixed: any other invitation, from
     * any address or port, is not heard (not refused: a process sharing the host's address
     * cannot be told from the host, and hosts retransmit invitations, so the next copy after
     * the grace gets in). While an update runs, everyone else is told it is busy. */
    if (d->state != OTK_DEV_WAIT_AUTH)
        reply_refused(d, from, OTK_UPD_RUNNING);
}

int
otk_dev_init(struct otk_dev *d, const struct otk_dev_config *cfg, const struct otk_net_ops *net,
             const struct otk_flash_ops *flash, const struct otk_crypto_ops *crypto,
             const struct otk_dev_hooks *hooks, uint8_t *sector_buf)
{
    size_t slen;

    if (!d || !cfg || !net || !flash || !crypto || !sector_buf)
        return OTK_ERR_ARG;
    slen = strlen(cfg->secret);
    if (slen != 0 && slen != OTK_MD5_HEX_LEN && slen != OTK_SHA256_HEX_LEN)
        return OTK_ERR_ARG;
    if (cfg->auth == OTK_AUTH_MD5 && slen == OTK_SHA256_HEX_LEN)
        return OTK_ERR_ARG; /* the MD5 scheme can only use an MD5 secret */
    if (cfg->running_slot != 0 && cfg->running_slot != 1)
        return OTK_ERR_ARG;
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    if (!d->cfg.rx_timeout_ms)
        d->cfg.rx_timeout_ms = DEFAULT_RX_TIMEOUT_MS;
    if (!d->cfg.auth_timeout_ms)
        d->cfg.auth_timeout_ms = DEFAULT_AUTH_TIMEOUT_MS;
    if (!d->cfg.min_rate)
        d->cfg.min_rate = DEFAULT_MIN_RATE;
    d->net = net;
    d->crypto = crypto;
    if (hooks)
        d->hooks = *hooks;
    otk_upd_init(&d->upd, cfg->profile, flash, crypto, &d->cfg.layout, sector_buf);
    return OTK_OK; /* zeroed: OTK_DEV_IDLE, no deadline */
}

void
otk_dev_on_connected(struct otk_dev *d, int status, uint32_t now_ms)
{
    if (d->state != OTK_DEV_CONNECTING)
        return;
    if (status != OTK_OK) {
        /* Refused or unreachable at once (a lost ARP reply, a busy access point): the host
         * waits 10 s for us, so try again shortly instead of leaving it to time out. A connect
         * that timed out is not retried: the host has given up by then. */
        if (d->connect_tries < CONNECT_TRIES) {
            d->state = OTK_DEV_CONNECT_WAIT;
            set_deadline(d, now_ms + CONNECT_RETRY_MS);
            return;
        }
        fail_update(d, OTK_OTA_CONNECT_ERROR, OTK_UPD_ABORTED, false);
        return;
    }
    d->state = OTK_DEV_RECEIVING;
    d->floor_at = now_ms; /* the first byte opens the first window */
    d->floor_mark = 0;
    set_deadline(d, now_ms + d->cfg.rx_timeout_ms);
}

static void
send_ack(struct otk_dev *d, uint32_t n)
{
    struct otk__sbuf s = {d->msg, sizeof d->msg, 0};

    otk__sb_uint(&s, n);
    (void)d->net->tcp_send(d->net->user, d->msg, s.n);
}

/* The image is written and active: close the connection, report, reboot at `reboot_at`. */
static void
end_session(struct otk_dev *d, uint32_t reboot_at)
{
    d->net->tcp_close(d->net->user);
    emit(d, OTK_EV_END, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    d->state = OTK_DEV_REBOOTING;
    set_deadline(d, reboot_at);
}

static void
finish(struct otk_dev *d, uint32_t now)
{
    enum otk_upd_reason r = otk_upd_end(&d->upd);

    if (r != OTK_UPD_OK) {
        fail_update(d, OTK_OTA_END_ERROR, r, true);
        return;
    }
    if (d->cfg.profile == OTK_PROFILE_ESP8266) {
        /* The ESP8266 host reads the last ack and "OK" separately; the pause keeps them apart. */
        d->state = OTK_DEV_FINISHING;
        d->ok_sent = false;
        set_deadline(d, now + ESP8266_OK_PAUSE);
        return;
    }
    (void)d->net->tcp_send(d->net->user, "OK", 2);
    end_session(d, now + ESP32_REBOOT_PAUSE);
}

/* The progress floor: each window of FLOOR_WINDOW_MS must bring min_rate bytes a second. The
 * idle limit alone lets a peer that sends one byte a second hold the device for ever; this
 * bounds any update to about size / min_rate. Checked as data arrives (a silent host meets
 * the idle limit first). */
static bool
below_floor(struct otk_dev *d, uint32_t now)
{
    uint32_t p = otk_upd_progress(&d->upd);

    if (!time_reached(now, d->floor_at))
        return false;
    if (p < d->floor_mark)
        return true;
    d->floor_at = now + FLOOR_WINDOW_MS;
    d->floor_mark = p + (d->cfg.min_rate << 3);
    return false;
}

size_t
otk_dev_on_tcp_data(struct otk_dev *d, const uint8_t *data, size_t len, uint32_t now_ms)
{
    if (d->state != OTK_DEV_RECEIVING)
        return len; /* nothing expected: drop */
    if (len == 0)
        return 0;
    /* Too slow: the host hears the cores' text for a stream that does not come in time. */
    if (below_floor(d, now_ms)) {
        fail_update(d, OTK_OTA_RECEIVE_ERROR, OTK_UPD_STREAM, true);
        return len;
    }
    /* The writer refuses bytes beyond the announced size with the ESP32 core's "Not Enough
     * Space", and any write it cannot do with its reason. */
    if (otk_upd_write(&d->upd, data, len) != len) {
        fail_update(d, OTK_OTA_END_ERROR, otk_upd_reason_of(&d->upd), true);
        return len;
    }
    send_ack(d, (uint32_t)len);
    d->last_ack = (uint32_t)len;
    d->nudges = 0;
    set_deadline(d, now_ms + d->cfg.rx_timeout_ms);
    emit(d, OTK_EV_PROGRESS, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    if (otk_upd_is_finished(&d->upd))
        finish(d, now_ms);
    return len;
}

void
otk_dev_on_tcp_closed(struct otk_dev *d, uint32_t now_ms)
{
    switch (d->state) {
    case OTK_DEV_CONNECTING:
        fail_update(d, OTK_OTA_CONNECT_ERROR, OTK_UPD_ABORTED, false);
        break;
    case OTK_DEV_RECEIVING:
        /* The host went away before sending everything: the core's end() says "Aborted". */
        fail_update(d, OTK_OTA_RECEIVE_ERROR, OTK_UPD_ABORTED, false);
        break;
    case OTK_DEV_FINISHING:
        /* The image is already active; the host leaving early changes nothing. */
        end_session(d, now_ms);
        break;
    default:
        break;
    }
}

#if OTK_CFG_PROTO_ARDUINO
static void
tick_receiving(struct otk_dev *d, uint32_t now)
{
    /* As the ESP32 core: after data has flowed, nudge the host by repeating the last ack before
     * giving up; before the first byte there is no nudge. */
    if (otk_upd_progress(&d->upd) > 0 && d->nudges < d->cfg.rx_nudges) {
        d->nudges++;
        send_ack(d, d->last_ack);
        set_deadline(d, now + d->cfg.rx_timeout_ms);
        return;
    }
    fail_update(d, OTK_OTA_RECEIVE_ERROR, OTK_UPD_STREAM, true);
}

/* The ArduinoOTA side's deadline: its pauses, its timeouts, its reboot. */
static void
arduino_tick(struct otk_dev *d, uint32_t now_ms)
{
    if (!d->has_deadline || !time_reached(now_ms, d->deadline))
        return;
    switch (d->state) {
    case OTK_DEV_WAIT_AUTH:
        abandon_challenge(d, now_ms); /* the real cores wait forever, deaf to everyone else */
        break;
    case OTK_DEV_CONNECT_WAIT:
        connect_back(d, now_ms);
        break;
    case OTK_DEV_CONNECTING:
        fail_update(d, OTK_OTA_CONNECT_ERROR, OTK_UPD_ABORTED, false);
        break;
    case OTK_DEV_RECEIVING:
        tick_receiving(d, now_ms);
        break;
    case OTK_DEV_FINISHING:
        if (!d->ok_sent) {
            (void)d->net->tcp_send(d->net->user, "OK", 2);
            d->ok_sent = true;
            set_deadline(d, now_ms + ESP8266_OK_PAUSE);
        } else {
            end_session(d, now_ms);
        }
        break;
    case OTK_DEV_REBOOTING:
        go_idle(d);
        if (d->hooks.reboot)
            d->hooks.reboot(d->hooks.user);
        break;
    default:
        d->has_deadline = false;
        break;
    }
}
#endif

void
otk_dev_tick(struct otk_dev *d, uint32_t now_ms)
{
#if OTK_CFG_PROTO_NATIVE
    otk__nat_tick(d, now_ms);
#endif
#if OTK_CFG_PROTO_ARDUINO
    arduino_tick(d, now_ms);
#endif
}

bool
otk_dev_next_deadline(const struct otk_dev *d, uint32_t *at)
{
#if OTK_CFG_PROTO_NATIVE
    uint32_t nat_at;

    if (otk__nat_next_deadline(d, &nat_at)) {
        /* The earlier of the two sides' deadlines. */
        if (d->has_deadline && (int32_t)(d->deadline - nat_at) < 0)
            nat_at = d->deadline;
        if (at)
            *at = nat_at;
        return true;
    }
#endif
    if (d->has_deadline && at)
        *at = d->deadline;
    return d->has_deadline;
}

bool
otk_dev_wants_data(const struct otk_dev *d)
{
    return d->state == OTK_DEV_RECEIVING;
}

bool
otk_dev_on_idle(struct otk_dev *d, uint32_t now_ms)
{
    int r;

#if OTK_CFG_PROTO_NATIVE
    r = otk__nat_idle(d);
    if (r != 0 || !OTK_CFG_PROTO_ARDUINO)
        return r > 0; /* (a failed erase already ended the native update) */
#endif
    /* Only once the connection is on its way: an erase before the "OK" would delay it. */
    if (d->state != OTK_DEV_CONNECTING && d->state != OTK_DEV_RECEIVING)
        return false;
    r = otk_upd_erase_ahead(&d->upd);
    if (r < 0) {
        fail_update(d, OTK_OTA_END_ERROR, otk_upd_reason_of(&d->upd), true);
        return false;
    }
    (void)now_ms;
    return r > 0;
}

int
otk_dev_pre_erase(struct otk_dev *d)
{
#if OTK_CFG_PROTO_NATIVE
    if (otk_dev_native_busy(d))
        return 0;
#endif
    return d->state == OTK_DEV_IDLE ? otk_upd_pre_erase(&d->upd, d->cfg.running_slot) : 0;
}

void
otk_dev_set_activate(struct otk_dev *d, int (*fn)(void *user, uint32_t app_offset), void *user)
{
    otk_upd_set_activate(&d->upd, fn, user);
}

enum otk_dev_state
otk_dev_state(const struct otk_dev *d)
{
    return d->state;
}

const char *
otk_dev_state_str(enum otk_dev_state s)
{
    switch (s) {
    case OTK_DEV_IDLE:
        return "idle";
    case OTK_DEV_WAIT_AUTH:
        return "wait-auth";
    case OTK_DEV_CONNECT_WAIT:
        return "connect-wait";
    case OTK_DEV_CONNECTING:
        return "connecting";
    case OTK_DEV_RECEIVING:
        return "receiving";
    case OTK_DEV_FINISHING:
        return "finishing";
    case OTK_DEV_REBOOTING:
        return "rebooting";
    }
    return "unknown";
}

bool
otk_dev_update_running(const struct otk_dev *d)
{
#if OTK_CFG_PROTO_NATIVE
    if (d->nat && d->nat->started)
        return true;
#endif
    return d->state >= OTK_DEV_CONNECT_WAIT && d->state <= OTK_DEV_FINISHING;
}
