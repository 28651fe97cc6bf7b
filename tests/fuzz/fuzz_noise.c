/* SPDX-License-Identifier: MIT */
/* Noise (src/core/noise.c) reading what the wire brings: the peer's handshake message and then
 * transport frames, from the input, on one side of a session whose other side is honest. The
 * side under test is the device (responder) or the uploader (initiator), with the key the honest
 * side holds or another one. Invariants: only the listed errors come back; a handshake message
 * is accepted only if it is the honest peer's (nobody forges a MAC), never with a wrong key, and
 * then both sides agree on every key; a transport frame is accepted only if sealing its
 * plaintext at the same counter gives the frame back; a refused frame does not move the counter.
 *
 * Input: one byte of flags (NF_*), one byte of length and the handshake message, then frames:
 * one byte op, u16 length, the bytes (op 0: raw ciphertext for the side under test; op 1: the
 * honest side encrypts these bytes, the side under test must decrypt them; op 2: the same
 * encrypted by the honest side and lost on the way). */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NF_HOST_UNDER_TEST 0x01 /* else the device */
#define NF_WRONG_KEY       0x02 /* the side under test holds another key */
#define NF_OWN_MESSAGE     0x04 /* the honest peer's message as it is, not the input's */

#define MAX_FRAME (1024 + OTK_NOISE_TAG_LEN)

struct fuzz_side {
    struct fuzz_crypto crypto;
    struct otk_noise noise;
};

/* Both sides up to the message the side under test reads, and the honest peer's message (none
 * when the peer refused the host's wrong key). The same for every run with the same flags, so
 * it is made once per flags: X25519 is what makes this target slow. */
struct prepared {
    bool done, have_honest;
    struct fuzz_side test, peer;
    uint8_t honest[OTK_NOISE_HANDSHAKE_LEN];
};

static void
prepare(struct prepared *pr, bool host, bool wrong)
{
    uint8_t first[OTK_NOISE_HANDSHAKE_LEN];
    int rc;

    FUZZ_CHECK(fuzz_noise_start(&pr->test.noise, &pr->test.crypto, host, wrong ? 1 : 0,
                                host ? 1 : 2) == OTK_OK);
    FUZZ_CHECK(fuzz_noise_start(&pr->peer.noise, &pr->peer.crypto, !host, 0, host ? 2 : 1) ==
               OTK_OK);
    pr->have_honest = true;
    if (host) {
        /* the host's message 1 reaches the honest device, whose reply is replaced */
        FUZZ_CHECK(otk_noise_write_handshake(&pr->test.noise, first) == OTK_OK);
        rc = otk_noise_read_handshake(&pr->peer.noise, first, sizeof first);
        FUZZ_CHECK(rc == (wrong ? OTK_ERR_AUTH : OTK_OK));
        pr->have_honest = rc == OTK_OK;
    }
    if (pr->have_honest)
        FUZZ_CHECK(otk_noise_write_handshake(&pr->peer.noise, pr->honest) == OTK_OK);
    pr->done = true;
}

/* A copy of a prepared side: its session must use its own crypto provider. */
static void
side_copy(struct fuzz_side *dst, const struct fuzz_side *src)
{
    *dst = *src;
    dst->crypto.ops.user = &dst->crypto;
    dst->noise.crypto = &dst->crypto.ops;
}

