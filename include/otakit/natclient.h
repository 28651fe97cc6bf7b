/* SPDX-License-Identifier: MIT */
/* The uploader's side of ESPHome's native OTA protocol ("espota2") as a sans-I/O machine: the
 * caller connects, hands over what the device sent (otk_natc_input), sends what the machine has
 * ready (otk_natc_output, then otk_natc_sent), and passes the time (otk_natc_tick). No sockets,
 * heap or clock here, so the unit tests drive it with the reference's byte sequences and one
 * poll() loop can drive many.
 *
 * It follows the rules for a client in the reference (docs/PROTOCOL.md): features 02|04 (SHA-256
 * auth, extended protocol), 01 when a gzip copy of the image is at hand, 08 with a Noise key;
 * accepts versions 1 and 2, a one-byte feature reply (40, 46) or 48 + flags, an MD5 or SHA-256
 * challenge or none; sends the OTA type byte only after 48; counts the device's chunk acks and
 * keeps several 8 KB blocks in flight instead of waiting for each ack; fails closed when it holds
 * a key and the device does not take Noise. */
#ifndef OTK_NATCLIENT_H
#define OTK_NATCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "native_wire.h"
#include "noise.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Where the exchange is (or was, when it ended). */
enum otk_natc_phase {
    OTK_NATC_MAGIC,       /* magic sent, waiting for "00 vv" */
    OTK_NATC_FEATURES,    /* features sent, waiting for 40 / 46 / 48 + flags */
    OTK_NATC_NOISE,       /* handshake message 1 sent, waiting for message 2 */
    OTK_NATC_AUTH,        /* waiting for 41 or a challenge */
    OTK_NATC_AUTH_RESULT, /* cnonce and response sent, waiting for 41 / 82 */
    OTK_NATC_OTAKIT,      /* otakit's extension: "01 caps" sent, waiting for "01 granted" */
    OTK_NATC_PREPARE,     /* size sent, waiting for 42 (the device checks space, may erase) */
    OTK_NATC_MD5,         /* MD5 sent, waiting for 43 */
    OTK_NATC_DATA,        /* image bytes going out, chunk acks coming in */
    OTK_NATC_RESULT,      /* the last byte went out: waiting for 44, then 45 */
    OTK_NATC_END,         /* 45 came: our final 00 goes out */
    OTK_NATC_DONE,
};

/** How it ended (valid in OTK_NATC_DONE). */
enum otk_natc_cause {
    OTK_NATC_OK = 0,
    OTK_NATC_DEVICE_ERROR,   /* the device sent an error code: dev_code */
    OTK_NATC_NEED_PASSWORD,  /* it challenged and no password was given */
    OTK_NATC_AUTH_REFUSED,   /* 82: wrong password (or, before our answer, an old client) */
    OTK_NATC_NEED_KEY,       /* 94: the device requires Noise and no key was given */
    OTK_NATC_NOISE_ABSENT,   /* a key was given and the device does not offer Noise */
    OTK_NATC_WRONG_KEY,      /* the handshake failed its MAC: the key differs */
    OTK_NATC_NOISE_REJECTED, /* the device refused the handshake for another reason */
    OTK_NATC_NOISE_BROKEN,   /* a transport frame failed (tag, framing): a network fault */
    OTK_NATC_VERSION,        /* "00 vv" with a version other than 1 or 2 */
    OTK_NATC_PROTOCOL,       /* an answer the protocol does not allow here: violation */
    OTK_NATC_TIMEOUT,        /* no answer within the phase's time */
    OTK_NATC_CLOSED,         /* the device closed the connection */
    OTK_NATC_LOCAL,          /* our crypto provider failed */
};

struct otk_natc_cfg {
    const uint8_t *image; /* the image (not copied; must outlive the machine) */
    uint32_t size;
    const uint8_t *gz; /* its gzip stream, or NULL: then compression is never offered */
    uint32_t gz_size;
    const char *password;        /* NULL or "": none */
    const uint8_t *key;          /* OTK_NOISE_KEY_LEN bytes, or NULL: plaintext only */
    uint8_t ota_type;            /* OTK_NAT_TYPE_APP */
    uint8_t caps;                /* otakit's extension: capabilities to ask for (OTK_NAT_CAP_*);
                                    0 = the 0x80 bit is not set and the bytes are ESPHome's */
    unsigned window;             /* chunks in flight beyond the last ack (version 2); 1 =
                                    ESPHome's stop-and-wait */
    uint32_t step_timeout_ms;    /* each handshake answer */
    uint32_t prepare_timeout_ms; /* the answer to the size (ESP32s erase here) */
    uint32_t stall_timeout_ms;   /* data phase: nothing taken, nothing acked for this long */
    uint32_t result_timeout_ms;  /* after the last byte: 44 and 45 */
    const struct otk_crypto_ops *crypto; /* MD5, SHA-256, random; Noise ops with a key */
    /** otakit's DEFLATE capability: make the raw deflate stream of image[from, size) (the
     *  uploader's zlib; the core has none) into *stream / *len, valid as long as the machine.
     *  Called once, when the device granted DEFLATE and answered the MD5. NULL: never asked
     *  for (the image goes out as it is). OTK_OK, or an error: the exchange ends LOCAL. */
    int (*deflate)(void *user, uint32_t from, const uint8_t **stream, uint32_t *len);
    void *deflate_user;
};

