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

#include "helper_rig.h"
#include "otakit/device.h"
#include "otakit/err.h"
#include "otakit/image.h"
#include "otakit/imagegen.h"
#include "otakit/posix.h"
#include "otakit/slots.h"

#define IMG_SIZE RIG_IMG_SIZE

static void
esp32_no_password_update(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.connects, 1);
    assert_int_equal(r->net.connect_to.port, 48266);
    assert_memory_equal(r->net.connect_to.ip, r->host.ip, 4);
    assert_int_equal(r->events[OTK_EV_START], 1);
    rig_stream(r, r->img, r->img_size, 1460);
    /* acks are the byte counts, concatenated; "OK" last */
    size_t tl = strlen(r->net.tcp);
    assert_true(tl > 2);
    assert_string_equal(r->net.tcp + tl - 2, "OK");
    assert_true(strncmp(r->net.tcp, "14601460", 8) == 0);
    assert_int_equal(r->events[OTK_EV_END], 1);
    assert_int_equal(r->reboots, 0);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

static void
authenticated_update(enum otk_profile p, enum otk_auth_variant v)
{
    struct rig *r = rig_new(p, v, "OTAPASSWORD");

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    rig_answer_challenge(r, v, "OTAPASSWORD");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    if (p == OTK_PROFILE_ESP8266) {
        /* the ESP8266 core pauses 100 ms between the UDP "OK" and its connection */
        assert_int_equal(r->net.connects, 0);
        rig_run_ticks(r, r->now + 100);
    }
    assert_int_equal(r->net.connects, 1);
    rig_stream(r, r->img, r->img_size, 1000);
    rig_run_ticks(r, r->now + 3000);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(r->events[OTK_EV_ERROR], 0);
    assert_int_equal(rig_boot_slot(r), 1);
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

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_PBKDF2, "wrong");
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

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(nonce1, sizeof nonce1, "%s", fakenet_last_dgram(&r->net) + 5);
    otk_proto_password_secret(c, OTK_AUTH_MD5, "pw", 2, secret);
    otk_proto_auth_response(c, OTK_AUTH_MD5, secret, 32, nonce1, 32, cn, 32, resp);
    otk_proto_format_auth(answer, sizeof answer, cn, resp, 32);
    /* the host vanishes; 10 s later the device gives up waiting */
    rig_run_ticks(r, r->now + 10001);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    /* a new session gets a fresh nonce; the captured answer to the old one fails */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_not_equal(fakenet_last_dgram(&r->net) + 5, nonce1);
    rig_send_dgram(r, &r->host, answer);
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

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(first, sizeof first, "%s", fakenet_last_dgram(&r->net));
    /* espota retries from a new socket: same host, new source port */
    other_port.port = 40001;
    r->host = other_port;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), first);
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 40001);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    rig_free(r);
}

static void
too_big_refused_over_udp(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, 0x140000 + 1, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[5]: Bad Size Given\n");
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_BEGIN_ERROR);
    rig_free(r);
    r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    rig_invite(r, OTK_CMD_FLASH, 0xF0000 + 1, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[4]: Not Enough Space\n");
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

static void
expect_tcp_error(enum otk_profile p, const uint8_t *img, uint32_t size, const char *md5,
                 const char *expect)
{
    struct rig *r = rig_new(p, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, size, md5 ? md5 : r->md5);
    rig_run_ticks(r, r->now + 100);
    rig_stream(r, img ? img : r->img, size, 1460);
    assert_non_null(strstr(r->net.tcp, expect));
    assert_null(strstr(r->net.tcp, "OK"));
    assert_true(r->net.closes >= 1);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_END_ERROR);
    assert_int_equal(rig_boot_slot(r), 0);
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

    otk_proto_md5_hex(otk_posix_crypto(), junk, 8192, md5);
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
    otk_proto_md5_hex(otk_posix_crypto(), img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, img, IMG_SIZE, md5, "Could Not Activate The Firmware\r\n");
    /* an ESP8266 build sent to an ESP32 and the other way round */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    otk_proto_md5_hex(otk_posix_crypto(), img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, img, IMG_SIZE, md5, "Image For Another Chip\r\n");
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    otk_proto_md5_hex(otk_posix_crypto(), img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP8266, img, IMG_SIZE, md5,
                     "ERROR[23]: Image For Another Chip\n");
    free(img);
}

/* A device of another chip of the ESP32 family (otk_layout.chip): its own images update it,
 * the ESP32's and another chip's are refused by their head as "Image For Another Chip" before
 * anything is erased, and the ESP8266 profile ignores the setting. */
static void
other_chips_of_the_family(void **state)
{
    (void)state;
    static const uint16_t chips[] = {OTK_CHIP_ESP32S2,  OTK_CHIP_ESP32S3, OTK_CHIP_ESP32C2,
                                     OTK_CHIP_ESP32C3,  OTK_CHIP_ESP32C5, OTK_CHIP_ESP32C6,
                                     OTK_CHIP_ESP32C61, OTK_CHIP_ESP32H2, OTK_CHIP_ESP32P4};
    uint8_t *other = malloc(IMG_SIZE);

    assert_non_null(other);
    for (size_t i = 0; i < sizeof chips / sizeof chips[0]; i++) {
        struct rig_opts o;
        struct rig *r;

        rig_opts_default(&o, OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
        o.chip = chips[i];
        r = rig_new_opts(&o);
        assert_int_equal(otk_image_chip(r->img, r->img_size), chips[i]);
        assert_true(rig_upload(r, OTK_CMD_FLASH, r->img, r->img_size, NULL));
        assert_int_equal(rig_boot_slot(r), 1);
        /* the ESP32's image, then the next chip's */
        for (int k = 0; k < 2; k++) {
            int chip = k == 0 ? OTK_CHIP_ESP32 : chips[(i + 1) % (sizeof chips / sizeof chips[0])];
            unsigned long mutations = r->flash.mutations;
            int errors = r->events[OTK_EV_ERROR];

            assert_int_equal(otk_imagegen_chip(chip, "t", "9", IMG_SIZE, 3, other, IMG_SIZE),
                             IMG_SIZE);
            assert_false(rig_upload(r, OTK_CMD_FLASH, other, IMG_SIZE, NULL));
            assert_int_equal(r->events[OTK_EV_ERROR], errors + 1);
            assert_int_equal(r->last_error.reason, OTK_UPD_WRONG_CHIP);
            assert_string_equal(r->last_error_text, "Image For Another Chip");
            assert_non_null(strstr(r->net.tcp, "Image For Another Chip\r\n"));
            assert_int_equal(r->flash.mutations, mutations);
            assert_int_equal(rig_boot_slot(r), 1);
        }
        rig_free(r);
    }
    free(other);
}

static void
more_than_announced(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, 1000, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 1001, r->now), 1001);
    assert_string_equal(r->net.tcp, "Not Enough Space\r\n");
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);
}

