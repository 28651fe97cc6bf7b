/* SPDX-License-Identifier: MIT */
/* Host side of signed images (include/otakit/sig.h), on mbedTLS: load a PEM key, turn it into
 * what a device trusts, sign an image in the SBv2 or ESP8266 format, make a key pair. For the
 * CLI (`otakit image --sign/--gen-key`, `otakit upload --trusted-key`, `otakit device
 * --trusted-key`) and the tests; no openssl needed. */
#ifndef OTK_SIGTOOL_H
#define OTK_SIGTOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sig.h"

#ifdef __cplusplus
extern "C" {
#endif

enum otk_keykind {
    OTK_KEY_RSA,  /* any size; SBv2 takes 3072 bits only */
    OTK_KEY_P256, /* ECDSA on secp256r1 */
};

/** A key read from a PEM file (private or public). */
struct otk_hostkey {
    void *pk; /* the mbedTLS key (heap); NULL when none is loaded */
    enum otk_keykind kind;
    unsigned bits;
    bool has_private;
    uint8_t modulus[OTK_SIG_RSA_MAX]; /* RSA: big-endian, modulus_len bytes */
    uint16_t modulus_len;
    uint32_t exponent;
    /** What a device trusts for each format (format NONE where the key cannot serve it: SBv2
     *  wants RSA-3072 or P-256, ESP8266 wants RSA). */
    struct otk_sig_key trust_sbv2;
    struct otk_sig_key trust_esp8266;
};

/** Read a PEM key (a private key, or a public key for checking only). On failure returns -1
 *  and writes why into err (cap bytes). */
int otk_hostkey_load(struct otk_hostkey *k, const char *path, char *err, size_t cap);

void otk_hostkey_free(struct otk_hostkey *k);

/** The trust for a format (NULL if the key cannot serve it). */
const struct otk_sig_key *otk_hostkey_trust(const struct otk_hostkey *k, enum otk_sig_format f);

/** Make a key pair: kind RSA (bits 2048, 3072 or 4096) or P-256 (bits ignored). Writes the
 *  private key as PEM into pem (cap bytes, NUL-terminated). 0, or -1 with err. */
int otk_hostkey_generate(enum otk_keykind kind, unsigned bits, char *pem, size_t cap, char *err,
                         size_t errcap);

/** The public half of a loaded key as PEM. 0, or -1 with err. */
int otk_hostkey_public_pem(const struct otk_hostkey *k, char *pem, size_t cap, char *err,
                           size_t errcap);

/** The signature formats the CLI can write. */
enum otk_sign_as {
    OTK_SIGN_SBV2,           /* pad to 4 KiB with FF, append the 4 KiB signature sector */
    OTK_SIGN_ESP8266,        /* append the PKCS#1 v1.5 signature and its u32 LE length */
    OTK_SIGN_ESP8266_LEGACY, /* the same with the raw digest (cores <= 2.5.2) */
};

/** Sign len bytes of image with a private key: *out (malloc'd, *out_len bytes) is the signed
 *  image. 0, or -1 with err (wrong kind of key for the format, no private key, ...). */
int otk_sign_image(const struct otk_hostkey *k, enum otk_sign_as as, const uint8_t *image,
                   size_t len, uint8_t **out, size_t *out_len, char *err, size_t errcap);

/** Check a signed image held in memory (otk_sig_verify over the buffer, mbedTLS crypto). key
 *  NULL: the checks that need no trusted key. */
enum otk_sig_result otk_sig_check_buffer(const uint8_t *image, size_t len,
                                         const struct otk_sig_key *key, struct otk_sig_info *info);

/** Hex of an SBv2 key digest (65 bytes with the NUL). */
void otk_sig_digest_hex(const uint8_t digest[32], char out[65]);

#ifdef __cplusplus
}
#endif
#endif
