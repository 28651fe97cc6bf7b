/* SPDX-License-Identifier: MIT */
/* ESPHome's native OTA protocol, device side, driven byte by byte: each era's client (features
 * 01, 03, 07, 0F), every response of the reference's table that a device sends, the chunk-ack
 * rule, the authentication vectors, the timeouts, and one update at a time across protocols.
 * The expected bytes come from the reference (docs/PROTOCOL.md, native section). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_rig.h"
#include "otakit/err.h"
#include "otakit/imagegen.h"
#include "otakit/native.h"
#include "otakit/posix.h"

static const uint8_t magic[5] = {0x6c, 0x26, 0xf7, 0x5c, 0x45};

/* A rig with a native server attached; `out` counts the bytes of r->net.nat already checked. */
struct nrig {
    struct rig *r;
    struct otk_nat nat;
    size_t out;
};

static struct nrig *
nrig_new_opts(const struct rig_opts *o, const struct otk_nat_config *cfg)
{
    struct nrig *t = calloc(1, sizeof *t);

    assert_non_null(t);
    t->r = rig_new_opts(o);
    assert_int_equal(otk_dev_native_attach(&t->r->dev, &t->nat, cfg), OTK_OK);
    return t;
}

static struct nrig *
nrig_new(enum otk_profile p, const char *password, uint8_t version)
{
    struct rig_opts o;
    struct otk_nat_config cfg;

    rig_opts_default(&o, p, OTK_AUTH_PBKDF2, NULL);
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.password, sizeof cfg.password, "%s", password ? password : "");
    cfg.version = version;
    return nrig_new_opts(&o, &cfg);
}

static void
nrig_free(struct nrig *t)
{
    rig_free(t->r);
    free(t);
}

static void
feed(struct nrig *t, const void *data, size_t len)
{
    assert_int_equal(otk_dev_on_native_data(&t->r->dev, data, len, t->r->now), len);
}

static void
feed_byte(struct nrig *t, uint8_t b)
{
    feed(t, &b, 1);
}

/* The device's next bytes are exactly these. */
static void
expect_out(struct nrig *t, const void *bytes, size_t len)
{
    assert_true(t->r->net.nat_len >= t->out + len);
    assert_memory_equal(t->r->net.nat + t->out, bytes, len);
    t->out += len;
}

static void
expect_code(struct nrig *t, uint8_t code)
{
    expect_out(t, &code, 1);
}

static void
expect_nothing_more(struct nrig *t)
{
    assert_int_equal(t->r->net.nat_len, t->out);
}

/* Accept, magic, "00 vv", the client's features. */
static void
hello(struct nrig *t, uint8_t features)
{
    uint8_t v[2] = {0x00, t->nat.cfg.version};

    assert_true(otk_dev_on_native_accept(&t->r->dev, &t->r->host, t->r->now));
    feed(t, magic, sizeof magic);
    expect_out(t, v, 2);
    feed_byte(t, features);
}

static void
send_size(struct nrig *t, uint32_t size)
{
    uint8_t b[4] = {(uint8_t)(size >> 24), (uint8_t)(size >> 16), (uint8_t)(size >> 8),
                    (uint8_t)size};
    feed(t, b, 4);
}

/* Stream the image in pieces of `piece` bytes; @return the number of 0x47 received. */
static int
stream(struct nrig *t, const uint8_t *img, uint32_t size, uint32_t piece)
{
    int acks = 0;

    for (uint32_t off = 0; off < size && otk_dev_native_state(&t->r->dev) == OTK_NATS_DATA;
         off += piece) {
        uint32_t n = size - off < piece ? size - off : piece;

        t->r->now += 1;
        feed(t, img + off, n);
        while (t->out < t->r->net.nat_len && t->r->net.nat[t->out] == 0x47) {
            acks++;
            t->out++;
        }
    }
    return acks;
}

/* From the size on, for an authenticated client: 42, 43, the image, acks, 44, 45. */
static void
upload_rest(struct nrig *t, bool extended)
{
    struct rig *r = t->r;
    int acks;

    if (extended)
        feed_byte(t, 0x00); /* OTA type: application */
    send_size(t, r->img_size);
    expect_code(t, 0x42);
    assert_int_equal(r->events[OTK_EV_START], 1);
    feed(t, r->md5, 32);
    expect_code(t, 0x43);
    acks = stream(t, r->img, r->img_size, 1460);
    assert_int_equal(acks, t->nat.cfg.version == 2 ? (int)((r->img_size + 8191) / 8192) : 0);
    expect_code(t, 0x44);
    expect_code(t, 0x45);
    assert_int_equal(r->events[OTK_EV_END], 1);
    expect_nothing_more(t);
}

/* After 43: the whole image, its acks, 44, 45. */
static void
upload_rest_data(struct nrig *t)
{
    struct rig *r = t->r;

    assert_int_equal(stream(t, r->img, r->img_size, 1460), (int)((r->img_size + 8191) / 8192));
    expect_code(t, 0x44);
    expect_code(t, 0x45);
}

/* The host's final 0x00, the close, ESPHome's reboot pause; the new image boots. */
static void
end_and_boot(struct nrig *t)
{
    struct rig *r = t->r;
    int closes = r->net.nat_closes;

    feed_byte(t, 0x00);
    assert_int_equal(r->net.nat_closes, closes + 1);
    assert_int_equal(otk_dev_native_state(&r->dev), OTK_NATS_REBOOTING);
    rig_run_ticks(r, r->now + 109);
    assert_int_equal(r->reboots, 0);
    rig_run_ticks(r, r->now + 1);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    assert_false(otk_dev_native_busy(&r->dev));
}

/* ---- eras ---- */

static void
era_2024_client_no_password(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);

    hello(t, 0x01);       /* CLI-2024: "can send gzip" */
    expect_code(t, 0x40); /* one byte: no compression (the A/B writer stores plain images) */
    expect_code(t, 0x41); /* no password: AUTH_OK at once */
    assert_int_equal(t->r->events[OTK_EV_START], 0);
    upload_rest(t, false);
    end_and_boot(t);
    nrig_free(t);
}

