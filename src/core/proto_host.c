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

static uint32_t
sat_add(uint32_t a, uint32_t b)
{
    return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static uint32_t
sat_mul10(uint32_t a, uint32_t digit)
{
    return a > (UINT32_MAX - digit) / 10 ? UINT32_MAX : a * 10 + digit;
}

size_t
otk_text_escape(char *out, size_t cap, const uint8_t *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        uint8_t ch = in[i];
        char e[4] = {'\\', (char)ch, 0, 0};
        size_t k = 2;
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            e[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
        } else if (ch < 0x20 || ch >= 0x7f) {
            e[1] = 'x';
            e[2] = hex[ch >> 4];
            e[3] = hex[ch & 15];
            k = 4;
        } else if (ch != '"' && ch != '\\') {
            e[0] = (char)ch;
            k = 1;
        } /* else a quote or a backslash, escaped as it is */
        if (n + k >= cap)
            break;
        memcpy(out + n, e, k);
        n += k;
    }
    if (cap)
        out[n] = '\0';
    return n;
}

/* Error text, kept printable: CR/LF dropped (the cores end their texts with them), other
 * control and non-ASCII bytes escaped, so that a reply starting with NUL is not shown empty. */
static void
text_append(struct otk_ack_parser *p, uint8_t ch)
{
    p->text_total = sat_add(p->text_total, 1);
    if (p->text_total > OTK_ACK_TEXT_MAX)
        p->garbage = true;
    if (ch != '\r' && ch != '\n')
        p->text_len += otk_text_escape(p->text + p->text_len, sizeof p->text - p->text_len, &ch, 1);
}

/* claimed_min: each nonzero digit opens a group, the zeros after it extend the group. */
static void
least_reading(struct otk_ack_parser *p, uint32_t c)
{
    if (c) {
        p->min_closed = sat_add(p->min_closed, p->min_open);
        p->min_open = c;
    } else {
        p->min_open = sat_mul10(p->min_open, 0);
    }
    p->claimed_min = sat_add(p->min_closed, p->min_open);
}

/* claimed within the run: the best reading of its digits so far, by pieces of at most
 * OTK_ACK_PIECE_MAX (1 to 4 digits, no leading zero) or whole groups (a digit and its zeros,
 * which no other piece can hold). */
static void
best_reading(struct otk_ack_parser *p, uint32_t c)
{
    uint32_t best, v = 0, scale = 1;

    memmove(p->last + 1, p->last, sizeof p->last - sizeof p->last[0]);
    memmove(p->best + 1, p->best, sizeof p->best - sizeof p->best[0]);
    p->last[0] = (uint8_t)c;
    p->run = sat_mul10(p->run, c);
    p->run_len++;
    if (c) {
        p->grp_best = p->run_len > 1 ? p->best[1] : 0;
        p->grp_val = c;
    } else {
        p->grp_val = sat_mul10(p->grp_val, 0);
    }
    best = sat_add(p->grp_best, p->grp_val);
    /* pieces ending here: last[k..0]; the run's best before them is best[k + 1] */
    for (uint32_t k = 0; k < 4 && k < p->run_len; k++) {
        v += p->last[k] * scale;
        scale *= 10;
        if (p->last[k] != 0 && v <= OTK_ACK_PIECE_MAX) {
            uint32_t t = sat_add(k + 1 < p->run_len ? p->best[k + 1] : 0, v);
            if (t > best)
                best = t;
        }
    }
    p->best[0] = best;
}

static void
ack_digit(struct otk_ack_parser *p, uint32_t c)
{
    p->digits = sat_add(p->digits, 1);
    least_reading(p, c);
    if (p->run_len == 0 && c == 0) {
        /* No ack starts with 0: the zero ends one TCP cut ("146" "0"), or it is junk */
        if (++p->junk_run > OTK_ACK_SEP_MAX)
            p->garbage = true;
        return;
    }
    p->junk_run = 0;
    if (p->run_len == 0)
        p->ack_count++;
    best_reading(p, c);
}

void
otk_ack_parser_end_run(struct otk_ack_parser *p)
{
    uint32_t got;

    if (p->run_len == 0)
        return;
    got = p->run <= p->room && p->run > p->best[0] ? p->run : p->best[0];
    p->claimed = sat_add(p->claimed, got);
    p->room = p->room > got ? p->room - got : 0;
    p->run = 0;
    p->run_len = 0;
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
            ack_digit(p, (uint32_t)(ch - '0'));
        } else {
            /* whatever follows, the run of digits and its last group are complete */
            otk_ack_parser_end_run(p);
            p->min_closed = p->claimed_min;
            p->min_open = 0;
            if (ch == 'O') {
                p->pending_o = true;
            } else if (otk__is_space(ch)) {
                /* separators some fakes send between acks; a stream of them is garbage */
                if (++p->junk_run > OTK_ACK_SEP_MAX)
                    p->garbage = true;
            } else {
                p->error = true;
                text_append(p, ch);
            }
        }
    }
}
