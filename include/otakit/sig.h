/* SPDX-License-Identifier: MIT */
/* Signed images in the two formats real ESP devices check: ESP-IDF Secure Boot V2 signature
 * sectors (RSA-3072-PSS or ECDSA P-256 blocks) and the ESP8266 Arduino signed update (RSA
 * PKCS#1 v1.5 over SHA-256, a u32 length trailer). Freestanding: the image is read through
 * flash ops (a device reads the slot it just wrote, a host wraps its file buffer), hashes and the
 * public-key operations come from the port's crypto ops; padding checks are done here. */
#ifndef OTK_SIG_H
#define OTK_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_SBV2_SECTOR_SIZE 4096u /* the signature sector, 4 KiB aligned */
#define OTK_SBV2_BLOCK_SIZE  1216u /* one signature block; up to 3 per sector */
#define OTK_SBV2_MAX_BLOCKS  3u
#define OTK_SBV2_CRC_OFF     1196u /* CRC-32 of the bytes before it */
#define OTK_SIG_RSA_MAX      512u  /* largest RSA key handled (4096 bits), in bytes */
#define OTK_SIG_WORK_SIZE    4096u /* scratch otk_sig_verify needs (the writer's sector buffer) */

enum otk_sig_format {
    OTK_SIG_FMT_NONE = 0,
    OTK_SIG_FMT_SBV2,    /* ESP-IDF Secure Boot V2 signature sector */
    OTK_SIG_FMT_ESP8266, /* ESP8266 Arduino: image, signature, u32 LE signature length */
};

enum otk_sig_alg {
    OTK_SIG_ALG_NONE = 0,
    OTK_SIG_ALG_RSA_PSS,    /* SBv2 version 02: RSA-3072, PSS, MGF1-SHA-256, salt 32 */
    OTK_SIG_ALG_ECDSA_P256, /* SBv2 version 03, curve 02 */
    OTK_SIG_ALG_RSA_PKCS1,  /* ESP8266: RSASSA-PKCS1-v1_5 with SHA-256 */
};

/** The answer of a check, from most to least basic. Numbers are stable (tools print them). */
enum otk_sig_result {
    OTK_SIG_OK = 0,
    OTK_SIG_UNSIGNED,    /* no signature block or trailer where the format puts it */
    OTK_SIG_MALFORMED,   /* a block or trailer is there but broken (magic, version, CRC, sizes) */
    OTK_SIG_UNSUPPORTED, /* a valid block of a kind not checked here (P-192, P-384) */
    OTK_SIG_WRONG_KEY,   /* signed, but not with the trusted key */
    OTK_SIG_CHANGED,     /* the signature is genuine, the image is not what was signed */
    OTK_SIG_BAD,         /* the signature does not verify (corrupted or forged) */
    OTK_SIG_LEGACY,      /* ESP8266 legacy signature (core <= 2.5.2, no DigestInfo) */
    OTK_SIG_READ_ERROR,  /* reading the image failed */
    OTK_SIG_NO_CRYPTO,   /* the crypto ops lack the public-key operation needed */
};

/** What a device trusts. SBv2 carries the public key in the block, so the device pins its
 *  digest (as eFuse does); the ESP8266 format carries none, so the device holds the key. */
struct otk_sig_key {
    enum otk_sig_format format;
    enum otk_sig_alg alg;
    /** SBv2: SHA-256 of the block's key fields (n, e, R, M' for RSA; curve id and point for
     *  ECDSA): what `espsecure digest-sbv2-public-key` prints. */
    uint8_t digest[32];
    /** ESP8266: the RSA public key, modulus big-endian (caller-owned, outlives the key). */
    const uint8_t *modulus;
    uint16_t modulus_len;
    uint32_t exponent;
    /** ESP8266: also accept the legacy signature of cores <= 2.5.2 (raw digest, no
     *  DigestInfo). Off: current cores refuse it. */
    bool accept_legacy;
};

/** What a check found (filled as far as it got). */
struct otk_sig_info {
    enum otk_sig_format format;
    enum otk_sig_alg alg;
    uint32_t signed_len;    /* bytes the signature covers (SBv2: padding included) */
    uint32_t sig_len;       /* ESP8266: signature bytes the trailer announces */
    uint8_t blocks;         /* SBv2: valid blocks in the sector */
    uint8_t block_used;     /* SBv2: the block that matched the key (or block 0) */
    bool key_checked;       /* the signature was verified (not only its structure) */
    uint8_t key_digest[32]; /* SBv2: digest of the key in block_used */
};

/** The image to check: len bytes at flash offset off, read through flash; hashes through
 *  crypto into hash (caller scratch); work is OTK_SIG_WORK_SIZE bytes of scratch. */
struct otk_sig_image {
    const struct otk_flash_ops *flash;
    const struct otk_crypto_ops *crypto;
    uint32_t off;
    uint32_t len;
    uint8_t *work;
    union otk_hash_ctx *hash;
};

/** Parse one SBv2 block (len >= OTK_SBV2_BLOCK_SIZE bytes as they lie in the sector): magic
 *  E7, version 02 (RSA-3072) or 03 (ECDSA), CRC-32, the zero padding, the curve id.
 *  @return OTK_SIG_OK (info: alg, the key digest is not computed here), OTK_SIG_UNSIGNED (no
 *  E7: an empty slot of the sector), OTK_SIG_MALFORMED or OTK_SIG_UNSUPPORTED (P-192, P-384). */
enum otk_sig_result otk_sig_sbv2_parse_block(const uint8_t *block, size_t len,
                                             struct otk_sig_info *info);

/** The ESP8266 trailer of an image of total bytes, from its last 4 bytes: the signature length
 *  it announces if it is one an RSA key can have (64..OTK_SIG_RSA_MAX, a multiple of 16) and
 *  leaves an image in front; else 0 (no trailer). */
uint32_t otk_sig_esp8266_trailer(uint32_t total, const uint8_t tail[4]);

/** Check the signature of an image. key NULL: find the format from the bytes and check what
 *  can be checked without a trusted key - SBv2: the block, the digest and the signature with
 *  the block's own key; ESP8266: the trailer's plausibility only (info.key_checked false).
 *  With a key: its format only, against that key; OTK_SIG_OK means the device may boot it. */
enum otk_sig_result otk_sig_verify(const struct otk_sig_image *img, const struct otk_sig_key *key,
                                   struct otk_sig_info *info);

/** SHA-256 over the key fields of an SBv2 block (after otk_sig_sbv2_parse_block said OK). */
void otk_sig_sbv2_key_digest(const struct otk_crypto_ops *c, union otk_hash_ctx *h,
                             const uint8_t *block, uint8_t out[32]);

/** The IEEE CRC-32 (zlib's) that SBv2 blocks carry. */
uint32_t otk_sig_crc32(const uint8_t *data, size_t len);

/** Short English text for a result ("no signature", "signed with another key", ...). */
const char *otk_sig_result_str(enum otk_sig_result r);

/** "SBv2 RSA-3072-PSS", "SBv2 ECDSA P-256", "ESP8266 RSA PKCS#1 v1.5", or "none". */
const char *otk_sig_alg_str(enum otk_sig_alg a);

#ifdef __cplusplus
}
#endif
#endif
