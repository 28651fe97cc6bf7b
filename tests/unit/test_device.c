/* SPDX-License-Identifier: MIT */
/* The device engine driven event by event: a recording network, an in-RAM NOR flash, and a
 * virtual clock. Every exchange is checked byte for byte against what the cores send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

#define IMG_SIZE 70000u

struct rig {
    struct otk_dev dev;
    struct fakenet net;
    struct ramflash flash;
    uint8_t sector[OTK_SECTOR_SIZE];
    uint8_t *img;
    uint32_t img_size;
    char md5[33];
    struct otk_addr host;
    uint32_t now;
    int reboots;
    int events[4];
    struct otk_dev_event last_error;
    char last_error_text[OTK_DEV_MSG_MAX];
};

static void
on_event(void *user, const struct otk_dev_event *ev)
{
    struct rig *r = user;

    r->events[ev->type]++;
    if (ev->type == OTK_EV_ERROR) {
        r->last_error = *ev;
        snprintf(r->last_error_text, sizeof r->last_error_text, "%s", ev->text);
    }
}

static void
on_reboot(void *user)
{
    struct rig *r = user;
    r->reboots++;
}

static void
md5_hex(const uint8_t *data, size_t len, char *out)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx ctx;
    uint8_t d[16];

    c->md5_start(&ctx);
    c->md5_update(&ctx, data, len);
    c->md5_finish(&ctx, d);
    otk_hex(d, 16, out);
}

static struct rig *
rig_new(enum otk_profile p, enum otk_auth_variant v, const char *password)
{
    struct rig *r = calloc(1, sizeof *r);
    struct otk_dev_config cfg;
    struct otk_partition parts[8];
    struct otk_dev_hooks hooks = {on_event, on_reboot, NULL};
    int n;

    assert_non_null(r);
    memset(&cfg, 0, sizeof cfg);
    cfg.profile = p;
    cfg.auth = v;
    cfg.rx_nudges = 3;
    n = otk_layout_default_parts(p, parts, 8);
    assert_int_equal(otk_layout_from_parts(parts, n, otk_layout_default_flash_size(p), &cfg.layout),
                     OTK_OK);
    if (password)
        otk_proto_password_secret(otk_posix_crypto(), v, password, strlen(password), cfg.secret);
    fakenet_init(&r->net);
    ramflash_init(&r->flash, otk_layout_default_flash_size(p));
    hooks.user = r;
    assert_int_equal(otk_dev_init(&r->dev, &cfg, &r->net.ops, &r->flash.ops, otk_posix_crypto(),
                                  &hooks, r->sector),
                     OTK_OK);
    r->img_size = IMG_SIZE;
    r->img = malloc(IMG_SIZE);
    assert_int_equal(otk_imagegen(p, "test", "2.0.0", IMG_SIZE, 7, r->img, IMG_SIZE), IMG_SIZE);
    md5_hex(r->img, IMG_SIZE, r->md5);
    r->host = fakenet_addr("127.0.0.1", 40000);
    r->now = 1000;
    return r;
}

static void
rig_free(struct rig *r)
{
    ramflash_free(&r->flash);
    free(r->img);
    free(r);
}

static void
send_dgram(struct rig *r, const struct otk_addr *from, const char *text)
{
    otk_dev_on_datagram(&r->dev, from, (const uint8_t *)text, strlen(text), r->now);
}

static void
invite(struct rig *r, uint32_t cmd, uint32_t size, const char *md5)
{
    char buf[100];

    otk_proto_format_invite(buf, sizeof buf, cmd, 48266, size, md5);
    send_dgram(r, &r->host, buf);
}

static void
answer_challenge(struct rig *r, enum otk_auth_variant v, const char *password)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    const char *dg = fakenet_last_dgram(&r->net);
    size_t hl = otk_auth_hex_len(v);
    char secret[65], resp[65], cnonce[65], buf[200];

    assert_true(strncmp(dg, "AUTH ", 5) == 0);
    assert_int_equal(strlen(dg + 5), hl);
    memset(cnonce, 'c', hl);
    cnonce[hl] = '\0';
    size_t sl = otk_proto_password_secret(c, v, password, strlen(password), secret);
    assert_int_equal(otk_proto_auth_response(c, v, secret, sl, dg + 5, hl, cnonce, hl, resp),
                     OTK_OK);
    otk_proto_format_auth(buf, sizeof buf, cnonce, resp, hl);
    send_dgram(r, &r->host, buf);
}

/* Connect, then stream the image in pieces of `chunk` bytes, 1 ms apart. */
static void
stream(struct rig *r, const uint8_t *data, uint32_t len, uint32_t chunk)
{
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    for (uint32_t off = 0; off < len && otk_dev_wants_data(&r->dev); off += chunk) {
        uint32_t n = len - off < chunk ? len - off : chunk;
        r->now += 1;
        assert_int_equal(otk_dev_on_tcp_data(&r->dev, data + off, n, r->now), n);
    }
}