static void
short_reads_ack_what_arrived(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 1, r->now), 1);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img + 1, 2, r->now), 2);
    assert_string_equal(r->net.tcp, "12");
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img + 3, 0, r->now), 0);
    assert_int_equal(otk_upd_progress(&r->dev.upd), 3);
    rig_stream(r, r->img + 3, r->img_size - 3, 977);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(rig_boot_slot(r), 1);
    rig_free(r);
}

static void
stall_nudges_then_gives_up(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 1460, r->now);
    assert_string_equal(r->net.tcp, "1460");
    rig_run_ticks(r, r->now + 999);
    assert_string_equal(r->net.tcp, "1460");
    rig_run_ticks(r, r->now + 1);
    assert_string_equal(r->net.tcp, "14601460"); /* the first nudge */
    rig_run_ticks(r, r->now + 2000);
    assert_string_equal(r->net.tcp, "1460146014601460"); /* nudges 2 and 3 */
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_RECEIVING);
    rig_run_ticks(r, r->now + 1000);
    assert_string_equal(r->net.tcp, "1460146014601460Stream Read Timeout\r\n");
    assert_int_equal(r->last_error.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);
}

static void
no_data_after_connect(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    rig_run_ticks(r, r->now + 1000);
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

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 1460, r->now);
    otk_proto_format_invite(buf, sizeof buf, 0, 1234, 100, r->md5);
    rig_send_dgram(r, &intruder, buf);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 5555);
    rig_stream(r, r->img + 1460, r->img_size - 1460, 1460);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(rig_boot_slot(r), 1);
    rig_free(r);
}

static void
lost_ok_is_repeated(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
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

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_run_ticks(r, r->now + 100);
    rig_stream(r, r->img, r->img_size, 1460);
    t_end = r->now;
    assert_null(strstr(r->net.tcp, "OK"));
    rig_run_ticks(r, t_end + 999);
    assert_null(strstr(r->net.tcp, "OK"));
    rig_run_ticks(r, t_end + 1000);
    assert_non_null(strstr(r->net.tcp, "OK"));
    assert_int_equal(r->net.closes, 0);
    rig_run_ticks(r, t_end + 2000);
    assert_int_equal(r->net.closes, 1);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
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
    otk_proto_md5_hex(otk_posix_crypto(), fs, sizeof fs, md5);
    rig_invite(r, OTK_CMD_FS, sizeof fs, md5);
    rig_stream(r, fs, sizeof fs, 1460);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(r->events[OTK_EV_END], 1);
    assert_int_equal(
        r->flash.ops.read(r->flash.ops.user, r->dev.cfg.layout.fs_offset, back, sizeof back),
        OTK_OK);
    assert_memory_equal(fs, back, sizeof fs);
    assert_int_equal(rig_boot_slot(r), 0);
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
        rig_send_dgram(r, &r->host, junk[i]);
    assert_int_equal(r->net.n_dgrams, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    /* wrong field lengths in WAIT_AUTH: refused with the same text as a wrong password */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_send_dgram(r, &r->host, "200 abc def\n");
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    rig_free(r);
}

/* ---- brute-force throttle ---- */

#define WRONG_ANSWER "200 cccccccccccccccccccccccccccccccc 00000000000000000000000000000000\n"

/* One wrong guess from `from`: an invitation, and if it gets a challenge, a wrong answer of the
 * right length (so the device computes and compares the digest). @return whether the
 * invitation was heard. */
static bool
guess(struct rig *r, const struct otk_addr *from)
{
    char buf[100];

    r->net.n_dgrams = 0;
    otk_proto_format_invite(buf, sizeof buf, OTK_CMD_FLASH, 48266, r->img_size, r->md5);
    rig_send_dgram(r, from, buf);
    if (r->net.n_dgrams == 0)
        return false;
    assert_true(strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) == 0);
    rig_send_dgram(r, from, WRONG_ANSWER);
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    return true;
}

