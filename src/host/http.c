/* SPDX-License-Identifier: MIT */
/* The HTTP/1.1 client codec (include/otakit/http.h). The parser is strict where a wrong reading
 * would mislead (the status line, sizes) and lenient where devices are sloppy (a bare LF ends a
 * line, header names in any case, no Content-Length: the body runs to the close). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "otakit/http.h"

/* ---- the response parser ---- */

/* Copy a NUL-terminated text, cut to cap - 1 bytes. */
static void
copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);

    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

void
otk_http_resp_init(struct otk_http_resp *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    r->content_length = -1;
    r->head_only = head_only;
    r->state = OTK_HTTP_P_STATUS;
}

static void
broke(struct otk_http_resp *r, const char *why)
{
    r->state = OTK_HTTP_P_ERROR;
    r->error = why;
}

static void
keep_body(struct otk_http_resp *r, const char *p, size_t n)
{
    size_t room = OTK_HTTP_BODY_KEEP - r->body_len;
    size_t take = n < room ? n : room;

    memcpy(r->body + r->body_len, p, take);
    r->body_len += take;
    r->body[r->body_len] = 0;
    r->body_seen += n;
}

/* "HTTP/1.x NNN reason" */
static void
status_line(struct otk_http_resp *r, const char *l)
{
    if (strncmp(l, "HTTP/1.", 7) || !isdigit((unsigned char)l[7]) || l[8] != ' ' ||
        !isdigit((unsigned char)l[9]) || !isdigit((unsigned char)l[10]) ||
        !isdigit((unsigned char)l[11]) || (l[12] && l[12] != ' ')) {
        broke(r, "not an HTTP status line");
        return;
    }
    int status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (status < 100 || status > 599) {
        broke(r, "status code out of range");
        return;
    }
    r->status = status;
    r->state = OTK_HTTP_P_HEADERS;
}

static bool
token_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_';
}

/* token appears in the list v as a whole token ("auth" is not in "auth-int") */
static bool
has_token(const char *v, const char *token)
{
    size_t n = strlen(token);

    for (const char *p = v; *p; p++)
        if (!strncasecmp(p, token, n) && (p == v || !token_char(p[-1])) && !token_char(p[n]))
            return true;
    return false;
}

static void
content_length(struct otk_http_resp *r, const char *v)
{
    long long n = 0;

    if (!isdigit((unsigned char)*v)) {
        broke(r, "bad Content-Length");
        return;
    }
    for (; isdigit((unsigned char)*v); v++) {
        if (n > (1LL << 40)) {
            broke(r, "Content-Length too large");
            return;
        }
        n = n * 10 + (*v - '0');
    }
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v || (r->content_length >= 0 && r->content_length != n)) {
        broke(r, "bad Content-Length");
        return;
    }
    r->content_length = n;
}

static void
header_line(struct otk_http_resp *r, char *l)
{
    char *colon = strchr(l, ':');
    char *v;

    if (!colon || colon == l) {
        broke(r, "a header line without a name");
        return;
    }
    *colon = 0;
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t');)
        *--e = 0;
    if (!strcasecmp(l, "Content-Length"))
        content_length(r, v);
    else if (!strcasecmp(l, "Transfer-Encoding"))
        r->chunked = has_token(v, "chunked");
    else if (!strcasecmp(l, "Connection"))
        r->conn_close = r->conn_close || has_token(v, "close");
    else if (!strcasecmp(l, "WWW-Authenticate") &&
             (!r->www_auth[0] || !strncasecmp(v, "Digest", 6)) &&
             strncasecmp(r->www_auth, "Digest", 6))
        copy_text(r->www_auth, sizeof r->www_auth, v);
}