static void
run_ticks(struct rig *r, uint32_t until)
{
    uint32_t at;

    while (otk_dev_next_deadline(&r->dev, &at) && (int32_t)(at - until) <= 0) {
        r->now = at;
        otk_dev_tick(&r->dev, r->now);
    }
    r->now = until;
}

static int
boot_slot(struct rig *r)
{
    struct otk_slots_status st;
    assert_int_equal(otk_slots_read(&r->flash.ops, &r->dev.cfg.layout, &st), OTK_OK);
    return st.boot_slot;
}

static void
esp32_no_password_update(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.connects, 1);
    assert_int_equal(r->net.connect_to.port, 48266);
    assert_memory_equal(r->net.connect_to.ip, r->host.ip, 4);
    assert_int_equal(r->events[OTK_EV_START], 1);
    stream(r, r->img, r->img_size, 1460);
    /* acks are the byte counts, concatenated; "OK" last */
    size_t tl = strlen(r->net.tcp);
    assert_true(tl > 2);
    assert_string_equal(r->net.tcp + tl - 2, "OK");
    assert_true(strncmp(r->net.tcp, "14601460", 8) == 0);
    assert_int_equal(r->events[OTK_EV_END], 1);
    assert_int_equal(r->reboots, 0);
    run_ticks(r, r->now + 200);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(boot_slot(r), 1);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

static void
authenticated_update(enum otk_profile p, enum otk_auth_variant v)
{
    struct rig *r = rig_new(p, v, "OTAPASSWORD");

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    answer_challenge(r, v, "OTAPASSWORD");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    if (p == OTK_PROFILE_ESP8266) {
        /* the ESP8266 core pauses 100 ms between the UDP "OK" and its connection */
        assert_int_equal(r->net.connects, 0);
        run_ticks(r, r->now + 100);
    }
    assert_int_equal(r->net.connects, 1);
    stream(r, r->img, r->img_size, 1000);
    run_ticks(r, r->now + 3000);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(r->events[OTK_EV_ERROR], 0);
    assert_int_equal(boot_slot(r), 1);
    rig_free(r);
}

static void
auth_md5_esp32(void **state)
{
    (void)state;
    authenticated_update(OTK_PROFILE_ESP32, OTK_AUTH_MD5);
}

static void
auth_pbkdf2_esp32(void **state)
{
    (void)state;
    authenticated_update(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2);
}

static void
auth_md5_esp8266(void **state)
{
    (void)state;
    authenticated_update(OTK_PROFILE_ESP8266, OTK_AUTH_MD5);
}

static void
wrong_password_touches_nothing(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, "OTAPASSWORD");

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    answer_challenge(r, OTK_AUTH_PBKDF2, "wrong");
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(r->flash.mutations, 0);
    assert_int_equal(r->events[OTK_EV_START], 0);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_AUTH_ERROR);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

static void
replayed_answer_refused(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    const struct otk_crypto_ops *c = otk_posix_crypto();
    char secret[65], resp[65], answer[200], nonce1[65];
    const char *cn = "cccccccccccccccccccccccccccccccc";

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(nonce1, sizeof nonce1, "%s", fakenet_last_dgram(&r->net) + 5);
    otk_proto_password_secret(c, OTK_AUTH_MD5, "pw", 2, secret);
    otk_proto_auth_response(c, OTK_AUTH_MD5, secret, 32, nonce1, 32, cn, 32, resp);
    otk_proto_format_auth(answer, sizeof answer, cn, resp, 32);
    /* the host vanishes; 10 s later the device gives up waiting */
    run_ticks(r, r->now + 10001);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    /* a new session gets a fresh nonce; the captured answer to the old one fails */
    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_not_equal(fakenet_last_dgram(&r->net) + 5, nonce1);
    send_dgram(r, &r->host, answer);
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

static void
repeated_invitation_same_challenge(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    char first[100];
    struct otk_addr other_port = r->host;

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(first, sizeof first, "%s", fakenet_last_dgram(&r->net));
    /* espota retries from a new socket: same host, new source port */
    other_port.port = 40001;
    r->host = other_port;
    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), first);
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 40001);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    rig_free(r);
}