static void
throttle_delays_grow(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    /* the wait imposed after the n-th consecutive failure */
    static const uint32_t delay[] = {0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    uint32_t t;

    for (size_t n = 0; n < sizeof delay / sizeof delay[0]; n++) {
        assert_true(guess(r, &r->host));
        t = r->now;
        if (delay[n] > 0) {
            r->now = t + delay[n] - 1;
            assert_false(guess(r, &r->host)); /* ignored: no reply at all */
            assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
        }
        r->now = t + delay[n];
    }
    assert_int_equal(r->events[OTK_EV_ERROR], (int)(sizeof delay / sizeof delay[0]));
    assert_int_equal(r->events[OTK_EV_START], 0);
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

static void
throttle_per_source_reset_on_success(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr a = fakenet_addr("192.168.1.20", 40000);
    struct otk_addr b = fakenet_addr("192.168.1.21", 40000);

    assert_true(guess(r, &a)); /* first failure: no delay */
    assert_true(guess(r, &a)); /* second: 1 s */
    r->now += 1000;
    assert_true(guess(r, &a)); /* third: 2 s */
    r->now += 1999;
    assert_false(guess(r, &a));
    /* another source is not held by a's failures, nor is a's port part of the key */
    assert_true(guess(r, &b));
    a.port = 50000;
    assert_false(guess(r, &a));
    /* a's delay over, the right password: the update starts and a's record is cleared */
    r->now += 1;
    r->host = a;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    otk_dev_on_tcp_closed(&r->dev, r->now); /* the uploader gives up: back to idle */
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_true(guess(r, &a)); /* first failure again: no delay */
    assert_true(guess(r, &a)); /* second: 1 s from now on */
    assert_false(guess(r, &a));
    /* b still has its one failure: its second costs it the first delay */
    assert_true(guess(r, &b));
    assert_false(guess(r, &b));
    rig_free(r);
}

/* More addresses than the table holds: the evicted ones share one entry, so the guess rate
 * stays bounded (table size + 1 guesses per 30 s once the delays are at their cap). */
static void
throttle_many_sources_bounded(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr src[8];
    char ip[20];
    unsigned guesses = 0, late = 0;
    const uint32_t t0 = r->now;

    for (int i = 0; i < 8; i++) {
        snprintf(ip, sizeof ip, "10.0.0.%d", i + 1);
        src[i] = fakenet_addr(ip, 30000);
    }
    /* 8 addresses, each retrying every 100 ms, for 10 minutes (virtual) */
    for (uint32_t step = 0; step < 6000; step++) {
        r->now = t0 + step * 100;
        for (int i = 0; i < 8; i++) {
            if (guess(r, &src[i])) {
                guesses++;
                if (step >= 3000)
                    late++;
            }
        }
    }
    /* unthrottled this would be 48000 guesses. In the last 5 minutes: at most 5 per 30 s. */
    print_message("8 sources, 10 min: %u guesses, %u in the last 5 min\n", guesses, late);
    assert_true(late <= (OTK_DEV_THROTTLE_SLOTS + 1) * (300 / 30) + 1);
    assert_true(guesses < 120);
    assert_int_equal(r->flash.mutations, 0);
    /* a source the table never saw waits like the others while the attack goes on */
    r->now += 1;
    assert_false(guess(r, &r->host));
    rig_free(r);
}

/* docs/SECURITY.md's figures for 64 addresses, each retrying every 200 ms: the delays start
 * short, so the first 30 s let 25 wrong guesses through; once they reached their cap, at most
 * 5 in any 30 s. */
static void
throttle_64_sources_per_window(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr src[64];
    unsigned window[10] = {0};
    char ip[20];
    const uint32_t t0 = r->now;

    for (int i = 0; i < 64; i++) {
        snprintf(ip, sizeof ip, "10.0.%d.%d", i / 200, i % 200 + 1);
        src[i] = fakenet_addr(ip, 30000);
    }
    for (uint32_t t = 0; t < 300000; t += 200) {
        r->now = t0 + t;
        for (int i = 0; i < 64; i++)
            if (guess(r, &src[i]))
                window[t / 30000]++;
    }
    print_message("64 sources, wrong guesses per 30 s: %u %u %u %u %u %u %u %u %u %u\n", window[0],
                  window[1], window[2], window[3], window[4], window[5], window[6], window[7],
                  window[8], window[9]);
    assert_true(window[0] <= 25);
    for (int w = 2; w < 10; w++)
        assert_true(window[w] <= OTK_DEV_THROTTLE_SLOTS + 1);
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

static void
throttle_across_clock_wrap(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, "pw");

    r->now = UINT32_MAX - 500; /* the 32-bit millisecond clock wraps during the delay */
    assert_true(guess(r, &r->host));
    assert_true(guess(r, &r->host));
    r->now += 999;
    assert_false(guess(r, &r->host));
    r->now += 1;
    assert_true(guess(r, &r->host)); /* third failure, at 499 after the wrap: 2 s */
    /* a record far in the past does not come back when the clock wraps to near it */
    r->now += 0x80000000u;
    assert_true(guess(r, &r->host));
    rig_free(r);
}

static void
throttle_without_password_never_applies(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);

    for (int i = 0; i < 5; i++) {
        r->net.n_dgrams = 0;
        rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
        assert_string_equal(fakenet_last_dgram(&r->net), "OK");
        otk_dev_on_tcp_closed(&r->dev, r->now);
        assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    }
    rig_free(r);
}

/* ---- malformed and hostile input (docs/MALFORMED.md lists these rows) ---- */

/* Invitations that do not parse are ignored: no reply, no state change, no flash operation. */
static void
malformed_invitations_ignored(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    const char *bad[] = {
        "0 48266 100 d41d8cd98f00b204e9800998ecf8427",         /* MD5 of 31 hex digits */
        "0 48266 100 d41d8cd98f00b204e9800998ecf8427ee",       /* 33 */
        "0 48266 100 g41d8cd98f00b204e9800998ecf8427e",        /* not hex */
        "0 48266 100 d41d8cd98f00b204 9800998ecf8427e00",      /* space inside the MD5 */
        "0 0 100 d41d8cd98f00b204e9800998ecf8427e",            /* port 0 */
        "0 48266 4294967296 d41d8cd98f00b204e9800998ecf8427e", /* size does not fit 32 bits */
        "0 48266 -1 d41d8cd98f00b204e9800998ecf8427e",         /* negative size */
        "0 48266",                                             /* fields missing */
        "0 48266 100",
        "0 48266 100 ",
    };
    char *big = malloc(65507);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        rig_send_dgram(r, &r->host, bad[i]);
    /* the largest UDP payload: digits (a number too long) and letters */
    memset(big, '7', 65507);
    otk_dev_on_datagram(&r->dev, &r->host, (const uint8_t *)big, 65507, r->now);
    memset(big, 'A', 65507);
    otk_dev_on_datagram(&r->dev, &r->host, (const uint8_t *)big, 65507, r->now);
    /* NUL bytes before the MD5 */
    otk_dev_on_datagram(&r->dev, &r->host, (const uint8_t *)"0\0 48266 100", 12, r->now);
    assert_int_equal(r->net.n_dgrams, 0);
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(r->flash.mutations, 0);
    assert_int_equal(r->events[OTK_EV_ERROR], 0);
    /* an oversized datagram whose first line is a valid invitation: the device reads that line
     * and ignores the rest, as the cores do */
    snprintf(big, 65507, "0 48266 %u %s\n", (unsigned)r->img_size, r->md5);
    memset(big + strlen(big), 'x', 65507 - strlen(big));
    otk_dev_on_datagram(&r->dev, &r->host, (const uint8_t *)big, 65507, r->now);
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    free(big);
    rig_free(r);
}

/* Sizes the device cannot take are refused over UDP before anything is erased. */
static void
bad_sizes_refused(void **state)
{
    (void)state;
    static const struct {
        enum otk_profile p;
        uint32_t cmd, size;
        const char *reply;
    } rows[] = {
        {OTK_PROFILE_ESP32, OTK_CMD_FLASH, 0, "ERR: ERROR[5]: Bad Size Given\n"},
        {OTK_PROFILE_ESP8266, OTK_CMD_FLASH, 0, "ERR: ERROR[5]: Bad Size Given\n"},
        {OTK_PROFILE_ESP32, OTK_CMD_FS, 0x160000 + 1, "ERR: ERROR[5]: Bad Size Given\n"},
        {OTK_PROFILE_ESP8266, OTK_CMD_FS, 0x1FA000 + 1, "ERR: ERROR[4]: Not Enough Space\n"},
        {OTK_PROFILE_ESP32, OTK_CMD_FLASH, UINT32_MAX, "ERR: ERROR[5]: Bad Size Given\n"},
    };

    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct rig *r = rig_new(rows[i].p, OTK_AUTH_MD5, NULL);

        rig_invite(r, rows[i].cmd, rows[i].size, r->md5);
        assert_string_equal(fakenet_last_dgram(&r->net), rows[i].reply);
        assert_int_equal(r->net.connects, 0);
        assert_int_equal(r->last_error.ota_error, OTK_OTA_BEGIN_ERROR);
        assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
        assert_int_equal(r->flash.mutations, 0);
        rig_free(r);
    }
}

