/* SPDX-License-Identifier: MIT */
/* mbedTLS configuration for the Windows build (scripts/build-windows): only what the uploader's
 * crypto needs (src/port/mbedtls/crypto_mbedtls.c, src/host/sigtool.c): MD5 and SHA-256 for
 * the image hash and the password challenge, PBKDF2-HMAC-SHA256 (PKCS#5) for arduino-esp32 >=
 * 3.3.1 devices, Noise's primitives, and keys, RSA and ECDSA for signed images. The Linux build
 * uses Debian's libmbedcrypto instead. */
#ifndef OTK_MBEDTLS_CONFIG_H
#define OTK_MBEDTLS_CONFIG_H

#define MBEDTLS_PLATFORM_C /* mbedTLS requires it on Windows */
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_PKCS5_C
#define MBEDTLS_CIPHER_C /* pkcs5.c's PBES2 wants it once ASN.1 parsing is on */
/* Noise (the native protocol's encryption): X25519, HMAC, ChaCha20-Poly1305 */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NO_INTERNAL_RNG /* every multiplication with a secret gets our RNG */
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
/* signed images (src/host/sigtool.c, the RSA and ECDSA ops): PEM keys, RSA, ECDSA P-256 */
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECDSA_C
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_GENPRIME
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_FS_IO

#include "mbedtls/check_config.h"

#endif