static void
era_2026_extended_client(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP8266, NULL, 0);
    const uint8_t flags[2] = {0x48, 0x00};

    hello(t, 0x07);
    expect_out(t, flags, 2); /* 48 + server flags: nothing offered */
    expect_code(t, 0x41);
    upload_rest(t, true);
    end_and_boot(t);
    nrig_free(t);
}

static void
version_1_sends_no_chunk_acks(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 1);

    hello(t, 0x01);
    expect_code(t, 0x40);
    expect_code(t, 0x41);
    upload_rest(t, false);
    end_and_boot(t);
    nrig_free(t);
}

/* ---- authentication ---- */

/* The reference's response: hex(H(password | nonce | cnonce)), 64 or 32 hex. */
static void
auth_response(bool sha256, const char *pw, const char *nonce, const char *cnonce, char *out)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    union otk_hash_ctx h;
    uint8_t d[32];
    size_t l = sha256 ? 64 : 32;

    if (sha256) {
        c->sha256_start(&h);
        c->sha256_update(&h, pw, strlen(pw));
        c->sha256_update(&h, nonce, l);
        c->sha256_update(&h, cnonce, l);
        c->sha256_finish(&h, d);
    } else {
        c->md5_start(&h);
        c->md5_update(&h, pw, strlen(pw));
        c->md5_update(&h, nonce, l);
        c->md5_update(&h, cnonce, l);
        c->md5_finish(&h, d);
    }
    otk_hex(d, l / 2, out);
    out[l] = '\0';
}

static void
reference_auth_vectors(void **state)
{
    (void)state;
    char out[65];
    const char *n16 = "0123456789abcdef", *c16 = "fedcba9876543210";
    char nonce[65], cnonce[65];

    for (int i = 0; i < 4; i++) {
        memcpy(nonce + 16 * i, n16, 16);
        memcpy(cnonce + 16 * i, c16, 16);
    }
    auth_response(true, "admin", nonce, cnonce, out);
    assert_string_equal(out, "f49678dde2c53010a902bcd8e0ed6547f03991a0f454ad16270c0d11f9aadad6");
    auth_response(true, "", nonce, cnonce, out);
    assert_string_equal(out, "6d4fff3af2a78b85c721c6b8ae395eb25026b56d13abebe2cdab1d56e84b2180");
    auth_response(false, "admin", nonce, cnonce, out);
    assert_string_equal(out, "3e87f922714876a15d7d758b081c3dc8");
}

/* Read the challenge: code, then nonce_len hex digits; answer it with `pw`. */
static void
answer_challenge(struct nrig *t, uint8_t code, size_t nonce_len, const char *pw)
{
    char nonce[65], cnonce[65], resp[65];

    expect_code(t, code);
    assert_true(t->r->net.nat_len >= t->out + nonce_len);
    memcpy(nonce, t->r->net.nat + t->out, nonce_len);
    t->out += nonce_len;
    memset(cnonce, 'e', nonce_len);
    auth_response(code == 0x02, pw, nonce, cnonce, resp);
    feed(t, cnonce, nonce_len);
    feed(t, resp, nonce_len);
}

static void
sha256_challenge_right_password(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "admin", 0);

    hello(t, 0x03); /* 2025.10 client: gzip + SHA-256 */
    expect_code(t, 0x40);
    answer_challenge(t, 0x02, 64, "admin");
    expect_code(t, 0x41);
    upload_rest(t, false);
    end_and_boot(t);
    nrig_free(t);
}

static void
wrong_password_refused_flash_untouched(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "admin", 0);
    struct rig *r = t->r;
    unsigned long mutations = r->flash.mutations;

    hello(t, 0x07);
    expect_out(t, "\x48\x00", 2);
    answer_challenge(t, 0x02, 64, "wrong");
    expect_code(t, 0x82);
    expect_nothing_more(t);
    assert_int_equal(r->net.nat_closes, 1);
    assert_false(otk_dev_native_busy(&r->dev));
    assert_int_equal(r->events[OTK_EV_START], 0);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.ota_error, OTK_OTA_AUTH_ERROR);
    assert_int_equal(r->flash.mutations, mutations);
    assert_int_equal(rig_boot_slot(r), 0);
    nrig_free(t);
}

static void
client_without_sha256_refused(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "admin", 0);

    hello(t, 0x01); /* CLI-2024 knows only MD5 */
    expect_code(t, 0x40);
#if OTK_CFG_NATIVE_MD5_AUTH
    answer_challenge(t, 0x01, 32, "admin");
    expect_code(t, 0x41);
    upload_rest(t, false);
    end_and_boot(t);
#else
    expect_code(t, 0x82); /* as ESPHome since 2026.1 */
    expect_nothing_more(t);
    assert_int_equal(t->r->net.nat_closes, 1);
    assert_int_equal(t->r->events[OTK_EV_ERROR], 1);
#endif
    nrig_free(t);
}

/* A crypto table whose random op returns 00 01 02 ... (the reference's device nonce input). */
static int
counting_random(void *user, uint8_t *buf, size_t len)
{
    const uint8_t *start = user;

    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(start[0] + i);
    return OTK_OK;
}

static void
device_nonce_vectors(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "pw", 0);
    struct otk_crypto_ops c = *otk_posix_crypto();
    uint8_t start = 0;
    const char *want = "8a851ff82ee7048ad09ec3847f1ddf44944104d2cbd17ef4e3db22c6785a0d45";

    c.random = counting_random;
    c.user = &start;
    t->r->dev.crypto = &c;
    hello(t, 0x03);
    expect_code(t, 0x40);
    expect_code(t, 0x02);
    expect_out(t, want, 64); /* SHA256hex(00 01 .. 07) */
    nrig_free(t);
}

