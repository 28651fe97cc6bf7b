/* SPDX-License-Identifier: MIT */
/* The HTTP client codec (include/otakit/http.h): responses with Content-Length, chunked and
 * to-the-close bodies fed whole and byte by byte, interim 100 answers, broken answers; the
 * challenges ElegantOTA's and ESPHome's servers send; Basic (RFC 7617 §2) and Digest (RFC 2617
 * §3.5, RFC 7616 §3.9.1 MD5 and SHA-256) vectors; the request head and the multipart frame. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "otakit/http.h"
#include "otakit/posix.h"

/* Feed text whole, or one byte at a time. @return bytes used */
static size_t
feed(struct otk_http_resp *r, const char *text, bool bytewise)
{
    size_t n = strlen(text), used = 0;

    otk_http_resp_init(r, false);
    if (!bytewise)
        return otk_http_resp_feed(r, text, n);
    for (size_t i = 0; i < n; i++)
        used += otk_http_resp_feed(r, text + i, 1);
    return used;
}

static void
content_length(void **state)
{
    (void)state;
    struct otk_http_resp r;
    /* ElegantOTA on ESP8266WebServer: its 400 with the Updater's text */
    const char *a = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 35\r\nConnection: close\r\n\r\n"
                    "ERROR[10]: Magic byte is not 0xE9\n\r";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        assert_int_equal(feed(&r, a, bytewise), strlen(a));
        assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
        assert_int_equal(r.status, 400);
        assert_int_equal(r.content_length, 35);
        assert_true(r.conn_close);
        assert_string_equal(r.body, "ERROR[10]: Magic byte is not 0xE9\n\r");
    }
    /* bytes after the answer are not taken */
    const char *b = "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nOKjunk";
    assert_int_equal(feed(&r, b, false), strlen(b) - 4);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
    assert_string_equal(r.body, "OK");
    /* an empty body, bare LF line ends */
    assert_int_equal(feed(&r, "HTTP/1.1 204 No Content\n\n", false), 25);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
}

static void
chunked(void **state)
{
    (void)state;
    struct otk_http_resp r;
    const char *a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "7\r\nUpdate \r\nB;ext=1\r\nSuccessful!\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        assert_int_equal(feed(&r, a, bytewise), strlen(a));
        assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
        assert_true(r.chunked);
        assert_string_equal(r.body, "Update Successful!");
        assert_int_equal(r.body_seen, 18);
    }
    feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    assert_string_equal(r.error, "bad chunk size");
    feed(&r, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
}

static void
until_close(void **state)
{
    (void)state;
    struct otk_http_resp r;

    feed(&r, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nUpdate Success! Rebooting...",
         true);
    assert_int_equal(r.state, OTK_HTTP_P_BODY);
    otk_http_resp_eof(&r);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
    assert_string_equal(r.body, "Update Success! Rebooting...");
    /* a Content-Length body cut short is broken */
    feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nOK", false);
    otk_http_resp_eof(&r);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    assert_string_equal(r.error, "closed before the end of the answer");
    /* a HEAD answer has no body */
    otk_http_resp_init(&r, true);
    otk_http_resp_feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 39);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
}

