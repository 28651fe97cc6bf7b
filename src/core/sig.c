/* SPDX-License-Identifier: MIT */
/* Signature checks of ESP images: the Secure Boot V2 sector (ESP-IDF docs, "Signature Block
 * Format"; espsecure's block writer) and the ESP8266 Arduino signed update (Updater.cpp end():
 * image, signature, u32 LE length). The block's and trailer's parsing and the padding checks of
 * RSASSA-PSS and RSASSA-PKCS1-v1_5 (RFC 8017 9.1.2 and 9.2) are done here; the hashes and the
 * public-key operations are the port's. Work memory is the caller's 4 KB buffer: a device hands
 * over the writer's sector buffer, free once the image is flushed. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/sig.h"

#include "bytes.h"

#define SBV2_MAGIC     0xE7u
#define SBV2_VER_RSA   0x02u
#define SBV2_VER_ECDSA 0x03u
#define BLK_DIGEST     4u /* SHA-256 of the image */
/* RSA-3072 block (version 02): every number little-endian */
#define RSA_LEN     384u
#define RSA_N       36u
#define RSA_E       420u
#define RSA_SIG     812u
#define RSA_KEY_LEN 776u /* n, e, R, M': what the key digest covers */
/* ECDSA block (version 03) */
#define EC_CURVE      36u
#define EC_POINT      37u  /* X || Y, each little-endian */
#define EC_SIG        101u /* r || s, each little-endian */
#define EC_RESERVED   165u
#define EC_KEY_LEN    65u /* curve id + point */
#define EC_CURVE_P192 1u
#define EC_CURVE_P256 2u
#define EC_P384_SHA   1u  /* byte 2 of a P-384 block: SHA-384 */
#define EC_P384_CURVE 52u /* where a P-384 block has its curve id */
#define ZERO_TAIL     1200u
#define HASH_LEN      32u
#define TRAILER_LEN   4u
#define MIN_BODY      16u /* an ESP8266 image is at least its headers */
#define PSS_SALT_LEN  32u /* SBv2 signs with a 32-byte salt */
#define PKCS1_MIN_PAD 8u  /* RFC 8017: at least 8 bytes of FF */

uint32_t
otk_sig_crc32(const uint8_t *data, size_t len)
{
    uint32_t crc = 0xFFFFFFFFu;

    /* bitwise, not by table: 1 KB of table would outweigh the 1196 bytes it is run over */
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++) {
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
        }
    }
    return ~crc;
}

static bool
all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != v) {
            return false;
        }
    }
    return true;
}

static enum otk_sig_result
parse_ecdsa_block(const uint8_t *b, struct otk_sig_info *info)
{
    if (b[2] == EC_P384_SHA || b[EC_P384_CURVE] == 3u) {
        return OTK_SIG_UNSUPPORTED; /* P-384 with SHA-384 (newer chips) */
    }
    if (b[2] != 0 || b[3] != 0) {
        return OTK_SIG_MALFORMED;
    }
    if (b[EC_CURVE] == EC_CURVE_P192) {
        return OTK_SIG_UNSUPPORTED;
    }
    if (b[EC_CURVE] != EC_CURVE_P256 ||
        !all_equal(b + EC_RESERVED, OTK_SBV2_CRC_OFF - EC_RESERVED, 0)) {
        return OTK_SIG_MALFORMED;
    }
    info->alg = OTK_SIG_ALG_ECDSA_P256;
    return OTK_SIG_OK;
}

enum otk_sig_result
otk_sig_sbv2_parse_block(const uint8_t *block, size_t len, struct otk_sig_info *info)
{
    if (len < OTK_SBV2_BLOCK_SIZE) {
        return OTK_SIG_MALFORMED;
    }
    if (block[0] != SBV2_MAGIC) {
        return OTK_SIG_UNSIGNED;
    }
    if (otk__get_u32(block + OTK_SBV2_CRC_OFF) != otk_sig_crc32(block, OTK_SBV2_CRC_OFF) ||
        !all_equal(block + ZERO_TAIL, OTK_SBV2_BLOCK_SIZE - ZERO_TAIL, 0)) {
        return OTK_SIG_MALFORMED;
    }
    if (block[1] == SBV2_VER_ECDSA) {
        return parse_ecdsa_block(block, info);
    }
    if (block[1] != SBV2_VER_RSA || block[2] != 0 || block[3] != 0) {
        return OTK_SIG_MALFORMED;
    }
    info->alg = OTK_SIG_ALG_RSA_PSS;
    return OTK_SIG_OK;
}