static void
throttle_after_wrong_answers(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "admin", 0);
    struct rig *r = t->r;

    for (int i = 0; i < 2; i++) {
        hello(t, 0x03);
        expect_code(t, 0x40);
        answer_challenge(t, 0x02, 64, "guess");
        expect_code(t, 0x82);
    }
    /* Second failure: 1 s of silence for that source; another address is still served. */
    assert_false(otk_dev_on_native_accept(&r->dev, &r->host, r->now + 500));
    r->now += 1000;
    hello(t, 0x03);
    expect_code(t, 0x40);
    answer_challenge(t, 0x02, 64, "admin");
    expect_code(t, 0x41);
    nrig_free(t);
}

/* ---- refusals ---- */

static void
wrong_magic(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);

    assert_true(otk_dev_on_native_accept(&t->r->dev, &t->r->host, t->r->now));
    feed(t, "\x6c\x26\xf7\x5c\x46", 5);
    expect_code(t, 0x80);
    expect_nothing_more(t);
    assert_int_equal(t->r->net.nat_closes, 1);
    assert_int_equal(t->r->events[OTK_EV_ERROR], 0); /* a stranger, not an update */
    nrig_free(t);
}

static void
ota_type_other_than_app(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);

    hello(t, 0x07);
    expect_out(t, "\x48\x00\x41", 3);
    feed_byte(t, 0x01);     /* partition table */
    expect_nothing_more(t); /* refused once the size is read, as ESPHome 2026.5 */
    send_size(t, t->r->img_size);
    expect_code(t, 0x8e);
    expect_nothing_more(t);
    assert_int_equal(t->r->events[OTK_EV_START], 0);
    assert_int_equal(t->r->flash.mutations, 0);
    nrig_free(t);
}

static void
size_refusals(enum otk_profile p, uint8_t code)
{
    struct nrig *t = nrig_new(p, NULL, 0);

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, 16u << 20); /* larger than any slot */
    expect_code(t, code);
    expect_nothing_more(t);
    assert_int_equal(t->r->net.nat_closes, 1);
    assert_int_equal(t->r->last_error.ota_error, OTK_OTA_BEGIN_ERROR);
    nrig_free(t);
}

static void
no_space_codes(void **state)
{
    (void)state;
    size_refusals(OTK_PROFILE_ESP32, 0x89);
    size_refusals(OTK_PROFILE_ESP8266, 0x88);
}

static void
md5_mismatch(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    char md5[33];

    memcpy(md5, r->md5, 33);
    md5[0] = md5[0] == '0' ? '1' : '0';
    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    expect_code(t, 0x42);
    feed(t, md5, 32);
    expect_code(t, 0x43);
    stream(t, r->img, r->img_size, 4096);
    expect_code(t, 0x44);
    expect_code(t, 0x8b);
    expect_nothing_more(t);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.reason, OTK_UPD_MD5);
    assert_int_equal(rig_boot_slot(r), 0);
    rig_run_ticks(r, r->now + 60000);
    assert_int_equal(r->reboots, 0);
    nrig_free(t);
}

static void
wrong_chip_codes(void **state)
{
    (void)state;
    const enum otk_profile profiles[2] = {OTK_PROFILE_ESP32, OTK_PROFILE_ESP8266};
    const uint8_t codes[2] = {0x84, 0x83};

    for (int i = 0; i < 2; i++) {
        struct nrig *t = nrig_new(profiles[i], NULL, 0);
        struct rig *r = t->r;
        enum otk_profile other = profiles[1 - i];
        char md5[33];

        assert_int_equal(otk_imagegen(other, "t", "9", r->img_size, 3, r->img, r->img_size),
                         (int)r->img_size);
        otk_proto_md5_hex(otk_posix_crypto(), r->img, r->img_size, md5);
        hello(t, 0x01);
        expect_out(t, "\x40\x41", 2);
        send_size(t, r->img_size);
        expect_code(t, 0x42);
        feed(t, md5, 32);
        expect_code(t, 0x43);
        feed(t, r->img, 1024);
        expect_code(t, codes[i]);
        expect_nothing_more(t);
        assert_int_equal(r->last_error.reason, OTK_UPD_WRONG_CHIP);
        assert_int_equal(r->flash.mutations, 0); /* checked before the first erase */
        nrig_free(t);
    }
}

static void
code_table(void **state)
{
    (void)state;
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_MAGIC, 1), 0x80);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP8266, OTK_UPD_MAGIC, 1), 0x83);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_WRITE, 1), 0x83);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_ERASE, 1), 0x83);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_ACTIVATE, 2), 0x84);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP8266, OTK_UPD_MD5, 2), 0x8b);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_NO_PARTITION, 0), 0x8a);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP8266, OTK_UPD_NEW_FLASH_CONFIG, 0), 0x87);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_RUNNING, 0), 0x81);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_UNCONFIRMED, 0), 0x81);
    assert_int_equal(otk_nat_code_for(OTK_PROFILE_ESP32, OTK_UPD_STREAM, 1), 0xff);
}

/* ---- ack rule ---- */

static int
acks_for(uint32_t size, uint32_t piece)
{
    struct rig_opts o;
    struct otk_nat_config cfg;
    struct nrig *t;
    int acks;

    rig_opts_default(&o, OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);
    o.img_size = size;
    memset(&cfg, 0, sizeof cfg);
    t = nrig_new_opts(&o, &cfg);
    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, size);
    expect_code(t, 0x42);
    feed(t, t->r->md5, 32);
    expect_code(t, 0x43);
    acks = stream(t, t->r->img, size, piece);
    expect_out(t, "\x44\x45", 2);
    nrig_free(t);
    return acks;
}

