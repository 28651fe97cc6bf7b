/* SPDX-License-Identifier: MIT */
/* The ArduinoOTA / espota wire protocol codec, shared by the device engine and the uploader:
 * one codec, two engines. See docs/PROTOCOL.md. Freestanding; no allocation. */
#ifndef OTK_PROTO_H
#define OTK_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Command codes: the first integer of a UDP message. */
#define OTK_CMD_FLASH 0
#define OTK_CMD_FS    100
#define OTK_CMD_AUTH  200

#define OTK_PORT_ESP32   3232
#define OTK_PORT_ESP8266 8266

#define OTK_MD5_HEX_LEN       32
#define OTK_SHA256_HEX_LEN    64
#define OTK_PBKDF2_ITERATIONS 10000u

/** Authentication scheme, told apart on the wire only by the nonce length. */
enum otk_auth_variant {
    OTK_AUTH_MD5 = 0,    /* ESP8266, ESP32 <= 3.3.0: 32-hex nonce, MD5 digest */
    OTK_AUTH_PBKDF2 = 1, /* ESP32 >= 3.3.1: 64-hex nonce, PBKDF2-HMAC-SHA256 + SHA-256 */
};

/** Hex length of nonce, cnonce and response for a variant (32 or 64). */
size_t otk_auth_hex_len(enum otk_auth_variant v);

/** A parsed invitation "<cmd> <port> <size> <md5>\n". */
/* No padding before md5: two invitations compare with one memcmp up to the MD5's end. */
struct otk_invite {
    uint32_t cmd;
    uint32_t size;
    uint16_t port;
    char md5[OTK_MD5_HEX_LEN + 1]; /* lowercase, NUL-terminated */
};

/** Parse an invitation as leniently as the real devices (leading spaces, any single separator
 *  byte before the MD5, trailing whitespace, '\n' or NUL or end of datagram ends the MD5) but
 *  never unsafely: every read is bounds-checked against len.
 *  @return OTK_OK, or OTK_ERR_MALFORMED (bad numbers, port 0 or > 65535, MD5 not 32 hex). */
int otk_proto_parse_invite(const uint8_t *dg, size_t len, struct otk_invite *out);

/** First integer of a datagram, parsed as the devices do (leading spaces, digits; a field that
 *  starts with a non-digit is 0). Used to tell an AUTH answer (200) from an invitation. */
uint32_t otk_proto_peek_cmd(const uint8_t *dg, size_t len);

/** A parsed auth answer "200 <cnonce> <response>\n"; pointers point into the datagram. */
struct otk_auth_answer {
    const char *cnonce;
    size_t cnonce_len;
    const char *response;
    size_t response_len;
};

/** @return OTK_OK or OTK_ERR_MALFORMED (not command 200, missing fields). Lengths are not
 *  checked here: the device compares them with its variant. */
int otk_proto_parse_auth(const uint8_t *dg, size_t len, struct otk_auth_answer *out);

/** Format an invitation into buf. @return bytes written (no NUL counted), 0 if cap too small. */
size_t otk_proto_format_invite(char *buf, size_t cap, uint32_t cmd, uint16_t port, uint32_t size,
                               const char *md5hex);

/** The MD5 an invitation carries: lowercase hex of MD5(data) into out (33 bytes). */
void otk_proto_md5_hex(const struct otk_crypto_ops *c, const void *data, size_t len, char *out);

/** Format "200 <cnonce> <response>\n". @return bytes written, 0 if cap too small. */
size_t otk_proto_format_auth(char *buf, size_t cap, const char *cnonce, const char *response,
                             size_t hex_len);

/** Lowercase hex of n bytes into out (2n chars + NUL). */
void otk_hex(const uint8_t *in, size_t n, char *out);

/** The secret a device stores for a password: MD5 hex (legacy) or SHA-256 hex (PBKDF2 variant).
 *  out must hold 65 bytes. @return hex length written (32 or 64). */
size_t otk_proto_password_secret(const struct otk_crypto_ops *c, enum otk_auth_variant v,
                                 const char *password, size_t password_len, char *out);

/** The auth response for a stored secret (the hex string above), nonce and cnonce.
 *  MD5:    MD5hex(secret ":" nonce ":" cnonce)
 *  PBKDF2: SHA256hex(hex(PBKDF2-HMAC-SHA256(secret, nonce ":" cnonce, 10000, 32)) ":" nonce
 *          ":" cnonce)
 *  out must hold 65 bytes. @return OTK_OK, OTK_ERR_ARG (fields too long), OTK_ERR_CRYPTO. */
int otk_proto_auth_response(const struct otk_crypto_ops *c, enum otk_auth_variant v,
                            const char *secret, size_t secret_len, const char *nonce,
                            size_t nonce_len, const char *cnonce, size_t cnonce_len, char *out);

/** Constant-time comparison of two byte strings of equal length. */
bool otk_ct_equal(const void *a, const void *b, size_t len);