void
otk_sig_sbv2_key_digest(const struct otk_crypto_ops *c, union otk_hash_ctx *h, const uint8_t *block,
                        uint8_t out[32])
{
    c->sha256_start(h);
    c->sha256_update(h, block + RSA_N, block[1] == SBV2_VER_RSA ? RSA_KEY_LEN : EC_KEY_LEN);
    c->sha256_finish(h, out);
}

uint32_t
otk_sig_esp8266_trailer(uint32_t total, const uint8_t tail[4])
{
    uint32_t n = otk__get_u32(tail);

    if (n < 64u || n > OTK_SIG_RSA_MAX || n % 16u != 0 || total < TRAILER_LEN + n + MIN_BODY) {
        return 0;
    }
    return n;
}

static bool
read_at(const struct otk_sig_image *img, uint32_t at, void *buf, uint32_t len)
{
    return img->flash->read(img->flash->user, img->off + at, buf, len) == 0;
}

/* SHA-256 of the image's first n bytes, read through buf (cap bytes). */
static bool
hash_prefix(const struct otk_sig_image *img, uint32_t n, uint8_t *buf, uint32_t cap,
            uint8_t out[32])
{
    const struct otk_crypto_ops *c = img->crypto;

    c->sha256_start(img->hash);
    for (uint32_t done = 0; done < n;) {
        uint32_t chunk = n - done < cap ? n - done : cap;

        if (!read_at(img, done, buf, chunk)) {
            c->sha256_finish(img->hash, out);
            return false;
        }
        c->sha256_update(img->hash, buf, chunk);
        done += chunk;
    }
    c->sha256_finish(img->hash, out);
    return true;
}

static void
reverse_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[n - 1 - i];
    }
}

/* MGF1 with SHA-256 (RFC 8017 B.2.1), XORed into out. */
static void
mgf1_xor(const struct otk_sig_image *img, const uint8_t seed[32], uint8_t *out, size_t len)
{
    const struct otk_crypto_ops *c = img->crypto;
    uint8_t counter[4] = {0, 0, 0, 0}, t[HASH_LEN];

    for (size_t off = 0; off < len; off += HASH_LEN) {
        c->sha256_start(img->hash);
        c->sha256_update(img->hash, seed, HASH_LEN);
        c->sha256_update(img->hash, counter, sizeof counter);
        c->sha256_finish(img->hash, t);
        for (size_t i = 0; i < HASH_LEN && off + i < len; i++) {
            out[off + i] ^= t[i];
        }
        counter[3]++; /* at most 12 blocks for RSA-3072: the low byte is enough */
    }
}