static void
chunk_acks_by_esphome_rule(void **state)
{
    (void)state;
    /* ceil(size / 8192) whatever the host's writes (reference §5) */
    assert_int_equal(acks_for(20480, 8192), 3);
    assert_int_equal(acks_for(20480, 1000), 3);
    assert_int_equal(acks_for(20480, 20480), 3);
    assert_int_equal(acks_for(16384, 7), 2);
    assert_int_equal(acks_for(16384, 16384), 2);
    assert_int_equal(acks_for(8192 + 16, 8192 + 16), 2);
}

/* Each ack leaves as soon as its 8192 bytes are in, not at the end (a host that waits for it
 * before sending the next block would stall otherwise). */
static void
acks_leave_as_blocks_complete(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    feed(t, r->md5, 32);
    expect_out(t, "\x42\x43", 2);
    feed(t, r->img, 8191);
    expect_nothing_more(t);
    feed(t, r->img + 8191, 1);
    expect_code(t, 0x47);
    expect_nothing_more(t);
    feed(t, r->img + 8192, 2 * 8192 + 5);
    expect_out(t, "\x47\x47", 2);
    expect_nothing_more(t);
    nrig_free(t);
}

/* ---- pipelining, timeouts, closes ---- */

static void
whole_exchange_in_one_write(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    size_t len = 5 + 1 + 4 + 32 + r->img_size + 1;
    uint8_t *all = malloc(len);

    memcpy(all, magic, 5);
    all[5] = 0x01;
    all[6] = (uint8_t)(r->img_size >> 24);
    all[7] = (uint8_t)(r->img_size >> 16);
    all[8] = (uint8_t)(r->img_size >> 8);
    all[9] = (uint8_t)r->img_size;
    memcpy(all + 10, r->md5, 32);
    memcpy(all + 42, r->img, r->img_size);
    all[len - 1] = 0x00;
    assert_true(otk_dev_on_native_accept(&r->dev, &r->host, r->now));
    feed(t, all, len);
    expect_out(t, "\x00\x02\x40\x41\x42\x43", 6);
    for (uint32_t i = 0; i < (r->img_size + 8191) / 8192; i++)
        expect_code(t, 0x47);
    expect_out(t, "\x44\x45", 2);
    expect_nothing_more(t);
    assert_int_equal(otk_dev_native_state(&r->dev), OTK_NATS_REBOOTING);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    free(all);
    nrig_free(t);
}

static void
silent_connection_dropped(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, "admin", 0);
    struct rig *r = t->r;
    uint32_t at;

    /* Half-open: accepted, never a byte. Dropped at 20 s; nothing sent, nothing reported. */
    assert_true(otk_dev_on_native_accept(&r->dev, &r->host, r->now));
    assert_true(otk_dev_next_deadline(&r->dev, &at));
    assert_int_equal(at, r->now + 20000);
    rig_run_ticks(r, r->now + 19999);
    assert_true(otk_dev_native_busy(&r->dev));
    rig_run_ticks(r, r->now + 1);
    assert_false(otk_dev_native_busy(&r->dev));
    assert_int_equal(r->net.nat_closes, 1);
    expect_nothing_more(t);
    assert_int_equal(r->events[OTK_EV_ERROR], 0);
    /* The watchdog covers the whole handshake: bytes that trickle do not extend it. */
    hello(t, 0x03);
    expect_code(t, 0x40);
    expect_code(t, 0x02);
    t->out += 64;
    r->now += 10000;
    feed(t, "e", 1);
    rig_run_ticks(r, r->now + 10000);
    assert_int_equal(r->net.nat_closes, 2);
    expect_nothing_more(t);
    nrig_free(t);
}

static void
silent_after_start_gets_ff(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    feed(t, r->md5, 32);
    expect_out(t, "\x42\x43", 2);
    feed(t, r->img, 9000);
    expect_code(t, 0x47);
    rig_run_ticks(r, r->now + 20000);
    expect_code(t, 0xff); /* ESPHome's data-timeout byte */
    expect_nothing_more(t);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.reason, OTK_UPD_STREAM);
    assert_false(otk_dev_update_running(&r->dev));
    assert_int_equal(rig_boot_slot(r), 0);
    nrig_free(t);
}

static void
host_leaves_mid_image(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    feed(t, r->md5, 32);
    feed(t, r->img, 9000);
    otk_dev_on_native_closed(&r->dev, r->now);
    assert_int_equal(r->events[OTK_EV_ERROR], 1);
    assert_int_equal(r->last_error.reason, OTK_UPD_ABORTED);
    assert_false(otk_dev_native_busy(&r->dev));
    assert_false(otk_dev_update_running(&r->dev));
    assert_int_equal(rig_boot_slot(r), 0);
    /* the next client is served */
    t->out = r->net.nat_len;
    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    nrig_free(t);
}

static void
missing_end_ack_not_fatal(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    upload_rest(t, false);
    /* no 0x00: the device closes after its wait and reboots into the new image anyway */
    rig_run_ticks(r, r->now + 3000);
    assert_int_equal(r->net.nat_closes, 1);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    nrig_free(t);
}

/* ---- one update at a time, across protocols ---- */

static void
native_refused_during_arduino_update(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5); /* ArduinoOTA: "OK", connecting back */
    assert_true(otk_dev_update_running(&r->dev));
    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    expect_code(t, 0x81);
    expect_nothing_more(t);
    assert_int_equal(r->last_error.reason, OTK_UPD_RUNNING);
    /* the ArduinoOTA update goes on and boots */
    rig_stream(r, r->img, r->img_size, 1460);
    rig_run_ticks(r, r->now + 3000);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    nrig_free(t);
}

static void
arduino_refused_during_native_update(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    hello(t, 0x01);
    expect_out(t, "\x40\x41", 2);
    send_size(t, r->img_size);
    expect_code(t, 0x42);
    assert_true(otk_dev_update_running(&r->dev));
    rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
    assert_string_equal(fakenet_last_dgram(&r->net), "ERR: ERROR[15]: Update already running\n");
    assert_int_equal(r->net.connects, 0);
    feed(t, r->md5, 32);
    expect_code(t, 0x43);
    stream(t, r->img, r->img_size, 1460);
    expect_out(t, "\x44\x45", 2);
    end_and_boot(t);
    nrig_free(t);
}

