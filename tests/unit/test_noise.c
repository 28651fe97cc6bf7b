/* SPDX-License-Identifier: MIT */
/* Noise_NNpsk0_25519_ChaChaPoly_SHA256 (src/core/noise.c) against the reference's vectors for
 * ESPHome's native OTA (docs: the ESPHome wire reference, section 6), byte for byte, with the
 * failure cases a device meets (wrong key, a prologue that differs, a tampered frame); and the
 * POSIX port's crypto ops Noise runs on against RFC 7748 (X25519), RFC 8439 (ChaCha20-Poly1305)
 * and RFC 4231 (HMAC-SHA-256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "otakit/err.h"
#include "otakit/native_wire.h"
#include "otakit/noise.h"
#include "otakit/posix.h"

/* The reference's handshake: ESPHome's test PSK 00..1f, version 2, client 0F, server 04. */
#define PROLOGUE_HEX      "4e6f6973654f5441496e69746c26f75c4500020f4804"
#define H_NAME_HEX        "f0b890826fb8e6584af6948d227169c381c9ed6a4c1c90df4b9ff454fa947f7b"
#define H_PROLOGUE_HEX    "4f95d0c157c72f14944bf7046e28cc6ce20f738de991520f1c21d9bdfa9e15c0"
#define HOST_EPUB_HEX     "7b4e909bbe7ffe44c465a220037d608ee35897d31ef972f07f74892cb0f73f13"
#define DEVICE_EPUB_HEX   "0faa684ed28867b97f4a6a2dee5df8ce974e76b7018e3f22a1c4cf2678570f20"
#define FRAME1_HEX        "01003100" HOST_EPUB_HEX "410838c772608f003af0e4d340aea563"
#define FRAME2_HEX        "01003100" DEVICE_EPUB_HEX "744a2655c2b4acf82f43588d620f0920"
#define K1_HEX            "db72db7b88aa6a8223bac741154c7881c10c92ab4a4b7a9c36d0f107e18695a4"
#define K2_HEX            "3963f3cddd9ae1ba54b5617120c40b1292120b671eb5ccbd9ce7b550122eec41"
#define HANDSHAKE_HASH    "26f9d369be55d872160587389211855977dbd8cb851ccff173c7bb8501e1be8b"
#define AUTH_OK_FRAME     "010011981c25b800e40468cb3ed9f37a930f1557"
#define TYPE_FRAME        "0100110864b4a12ca31ecf6ad41f0d9be9be4945"
#define SIZE_FRAME        "01001443183a2bff06342692b014b5eaf43daeff0a20e3"
#define WRONG_KEY_TAG     "9364fa1d84d2f0977fce0f5170fb5485"
#define HOST_EPRIV_BYTE   0x11
#define DEVICE_EPRIV_BYTE 0x22

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = strlen(hex) / 2;
    unsigned v;

    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static void
assert_hex(const uint8_t *got, size_t len, const char *want_hex)
{
    uint8_t want[256];

    assert_int_equal(unhex(want_hex, want, sizeof want), len);
    assert_memory_equal(got, want, len);
}

/* The deterministic random op: every byte it hands out is `fill` (the reference's ephemeral
 * private keys are 32 x 11 and 32 x 22). */
struct det_random {
    uint8_t fill;
    unsigned calls;
};

static int
det_random(void *user, uint8_t *buf, size_t len)
{
    struct det_random *r = user;

    memset(buf, r->fill, len);
    r->calls++;
    return OTK_OK;
}

struct side {
    struct det_random rnd;
    struct otk_crypto_ops crypto;
    struct otk_noise noise;
};

static void
side_init(struct side *sd, uint8_t fill)
{
    memset(sd, 0, sizeof *sd);
    sd->rnd.fill = fill;
    sd->crypto = *otk_posix_crypto();
    sd->crypto.random = det_random;
    sd->crypto.user = &sd->rnd;
}

static void
psk_counting(uint8_t psk[OTK_NOISE_KEY_LEN], uint8_t first)
{
    for (int i = 0; i < OTK_NOISE_KEY_LEN; i++)
        psk[i] = (uint8_t)(first + i);
}

