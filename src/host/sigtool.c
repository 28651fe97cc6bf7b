/* SPDX-License-Identifier: MIT */
/* Keys and signatures for signed images on the host, with mbedTLS (Debian's 2.28): what
 * espsecure (`sign-data --version 2`) and the ESP8266 core's tools/signing.py write, made here
 * so that tests and users need no openssl or Python. The checks are the core's (sig.c) over the
 * file buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "otakit/err.h"
#include "otakit/posix.h"
#include "otakit/sigtool.h"

#include "bytes.h"

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#error "sigtool.c is written for mbedTLS 2.28 (Debian's libmbedtls-dev)"
#endif

#define SBV2_RSA_BYTES 384u
#define HASH_LEN       32u

static int
rng(void *user, unsigned char *buf, size_t len)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();

    (void)user;
    return c->random(c->user, buf, len) == OTK_OK ? 0 : -1;
}

static int
fail(char *err, size_t cap, const char *what, int mbed_rc)
{
    if (mbed_rc != 0)
        snprintf(err, cap, "%s (mbedTLS error -0x%04x)", what, (unsigned)-mbed_rc);
    else
        snprintf(err, cap, "%s", what);
    return -1;
}

static void
reverse_copy(uint8_t *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[n - 1 - i];
}

/* The key fields of an SBv2 RSA block (offsets 36..811): n, e, R = 2^6144 mod n, M' = -n^-1
 * mod 2^32, little-endian, as the ROM's Montgomery multiplication wants them. */
static int
sbv2_rsa_fields(const struct otk_hostkey *k, uint8_t *block)
{
    mbedtls_mpi n, r;
    uint8_t r_be[SBV2_RSA_BYTES];
    uint32_t n0 = otk__get_u32(
        (const uint8_t[]){k->modulus[383], k->modulus[382], k->modulus[381], k->modulus[380]});
    uint32_t inv = n0; /* odd n0: n0 * n0 = 1 mod 8, each Newton step doubles the bits */
    int rc;

    for (int i = 0; i < 4; i++)
        inv *= 2u - n0 * inv;
    mbedtls_mpi_init(&n);
    mbedtls_mpi_init(&r);
    rc = mbedtls_mpi_read_binary(&n, k->modulus, SBV2_RSA_BYTES);
    if (rc == 0)
        rc = mbedtls_mpi_lset(&r, 1);
    if (rc == 0)
        rc = mbedtls_mpi_shift_l(&r, 2 * 3072);
    if (rc == 0)
        rc = mbedtls_mpi_mod_mpi(&r, &r, &n);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&r, r_be, sizeof r_be);
    mbedtls_mpi_free(&n);
    mbedtls_mpi_free(&r);
    if (rc != 0)
        return rc;
    reverse_copy(block + 36, k->modulus, SBV2_RSA_BYTES);
    otk__put_u32(block + 420, k->exponent);
    reverse_copy(block + 424, r_be, SBV2_RSA_BYTES);
    otk__put_u32(block + 808, 0u - inv);
    return 0;
}

/* The key fields of an SBv2 ECDSA block: curve id 2 and X || Y little-endian. */
static int
sbv2_ec_fields(const struct otk_hostkey *k, uint8_t *block)
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*(mbedtls_pk_context *)k->pk);
    uint8_t pt[65];
    size_t olen;
    int rc = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen,
                                            pt, sizeof pt);

    if (rc != 0 || olen != sizeof pt)
        return rc ? rc : -1;
    block[36] = 2;
    reverse_copy(block + 37, pt + 1, 32);
    reverse_copy(block + 69, pt + 33, 32);
    return 0;
}

/* A block with magic, version and the key fields (no digest or signature yet). */
static int
sbv2_key_block(const struct otk_hostkey *k, uint8_t *block)
{
    memset(block, 0, OTK_SBV2_BLOCK_SIZE);
    block[0] = 0xE7;
    block[1] = k->kind == OTK_KEY_RSA ? 0x02 : 0x03;
    return k->kind == OTK_KEY_RSA ? sbv2_rsa_fields(k, block) : sbv2_ec_fields(k, block);
}