static void
interim_and_broken(void **state)
{
    (void)state;
    struct otk_http_resp r;

    feed(&r, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", true);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    /* ArduinoOTA's answer, not HTTP */
    feed(&r, "OK", false);
    otk_http_resp_eof(&r);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    feed(&r, "\xe0garbage\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    assert_string_equal(r.error, "not an HTTP status line");
    feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    feed(&r, "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    feed(&r, "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    /* a line longer than the parser keeps */
    char big[OTK_HTTP_LINE_MAX + 64] = "HTTP/1.1 200 OK\r\nX: ";
    memset(big + strlen(big), 'a', OTK_HTTP_LINE_MAX);
    big[sizeof big - 1] = 0;
    feed(&r, big, false);
    assert_int_equal(r.state, OTK_HTTP_P_ERROR);
    assert_string_equal(r.error, "a line too long");
}

static void
challenges(void **state)
{
    (void)state;
    struct otk_http_resp r;
    struct otk_http_challenge c;

    /* ESP8266WebServer's requestAuthentication(BASIC_AUTH) */
    assert_int_equal(otk_http_parse_challenge("Basic realm=\"Login Required\"", &c), 0);
    assert_int_equal(c.scheme, OTK_HTTP_AUTH_BASIC);
    assert_string_equal(c.realm, "Login Required");
    /* ESPAsyncWebServer's Digest; the Digest one wins over a Basic one in the same answer */
    feed(&r,
         "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\n"
         "WWW-Authenticate: Digest realm=\"asyncesp\", qop=\"auth\", "
         "nonce=\"5a1b\", opaque=\"o\\\"q\"\r\nContent-Length: 0\r\n\r\n",
         false);
    assert_int_equal(r.state, OTK_HTTP_P_COMPLETE);
    assert_int_equal(otk_http_parse_challenge(r.www_auth, &c), 0);
    assert_int_equal(c.scheme, OTK_HTTP_AUTH_DIGEST);
    assert_string_equal(c.realm, "asyncesp");
    assert_string_equal(c.nonce, "5a1b");
    assert_string_equal(c.opaque, "o\"q");
    assert_true(c.qop_auth);
    assert_false(c.unsupported);
    assert_int_equal(otk_http_parse_challenge("Digest realm=a, nonce=b, qop=\"auth-int\"", &c), 0);
    assert_false(c.qop_auth);
    assert_true(c.unsupported);
    otk_http_parse_challenge("Digest realm=a, nonce=b, algorithm=MD5-sess", &c);
    assert_true(c.unsupported);
    otk_http_parse_challenge("Digest realm=a, nonce=b, stale=TRUE, algorithm=SHA-256", &c);
    assert_true(c.stale);
    assert_true(c.sha256);
    assert_false(c.unsupported);
    otk_http_parse_challenge("Bearer realm=\"api\"", &c);
    assert_int_equal(c.scheme, OTK_HTTP_AUTH_OTHER);
    assert_string_equal(c.name, "Bearer");
    assert_int_equal(otk_http_parse_challenge("   ", &c), -1);
}

static void
basic_vector(void **state)
{
    (void)state;
    char out[128];
    /* RFC 7617 §2 */
    assert_int_equal(otk_http_basic(out, sizeof out, "Aladdin", "open sesame"), 34);
    assert_string_equal(out, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    otk_http_basic(out, sizeof out, "a", "bc");
    assert_string_equal(out, "Basic YTpiYw==");
    assert_int_equal(otk_http_basic(out, 10, "Aladdin", "open sesame"), 0);
}

/* RFC 7616 §3.9.1: the same challenge answered with MD5 and SHA-256 */
static void
digest_rfc7616(void **state)
{
    (void)state;
    struct otk_http_challenge c;
    char out[768];
    const char *ch = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", "
                     "algorithm=%s, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
                     "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    char text[512];
    const char *cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    snprintf(text, sizeof text, ch, "MD5");
    assert_int_equal(otk_http_parse_challenge(text, &c), 0);
    assert_true(otk_http_digest(out, sizeof out, otk_posix_crypto(), &c, "Mufasa", "Circle of Life",
                                "GET", "/dir/index.html", cnonce, 1) > 0);
    assert_non_null(strstr(out, "response=\"8ca523f5e9506fed4657c9700eebdbec\""));
    assert_non_null(strstr(out, "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6z"));
    assert_non_null(strstr(out, "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    assert_non_null(strstr(out, "uri=\"/dir/index.html\""));
    snprintf(text, sizeof text, ch, "SHA-256");
    otk_http_parse_challenge(text, &c);
    otk_http_digest(out, sizeof out, otk_posix_crypto(), &c, "Mufasa", "Circle of Life", "GET",
                    "/dir/index.html", cnonce, 1);
    assert_non_null(strstr(
        out, "response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""));
    assert_non_null(strstr(out, "algorithm=SHA-256"));
}

/* RFC 2617 §3.5 */
static void
digest_rfc2617(void **state)
{
    (void)state;
    struct otk_http_challenge c;
    char out[768];

    otk_http_parse_challenge("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                             "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                             "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
                             &c);
    otk_http_digest(out, sizeof out, otk_posix_crypto(), &c, "Mufasa", "Circle Of Life", "GET",
                    "/dir/index.html", "0a4f113b", 1);
    assert_non_null(strstr(out, "response=\"6629fae49393a05397450978507c4ef1\""));
    /* a challenge it cannot answer gives nothing */
    otk_http_parse_challenge("Digest realm=a, nonce=b, algorithm=MD5-sess", &c);
    assert_int_equal(
        otk_http_digest(out, sizeof out, otk_posix_crypto(), &c, "u", "p", "GET", "/", "c", 1), 0);
}

static void
request_and_multipart(void **state)
{
    (void)state;
    char out[1024];

    size_t n = otk_http_request(out, sizeof out, "GET", "10.0.0.5", "/ota/start?mode=fr&hash=0123",
                                NULL, NULL, -1);
    assert_int_equal(n, strlen(out));
    assert_string_equal(out, "GET /ota/start?mode=fr&hash=0123 HTTP/1.1\r\nHost: 10.0.0.5\r\n"
                             "User-Agent: otakit\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    otk_http_request(out, sizeof out, "POST", "d:8080", "/update",
                     "Basic YTpiYw==", "multipart/form-data; boundary=B", 1234);
    assert_string_equal(out, "POST /update HTTP/1.1\r\nHost: d:8080\r\nUser-Agent: otakit\r\n"
                             "Accept: */*\r\nConnection: close\r\nAuthorization: Basic "
                             "YTpiYw==\r\nContent-Type: multipart/form-data; boundary=B\r\n"
                             "Content-Length: 1234\r\n\r\n");
    assert_int_equal(otk_http_multipart_head(out, sizeof out, "B", "file", "firmware.bin"), 117);
    assert_string_equal(out, "--B\r\nContent-Disposition: form-data; name=\"file\"; "
                             "filename=\"firmware.bin\"\r\nContent-Type: "
                             "application/octet-stream\r\n\r\n");
    assert_int_equal(otk_http_multipart_tail(out, sizeof out, "B"), 9);
    assert_string_equal(out, "\r\n--B--\r\n");
    assert_int_equal(otk_http_multipart_tail(out, 5, "B"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length),
        cmocka_unit_test(chunked),
        cmocka_unit_test(until_close),
        cmocka_unit_test(interim_and_broken),
        cmocka_unit_test(challenges),
        cmocka_unit_test(basic_vector),
        cmocka_unit_test(digest_rfc7616),
        cmocka_unit_test(digest_rfc2617),
        cmocka_unit_test(request_and_multipart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
