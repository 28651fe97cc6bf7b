/* SPDX-License-Identifier: MIT */
/* The ArduinoOTA wire codec. Parsing mirrors the devices' tiny scanner (so every real host is
 * understood) with every read bounds-checked (so no datagram can make us read past its end). */
#include <string.h>

#include "otakit/err.h"
#include "otakit/proto.h"

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

static bool
is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool
is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int
hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The devices' parseInt: skip spaces, then digits until the first non-digit (not consumed).
 * A field with no digits is 0, as on the devices. Unlike them we refuse values that overflow
 * 32 bits instead of wrapping. */
static int
parse_uint(struct cursor *c, uint32_t *out)
{
    uint64_t v = 0;
    size_t digits = 0;

    while (c->pos < c->len && c->p[c->pos] == ' ')
        c->pos++;
    while (c->pos < c->len && is_digit(c->p[c->pos])) {
        v = v * 10u + (uint64_t)(c->p[c->pos] - '0');
        if (v > 0xFFFFFFFFu || ++digits > 10)
            return OTK_ERR_MALFORMED;
        c->pos++;
    }
    *out = (uint32_t)v;
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
    while (b < e && is_space(c->p[b]))
        b++;
    while (e > b && is_space(c->p[e - 1]))
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
        int h = hex_value((uint8_t)md5[i]);
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

/* Decimal of v into p (no NUL); returns the digit count. */
static size_t
put_uint(char *p, uint32_t v)
{
    char tmp[10];
    size_t n = 0, i;

    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    for (i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t
otk_proto_format_invite(char *buf, size_t cap, uint32_t cmd, uint16_t port, uint32_t size,
                        const char *md5hex)
{
    char tmp[3 * 11 + OTK_MD5_HEX_LEN + 2];
    size_t n = 0;

    n += put_uint(tmp + n, cmd);
    tmp[n++] = ' ';
    n += put_uint(tmp + n, port);
    tmp[n++] = ' ';
    n += put_uint(tmp + n, size);
    tmp[n++] = ' ';
    memcpy(tmp + n, md5hex, OTK_MD5_HEX_LEN);
    n += OTK_MD5_HEX_LEN;
    tmp[n++] = '\n';
    if (n + 1 > cap)
        return 0;
    memcpy(buf, tmp, n);
    buf[n] = '\0';
    return n;
}

size_t
otk_proto_format_auth(char *buf, size_t cap, const char *cnonce, const char *response,
                      size_t hex_len)
{
    size_t n = 4 + hex_len + 1 + hex_len + 1;

    if (n + 1 > cap)
        return 0;
    memcpy(buf, "200 ", 4);
    memcpy(buf + 4, cnonce, hex_len);
    buf[4 + hex_len] = ' ';
    memcpy(buf + 5 + hex_len, response, hex_len);
    buf[n - 1] = '\n';
    buf[n] = '\0';
    return n;
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
    union otk_hash_ctx ctx;
    uint8_t d[32];

    if (v == OTK_AUTH_PBKDF2) {
        c->sha256_start(&ctx);
        c->sha256_update(&ctx, data, len);
        c->sha256_finish(&ctx, d);
        otk_hex(d, 32, out);
    } else {
        c->md5_start(&ctx);
        c->md5_update(&ctx, data, len);
        c->md5_finish(&ctx, d);
        otk_hex(d, 16, out);
    }
}

size_t
otk_proto_password_secret(const struct otk_crypto_ops *c, enum otk_auth_variant v,
                          const char *password, size_t password_len, char *out)
{
    digest_hex(c, v, password, password_len, out);
    return otk_auth_hex_len(v);
}

/* Append src to buf at *n (bounded by AUTH_BUF_MAX, checked by the caller's length limits). */
static void
append(char *buf, size_t *n, const char *src, size_t len)
{
    memcpy(buf + *n, src, len);
    *n += len;
}

int
otk_proto_auth_response(const struct otk_crypto_ops *c, enum otk_auth_variant v, const char *secret,
                        size_t secret_len, const char *nonce, size_t nonce_len, const char *cnonce,
                        size_t cnonce_len, char *out)
{
    char buf[AUTH_BUF_MAX];
    char key[OTK_SHA256_HEX_LEN + 1];
    size_t n = 0, salt_len;

    if (secret_len > AUTH_FIELD_MAX || nonce_len > AUTH_FIELD_MAX || cnonce_len > AUTH_FIELD_MAX)
        return OTK_ERR_ARG;
    if (v == OTK_AUTH_PBKDF2) {
        /* The key is PBKDF2(stored secret, "nonce:cnonce"); the response hashes its hex. */
        uint8_t dk[32];
        append(buf, &n, nonce, nonce_len);
        append(buf, &n, ":", 1);
        append(buf, &n, cnonce, cnonce_len);
        salt_len = n;
        if (c->pbkdf2_sha256(secret, secret_len, buf, salt_len, OTK_PBKDF2_ITERATIONS, dk, 32))
            return OTK_ERR_CRYPTO;
        otk_hex(dk, 32, key);
        n = 0;
        append(buf, &n, key, OTK_SHA256_HEX_LEN);
    } else {
        append(buf, &n, secret, secret_len);
    }
    append(buf, &n, ":", 1);
    append(buf, &n, nonce, nonce_len);
    append(buf, &n, ":", 1);
    append(buf, &n, cnonce, cnonce_len);
    digest_hex(c, v, buf, n, out);
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

static bool
starts_with(const uint8_t *dg, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(dg, prefix, n) == 0;
}

void
otk_proto_parse_reply(const uint8_t *dg, size_t len, struct otk_reply *out)
{
    const char *text = (const char *)dg;
    size_t n = len;

    /* Tolerate trailing whitespace; devices send none, proxies and fakes sometimes do. */
    while (n > 0 && is_space(dg[n - 1]))
        n--;
    out->text = text;
    out->text_len = n;
    if (n == 2 && dg[0] == 'O' && dg[1] == 'K') {
        out->kind = OTK_REPLY_OK;
    } else if (starts_with(dg, n, "AUTH ")) {
        out->kind = OTK_REPLY_AUTH;
        out->text = text + 5;
        out->text_len = n - 5;
        while (out->text_len > 0 && out->text[0] == ' ') {
            out->text++;
            out->text_len--;
        }
    } else if (starts_with(dg, n, "Authentication Failed")) {
        out->kind = OTK_REPLY_AUTH_FAILED;
    } else if (starts_with(dg, n, "ERR:")) {
        out->kind = OTK_REPLY_ERR;
        out->text = text + 4;
        out->text_len = n - 4;
        while (out->text_len > 0 && out->text[0] == ' ') {
            out->text++;
            out->text_len--;
        }
    } else {
        out->kind = OTK_REPLY_OTHER;
    }
}

void
otk_ack_parser_init(struct otk_ack_parser *p)
{
    memset(p, 0, sizeof *p);
}

static void
text_append(struct otk_ack_parser *p, uint8_t ch)
{
    if (ch == '\r' || ch == '\n')
        return;
    if (p->text_len + 1 < sizeof p->text) {
        p->text[p->text_len++] = (char)ch;
        p->text[p->text_len] = '\0';
    }
}

/* Digits are progress; "OK" is success; anything else starts an error text that runs to the
 * close. Digits never contain 'O', and no error string of either core contains "OK" before its
 * first other letter, so the first non-digit decides. */
void
otk_ack_parser_feed(struct otk_ack_parser *p, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = data[i];

        if (p->error) {
            text_append(p, ch);
        } else if (p->pending_o) {
            p->pending_o = false;
            if (ch == 'K') {
                p->ok = true;
            } else {
                p->error = true;
                text_append(p, 'O');
                text_append(p, ch);
            }
        } else if (p->ok) {
            /* Bytes after "OK" (none are sent by real devices) are ignored. */
        } else if (is_digit(ch)) {
            if (i == 0 || !is_digit(data[i - 1]))
                p->ack_count++;
        } else if (ch == 'O') {
            p->pending_o = true;
        } else if (ch == '\r' || ch == '\n') {
            /* separators some fakes send between acks */
        } else {
            p->error = true;
            text_append(p, ch);
        }
    }
}
