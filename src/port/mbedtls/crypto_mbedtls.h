/* SPDX-License-Identifier: MIT */
/* The crypto ops on mbedTLS (2.x or 3.x), shared by every port that has mbedTLS: the POSIX port
 * (Debian's mbedTLS) and the ESP-IDF port (the mbedTLS ESP-IDF ships, with its hardware SHA). */
#ifndef OTK_CRYPTO_MBEDTLS_H
#define OTK_CRYPTO_MBEDTLS_H

#include <stddef.h>
#include <stdint.h>

#include "otakit/port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The one thing the port supplies: a cryptographically secure random source (getrandom on
 *  POSIX, the hardware RNG on ESP-IDF). Fill buf with len bytes; OTK_OK or OTK_ERR_CRYPTO. It is
 *  the table's random op and also X25519's blinding source (which has no user pointer: user is
 *  NULL there). */
int otk_port_random(void *user, uint8_t *buf, size_t len);

/** MD5, SHA-256, PBKDF2-HMAC-SHA256, the port's random and, with OTK_CFG_NOISE, X25519,
 *  HMAC-SHA-256 and ChaCha20-Poly1305 (NULL without). Shared, read-only. */
const struct otk_crypto_ops *otk_mbedtls_crypto(void);

#ifdef __cplusplus
}
#endif
#endif
