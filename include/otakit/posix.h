/* SPDX-License-Identifier: MIT */
/* The POSIX port: mbedTLS crypto, getrandom, zlib inflate, the monotonic clock, address helpers. */
#ifndef OTK_POSIX_H
#define OTK_POSIX_H

#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/** mbedTLS MD5 / SHA-256 / PBKDF2-HMAC-SHA256 and getrandom(2). Shared, read-only. */
const struct otk_crypto_ops *otk_posix_crypto(void);

/** The inflater for compressed updates, on zlib (raw deflate; state in the caller's memory:
 *  ->state_size bytes, no heap). Shared, read-only. */
const struct otk_inflate_ops *otk_posix_inflate(void);

/** Milliseconds from CLOCK_MONOTONIC, truncated to 32 bits (the core compares differences). */
uint32_t otk_posix_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