static void
fill_trust(struct otk_hostkey *k)
{
    uint8_t block[OTK_SBV2_BLOCK_SIZE];
    union otk_hash_ctx h;

    memset(&k->trust_sbv2, 0, sizeof k->trust_sbv2);
    memset(&k->trust_esp8266, 0, sizeof k->trust_esp8266);
    if (k->kind == OTK_KEY_RSA) {
        k->trust_esp8266.format = OTK_SIG_FMT_ESP8266;
        k->trust_esp8266.alg = OTK_SIG_ALG_RSA_PKCS1;
        k->trust_esp8266.modulus = k->modulus;
        k->trust_esp8266.modulus_len = k->modulus_len;
        k->trust_esp8266.exponent = k->exponent;
    }
    if ((k->kind == OTK_KEY_RSA && k->bits != 3072) || sbv2_key_block(k, block) != 0)
        return;
    k->trust_sbv2.format = OTK_SIG_FMT_SBV2;
    k->trust_sbv2.alg = k->kind == OTK_KEY_RSA ? OTK_SIG_ALG_RSA_PSS : OTK_SIG_ALG_ECDSA_P256;
    otk_sig_sbv2_key_digest(otk_posix_crypto(), &h, block, k->trust_sbv2.digest);
}

static int
read_key_numbers(struct otk_hostkey *k, char *err, size_t cap)
{
    mbedtls_pk_context *pk = k->pk;
    uint8_t e_be[4];
    int rc;

    k->bits = (unsigned)mbedtls_pk_get_bitlen(pk);
    if (mbedtls_pk_get_type(pk) == MBEDTLS_PK_ECKEY) {
        if (mbedtls_pk_ec(*pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1)
            return fail(err, cap, "an EC key on another curve than P-256 (prime256v1)", 0);
        k->kind = OTK_KEY_P256;
        return 0;
    }
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_RSA)
        return fail(err, cap, "neither an RSA nor an EC P-256 key", 0);
    k->kind = OTK_KEY_RSA;
    k->modulus_len = (uint16_t)mbedtls_pk_get_len(pk);
    if (k->modulus_len > OTK_SIG_RSA_MAX || k->modulus_len < 64)
        return fail(err, cap, "RSA key size not supported (512 to 4096 bits)", 0);
    rc = mbedtls_rsa_export_raw(mbedtls_pk_rsa(*pk), k->modulus, k->modulus_len, NULL, 0, NULL, 0,
                                NULL, 0, e_be, sizeof e_be);
    if (rc != 0)
        return fail(err, cap, "cannot read the RSA key's numbers", rc);
    k->exponent =
        (uint32_t)e_be[0] << 24 | (uint32_t)e_be[1] << 16 | (uint32_t)e_be[2] << 8 | e_be[3];
    return 0;
}

int
otk_hostkey_load(struct otk_hostkey *k, const char *path, char *err, size_t cap)
{
    mbedtls_pk_context *pk = calloc(1, sizeof *pk);
    int rc;

    memset(k, 0, sizeof *k);
    if (pk == NULL)
        return fail(err, cap, "out of memory", 0);
    mbedtls_pk_init(pk);
    k->pk = pk;
    rc = mbedtls_pk_parse_keyfile(pk, path, NULL);
    if (rc == 0) {
        k->has_private = true;
    } else {
        mbedtls_pk_free(pk);
        mbedtls_pk_init(pk);
        rc = mbedtls_pk_parse_public_keyfile(pk, path);
    }
    if (rc != 0) {
        otk_hostkey_free(k);
        if (rc == MBEDTLS_ERR_PK_FILE_IO_ERROR)
            return fail(err, cap, "cannot read the key file", 0);
        return fail(err, cap, "not a PEM or DER key (unencrypted private or public key)", rc);
    }
    if (read_key_numbers(k, err, cap) != 0) {
        otk_hostkey_free(k);
        return -1;
    }
    fill_trust(k);
    return 0;
}

void
otk_hostkey_free(struct otk_hostkey *k)
{
    if (k->pk) {
        mbedtls_pk_free(k->pk);
        free(k->pk);
    }
    k->pk = NULL;
}

const struct otk_sig_key *
otk_hostkey_trust(const struct otk_hostkey *k, enum otk_sig_format f)
{
    if (f == OTK_SIG_FMT_SBV2 && k->trust_sbv2.format == OTK_SIG_FMT_SBV2)
        return &k->trust_sbv2;
    if (f == OTK_SIG_FMT_ESP8266 && k->trust_esp8266.format == OTK_SIG_FMT_ESP8266)
        return &k->trust_esp8266;
    return NULL;
}

