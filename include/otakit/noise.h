/* SPDX-License-Identifier: MIT */
/* Noise_NNpsk0_25519_ChaChaPoly_SHA256, the handshake and transport ESPHome's native OTA protocol
 * (and its native API) use: two handshake messages, then one cipher per direction. Sans-I/O and
 * freestanding: the bytes come and go through the caller; the primitives (X25519, HMAC-SHA-256,
 * ChaCha20-Poly1305, random) through struct otk_crypto_ops. No framing here: ESPHome's
 * "01 len_hi len_lo payload" frames are the protocol engine's (native_wire.h). */
#ifndef OTK_NOISE_H
#define OTK_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h" /* OTK_CFG_NOISE: whether src/core/noise.c compiles to anything */
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_NOISE_KEY_LEN 32 /* the pre-shared key (ESPHome's base64 api key, decoded) */
#define OTK_NOISE_TAG_LEN 16
#define OTK_NOISE_HANDSHAKE_LEN                                                                    \
    48 /* each handshake message: e.pub (32) + tag of an empty payload */

struct otk_noise {
    /* private: defined here so callers can allocate it */
    const struct otk_crypto_ops *crypto;
    uint8_t h[32];  /* handshake hash */
    uint8_t ck[32]; /* chaining key */
    uint8_t k[32];  /* handshake cipher key */
    uint8_t e[32];  /* our ephemeral private key */
    uint8_t tx[32]; /* transport key we encrypt with */
    uint8_t rx[32]; /* transport key we decrypt with */
    uint64_t tx_n;
    uint64_t rx_n;
    uint8_t step; /* handshake progress */
    bool initiator;
};

/** Begin a handshake. The initiator is the uploader (it writes message 1), the responder the
 *  device. The ephemeral key comes from crypto->random (a test may make that deterministic).
 *  prologue: the bytes both sides saw before the handshake (OTK_NAT_NOISE_PROLOGUE_LEN for
 *  ESPHome's OTA). @return OTK_OK, OTK_ERR_ARG (all-zero psk: ESPHome's "unprovisioned"),
 *  OTK_ERR_CRYPTO. */
int otk_noise_start(struct otk_noise *s, const struct otk_crypto_ops *crypto, bool initiator,
                    const uint8_t psk[OTK_NOISE_KEY_LEN], const uint8_t *prologue,
                    size_t prologue_len);

/** Write our handshake message (the initiator's first, the responder's after reading).
 *  @return OTK_OK, OTK_ERR_STATE (not our turn), OTK_ERR_CRYPTO. */
int otk_noise_write_handshake(struct otk_noise *s, uint8_t out[OTK_NOISE_HANDSHAKE_LEN]);

/** Read the peer's handshake message. @return OTK_OK, OTK_ERR_AUTH (MAC failure: a wrong key or
 *  a prologue that differs), OTK_ERR_MALFORMED (length is not OTK_NOISE_HANDSHAKE_LEN),
 *  OTK_ERR_STATE (not its turn), OTK_ERR_CRYPTO. After OTK_ERR_AUTH or OTK_ERR_CRYPTO (here or
 *  in otk_noise_write_handshake) the session is over: every call returns OTK_ERR_STATE. */
int otk_noise_read_handshake(struct otk_noise *s, const uint8_t *msg, size_t len);

/** Whether both handshake messages went through and the transport keys are split. */
bool otk_noise_ready(const struct otk_noise *s);

/** Encrypt len bytes (empty associated data) into out: len + OTK_NOISE_TAG_LEN bytes; in and out
 *  may be the same buffer. @return OTK_OK, OTK_ERR_STATE (handshake not done), OTK_ERR_CRYPTO. */
int otk_noise_encrypt(struct otk_noise *s, const uint8_t *in, size_t len, uint8_t *out);

/** Decrypt len bytes (ciphertext and tag) into out: len - OTK_NOISE_TAG_LEN bytes; in and out may
 *  be the same buffer. @return OTK_OK, OTK_ERR_AUTH (tag mismatch), OTK_ERR_MALFORMED (shorter
 *  than a tag), OTK_ERR_STATE, OTK_ERR_CRYPTO. */
int otk_noise_decrypt(struct otk_noise *s, const uint8_t *in, size_t len, uint8_t *out);

#ifdef __cplusplus
}
#endif
#endif