static void
too_big_refused_over_udp(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, 0x140000 + 1, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[5]: Bad Size Given\n");
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_BEGIN_ERROR);
    rig_free(r);
    r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    invite(r, OTK_CMD_FLASH, 0xF0000 + 1, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[4]: Not Enough Space\n");
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

static void
expect_tcp_error(enum otk_profile p, const uint8_t *img, uint32_t size, const char *md5,
                 const char *expect)
{
    struct rig *r = rig_new(p, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, size, md5 ? md5 : r->md5);
    run_ticks(r, r->now + 100);
    stream(r, img ? img : r->img, size, 1460);
    assert_non_null(strstr(r->net.tcp, expect));
    assert_null(strstr(r->net.tcp, "OK"));
    assert_true(r->net.closes >= 1);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_END_ERROR);
    assert_int_equal(boot_slot(r), 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

static void
md5_mismatch(void **state)
{
    (void)state;
    expect_tcp_error(OTK_PROFILE_ESP32, NULL, IMG_SIZE, "00000000000000000000000000000000",
                     "MD5 Check Failed\r\n");
    expect_tcp_error(OTK_PROFILE_ESP8266, NULL, IMG_SIZE, "00000000000000000000000000000000",
                     "ERROR[7]: MD5 verification failed: expected: "
                     "00000000000000000000000000000000, calculated: ");
}

static void
wrong_magic(void **state)
{
    (void)state;
    uint8_t *junk = calloc(1, 8192);
    char md5[33];

    md5_hex(junk, 8192, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, junk, 8192, md5, "Wrong Magic Byte\r\n");
    expect_tcp_error(OTK_PROFILE_ESP8266, junk, 8192, md5, "ERROR[10]: Magic byte is not 0xE9\n");
    free(junk);
}

static void
broken_checksum_and_other_chip(void **state)
{
    (void)state;
    uint8_t *img = malloc(IMG_SIZE);
    char md5[33];

    /* a flipped byte in a segment with a matching MD5: only the image check can catch it */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    img[IMG_SIZE / 2] ^= 0x40;
    md5_hex(img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, img, IMG_SIZE, md5, "Could Not Activate The Firmware\r\n");
    /* an ESP8266 build sent to an ESP32 and the other way round */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    md5_hex(img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, img, IMG_SIZE, md5, "Could Not Activate The Firmware\r\n");
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    md5_hex(img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP8266, img, IMG_SIZE, md5, "ERROR[9]: new Flash config wrong");
    free(img);
}

static void
more_than_announced(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, 1000, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 1001, r->now), 1001);
    assert_string_equal(r->net.tcp, "Not Enough Space\r\n");
    assert_int_equal(boot_slot(r), 0);
    rig_free(r);
}

static void
short_reads_ack_what_arrived(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 1, r->now), 1);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img + 1, 2, r->now), 2);
    assert_string_equal(r->net.tcp, "12");
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img + 3, 0, r->now), 0);
    assert_int_equal(otk_upd_progress(&r->dev.upd), 3);
    stream(r, r->img + 3, r->img_size - 3, 977);
    run_ticks(r, r->now + 200);
    assert_int_equal(boot_slot(r), 1);
    rig_free(r);
}

static void
stall_nudges_then_gives_up(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 1460, r->now);
    assert_string_equal(r->net.tcp, "1460");
    run_ticks(r, r->now + 999);
    assert_string_equal(r->net.tcp, "1460");
    run_ticks(r, r->now + 1);
    assert_string_equal(r->net.tcp, "14601460"); /* the first nudge */
    run_ticks(r, r->now + 2000);
    assert_string_equal(r->net.tcp, "1460146014601460"); /* nudges 2 and 3 */
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_RECEIVING);
    run_ticks(r, r->now + 1000);
    assert_string_equal(r->net.tcp, "1460146014601460Stream Read Timeout\r\n");
    assert_int_equal(r->last_error.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(boot_slot(r), 0);
    rig_free(r);
}