int
otk_hostkey_generate(enum otk_keykind kind, unsigned bits, char *pem, size_t cap, char *err,
                     size_t errcap)
{
    mbedtls_pk_context pk;
    int rc;

    mbedtls_pk_init(&pk);
    rc = mbedtls_pk_setup(
        &pk, mbedtls_pk_info_from_type(kind == OTK_KEY_RSA ? MBEDTLS_PK_RSA : MBEDTLS_PK_ECKEY));
    if (rc == 0 && kind == OTK_KEY_RSA)
        rc = mbedtls_rsa_gen_key(mbedtls_pk_rsa(pk), rng, NULL, bits, 65537);
    else if (rc == 0)
        rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), rng, NULL);
    if (rc == 0)
        rc = mbedtls_pk_write_key_pem(&pk, (unsigned char *)pem, cap);
    mbedtls_pk_free(&pk);
    return rc == 0 ? 0 : fail(err, errcap, "key generation failed", rc);
}

int
otk_hostkey_public_pem(const struct otk_hostkey *k, char *pem, size_t cap, char *err, size_t errcap)
{
    int rc = mbedtls_pk_write_pubkey_pem(k->pk, (unsigned char *)pem, cap);

    return rc == 0 ? 0 : fail(err, errcap, "cannot write the public key", rc);
}

/* r and s of a DER ECDSA-Sig-Value, as 32-byte big-endian numbers. */
static int
der_to_rs(const uint8_t *der, size_t len, uint8_t r[32], uint8_t s[32])
{
    unsigned char *p = (unsigned char *)der, *end = p + len;
    mbedtls_mpi mr, ms;
    size_t seq;
    int rc;

    mbedtls_mpi_init(&mr);
    mbedtls_mpi_init(&ms);
    rc = mbedtls_asn1_get_tag(&p, end, &seq, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
    if (rc == 0)
        rc = mbedtls_asn1_get_mpi(&p, end, &mr);
    if (rc == 0)
        rc = mbedtls_asn1_get_mpi(&p, end, &ms);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&mr, r, 32);
    if (rc == 0)
        rc = mbedtls_mpi_write_binary(&ms, s, 32);
    mbedtls_mpi_free(&mr);
    mbedtls_mpi_free(&ms);
    return rc;
}

/* The signature fields of an SBv2 block over digest. */
static int
sbv2_sign_block(const struct otk_hostkey *k, uint8_t *block, const uint8_t digest[32])
{
    mbedtls_pk_context *pk = k->pk;
    uint8_t sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], r[32], s[32];
    size_t sig_len = 0;
    int rc;

    if (k->kind == OTK_KEY_RSA) {
        mbedtls_rsa_context *rsa = mbedtls_pk_rsa(*pk);

        mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
        rc = mbedtls_rsa_rsassa_pss_sign_ext(rsa, rng, NULL, MBEDTLS_MD_SHA256, HASH_LEN, digest,
                                             32, sig);
        if (rc == 0)
            reverse_copy(block + 812, sig, SBV2_RSA_BYTES);
        return rc;
    }
    rc = mbedtls_pk_sign(pk, MBEDTLS_MD_SHA256, digest, HASH_LEN, sig, &sig_len, rng, NULL);
    if (rc == 0)
        rc = der_to_rs(sig, sig_len, r, s);
    if (rc == 0) {
        reverse_copy(block + 101, r, 32);
        reverse_copy(block + 133, s, 32);
    }
    return rc;
}