/* The handshake; @return whether it completed. */
static bool
handshake(struct fuzz_side *test, struct fuzz_side *peer, uint8_t flags, struct fuzz_in *in)
{
    static struct prepared cache[4];
    bool host = flags & NF_HOST_UNDER_TEST, wrong = flags & NF_WRONG_KEY;
    struct prepared *pr = &cache[flags & 3];
    uint8_t second[OTK_NOISE_HANDSHAKE_LEN];
    const uint8_t *msg;
    size_t len;
    int rc;

    if (!pr->done)
        prepare(pr, host, wrong);
    side_copy(test, &pr->test);
    side_copy(peer, &pr->peer);
    len = fin_take(in, fin_u8(in), &msg);
    if ((flags & NF_OWN_MESSAGE) && pr->have_honest) {
        msg = pr->honest;
        len = sizeof pr->honest;
    }
    rc = otk_noise_read_handshake(&test->noise, msg, len);
    FUZZ_CHECK(rc == OTK_OK || rc == OTK_ERR_AUTH || rc == OTK_ERR_MALFORMED ||
               rc == OTK_ERR_CRYPTO);
    FUZZ_CHECK(rc != OTK_ERR_MALFORMED || len != OTK_NOISE_HANDSHAKE_LEN);
    if (rc != OTK_OK)
        return false;
    /* nobody forges a MAC: accepted means the honest peer's message, with the same key */
    FUZZ_CHECK(!wrong && pr->have_honest);
    FUZZ_CHECK(len == sizeof pr->honest && memcmp(msg, pr->honest, len) == 0);
    if (!host) {
        FUZZ_CHECK(otk_noise_write_handshake(&test->noise, second) == OTK_OK);
        FUZZ_CHECK(otk_noise_read_handshake(&peer->noise, second, sizeof second) == OTK_OK);
    }
    FUZZ_CHECK(otk_noise_ready(&test->noise) && otk_noise_ready(&peer->noise));
    FUZZ_CHECK(memcmp(test->noise.tx, peer->noise.rx, 32) == 0);
    FUZZ_CHECK(memcmp(test->noise.rx, peer->noise.tx, 32) == 0);
    FUZZ_CHECK(memcmp(test->noise.h, peer->noise.h, 32) == 0);
    return true;
}

/* A raw frame for the side under test: accepted only if it is what the peer would seal. */
static void
raw_frame(struct fuzz_side *test, struct fuzz_side *peer, const uint8_t *p, size_t len)
{
    static uint8_t out[MAX_FRAME], again[MAX_FRAME];
    struct otk_noise sealer = peer->noise;
    uint64_t n = test->noise.rx_n;
    int rc;

    rc = otk_noise_decrypt(&test->noise, p, len, out);
    FUZZ_CHECK(rc == OTK_OK || rc == OTK_ERR_AUTH || rc == OTK_ERR_MALFORMED);
    FUZZ_CHECK(rc != OTK_ERR_MALFORMED || len < OTK_NOISE_TAG_LEN);
    if (rc != OTK_OK) {
        FUZZ_CHECK(test->noise.rx_n == n);
        return;
    }
    FUZZ_CHECK(test->noise.rx_n == n + 1);
    sealer.tx_n = n;
    FUZZ_CHECK(otk_noise_encrypt(&sealer, out, len - OTK_NOISE_TAG_LEN, again) == OTK_OK);
    FUZZ_CHECK(memcmp(again, p, len) == 0);
}

/* The honest peer seals the bytes; delivered (in place) they must come back unchanged. */
static void
honest_frame(struct fuzz_side *test, struct fuzz_side *peer, const uint8_t *p, size_t len,
             bool deliver)
{
    static uint8_t buf[MAX_FRAME];
    bool in_step;
    int rc;

    if (len > MAX_FRAME - OTK_NOISE_TAG_LEN)
        len = MAX_FRAME - OTK_NOISE_TAG_LEN;
    FUZZ_CHECK(otk_noise_encrypt(&peer->noise, p, len, buf) == OTK_OK);
    if (!deliver)
        return;
    /* the counters agree unless a frame was lost (op 2) or a raw one took its place (op 0) */
    in_step = test->noise.rx_n + 1 == peer->noise.tx_n;
    rc = otk_noise_decrypt(&test->noise, buf, len + OTK_NOISE_TAG_LEN, buf);
    if (in_step) {
        FUZZ_CHECK(rc == OTK_OK);
        FUZZ_CHECK(memcmp(buf, p, len) == 0);
    } else {
        FUZZ_CHECK(rc == OTK_ERR_AUTH);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size, 0};
    struct fuzz_side test, peer;
    uint8_t flags = fin_u8(&in);
    const uint8_t *p;
    size_t len;

    if (!handshake(&test, &peer, flags, &in))
        return 0;
    for (int frames = 0; frames < 64 && fin_more(&in); frames++) {
        uint8_t op = fin_u8(&in) % 3;

        len = fin_take(&in, fin_u16(&in) % (MAX_FRAME + 1), &p);
        if (op == 0)
            raw_frame(&test, &peer, p, len);
        else
            honest_frame(&test, &peer, p, len, op == 1);
    }
    return 0;
}