/* Answers to a challenge that are not right in form or in origin. */
static void
malformed_auth_answers(void **state)
{
    (void)state;
    const char *bad[] = {
        "200",                                  /* no fields */
        "200 cccccccccccccccccccccccccccccccc", /* no response */
        "200 abc def\n",                        /* fields too short */
        "200 cccccccccccccccccccccccccccccccc " /* fields too long */
        "000000000000000000000000000000000\n",
        "200 cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc "
        "0000000000000000000000000000000000000000000000000000000000000000\n",      /* 64 hex */
        "200 cccccccccccccccccccccccccccccccc 0000000000000000000000000000000z\n", /* not hex */
    };
    struct otk_addr other = fakenet_addr("127.0.0.2", 40000);
    struct rig *r;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
        rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
        rig_send_dgram(r, &r->host, bad[i]);
        assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
        assert_int_equal(r->last_error.ota_error, OTK_OTA_AUTH_ERROR);
        assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
        assert_int_equal(r->flash.mutations, 0);
        rig_free(r);
    }
    /* an old host's 32-hex answer to a PBKDF2 device's 64-hex challenge */
    r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, "pw");
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_send_dgram(r, &r->host, WRONG_ANSWER);
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    rig_free(r);
    /* while a challenge is pending: another address's answer is not heard (it was not
     * challenged), nor its invitation during the grace; junk from the challenged host is
     * ignored; the right answer still works */
    r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    r->net.n_dgrams = 0;
    rig_send_dgram(r, &other, WRONG_ANSWER);
    rig_send_dgram(r, &other, "0 1234 100 d41d8cd98f00b204e9800998ecf8427e");
    rig_send_dgram(r, &r->host, "hello");
    assert_int_equal(r->net.n_dgrams, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    /* (send the invitation again, which repeats the same challenge) */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    rig_free(r);
}

/* Invitations while an update runs: only a repeat of the served one, before data, gets "OK". */
static void
invitations_during_update(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    char buf[100];

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_CONNECT_WAIT);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5); /* our "OK" was lost: repeated */
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    /* the same host, another invitation: busy */
    otk_proto_format_invite(buf, sizeof buf, OTK_CMD_FS, 48266, 1000, r->md5);
    rig_send_dgram(r, &r->host, buf);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    rig_run_ticks(r, r->now + 100);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 1460, r->now);
    /* once data moved, even the same invitation from the same host is refused */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    rig_stream(r, r->img + 1460, r->img_size - 1460, 1460);
    rig_run_ticks(r, r->now + 3000);
    assert_int_equal(r->events[OTK_EV_END], 1);
    assert_int_equal(rig_boot_slot(r), 1);
    rig_free(r);
}