/* The empty line after the headers: where the body's end lies. */
static void
headers_done(struct otk_http_resp *r)
{
    if (r->status < 200) { /* 100 Continue and friends: the real answer follows */
        bool head = r->head_only;
        otk_http_resp_init(r, head);
        return;
    }
    if (r->head_only || r->status == 204 || r->status == 304) {
        r->state = OTK_HTTP_P_COMPLETE;
    } else if (r->chunked) {
        r->state = OTK_HTTP_P_CHUNK_SIZE;
    } else if (r->content_length >= 0) {
        r->left = (uint64_t)r->content_length;
        r->state = r->left ? OTK_HTTP_P_BODY : OTK_HTTP_P_COMPLETE;
    } else {
        r->state = OTK_HTTP_P_BODY; /* until the close */
    }
}

static void
chunk_size(struct otk_http_resp *r, const char *l)
{
    uint64_t n = 0;
    const char *p = l;

    for (; isxdigit((unsigned char)*p); p++) {
        if (n >> 36) {
            broke(r, "chunk size too large");
            return;
        }
        n = n * 16 + (uint64_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower(*p) - 'a' + 10));
    }
    if (p == l || (*p && *p != ';' && *p != ' ' && *p != '\t')) {
        broke(r, "bad chunk size");
        return;
    }
    r->left = n;
    r->state = n ? OTK_HTTP_P_CHUNK_DATA : OTK_HTTP_P_TRAILERS;
}

/* A whole line arrived (without its CR LF). */
static void
on_line(struct otk_http_resp *r)
{
    char *l = r->line;

    switch (r->state) {
    case OTK_HTTP_P_STATUS:
        status_line(r, l);
        break;
    case OTK_HTTP_P_HEADERS:
        if (*l)
            header_line(r, l);
        else
            headers_done(r);
        break;
    case OTK_HTTP_P_CHUNK_SIZE:
        chunk_size(r, l);
        break;
    case OTK_HTTP_P_CHUNK_END:
        if (*l)
            broke(r, "chunk data longer than its size");
        else
            r->state = OTK_HTTP_P_CHUNK_SIZE;
        break;
    case OTK_HTTP_P_TRAILERS:
        if (!*l)
            r->state = OTK_HTTP_P_COMPLETE;
        break;
    default:
        break;
    }
}

static bool
in_line_state(enum otk_http_pstate s)
{
    return s == OTK_HTTP_P_STATUS || s == OTK_HTTP_P_HEADERS || s == OTK_HTTP_P_CHUNK_SIZE ||
           s == OTK_HTTP_P_CHUNK_END || s == OTK_HTTP_P_TRAILERS;
}

/* Body bytes: up to the end of the body or chunk. @return bytes used */
static size_t
body_bytes(struct otk_http_resp *r, const char *p, size_t n)
{
    bool to_close = r->state == OTK_HTTP_P_BODY && r->content_length < 0;
    size_t take = to_close || r->left >= n ? n : (size_t)r->left;

    keep_body(r, p, take);
    if (to_close)
        return take;
    r->left -= take;
    if (!r->left)
        r->state = r->state == OTK_HTTP_P_BODY ? OTK_HTTP_P_COMPLETE : OTK_HTTP_P_CHUNK_END;
    return take;
}

size_t
otk_http_resp_feed(struct otk_http_resp *r, const void *buf, size_t len)
{
    const char *p = buf;
    size_t i = 0;

    while (i < len && r->state != OTK_HTTP_P_COMPLETE && r->state != OTK_HTTP_P_ERROR) {
        if (!in_line_state(r->state)) {
            i += body_bytes(r, p + i, len - i);
            continue;
        }
        char c = p[i++];
        if (c == '\n') {
            if (r->line_len && r->line[r->line_len - 1] == '\r')
                r->line_len--;
            r->line[r->line_len] = 0;
            r->line_len = 0;
            on_line(r);
        } else if (c == 0 && r->state == OTK_HTTP_P_STATUS) {
            broke(r, "not an HTTP status line");
        } else if (r->line_len + 1 >= sizeof r->line) {
            broke(r, "a line too long");
        } else {
            r->line[r->line_len++] = c;
        }
    }
    return i;
}

