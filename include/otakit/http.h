/* SPDX-License-Identifier: MIT */
/* A small HTTP/1.1 client codec for the HTTP upload doors (ElegantOTA, web /update forms): no
 * I/O, no heap. The response parser takes bytes as they arrive (Content-Length, chunked, or a
 * body until the connection closes); the rest formats what a client sends: requests, the
 * multipart frame around a file, Basic and Digest (RFC 7617, RFC 7616 / 2617) credentials.
 * src/host/upload_http.c drives it over sockets; the fuzzer feeds the parser garbage. */
#ifndef OTK_HTTP_H
#define OTK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_HTTP_LINE_MAX  1024 /* a status or header line longer than this breaks the answer */
#define OTK_HTTP_BODY_KEEP 512  /* the body's first bytes are kept: the device's words */
#define OTK_HTTP_AUTH_MAX  512  /* a WWW-Authenticate value kept */

enum otk_http_pstate {
    OTK_HTTP_P_STATUS = 0, /* reading the status line */
    OTK_HTTP_P_HEADERS,
    OTK_HTTP_P_BODY,       /* Content-Length or until the close */
    OTK_HTTP_P_CHUNK_SIZE, /* chunked: the size line */
    OTK_HTTP_P_CHUNK_DATA,
    OTK_HTTP_P_CHUNK_END, /* the CRLF after a chunk's data */
    OTK_HTTP_P_TRAILERS,
    OTK_HTTP_P_COMPLETE, /* the whole answer is in */
    OTK_HTTP_P_ERROR,    /* not HTTP, or broken: see error */
};

/** One response, parsed as it arrives. */
struct otk_http_resp {
    enum otk_http_pstate state;
    int status;               /* 100..599 once the status line is in */
    long long content_length; /* -1: none given */
    bool chunked;             /* Transfer-Encoding: chunked */
    bool conn_close;          /* Connection: close */
    bool head_only;           /* the answer to a HEAD request: no body whatever the headers say */
    char www_auth[OTK_HTTP_AUTH_MAX];  /* the Digest challenge if one came, else the first */
    char body[OTK_HTTP_BODY_KEEP + 1]; /* the body's head, NUL-terminated (may hold NULs) */
    size_t body_len;                   /* bytes of body kept */
    uint64_t body_seen;                /* bytes of body seen in all */
    const char *error;                 /* OTK_HTTP_P_ERROR: which rule broke */
    /* private */
    char line[OTK_HTTP_LINE_MAX];
    size_t line_len;
    uint64_t left; /* Content-Length or chunk bytes still to come */
};

/** Start a response (head_only: it answers a HEAD request). */
void otk_http_resp_init(struct otk_http_resp *r, bool head_only);

/** Feed received bytes. @return how many were used: all of them, unless the answer completed
 *  or broke before their end (the rest belongs to no answer). */
size_t otk_http_resp_feed(struct otk_http_resp *r, const void *buf, size_t len);

/** The connection closed: a body that runs until the close is complete; any other answer
 *  that is not complete broke (error "closed before the end of the answer"). */
void otk_http_resp_eof(struct otk_http_resp *r);

enum otk_http_scheme {
    OTK_HTTP_AUTH_NONE = 0,
    OTK_HTTP_AUTH_BASIC,
    OTK_HTTP_AUTH_DIGEST,
    OTK_HTTP_AUTH_OTHER, /* a scheme this client does not speak (scheme holds its name) */
};

/** What a WWW-Authenticate challenge asks for. */
struct otk_http_challenge {
    enum otk_http_scheme scheme;
    char name[24]; /* the scheme's name as given */
    char realm[128];
    char nonce[128];
    char opaque[128];
    char algorithm[24]; /* "" = MD5 */
    bool qop_auth;      /* qop offers "auth" */
    bool stale;         /* the nonce expired, the credentials were right */
    bool sha256;        /* algorithm SHA-256 */
    bool unsupported;   /* Digest with an algorithm or qop this client cannot answer */
};

/** Parse one challenge (the header's value). @return 0, or -1 when it names no scheme. */
int otk_http_parse_challenge(const char *value, struct otk_http_challenge *c);

/** The Authorization value for Basic: "Basic " + base64(user ":" password). @return its length,
 *  0 if cap is too small. */
size_t otk_http_basic(char *out, size_t cap, const char *user, const char *password);

/** The Authorization value answering a Digest challenge (RFC 7616 §3.4; RFC 2617 without qop):
 *  MD5 or SHA-256, qop=auth when offered. @return its length, 0 if cap is too small or the
 *  challenge cannot be answered. */
size_t otk_http_digest(char *out, size_t cap, const struct otk_crypto_ops *cr,
                       const struct otk_http_challenge *c, const char *user, const char *password,
                       const char *method, const char *uri, const char *cnonce, unsigned nc);

/** A request head: "METHOD path HTTP/1.1", Host, Connection: close, the optional Authorization
 *  and Content-Type, Content-Length when content_length >= 0. @return its length, 0 if cap is
 *  too small. */
size_t otk_http_request(char *out, size_t cap, const char *method, const char *host,
                        const char *path, const char *authorization, const char *content_type,
                        long long content_length);

/** The multipart/form-data frame around one file (RFC 7578): what goes before its bytes and
 *  after them. @return the length, 0 if cap is too small. */
size_t otk_http_multipart_head(char *out, size_t cap, const char *boundary, const char *field,
                               const char *filename);
size_t otk_http_multipart_tail(char *out, size_t cap, const char *boundary);

#ifdef __cplusplus
}
#endif
#endif