/** Defaults: window 4 chunks, 20 s per handshake step, 60 s for prepare and result, 20 s
 *  stall (the device's own data timeout is 90 s or more). */
void otk_natc_cfg_defaults(struct otk_natc_cfg *c);

#define OTK_NATC_TX_CAP                                                                            \
    (8 * (OTK_NAT_NOISE_FRAME_HDR + OTK_NAT_NOISE_MAX_PLAINTEXT + OTK_NOISE_TAG_LEN))
#define OTK_NATC_RX_CAP (OTK_NAT_NOISE_FRAME_HDR + 1040)

struct otk_natc {
    struct otk_natc_cfg cfg;
    enum otk_natc_phase phase;
    enum otk_natc_cause cause;     /* valid in OTK_NATC_DONE */
    enum otk_natc_phase end_phase; /* the phase it ended in */
    uint8_t dev_code;              /* the error code or unexpected byte the device sent */
    uint8_t version;               /* 1 or 2, once known */
    uint8_t features;              /* what we sent */
    uint8_t feature_reply;         /* 40, 46 or 48 */
    uint8_t server_flags;          /* after 48 */
    uint8_t auth;                  /* 0 none, OTK_NAT_REQUEST_AUTH_MD5 or _SHA256 */
    bool encrypted;                /* the Noise handshake went through */
    bool compressed;               /* the gzip stream is what goes out */
    bool deflated;                 /* DEFLATE granted: a raw deflate stream goes out */
    uint32_t image_from;           /* deflated: the image offset the stream starts at */
    bool all_sent;                 /* every data byte was handed over: the device may commit now */
    bool receive_ok;               /* 44 came */
    bool otakit;                   /* both sides set 0x80: the caps exchange took place */
    uint8_t caps;                  /* capabilities the device granted */
    uint32_t resume_at;            /* RESUME: the offset the device continues from */
    const char *violation;         /* OTK_NATC_PROTOCOL: which rule ("unexpected-byte", "over-ack",
                                      "early-receive-ok", "frame") */
    char reason[64];               /* a Noise refusal's text, escaped */
    uint32_t data_size;            /* bytes of the stream (gzip, deflate or plain) */
    uint32_t sent;                 /* data bytes handed over, counted from the stream's start
                                      (a resumed attempt starts at resume_at) */
    uint32_t acks;                 /* chunk acks counted (from resume_at on) */
    uint32_t acked;                /* data bytes the acks stand for (version 2; from the stream's
                                      start, resume_at included), else resume_at */
    uint32_t deadline;             /* ms */
    char md5[33];                  /* of the stream that goes out */

    /* private */
    struct otk_noise noise;
    const uint8_t *data;         /* image or gz */
    uint8_t rx[OTK_NATC_RX_CAP]; /* a Noise frame being collected */
    size_t rx_len;
    uint8_t unit[72]; /* a response being collected: 1 byte, 48 + flags, 02 + 64 hex... */
    size_t unit_len;
    uint8_t tx[OTK_NATC_TX_CAP];
    const uint8_t *txp; /* what goes out: tx, or the image itself (plaintext data) */
    size_t tx_len, tx_off;
    uint32_t tx_plain; /* data bytes the pending output carries */
    uint32_t last_t;   /* last activity, for the stall timer */
};

/** Prepare the machine and queue the magic. now: ms. @return OTK_OK, or OTK_ERR_ARG (no image,
 *  empty image, key without the Noise crypto ops). */
int otk_natc_start(struct otk_natc *c, const struct otk_natc_cfg *cfg, uint32_t now);

/** Bytes ready to send: *out points at them (valid until the next call). 0: nothing now. */
size_t otk_natc_output(struct otk_natc *c, const uint8_t **out);

/** Whether otk_natc_output would offer bytes now (for poll: POLLOUT or not). */
bool otk_natc_wants_output(const struct otk_natc *c);

/** n of those bytes were taken by the transport. */
void otk_natc_sent(struct otk_natc *c, size_t n, uint32_t now);

/** What the device sent. Processing stops at the end (OTK_NATC_DONE); the rest is ignored. */
void otk_natc_input(struct otk_natc *c, const uint8_t *in, size_t len, uint32_t now);

/** The device closed the connection (or it broke). */
void otk_natc_closed(struct otk_natc *c, uint32_t now);

/** Let time pass: a deadline that passed ends the exchange (OTK_NATC_TIMEOUT). */
void otk_natc_tick(struct otk_natc *c, uint32_t now);

static inline bool
otk_natc_done(const struct otk_natc *c)
{
    return c->phase == OTK_NATC_DONE;
}

/** Short names, for traces and JSON. */
const char *otk_natc_phase_name(enum otk_natc_phase p);
const char *otk_natc_cause_name(enum otk_natc_cause c);

/** ESPHome's name of a response code ("ERROR_AUTH_INVALID", ...), NULL for an unknown byte. */
const char *otk_natc_code_name(uint8_t code);

/** The response for an MD5 or SHA-256 challenge: hex(H(password | nonce | cnonce)), with
 *  nonce and cnonce the hex strings as sent; out holds 2 * digest + 1. */
void otk_natc_auth_response(const struct otk_crypto_ops *c, bool sha256, const char *password,
                            const char *nonce, const char *cnonce, size_t hex_len, char *out);

#ifdef __cplusplus
}
#endif
#endif