void
otk_http_resp_eof(struct otk_http_resp *r)
{
    if (r->state == OTK_HTTP_P_BODY && r->content_length < 0)
        r->state = OTK_HTTP_P_COMPLETE;
    else if (r->state != OTK_HTTP_P_COMPLETE && r->state != OTK_HTTP_P_ERROR)
        broke(r, "closed before the end of the answer");
}

/* ---- challenges ---- */

/* The next auth-param "name=value" or "name=\"value\"" of a challenge. @return the position
 * after it, or NULL at the end. */
static const char *
next_param(const char *p, char *name, size_t ncap, char *val, size_t vcap)
{
    size_t n = 0, v = 0;

    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    if (!*p)
        return NULL;
    for (; *p && *p != '=' && *p != ',' && *p != ' '; p++)
        if (n + 1 < ncap)
            name[n++] = *p;
    name[n] = 0;
    while (*p == ' ')
        p++;
    if (*p == '=')
        p++;
    while (*p == ' ')
        p++;
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (v + 1 < vcap)
                val[v++] = *p;
        }
        if (*p == '"')
            p++;
    } else {
        for (; *p && *p != ',' && *p != ' '; p++)
            if (v + 1 < vcap)
                val[v++] = *p;
    }
    val[v] = 0;
    return p;
}

static void
digest_param(struct otk_http_challenge *c, const char *name, const char *val)
{
    if (!strcasecmp(name, "realm"))
        copy_text(c->realm, sizeof c->realm, val);
    else if (!strcasecmp(name, "nonce"))
        copy_text(c->nonce, sizeof c->nonce, val);
    else if (!strcasecmp(name, "opaque"))
        copy_text(c->opaque, sizeof c->opaque, val);
    else if (!strcasecmp(name, "algorithm"))
        copy_text(c->algorithm, sizeof c->algorithm, val);
    else if (!strcasecmp(name, "qop"))
        c->qop_auth = has_token(val, "auth");
    else if (!strcasecmp(name, "stale"))
        c->stale = !strcasecmp(val, "true");
}

int
otk_http_parse_challenge(const char *value, struct otk_http_challenge *c)
{
    const char *p = value;
    size_t n = 0;
    char name[32], val[256];

    memset(c, 0, sizeof *c);
    while (*p == ' ')
        p++;
    for (; *p && *p != ' ' && *p != ','; p++)
        if (n + 1 < sizeof c->name)
            c->name[n++] = *p;
    if (!n)
        return -1;
    c->scheme = !strcasecmp(c->name, "Basic")    ? OTK_HTTP_AUTH_BASIC
                : !strcasecmp(c->name, "Digest") ? OTK_HTTP_AUTH_DIGEST
                                                 : OTK_HTTP_AUTH_OTHER;
    while ((p = next_param(p, name, sizeof name, val, sizeof val)) != NULL)
        digest_param(c, name, val);
    if (c->scheme == OTK_HTTP_AUTH_DIGEST) {
        c->sha256 = !strcasecmp(c->algorithm, "SHA-256");
        /* -sess variants and auth-int need more than this client keeps */
        c->unsupported = (c->algorithm[0] && !c->sha256 && strcasecmp(c->algorithm, "MD5")) ||
                         !c->nonce[0] || (strstr(value, "qop") && !c->qop_auth);
    }
    return 0;
}

/* ---- credentials ---- */