static void
start(struct side *sd, uint8_t fill, bool initiator, uint8_t psk_first, const char *prologue_hex)
{
    uint8_t psk[OTK_NOISE_KEY_LEN], prologue[64];
    size_t plen = unhex(prologue_hex, prologue, sizeof prologue);

    side_init(sd, fill);
    psk_counting(psk, psk_first);
    assert_int_equal(otk_noise_start(&sd->noise, &sd->crypto, initiator, psk, prologue, plen),
                     OTK_OK);
    assert_int_equal(sd->rnd.calls, 1);
}

/* ESPHome's frame around a handshake message or a transport ciphertext (native_wire.h). */
static size_t
frame(uint8_t *out, const uint8_t *payload, size_t len, int status)
{
    size_t n = len + (status >= 0);

    out[0] = OTK_NAT_NOISE_FRAME_INDICATOR;
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)n;
    if (status >= 0)
        out[3] = (uint8_t)status;
    memcpy(out + OTK_NAT_NOISE_FRAME_HDR + (status >= 0), payload, len);
    return OTK_NAT_NOISE_FRAME_HDR + n;
}

/* Both sides of the reference's handshake; checks every intermediate value on the way. */
static void
handshake(struct side *host, struct side *dev)
{
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN], fr[64];

    start(host, HOST_EPRIV_BYTE, true, 0, PROLOGUE_HEX);
    start(dev, DEVICE_EPRIV_BYTE, false, 0, PROLOGUE_HEX);
    /* before message 1 mixes the key in, ck is h after the name and h the one after the prologue */
    assert_hex(host->noise.ck, 32, H_NAME_HEX);
    assert_hex(host->noise.h, 32, H_PROLOGUE_HEX);
    assert_hex(dev->noise.h, 32, H_PROLOGUE_HEX);

    assert_int_equal(otk_noise_write_handshake(&host->noise, msg), OTK_OK);
    assert_hex(fr, frame(fr, msg, sizeof msg, OTK_NAT_NOISE_HANDSHAKE_OK), FRAME1_HEX);
    assert_false(otk_noise_ready(&host->noise));
    assert_int_equal(otk_noise_read_handshake(&dev->noise, msg, sizeof msg), OTK_OK);
    assert_false(otk_noise_ready(&dev->noise));

    assert_int_equal(otk_noise_write_handshake(&dev->noise, msg), OTK_OK);
    assert_hex(fr, frame(fr, msg, sizeof msg, OTK_NAT_NOISE_HANDSHAKE_OK), FRAME2_HEX);
    assert_true(otk_noise_ready(&dev->noise));
    assert_int_equal(otk_noise_read_handshake(&host->noise, msg, sizeof msg), OTK_OK);
    assert_true(otk_noise_ready(&host->noise));
}

static void
test_reference_handshake(void **state)
{
    struct side host, dev;

    (void)state;
    handshake(&host, &dev);
    assert_hex(host.noise.tx, 32, K1_HEX);
    assert_hex(host.noise.rx, 32, K2_HEX);
    assert_hex(dev.noise.rx, 32, K1_HEX);
    assert_hex(dev.noise.tx, 32, K2_HEX);
    assert_hex(host.noise.h, 32, HANDSHAKE_HASH);
    assert_hex(dev.noise.h, 32, HANDSHAKE_HASH);
}

/* The public keys alone, through the port's op (a check of the vector's ephemeral keys). */
static void
test_reference_public_keys(void **state)
{
    uint8_t priv[32], pub[32];

    (void)state;
    memset(priv, HOST_EPRIV_BYTE, sizeof priv);
    assert_int_equal(otk_posix_crypto()->x25519(priv, NULL, pub), OTK_OK);
    assert_hex(pub, 32, HOST_EPUB_HEX);
    memset(priv, DEVICE_EPRIV_BYTE, sizeof priv);
    assert_int_equal(otk_posix_crypto()->x25519(priv, NULL, pub), OTK_OK);
    assert_hex(pub, 32, DEVICE_EPUB_HEX);
}