static void
no_data_after_connect(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    run_ticks(r, r->now + 1000);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

static void
busy_refuses_second_uploader(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    struct otk_addr intruder = fakenet_addr("127.0.0.9", 5555);
    char buf[100];

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 1460, r->now);
    otk_proto_format_invite(buf, sizeof buf, 0, 1234, 100, r->md5);
    send_dgram(r, &intruder, buf);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 5555);
    stream(r, r->img + 1460, r->img_size - 1460, 1460);
    run_ticks(r, r->now + 200);
    assert_int_equal(boot_slot(r), 1);
    rig_free(r);
}

static void
lost_ok_is_repeated(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(r->net.n_dgrams, 2);
    assert_string_equal(r->net.dgram[1], "OK");
    assert_int_equal(r->net.connects, 1);
    rig_free(r);
}

static void
esp8266_pauses_around_ok(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    uint32_t t_end;

    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    run_ticks(r, r->now + 100);
    stream(r, r->img, r->img_size, 1460);
    t_end = r->now;
    assert_null(strstr(r->net.tcp, "OK"));
    run_ticks(r, t_end + 999);
    assert_null(strstr(r->net.tcp, "OK"));
    run_ticks(r, t_end + 1000);
    assert_non_null(strstr(r->net.tcp, "OK"));
    assert_int_equal(r->net.closes, 0);
    run_ticks(r, t_end + 2000);
    assert_int_equal(r->net.closes, 1);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(boot_slot(r), 1);
    rig_free(r);
}

static void
filesystem_goes_to_spiffs(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    uint8_t fs[5000], back[5000];
    char md5[33];

    for (size_t i = 0; i < sizeof fs; i++)
        fs[i] = (uint8_t)(i * 7);
    md5_hex(fs, sizeof fs, md5);
    invite(r, OTK_CMD_FS, sizeof fs, md5);
    stream(r, fs, sizeof fs, 1460);
    run_ticks(r, r->now + 200);
    assert_int_equal(r->events[OTK_EV_END], 1);
    assert_int_equal(
        r->flash.ops.read(r->flash.ops.user, r->dev.cfg.layout.fs_offset, back, sizeof back),
        OTK_OK);
    assert_memory_equal(fs, back, sizeof fs);
    assert_int_equal(boot_slot(r), 0);
    rig_free(r);
}

static void
malformed_datagrams_ignored(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    const char *junk[] = {"",
                          "hello",
                          "0 1 2",
                          "300 48266 10 d41d8cd98f00b204e9800998ecf8427e",
                          "200 aaaa bbbb",
                          "0 99999 10 d41d8cd98f00b204e9800998ecf8427e"};

    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        send_dgram(r, &r->host, junk[i]);
    assert_int_equal(r->net.n_dgrams, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    /* wrong field lengths in WAIT_AUTH: refused with the same text as a wrong password */
    invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    send_dgram(r, &r->host, "200 abc def\n");
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    rig_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(esp32_no_password_update),
        cmocka_unit_test(auth_md5_esp32),
        cmocka_unit_test(auth_pbkdf2_esp32),
        cmocka_unit_test(auth_md5_esp8266),
        cmocka_unit_test(wrong_password_touches_nothing),
        cmocka_unit_test(replayed_answer_refused),
        cmocka_unit_test(repeated_invitation_same_challenge),
        cmocka_unit_test(too_big_refused_over_udp),
        cmocka_unit_test(md5_mismatch),
        cmocka_unit_test(wrong_magic),
        cmocka_unit_test(broken_checksum_and_other_chip),
        cmocka_unit_test(more_than_announced),
        cmocka_unit_test(short_reads_ack_what_arrived),
        cmocka_unit_test(stall_nudges_then_gives_up),
        cmocka_unit_test(no_data_after_connect),
        cmocka_unit_test(busy_refuses_second_uploader),
        cmocka_unit_test(lost_ok_is_repeated),
        cmocka_unit_test(esp8266_pauses_around_ok),
        cmocka_unit_test(filesystem_goes_to_spiffs),
        cmocka_unit_test(malformed_datagrams_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