/* The data phase: bytes in the wrong place or the wrong number of them. */
static void
tcp_data_edge_cases(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);

    /* more bytes than announced, ESP8266 form */
    rig_invite(r, OTK_CMD_FLASH, 1000, r->md5);
    rig_run_ticks(r, r->now + 100);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 1001, r->now), 1001);
    assert_string_equal(r->net.tcp, "ERROR[4]: Not Enough Space\n");
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);

    /* data nobody asked for (idle, or before the connection) is dropped */
    r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 100, r->now), 100);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(otk_dev_on_tcp_data(&r->dev, r->img, 100, r->now), 100);
    assert_int_equal(r->net.tcp_len, 0);
    assert_int_equal(r->flash.mutations, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_CONNECTING);
    /* the host closes after part of the image: aborted, nothing said, old slot kept */
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    otk_dev_on_tcp_data(&r->dev, r->img, 8192, r->now);
    otk_dev_on_tcp_closed(&r->dev, r->now);
    assert_string_equal(r->net.tcp, "8192");
    assert_int_equal(r->last_error.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_int_equal(r->last_error.reason, OTK_UPD_ABORTED);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);

    /* connected, then silence: no nudge before the first byte, then the timeout text */
    r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    rig_run_ticks(r, r->now + 1000);
    assert_string_equal(r->net.tcp, "Stream Read Timeout\r\n");
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);

    /* the connect-back is refused: no text (there is no connection), back to idle */
    r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    r->net.connect_fails = true;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_CONNECT_ERROR);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(r->net.tcp_len, 0);
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

/* A valid image cut short, announced at its cut length with the matching MD5: only the image
 * check can tell, and the slot stays as it was. */
static void
truncated_image_refused(void **state)
{
    (void)state;
    uint8_t *img = malloc(IMG_SIZE);
    const uint32_t cut = IMG_SIZE / 2;
    char md5[33];

    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    otk_proto_md5_hex(otk_posix_crypto(), img, cut, md5);
    expect_tcp_error(OTK_PROFILE_ESP32, img, cut, md5, "Could Not Activate The Firmware\r\n");
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    otk_proto_md5_hex(otk_posix_crypto(), img, cut, md5);
    expect_tcp_error(OTK_PROFILE_ESP8266, img, cut, md5, "ERROR[17]: Image verification failed\n");
    /* an ESP8266 build for a bigger flash (its header says 8 MB): the whole text, with the
     * chip's real size */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP8266, "t", "9", IMG_SIZE, 3, img, IMG_SIZE),
                     IMG_SIZE);
    img[3] = 0x80;
    otk_proto_md5_hex(otk_posix_crypto(), img, IMG_SIZE, md5);
    expect_tcp_error(OTK_PROFILE_ESP8266, img, IMG_SIZE, md5,
                     "ERROR[9]: new Flash config wrong, real size: 4194304\n");
    free(img);
}

/* ---- hostile peers: a challenge binds its address, its invitation and its nonce ---- */

#define EVIL_MD5 "0123456789abcdef0123456789abcdef"

static void
invite_from(struct rig *r, const struct otk_addr *from, uint16_t port, uint32_t size,
            const char *md5)
{
    char buf[100];

    otk_proto_format_invite(buf, sizeof buf, OTK_CMD_FLASH, port, size, md5);
    rig_send_dgram(r, from, buf);
}

/* The right answer (password "pw") to the challenge `auth` ("AUTH <nonce>"), into out. */
static void
answer_for(struct rig *r, const char *auth, char *out, size_t cap)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    size_t hl = otk_auth_hex_len(r->dev.cfg.auth);
    char secret[65], resp[65], cnonce[65];

    assert_true(strncmp(auth, "AUTH ", 5) == 0);
    memset(cnonce, 'c', hl);
    cnonce[hl] = '\0';
    otk_proto_password_secret(c, r->dev.cfg.auth, "pw", 2, secret);
    assert_int_equal(
        otk_proto_auth_response(c, r->dev.cfg.auth, secret, hl, auth + 5, hl, cnonce, hl, resp),
        OTK_OK);
    otk_proto_format_auth(out, cap, cnonce, resp, hl);
}

/* The update under way is the legitimate one (r->host, TCP port 48266, r->img): it streams,
 * the device reboots after `settle` ms, and the new image is the one otadata boots. */
static void
legit_update_boots(struct rig *r, uint32_t settle)
{
    assert_int_equal(r->net.connect_to.port, 48266);
    assert_memory_equal(r->net.connect_to.ip, r->host.ip, 4);
    assert_int_equal(r->dev.invite.size, r->img_size);
    assert_string_equal(r->dev.invite.md5, r->md5);
    rig_stream(r, r->img, r->img_size, 1460);
    rig_run_ticks(r, r->now + settle);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
}

/* The race of the issue: while the legitimate host is challenged, a process sharing its IP
 * address keeps inviting with its own TCP port and image. It is not heard; the legitimate
 * host's answer starts the legitimate update, which connects to the legitimate port and
 * boots. */
static void
hijack_race_refused(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr attacker = r->host;
    char first[100];

    attacker.port = 40001;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(first, sizeof first, "%s", fakenet_last_dgram(&r->net));
    for (int i = 0; i < 19; i++) {
        r->net.n_dgrams = 0;
        invite_from(r, &attacker, (uint16_t)(5555 + i), 1000 + (uint32_t)i, EVIL_MD5);
        assert_int_equal(r->net.n_dgrams, 0);
        assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
        r->now += 100;
    }
    /* the legitimate host's retransmission still gets its own challenge */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), first);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.connects, 1);
    legit_update_boots(r, 200);
    rig_free(r);
}

/* The same race with the attacker first: it holds a challenge of its own, which the legitimate
 * host's retransmission takes over after the grace, with a fresh nonce sent to the legitimate
 * host only. */
