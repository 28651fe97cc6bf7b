/* SPDX-License-Identifier: MIT */
/* Noise_NNpsk0_25519_ChaChaPoly_SHA256 (Noise spec revision 34) for ESPHome's native OTA
 * protocol, on the port's primitives. The pattern is
 *     -> psk, e
 *     <- e, ee
 * so each side mixes the key in at message 1, sends one ephemeral key each, and both derive the
 * same two transport keys from one Diffie-Hellman result. Every handshake encryption follows a
 * fresh MixKey, so the handshake cipher's nonce is always 0. */
#include <string.h>

#include "otakit/err.h"
#include "otakit/noise.h"

#if OTK_CFG_NOISE

#define HASH_LEN            32
#define NOISE_PROTOCOL_NAME "Noise_NNpsk0_25519_ChaChaPoly_SHA256"

/* Handshake progress (struct otk_noise.step). */
enum {
    STEP_MSG1,      /* message 1 (initiator -> responder) is next */
    STEP_MSG2,      /* message 2 (responder -> initiator) is next */
    STEP_TRANSPORT, /* keys split */
    STEP_FAILED     /* a message failed: the session is over */
};

/* Secrets must not outlive their use; a volatile store keeps the compiler from dropping it. */
static void
wipe(void *p, size_t len)
{
    volatile uint8_t *b = p;

    while (len--)
        *b++ = 0;
}

static void
hash2(const struct otk_crypto_ops *c, const void *a, size_t a_len, const void *b, size_t b_len,
      uint8_t out[HASH_LEN])
{
    union otk_hash_ctx ctx;

    c->sha256_start(&ctx);
    c->sha256_update(&ctx, a, a_len);
    c->sha256_update(&ctx, b, b_len);
    c->sha256_finish(&ctx, out);
}

/* MixHash: h = SHA-256(h || data). */
static void
mix_hash(struct otk_noise *s, const void *data, size_t len)
{
    hash2(s->crypto, s->h, HASH_LEN, data, len, s->h);
}

/* HKDF(ck, ikm) with two or three outputs, as the Noise spec defines it on HMAC-SHA-256. */
static void
hkdf(const struct otk_crypto_ops *c, const uint8_t ck[HASH_LEN], const void *ikm, size_t ikm_len,
     uint8_t out1[HASH_LEN], uint8_t out2[HASH_LEN], uint8_t *out3)
{
    uint8_t temp[HASH_LEN], buf[HASH_LEN + 1];

    c->hmac_sha256(ck, HASH_LEN, ikm, ikm_len, temp);
    buf[0] = 1;
    c->hmac_sha256(temp, HASH_LEN, buf, 1, out1);
    memcpy(buf, out1, HASH_LEN);
    buf[HASH_LEN] = 2;
    c->hmac_sha256(temp, HASH_LEN, buf, sizeof buf, out2);
    if (out3) {
        memcpy(buf, out2, HASH_LEN);
        buf[HASH_LEN] = 3;
        c->hmac_sha256(temp, HASH_LEN, buf, sizeof buf, out3);
    }
    wipe(temp, sizeof temp);
    wipe(buf, sizeof buf);
}

/* MixKey: (ck, k) = HKDF(ck, ikm); the handshake nonce restarts at 0. */
static void
mix_key(struct otk_noise *s, const void *ikm, size_t len)
{
    uint8_t ck[HASH_LEN];

    hkdf(s->crypto, s->ck, ikm, len, ck, s->k, NULL);
    memcpy(s->ck, ck, HASH_LEN);
    wipe(ck, sizeof ck);
}

/* Nonce: 4 zero bytes, then the 64-bit counter little-endian (ChaChaPoly in the Noise spec). */
static void
make_nonce(uint64_t n, uint8_t nonce[12])
{
    memset(nonce, 0, 4);
    for (int i = 0; i < 8; i++)
        nonce[4 + i] = (uint8_t)(n >> (8 * i));
}

/* The start of message 1 on either side: the psk token, MixKeyAndHash(psk). Until now k held the
 * pre-shared key (otk_noise_start put it there). */
static void
mix_psk(struct otk_noise *s)
{
    uint8_t ck[HASH_LEN], t[HASH_LEN], psk[OTK_NOISE_KEY_LEN];

    memcpy(psk, s->k, sizeof psk);
    hkdf(s->crypto, s->ck, psk, sizeof psk, ck, t, s->k);
    memcpy(s->ck, ck, HASH_LEN);
    mix_hash(s, t, sizeof t);
    wipe(ck, sizeof ck);
    wipe(t, sizeof t);
    wipe(psk, sizeof psk);
}

