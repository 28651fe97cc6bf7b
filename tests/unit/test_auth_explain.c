/* SPDX-License-Identifier: MIT */
/* The emulator's explanation of a refused answer (sim/auth_explain.c): a right password in the
 * other scheme is told from a wrong one, with the way to select that scheme. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth_explain.h"
#include "otakit/posix.h"
#include "otakit/proto.h"

#define NONCE32  "0123456789abcdef0123456789abcdef"
#define CNONCE32 "fedcba9876543210fedcba9876543210"
#define NONCE64  NONCE32 "00112233445566778899aabbccddeeff"
#define CNONCE64 CNONCE32 CNONCE32

struct device {
    enum otk_auth_variant v;
    char secret[OTK_SHA256_HEX_LEN + 1];
    const char *password; /* NULL: started with --password-hash */
    const char *nonce;
};

static struct device
device(enum otk_auth_variant v, const char *password, const char *hash)
{
    struct device d = {.v = v, .password = password};

    if (password)
        otk_proto_password_secret(otk_posix_crypto(), v, password, strlen(password), d.secret);
    else
        strcpy(d.secret, hash);
    d.nonce = v == OTK_AUTH_PBKDF2 ? NONCE64 : NONCE32;
    return d;
}

/* What a host answers in scheme v with this password hash (hash_v: the scheme of the hash it
 * uses), to the nonce as it read it (nonce_len characters of it). */
static struct otk_auth_explain
answer(const struct device *d, enum otk_auth_variant v, enum otk_auth_variant hash_v,
       const char *password, size_t nonce_len)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    const char *cnonce = v == OTK_AUTH_PBKDF2 ? CNONCE64 : CNONCE32;
    size_t hl = otk_auth_hex_len(v);
    char secret[OTK_SHA256_HEX_LEN + 1], resp[OTK_SHA256_HEX_LEN + 1], dg[160];
    struct otk_auth_explain x;
    size_t n;

    otk_proto_password_secret(c, hash_v, password, strlen(password), secret);
    assert_int_equal(otk_proto_auth_response(c, v, secret, strlen(secret), d->nonce, nonce_len,
                                             cnonce, hl, resp),
                     0);
    n = otk_proto_format_auth(dg, sizeof dg, cnonce, resp, hl);
    assert_true(n > 0);
    otk_auth_explain(c, d->v, d->secret, d->password, d->nonce, (const uint8_t *)dg, n, &x);
    return x;
}

/* The answer's scheme (-1: neither) and whether the password is right in it (-1: unknown). */
static void
verdict_is(const struct otk_auth_explain *x, int scheme, int password)
{
    assert_int_equal(x->scheme, scheme);
    assert_int_equal(x->password, password);
}

static void
old_espota_against_pbkdf2(void **state)
{
    (void)state;
    struct device d = device(OTK_AUTH_PBKDF2, "admin", NULL);
    /* espota.py of arduino-esp32 before 3.3.1: the nonce's first 32 digits; the ESP8266's: all */
    for (size_t cut = 32; cut <= 64; cut += 32) {
        struct otk_auth_explain x = answer(&d, OTK_AUTH_MD5, OTK_AUTH_MD5, "admin", cut);

        verdict_is(&x, OTK_AUTH_MD5, 1);
        assert_non_null(strstr(x.text, "the password is right, but the answer uses the MD5 "
                                       "scheme (espota.py of the ESP8266 core, and of "
                                       "arduino-esp32 before 3.3.1)"));
        assert_non_null(strstr(x.text, "this device expects the PBKDF2 scheme"));
        assert_non_null(strstr(x.text, "start it with --auth-variant md5"));
    }
    /* a wrong password in the MD5 scheme is wrong, and the scheme is still named */
    struct otk_auth_explain x = answer(&d, OTK_AUTH_MD5, OTK_AUTH_MD5, "admin2", 32);
    verdict_is(&x, OTK_AUTH_MD5, 0);
    assert_non_null(strstr(x.text, "wrong password, and the answer uses the MD5 scheme"));
    assert_non_null(strstr(x.text, "--auth-variant md5 selects the other"));
}

static void
new_espota_against_md5(void **state)
{
    (void)state;
    struct device d = device(OTK_AUTH_MD5, "admin", NULL);
    /* a PBKDF2 answer with the SHA-256 or the MD5 hash of the password (espota 3.3.1+ tries
     * both) */
    struct otk_auth_explain x = answer(&d, OTK_AUTH_PBKDF2, OTK_AUTH_PBKDF2, "admin", 32);
    verdict_is(&x, OTK_AUTH_PBKDF2, 1);
    assert_non_null(strstr(x.text, "start it with --auth-variant pbkdf2"));
    x = answer(&d, OTK_AUTH_PBKDF2, OTK_AUTH_MD5, "admin", 32);
    assert_int_equal(x.password, 1);
    x = answer(&d, OTK_AUTH_PBKDF2, OTK_AUTH_PBKDF2, "nimda", 32);
    assert_int_equal(x.password, 0);
}

static void
same_scheme_wrong_password(void **state)
{
    (void)state;
    struct device d = device(OTK_AUTH_PBKDF2, "admin", NULL);
    struct otk_auth_explain x = answer(&d, OTK_AUTH_PBKDF2, OTK_AUTH_PBKDF2, "nimda", 64);

    verdict_is(&x, OTK_AUTH_PBKDF2, 0);
    assert_string_equal(x.text, "wrong password: the answer does not match it in the PBKDF2 "
                                "scheme (espota.py of arduino-esp32 3.3.1 and later) this "
                                "device expects");
}

static void
only_a_hash_known(void **state)
{
    (void)state;
    /* a SHA-256 hash gives no MD5-scheme secret: the emulator cannot tell, and says so */
    struct device sha = device(OTK_AUTH_PBKDF2, NULL,
                               "8c6976e5b5410415bde908bd4dee15dfb167a9c873fc4bb8a81f6f2ab448a918");
    struct otk_auth_explain x = answer(&sha, OTK_AUTH_MD5, OTK_AUTH_MD5, "admin", 32);
    verdict_is(&x, OTK_AUTH_MD5, -1);
    assert_non_null(strstr(x.text, "if the password is right, start it with --auth-variant md5"));
    /* an MD5 hash kept by a PBKDF2 device serves both schemes */
    struct device md5 = device(OTK_AUTH_PBKDF2, NULL, "21232f297a57a5a743894a0e4a801fc3");
    x = answer(&md5, OTK_AUTH_MD5, OTK_AUTH_MD5, "admin", 32);
    assert_int_equal(x.password, 1);
}

static void
malformed_answers(void **state)
{
    (void)state;
    struct device d = device(OTK_AUTH_PBKDF2, "admin", NULL);
    static const char *const bad[] = {"hello", "200 " CNONCE32 " " CNONCE64 "\n", "200 abc def\n"};
    struct otk_auth_explain x;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        otk_auth_explain(otk_posix_crypto(), d.v, d.secret, d.password, d.nonce,
                         (const uint8_t *)bad[i], strlen(bad[i]), &x);
        verdict_is(&x, -1, -1);
        assert_true(strlen(x.text) > 0);
    }
    otk_auth_explain(otk_posix_crypto(), d.v, d.secret, d.password, d.nonce, NULL, 0, &x);
    assert_int_equal(x.scheme, -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(old_espota_against_pbkdf2),  cmocka_unit_test(new_espota_against_md5),
        cmocka_unit_test(same_scheme_wrong_password), cmocka_unit_test(only_a_hash_known),
        cmocka_unit_test(malformed_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
