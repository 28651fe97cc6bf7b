/* SPDX-License-Identifier: MIT */
/* The ArduinoOTA wire codec. Parsing mirrors the devices' tiny scanner (so every real host is
 * understood) with every read bounds-checked (so no datagram can make us read past its end). */
#include <string.h>

#include "otakit/err.h"
#include "otakit/proto.h"

#include "text.h"

/* Longest salt / digest input we build: 64-hex nonce ':' 64-hex cnonce, plus a 64-hex prefix. */
#define AUTH_FIELD_MAX OTK_SHA256_HEX_LEN
#define AUTH_BUF_MAX   (3 * AUTH_FIELD_MAX + 2)

size_t
otk_auth_hex_len(enum otk_auth_variant v)
{
    return v == OTK_AUTH_PBKDF2 ? OTK_SHA256_HEX_LEN : OTK_MD5_HEX_LEN;
}

/* A bounds-checked cursor over one datagram. */
struct cursor {
    const uint8_t *p;
    size_t len;
    size_t pos;
};

/* The devices' parseInt: skip spaces, then digits until the first non-digit (not consumed).
 * A field with no digits is 0, as on the devices. Unlike them we refuse values that overflow
 * 32 bits instead of wrapping. */
static int
parse_uint(struct cursor *c, uint32_t *out)
{
    uint32_t v = 0;
    size_t start;

    while (c->pos < c->len && c->p[c->pos] == ' ')
        c->pos++;
    start = c->pos;
    while (c->pos < c->len && otk__is_digit(c->p[c->pos])) {
        uint32_t digit = (uint32_t)(c->p[c->pos] - '0');

        /* From v <= 429496729, v * 10 + digit wraps only to below digit. */
        if (c->pos - start == 10 || v > 429496729u)
            return OTK_ERR_MALFORMED;
        v = v * 10u + digit;
        if (v < digit)
            return OTK_ERR_MALFORMED;
        c->pos++;
    }
    *out = v;
    return OTK_OK;
}

uint32_t
otk_proto_peek_cmd(const uint8_t *dg, size_t len)
{
    struct cursor c = {dg, len, 0};
    uint32_t cmd = 0;

    if (parse_uint(&c, &cmd) != OTK_OK)
        return 0xFFFFFFFFu; /* matches no command */
    return cmd;
}

/* The text field ends at '\n', NUL or the end of the datagram; surrounding whitespace is
 * trimmed, as String::trim() does on the devices. */
static void
take_line(struct cursor *c, const char **start, size_t *n)
{
    size_t b = c->pos, e;

    while (c->pos < c->len && c->p[c->pos] != '\n' && c->p[c->pos] != '\0')
        c->pos++;
    e = c->pos;
    while (b < e && otk__is_space(c->p[b]))
        b++;
    while (e > b && otk__is_space(c->p[e - 1]))
        e--;
    *start = (const char *)c->p + b;
    *n = e - b;
}

int
otk_proto_parse_invite(const uint8_t *dg, size_t len, struct otk_invite *out)
{
    struct cursor c = {dg, len, 0};
    uint32_t cmd, port, size;
    const char *md5;
    size_t md5_len;

    if (!dg || !out)
        return OTK_ERR_ARG;
    if (parse_uint(&c, &cmd) || parse_uint(&c, &port) || parse_uint(&c, &size))
        return OTK_ERR_MALFORMED;
    if (port == 0 || port > 0xFFFFu)
        return OTK_ERR_MALFORMED;
    /* The devices consume exactly one byte (the space) before the MD5. */
    if (c.pos >= c.len)
        return OTK_ERR_MALFORMED;
    c.pos++;
    take_line(&c, &md5, &md5_len);
    if (md5_len != OTK_MD5_HEX_LEN)
        return OTK_ERR_MALFORMED;
    for (size_t i = 0; i < md5_len; i++) {
        int h = otk__hex_value((uint8_t)md5[i]);
        if (h < 0)
            return OTK_ERR_MALFORMED;
        out->md5[i] = "0123456789abcdef"[h];
    }
    out->md5[md5_len] = '\0';
    out->cmd = cmd;
    out->port = (uint16_t)port;
    out->size = size;
    return OTK_OK;
}