/* Encrypt len bytes on `from` and compare the frame with the reference; `to` decrypts it. */
static void
transport_unit(struct side *from, struct side *to, const char *plain_hex, const char *frame_hex)
{
    uint8_t plain[8], ct[8 + OTK_NOISE_TAG_LEN], fr[64], back[sizeof ct];
    size_t len = unhex(plain_hex, plain, sizeof plain);

    assert_int_equal(otk_noise_encrypt(&from->noise, plain, len, ct), OTK_OK);
    assert_hex(fr, frame(fr, ct, len + OTK_NOISE_TAG_LEN, -1), frame_hex);
    assert_int_equal(otk_noise_decrypt(&to->noise, ct, len + OTK_NOISE_TAG_LEN, back), OTK_OK);
    assert_memory_equal(back, plain, len);
}

static void
test_reference_transport(void **state)
{
    struct side host, dev;

    (void)state;
    handshake(&host, &dev);
    transport_unit(&dev, &host, "41", AUTH_OK_FRAME);
    transport_unit(&host, &dev, "00", TYPE_FRAME);
    transport_unit(&host, &dev, "00010000", SIZE_FRAME);
    assert_int_equal(host.noise.tx_n, 2);
    assert_int_equal(dev.noise.rx_n, 2);
    assert_int_equal(dev.noise.tx_n, 1);
    assert_int_equal(host.noise.rx_n, 1);
}

/* After a failure the session is over: every further call is refused. */
static void
assert_session_over(struct otk_noise *s)
{
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN] = {0}, buf[OTK_NOISE_TAG_LEN + 1] = {0};

    assert_false(otk_noise_ready(s));
    assert_int_equal(otk_noise_write_handshake(s, msg), OTK_ERR_STATE);
    assert_int_equal(otk_noise_read_handshake(s, msg, sizeof msg), OTK_ERR_STATE);
    assert_int_equal(otk_noise_encrypt(s, buf, 1, buf), OTK_ERR_STATE);
    assert_int_equal(otk_noise_decrypt(s, buf, sizeof buf, buf), OTK_ERR_STATE);
}

static void
test_wrong_key(void **state)
{
    struct side host, dev;
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    start(&host, HOST_EPRIV_BYTE, true, 1, PROLOGUE_HEX); /* key 01..20 */
    start(&dev, DEVICE_EPRIV_BYTE, false, 0, PROLOGUE_HEX);
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_OK);
    assert_hex(msg, 32, HOST_EPUB_HEX);
    assert_hex(msg + 32, OTK_NOISE_TAG_LEN, WRONG_KEY_TAG);
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg), OTK_ERR_AUTH);
    assert_session_over(&dev.noise);
}

/* The device saw client features 04 where the host sent 0F (a stripped flag): MAC failure. */
static void
test_prologue_one_byte_differs(void **state)
{
    struct side host, dev;
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    start(&host, HOST_EPRIV_BYTE, true, 0, PROLOGUE_HEX);
    start(&dev, DEVICE_EPRIV_BYTE, false, 0, "4e6f6973654f5441496e69746c26f75c450002044804");
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_OK);
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg), OTK_ERR_AUTH);
}

/* Message 2 tampered on the way back: the host refuses it. */
static void
test_tampered_message2(void **state)
{
    struct side host, dev;
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    start(&host, HOST_EPRIV_BYTE, true, 0, PROLOGUE_HEX);
    start(&dev, DEVICE_EPRIV_BYTE, false, 0, PROLOGUE_HEX);
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_OK);
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg), OTK_OK);
    assert_int_equal(otk_noise_write_handshake(&dev.noise, msg), OTK_OK);
    msg[40] ^= 0x01;
    assert_int_equal(otk_noise_read_handshake(&host.noise, msg, sizeof msg), OTK_ERR_AUTH);
    assert_session_over(&host.noise);
}

static void
test_tampered_transport_tag(void **state)
{
    struct side host, dev;
    uint8_t ct[1 + OTK_NOISE_TAG_LEN], bad[sizeof ct], out[sizeof ct];

    (void)state;
    handshake(&host, &dev);
    assert_int_equal(otk_noise_encrypt(&dev.noise, (const uint8_t *)"\x41", 1, ct), OTK_OK);
    memcpy(bad, ct, sizeof ct);
    bad[sizeof bad - 1] ^= 0x80;
    assert_int_equal(otk_noise_decrypt(&host.noise, bad, sizeof bad, out), OTK_ERR_AUTH);
    assert_int_equal(host.noise.rx_n, 0); /* a refused frame does not count */
    memcpy(bad, ct, sizeof ct);
    bad[0] ^= 0x01; /* the ciphertext rather than the tag */
    assert_int_equal(otk_noise_decrypt(&host.noise, bad, sizeof bad, out), OTK_ERR_AUTH);
    assert_int_equal(otk_noise_decrypt(&host.noise, ct, sizeof ct, out), OTK_OK);
    assert_int_equal(out[0], 0x41);
}