static void
one_connection_at_a_time(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    struct otk_addr other = fakenet_addr("127.0.0.2", 50000);

    assert_true(otk_dev_on_native_accept(&r->dev, &r->host, r->now));
    assert_false(otk_dev_on_native_accept(&r->dev, &other, r->now));
    nrig_free(t);
}

static void
attach_checks(void **state)
{
    (void)state;
    struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);
    struct otk_nat nat;
    struct otk_nat_config cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.version = 3;
    assert_int_equal(otk_dev_native_attach(&r->dev, &nat, &cfg), OTK_ERR_ARG);
    cfg.version = 2;
    cfg.noise = OTK_NAT_NOISE_OFFERED; /* with the all-zero key: "unprovisioned" */
    assert_int_equal(otk_dev_native_attach(&r->dev, &nat, &cfg), OTK_ERR_ARG);
    memset(cfg.password, 'x', sizeof cfg.password); /* no terminator */
    cfg.noise = OTK_NAT_NOISE_OFF;
    assert_int_equal(otk_dev_native_attach(&r->dev, &nat, &cfg), OTK_ERR_ARG);
    rig_free(r);
}

#if OTK_CFG_NOISE
/* ---- Noise (the reference's §6 vectors) ---- */

/* A random op whose every byte is *user: the reference's ephemeral keys (11.., 22..). */
static int
fill_random(void *user, uint8_t *buf, size_t len)
{
    memset(buf, *(const uint8_t *)user, len);
    return OTK_OK;
}

static size_t
unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void
feed_hex(struct nrig *t, const char *h)
{
    uint8_t b[512];

    feed(t, b, unhex(h, b));
}

static void
expect_hex(struct nrig *t, const char *h)
{
    uint8_t b[512];

    expect_out(t, b, unhex(h, b));
}

/* A device keyed with the reference's PSK (00 01 .. 1f) whose ephemeral key is 22 .. 22. */
struct keyed {
    struct nrig *t;
    struct otk_crypto_ops c;
    uint8_t fill;
};

static void
keyed_new(struct keyed *k, const char *password, enum otk_nat_noise_mode mode)
{
    struct rig_opts o;
    struct otk_nat_config cfg;

    rig_opts_default(&o, OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);
    o.img_size = 65536;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.password, sizeof cfg.password, "%s", password ? password : "");
    for (int i = 0; i < 32; i++)
        cfg.key[i] = (uint8_t)i;
    cfg.noise = mode;
    k->t = nrig_new_opts(&o, &cfg);
    k->c = *otk_posix_crypto();
    k->fill = 0x22;
    k->c.random = fill_random;
    k->c.user = &k->fill;
    k->t->r->dev.crypto = &k->c;
}

static const char frame1[] = "010031007b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f"
                             "73f13410838c772608f003af0e4d340aea563";

static void
noise_handshake_vectors(void **state)
{
    (void)state;
    struct keyed k;

    keyed_new(&k, NULL, OTK_NAT_NOISE_OFFERED);
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804"); /* extended reply, server flag 04: Noise offered */
    expect_nothing_more(k.t);
    feed_hex(k.t, frame1);
    expect_hex(k.t, "010031000faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20744a"
                    "2655c2b4acf82f43588d620f0920");
    expect_hex(k.t, "010011981c25b800e40468cb3ed9f37a930f1557"); /* 41 under k2 */
    expect_nothing_more(k.t);
    /* the host's type 00 and size 00 01 00 00, as the reference encrypts them */
    feed_hex(k.t, "0100110864b4a12ca31ecf6ad41f0d9be9be4945");
    feed_hex(k.t, "01001443183a2bff06342692b014b5eaf43daeff0a20e3");
    assert_int_equal(k.t->r->events[OTK_EV_START], 1);
    assert_int_equal(k.t->nat.size, 65536);
    assert_int_equal(otk_dev_native_state(&k.t->r->dev), OTK_NATS_MD5);
    nrig_free(k.t);
}

static void
noise_wrong_key_rejected(void **state)
{
    (void)state;
    struct keyed k;

    keyed_new(&k, NULL, OTK_NAT_NOISE_REQUIRED);
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804");
    /* msg 1 from a host holding 01 .. 20 (reference §6) */
    feed_hex(k.t, "010031007b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
                  "9364fa1d84d2f0977fce0f5170fb5485");
    expect_hex(k.t, "0100160148616e647368616b65204d4143206661696c757265");
    expect_nothing_more(k.t);
    assert_int_equal(k.t->r->net.nat_closes, 1);
    assert_int_equal(k.t->r->events[OTK_EV_START], 0);
    assert_int_equal(k.t->r->events[OTK_EV_ERROR], 1);
    assert_string_equal(k.t->r->last_error_text, "Handshake MAC failure");
    assert_int_equal(k.t->r->flash.mutations, 0);
    nrig_free(k.t);
}

static void
noise_wrong_keys_throttled(void **state)
{
    (void)state;
    struct keyed k;

    keyed_new(&k, NULL, OTK_NAT_NOISE_REQUIRED);
    for (int i = 0; i < 2; i++) {
        hello(k.t, 0x0f);
        expect_hex(k.t, "4804");
        feed_hex(k.t, "010031007b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
                      "9364fa1d84d2f0977fce0f5170fb5485");
        expect_hex(k.t, "0100160148616e647368616b65204d4143206661696c757265");
    }
    /* two wrong keys from that address: its next connection is closed unheard for 1 s */
    assert_false(otk_dev_on_native_accept(&k.t->r->dev, &k.t->r->host, k.t->r->now + 999));
    k.t->r->now += 1000;
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804");
    nrig_free(k.t);
}

