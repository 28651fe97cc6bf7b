/* SPDX-License-Identifier: MIT */
/* The uploader's side of ESPHome's native OTA protocol, sans-I/O (include/otakit/natclient.h).
 * Host-only: a device build links none of it. Each device answer is a "unit" (one byte, 48 +
 * flags, a challenge with its nonce); in plaintext the units arrive as a byte stream, under
 * Noise each one in its own encrypted frame, and both paths meet in on_unit(). */
#include <string.h>

#include "otakit/err.h"
#include "otakit/natclient.h"
#include "otakit/proto.h"

#define CHUNK           OTK_NAT_CHUNK
#define NONCE_MD5_HEX   32
#define NONCE_SHA_HEX   64
#define NOISE_PAYLOAD   (1 + OTK_NOISE_HANDSHAKE_LEN) /* status byte + handshake message */
#define PLAIN_SLICE_MAX (64u * 1024u)

static const char *const phase_names[] = {
    [OTK_NATC_MAGIC] = "magic",
    [OTK_NATC_FEATURES] = "features",
    [OTK_NATC_NOISE] = "noise",
    [OTK_NATC_AUTH] = "auth",
    [OTK_NATC_AUTH_RESULT] = "auth-result",
    [OTK_NATC_OTAKIT] = "otakit",
    [OTK_NATC_PREPARE] = "prepare",
    [OTK_NATC_MD5] = "md5",
    [OTK_NATC_DATA] = "data",
    [OTK_NATC_RESULT] = "result",
    [OTK_NATC_END] = "end",
    [OTK_NATC_DONE] = "done",
};

static const char *const cause_names[] = {
    [OTK_NATC_OK] = "ok",
    [OTK_NATC_DEVICE_ERROR] = "device-error",
    [OTK_NATC_NEED_PASSWORD] = "password-required",
    [OTK_NATC_AUTH_REFUSED] = "auth-refused",
    [OTK_NATC_NEED_KEY] = "encryption-required",
    [OTK_NATC_NOISE_ABSENT] = "encryption-not-offered",
    [OTK_NATC_WRONG_KEY] = "wrong-key",
    [OTK_NATC_NOISE_REJECTED] = "handshake-rejected",
    [OTK_NATC_NOISE_BROKEN] = "frame-broken",
    [OTK_NATC_VERSION] = "version",
    [OTK_NATC_PROTOCOL] = "protocol",
    [OTK_NATC_TIMEOUT] = "timeout",
    [OTK_NATC_CLOSED] = "closed",
    [OTK_NATC_LOCAL] = "local",
};

const char *
otk_natc_phase_name(enum otk_natc_phase p)
{
    return (unsigned)p < sizeof phase_names / sizeof phase_names[0] ? phase_names[p] : "?";
}

const char *
otk_natc_cause_name(enum otk_natc_cause c)
{
    return (unsigned)c < sizeof cause_names / sizeof cause_names[0] ? cause_names[c] : "?";
}

