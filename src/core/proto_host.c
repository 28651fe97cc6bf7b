/* SPDX-License-Identifier: MIT */
/* The host's half of the wire codec: what an uploader sends (invitation, auth answer) and how
 * it reads the device's replies. Kept apart from proto.c so that a device build, which links
 * only the device's half, carries none of it. */
#include <string.h>

#include "otakit/proto.h"

#include "text.h"

size_t
otk_proto_format_invite(char *buf, size_t cap, uint32_t cmd, uint16_t port, uint32_t size,
                        const char *md5hex)
{
    char tmp[3 * 11 + OTK_MD5_HEX_LEN + 2];
    struct otk__sbuf s = {tmp, sizeof tmp, 0};

    otk__sb_uint(&s, cmd);
    otk__sb_put(&s, " ", 1);
    otk__sb_uint(&s, port);
    otk__sb_put(&s, " ", 1);
    otk__sb_uint(&s, size);
    otk__sb_put(&s, " ", 1);
    otk__sb_put(&s, md5hex, OTK_MD5_HEX_LEN);
    otk__sb_put(&s, "\n", 1);
    if (s.n + 1 > cap)
        return 0;
    memcpy(buf, tmp, s.n + 1);
    return s.n;
}

void
otk_proto_md5_hex(const struct otk_crypto_ops *c, const void *data, size_t len, char *out)
{
    union otk_hash_ctx ctx;
    uint8_t d[16];

    c->md5_start(&ctx);
    c->md5_update(&ctx, data, len);
    c->md5_finish(&ctx, d);
    otk_hex(d, sizeof d, out);
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

static bool
starts_with(const uint8_t *dg, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(dg, prefix, n) == 0;
}

/* The reply's text after a prefix of `skip` bytes, without the spaces that follow it. */
static void
text_after(struct otk_reply *out, size_t skip)
{
    out->text += skip;
    out->text_len -= skip;
    while (out->text_len > 0 && out->text[0] == ' ') {
        out->text++;
        out->text_len--;
    }
}

void
otk_proto_parse_reply(const uint8_t *dg, size_t len, struct otk_reply *out)
{
    size_t n = len;

    /* Tolerate trailing whitespace; devices send none, proxies and fakes sometimes do. */
    while (n > 0 && otk__is_space(dg[n - 1]))
        n--;
    out->text = (const char *)dg;
    out->text_len = n;
    if (n == 2 && dg[0] == 'O' && dg[1] == 'K') {
        out->kind = OTK_REPLY_OK;
    } else if (starts_with(dg, n, "AUTH ")) {
        out->kind = OTK_REPLY_AUTH;
        text_after(out, 5);
    } else if (starts_with(dg, n, "Authentication Failed")) {
        out->kind = OTK_REPLY_AUTH_FAILED;
    } else if (starts_with(dg, n, "ERR:")) {
        out->kind = OTK_REPLY_ERR;
        text_after(out, 4);
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
        } else if (otk__is_digit(ch)) {
            if (i == 0 || !otk__is_digit(data[i - 1]))
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