static void
noise_tampered_prologue_rejected(void **state)
{
    (void)state;
    struct keyed k;

    /* The device saw client features 0E (no compression bit): the prologues differ. */
    keyed_new(&k, NULL, OTK_NAT_NOISE_OFFERED);
    hello(k.t, 0x0e);
    expect_hex(k.t, "4804");
    feed_hex(k.t, frame1);
    expect_hex(k.t, "0100160148616e647368616b65204d4143206661696c757265");
    expect_nothing_more(k.t);
    nrig_free(k.t);
}

static void
noise_required_refuses_plaintext(void **state)
{
    (void)state;
    const uint8_t clients[] = {0x01, 0x03, 0x07, 0x08};

    for (size_t i = 0; i < sizeof clients; i++) {
        struct keyed k;

        keyed_new(&k, "pw", OTK_NAT_NOISE_REQUIRED);
        hello(k.t, clients[i]);
        expect_code(k.t, 0x94); /* instead of the feature reply */
        expect_nothing_more(k.t);
        assert_int_equal(k.t->r->net.nat_closes, 1);
        nrig_free(k.t);
    }
}

static void
noise_offered_plaintext_still_challenged(void **state)
{
    (void)state;
    struct keyed k;

    keyed_new(&k, "admin", OTK_NAT_NOISE_OFFERED);
    hello(k.t, 0x07); /* a 2026.5 client: no key */
    expect_hex(k.t, "4804");
    answer_challenge(k.t, 0x02, 64, "admin");
    expect_code(k.t, 0x41);
    nrig_free(k.t);
}

/* Under Noise: one unit per frame, each response one encrypted byte; a whole upload with a
 * host built on the core's own Noise as initiator. */
struct nhost {
    struct otk_noise n;
    struct otk_crypto_ops c;
    uint8_t fill;
};

static void
host_frame(struct keyed *k, struct nhost *h, const void *pt, size_t len)
{
    uint8_t f[3 + 1024 + 16];

    assert_true(len <= 1024);
    f[0] = 1;
    f[1] = (uint8_t)((len + 16) >> 8);
    f[2] = (uint8_t)(len + 16);
    assert_int_equal(otk_noise_encrypt(&h->n, pt, len, f + 3), OTK_OK);
    feed(k->t, f, 3 + len + 16);
}

/* The device's next frame: one encrypted response byte. */
static uint8_t
host_read(struct keyed *k, struct nhost *h)
{
    struct nrig *t = k->t;
    uint8_t pt[1];

    assert_true(t->r->net.nat_len >= t->out + 20);
    assert_memory_equal(t->r->net.nat + t->out, "\x01\x00\x11", 3);
    assert_int_equal(otk_noise_decrypt(&h->n, t->r->net.nat + t->out + 3, 17, pt), OTK_OK);
    t->out += 20;
    return pt[0];
}

static void
noise_whole_upload(void **state)
{
    (void)state;
    struct keyed k;
    struct nhost h;
    struct rig *r;
    uint8_t psk[32], pro[22], m1[48], hdr[4] = {1, 0, 49, 0}, type = 0, size[4] = {0, 1, 0, 0};
    int acks = 0;

    for (int i = 0; i < 32; i++)
        psk[i] = (uint8_t)i;
    keyed_new(&k, "ignored-under-noise", OTK_NAT_NOISE_REQUIRED);
    r = k.t->r;
    h.c = *otk_posix_crypto();
    h.fill = 0x11;
    h.c.random = fill_random;
    h.c.user = &h.fill;
    unhex("4e6f6973654f5441496e69746c26f75c4500020f4804", pro);
    assert_int_equal(otk_noise_start(&h.n, &h.c, true, psk, pro, sizeof pro), OTK_OK);
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804");
    assert_int_equal(otk_noise_write_handshake(&h.n, m1), OTK_OK);
    feed(k.t, hdr, 4);
    feed(k.t, m1, 48);
    expect_out(k.t, "\x01\x00\x31\x00", 4);
    assert_int_equal(otk_noise_read_handshake(&h.n, r->net.nat + k.t->out, 48), OTK_OK);
    k.t->out += 48;
    assert_int_equal(host_read(&k, &h), 0x41); /* no password challenge under Noise */
    host_frame(&k, &h, &type, 1);
    host_frame(&k, &h, size, 4);
    assert_int_equal(host_read(&k, &h), 0x42);
    host_frame(&k, &h, r->md5, 32);
    assert_int_equal(host_read(&k, &h), 0x43);
    for (uint32_t off = 0; off < r->img_size; off += 1024) {
        host_frame(&k, &h, r->img + off, 1024);
        if (off % 8192 == 8192 - 1024) {
            assert_int_equal(host_read(&k, &h), 0x47);
            acks++;
        }
    }
    assert_int_equal(acks, 8);
    assert_int_equal(host_read(&k, &h), 0x44);
    assert_int_equal(host_read(&k, &h), 0x45);
    expect_nothing_more(k.t);
    type = 0;
    host_frame(&k, &h, &type, 1); /* the host's final 00 */
    assert_int_equal(otk_dev_native_state(&r->dev), OTK_NATS_REBOOTING);
    rig_run_ticks(r, r->now + 200);
    assert_int_equal(r->reboots, 1);
    assert_int_equal(rig_boot_slot(r), 1);
    nrig_free(k.t);
}

static void
noise_bad_frames(void **state)
{
    (void)state;
    struct keyed k;

    /* a handshake frame with a wrong indicator: "Handshake error", closed */
    keyed_new(&k, NULL, OTK_NAT_NOISE_OFFERED);
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804");
    feed_hex(k.t, "020031");
    expect_hex(k.t, "01001001"
                    "48616e647368616b65206572726f72");
    assert_int_equal(k.t->r->net.nat_closes, 1);
    nrig_free(k.t);
    /* after the handshake, a frame whose tag does not verify: closed without a word */
    keyed_new(&k, NULL, OTK_NAT_NOISE_OFFERED);
    hello(k.t, 0x0f);
    expect_hex(k.t, "4804");
    feed_hex(k.t, frame1);
    k.t->out = k.t->r->net.nat_len;
    feed_hex(k.t, "0100110864b4a12ca31ecf6ad41f0d9be9be4946");
    expect_nothing_more(k.t);
    assert_int_equal(k.t->r->net.nat_closes, 1);
    assert_false(otk_dev_native_busy(&k.t->r->dev));
    nrig_free(k.t);
}
#endif

