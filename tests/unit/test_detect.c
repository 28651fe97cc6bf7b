/* SPDX-License-Identifier: MIT */
/* Protocol detection's rules (include/otakit/detect.h): HTTP heads as ElegantOTA, the
 * ESP8266 and ESPHome web servers send them (../shared/reference/http-ota.md), and which
 * request follows which answer; --wait's rule of which ends of a look mean "not there yet"
 * (the upload engine, without a device: nothing listens on the port). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/detect.h"
#include "otakit/gzip.h"
#include "otakit/posix.h"
#include "otakit/upload.h"

static enum otk_http_kind
rule(enum otk_http_step step, const char *text, enum otk_http_step *next)
{
    struct otk_http_answer a;
    long head = otk_http_parse_head(text, strlen(text), &a);

    assert_true(head > 0);
    a.body = (const uint8_t *)text + head;
    a.body_len = strlen(text) - (size_t)head;
    return otk_detect_http_rule(step, OTK_HTTPK_UNDECIDED, &a, next);
}

static void
parses_heads(void **state)
{
    struct otk_http_answer a;
    const char *locked =
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest realm=\"asyncesp\", "
        "qop=\"auth\"\r\ncontent-encoding: GZIP\r\n\r\n";
    (void)state;
    assert_int_equal(otk_http_parse_head(locked, strlen(locked), &a), (long)strlen(locked));
    assert_int_equal(a.status, 401);
    assert_true(a.gzip);
    assert_string_equal(a.challenge, "Digest realm=\"asyncesp\", qop=\"auth\"");
    /* incomplete, and not HTTP at all */
    assert_int_equal(otk_http_parse_head("HTTP/1.1 200 OK\r\nA: b\r\n", 24, &a), 0);
    assert_int_equal(otk_http_parse_head("SSH-2.0-OpenSSH\r\n\r\n", 19, &a), -1);
    assert_int_equal(otk_http_parse_head("HTTP/1.1 abc\r\n\r\n", 16, &a), -1);
}

static void
elegantota_and_forms(void **state)
{
    enum otk_http_step next;
    (void)state;
    /* ElegantOTA 3.x: its page, gzip-encoded, at /update; then /update/identity tells 2.x */
    assert_int_equal(rule(OTK_HTTPS_UPDATE,
                          "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: "
                          "text/html\r\n\r\n\x1f\x8b",
                          &next),
                     OTK_HTTPK_UNDECIDED);
    assert_int_equal(next, OTK_HTTPS_IDENTITY);
    assert_int_equal(rule(OTK_HTTPS_IDENTITY, "HTTP/1.1 200 OK\r\n\r\n{\"id\":\"1\"}", &next),
                     OTK_HTTPK_ELEGANTOTA2);
    assert_int_equal(next, OTK_HTTPS_DONE);
    assert_int_equal(rule(OTK_HTTPS_IDENTITY, "HTTP/1.1 404 Not Found\r\n\r\n", &next),
                     OTK_HTTPK_ELEGANTOTA3);
    assert_int_equal(otk_detect_http_rule(OTK_HTTPS_IDENTITY, OTK_HTTPK_UNDECIDED, NULL, &next),
                     OTK_HTTPK_ELEGANTOTA3); /* no answer at all: 3.x */
    /* ESP8266HTTPUpdateServer's plain form */
    assert_int_equal(rule(OTK_HTTPS_UPDATE,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<form method='POST' "
                          "action='' enctype='multipart/form-data'><input type='file' "
                          "name='firmware'>",
                          &next),
                     OTK_HTTPK_UPDATE_FORM);
    /* a password on /update: which door cannot be told */
    assert_int_equal(rule(OTK_HTTPS_UPDATE,
                          "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"Login "
                          "Required\"\r\n\r\n",
                          &next),
                     OTK_HTTPK_LOCKED);
}

static void
esphome_and_none(void **state)
{
    enum otk_http_step next;
    (void)state;
    /* nothing at /update (ESPHome takes POST only): ask / */
    assert_int_equal(rule(OTK_HTTPS_UPDATE, "HTTP/1.1 404 Not Found\r\n\r\nNot found", &next),
                     OTK_HTTPK_UNDECIDED);
    assert_int_equal(next, OTK_HTTPS_ROOT);
    assert_int_equal(rule(OTK_HTTPS_UPDATE, "HTTP/1.1 200 OK\r\n\r\n<html>status</html>", &next),
                     OTK_HTTPK_UNDECIDED);
    assert_int_equal(next, OTK_HTTPS_ROOT);
    assert_int_equal(rule(OTK_HTTPS_ROOT,
                          "HTTP/1.1 200 OK\r\n\r\n<html><body><esp-app></esp-app><script "
                          "src=\"https://oi.esphome.io/v2/www.js\"></script>",
                          &next),
                     OTK_HTTPK_ESPHOME_WEB);
    assert_int_equal(rule(OTK_HTTPS_ROOT, "HTTP/1.1 200 OK\r\n\r\n<h1>ESPHome</h1>", &next),
                     OTK_HTTPK_ESPHOME_WEB);
    assert_int_equal(rule(OTK_HTTPS_ROOT, "HTTP/1.1 200 OK\r\n\r\n<html>gateway</html>", &next),
                     OTK_HTTPK_NONE);
    assert_int_equal(rule(OTK_HTTPS_ROOT, "HTTP/1.1 401 Unauthorized\r\n\r\n", &next),
                     OTK_HTTPK_LOCKED);
    /* no web server */
    assert_int_equal(otk_detect_http_rule(OTK_HTTPS_UPDATE, OTK_HTTPK_UNDECIDED, NULL, &next),
                     OTK_HTTPK_NONE);
    assert_int_equal(next, OTK_HTTPS_DONE);
}