/* An "e" token seen from either side (the psk modes mix the key into ck as well). */
static void
mix_ephemeral(struct otk_noise *s, const uint8_t pub[32])
{
    mix_hash(s, pub, 32);
    mix_key(s, pub, 32);
}

/* EncryptAndHash of the empty payload: the 16-byte tag that proves the key and the transcript. */
static int
seal_empty(struct otk_noise *s, uint8_t tag[OTK_NOISE_TAG_LEN])
{
    uint8_t nonce[12];
    int rc;

    make_nonce(0, nonce);
    rc = s->crypto->chachapoly_seal(s->k, nonce, s->h, HASH_LEN, tag, 0, tag, tag);
    if (rc != OTK_OK)
        return OTK_ERR_CRYPTO;
    mix_hash(s, tag, OTK_NOISE_TAG_LEN);
    return OTK_OK;
}

/* DecryptAndHash of the empty payload. */
static int
open_empty(struct otk_noise *s, const uint8_t tag[OTK_NOISE_TAG_LEN])
{
    uint8_t nonce[12], none[1];
    int rc;

    make_nonce(0, nonce);
    rc = s->crypto->chachapoly_open(s->k, nonce, s->h, HASH_LEN, none, 0, none, tag);
    if (rc != OTK_OK)
        return rc == OTK_ERR_AUTH ? OTK_ERR_AUTH : OTK_ERR_CRYPTO;
    mix_hash(s, tag, OTK_NOISE_TAG_LEN);
    return OTK_OK;
}

/* Split: k1 carries initiator -> responder (host -> device), k2 the other way. What only served
 * the handshake is wiped; h stays (the handshake hash). */
static void
split(struct otk_noise *s)
{
    uint8_t k1[HASH_LEN], k2[HASH_LEN];

    hkdf(s->crypto, s->ck, s->ck, 0, k1, k2, NULL);
    memcpy(s->initiator ? s->tx : s->rx, k1, HASH_LEN);
    memcpy(s->initiator ? s->rx : s->tx, k2, HASH_LEN);
    s->tx_n = 0;
    s->rx_n = 0;
    wipe(k1, sizeof k1);
    wipe(k2, sizeof k2);
    wipe(s->ck, sizeof s->ck);
    wipe(s->k, sizeof s->k);
    wipe(s->e, sizeof s->e);
    s->step = STEP_TRANSPORT;
}

/* After a failed message the state is half-mixed: nothing may use it again. */
static int
fail(struct otk_noise *s, int rc)
{
    const struct otk_crypto_ops *c = s->crypto;

    wipe(s, sizeof *s);
    s->crypto = c;
    s->step = STEP_FAILED;
    return rc;
}

/* The "ee" token: the one Diffie-Hellman result both transport keys come from. */
static int
finish_dh(struct otk_noise *s, const uint8_t peer_pub[32])
{
    uint8_t shared[32];
    int rc;

    rc = s->crypto->x25519(s->e, peer_pub, shared);
    if (rc == OTK_OK)
        mix_key(s, shared, sizeof shared);
    wipe(shared, sizeof shared);
    return rc == OTK_OK ? OTK_OK : OTK_ERR_CRYPTO;
}

static bool
all_zero(const uint8_t *b, size_t len)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < len; i++)
        acc |= b[i];
    return acc == 0;
}

int
otk_noise_start(struct otk_noise *s, const struct otk_crypto_ops *crypto, bool initiator,
                const uint8_t psk[OTK_NOISE_KEY_LEN], const uint8_t *prologue, size_t prologue_len)
{
    if (!s || !crypto || !psk || (!prologue && prologue_len) || !crypto->random ||
        !crypto->x25519 || !crypto->hmac_sha256 || !crypto->chachapoly_seal ||
        !crypto->chachapoly_open)
        return OTK_ERR_ARG;
    memset(s, 0, sizeof *s);
    s->step = STEP_FAILED; /* until it has started */
    if (all_zero(psk, OTK_NOISE_KEY_LEN))
        return OTK_ERR_ARG;
    s->crypto = crypto;
    s->initiator = initiator;
    if (crypto->random(crypto->user, s->e, sizeof s->e) != OTK_OK) {
        wipe(s->e, sizeof s->e);
        return OTK_ERR_CRYPTO;
    }
    /* The name is longer than a hash, so h = SHA-256(name); ck starts as h. */
    hash2(crypto, NOISE_PROTOCOL_NAME, sizeof NOISE_PROTOCOL_NAME - 1, "", 0, s->h);
    memcpy(s->ck, s->h, HASH_LEN);
    mix_hash(s, prologue ? prologue : s->h, prologue_len);
    /* k holds the pre-shared key until message 1 mixes it in (mix_psk): until then h and ck are
     * the spec's values after the prologue, which the tests compare with the reference. */
    memcpy(s->k, psk, OTK_NOISE_KEY_LEN);
    s->step = STEP_MSG1;
    return OTK_OK;
}