/* ---- otakit's extension (client and server bit 0x80) and resume ---- */

/* An otakit client without password: features 86, "48 80", 41, then the caps exchange. */
static void
otakit_hello(struct nrig *t, uint8_t ask, uint8_t granted)
{
    const uint8_t flags[2] = {0x48, 0x80}, hello_unit[2] = {0x01, ask};
    const uint8_t answer[2] = {0x01, granted};

    hello(t, 0x86);
    expect_out(t, flags, 2);
    expect_code(t, 0x41);
    feed(t, hello_unit, 2);
    expect_out(t, answer, 2);
}

/* Type, size, 42, MD5, then "43" + the offset the device names. */
static void
otakit_prepare(struct nrig *t, const char *md5, uint32_t at)
{
    const uint8_t ok[5] = {0x43, (uint8_t)(at >> 24), (uint8_t)(at >> 16), (uint8_t)(at >> 8),
                           (uint8_t)at};

    feed_byte(t, 0x00);
    send_size(t, t->r->img_size);
    expect_code(t, 0x42);
    feed(t, md5, 32);
    expect_out(t, ok, sizeof ok);
}

/* The rest of the image from `at`: ceil((size - at) / 8192) acks, 44, 45. */
static void
otakit_finish(struct nrig *t, uint32_t at)
{
    struct rig *r = t->r;

    assert_int_equal(stream(t, r->img + at, r->img_size - at, 1460),
                     (int)((r->img_size - at + 8191) / 8192));
    expect_code(t, 0x44);
    expect_code(t, 0x45);
    expect_nothing_more(t);
}

static void
otakit_exchange_bytes(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);

    /* asks for RESUME and DEFLATE and a reserved bit: only RESUME is granted */
    otakit_hello(t, 0x07, 0x01);
    otakit_prepare(t, t->r->md5, 0);
    otakit_finish(t, 0);
    end_and_boot(t);
    nrig_free(t);
}

static void
otakit_bit_seen_only_with_extended(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);

    /* 0x80 without 0x04: ESPHome's one-byte reply, then the plain exchange */
    hello(t, 0x81);
    expect_out(t, "\x40\x41", 2);
    upload_rest(t, false);
    end_and_boot(t);
    nrig_free(t);
    /* a later exchange version gets version 1's answer; nothing asked, nothing granted */
    t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    hello(t, 0x86);
    expect_out(t, "\x48\x80\x41", 3);
    feed(t, "\x02\x00", 2);
    expect_out(t, "\x01\x00", 2);
    upload_rest(t, true); /* no RESUME: a plain 43 */
    nrig_free(t);
    /* version 0 is no version: FF, closed */
    t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    hello(t, 0x86);
    expect_out(t, "\x48\x80\x41", 3);
    feed(t, "\x00\x01", 2);
    expect_code(t, 0xff);
    assert_int_equal(t->r->net.nat_closes, 1);
    nrig_free(t);
}

static void
otakit_caps_switched_off(void **state)
{
    (void)state;
    struct rig_opts o;
    struct otk_nat_config cfg;

    rig_opts_default(&o, OTK_PROFILE_ESP32, OTK_AUTH_PBKDF2, NULL);
    memset(&cfg, 0, sizeof cfg);
    cfg.caps_off = OTK_NAT_CAP_RESUME;
    struct nrig *t = nrig_new_opts(&o, &cfg);
    otakit_hello(t, 0x01, 0x00);
    upload_rest(t, true);
    nrig_free(t);
}

/* An ESPHome-era client (07) sends `cut` bytes of the image and its connection drops. */
static void
drop_after(struct nrig *t, uint32_t cut)
{
    struct rig *r = t->r;

    hello(t, 0x07);
    expect_out(t, "\x48\x00\x41", 3);
    feed_byte(t, 0x00);
    send_size(t, r->img_size);
    expect_code(t, 0x42);
    feed(t, r->md5, 32);
    expect_code(t, 0x43);
    stream(t, r->img, cut, 1460);
    otk_dev_on_native_closed(&r->dev, r->now);
    assert_int_equal(r->last_error.reason, OTK_UPD_ABORTED);
    assert_false(otk_dev_update_running(&r->dev)); /* the writer and the lock are free */
    t->out = r->net.nat_len;
}

static void
resume_writes_what_an_uninterrupted_update_writes(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct nrig *whole = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    const uint32_t cut = 30000, at = 7 * 4096; /* whole sectors in flash */

    drop_after(t, cut);
    otakit_hello(t, 0x01, 0x01);
    otakit_prepare(t, t->r->md5, at);
    otakit_finish(t, at);
    end_and_boot(t);
    /* the same image in one go, on a device in the same state */
    otakit_hello(whole, 0x01, 0x01);
    otakit_prepare(whole, whole->r->md5, 0);
    otakit_finish(whole, 0);
    end_and_boot(whole);
    assert_int_equal(t->r->flash.size, whole->r->flash.size);
    assert_memory_equal(t->r->flash.mem, whole->r->flash.mem, t->r->flash.size);
    nrig_free(t);
    nrig_free(whole);
}

static void
resume_other_image_starts_at_0(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    drop_after(t, 30000);
    /* another image of the same size: another MD5, so from byte 0 */
    assert_int_equal(otk_imagegen(OTK_PROFILE_ESP32, "t", "9", r->img_size, 3, r->img, r->img_size),
                     (int)r->img_size);
    otk_proto_md5_hex(otk_posix_crypto(), r->img, r->img_size, r->md5);
    otakit_hello(t, 0x01, 0x01);
    otakit_prepare(t, r->md5, 0);
    otakit_finish(t, 0);
    end_and_boot(t);
    nrig_free(t);
}

