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

/** Host-side parser of the device's TCP reply stream: decimal acks with no separators
 *  ("1024102410OK"), then "OK" on success or an error text, then close. Feed it whatever
 *  arrives, split anywhere. */
struct otk_ack_parser {
    bool ok;            /* "OK" seen */
    bool error;         /* non-digit text that is not "OK" seen */
    bool pending_o;     /* an 'O' waiting for its 'K' */
    uint32_t ack_count; /* number of digit runs seen (progress signals) */
    size_t text_len;
    char text[160]; /* error text collected so far, NUL-terminated, CR/LF stripped */
};

void otk_ack_parser_init(struct otk_ack_parser *p);
void otk_ack_parser_feed(struct otk_ack_parser *p, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
