/* SPDX-License-Identifier: MIT */
/* ESPHome's native OTA protocol, device side (include/otakit/native.h; the exchange byte by byte
 * in docs/PROTOCOL.md). Every era of ESPHome's uploader is answered as the ESPHome devices of
 * its time answer it: "00 02"; one feature byte (0x40) to clients without the extended bit and
 * "48 flags" to the others; a SHA-256 challenge to clients that can answer one (MD5 only when
 * the build allows it); Noise when both sides hold the key; chunk acks by ESPHome's rule.
 * Unlike ESPHome's loop nothing here blocks: each step waits for its bytes, and a connection
 * that stops sending is dropped at its deadline. */
#include <stddef.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/native.h"

#include "device_priv.h"
#include "text.h"

#if OTK_CFG_PROTO_NATIVE

#define HANDSHAKE_TIMEOUT_MS 20000u /* ESPHome's watchdog from accept to the end of auth */
#define DATA_TIMEOUT_MS      20000u
#define END_ACK_TIMEOUT_MS   2000u   /* the host's last byte: missing is not an error */
#define REBOOT_PAUSE_MS      110u    /* ESPHome: close, 10 + 100 ms, restart */
#define FLOOR_WINDOW_MS      8000u   /* the progress floor's window, as the ArduinoOTA side's */
#define SHA_NONCE_RAW        8u      /* ESPHome hashes 8 random bytes into the 64-hex nonce */
#define NO_CODE              0x100   /* fail() without a response byte */
#define RESUME_KEEP_MS       120000u /* a dropped image's resume record, after the drop */

static bool
time_reached(uint32_t now, uint32_t at)
{
    return (int32_t)(now - at) >= 0;
}

static void
raw_send(struct otk_dev *d, const void *buf, size_t len)
{
    (void)d->net->nat_send(d->net->user, buf, len);
}

/* One unit of the exchange: in plain as it is, under Noise in a frame of its own (ESPHome's
 * host reads one unit per frame). Units sent after the handshake are single bytes. */