static int
sign_sbv2(const struct otk_hostkey *k, const uint8_t *image, size_t len, uint8_t **out,
          size_t *out_len, char *err, size_t cap)
{
    size_t padded = (len + OTK_SBV2_SECTOR_SIZE - 1) / OTK_SBV2_SECTOR_SIZE * OTK_SBV2_SECTOR_SIZE;
    uint8_t *buf, *block, digest[HASH_LEN];
    int rc;

    if (k->trust_sbv2.format != OTK_SIG_FMT_SBV2)
        return fail(err, cap, "Secure Boot V2 signs with RSA-3072 or ECDSA P-256 keys only", 0);
    buf = malloc(padded + OTK_SBV2_SECTOR_SIZE);
    if (buf == NULL)
        return fail(err, cap, "out of memory", 0);
    memcpy(buf, image, len);
    memset(buf + len, 0xFF, padded - len + OTK_SBV2_SECTOR_SIZE); /* espsecure pads with FF */
    block = buf + padded;
    mbedtls_sha256_ret(buf, padded, digest, 0);
    rc = sbv2_key_block(k, block);
    memcpy(block + 4, digest, HASH_LEN);
    if (rc == 0)
        rc = sbv2_sign_block(k, block, digest);
    if (rc != 0) {
        free(buf);
        return fail(err, cap, "signing failed", rc);
    }
    otk__put_u32(block + OTK_SBV2_CRC_OFF, otk_sig_crc32(block, OTK_SBV2_CRC_OFF));
    *out = buf;
    *out_len = padded + OTK_SBV2_SECTOR_SIZE;
    return 0;
}

static int
sign_esp8266(const struct otk_hostkey *k, bool legacy, const uint8_t *image, size_t len,
             uint8_t **out, size_t *out_len, char *err, size_t cap)
{
    mbedtls_rsa_context *rsa;
    uint8_t *buf, digest[HASH_LEN];
    size_t n = k->modulus_len;
    int rc;

    if (k->kind != OTK_KEY_RSA)
        return fail(err, cap, "the ESP8266 format signs with RSA keys only", 0);
    buf = malloc(len + n + 4);
    if (buf == NULL)
        return fail(err, cap, "out of memory", 0);
    memcpy(buf, image, len);
    mbedtls_sha256_ret(image, len, digest, 0);
    rsa = mbedtls_pk_rsa(*(mbedtls_pk_context *)k->pk);
    mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V15, MBEDTLS_MD_NONE);
    /* the current format signs SHA-256's DigestInfo (openssl dgst -sha256 -sign); the legacy
     * one the bare digest (openssl rsautl -sign) */
    rc = mbedtls_rsa_rsassa_pkcs1_v15_sign(rsa, rng, NULL, MBEDTLS_RSA_PRIVATE,
                                           legacy ? MBEDTLS_MD_NONE : MBEDTLS_MD_SHA256, HASH_LEN,
                                           digest, buf + len);
    if (rc != 0) {
        free(buf);
        return fail(err, cap, "signing failed", rc);
    }
    otk__put_u32(buf + len + n, (uint32_t)n);
    *out = buf;
    *out_len = len + n + 4;
    return 0;
}

int
otk_sign_image(const struct otk_hostkey *k, enum otk_sign_as as, const uint8_t *image, size_t len,
               uint8_t **out, size_t *out_len, char *err, size_t errcap)
{
    if (!k->has_private)
        return fail(err, errcap,
                    "the key file holds a public key only: signing needs the private key", 0);
    if (len == 0 || len > 0x7FFFF000u)
        return fail(err, errcap, "image size out of range", 0);
    if (as == OTK_SIGN_SBV2)
        return sign_sbv2(k, image, len, out, out_len, err, errcap);
    return sign_esp8266(k, as == OTK_SIGN_ESP8266_LEGACY, image, len, out, out_len, err, errcap);
}

struct membuf {
    const uint8_t *p;
    size_t len;
};

static int
mem_read(void *user, uint32_t addr, void *buf, size_t len)
{
    const struct membuf *m = user;

    if (addr > m->len || len > m->len - addr)
        return OTK_ERR_FLASH;
    memcpy(buf, m->p + addr, len);
    return OTK_OK;
}

enum otk_sig_result
otk_sig_check_buffer(const uint8_t *image, size_t len, const struct otk_sig_key *key,
                     struct otk_sig_info *info)
{
    struct membuf m = {image, len};
    struct otk_flash_ops flash = {.read = mem_read, .user = &m};
    uint8_t work[OTK_SIG_WORK_SIZE];
    union otk_hash_ctx h;
    struct otk_sig_image img = {&flash, otk_posix_crypto(), 0, (uint32_t)len, work, &h};

    if (len > 0xFFFFFFFFu) {
        memset(info, 0, sizeof *info);
        return OTK_SIG_MALFORMED;
    }
    return otk_sig_verify(&img, key, info);
}

void
otk_sig_digest_hex(const uint8_t digest[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
}