/* Each frame gets the next nonce: the same plaintext encrypts differently, a reordered or
 * replayed frame is refused, and in-place use works (the protocol engine decrypts in place). */
static void
test_counters_advance(void **state)
{
    struct side host, dev;
    uint8_t a[4 + OTK_NOISE_TAG_LEN], b[sizeof a], replay[sizeof a], out[sizeof a];

    (void)state;
    handshake(&host, &dev);
    assert_int_equal(otk_noise_encrypt(&host.noise, (const uint8_t *)"ping", 4, a), OTK_OK);
    assert_int_equal(otk_noise_encrypt(&host.noise, (const uint8_t *)"ping", 4, b), OTK_OK);
    assert_int_equal(host.noise.tx_n, 2);
    assert_memory_not_equal(a, b, sizeof a);
    memcpy(replay, a, sizeof a);
    /* b first: it was sealed with nonce 1, the device expects 0 */
    assert_int_equal(otk_noise_decrypt(&dev.noise, b, sizeof b, out), OTK_ERR_AUTH);
    assert_int_equal(otk_noise_decrypt(&dev.noise, a, sizeof a, a), OTK_OK);
    assert_memory_equal(a, "ping", 4);
    assert_int_equal(otk_noise_decrypt(&dev.noise, b, sizeof b, b), OTK_OK);
    assert_memory_equal(b, "ping", 4);
    /* the first frame again: nonce 0 is spent */
    assert_int_equal(otk_noise_decrypt(&dev.noise, replay, sizeof replay, out), OTK_ERR_AUTH);
    assert_int_equal(dev.noise.rx_n, 2);
    /* the other direction counts on its own, from 0 */
    assert_int_equal(dev.noise.tx_n, 0);
    assert_int_equal(otk_noise_encrypt(&dev.noise, (const uint8_t *)"pong", 4, a), OTK_OK);
    assert_int_equal(otk_noise_decrypt(&host.noise, a, sizeof a, out), OTK_OK);
    assert_memory_equal(out, "pong", 4);
}

/* The full data frame size: 1024 bytes in one frame, in place. */
static void
test_full_data_frame(void **state)
{
    struct side host, dev;
    uint8_t buf[OTK_NAT_NOISE_MAX_PLAINTEXT + OTK_NOISE_TAG_LEN];

    (void)state;
    handshake(&host, &dev);
    for (size_t i = 0; i < OTK_NAT_NOISE_MAX_PLAINTEXT; i++)
        buf[i] = (uint8_t)(i * 7);
    assert_int_equal(otk_noise_encrypt(&host.noise, buf, OTK_NAT_NOISE_MAX_PLAINTEXT, buf), OTK_OK);
    assert_int_not_equal(buf[5], 35);
    assert_int_equal(otk_noise_decrypt(&dev.noise, buf, sizeof buf, buf), OTK_OK);
    for (size_t i = 0; i < OTK_NAT_NOISE_MAX_PLAINTEXT; i++)
        assert_int_equal(buf[i], (uint8_t)(i * 7));
}

static void
test_zero_psk_refused(void **state)
{
    struct side sd;
    uint8_t psk[OTK_NOISE_KEY_LEN] = {0}, msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    side_init(&sd, HOST_EPRIV_BYTE);
    assert_int_equal(otk_noise_start(&sd.noise, &sd.crypto, true, psk, NULL, 0), OTK_ERR_ARG);
    assert_int_equal(otk_noise_write_handshake(&sd.noise, msg), OTK_ERR_STATE);
    psk[31] = 1;
    assert_int_equal(otk_noise_start(&sd.noise, &sd.crypto, true, psk, NULL, 0), OTK_OK);
    assert_int_equal(otk_noise_write_handshake(&sd.noise, msg), OTK_OK);
}