static void
resume_flash_changed_starts_at_0(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    const struct otk_layout *l = &r->dev.cfg.layout;

    drop_after(t, 30000);
    /* one bit of the written part no longer reads as what arrived */
    r->flash.mem[l->app_offset[1] + 5000] &= 0x7f;
    assert_true(r->flash.mem[l->app_offset[1] + 5000] != r->img[5000]);
    otakit_hello(t, 0x01, 0x01);
    otakit_prepare(t, r->md5, 0);
    otakit_finish(t, 0);
    end_and_boot(t);
    nrig_free(t);
}

static void
resume_record_expires(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;

    drop_after(t, 30000);
    assert_true(otk_upd_resume_held(&r->dev.upd));
    rig_run_ticks(r, r->now + 119000);
    assert_true(otk_upd_resume_held(&r->dev.upd));
    rig_run_ticks(r, r->now + 1000); /* 120 s after the drop */
    assert_false(otk_upd_resume_held(&r->dev.upd));
    otakit_hello(t, 0x01, 0x01);
    otakit_prepare(t, r->md5, 0);
    nrig_free(t);
}

static void
resume_not_across_reboot(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    struct otk_nat_config cfg = t->nat.cfg;

    drop_after(t, 30000);
    rig_restart(r, 0);
    assert_int_equal(otk_dev_native_attach(&r->dev, &t->nat, &cfg), OTK_OK);
    t->out = r->net.nat_len;
    otakit_hello(t, 0x01, 0x01);
    otakit_prepare(t, r->md5, 0);
    otakit_finish(t, 0);
    end_and_boot(t);
    nrig_free(t);
}

static void
resume_offset_must_be_what_was_written(void **state)
{
    (void)state;
    struct nrig *t = nrig_new(OTK_PROFILE_ESP32, NULL, 0);
    struct rig *r = t->r;
    const uint32_t at = 7 * 4096;

    drop_after(t, 30000);
    /* an ESPHome client of the same image: plain 43, the writer at 0 */
    hello(t, 0x07);
    expect_out(t, "\x48\x00\x41", 3);
    feed_byte(t, 0x00);
    send_size(t, r->img_size);
    expect_code(t, 0x42);
    feed(t, r->md5, 32);
    expect_code(t, 0x43);
    assert_int_equal(otk_upd_resumable(&r->dev.upd), at);
    /* beyond what was written, short of it, or no sector boundary: refused, nothing moves */
    assert_int_equal(otk_upd_resume_at(&r->dev.upd, at + 4096), OTK_UPD_BAD_ARG);
    assert_int_equal(otk_upd_resume_at(&r->dev.upd, at - 4096), OTK_UPD_BAD_ARG);
    assert_int_equal(otk_upd_resume_at(&r->dev.upd, at + 1), OTK_UPD_BAD_ARG);
    assert_int_equal(otk_upd_progress(&r->dev.upd), 0);
    /* that client sends from 0: the record ends with its first byte */
    upload_rest_data(t);
    assert_false(otk_upd_resume_held(&r->dev.upd));
    nrig_free(t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(era_2024_client_no_password),
        cmocka_unit_test(era_2026_extended_client),
        cmocka_unit_test(version_1_sends_no_chunk_acks),
        cmocka_unit_test(reference_auth_vectors),
        cmocka_unit_test(sha256_challenge_right_password),
        cmocka_unit_test(wrong_password_refused_flash_untouched),
        cmocka_unit_test(client_without_sha256_refused),
        cmocka_unit_test(device_nonce_vectors),
        cmocka_unit_test(throttle_after_wrong_answers),
        cmocka_unit_test(wrong_magic),
        cmocka_unit_test(ota_type_other_than_app),
        cmocka_unit_test(no_space_codes),
        cmocka_unit_test(md5_mismatch),
        cmocka_unit_test(wrong_chip_codes),
        cmocka_unit_test(code_table),
        cmocka_unit_test(chunk_acks_by_esphome_rule),
        cmocka_unit_test(acks_leave_as_blocks_complete),
        cmocka_unit_test(whole_exchange_in_one_write),
        cmocka_unit_test(silent_connection_dropped),
        cmocka_unit_test(silent_after_start_gets_ff),
        cmocka_unit_test(host_leaves_mid_image),
        cmocka_unit_test(missing_end_ack_not_fatal),
        cmocka_unit_test(native_refused_during_arduino_update),
        cmocka_unit_test(arduino_refused_during_native_update),
        cmocka_unit_test(one_connection_at_a_time),
        cmocka_unit_test(attach_checks),
        cmocka_unit_test(otakit_exchange_bytes),
        cmocka_unit_test(otakit_bit_seen_only_with_extended),
        cmocka_unit_test(otakit_caps_switched_off),
        cmocka_unit_test(resume_writes_what_an_uninterrupted_update_writes),
        cmocka_unit_test(resume_other_image_starts_at_0),
        cmocka_unit_test(resume_flash_changed_starts_at_0),
        cmocka_unit_test(resume_record_expires),
        cmocka_unit_test(resume_not_across_reboot),
        cmocka_unit_test(resume_offset_must_be_what_was_written),
#if OTK_CFG_NOISE
        cmocka_unit_test(noise_handshake_vectors),
        cmocka_unit_test(noise_wrong_key_rejected),
        cmocka_unit_test(noise_wrong_keys_throttled),
        cmocka_unit_test(noise_tampered_prologue_rejected),
        cmocka_unit_test(noise_required_refuses_plaintext),
        cmocka_unit_test(noise_offered_plaintext_still_challenged),
        cmocka_unit_test(noise_whole_upload),
        cmocka_unit_test(noise_bad_frames),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