static size_t
base64(char *out, size_t cap, const uint8_t *in, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;

    if (cap < (n + 2) / 3 * 4 + 1)
        return 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = a[v >> 18 & 63];
        out[o++] = a[v >> 12 & 63];
        out[o++] = i + 1 < n ? a[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

size_t
otk_http_basic(char *out, size_t cap, const char *user, const char *password)
{
    uint8_t pair[256];
    int n = snprintf((char *)pair, sizeof pair, "%s:%s", user, password);

    if (n < 0 || (size_t)n >= sizeof pair || cap < 7)
        return 0;
    memcpy(out, "Basic ", 6);
    size_t b = base64(out + 6, cap - 6, pair, (size_t)n);
    return b ? 6 + b : 0;
}

/* hex(H(text)) with the challenge's algorithm */
static void
hash_hex(const struct otk_crypto_ops *cr, bool sha256, const char *text, char *hex)
{
    union otk_hash_ctx ctx;
    uint8_t d[32];
    size_t n = sha256 ? 32 : 16;

    if (sha256) {
        cr->sha256_start(&ctx);
        cr->sha256_update(&ctx, text, strlen(text));
        cr->sha256_finish(&ctx, d);
    } else {
        cr->md5_start(&ctx);
        cr->md5_update(&ctx, text, strlen(text));
        cr->md5_finish(&ctx, d);
    }
    for (size_t i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

size_t
otk_http_digest(char *out, size_t cap, const struct otk_crypto_ops *cr,
                const struct otk_http_challenge *c, const char *user, const char *password,
                const char *method, const char *uri, const char *cnonce, unsigned nc)
{
    char text[768], ha1[65], ha2[65], resp[65], opaque[160] = "";
    int n;

    if (c->scheme != OTK_HTTP_AUTH_DIGEST || c->unsupported)
        return 0;
    snprintf(text, sizeof text, "%s:%s:%s", user, c->realm, password);
    hash_hex(cr, c->sha256, text, ha1);
    snprintf(text, sizeof text, "%s:%s", method, uri);
    hash_hex(cr, c->sha256, text, ha2);
    if (c->qop_auth)
        snprintf(text, sizeof text, "%s:%s:%08x:%s:auth:%s", ha1, c->nonce, nc, cnonce, ha2);
    else
        snprintf(text, sizeof text, "%s:%s:%s", ha1, c->nonce, ha2);
    hash_hex(cr, c->sha256, text, resp);
    if (c->opaque[0])
        snprintf(opaque, sizeof opaque, ", opaque=\"%s\"", c->opaque);
    if (c->qop_auth)
        n = snprintf(out, cap,
                     "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "algorithm=%s, response=\"%s\"%s, qop=auth, nc=%08x, cnonce=\"%s\"",
                     user, c->realm, c->nonce, uri, c->sha256 ? "SHA-256" : "MD5", resp, opaque, nc,
                     cnonce);
    else
        n = snprintf(out, cap,
                     "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", "
                     "response=\"%s\"%s",
                     user, c->realm, c->nonce, uri, resp, opaque);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- requests ---- */

size_t
otk_http_request(char *out, size_t cap, const char *method, const char *host, const char *path,
                 const char *authorization, const char *content_type, long long content_length)
{
    char auth[OTK_HTTP_AUTH_MAX + 32] = "", type[160] = "", len[48] = "";
    int n;

    if (authorization && *authorization)
        snprintf(auth, sizeof auth, "Authorization: %s\r\n", authorization);
    if (content_type)
        snprintf(type, sizeof type, "Content-Type: %s\r\n", content_type);
    if (content_length >= 0)
        snprintf(len, sizeof len, "Content-Length: %lld\r\n", content_length);
    n = snprintf(out, cap,
                 "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: otakit\r\nAccept: */*\r\n"
                 "Connection: close\r\n%s%s%s\r\n",
                 method, path, host, auth, type, len);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t
otk_http_multipart_head(char *out, size_t cap, const char *boundary, const char *field,
                        const char *filename)
{
    int n = snprintf(out, cap,
                     "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     boundary, field, filename);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t
otk_http_multipart_tail(char *out, size_t cap, const char *boundary)
{
    int n = snprintf(out, cap, "\r\n--%s--\r\n", boundary);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