int
otk_noise_write_handshake(struct otk_noise *s, uint8_t out[OTK_NOISE_HANDSHAKE_LEN])
{
    int rc;

    if (!s || !out || s->step != (s->initiator ? STEP_MSG1 : STEP_MSG2))
        return OTK_ERR_STATE;
    if (s->initiator)
        mix_psk(s);
    if (s->crypto->x25519(s->e, NULL, out) != OTK_OK)
        return fail(s, OTK_ERR_CRYPTO);
    mix_ephemeral(s, out);
    if (!s->initiator) {
        /* the responder kept the initiator's e.pub in rx until now (otk_noise_read_handshake) */
        rc = finish_dh(s, s->rx);
        if (rc != OTK_OK)
            return fail(s, rc);
    }
    rc = seal_empty(s, out + 32);
    if (rc != OTK_OK)
        return fail(s, rc);
    if (s->initiator)
        s->step = STEP_MSG2;
    else
        split(s);
    return OTK_OK;
}

int
otk_noise_read_handshake(struct otk_noise *s, const uint8_t *msg, size_t len)
{
    int rc;

    if (!s || s->step != (s->initiator ? STEP_MSG2 : STEP_MSG1))
        return OTK_ERR_STATE;
    if (!msg || len != OTK_NOISE_HANDSHAKE_LEN)
        return OTK_ERR_MALFORMED;
    if (!s->initiator)
        mix_psk(s);
    mix_ephemeral(s, msg);
    if (s->initiator) {
        rc = finish_dh(s, msg);
        if (rc != OTK_OK)
            return fail(s, rc);
    }
    rc = open_empty(s, msg + 32);
    if (rc != OTK_OK)
        return fail(s, rc);
    if (s->initiator) {
        split(s);
    } else {
        /* Keep the initiator's ephemeral key for "ee" in our reply; rx is unused until the
         * split, which overwrites it. */
        memcpy(s->rx, msg, 32);
        s->step = STEP_MSG2;
    }
    return OTK_OK;
}

bool
otk_noise_ready(const struct otk_noise *s)
{
    return s && s->step == STEP_TRANSPORT;
}

int
otk_noise_encrypt(struct otk_noise *s, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[12];

    if (!otk_noise_ready(s))
        return OTK_ERR_STATE;
    if ((!in && len) || !out)
        return OTK_ERR_ARG;
    /* the spec reserves the last nonce; a session never gets near it, a bug might */
    if (s->tx_n == UINT64_MAX)
        return OTK_ERR_STATE;
    make_nonce(s->tx_n, nonce);
    if (s->crypto->chachapoly_seal(s->tx, nonce, NULL, 0, in ? in : out, len, out, out + len) !=
        OTK_OK)
        return OTK_ERR_CRYPTO;
    s->tx_n++;
    return OTK_OK;
}

int
otk_noise_decrypt(struct otk_noise *s, const uint8_t *in, size_t len, uint8_t *out)
{
    uint8_t nonce[12];
    int rc;

    if (!otk_noise_ready(s))
        return OTK_ERR_STATE;
    if (!in || !out)
        return OTK_ERR_ARG;
    if (len < OTK_NOISE_TAG_LEN)
        return OTK_ERR_MALFORMED;
    if (s->rx_n == UINT64_MAX)
        return OTK_ERR_STATE;
    make_nonce(s->rx_n, nonce);
    rc = s->crypto->chachapoly_open(s->rx, nonce, NULL, 0, in, len - OTK_NOISE_TAG_LEN, out,
                                    in + len - OTK_NOISE_TAG_LEN);
    if (rc != OTK_OK)
        return rc == OTK_ERR_AUTH ? OTK_ERR_AUTH : OTK_ERR_CRYPTO;
    /* a frame that failed leaves the counter where it was: the connection is dropped anyway */
    s->rx_n++;
    return OTK_OK;
}

#else
typedef int otk_noise_left_out; /* ISO C forbids an empty translation unit */
#endif
