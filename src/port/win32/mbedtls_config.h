/* SPDX-License-Identifier: MIT */
/* mbedTLS configuration for the Windows build (scripts/build-windows): only what the uploader's
 * crypto needs (src/port/mbedtls/crypto_mbedtls.c): MD5 and SHA-256 for the image hash and the
 * password challenge, and PBKDF2-HMAC-SHA256 (PKCS#5) for arduino-esp32 >= 3.3.1 devices. The
 * Linux build uses Debian's libmbedcrypto instead. */
#ifndef OTK_MBEDTLS_CONFIG_H
#define OTK_MBEDTLS_CONFIG_H

#define MBEDTLS_PLATFORM_C /* mbedTLS requires it on Windows */
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_PKCS5_C

#include "mbedtls/check_config.h"

#endif