static void
kinds_map_to_protocols(void **state)
{
    (void)state;
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_ELEGANTOTA3), OTK_UP_PROTO_ELEGANTOTA);
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_ELEGANTOTA2), OTK_UP_PROTO_WEB);
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_ESPHOME_WEB), OTK_UP_PROTO_WEB);
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_UPDATE_FORM), OTK_UP_PROTO_WEB);
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_LOCKED), -1);
    assert_int_equal(otk_http_kind_protocol(OTK_HTTPK_NONE), -1);
    assert_string_equal(otk_http_kind_name(OTK_HTTPK_ELEGANTOTA3), "ElegantOTA 3.x");
    assert_string_equal(otk_http_step_path(OTK_HTTPS_IDENTITY), "/update/identity");
}

static void
gunzip_head_of_a_cut_page(void **state)
{
    static const char page[] = "<!DOCTYPE html><title>ElegantOTA</title><body>...</body>";
    uint8_t *gz = NULL, out[128];
    uint32_t gz_len = 0;
    (void)state;
    if (!otk_gzip_available())
        skip();
    assert_int_equal(otk_gzip((const uint8_t *)page, sizeof page - 1, &gz, &gz_len), 0);
    size_t n = otk_gunzip_head(gz, gz_len, out, sizeof out);
    assert_int_equal(n, sizeof page - 1);
    assert_memory_equal(out, page, n);
    /* a page cut in the middle still gives its start; garbage gives nothing */
    n = otk_gunzip_head(gz, gz_len - 8, out, 20);
    assert_int_equal(n, 20);
    assert_memory_equal(out, page, 20);
    assert_int_equal(otk_gunzip_head((const uint8_t *)"not gzip", 8, out, sizeof out), 0);
    free(gz);
}

/* --wait: a device that never answers ends as OTK_UPC_NEVER_AWOKE after the wait, through
 * looks whose own ends ("nothing listens") are not reported; without --wait the same target
 * ends at once with that cause. */
static void
run_upload(struct otk_upload *u, uint32_t wait_ms, enum otk_up_protocol proto)
{
    static const uint8_t image[64] = {0xE9};
    struct otk_upload_cfg c;
    struct pollfd fds[4];

    otk_upload_cfg_defaults(&c);
    c.target = "127.0.0.1";
    c.port = 9; /* discard: nothing listens on loopback */
    c.http_port = 9;
    c.protocol = proto;
    c.image = image;
    c.size = sizeof image;
    c.retries = 0;
    c.wait_ms = wait_ms;
    c.crypto = otk_posix_crypto();
    otk_upload_init(u, &c);
    otk_upload_start(u, otk_posix_now_ms());
    while (u->state != OTK_UP_DONE) {
        size_t n = otk_upload_pollfds(u, fds, 4);
        int32_t t = otk_upload_next_ms(u, otk_posix_now_ms());
        otk_net_poll(fds, n, t < 0 || t > 200 ? 200 : t);
        otk_upload_step(u, fds, n, otk_posix_now_ms());
    }
}

static void
never_awoke_after_the_wait(void **state)
{
    struct otk_upload u;
    (void)state;
    run_upload(&u, 0, OTK_UP_PROTO_ESPHOME);
    assert_int_equal(u.outcome.cause, OTK_UPC_NAT_REFUSED);
    assert_false(otk_upload_asleep(&u));
    otk_upload_close(&u);

    run_upload(&u, 2500, OTK_UP_PROTO_ESPHOME);
    assert_int_equal(u.outcome.cause, OTK_UPC_NEVER_AWOKE);
    assert_int_equal(u.outcome.asleep_cause, OTK_UPC_NAT_REFUSED);
    assert_true(u.outcome.figure >= 2); /* looks: at 0, 1 s, 2 s and the end */
    assert_true(u.t_end - u.t_begin >= 2500);
    assert_true(u.t_end - u.t_begin < 5000);
    assert_false(u.awake);
    assert_int_equal(u.attempt, 1); /* looks are not attempts */
    otk_upload_close(&u);

    run_upload(&u, 2000, OTK_UP_PROTO_ARDUINO);
    assert_int_equal(u.outcome.cause, OTK_UPC_NEVER_AWOKE);
    assert_int_equal(u.outcome.asleep_cause, OTK_UPC_PORT_UNREACH);
    otk_upload_close(&u);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_heads),
        cmocka_unit_test(elegantota_and_forms),
        cmocka_unit_test(esphome_and_none),
        cmocka_unit_test(kinds_map_to_protocols),
        cmocka_unit_test(gunzip_head_of_a_cut_page),
        cmocka_unit_test(never_awoke_after_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