static unsigned
bit_length_of_top_byte(uint8_t v)
{
    unsigned n = 0;

    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* EMSA-PSS-VERIFY (RFC 8017 9.1.2) of the k-byte opened signature em_buf, for a modulus whose
 * first byte is n0, SHA-256, MGF1-SHA-256, salt PSS_SALT_LEN. Changes em_buf. */
static bool
pss_verify(const struct otk_sig_image *img, uint8_t n0, uint8_t *em_buf, size_t k,
           const uint8_t mhash[32])
{
    static const uint8_t zeros[8] = {0};
    size_t em_bits = (k - 1) * 8 + bit_length_of_top_byte(n0) - 1;
    size_t em_len = (em_bits + 7) / 8;
    uint8_t *em = em_buf + (k - em_len);
    uint8_t top_mask = (uint8_t)(0xFFu >> (8 * em_len - em_bits));
    size_t db_len = em_len - HASH_LEN - 1;
    uint8_t h2[HASH_LEN];

    if (n0 == 0 || em_len < HASH_LEN + PSS_SALT_LEN + 2 || (em_len < k && em_buf[0] != 0) ||
        em[em_len - 1] != 0xBCu || (em[0] & (uint8_t)~top_mask) != 0) {
        return false;
    }
    mgf1_xor(img, em + db_len, em, db_len);
    em[0] &= top_mask;
    if (!all_equal(em, db_len - PSS_SALT_LEN - 1, 0) || em[db_len - PSS_SALT_LEN - 1] != 0x01u) {
        return false;
    }
    img->crypto->sha256_start(img->hash);
    img->crypto->sha256_update(img->hash, zeros, sizeof zeros);
    img->crypto->sha256_update(img->hash, mhash, HASH_LEN);
    img->crypto->sha256_update(img->hash, em + db_len - PSS_SALT_LEN, PSS_SALT_LEN);
    img->crypto->sha256_finish(img->hash, h2);
    return memcmp(h2, em + db_len, HASH_LEN) == 0;
}

/* The block at w (work[0..1216)) against the image digest; w[1216..) is scratch. */
static enum otk_sig_result
sbv2_check_rsa(const struct otk_sig_image *img, uint8_t *w, const uint8_t digest[32])
{
    uint8_t *n = w + OTK_SBV2_BLOCK_SIZE, *sig = n + RSA_LEN, *em = sig + RSA_LEN;

    if (img->crypto->rsa_public == NULL) {
        return OTK_SIG_NO_CRYPTO;
    }
    reverse_copy(n, w + RSA_N, RSA_LEN);
    reverse_copy(sig, w + RSA_SIG, RSA_LEN);
    if (img->crypto->rsa_public(n, RSA_LEN, otk__get_u32(w + RSA_E), sig, em) != OTK_OK) {
        return OTK_SIG_BAD;
    }
    return pss_verify(img, n[0], em, RSA_LEN, digest) ? OTK_SIG_OK : OTK_SIG_BAD;
}

static enum otk_sig_result
sbv2_check_ecdsa(const struct otk_sig_image *img, uint8_t *w, const uint8_t digest[32])
{
    uint8_t *pub = w + OTK_SBV2_BLOCK_SIZE, *r = pub + 64, *s = r + 32;

    if (img->crypto->ecdsa_p256_verify == NULL) {
        return OTK_SIG_NO_CRYPTO;
    }
    reverse_copy(pub, w + EC_POINT, 32);
    reverse_copy(pub + 32, w + EC_POINT + 32, 32);
    reverse_copy(r, w + EC_SIG, 32);
    reverse_copy(s, w + EC_SIG + 32, 32);
    return img->crypto->ecdsa_p256_verify(pub, digest, r, s) == OTK_OK ? OTK_SIG_OK : OTK_SIG_BAD;
}

/* The sector is in work. Block 0 says whether the image is signed at all; with a key, the
 * first valid block whose key digest is the trusted one is used (the sector may hold up to
 * three, one per key); it ends up at work[0]. */
static enum otk_sig_result
sbv2_pick_block(const struct otk_sig_image *img, const struct otk_sig_key *key,
                struct otk_sig_info *info)
{
    int chosen = -1;
    enum otk_sig_result r = otk_sig_sbv2_parse_block(img->work, OTK_SBV2_BLOCK_SIZE, info);

    if (r != OTK_SIG_OK) {
        return r;
    }
    for (unsigned i = 0; i < OTK_SBV2_MAX_BLOCKS && chosen < 0; i++) {
        const uint8_t *b = img->work + i * OTK_SBV2_BLOCK_SIZE;
        struct otk_sig_info bi = *info;
        uint8_t d[HASH_LEN];

        if (otk_sig_sbv2_parse_block(b, OTK_SBV2_BLOCK_SIZE, &bi) != OTK_SIG_OK) {
            continue; /* an empty (FF) or broken slot: the others may still match */
        }
        info->blocks++;
        otk_sig_sbv2_key_digest(img->crypto, img->hash, b, d);
        if (i == 0) {
            memcpy(info->key_digest, d, HASH_LEN);
        }
        if (key == NULL || (bi.alg == key->alg && memcmp(d, key->digest, HASH_LEN) == 0)) {
            chosen = (int)i;
            info->alg = bi.alg;
            info->block_used = (uint8_t)i;
            memcpy(info->key_digest, d, HASH_LEN);
        }
    }
    if (chosen < 0) {
        return OTK_SIG_WRONG_KEY;
    }
    memmove(img->work, img->work + (unsigned)chosen * OTK_SBV2_BLOCK_SIZE, OTK_SBV2_BLOCK_SIZE);
    return OTK_SIG_OK;
}

/* A file that does not end on a 4 KiB boundary, with a block's magic and version at the
 * boundary before its end (the sector cut short) or one sector earlier (bytes appended). */
static bool
misplaced_block(const struct otk_sig_image *img)
{
    uint32_t cut = img->len - img->len % OTK_SBV2_SECTOR_SIZE;
    uint8_t b[2];

    for (int i = 0; i < 2 && cut >= OTK_SBV2_SECTOR_SIZE; i++, cut -= OTK_SBV2_SECTOR_SIZE) {
        if (cut + sizeof b <= img->len && read_at(img, cut, b, sizeof b) && b[0] == SBV2_MAGIC &&
            (b[1] == SBV2_VER_RSA || b[1] == SBV2_VER_ECDSA)) {
            return true;
        }
    }
    return false;
}

static enum otk_sig_result
sbv2_verify(const struct otk_sig_image *img, const struct otk_sig_key *key,
            struct otk_sig_info *info)
{
    uint8_t *w = img->work;
    uint8_t digest[HASH_LEN];
    enum otk_sig_result r;

    /* the sector starts on a 4 KiB boundary and ends the file: anything else has no block
     * where the bootloader looks */
    if (img->len <= OTK_SBV2_SECTOR_SIZE || img->len % OTK_SBV2_SECTOR_SIZE != 0) {
        return img->len > OTK_SBV2_SECTOR_SIZE && misplaced_block(img) ? OTK_SIG_MALFORMED
                                                                       : OTK_SIG_UNSIGNED;
    }
    info->signed_len = img->len - OTK_SBV2_SECTOR_SIZE;
    if (!read_at(img, info->signed_len, w, OTK_SBV2_SECTOR_SIZE)) {
        return OTK_SIG_READ_ERROR;
    }
    r = sbv2_pick_block(img, key, info);
    if (r != OTK_SIG_OK) {
        return r;
    }
    if (!hash_prefix(img, info->signed_len, w + OTK_SBV2_BLOCK_SIZE,
                     OTK_SIG_WORK_SIZE - OTK_SBV2_BLOCK_SIZE, digest)) {
        return OTK_SIG_READ_ERROR;
    }
    if (memcmp(digest, w + BLK_DIGEST, HASH_LEN) != 0) {
        return OTK_SIG_CHANGED;
    }
    info->key_checked = key != NULL;
    return info->alg == OTK_SIG_ALG_RSA_PSS ? sbv2_check_rsa(img, w, digest)
                                            : sbv2_check_ecdsa(img, w, digest);
}

/* EMSA-PKCS1-v1_5 (RFC 8017 9.2) with SHA-256's DigestInfo, as BearSSL's br_rsa_pkcs1_vrfy
 * checks it on the ESP8266; the legacy form (cores <= 2.5.2) has the bare digest instead. */
static enum otk_sig_result
pkcs1_check(const uint8_t *em, size_t k, const uint8_t hash[32], bool accept_legacy)
{
    static const uint8_t sha256_info[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                            0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                            0x01, 0x05, 0x00, 0x04, 0x20};
    size_t i = 2;

    if (em[0] != 0 || em[1] != 1) {
        return OTK_SIG_BAD;
    }
    while (i < k && em[i] == 0xFFu) {
        i++;
    }
    if (i < 2 + PKCS1_MIN_PAD || i >= k || em[i] != 0) {
        return OTK_SIG_BAD;
    }
    i++;
    if (k - i == sizeof sha256_info + HASH_LEN && memcmp(em + i, sha256_info, 19) == 0) {
        return memcmp(em + i + 19, hash, HASH_LEN) == 0 ? OTK_SIG_OK : OTK_SIG_CHANGED;
    }
    if (k - i == HASH_LEN) {
        if (!accept_legacy) {
            return OTK_SIG_LEGACY;
        }
        return memcmp(em + i, hash, HASH_LEN) == 0 ? OTK_SIG_OK : OTK_SIG_CHANGED;
    }
    return OTK_SIG_BAD;
}

static enum otk_sig_result
esp8266_verify(const struct otk_sig_image *img, const struct otk_sig_key *key,
               struct otk_sig_info *info)
{
    uint8_t *w = img->work, digest[HASH_LEN], tail[TRAILER_LEN];
    uint32_t n;

    if (img->len < TRAILER_LEN || !read_at(img, img->len - TRAILER_LEN, tail, TRAILER_LEN)) {
        return img->len < TRAILER_LEN ? OTK_SIG_UNSIGNED : OTK_SIG_READ_ERROR;
    }
    n = otk_sig_esp8266_trailer(img->len, tail);
    if (n == 0) {
        return OTK_SIG_UNSIGNED;
    }
    info->sig_len = n;
    info->signed_len = img->len - TRAILER_LEN - n;
    info->alg = OTK_SIG_ALG_RSA_PKCS1;
    if (key == NULL) {
        return OTK_SIG_OK; /* the trailer fits; without the key nothing more can be known */
    }
    if (n != key->modulus_len || n > OTK_SIG_WORK_SIZE / 2) {
        return OTK_SIG_WRONG_KEY; /* the device refuses it before hashing (Updater::end) */
    }
    if (img->crypto->rsa_public == NULL) {
        return OTK_SIG_NO_CRYPTO;
    }
    if (!hash_prefix(img, info->signed_len, w, OTK_SIG_WORK_SIZE, digest) ||
        !read_at(img, info->signed_len, w, n)) {
        return OTK_SIG_READ_ERROR;
    }
    info->key_checked = true;
    if (img->crypto->rsa_public(key->modulus, n, key->exponent, w, w + n) != OTK_OK) {
        return OTK_SIG_BAD;
    }
    return pkcs1_check(w + n, n, digest, key->accept_legacy);
}

/* Without a key: a 4 KiB-aligned file whose last sector starts with E7 is SBv2 (so is one
 * with a block near its unaligned end); else a plausible length trailer is ESP8266's. */
static enum otk_sig_format
detect_format(const struct otk_sig_image *img)
{
    uint8_t b[TRAILER_LEN];

    if (img->len > OTK_SBV2_SECTOR_SIZE && img->len % OTK_SBV2_SECTOR_SIZE == 0 &&
        read_at(img, img->len - OTK_SBV2_SECTOR_SIZE, b, 1) && b[0] == SBV2_MAGIC) {
        return OTK_SIG_FMT_SBV2;
    }
    if (img->len > OTK_SBV2_SECTOR_SIZE && img->len % OTK_SBV2_SECTOR_SIZE != 0 &&
        misplaced_block(img)) {
        return OTK_SIG_FMT_SBV2; /* a sector cut short or moved: named, not taken as unsigned */
    }
    if (img->len >= TRAILER_LEN && read_at(img, img->len - TRAILER_LEN, b, TRAILER_LEN) &&
        otk_sig_esp8266_trailer(img->len, b) != 0) {
        return OTK_SIG_FMT_ESP8266;
    }
    return OTK_SIG_FMT_NONE;
}

enum otk_sig_result
otk_sig_verify(const struct otk_sig_image *img, const struct otk_sig_key *key,
               struct otk_sig_info *info)
{
    memset(info, 0, sizeof *info);
    info->format = key != NULL ? key->format : detect_format(img);
    switch (info->format) {
    case OTK_SIG_FMT_SBV2:
        return sbv2_verify(img, key, info);
    case OTK_SIG_FMT_ESP8266:
        return esp8266_verify(img, key, info);
    default:
        return OTK_SIG_UNSIGNED;
    }
}

const char *
otk_sig_result_str(enum otk_sig_result r)
{
    switch (r) {
    case OTK_SIG_OK:
        return "signature valid";
    case OTK_SIG_UNSIGNED:
        return "no signature";
    case OTK_SIG_MALFORMED:
        return "signature block damaged";
    case OTK_SIG_UNSUPPORTED:
        return "signature of a kind not checked here";
    case OTK_SIG_WRONG_KEY:
        return "signed with another key";
    case OTK_SIG_CHANGED:
        return "image changed after signing";
    case OTK_SIG_BAD:
        return "bad signature";
    case OTK_SIG_LEGACY:
        return "legacy signature (ESP8266 core <= 2.5.2)";
    case OTK_SIG_READ_ERROR:
        return "read error";
    case OTK_SIG_NO_CRYPTO:
        return "no public-key crypto in this build";
    }
    return "unknown";
}

const char *
otk_sig_alg_str(enum otk_sig_alg a)
{
    switch (a) {
    case OTK_SIG_ALG_RSA_PSS:
        return "SBv2 RSA-3072-PSS";
    case OTK_SIG_ALG_ECDSA_P256:
        return "SBv2 ECDSA P-256";
    case OTK_SIG_ALG_RSA_PKCS1:
        return "ESP8266 RSA PKCS#1 v1.5 SHA-256";
    default:
        return "none";
    }
}