const char *
otk_natc_code_name(uint8_t code)
{
    static const struct {
        uint8_t code;
        const char *name;
    } names[] = {
        {0x00, "OK"},
        {0x01, "REQUEST_AUTH"},
        {0x02, "REQUEST_SHA256_AUTH"},
        {0x40, "HEADER_OK"},
        {0x41, "AUTH_OK"},
        {0x42, "UPDATE_PREPARE_OK"},
        {0x43, "BIN_MD5_OK"},
        {0x44, "RECEIVE_OK"},
        {0x45, "UPDATE_END_OK"},
        {0x46, "SUPPORTS_COMPRESSION"},
        {0x47, "CHUNK_OK"},
        {0x48, "FEATURE_FLAGS"},
        {0x80, "ERROR_MAGIC"},
        {0x81, "ERROR_UPDATE_PREPARE"},
        {0x82, "ERROR_AUTH_INVALID"},
        {0x83, "ERROR_WRITING_FLASH"},
        {0x84, "ERROR_UPDATE_END"},
        {0x85, "ERROR_INVALID_BOOTSTRAPPING"},
        {0x86, "ERROR_WRONG_CURRENT_FLASH_CONFIG"},
        {0x87, "ERROR_WRONG_NEW_FLASH_CONFIG"},
        {0x88, "ERROR_ESP8266_NOT_ENOUGH_SPACE"},
        {0x89, "ERROR_ESP32_NOT_ENOUGH_SPACE"},
        {0x8a, "ERROR_NO_UPDATE_PARTITION"},
        {0x8b, "ERROR_MD5_MISMATCH"},
        {0x8c, "ERROR_RP2040_NOT_ENOUGH_SPACE"},
        {0x8d, "ERROR_SIGNATURE_INVALID"},
        {0x8e, "ERROR_UNSUPPORTED_OTA_TYPE"},
        {0x8f, "ERROR_PARTITION_TABLE_VERIFY"},
        {0x90, "ERROR_PARTITION_TABLE_UPDATE"},
        {0x91, "ERROR_BOOTLOADER_VERIFY"},
        {0x92, "ERROR_BOOTLOADER_UPDATE"},
        {0x93, "ERROR_VERSION_DOWNGRADE"},
        {0x94, "ERROR_ENCRYPTION_REQUIRED"},
        {0xff, "ERROR_UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code)
            return names[i].name;
    return NULL;
}

/* The device's error codes: 80..94 and FF (a device's data timeout too). */
static bool
is_error_code(uint8_t b)
{
    return (b >= OTK_NAT_ERR_MAGIC && b <= OTK_NAT_ERR_ENCRYPTION_REQUIRED) ||
           b == OTK_NAT_ERR_UNKNOWN;
}

void
otk_natc_cfg_defaults(struct otk_natc_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->ota_type = OTK_NAT_TYPE_APP;
    c->window = 4;
    c->step_timeout_ms = 20000;
    c->prepare_timeout_ms = 60000;
    c->stall_timeout_ms = 20000;
    c->result_timeout_ms = 60000;
}

void
otk_natc_auth_response(const struct otk_crypto_ops *c, bool sha256, const char *password,
                       const char *nonce, const char *cnonce, size_t hex_len, char *out)
{
    union otk_hash_ctx ctx;
    uint8_t d[32];
    size_t pw_len = password ? strlen(password) : 0;

    /* ESPHome hashes the password as typed, no pre-hash (unlike ArduinoOTA) */
    if (sha256) {
        c->sha256_start(&ctx);
        c->sha256_update(&ctx, password, pw_len);
        c->sha256_update(&ctx, nonce, hex_len);
        c->sha256_update(&ctx, cnonce, hex_len);
        c->sha256_finish(&ctx, d);
    } else {
        c->md5_start(&ctx);
        c->md5_update(&ctx, password, pw_len);
        c->md5_update(&ctx, nonce, hex_len);
        c->md5_update(&ctx, cnonce, hex_len);
        c->md5_finish(&ctx, d);
    }
    otk_hex(d, sha256 ? 32 : 16, out);
}

/* ---- ending ---- */

static void
finish(struct otk_natc *c, enum otk_natc_cause cause)
{
    if (c->phase == OTK_NATC_DONE)
        return;
    c->end_phase = c->phase;
    c->cause = cause;
    c->phase = OTK_NATC_DONE;
    c->tx_len = c->tx_off = 0;
}

static void
violation(struct otk_natc *c, const char *rule, uint8_t byte)
{
    c->violation = rule;
    c->dev_code = byte;
    finish(c, OTK_NATC_PROTOCOL);
}

/* A byte that is not what this phase expects: the device's refusal when it is an error code,
 * a protocol violation otherwise. */
static void
unexpected(struct otk_natc *c, uint8_t b)
{
    if (is_error_code(b)) {
        c->dev_code = b;
        finish(c, OTK_NATC_DEVICE_ERROR);
    } else {
        violation(c, "unexpected-byte", b);
    }
}

/* ---- output ---- */

/* Queue one control unit: raw in plaintext, one encrypted frame of its own under Noise ("control
 * units must be one per frame"). */
static bool
queue_unit(struct otk_natc *c, const void *data, size_t len)
{
    uint8_t *p = c->tx + c->tx_len;

    if (!c->encrypted) {
        memcpy(p, data, len);
        c->tx_len += len;
        c->txp = c->tx;
        return true;
    }
    size_t ct = len + OTK_NOISE_TAG_LEN;
    p[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
    p[1] = (uint8_t)(ct >> 8);
    p[2] = (uint8_t)ct;
    if (otk_noise_encrypt(&c->noise, data, len, p + OTK_NAT_NOISE_FRAME_HDR) != OTK_OK) {
        finish(c, OTK_NATC_LOCAL);
        return false;
    }
    c->tx_len += OTK_NAT_NOISE_FRAME_HDR + ct;
    c->txp = c->tx;
    return true;
}

/* How far the data may go now: the whole stream (version 1: no acks to count), or `window`
 * chunks beyond the last one acknowledged. */
static uint32_t
data_limit(const struct otk_natc *c)
{
    uint64_t end = c->data_size;

    if (c->version >= OTK_NAT_VERSION_2) {
        uint64_t win =
            c->resume_at + ((uint64_t)c->acks + (c->cfg.window ? c->cfg.window : 1)) * CHUNK;
        if (win < end)
            end = win;
    }
    return (uint32_t)end;
}

/* Stage the next data: a slice of the image itself in plaintext; under Noise up to one chunk
 * of 1024-byte frames, never across a chunk's end, so that an ack always follows a batch that
 * was handed over whole. */
static void
stage_data(struct otk_natc *c)
{
    uint32_t limit = data_limit(c);

    if (c->sent >= limit)
        return;
    if (!c->encrypted) {
        uint32_t n = limit - c->sent;
        c->txp = c->data + c->sent;
        c->tx_len = n < PLAIN_SLICE_MAX ? n : PLAIN_SLICE_MAX;
        c->tx_plain = (uint32_t)c->tx_len;
        return;
    }
    /* chunks count from the resume offset (0 unless resumed) */
    uint32_t chunk_end = c->resume_at + ((c->sent - c->resume_at) / CHUNK + 1) * CHUNK;
    uint32_t end = limit < chunk_end ? limit : chunk_end;
    for (uint32_t at = c->sent; at < end;) {
        uint32_t n =
            end - at < OTK_NAT_NOISE_MAX_PLAINTEXT ? end - at : OTK_NAT_NOISE_MAX_PLAINTEXT;
        if (!queue_unit(c, c->data + at, n))
            return;
        at += n;
        c->tx_plain += n;
    }
}

size_t
otk_natc_output(struct otk_natc *c, const uint8_t **out)
{
    if (c->tx_off == c->tx_len && c->phase == OTK_NATC_DATA && !c->all_sent) {
        c->tx_len = c->tx_off = 0;
        c->tx_plain = 0;
        stage_data(c);
    }
    *out = c->txp + c->tx_off;
    return c->tx_len - c->tx_off;
}

bool
otk_natc_wants_output(const struct otk_natc *c)
{
    if (c->tx_off < c->tx_len)
        return true;
    return c->phase == OTK_NATC_DATA && !c->all_sent && c->sent < data_limit(c);
}

void
otk_natc_sent(struct otk_natc *c, size_t n, uint32_t now)
{
    if (c->phase == OTK_NATC_DONE || n == 0)
        return;
    c->tx_off += n;
    c->last_t = now;
    if (c->phase == OTK_NATC_DATA)
        c->deadline = now + c->cfg.stall_timeout_ms;
    if (!c->encrypted && c->txp != c->tx) /* plaintext data: every byte counts at once */
        c->sent += (uint32_t)n;
    if (c->tx_off < c->tx_len)
        return;
    if (c->encrypted)
        c->sent += c->tx_plain;
    c->tx_plain = 0;
    c->tx_len = c->tx_off = 0;
    c->txp = c->tx;
    if (c->phase == OTK_NATC_DATA && c->sent >= c->data_size) {
        c->all_sent = true;
        c->phase = OTK_NATC_RESULT;
        c->deadline = now + c->cfg.result_timeout_ms;
    } else if (c->phase == OTK_NATC_END) {
        finish(c, OTK_NATC_OK);
    }
}

/* ---- the handshake ---- */

static void
enter(struct otk_natc *c, enum otk_natc_phase p, uint32_t now, uint32_t timeout)
{
    c->phase = p;
    c->unit_len = 0;
    c->deadline = now + timeout;
}

static void
send_type_and_size(struct otk_natc *c, uint32_t now)
{
    uint8_t size[4] = {(uint8_t)(c->data_size >> 24), (uint8_t)(c->data_size >> 16),
                       (uint8_t)(c->data_size >> 8), (uint8_t)c->data_size};

    /* the type byte exists only in the extended protocol (a 48 answer) */
    if (c->feature_reply == OTK_NAT_FEATURE_FLAGS && !queue_unit(c, &c->cfg.ota_type, 1))
        return;
    if (queue_unit(c, size, sizeof size))
        enter(c, OTK_NATC_PREPARE, now, c->cfg.prepare_timeout_ms);
}

/* After AUTH_OK: otakit's caps exchange when both sides set 0x80, else straight on. */
static void
authenticated(struct otk_natc *c, uint32_t now)
{
    uint8_t hello[OTK_NAT_OTAKIT_UNIT] = {OTK_NAT_OTAKIT_VERSION, c->cfg.caps};

    if (!(c->features & OTK_NAT_CF_OTAKIT) || c->feature_reply != OTK_NAT_FEATURE_FLAGS ||
        !(c->server_flags & OTK_NAT_SF_OTAKIT)) {
        send_type_and_size(c, now);
        return;
    }
    c->otakit = true;
    if (queue_unit(c, hello, sizeof hello))
        enter(c, OTK_NATC_OTAKIT, now, c->cfg.step_timeout_ms);
}

/* "01 granted": version 1 (the only one we speak), and nothing we did not ask for. */
static void
on_otakit(struct otk_natc *c, const uint8_t *u, uint32_t now)
{
    if (u[0] != OTK_NAT_OTAKIT_VERSION) {
        unexpected(c, u[0]);
        return;
    }
    if (u[1] & ~c->cfg.caps) {
        violation(c, "otakit-caps", u[1]);
        return;
    }
    c->caps = u[1];
    c->deflated = (c->caps & OTK_NAT_CAP_DEFLATE) != 0;
    send_type_and_size(c, now);
}

/* The device took the MD5: the data phase begins at image offset from. With DEFLATE granted
 * the stream of image[from, size) is made now and announced by its 4-byte length; the acks then
 * count its bytes, the bytes that travel. A stream no shorter than the image it stands for is
 * not worth it: length 0 announces the image as it is. */
static void
start_data(struct otk_natc *c, uint32_t from, uint32_t now)
{
    if (c->deflated) {
        const uint8_t *stream = NULL;
        uint32_t len = 0;
        uint8_t unit[4];

        if (c->cfg.deflate(c->cfg.deflate_user, from, &stream, &len) != OTK_OK || !stream ||
            len == 0) {
            finish(c, OTK_NATC_LOCAL);
            return;
        }
        c->image_from = from;
        if (len >= c->data_size - from) {
            c->deflated = false;
            len = 0;
        } else {
            /* the stream's own bytes from here on: what is sent and acked counts from its
             * first byte (the image offset is image_from) */
            c->data = stream;
            c->data_size = len;
            c->resume_at = c->sent = c->acked = 0;
        }
        unit[0] = (uint8_t)(len >> 24);
        unit[1] = (uint8_t)(len >> 16);
        unit[2] = (uint8_t)(len >> 8);
        unit[3] = (uint8_t)len;
        if (!queue_unit(c, unit, sizeof unit))
            return;
    }
    enter(c, OTK_NATC_DATA, now, c->cfg.stall_timeout_ms);
}

/* 43, or with RESUME "43" + the offset: the data starts there, acks count from there. */
static void
on_md5_ok(struct otk_natc *c, const uint8_t *u, uint32_t now)
{
    if (u[0] != OTK_NAT_BIN_MD5_OK) {
        unexpected(c, u[0]);
        return;
    }
    if (c->caps & OTK_NAT_CAP_RESUME) {
        uint32_t at = (uint32_t)u[1] << 24 | (uint32_t)u[2] << 16 | (uint32_t)u[3] << 8 | u[4];

        if (at >= c->data_size) {
            violation(c, "resume-offset", u[1]);
            return;
        }
        c->resume_at = c->sent = c->acked = at;
    }
    start_data(c, c->resume_at, now);
}

static void
start_noise(struct otk_natc *c, uint32_t now)
{
    uint8_t prologue[OTK_NAT_NOISE_PROLOGUE_LEN];
    uint8_t frame[OTK_NAT_NOISE_FRAME_HDR + NOISE_PAYLOAD];
    size_t n = sizeof OTK_NAT_NOISE_PROLOGUE_INIT - 1;

    memcpy(prologue, OTK_NAT_NOISE_PROLOGUE_INIT, n);
    memcpy(prologue + n, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN);
    n += OTK_NAT_MAGIC_LEN;
    prologue[n++] = OTK_NAT_OK;
    prologue[n++] = c->version;
    prologue[n++] = c->features;
    prologue[n++] = OTK_NAT_FEATURE_FLAGS;
    prologue[n++] = c->server_flags;
    frame[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
    frame[1] = 0;
    frame[2] = NOISE_PAYLOAD;
    frame[3] = OTK_NAT_NOISE_HANDSHAKE_OK;
    if (otk_noise_start(&c->noise, c->cfg.crypto, true, c->cfg.key, prologue, n) != OTK_OK ||
        otk_noise_write_handshake(&c->noise, frame + 4) != OTK_OK) {
        finish(c, OTK_NATC_LOCAL);
        return;
    }
    queue_unit(c, frame, sizeof frame);
    c->rx_len = 0;
    enter(c, OTK_NATC_NOISE, now, c->cfg.step_timeout_ms);
}

static void
on_version(struct otk_natc *c, const uint8_t *u, uint32_t now)
{
    if (u[0] != OTK_NAT_OK) {
        unexpected(c, u[0]);
        return;
    }
    if (u[1] != OTK_NAT_VERSION_1 && u[1] != OTK_NAT_VERSION_2) {
        c->dev_code = u[1];
        finish(c, OTK_NATC_VERSION);
        return;
    }
    c->version = u[1];
    queue_unit(c, &c->features, 1);
    enter(c, OTK_NATC_FEATURES, now, c->cfg.step_timeout_ms);
}

static void
on_features(struct otk_natc *c, const uint8_t *u, uint32_t now)
{
    bool has_key = c->cfg.key != NULL;

    if (u[0] == OTK_NAT_ERR_ENCRYPTION_REQUIRED && !has_key) {
        c->dev_code = u[0];
        finish(c, OTK_NATC_NEED_KEY);
        return;
    }
    if (u[0] != OTK_NAT_HEADER_OK && u[0] != OTK_NAT_SUPPORTS_COMPRESSION &&
        u[0] != OTK_NAT_FEATURE_FLAGS) {
        unexpected(c, u[0]);
        return;
    }
    c->feature_reply = u[0];
    c->server_flags = u[0] == OTK_NAT_FEATURE_FLAGS ? u[1] : 0;
    c->compressed =
        (c->features & OTK_NAT_CF_COMPRESSION) &&
        (u[0] == OTK_NAT_SUPPORTS_COMPRESSION || (c->server_flags & OTK_NAT_SF_COMPRESSION));
    if (c->compressed) {
        c->data = c->cfg.gz;
        c->data_size = c->cfg.gz_size;
    }
    otk_proto_md5_hex(c->cfg.crypto, c->data, c->data_size, c->md5);
    if (has_key) {
        /* fail closed: a device that does not offer Noise may be one that had the flag
         * stripped on the way, and the image carries the Wi-Fi credentials */
        if (!(c->server_flags & OTK_NAT_SF_NOISE))
            finish(c, OTK_NATC_NOISE_ABSENT);
        else
            start_noise(c, now);
        return;
    }
    enter(c, OTK_NATC_AUTH, now, c->cfg.step_timeout_ms);
}

static void
answer_challenge(struct otk_natc *c, const uint8_t *u, size_t hex, uint32_t now)
{
    char nonce[NONCE_SHA_HEX + 1], cnonce[NONCE_SHA_HEX + 1], response[NONCE_SHA_HEX + 1];
    uint8_t rnd[NONCE_SHA_HEX / 2];

    c->auth = u[0];
    if (!c->cfg.password || !c->cfg.password[0]) {
        finish(c, OTK_NATC_NEED_PASSWORD);
        return;
    }
    memcpy(nonce, u + 1, hex);
    nonce[hex] = 0;
    if (c->cfg.crypto->random(c->cfg.crypto->user, rnd, hex / 2) != OTK_OK) {
        finish(c, OTK_NATC_LOCAL);
        return;
    }
    otk_hex(rnd, hex / 2, cnonce);
    otk_natc_auth_response(c->cfg.crypto, hex == NONCE_SHA_HEX, c->cfg.password, nonce, cnonce, hex,
                           response);
    if (queue_unit(c, cnonce, hex) && queue_unit(c, response, hex))
        enter(c, OTK_NATC_AUTH_RESULT, now, c->cfg.step_timeout_ms);
}

static void
on_auth(struct otk_natc *c, const uint8_t *u, uint32_t now)
{
    if (u[0] == OTK_NAT_AUTH_OK)
        authenticated(c, now);
    else if (u[0] == OTK_NAT_REQUEST_AUTH_MD5)
        answer_challenge(c, u, NONCE_MD5_HEX, now);
    else if (u[0] == OTK_NAT_REQUEST_AUTH_SHA256)
        answer_challenge(c, u, NONCE_SHA_HEX, now);
    else if (u[0] == OTK_NAT_ERR_AUTH_INVALID)
        finish(c, OTK_NATC_AUTH_REFUSED);
    else
        unexpected(c, u[0]);
}

/* ---- the data phase ---- */

static void
on_data_byte(struct otk_natc *c, uint8_t b, uint32_t now)
{
    /* the chunks of what this connection carries: from the resume offset on */
    uint32_t span = c->data_size - c->resume_at;
    uint32_t chunks = (span + CHUNK - 1) / CHUNK;

    if (b == OTK_NAT_CHUNK_OK && c->version >= OTK_NAT_VERSION_2 && !c->receive_ok) {
        /* an ack for a chunk not yet handed over whole (or the final partial one) */
        uint32_t covered = c->sent >= c->data_size ? chunks : (c->sent - c->resume_at) / CHUNK;
        if (c->acks + 1 > covered) {
            violation(c, "over-ack", b);
            return;
        }
        c->acks++;
        c->acked = c->resume_at + (c->acks * CHUNK < span ? c->acks * CHUNK : span);
    } else if (b == OTK_NAT_RECEIVE_OK && !c->receive_ok) {
        if (!c->all_sent || (c->version >= OTK_NAT_VERSION_2 && c->acks != chunks)) {
            violation(c, "early-receive-ok", b);
            return;
        }
        c->receive_ok = true;
    } else if (b == OTK_NAT_UPDATE_END_OK && c->receive_ok) {
        uint8_t ack = OTK_NAT_OK;
        c->phase = OTK_NATC_END;
        queue_unit(c, &ack, 1);
        c->deadline = now + 1000; /* a lost final ack is not fatal: the device reboots anyway */
        return;
    } else {
        unexpected(c, b);
        return;
    }
    c->last_t = now;
    c->deadline =
        now + (c->phase == OTK_NATC_DATA ? c->cfg.stall_timeout_ms : c->cfg.result_timeout_ms);
}

/* The bytes one answer needs, judged from those collected so far. */
static size_t
unit_need(const struct otk_natc *c)
{
    switch (c->phase) {
    case OTK_NATC_MAGIC: /* "00 vv", or an error byte alone ("80": not our magic) */
        return c->unit_len && c->unit[0] != OTK_NAT_OK ? 1 : 2;
    case OTK_NATC_FEATURES:
        return c->unit_len && c->unit[0] == OTK_NAT_FEATURE_FLAGS ? 2 : 1;
    case OTK_NATC_OTAKIT: /* "01 granted", or an error byte alone */
        return c->unit_len && c->unit[0] != OTK_NAT_OTAKIT_VERSION ? 1 : OTK_NAT_OTAKIT_UNIT;
    case OTK_NATC_MD5: /* with RESUME: "43" + the 4-byte offset */
        return c->unit_len && c->unit[0] == OTK_NAT_BIN_MD5_OK && (c->caps & OTK_NAT_CAP_RESUME)
                   ? OTK_NAT_RESUME_UNIT
                   : 1;
    case OTK_NATC_AUTH:
        if (c->unit_len && c->unit[0] == OTK_NAT_REQUEST_AUTH_MD5)
            return 1 + NONCE_MD5_HEX;
        if (c->unit_len && c->unit[0] == OTK_NAT_REQUEST_AUTH_SHA256)
            return 1 + NONCE_SHA_HEX;
        return 1;
    default:
        return 1;
    }
}

static void
on_unit(struct otk_natc *c, uint32_t now)
{
    const uint8_t *u = c->unit;

    c->unit_len = 0;
    switch (c->phase) {
    case OTK_NATC_MAGIC:
        on_version(c, u, now);
        break;
    case OTK_NATC_FEATURES:
        on_features(c, u, now);
        break;
    case OTK_NATC_AUTH:
        on_auth(c, u, now);
        break;
    case OTK_NATC_AUTH_RESULT:
        if (u[0] == OTK_NAT_AUTH_OK)
            authenticated(c, now);
        else if (u[0] == OTK_NAT_ERR_AUTH_INVALID)
            finish(c, OTK_NATC_AUTH_REFUSED);
        else
            unexpected(c, u[0]);
        break;
    case OTK_NATC_OTAKIT:
        on_otakit(c, u, now);
        break;
    case OTK_NATC_PREPARE:
        if (u[0] != OTK_NAT_UPDATE_PREPARE_OK)
            unexpected(c, u[0]);
        else if (queue_unit(c, c->md5, 32))
            enter(c, OTK_NATC_MD5, now, c->cfg.step_timeout_ms);
        break;
    case OTK_NATC_MD5:
        on_md5_ok(c, u, now);
        break;
    case OTK_NATC_DATA:
    case OTK_NATC_RESULT:
        on_data_byte(c, u[0], now);
        break;
    default: /* END: anything after 45 is of no interest */
        break;
    }
}

static void
feed_plain(struct otk_natc *c, const uint8_t *in, size_t len, uint32_t now)
{
    for (size_t i = 0; i < len && c->phase != OTK_NATC_DONE; i++) {
        c->unit[c->unit_len++] = in[i];
        if (c->unit_len >= unit_need(c))
            on_unit(c, now);
    }
}

/* ---- Noise frames ---- */

static void
on_handshake_frame(struct otk_natc *c, const uint8_t *p, size_t len, uint32_t now)
{
    if (p[0] == OTK_NAT_NOISE_REJECT) {
        size_t n = len - 1 < sizeof c->reason - 1 ? len - 1 : sizeof c->reason - 1;
        otk_text_escape(c->reason, sizeof c->reason, p + 1, n);
        finish(c, len - 1 == sizeof OTK_NAT_NOISE_MAC_FAILURE - 1 &&
                          !memcmp(p + 1, OTK_NAT_NOISE_MAC_FAILURE, len - 1)
                      ? OTK_NATC_WRONG_KEY
                      : OTK_NATC_NOISE_REJECTED);
        return;
    }
    if (p[0] != OTK_NAT_NOISE_HANDSHAKE_OK) {
        violation(c, "frame", p[0]);
        return;
    }
    int rc = otk_noise_read_handshake(&c->noise, p + 1, len - 1);
    if (rc == OTK_ERR_AUTH) {
        finish(c, OTK_NATC_WRONG_KEY); /* its answer does not fit our key */
        return;
    }
    if (rc != OTK_OK || !otk_noise_ready(&c->noise)) {
        violation(c, "frame", p[0]);
        return;
    }
    c->encrypted = true;
    enter(c, OTK_NATC_AUTH, now, c->cfg.step_timeout_ms);
}

static void
on_frame(struct otk_natc *c, uint32_t now)
{
    uint8_t *p = c->rx + OTK_NAT_NOISE_FRAME_HDR;
    size_t len = c->rx_len - OTK_NAT_NOISE_FRAME_HDR;

    c->rx_len = 0;
    if (c->phase == OTK_NATC_NOISE) {
        on_handshake_frame(c, p, len, now);
        return;
    }
    if (otk_noise_decrypt(&c->noise, p, len, p) != OTK_OK) {
        finish(c, OTK_NATC_NOISE_BROKEN);
        return;
    }
    feed_plain(c, p, len - OTK_NOISE_TAG_LEN, now);
}

static void
feed_frames(struct otk_natc *c, const uint8_t *in, size_t len, uint32_t now)
{
    for (size_t i = 0; i < len && c->phase != OTK_NATC_DONE; i++) {
        c->rx[c->rx_len++] = in[i];
        if (c->rx_len == 1 && in[i] != OTK_NAT_NOISE_FRAME_INDICATOR) {
            /* a plaintext error byte where a frame should start (a device that refuses
             * before it speaks Noise), or a broken stream */
            c->dev_code = in[i];
            finish(c, c->phase == OTK_NATC_NOISE && is_error_code(in[i]) ? OTK_NATC_DEVICE_ERROR
                                                                         : OTK_NATC_NOISE_BROKEN);
            return;
        }
        if (c->rx_len < OTK_NAT_NOISE_FRAME_HDR)
            continue;
        size_t flen = (size_t)c->rx[1] << 8 | c->rx[2];
        if (flen == 0 || flen > sizeof c->rx - OTK_NAT_NOISE_FRAME_HDR ||
            (c->phase != OTK_NATC_NOISE && flen <= OTK_NOISE_TAG_LEN)) {
            finish(c, OTK_NATC_NOISE_BROKEN);
            return;
        }
        if (c->rx_len == OTK_NAT_NOISE_FRAME_HDR + flen)
            on_frame(c, now);
    }
}

/* ---- public ---- */

int
otk_natc_start(struct otk_natc *c, const struct otk_natc_cfg *cfg, uint32_t now)
{
    memset(c, 0, sizeof *c);
    if (!cfg->image || !cfg->size || !cfg->crypto || (cfg->gz && !cfg->gz_size) ||
        (cfg->key && (!cfg->crypto->x25519 || !cfg->crypto->chachapoly_seal)) ||
        ((cfg->caps & OTK_NAT_CAP_DEFLATE) && !cfg->deflate))
        return OTK_ERR_ARG;
    c->cfg = *cfg;
    c->data = cfg->image;
    c->data_size = cfg->size;
    c->features = OTK_NAT_CF_SHA256_AUTH | OTK_NAT_CF_EXTENDED;
    if (cfg->gz)
        c->features |= OTK_NAT_CF_COMPRESSION;
    if (cfg->key)
        c->features |= OTK_NAT_CF_NOISE;
    if (cfg->caps)
        c->features |= OTK_NAT_CF_OTAKIT; /* with EXTENDED, always set here */
    c->txp = c->tx;
    c->last_t = now;
    queue_unit(c, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN);
    enter(c, OTK_NATC_MAGIC, now, c->cfg.step_timeout_ms);
    return OTK_OK;
}

void
otk_natc_input(struct otk_natc *c, const uint8_t *in, size_t len, uint32_t now)
{
    /* byte by byte: the answer that starts the handshake and the handshake's answer may
     * arrive in one read, and from then on the bytes are frames */
    for (size_t i = 0; i < len && c->phase != OTK_NATC_DONE; i++) {
        if (c->encrypted || c->phase == OTK_NATC_NOISE)
            feed_frames(c, in + i, 1, now);
        else
            feed_plain(c, in + i, 1, now);
    }
}

void
otk_natc_closed(struct otk_natc *c, uint32_t now)
{
    (void)now;
    /* after 45 the device closes as soon as it has our 00, or without it: done either way */
    finish(c, c->phase == OTK_NATC_END ? OTK_NATC_OK : OTK_NATC_CLOSED);
}

void
otk_natc_tick(struct otk_natc *c, uint32_t now)
{
    if (c->phase == OTK_NATC_DONE || (int32_t)(now - c->deadline) < 0)
        return;
    finish(c, c->phase == OTK_NATC_END ? OTK_NATC_OK : OTK_NATC_TIMEOUT);
}