static void
send_unit(struct otk_dev *d, const uint8_t *buf, size_t len)
{
#if OTK_CFG_NOISE
    struct otk_nat *n = d->nat;
    uint8_t f[OTK_NAT_NOISE_FRAME_HDR + OTK_NAT_RESUME_UNIT + OTK_NOISE_TAG_LEN];

    if (n->encrypted) {
        if (len > OTK_NAT_RESUME_UNIT ||
            otk_noise_encrypt(&n->noise, buf, len, f + OTK_NAT_NOISE_FRAME_HDR) != OTK_OK)
            return;
        f[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
        f[1] = 0;
        f[2] = (uint8_t)(len + OTK_NOISE_TAG_LEN);
        raw_send(d, f, OTK_NAT_NOISE_FRAME_HDR + len + OTK_NOISE_TAG_LEN);
        return;
    }
#endif
    raw_send(d, buf, len);
}

static void
reply(struct otk_dev *d, uint8_t code)
{
    send_unit(d, &code, 1);
}

static void
emit(struct otk_dev *d, enum otk_dev_event_type type, enum otk_ota_error e,
     enum otk_upd_reason reason, const char *text)
{
    struct otk_dev_event ev;

    if (!d->hooks.on_event)
        return;
    ev.type = type;
    ev.cmd = OTK_CMD_FLASH;
    ev.bytes = otk_upd_progress(&d->upd);
    ev.total = d->nat->size;
    ev.ota_error = e;
    ev.reason = reason;
    ev.text = text ? text : "";
    d->hooks.on_event(d->hooks.user, &ev);
}

static void
expect(struct otk_nat *n, enum otk_nat_state s, uint16_t need)
{
    n->state = s;
    n->need = need;
    n->have = 0;
}

/* Abort the update this side began. A lost connection (the host left, went silent or trickled,
 * a frame broke) leaves a resume record when the build has resume, whatever the client: a
 * later otakit client with the same image continues from it. */
static void
stop_update(struct otk_dev *d, enum otk_upd_reason r, uint32_t now)
{
#if OTK_CFG_NATIVE_RESUME
    if (r == OTK_UPD_ABORTED || r == OTK_UPD_STREAM) {
        otk_upd_suspend(&d->upd, r);
        d->nat->resume_until = now + d->nat->cfg.resume_keep_ms;
        return;
    }
#endif
    (void)now;
    otk_upd_abort(&d->upd, r);
}

/* A compressed update's inflater gives its state back (the update ended, or never began). */
static void
stop_stream(struct otk_nat *n)
{
#if OTK_CFG_NATIVE_DEFLATE
    otk_inflater_stop(&n->inflater);
    n->deflate = false;
#else
    (void)n;
#endif
}

/* End the connection: one response byte (unless NO_CODE), close, abort an update this side
 * began, and report it when `text` is given. */
static void
fail_at(struct otk_dev *d, unsigned code, enum otk_ota_error e, enum otk_upd_reason r,
        const char *text, uint32_t now)
{
    struct otk_nat *n = d->nat;

    if (n->started && (otk_upd_reason_of(&d->upd) == OTK_UPD_OK || d->upd.running))
        stop_update(d, r, now);
    stop_stream(n);
    if (code != NO_CODE)
        reply(d, (uint8_t)code);
    d->net->nat_close(d->net->user);
    n->started = false;
    n->encrypted = false;
    n->state = OTK_NATS_IDLE;
    if (text)
        emit(d, OTK_EV_ERROR, e, r, text);
}

/* The failures that cannot be a lost connection need no time. */
static void
fail(struct otk_dev *d, unsigned code, enum otk_ota_error e, enum otk_upd_reason r,
     const char *text)
{
    fail_at(d, code, e, r, text, 0);
}

/* The connection closes quietly: nothing was begun, nothing to report. */
static void
drop(struct otk_dev *d)
{
    fail(d, NO_CODE, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
}

uint8_t
otk_nat_code_for(enum otk_profile p, enum otk_upd_reason r, int at)
{
    bool esp8266 = p == OTK_PROFILE_ESP8266;

    switch (r) {
    case OTK_UPD_SPACE:
    case OTK_UPD_SIZE:
        return esp8266 ? OTK_NAT_ERR_ESP8266_NOT_ENOUGH_SPACE : OTK_NAT_ERR_ESP32_NOT_ENOUGH_SPACE;
    case OTK_UPD_NO_PARTITION:
        return OTK_NAT_ERR_NO_UPDATE_PARTITION;
    case OTK_UPD_NEW_FLASH_CONFIG:
        return at == 0 ? OTK_NAT_ERR_WRONG_NEW_FLASH_CONFIG : OTK_NAT_ERR_WRITING_FLASH;
    case OTK_UPD_MD5:
        return OTK_NAT_ERR_MD5_MISMATCH;
    case OTK_UPD_MAGIC:
        /* ESP-IDF's esp_ota_write refuses the head (ESPHome: 0x80); Arduino's Update.write
         * fails (ESPHome's ESP8266 backend: 0x83). */
        return esp8266 ? OTK_NAT_ERR_WRITING_FLASH : OTK_NAT_ERR_MAGIC;
    case OTK_UPD_WRONG_CHIP:
        /* An ESPHome ESP32 finds it in esp_ota_end's image check (0x84), an ESP8266 in its
         * Update.write's header check (0x83); otakit finds it on the first 16 bytes. */
        return esp8266 ? OTK_NAT_ERR_WRITING_FLASH : OTK_NAT_ERR_UPDATE_END;
    case OTK_UPD_STREAM:
        return OTK_NAT_ERR_UNKNOWN; /* ESPHome's data timeout byte */
    case OTK_UPD_INFLATE:
        /* otakit's own extension, so no ESPHome code names it: "finishing the update failed"
         * (the bytes that arrived do not make the announced image). */
        return OTK_NAT_ERR_UPDATE_END;
#if OTK_CFG_SIGNED_IMAGES
    case OTK_UPD_SIGN:
        return OTK_NAT_ERR_SIGNATURE_INVALID; /* ESPHome's signed OTA answers it after end() */
#endif
    default:
        break;
    }
    if (at == 0)
        return OTK_NAT_ERR_UPDATE_PREPARE; /* already running, unconfirmed image, ... */
    return at == 1 ? OTK_NAT_ERR_WRITING_FLASH : OTK_NAT_ERR_UPDATE_END;
}

/* ---- handshake ---- */

static void
accept_auth(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;

    if (n->challenged)
        otk__dev_throttle_success(d, &n->peer);
    reply(d, OTK_NAT_AUTH_OK);
    if (n->otakit)
        expect(n, OTK_NATS_OTAKIT, OTK_NAT_OTAKIT_UNIT);
    else if (n->extended)
        expect(n, OTK_NATS_TYPE, 1);
    else
        expect(n, OTK_NATS_SIZE, 4);
    n->deadline = now + n->cfg.data_timeout_ms;
}

uint8_t
otk_nat_offered_caps(const struct otk_dev *d)
{
    uint8_t caps = 0;

#if OTK_CFG_NATIVE_RESUME
    caps |= OTK_NAT_CAP_RESUME;
#endif
#if OTK_CFG_NATIVE_DEFLATE
    if (d->nat && otk_inflater_available(&d->nat->inflater))
        caps |= OTK_NAT_CAP_DEFLATE; /* only a device with an inflater offers it */
#endif
    return d->nat ? (uint8_t)(caps & ~d->nat->cfg.caps_off) : 0;
}

/* otakit's extension: the host's "01 caps" (a later version of the exchange gets version 1's
 * answer and speaks version 1); version 0 is no version at all. */
static void
on_otakit_hello(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;
    uint8_t msg[OTK_NAT_OTAKIT_UNIT];

    if (n->field[0] < OTK_NAT_OTAKIT_VERSION) {
        fail(d, OTK_NAT_ERR_UNKNOWN, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
        return;
    }
    n->caps = (uint8_t)(n->field[1] & otk_nat_offered_caps(d));
#if OTK_CFG_NATIVE_DEFLATE
    n->deflate = (n->caps & OTK_NAT_CAP_DEFLATE) != 0;
#endif
    msg[0] = OTK_NAT_OTAKIT_VERSION;
    msg[1] = n->caps;
    send_unit(d, msg, sizeof msg);
    expect(n, OTK_NATS_TYPE, 1);
}

static bool
make_nonce(struct otk_dev *d, bool sha256)
{
    struct otk_nat *n = d->nat;
    const struct otk_crypto_ops *c = d->crypto;
    union otk_hash_ctx h;
    uint8_t raw[32];

    if (c->random(c->user, raw, sha256 ? SHA_NONCE_RAW : 4) != OTK_OK)
        return false;
    if (sha256) {
        c->sha256_start(&h);
        c->sha256_update(&h, raw, SHA_NONCE_RAW);
        c->sha256_finish(&h, raw);
        otk_hex(raw, 32, n->nonce);
        n->nonce_len = OTK_SHA256_HEX_LEN;
        return true;
    }
    /* ESPHome's MD5 nonce: MD5 of the random 32-bit number printed as "%08x". */
    otk_hex(raw, 4, (char *)raw + 4);
    c->md5_start(&h);
    c->md5_update(&h, raw + 4, 8);
    c->md5_finish(&h, raw);
    otk_hex(raw, 16, n->nonce);
    n->nonce_len = OTK_MD5_HEX_LEN;
    return true;
}

/* Step 5 in plain: no password, a challenge, or a refusal for a client that cannot answer the
 * challenges this build sends. */
static void
start_auth(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t msg[1 + OTK_SHA256_HEX_LEN];
    bool sha256 = (n->client_features & OTK_NAT_CF_SHA256_AUTH) != 0;

    if (n->cfg.password[0] == '\0') {
        accept_auth(d, now);
        return;
    }
    if (!sha256 && !OTK_CFG_NATIVE_MD5_AUTH) {
        /* ESPHome since 2026.1: a client without SHA-256 gets 0x82 (PR #12707). */
        fail(d, OTK_NAT_ERR_AUTH_INVALID, OTK_OTA_AUTH_ERROR, OTK_UPD_OK,
             "Authentication invalid: the client cannot answer a SHA-256 challenge");
        return;
    }
    if (!make_nonce(d, sha256)) {
        fail(d, OTK_NAT_ERR_UNKNOWN, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
        return;
    }
    msg[0] = sha256 ? OTK_NAT_REQUEST_AUTH_SHA256 : OTK_NAT_REQUEST_AUTH_MD5;
    memcpy(msg + 1, n->nonce, n->nonce_len);
    raw_send(d, msg, 1u + n->nonce_len);
    n->challenged = true;
    expect(n, OTK_NATS_AUTH, (uint16_t)(2u * n->nonce_len));
}

/* cnonce and response arrived: response = H(password | nonce | cnonce), hex. */
static void
check_answer(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    const struct otk_crypto_ops *c = d->crypto;
    union otk_hash_ctx h;
    uint8_t digest[32];
    char hex[OTK_SHA256_HEX_LEN + 1];
    size_t l = n->nonce_len, pl = strlen(n->cfg.password);
    bool ok;

    if (l == OTK_SHA256_HEX_LEN) {
        c->sha256_start(&h);
        c->sha256_update(&h, n->cfg.password, pl);
        c->sha256_update(&h, n->nonce, l);
        c->sha256_update(&h, n->field, l);
        c->sha256_finish(&h, digest);
    } else {
        c->md5_start(&h);
        c->md5_update(&h, n->cfg.password, pl);
        c->md5_update(&h, n->nonce, l);
        c->md5_update(&h, n->field, l);
        c->md5_finish(&h, digest);
    }
    otk_hex(digest, l / 2, hex);
    ok = otk_ct_equal(hex, n->field + l, l);
    memset(n->nonce, 0, sizeof n->nonce); /* one answer per nonce, right or wrong */
    if (ok) {
        accept_auth(d, now);
        return;
    }
    otk__dev_throttle_failure(d, &n->peer, now);
    fail(d, OTK_NAT_ERR_AUTH_INVALID, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, "Authentication invalid");
}

#if OTK_CFG_NOISE
static void
start_noise(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;
    uint8_t pro[OTK_NAT_NOISE_PROLOGUE_LEN];
    size_t at = sizeof OTK_NAT_NOISE_PROLOGUE_INIT - 1;

    memcpy(pro, OTK_NAT_NOISE_PROLOGUE_INIT, at);
    memcpy(pro + at, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN);
    at += OTK_NAT_MAGIC_LEN;
    pro[at++] = OTK_NAT_OK;
    pro[at++] = n->cfg.version;
    pro[at++] = n->client_features;
    pro[at++] = OTK_NAT_FEATURE_FLAGS;
    pro[at++] = n->server_flags;
    if (otk_noise_start(&n->noise, d->crypto, false, n->cfg.key, pro, at) != OTK_OK) {
        drop(d);
        return;
    }
    n->state = OTK_NATS_HANDSHAKE;
    n->frame_have = 0;
}
#endif

static void
on_features(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t cf = n->field[0], msg[2];
    const uint8_t both = OTK_NAT_CF_EXTENDED | OTK_NAT_CF_NOISE;
    bool noise = n->cfg.noise != OTK_NAT_NOISE_OFF && (cf & both) == both;

    n->client_features = cf;
    n->extended = (cf & OTK_NAT_CF_EXTENDED) != 0;
    n->otakit = n->extended && (cf & OTK_NAT_CF_OTAKIT) != 0;
    if (n->cfg.noise == OTK_NAT_NOISE_REQUIRED && !noise) {
        fail(d, OTK_NAT_ERR_ENCRYPTION_REQUIRED, OTK_OTA_AUTH_ERROR, OTK_UPD_OK,
             "Encryption required: the client did not offer Noise");
        return;
    }
    /* Compression is never offered: the A/B writer stores plain images. */
    n->server_flags = n->cfg.noise != OTK_NAT_NOISE_OFF ? OTK_NAT_SF_NOISE : 0;
    if (n->otakit)
        n->server_flags |= OTK_NAT_SF_OTAKIT; /* only to a client that set it: others see none */
    msg[0] = n->extended ? OTK_NAT_FEATURE_FLAGS : OTK_NAT_HEADER_OK;
    msg[1] = n->server_flags;
    raw_send(d, msg, n->extended ? 2 : 1);
#if OTK_CFG_NOISE
    if (noise) {
        start_noise(d);
        return;
    }
#endif
    start_auth(d, now);
}

/* ---- update ---- */

static void
on_size(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    const uint8_t *f = n->field;
    enum otk_upd_reason r;

    n->size = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];
    if (n->ota_type != OTK_NAT_TYPE_APP) {
        /* As ESPHome 2026.5: the type is refused once the size is read. */
        fail(d, OTK_NAT_ERR_UNSUPPORTED_OTA_TYPE, OTK_OTA_BEGIN_ERROR, OTK_UPD_BAD_ARG,
             "OTA type not supported");
        return;
    }
    r = otk__dev_arduino_busy(d)
            ? OTK_UPD_RUNNING
            : otk_upd_begin(&d->upd, n->size, OTK_CMD_FLASH, d->cfg.running_slot, 0);
    if (r != OTK_UPD_OK) {
        fail(d, otk_nat_code_for(d->cfg.profile, r, 0), OTK_OTA_BEGIN_ERROR, r,
             otk_upd_reason_str(d->cfg.profile, r));
        return;
    }
    n->started = true;
    n->acked = 0;
    n->floor_at = now;
    n->floor_mark = 0;
    emit(d, OTK_EV_START, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    reply(d, OTK_NAT_UPDATE_PREPARE_OK);
    expect(n, OTK_NATS_MD5, OTK_MD5_HEX_LEN);
}

/* After BIN_MD5_OK: the image, or with DEFLATE granted the stream's length first. */
static void
expect_data(struct otk_nat *n)
{
#if OTK_CFG_NATIVE_DEFLATE
    if (n->deflate) {
        expect(n, OTK_NATS_STREAM, 4);
        return;
    }
#endif
    expect(n, OTK_NATS_DATA, 0);
}

/* RESUME granted: "43" and the offset the host sends from. A record of the same image whose
 * flash still reads back as what arrived gives its length; anything else gives 0. */
static void
send_resume_point(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;
    uint32_t at = 0;
    uint8_t msg[OTK_NAT_RESUME_UNIT];

#if OTK_CFG_NATIVE_RESUME
    at = otk_upd_resumable(&d->upd);
    if (at && otk_upd_resume_at(&d->upd, at) != OTK_UPD_OK)
        at = 0;
#endif
    n->resume_at = at;
    n->acked = at; /* the chunk acks count from the offset */
    msg[0] = OTK_NAT_BIN_MD5_OK;
    msg[1] = (uint8_t)(at >> 24);
    msg[2] = (uint8_t)(at >> 16);
    msg[3] = (uint8_t)(at >> 8);
    msg[4] = (uint8_t)at;
    send_unit(d, msg, sizeof msg);
    expect_data(n);
    if (at)
        emit(d, OTK_EV_PROGRESS, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
}

/* Write the profile's text for the updater's failure into d->msg (the event carries it). */
static const char *
upd_text(struct otk_dev *d)
{
    otk_upd_errtext(&d->upd, d->msg, sizeof d->msg);
    return d->msg;
}

#if OTK_CFG_NATIVE_DEFLATE
/* "Decompression Failed: <what was wrong with the stream>" into d->msg. */
static const char *
stream_text(struct otk_dev *d)
{
    const char *why = d->nat->inflater.why;
    size_t at = 0;

    for (const char *t = otk_upd_reason_str(d->cfg.profile, OTK_UPD_INFLATE); *t; t++)
        d->msg[at++] = *t;
    for (const char *t = ": "; *t && why; t++)
        d->msg[at++] = *t;
    for (; why && *why && at + 1 < sizeof d->msg; why++)
        d->msg[at++] = *why;
    d->msg[at] = '\0';
    return d->msg;
}
#endif

static void
on_md5(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;

    /* ESPHome keeps any 32 bytes and fails the end with 0x8B; nothing is written yet here. */
    if (!otk_upd_set_md5(&d->upd, (const char *)n->field, OTK_MD5_HEX_LEN)) {
        fail(d, OTK_NAT_ERR_MD5_MISMATCH, OTK_OTA_BEGIN_ERROR, OTK_UPD_MD5, "MD5 is not hex");
        return;
    }
    if (n->caps & OTK_NAT_CAP_RESUME) {
        send_resume_point(d);
        return;
    }
    reply(d, OTK_NAT_BIN_MD5_OK);
    expect_data(n);
}

#if OTK_CFG_NATIVE_DEFLATE
/* The deflate stream's length (big-endian): the bytes that follow, and what the chunk acks
 * count. 0: the uploader found the image incompressible and sends it as it is. */
static void
on_stream_len(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;
    const uint8_t *f = n->field;
    uint32_t len = (uint32_t)f[0] << 24 | (uint32_t)f[1] << 16 | (uint32_t)f[2] << 8 | f[3];

    if (len == 0) { /* the image as it is, from the resume point */
        n->deflate = false;
        expect(n, OTK_NATS_DATA, 0);
        return;
    }
    n->acked = 0; /* the acks count the stream's bytes, from its first */
    if (otk_inflater_start(&n->inflater, len) != OTK_UPD_OK) {
        fail(d, otk_nat_code_for(d->cfg.profile, OTK_UPD_INFLATE, 1), OTK_OTA_RECEIVE_ERROR,
             OTK_UPD_INFLATE, stream_text(d));
        return;
    }
    expect(n, OTK_NATS_DATA, 0);
}
#endif

static void
finish(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    enum otk_upd_reason r;

    reply(d, OTK_NAT_RECEIVE_OK);
    r = otk_upd_end(&d->upd);
    if (r != OTK_UPD_OK) {
        fail(d, otk_nat_code_for(d->cfg.profile, r, 2), OTK_OTA_END_ERROR, r, upd_text(d));
        return;
    }
    reply(d, OTK_NAT_UPDATE_END_OK);
    emit(d, OTK_EV_END, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    expect(n, OTK_NATS_END_ACK, 1);
    n->deadline = now + END_ACK_TIMEOUT_MS;
}

/* ESPHome's ack rule, after every read: one 0x47 per 8192 bytes, and one for a final partial
 * block, so ceil(size / 8192) in all whatever the reads' sizes. */
static void
send_chunk_acks(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;
    uint32_t total = otk_upd_progress(&d->upd), size = n->size;

    if (n->cfg.version < OTK_NAT_VERSION_2)
        return;
#if OTK_CFG_NATIVE_DEFLATE
    if (n->deflate) { /* compressed: the acks count the stream's bytes, the bytes that travel */
        total = n->inflater.stream_got;
        size = n->inflater.stream_len;
    }
#endif
    while (n->acked + OTK_NAT_CHUNK <= total || (total == size && n->acked < size)) {
        reply(d, OTK_NAT_CHUNK_OK);
        n->acked += OTK_NAT_CHUNK;
    }
}

/* The progress floor of the ArduinoOTA side (device.h min_rate): a peer trickling bytes does
 * not hold the writer for ever. */
static bool
below_floor(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint32_t p = otk_upd_progress(&d->upd);

    if (!time_reached(now, n->floor_at))
        return false;
    if (p < n->floor_mark)
        return true;
    n->floor_at = now + FLOOR_WINDOW_MS;
    n->floor_mark = p + (d->cfg.min_rate << 3);
    return false;
}

/* Of len bytes that arrived, those that belong to the data: the rest of the image, or of the
 * deflate stream. */
static size_t
data_wants(const struct otk_dev *d, size_t len)
{
    const struct otk_nat *n = d->nat;
    uint32_t left = n->size - otk_upd_progress(&d->upd);

#if OTK_CFG_NATIVE_DEFLATE
    if (n->deflate)
        return otk_inflater_wants(&n->inflater, len);
#endif
    return len < left ? len : left;
}

/* Into the writer: as they came, or inflated. On failure the connection is closed with the
 * code and text of the reason. */
static bool
write_data(struct otk_dev *d, const uint8_t *p, size_t k)
{
    enum otk_upd_reason r;

#if OTK_CFG_NATIVE_DEFLATE
    if (d->nat->deflate) {
        r = otk_inflater_write(&d->nat->inflater, &d->upd, p, k);
        if (r == OTK_UPD_INFLATE) {
            fail(d, otk_nat_code_for(d->cfg.profile, r, 1), OTK_OTA_RECEIVE_ERROR, r,
                 stream_text(d));
            return false;
        }
        if (r == OTK_UPD_OK)
            return true;
        fail(d, otk_nat_code_for(d->cfg.profile, r, 1), OTK_OTA_END_ERROR, r, upd_text(d));
        return false;
    }
#endif
    if (otk_upd_write(&d->upd, p, k) == k)
        return true;
    r = otk_upd_reason_of(&d->upd);
    fail(d, otk_nat_code_for(d->cfg.profile, r, 1), OTK_OTA_END_ERROR, r, upd_text(d));
    return false;
}

/* The last data byte arrived: the whole image, or the whole stream (which the inflater
 * checked to have made exactly the image). */
static bool
data_complete(const struct otk_dev *d)
{
#if OTK_CFG_NATIVE_DEFLATE
    if (d->nat->deflate)
        return otk_inflater_done(&d->nat->inflater);
#endif
    return otk_upd_is_finished(&d->upd);
}

static size_t
take_data(struct otk_dev *d, const uint8_t *p, size_t len, uint32_t now)
{
    struct otk_nat *n = d->nat;
    size_t k = data_wants(d, len);

    if (below_floor(d, now)) {
        fail_at(d, OTK_NAT_ERR_UNKNOWN, OTK_OTA_RECEIVE_ERROR, OTK_UPD_STREAM,
                otk_upd_reason_str(d->cfg.profile, OTK_UPD_STREAM), now);
        return len;
    }
    if (k == 0 || !write_data(d, p, k))
        return len;
    n->deadline = now + n->cfg.data_timeout_ms;
    emit(d, OTK_EV_PROGRESS, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
    send_chunk_acks(d);
    if (data_complete(d))
        finish(d, now);
    return k;
}

/* Success: the image is active; close and restart after ESPHome's pause. */
static void
end_session(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;

    n->started = false;
    n->encrypted = false;
    n->state = OTK_NATS_REBOOTING;
    n->deadline = now + REBOOT_PAUSE_MS;
}

/* ---- input ---- */

static void
field_done(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t hello[2] = {OTK_NAT_OK, n->cfg.version};

    switch (n->state) {
    case OTK_NATS_MAGIC:
        if (memcmp(n->field, OTK_NAT_MAGIC, OTK_NAT_MAGIC_LEN) != 0) {
            fail(d, OTK_NAT_ERR_MAGIC, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, 0);
            return;
        }
        raw_send(d, hello, sizeof hello);
        expect(n, OTK_NATS_FEATURES, 1);
        return;
    case OTK_NATS_FEATURES:
        on_features(d, now);
        return;
    case OTK_NATS_AUTH:
        check_answer(d, now);
        return;
    case OTK_NATS_OTAKIT:
        on_otakit_hello(d);
        return;
    case OTK_NATS_TYPE:
        n->ota_type = n->field[0];
        expect(n, OTK_NATS_SIZE, 4);
        return;
    case OTK_NATS_SIZE:
        on_size(d, now);
        return;
    case OTK_NATS_MD5:
        on_md5(d);
        return;
#if OTK_CFG_NATIVE_DEFLATE
    case OTK_NATS_STREAM:
        on_stream_len(d);
        return;
#endif
    case OTK_NATS_END_ACK:
        /* The host's 0x00 (whatever it sent, the image is already active). */
        d->net->nat_close(d->net->user);
        end_session(d, now);
        return;
    default:
        return;
    }
}

/* One step of unframed input (plain, or a frame's plaintext): the rest of a field, or image
 * bytes. @return bytes used. */
static size_t
field_input(struct otk_dev *d, const uint8_t *p, size_t len, uint32_t now)
{
    struct otk_nat *n = d->nat;
    size_t k;

    if (n->state == OTK_NATS_DATA)
        return take_data(d, p, len, now);
    k = (size_t)(n->need - n->have);
    if (k > len)
        k = len;
    memcpy(n->field + n->have, p, k);
    n->have = (uint16_t)(n->have + k);
    if (n->have == n->need)
        field_done(d, now);
    return k;
}

static bool
reading(const struct otk_nat *n)
{
    return n->state != OTK_NATS_IDLE && n->state != OTK_NATS_REBOOTING;
}

#if OTK_CFG_NOISE
static void
noise_reject(struct otk_dev *d, const char *why, bool wrong_key, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t f[OTK_NAT_NOISE_FRAME_HDR + 1 + sizeof OTK_NAT_NOISE_MAC_FAILURE];
    size_t l = strlen(why);

    f[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
    f[1] = 0;
    f[2] = (uint8_t)(1 + l);
    f[3] = OTK_NAT_NOISE_REJECT;
    memcpy(f + 4, why, l);
    raw_send(d, f, 4 + l);
    if (wrong_key)
        otk__dev_throttle_failure(d, &n->peer, now);
    fail(d, NO_CODE, OTK_OTA_AUTH_ERROR, OTK_UPD_OK, wrong_key ? why : 0);
}

/* The initiator's message: answer with ours, then the transport is on and AUTH_OK follows
 * (the key authenticated the uploader). */
static void
handshake(struct otk_dev *d, uint8_t *payload, size_t len, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t f[OTK_NAT_NOISE_FRAME_HDR + 1 + OTK_NOISE_HANDSHAKE_LEN];
    int rc = OTK_ERR_MALFORMED;

    if (payload[0] == OTK_NAT_NOISE_HANDSHAKE_OK)
        rc = otk_noise_read_handshake(&n->noise, payload + 1, len - 1);
    if (rc == OTK_ERR_AUTH) {
        noise_reject(d, OTK_NAT_NOISE_MAC_FAILURE, true, now);
        return;
    }
    if (rc != OTK_OK || otk_noise_write_handshake(&n->noise, f + 4) != OTK_OK) {
        noise_reject(d, "Handshake error", false, now);
        return;
    }
    f[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
    f[1] = 0;
    f[2] = 1 + OTK_NOISE_HANDSHAKE_LEN;
    f[3] = OTK_NAT_NOISE_HANDSHAKE_OK;
    raw_send(d, f, sizeof f);
    n->encrypted = true;
    accept_auth(d, now);
}

static void
frame_done(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;
    uint8_t *payload = n->frame + OTK_NAT_NOISE_FRAME_HDR;
    size_t len = n->frame_have - OTK_NAT_NOISE_FRAME_HDR, used = 0;

    n->frame_have = 0;
    if (!n->encrypted) {
        handshake(d, payload, len, now);
        return;
    }
    /* A transport frame that does not decrypt: the channel cannot carry a response. */
    if (otk_noise_decrypt(&n->noise, payload, len, payload) != OTK_OK) {
        fail_at(d, NO_CODE, OTK_OTA_RECEIVE_ERROR, OTK_UPD_ABORTED, n->started ? "Bad frame" : 0,
                now);
        return;
    }
    len -= OTK_NOISE_TAG_LEN;
    while (used < len && reading(n) && n->encrypted)
        used += field_input(d, payload + used, len - used, now);
}

/* One step of framed input: the header, or the rest of a frame. @return bytes used. */
static size_t
frame_input(struct otk_dev *d, const uint8_t *p, size_t len, uint32_t now)
{
    struct otk_nat *n = d->nat;
    size_t want = OTK_NAT_NOISE_FRAME_HDR, k;

    if (n->frame_have >= OTK_NAT_NOISE_FRAME_HDR) {
        want += (size_t)n->frame[1] << 8 | n->frame[2];
    }
    k = want - n->frame_have;
    if (k > len)
        k = len;
    memcpy(n->frame + n->frame_have, p, k);
    n->frame_have = (uint16_t)(n->frame_have + k);
    if (n->frame_have == OTK_NAT_NOISE_FRAME_HDR && want == OTK_NAT_NOISE_FRAME_HDR) {
        size_t flen = (size_t)n->frame[1] << 8 | n->frame[2];
        size_t fmax = n->encrypted ? OTK_NAT_FRAME_MAX - OTK_NAT_NOISE_FRAME_HDR : 129;

        if (n->frame[0] != OTK_NAT_NOISE_FRAME_INDICATOR || flen == 0 || flen > fmax) {
            if (n->encrypted)
                fail_at(d, NO_CODE, OTK_OTA_RECEIVE_ERROR, OTK_UPD_ABORTED,
                        n->started ? "Bad frame" : 0, now);
            else
                noise_reject(d, "Handshake error", false, now);
        }
        return k;
    }
    if (n->frame_have == want)
        frame_done(d, now);
    return k;
}
#endif

size_t
otk_dev_on_native_data(struct otk_dev *d, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct otk_nat *n = d->nat;
    size_t used = 0;

    while (n && used < len && reading(n)) {
#if OTK_CFG_NOISE
        if (n->state == OTK_NATS_HANDSHAKE || n->encrypted) {
            used += frame_input(d, data + used, len - used, now_ms);
            continue;
        }
#endif
        used += field_input(d, data + used, len - used, now_ms);
    }
    return len; /* what follows a closed exchange is dropped */
}

/* ---- connection ---- */

static bool
terminated(const char *s, size_t cap)
{
    for (size_t i = 0; i < cap; i++)
        if (s[i] == '\0')
            return true;
    return false;
}

int
otk_dev_native_attach(struct otk_dev *d, struct otk_nat *n, const struct otk_nat_config *cfg)
{
    static const uint8_t zero[OTK_NOISE_KEY_LEN];

    if (!d || !n || !cfg || cfg->version > OTK_NAT_VERSION_2 || !d->net->nat_send ||
        !d->net->nat_close)
        return OTK_ERR_ARG;
    if (!terminated(cfg->password, sizeof cfg->password))
        return OTK_ERR_ARG;
    if (cfg->noise != OTK_NAT_NOISE_OFF &&
        (!OTK_CFG_NOISE || !d->crypto->x25519 || memcmp(cfg->key, zero, sizeof zero) == 0))
        return OTK_ERR_ARG;
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    if (!n->cfg.version)
        n->cfg.version = OTK_NAT_VERSION_2;
    if (!n->cfg.handshake_timeout_ms)
        n->cfg.handshake_timeout_ms = HANDSHAKE_TIMEOUT_MS;
    if (!n->cfg.data_timeout_ms)
        n->cfg.data_timeout_ms = DATA_TIMEOUT_MS;
    if (!n->cfg.resume_keep_ms)
        n->cfg.resume_keep_ms = RESUME_KEEP_MS;
    d->nat = n;
#if OTK_CFG_NATIVE_RESUME
    otk_upd_set_resume_store(&d->upd, &n->resume);
#endif
    return OTK_OK;
}

#if OTK_CFG_NATIVE_DEFLATE
int
otk_dev_native_set_inflater(struct otk_dev *d, const struct otk_inflate_ops *ops, void *state,
                            size_t state_len)
{
    struct otk_nat *n = d ? d->nat : NULL;

    if (!n || (ops &&
               (!ops->init || !ops->feed || !ops->finish || !state || state_len < ops->state_size)))
        return OTK_ERR_ARG;
    if (n->state != OTK_NATS_IDLE && n->state != OTK_NATS_REBOOTING)
        return OTK_ERR_BUSY;
    otk_inflater_bind(&n->inflater, ops, state, state_len);
    return OTK_OK;
}

bool
otk_dev_native_can_inflate(const struct otk_dev *d)
{
    return d && d->nat && otk_inflater_available(&d->nat->inflater);
}
#endif

bool
otk_dev_on_native_accept(struct otk_dev *d, const struct otk_addr *from, uint32_t now_ms)
{
    struct otk_nat *n = d->nat;

    if (!n || n->state != OTK_NATS_IDLE)
        return false;
    /* A source waiting out its delay after wrong answers is not served (ArduinoOTA ignores its
     * invitations the same way): the connection closes before a challenge is sent. */
    if ((n->cfg.password[0] != '\0' || n->cfg.noise != OTK_NAT_NOISE_OFF) &&
        otk__dev_throttled(d, from, now_ms))
        return false;
    n->peer = *from;
    stop_stream(n);
    n->started = false;
    n->encrypted = false;
    n->challenged = false;
    n->otakit = false;
    n->caps = 0;
    n->resume_at = 0;
    n->ota_type = OTK_NAT_TYPE_APP;
    n->size = 0;
    expect(n, OTK_NATS_MAGIC, OTK_NAT_MAGIC_LEN);
    n->deadline = now_ms + n->cfg.handshake_timeout_ms;
    return true;
}

void
otk_dev_on_native_closed(struct otk_dev *d, uint32_t now_ms)
{
    struct otk_nat *n = d->nat;

    if (!n || !reading(n))
        return;
    if (n->state == OTK_NATS_END_ACK) {
        end_session(d, now_ms); /* the host left without its last byte: the image is active */
        return;
    }
    n->state = OTK_NATS_IDLE;
    n->encrypted = false;
    stop_stream(n);
    if (n->started) {
        /* The host went away before the whole image: "Aborted", as the ArduinoOTA side. */
        n->started = false;
        stop_update(d, OTK_UPD_ABORTED, now_ms);
        emit(d, OTK_EV_ERROR, OTK_OTA_RECEIVE_ERROR, OTK_UPD_ABORTED,
             otk_upd_reason_str(d->cfg.profile, OTK_UPD_ABORTED));
    }
}

bool
otk__nat_next_deadline(const struct otk_dev *d, uint32_t *at)
{
    const struct otk_nat *n = d->nat;

    if (!n)
        return false;
    if (n->state == OTK_NATS_IDLE) {
#if OTK_CFG_NATIVE_RESUME
        if (otk_upd_resume_held(&d->upd) && !d->upd.running) {
            *at = n->resume_until; /* the record's end */
            return true;
        }
#endif
        return false;
    }
    *at = n->deadline;
    return true;
}

/* A deadline passed: the reboot pause ends, a silent host is dropped. Before authentication it
 * costs nothing (an unanswered challenge counts for the throttle, as a wrong answer); after it
 * the host hears ESPHome's timeout byte. */
void
otk__nat_tick(struct otk_dev *d, uint32_t now)
{
    struct otk_nat *n = d->nat;

#if OTK_CFG_NATIVE_RESUME
    if (n && n->state == OTK_NATS_IDLE && otk_upd_resume_held(&d->upd) && !d->upd.running &&
        time_reached(now, n->resume_until))
        otk_upd_resume_forget(&d->upd); /* kept long enough: the slot may be pre-erased again */
#endif
    if (!n || n->state == OTK_NATS_IDLE || !time_reached(now, n->deadline))
        return;
    switch (n->state) {
    case OTK_NATS_REBOOTING:
        n->state = OTK_NATS_IDLE;
        if (d->hooks.reboot)
            d->hooks.reboot(d->hooks.user);
        return;
    case OTK_NATS_END_ACK:
        d->net->nat_close(d->net->user); /* no end ack: logged by ESPHome, not an error */
        end_session(d, now);
        return;
    case OTK_NATS_AUTH:
        otk__dev_throttle_failure(d, &n->peer, now);
        drop(d);
        return;
    case OTK_NATS_MAGIC:
    case OTK_NATS_FEATURES:
    case OTK_NATS_HANDSHAKE:
        drop(d);
        return;
    default:
        fail_at(d, OTK_NAT_ERR_UNKNOWN, OTK_OTA_RECEIVE_ERROR, OTK_UPD_STREAM,
                n->started ? otk_upd_reason_str(d->cfg.profile, OTK_UPD_STREAM) : 0, now);
        return;
    }
}

int
otk__nat_idle(struct otk_dev *d)
{
    struct otk_nat *n = d->nat;

    int r;

    if (!n || n->state != OTK_NATS_DATA)
        return 0;
    r = otk_upd_erase_ahead(&d->upd);
    if (r < 0)
        fail(d, OTK_NAT_ERR_WRITING_FLASH, OTK_OTA_END_ERROR, OTK_UPD_ERASE, upd_text(d));
    return r;
}

bool
otk__nat_holds_writer(const struct otk_dev *d)
{
    const struct otk_nat *n = d->nat;

    return n && (n->started || n->state == OTK_NATS_REBOOTING);
}

bool
otk__nat_rebooting(const struct otk_dev *d)
{
    return d->nat && d->nat->state == OTK_NATS_REBOOTING;
}

bool
otk_dev_native_busy(const struct otk_dev *d)
{
    return d->nat && d->nat->state != OTK_NATS_IDLE;
}

enum otk_nat_state
otk_dev_native_state(const struct otk_dev *d)
{
    return d->nat ? d->nat->state : OTK_NATS_IDLE;
}

const char *
otk_nat_state_str(enum otk_nat_state s)
{
    static const char *const names[] = {
        "idle", "magic", "features",      "handshake", "auth",    "otakit",   "type",
        "size", "md5",   "stream-length", "data",      "end-ack", "rebooting"};

    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

#endif /* OTK_CFG_PROTO_NATIVE */