int
otk_proto_parse_auth(const uint8_t *dg, size_t len, struct otk_auth_answer *out)
{
    struct cursor c = {dg, len, 0};
    uint32_t cmd;
    size_t b;

    if (!dg || !out)
        return OTK_ERR_ARG;
    if (parse_uint(&c, &cmd) || cmd != OTK_CMD_AUTH)
        return OTK_ERR_MALFORMED;
    /* One separator byte, then the cnonce up to the next space, then the response to '\n'. */
    if (c.pos >= c.len)
        return OTK_ERR_MALFORMED;
    c.pos++;
    b = c.pos;
    while (c.pos < c.len && c.p[c.pos] != ' ' && c.p[c.pos] != '\n' && c.p[c.pos] != '\0')
        c.pos++;
    out->cnonce = (const char *)dg + b;
    out->cnonce_len = c.pos - b;
    if (c.pos >= c.len || c.p[c.pos] != ' ')
        return OTK_ERR_MALFORMED;
    c.pos++;
    take_line(&c, &out->response, &out->response_len);
    if (out->cnonce_len == 0 || out->response_len == 0)
        return OTK_ERR_MALFORMED;
    return OTK_OK;
}

void
otk_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = "0123456789abcdef"[in[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void
digest_hex(const struct otk_crypto_ops *c, enum otk_auth_variant v, const void *data, size_t len,
           char *out)
{
    bool sha = v == OTK_AUTH_PBKDF2;
    union otk_hash_ctx ctx;
    uint8_t d[32];

    (sha ? c->sha256_start : c->md5_start)(&ctx);
    (sha ? c->sha256_update : c->md5_update)(&ctx, data, len);
    (sha ? c->sha256_finish : c->md5_finish)(&ctx, d);
    otk_hex(d, sha ? 32 : 16, out);
}

size_t
otk_proto_password_secret(const struct otk_crypto_ops *c, enum otk_auth_variant v,
                          const char *password, size_t password_len, char *out)
{
    digest_hex(c, v, password, password_len, out);
    return otk_auth_hex_len(v);
}

int
otk_proto_auth_response(const struct otk_crypto_ops *c, enum otk_auth_variant v, const char *secret,
                        size_t secret_len, const char *nonce, size_t nonce_len, const char *cnonce,
                        size_t cnonce_len, char *out)
{
    char buf[AUTH_BUF_MAX];
    char key[OTK_SHA256_HEX_LEN + 1];
    size_t salt_len = nonce_len + 1 + cnonce_len;
    char *salt = buf + AUTH_FIELD_MAX + 1; /* "nonce:cnonce", with room for "prefix:" before */

    if (secret_len > AUTH_FIELD_MAX || nonce_len > AUTH_FIELD_MAX || cnonce_len > AUTH_FIELD_MAX)
        return OTK_ERR_ARG;
    memcpy(salt, nonce, nonce_len);
    salt[nonce_len] = ':';
    memcpy(salt + nonce_len + 1, cnonce, cnonce_len);
    if (v == OTK_AUTH_PBKDF2) {
        /* The key is PBKDF2(stored secret, "nonce:cnonce"); the response hashes its hex. */
        uint8_t dk[32];

        if (c->pbkdf2_sha256(secret, secret_len, salt, salt_len, OTK_PBKDF2_ITERATIONS, dk, 32))
            return OTK_ERR_CRYPTO;
        otk_hex(dk, 32, key);
        secret = key;
        secret_len = OTK_SHA256_HEX_LEN;
    }
    /* digest of "prefix:nonce:cnonce", the prefix being the stored secret or the key */
    salt[-1] = ':';
    memcpy(salt - 1 - secret_len, secret, secret_len);
    digest_hex(c, v, salt - 1 - secret_len, secret_len + 1 + salt_len, out);
    return OTK_OK;
}

bool
otk_ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a, *y = b;
    uint8_t diff = 0;

    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(x[i] ^ y[i]);
    return diff == 0;
}