/** Kinds of UDP replies a device sends. */
enum otk_reply_kind {
    OTK_REPLY_OK,          /* "OK" */
    OTK_REPLY_AUTH,        /* "AUTH <nonce>" */
    OTK_REPLY_AUTH_FAILED, /* "Authentication Failed" */
    OTK_REPLY_ERR,         /* "ERR: <text>" */
    OTK_REPLY_OTHER,       /* anything else */
};

struct otk_reply {
    enum otk_reply_kind kind;
    const char *text; /* nonce for AUTH, error text for ERR / OTHER (points into dg) */
    size_t text_len;
};

/** Classify a UDP reply from a device (host side). Never reads past len. */
void otk_proto_parse_reply(const uint8_t *dg, size_t len, struct otk_reply *out);

/** Device text made printable on one line, for messages and traces: \n \r \t \" \\, other
 *  bytes below 0x20 and above 0x7e as \xNN (a reply that starts with NUL stays visible).
 *  Writes at most cap - 1 characters and a NUL, never half an escape. @return characters
 *  written. */
size_t otk_text_escape(char *out, size_t cap, const uint8_t *in, size_t len);

/** Host-side parser of the device's TCP reply stream: decimal acks with no separators
 *  ("1024102410OK"), then "OK" on success or an error text, then close. Feed it whatever
 *  arrives, split anywhere.
 *
 *  Each ack is the byte count of one read of the device (ESP32 core and otakit: at most 1460;
 *  ESP8266: what one drain took, any size). Joined by TCP, acks cannot be read back exactly
 *  ("11460" is 1 + 1460, or 11 + 460, or 1146 + 0...), so the parser keeps two readings:
 *  - claimed_min, the fewest bytes the digits can stand for in any reading (each nonzero
 *    digit with the zeros after it: "1460" is at least 10 + 4 + 60). A device whose
 *    claimed_min exceeds what was sent acknowledged bytes that were never sent.
 *  - claimed, a reading for progress: the most the digits can stand for when every ack is
 *    at most OTK_ACK_PIECE_MAX bytes, except that a run of digits the caller marks as complete
 *    (otk_ack_parser_end_run: a read that emptied the socket) counts whole if it fits in
 *    `room` (an ESP8266's big ack arrives on its own). Exact for acks that arrive apart and
 *    for joined acks of at most 1460; short when TCP joins ESP8266 acks bigger than that,
 *    high when it joins small ones. The caller bounds it by what the device's TCP stack
 *    acknowledged, and uses it for progress only, never to decide success. */
#define OTK_ACK_PIECE_MAX 1460u
#define OTK_ACK_TEXT_MAX  1024u /* error text longer than this is garbage (cores send < 130) */
#define OTK_ACK_SEP_MAX                                                                            \
    64u /* separators (CR, LF, space) or zeros that start no ack, in a                             \
           row, beyond this: garbage */

struct otk_ack_parser {
    bool ok;              /* "OK" seen */
    bool error;           /* non-digit text that is not "OK" seen */
    bool pending_o;       /* an 'O' waiting for its 'K' */
    bool garbage;         /* more text, separators or stray zeros than any device sends */
    uint32_t ack_count;   /* number of digit runs seen (progress signals) */
    uint32_t digits;      /* ack digits seen (saturating) */
    uint32_t claimed_min; /* see above (saturating) */
    uint32_t claimed;     /* see above (saturating) */
    uint32_t room;        /* set by the caller before feeding: bytes the device may have beyond
                             `claimed` (what its TCP stack acknowledged, minus claimed) */
    uint32_t text_total;  /* bytes of error text seen (the text below keeps the first ones) */
    size_t text_len;
    char text[160]; /* error text collected so far, NUL-terminated, CR/LF stripped, other
                       control and non-ASCII bytes escaped as \xNN */
    /* private: the reading in progress */
    uint32_t min_closed; /* claimed_min before the group being read */
    uint32_t min_open;   /* claimed_min: the nonzero digit and zeros being read */
    uint32_t run;        /* value of the current run of digits (saturating) */
    uint32_t run_len;    /* its length */
    uint32_t best[5];    /* claimed within the run after each of its last 5 digits */
    uint8_t last[4];     /* those digits */
    uint32_t grp_best;   /* best before the run's last nonzero digit */
    uint32_t grp_val;    /* that digit and the zeros after it (saturating) */
    uint32_t junk_run;   /* separators, or zeros that start no ack, in a row */
};

void otk_ack_parser_init(struct otk_ack_parser *p);
void otk_ack_parser_feed(struct otk_ack_parser *p, const uint8_t *data, size_t len);
/** The digits fed so far end an ack (the caller read everything the socket had): the run
 *  counts whole when it fits in p->room. Harmless when no run is open. */
void otk_ack_parser_end_run(struct otk_ack_parser *p);

#ifdef __cplusplus
}
#endif
#endif