/* Out of turn, wrong lengths, a missing op: clear errors, nothing changes. */
static void
test_misuse(void **state)
{
    struct side host, dev;
    struct otk_crypto_ops no_x25519 = *otk_posix_crypto();
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN] = {0}, psk[OTK_NOISE_KEY_LEN], buf[32] = {0};

    (void)state;
    psk_counting(psk, 0);
    no_x25519.x25519 = NULL;
    assert_int_equal(otk_noise_start(&host.noise, &no_x25519, true, psk, NULL, 0), OTK_ERR_ARG);
    start(&host, HOST_EPRIV_BYTE, true, 0, PROLOGUE_HEX);
    start(&dev, DEVICE_EPRIV_BYTE, false, 0, PROLOGUE_HEX);
    assert_int_equal(otk_noise_read_handshake(&host.noise, msg, sizeof msg), OTK_ERR_STATE);
    assert_int_equal(otk_noise_write_handshake(&dev.noise, msg), OTK_ERR_STATE);
    assert_int_equal(otk_noise_encrypt(&host.noise, buf, 1, buf), OTK_ERR_STATE);
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_OK);
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_ERR_STATE);
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg - 1), OTK_ERR_MALFORMED);
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg), OTK_OK);
    assert_int_equal(otk_noise_write_handshake(&dev.noise, msg), OTK_OK);
    assert_int_equal(otk_noise_read_handshake(&host.noise, msg, sizeof msg), OTK_OK);
    assert_int_equal(otk_noise_decrypt(&host.noise, buf, OTK_NOISE_TAG_LEN - 1, buf),
                     OTK_ERR_MALFORMED);
    assert_int_equal(otk_noise_read_handshake(&host.noise, msg, sizeof msg), OTK_ERR_STATE);
}

static int
failing_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    (void)buf;
    (void)len;
    return OTK_ERR_CRYPTO;
}

/* No randomness, no session: the error says so and nothing can be sent. */
static void
test_random_failure(void **state)
{
    struct side sd;
    uint8_t psk[OTK_NOISE_KEY_LEN], msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    side_init(&sd, HOST_EPRIV_BYTE);
    sd.crypto.random = failing_random;
    psk_counting(psk, 0);
    assert_int_equal(otk_noise_start(&sd.noise, &sd.crypto, true, psk, NULL, 0), OTK_ERR_CRYPTO);
    assert_session_over(&sd.noise);
    assert_int_equal(otk_noise_write_handshake(&sd.noise, msg), OTK_ERR_STATE);
}

/* A port op that answers the public key with all zero: the initiator then sends u = 0 (a point
 * of small order) with a tag made with the right key. */
static int
zero_public_key(const uint8_t scalar[32], const uint8_t *point, uint8_t out[32])
{
    if (point)
        return otk_posix_crypto()->x25519(scalar, point, out);
    memset(out, 0, 32);
    return OTK_OK;
}

/* The responder's DH with a small-order key gives all zero: refused, the session is over. */
static void
test_small_order_key(void **state)
{
    struct side host, dev;
    uint8_t msg[OTK_NOISE_HANDSHAKE_LEN];

    (void)state;
    start(&host, HOST_EPRIV_BYTE, true, 0, PROLOGUE_HEX);
    host.crypto.x25519 = zero_public_key;
    start(&dev, DEVICE_EPRIV_BYTE, false, 0, PROLOGUE_HEX);
    assert_int_equal(otk_noise_write_handshake(&host.noise, msg), OTK_OK);
    assert_hex(msg, 32, "0000000000000000000000000000000000000000000000000000000000000000");
    assert_int_equal(otk_noise_read_handshake(&dev.noise, msg, sizeof msg), OTK_OK);
    assert_int_equal(otk_noise_write_handshake(&dev.noise, msg), OTK_ERR_CRYPTO);
    assert_session_over(&dev.noise);
}

static void
x25519_vector(const char *scalar_hex, const char *u_hex, const char *want_hex)
{
    uint8_t scalar[32], u[32], out[32];

    unhex(scalar_hex, scalar, sizeof scalar);
    unhex(u_hex, u, sizeof u);
    assert_int_equal(otk_posix_crypto()->x25519(scalar, u, out), OTK_OK);
    assert_hex(out, 32, want_hex);
}

