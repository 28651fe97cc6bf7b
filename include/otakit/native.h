/* SPDX-License-Identifier: MIT */
/* The device side of ESPHome's native OTA protocol ("espota2"): one TCP connection from the
 * uploader to the device, on the port the device listens on. Beside the ArduinoOTA engine of
 * device.h, sharing its writer, slots, image checks, OTA lock (through the same events) and
 * brute-force throttle; one update at a time across both protocols.
 *
 * Sans-I/O like the rest of the core: the port accepts the connection and calls
 * otk_dev_on_native_accept(), feeds the bytes with otk_dev_on_native_data(), reports the close
 * with otk_dev_on_native_closed(), and sends and closes through net->nat_send / net->nat_close.
 * Deadlines (the 20 s handshake watchdog, the data timeout, the reboot pause) go through
 * otk_dev_next_deadline() / otk_dev_tick() like the ArduinoOTA ones.
 *
 * The native state (with the Noise frame buffer, about 1.5 KB) is its own structure so a device
 * that serves only ArduinoOTA carries none of it: attach it once after otk_dev_init(). */
#ifndef OTK_NATIVE_H
#define OTK_NATIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "inflate.h"
#include "native_wire.h"
#include "noise.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_NAT_PASSWORD_MAX 64 /* bytes of the plaintext password (ESPHome's ota: password:) */

/* Noise policy (ESPHome 2026.9): with a key the device offers encryption; "required" also
 * refuses plaintext clients with 0x94. */
enum otk_nat_noise_mode {
    OTK_NAT_NOISE_OFF = 0,
    OTK_NAT_NOISE_OFFERED,
    OTK_NAT_NOISE_REQUIRED,
};

struct otk_nat_config {
    /** The password as the uploader types it (UTF-8; ESPHome stores it in plain, unlike
     *  ArduinoOTA's MD5). "" = no password: every plaintext client gets 0x41 at once. */
    char password[OTK_NAT_PASSWORD_MAX + 1];
    /** Noise pre-shared key (ESPHome's base64 api/ota key, decoded); used unless mode is OFF.
     *  Under Noise the key authenticates the uploader: no password challenge. */
    uint8_t key[OTK_NOISE_KEY_LEN];
    enum otk_nat_noise_mode noise;
    /** Protocol version announced after the magic: 1 (no chunk acks) or 2; 0 = 2. */
    uint8_t version;
    /** From accept to the end of authentication; 0 = 20000 (ESPHome's handshake watchdog). */
    uint32_t handshake_timeout_ms;
    /** Silence allowed from the OTA type byte on (size, MD5, image, end ack); 0 = 20000.
     *  ESPHome waits 90-105 s; the progress floor (device.h min_rate) bounds a trickle. */
    uint32_t data_timeout_ms;
    /** otakit's extension (client and server bit 0x80): capabilities this device does NOT
     *  offer although the build has them (OTK_NAT_CAP_*); 0 = offer all it has. */
    uint8_t caps_off;
    /** How long a resume record outlives the dropped connection that left it; 0 = 120000.
     *  Meanwhile the slot is not pre-erased; any other update of that slot ends the record. */
    uint32_t resume_keep_ms;
};

enum otk_nat_state {
    OTK_NATS_IDLE = 0,  /* no connection */
    OTK_NATS_MAGIC,     /* reading the 5 magic bytes */
    OTK_NATS_FEATURES,  /* reading the client's feature byte */
    OTK_NATS_HANDSHAKE, /* Noise: waiting for the initiator's message */
    OTK_NATS_AUTH,      /* challenge sent: reading cnonce and response */
    OTK_NATS_OTAKIT,    /* otakit's extension: reading the host's "01 caps" */
    OTK_NATS_TYPE,      /* extended protocol: reading the OTA type byte */
    OTK_NATS_SIZE,      /* reading the 4-byte image size */
    OTK_NATS_MD5,       /* reading the image's 32 hex MD5 */
    OTK_NATS_STREAM,    /* compressed update: reading the deflate stream's 4-byte length */
    OTK_NATS_DATA,      /* image bytes */
    OTK_NATS_END_ACK,   /* 0x45 sent: waiting for the host's 0x00 */
    OTK_NATS_REBOOTING, /* connection closed after success: the reboot pause */
};

#define OTK_NAT_FIELD_MAX (2 * OTK_SHA256_HEX_LEN) /* cnonce + response, the longest field */
#define OTK_NAT_FRAME_MAX                                                                          \
    (OTK_NAT_NOISE_FRAME_HDR + OTK_NAT_NOISE_MAX_PLAINTEXT + OTK_NOISE_TAG_LEN)