static void
hijack_race_attacker_first(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr attacker = r->host;
    char theirs[100];
    uint32_t t0 = r->now;

    attacker.port = 40001;
    invite_from(r, &attacker, 5555, 1000, EVIL_MD5);
    snprintf(theirs, sizeof theirs, "%s", fakenet_last_dgram(&r->net));
    for (uint32_t t = 0; t <= 2000; t += 100) {
        r->now = t0 + t;
        r->net.n_dgrams = 0;
        invite_from(r, &attacker, 5555, 1000, EVIL_MD5); /* its own, repeated */
        assert_string_equal(fakenet_last_dgram(&r->net), theirs);
        if (t % 500 == 0) { /* the legitimate host retransmits */
            r->net.n_dgrams = 0;
            rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
            assert_int_equal(r->net.n_dgrams, t < 2000 ? 0 : 1);
        }
    }
    assert_true(strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) == 0);
    assert_string_not_equal(fakenet_last_dgram(&r->net), theirs);
    assert_int_equal(r->net.dgram_to[0].port, r->host.port);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.connect_to.port, 48266);
    assert_string_equal(r->dev.invite.md5, r->md5);
    rig_free(r);
}

/* Past the grace the same address may take the unanswered challenge over, but only with a
 * fresh nonce sent to itself: the legitimate answer, late, cannot start the other update. */
static void
takeover_gets_fresh_nonce(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr attacker = r->host;
    char legit_answer[200], first[100];

    attacker.port = 40001;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(first, sizeof first, "%s", fakenet_last_dgram(&r->net));
    answer_for(r, first, legit_answer, sizeof legit_answer);
    r->now += 2000;
    invite_from(r, &attacker, 5555, 1000, EVIL_MD5);
    assert_true(strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) == 0);
    assert_string_not_equal(fakenet_last_dgram(&r->net), first);
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 40001);
    rig_send_dgram(r, &r->host, legit_answer);
    assert_string_equal(fakenet_last_dgram(&r->net), "Authentication Failed");
    assert_int_equal(r->net.connects, 0);
    assert_int_equal(r->events[OTK_EV_START], 0);
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

/* The newest espota answers from a new socket: the answer counts from any port of the
 * challenged address; "OK" goes to that port, the connection to the invitation's TCP port. */
static void
answer_from_another_port(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, "pw");
    struct otk_addr answerer = r->host;

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    answerer.port = 40002;
    r->host = answerer;
    rig_answer_challenge(r, OTK_AUTH_PBKDF2, "pw");
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].port, 40002);
    assert_int_equal(r->net.connect_to.port, 48266);
    rig_free(r);
}

/* Repeating an invitation gets the same nonce but does not extend the challenge. */
static void
repeats_do_not_extend_challenge(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    const uint32_t t0 = r->now;
    char first[100];

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(first, sizeof first, "%s", fakenet_last_dgram(&r->net));
    for (uint32_t t = 1000; t < 10000; t += 1000) {
        rig_run_ticks(r, t0 + t);
        rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
        assert_string_equal(fakenet_last_dgram(&r->net), first);
    }
    rig_run_ticks(r, t0 + 10000);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    rig_free(r);
}

/* A challenge nobody answers counts against its address like a wrong answer. */
static void
abandoned_challenge_throttles_sender(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr squatter = fakenet_addr("10.0.0.9", 30000);

    static const uint32_t delay[] = {0, 1000, 2000, 4000}; /* after failures 1..4 */
    char challenge[100], answer[200];

    for (int i = 0; i < 4; i++) {
        r->net.n_dgrams = 0;
        invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
        assert_true(strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) == 0);
        rig_run_ticks(r, r->now + 10000); /* expires: a failure */
        assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
        if (delay[i] > 0) { /* it waits, as after a wrong answer; nobody else does */
            r->net.n_dgrams = 0;
            invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
            assert_int_equal(r->net.n_dgrams, 0);
            if (i < 3)
                r->now += delay[i];
        }
    }
    /* four failures: 4 s of silence. The legitimate host is challenged; past the grace, the
     * squatter, still waiting, cannot take that challenge over */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    snprintf(challenge, sizeof challenge, "%s", fakenet_last_dgram(&r->net));
    answer_for(r, challenge, answer, sizeof answer);
    r->now += 2500;
    r->net.n_dgrams = 0;
    invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
    assert_int_equal(r->net.n_dgrams, 0);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_WAIT_AUTH);
    rig_send_dgram(r, &r->host, answer);
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    rig_free(r);
}

/* A foreign address's unanswered challenge holds the device for the grace only: another
 * address's invitation is not heard before it, and takes over after it, with its own nonce;
 * the squatter's answer is then not heard, and its abandoned challenge counts against it. */
static void
another_address_gets_in_after_grace(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr squatter = fakenet_addr("10.0.0.9", 30000);
    char squat[100], squat_answer[200], legit_answer[200];
    const uint32_t t0 = r->now;

    invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
    snprintf(squat, sizeof squat, "%s", fakenet_last_dgram(&r->net));
    answer_for(r, squat, squat_answer, sizeof squat_answer); /* as if it knew the password */
    for (uint32_t t = 0; t < 2000; t += 500) {
        r->now = t0 + t + 499;
        r->net.n_dgrams = 0;
        rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
        assert_int_equal(r->net.n_dgrams, 0);
    }
    r->now = t0 + 2000;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_true(strncmp(fakenet_last_dgram(&r->net), "AUTH ", 5) == 0);
    assert_string_not_equal(fakenet_last_dgram(&r->net), squat);
    assert_int_equal(r->net.dgram_to[r->net.n_dgrams - 1].ip[0], 127);
    answer_for(r, fakenet_last_dgram(&r->net), legit_answer, sizeof legit_answer);
    r->net.n_dgrams = 0;
    rig_send_dgram(r, &squatter, squat_answer); /* its nonce is gone, and it is not challenged */
    assert_int_equal(r->net.n_dgrams, 0);
    rig_send_dgram(r, &r->host, legit_answer);
    assert_string_equal(fakenet_last_dgram(&r->net), "OK");
    assert_int_equal(r->net.connect_to.port, 48266);
    assert_memory_equal(r->net.connect_to.ip, r->host.ip, 4);
    otk_dev_on_tcp_closed(&r->dev, r->now); /* (the uploader leaves: idle again) */
    /* the squatter has one failure (the takeover); a second (expiry) makes it wait */
    invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
    rig_run_ticks(r, r->now + 10000);
    r->net.n_dgrams = 0;
    invite_from(r, &squatter, 5555, 1000, EVIL_MD5);
    assert_int_equal(r->net.n_dgrams, 0);
    rig_free(r);
}