/* RFC 7748 5.2 (the second has bit 255 of u set: masked) and 6.1 (Diffie-Hellman). */
static void
test_rfc7748_vectors(void **state)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint8_t alice[32], pub[32];

    (void)state;
    x25519_vector("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
                  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
                  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
    x25519_vector("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
                  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
                  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");
    unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", alice, 32);
    assert_int_equal(c->x25519(alice, NULL, pub), OTK_OK);
    assert_hex(pub, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    x25519_vector("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
                  "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
                  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    x25519_vector("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
                  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
                  "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
}

/* RFC 7748 5.2, the iterated test: k = X25519(k, u), u = old k, from k = u = 9; after 1 and
 * after 1000 iterations. */
static void
test_rfc7748_iterated(void **state)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint8_t k[32] = {9}, u[32] = {9}, r[32];

    (void)state;
    for (int i = 1; i <= 1000; i++) {
        assert_int_equal(c->x25519(k, u, r), OTK_OK);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
        if (i == 1)
            assert_hex(k, 32, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
    assert_hex(k, 32, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
}

#define RFC8439_PLAIN                                                                              \
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "         \
    "future, sunscreen would be it."
#define RFC8439_CIPHER                                                                             \
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92" \
    "728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b" \
    "4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
#define RFC8439_TAG "1ae10b594f09e26a7e902ecbd0600691"

/* RFC 8439 2.8.2: seal, open, open in place, and a flipped bit refused. */
static void
test_rfc8439_aead(void **state)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint8_t key[32], nonce[12], ad[12], ct[sizeof RFC8439_PLAIN], tag[16], out[sizeof ct];
    size_t len = sizeof RFC8439_PLAIN - 1;

    (void)state;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(0x80 + i);
    unhex("070000004041424344454647", nonce, sizeof nonce);
    unhex("50515253c0c1c2c3c4c5c6c7", ad, sizeof ad);
    assert_int_equal(c->chachapoly_seal(key, nonce, ad, sizeof ad, RFC8439_PLAIN, len, ct, tag),
                     OTK_OK);
    assert_hex(ct, len, RFC8439_CIPHER);
    assert_hex(tag, 16, RFC8439_TAG);
    assert_int_equal(c->chachapoly_open(key, nonce, ad, sizeof ad, ct, len, out, tag), OTK_OK);
    assert_memory_equal(out, RFC8439_PLAIN, len);
    ad[0] ^= 1;
    assert_int_equal(c->chachapoly_open(key, nonce, ad, sizeof ad, ct, len, out, tag),
                     OTK_ERR_AUTH);
    ad[0] ^= 1;
    tag[15] ^= 1;
    assert_int_equal(c->chachapoly_open(key, nonce, ad, sizeof ad, ct, len, out, tag),
                     OTK_ERR_AUTH);
    tag[15] ^= 1;
    assert_int_equal(c->chachapoly_open(key, nonce, ad, sizeof ad, ct, len, ct, tag), OTK_OK);
    assert_memory_equal(ct, RFC8439_PLAIN, len);
}

/* RFC 4231 test case 2 (a key shorter than the block). */
static void
test_rfc4231_hmac(void **state)
{
    uint8_t out[32];
    const char *data = "what do ya want for nothing?";

    (void)state;
    otk_posix_crypto()->hmac_sha256("Jefe", 4, data, strlen(data), out);
    assert_hex(out, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_handshake),
        cmocka_unit_test(test_reference_public_keys),
        cmocka_unit_test(test_reference_transport),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_prologue_one_byte_differs),
        cmocka_unit_test(test_tampered_message2),
        cmocka_unit_test(test_tampered_transport_tag),
        cmocka_unit_test(test_counters_advance),
        cmocka_unit_test(test_full_data_frame),
        cmocka_unit_test(test_zero_psk_refused),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_small_order_key),
        cmocka_unit_test(test_random_failure),
        cmocka_unit_test(test_rfc7748_vectors),
        cmocka_unit_test(test_rfc7748_iterated),
        cmocka_unit_test(test_rfc8439_aead),
        cmocka_unit_test(test_rfc4231_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