struct otk_nat {
    /* private: defined here so callers can allocate it statically */
    struct otk_nat_config cfg;
    enum otk_nat_state state;
    struct otk_addr peer;
    uint32_t deadline; /* always set while a connection is open or the reboot pends */
    uint8_t client_features;
    uint8_t server_flags;
    uint8_t ota_type;
    bool extended;      /* the client set 0x04: it got "48 flags" and sends the type byte */
    bool encrypted;     /* Noise transport is on: every unit travels in a frame */
    bool started;       /* OTK_EV_START was emitted: the update owns the writer */
    bool challenged;    /* a password challenge was sent: a wrong answer counts for the throttle */
    bool otakit;        /* both sides set 0x80: the "01 caps" exchange follows AUTH_OK */
    uint8_t caps;       /* capabilities granted in that exchange (OTK_NAT_CAP_*) */
    uint32_t resume_at; /* offset this connection's image resumed from (0: from the start) */
    uint32_t resume_until; /* when the resume record left by a dropped connection expires */
    uint32_t size;         /* announced image size */
    uint32_t acked;        /* bytes covered by the 0x47 sent so far */
    uint32_t floor_at, floor_mark;
    uint16_t need; /* bytes the current field needs */
    uint16_t have; /* ...and has */
    uint8_t field[OTK_NAT_FIELD_MAX];
    char nonce[OTK_SHA256_HEX_LEN + 1]; /* the challenge's nonce, hex (and otk_hex's NUL) */
    uint8_t nonce_len;
#if OTK_CFG_NATIVE_RESUME
    struct otk_upd_resume resume; /* the writer's resume record (otk_upd_set_resume_store) */
#endif
#if OTK_CFG_NATIVE_DEFLATE
    bool deflate; /* capability DEFLATE granted: a deflate stream follows the MD5 */
    struct otk_inflater inflater;
#endif
#if OTK_CFG_NOISE
    struct otk_noise noise;
    uint16_t frame_have;
    uint8_t frame[OTK_NAT_FRAME_MAX];
#endif
};

/** Give the device a native protocol server. n lives as long as d; cfg is copied.
 *  @return OTK_OK, or OTK_ERR_ARG (version not 0-2, a password longer than the maximum, a Noise
 *  mode with the all-zero key ESPHome reserves for "unprovisioned", or Noise asked of a build
 *  without it / a crypto table without x25519). */
int otk_dev_native_attach(struct otk_dev *d, struct otk_nat *n, const struct otk_nat_config *cfg);

#if OTK_CFG_NATIVE_DEFLATE
/** Let the native server accept compressed updates (otakit's DEFLATE capability): ops is the
 *  port's inflater (otk_posix_inflate(), otk_idf_inflate()), state its memory, at least
 *  ops->state_size bytes, owned by the caller and used only while a compressed update runs.
 *  Without it (or with ops NULL) the device does not offer compression and gets plain images.
 *  @return OTK_OK, OTK_ERR_ARG (no native server attached, a table without its functions,
 *  too little memory) or OTK_ERR_BUSY (a connection is being served). */
int otk_dev_native_set_inflater(struct otk_dev *d, const struct otk_inflate_ops *ops, void *state,
                                size_t state_len);

/** Whether the device offers compressed updates (an inflater is set). */
bool otk_dev_native_can_inflate(const struct otk_dev *d);
#endif

/** The port accepted a connection on the native port from `from`. @return true if the engine
 *  serves it; false if the port must close it at once (no native server attached, a connection
 *  is already served, or the source is waiting out its throttle delay). */
bool otk_dev_on_native_accept(struct otk_dev *d, const struct otk_addr *from, uint32_t now_ms);

/** Bytes arrived on the native connection. @return bytes consumed (all of them today; the port
 *  keeps any rest and offers it again, as with otk_dev_on_tcp_data). */
size_t otk_dev_on_native_data(struct otk_dev *d, const uint8_t *data, size_t len, uint32_t now_ms);

/** The native connection closed or failed (not called after the engine's own nat_close). */
void otk_dev_on_native_closed(struct otk_dev *d, uint32_t now_ms);

/** Whether a native connection is being served (the port accepts no other meanwhile). */
bool otk_dev_native_busy(const struct otk_dev *d);

/** The capabilities this device offers in otakit's extension (OTK_NAT_CAP_*), by its build,
 *  its crypto table and cfg.caps_off. */
uint8_t otk_nat_offered_caps(const struct otk_dev *d);

/** The native state, for status lines and tests. */
enum otk_nat_state otk_dev_native_state(const struct otk_dev *d);
const char *otk_nat_state_str(enum otk_nat_state s);

/** The response code the native protocol sends for an updater's refusal, as the ESPHome backend
 *  of the profile's chip would (ESP32: the ESP-IDF backend, ESP8266: the Arduino one). `at`:
 *  0 begin, 1 write, 2 end. */
uint8_t otk_nat_code_for(enum otk_profile p, enum otk_upd_reason r, int at);

#ifdef __cplusplus
}
#endif
#endif