/* A flood of valid invitations from one address (one every millisecond) while the legitimate
 * host retransmits its invitation every 500 ms as otakit upload does: it gets in after the
 * grace, and the flood only ever meets "busy" or silence. */
static void
flood_does_not_lock_out(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr flooder = fakenet_addr("10.0.0.9", 30000);
    const uint32_t t0 = r->now;
    uint32_t got_in = 0;

    for (uint32_t t = 0; t < 20000 && !got_in; t++) {
        r->now = t0 + t;
        rig_run_ticks(r, r->now);
        invite_from(r, &flooder, 5555, 1000, EVIL_MD5);
        if (t % 500 == 250) {
            r->net.n_dgrams = 0;
            rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
            if (r->net.n_dgrams > 0 && r->net.dgram_to[0].ip[0] == 127) {
                assert_true(strncmp(r->net.dgram[0], "AUTH ", 5) == 0);
                r->host.port = 40000;
                rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
                got_in = t;
            }
        }
    }
    print_message("flood: the legitimate host got in after %u ms\n", (unsigned)got_in);
    assert_true(got_in > 0 && got_in <= 2750);
    r->net.n_dgrams = 0;
    invite_from(r, &flooder, 5555, 1000, EVIL_MD5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    legit_update_boots(r, 200);
    rig_free(r);
}

/* While an update runs, a throttled address and an unknown command get no answer at all;
 * anyone else gets "busy". */
static void
busy_ignores_throttled_and_unknown(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr guesser = fakenet_addr("10.0.0.7", 30000);
    struct otk_addr other = fakenet_addr("10.0.0.8", 30000);

    assert_true(guess(r, &guesser));
    assert_true(guess(r, &guesser)); /* two failures: 1 s of silence */
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_RECEIVING);
    r->net.n_dgrams = 0;
    invite_from(r, &guesser, 5555, 1000, EVIL_MD5);
    rig_send_dgram(r, &other, "300 5555 1000 " EVIL_MD5 "\n");
    assert_int_equal(r->net.n_dgrams, 0);
    invite_from(r, &other, 5555, 1000, EVIL_MD5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    rig_free(r);
}

/* No password: a second uploader on the same machine, starting at the same moment, is told
 * the device is busy; the update under way keeps its parameters and completes. */
static void
second_uploader_does_not_disturb(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP8266, OTK_AUTH_MD5, NULL);
    struct otk_addr other = r->host;

    other.port = 40001;
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_CONNECT_WAIT);
    invite_from(r, &other, 5555, 1000, EVIL_MD5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    rig_run_ticks(r, r->now + 100);
    invite_from(r, &other, 5555, 1000, EVIL_MD5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    assert_int_equal(r->net.connects, 1);
    legit_update_boots(r, 3000);
    rig_free(r);
}

/* Any interleaving of invitations (their own, or copies of the legitimate one) and answers
 * from an address sharing the legitimate host's IP and from a foreign address, with the clock
 * jumping across the grace and the expiry: every update that starts is the legitimate one,
 * connects to the legitimate port, and only after the legitimate host answered a challenge it
 * received itself. */
static void
random_interleavings_never_redirect(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
    struct otk_addr legit = r->host, same_ip = r->host, foreign = fakenet_addr("10.0.0.9", 1);
    char legit_inv[100], answer[200] = "";
    unsigned seed = 12345, starts = 0, attacker_dgrams = 0;

    same_ip.port = 40001;
    otk_proto_format_invite(legit_inv, sizeof legit_inv, OTK_CMD_FLASH, 48266, r->img_size, r->md5);
    for (int step = 0; step < 20000; step++) {
        unsigned x = (seed = seed * 1103515245u + 12345u) >> 16;
        const struct otk_addr *who = x & 1 ? &same_ip : &foreign;
        int starts_before = r->events[OTK_EV_START];

        r->net.n_dgrams = 0;
        switch ((x >> 1) % 8) {
        case 0: /* the legitimate host (re)sends its invitation; it answers a later step */
            rig_send_dgram(r, &legit, legit_inv);
            if (r->net.n_dgrams > 0 && strncmp(r->net.dgram[0], "AUTH ", 5) == 0) {
                assert_int_equal(r->net.dgram_to[0].port, legit.port);
                answer_for(r, r->net.dgram[0], answer, sizeof answer);
            }
            break;
        case 7: /* the legitimate host answers the challenge it received, if any */
            if (answer[0])
                rig_send_dgram(r, &legit, answer);
            answer[0] = '\0';
            break;
        case 1: /* a copy of the legitimate invitation */
            rig_send_dgram(r, who, legit_inv);
            attacker_dgrams++;
            break;
        case 2: /* its own invitation */
        case 3:
            invite_from(r, who, (uint16_t)(5000 + (x >> 8) % 3), 1000 + (x >> 10) % 2, EVIL_MD5);
            attacker_dgrams++;
            break;
        case 4: /* a wrong answer */
            rig_send_dgram(r, who, WRONG_ANSWER);
            attacker_dgrams++;
            break;
        case 5: /* time passes: within the grace, across it, across the expiry */
            rig_run_ticks(r, r->now + (x >> 4) % 12000);
            break;
        default: /* the uploader goes away: the update (if any) ends */
            otk_dev_on_tcp_closed(&r->dev, r->now);
            break;
        }
        if (r->events[OTK_EV_START] != starts_before) {
            starts++;
            assert_int_equal(r->dev.invite.size, r->img_size);
            assert_int_equal(r->dev.invite.port, 48266);
            assert_string_equal(r->dev.invite.md5, r->md5);
            assert_int_equal(r->net.connect_to.port, 48266);
            assert_memory_equal(r->net.connect_to.ip, legit.ip, 4);
        }
    }
    print_message("interleavings: %u updates started, all legitimate; %u attacker datagrams\n",
                  starts, attacker_dgrams);
    assert_true(starts > 10);
    assert_int_equal(r->flash.mutations, 0);
    rig_free(r);
}

/* Slowloris: one byte every 0.9 s never meets the idle limit; the progress floor ends it. */
static void
slowloris_ends(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
    const uint32_t t0 = r->now;

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    otk_dev_on_connected(&r->dev, OTK_OK, r->now);
    for (uint32_t i = 0; otk_dev_wants_data(&r->dev) && i < 100; i++) {
        rig_run_ticks(r, r->now + 900);
        otk_dev_on_tcp_data(&r->dev, r->img + i, 1, r->now);
    }
    print_message("slowloris ended after %u ms\n", (unsigned)(r->now - t0));
    assert_true(r->now - t0 <= 8000 + 900 + 900);
    assert_non_null(strstr(r->net.tcp, "Stream Read Timeout\r\n"));
    assert_int_equal(r->last_error.ota_error, OTK_OTA_RECEIVE_ERROR);
    assert_int_equal(r->last_error.reason, OTK_UPD_STREAM);
    assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_free(r);
}

/* A slow but honest host above the floor (2 KB/s against the default 1 KB/s) goes on; the
 * same host is ended when the device asks for 4 KB/s (otk_dev_config.min_rate). */
static void
progress_floor_configurable(void **state)
{
    (void)state;
    for (int strict = 0; strict < 2; strict++) {
        struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, NULL);
        uint32_t off = 0;

        if (strict) {
            r->dev.cfg.min_rate = 4096;
            rig_restart(r, 0);
        }
        rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
        otk_dev_on_connected(&r->dev, OTK_OK, r->now);
        for (int i = 0; i < 40 && otk_dev_wants_data(&r->dev); i++) { /* 20 s */
            otk_dev_on_tcp_data(&r->dev, r->img + off, 1024, r->now);
            off += 1024;
            rig_run_ticks(r, r->now + 500);
        }
        if (strict) {
            assert_int_equal(r->last_error.reason, OTK_UPD_STREAM);
            assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_IDLE);
            assert_int_equal(rig_boot_slot(r), 0);
        } else {
            assert_int_equal(otk_dev_state(&r->dev), OTK_DEV_RECEIVING);
            while (off < r->img_size && otk_dev_wants_data(&r->dev)) {
                uint32_t n = r->img_size - off < 1460 ? r->img_size - off : 1460;

                otk_dev_on_tcp_data(&r->dev, r->img + off, n, r->now);
                off += n;
            }
            rig_run_ticks(r, r->now + 200);
            assert_int_equal(rig_boot_slot(r), 1);
        }
        rig_free(r);
    }
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
        cmocka_unit_test(other_chips_of_the_family),
        cmocka_unit_test(more_than_announced),
        cmocka_unit_test(short_reads_ack_what_arrived),
        cmocka_unit_test(stall_nudges_then_gives_up),
        cmocka_unit_test(no_data_after_connect),
        cmocka_unit_test(busy_refuses_second_uploader),
        cmocka_unit_test(lost_ok_is_repeated),
        cmocka_unit_test(esp8266_pauses_around_ok),
        cmocka_unit_test(filesystem_goes_to_spiffs),
        cmocka_unit_test(malformed_datagrams_ignored),
        cmocka_unit_test(throttle_delays_grow),
        cmocka_unit_test(throttle_per_source_reset_on_success),
        cmocka_unit_test(throttle_many_sources_bounded),
        cmocka_unit_test(throttle_64_sources_per_window),
        cmocka_unit_test(throttle_across_clock_wrap),
        cmocka_unit_test(throttle_without_password_never_applies),
        cmocka_unit_test(malformed_invitations_ignored),
        cmocka_unit_test(bad_sizes_refused),
        cmocka_unit_test(malformed_auth_answers),
        cmocka_unit_test(invitations_during_update),
        cmocka_unit_test(tcp_data_edge_cases),
        cmocka_unit_test(truncated_image_refused),
        cmocka_unit_test(hijack_race_refused),
        cmocka_unit_test(hijack_race_attacker_first),
        cmocka_unit_test(takeover_gets_fresh_nonce),
        cmocka_unit_test(answer_from_another_port),
        cmocka_unit_test(repeats_do_not_extend_challenge),
        cmocka_unit_test(abandoned_challenge_throttles_sender),
        cmocka_unit_test(another_address_gets_in_after_grace),
        cmocka_unit_test(flood_does_not_lock_out),
        cmocka_unit_test(busy_ignores_throttled_and_unknown),
        cmocka_unit_test(second_uploader_does_not_disturb),
        cmocka_unit_test(random_interleavings_never_redirect),
        cmocka_unit_test(slowloris_ends),
        cmocka_unit_test(progress_floor_configurable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
