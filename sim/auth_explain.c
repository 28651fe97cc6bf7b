/* SPDX-License-Identifier: MIT */
/* Why an answer to the device's challenge failed (see auth_explain.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "auth_explain.h"
#include "otakit/err.h"

/* Indexed by enum otk_auth_variant. */
static const char *const scheme_who[] = {
    "MD5 scheme (espota.py of the ESP8266 core, and of arduino-esp32 before 3.3.1)",
    "PBKDF2 scheme (espota.py of arduino-esp32 3.3.1 and later)",
};
static const char *const scheme_flag[] = {"md5", "pbkdf2"};

const char *
otk_auth_scheme_who(enum otk_auth_variant v)
{
    return scheme_who[v == OTK_AUTH_PBKDF2];
}

/* Whether the answer is right in scheme v for one stored secret, with the nonce as the host read
 * it: whole, or cut to the answer's length (espota.py before 3.3.1 reads 37 bytes of
 * "AUTH <nonce>", so it answers a 64-digit nonce with its first 32). */
static bool
right_with(const struct otk_crypto_ops *c, enum otk_auth_variant v, const char *secret,
           const char *nonce, const struct otk_auth_answer *a)
{
    size_t nl = strlen(nonce);
    size_t cuts[2] = {nl, a->response_len < nl ? a->response_len : nl};
    char expect[OTK_SHA256_HEX_LEN + 1];

    for (int i = 0; i < 2; i++)
        if (otk_proto_auth_response(c, v, secret, strlen(secret), nonce, cuts[i], a->cnonce,
                                    a->cnonce_len, expect) == OTK_OK &&
            strlen(expect) == a->response_len && memcmp(expect, a->response, a->response_len) == 0)
            return true;
    return false;
}

/* Whether the password is right in scheme v (not the device's): 1, 0, or -1 when nothing
 * known of it gives a secret for that scheme. Candidates: the password's secret in v, and an MD5
 * hash the device stores (a PBKDF2 device may keep one; it serves both schemes). */
static int
right_in_other(const struct otk_crypto_ops *c, enum otk_auth_variant v, const char *secret,
               const char *password, const char *nonce, const struct otk_auth_answer *a)
{
    char cand[OTK_SHA256_HEX_LEN + 1];
    int known = -1;

    if (password) {
        otk_proto_password_secret(c, v, password, strlen(password), cand);
        if (right_with(c, v, cand, nonce, a))
            return 1;
        known = 0;
    }
    if (strlen(secret) == OTK_MD5_HEX_LEN) {
        if (right_with(c, v, secret, nonce, a))
            return 1;
        known = 0;
    }
    return known;
}

void
otk_auth_explain(const struct otk_crypto_ops *c, enum otk_auth_variant expected, const char *secret,
                 const char *password, const char *nonce, const uint8_t *dg, size_t len,
                 struct otk_auth_explain *out)
{
    struct otk_auth_answer a;
    const char *want = otk_auth_scheme_who(expected);
    enum otk_auth_variant v;

    out->scheme = -1;
    out->password = -1;
    if (otk_proto_parse_auth(dg, len, &a) != OTK_OK) {
        snprintf(out->text, sizeof out->text,
                 "the answer is malformed (not \"200 <cnonce> "
                 "<response>\")");
        return;
    }
    if (a.cnonce_len != a.response_len ||
        (a.response_len != OTK_MD5_HEX_LEN && a.response_len != OTK_SHA256_HEX_LEN)) {
        snprintf(out->text, sizeof out->text,
                 "the answer's fields have %zu and %zu characters, neither scheme's length "
                 "(the %s this device expects uses %zu)",
                 a.cnonce_len, a.response_len, want, otk_auth_hex_len(expected));
        return;
    }
    v = a.response_len == OTK_MD5_HEX_LEN ? OTK_AUTH_MD5 : OTK_AUTH_PBKDF2;
    out->scheme = (int)v;
    if (v == expected) {
        out->password = 0;
        snprintf(out->text, sizeof out->text,
                 "wrong password: the answer does not match it in the %s this device expects",
                 want);
        return;
    }
    out->password = right_in_other(c, v, secret, password, nonce, &a);
    /* the flag that selects the answer's scheme */
    const char *flag = scheme_flag[v];
    if (out->password == 1)
        snprintf(out->text, sizeof out->text,
                 "the password is right, but the answer uses the %s; this device expects the "
                 "%s: start it with --auth-variant %s",
                 otk_auth_scheme_who(v), want, flag);
    else if (out->password == 0)
        snprintf(out->text, sizeof out->text,
                 "wrong password, and the answer uses the %s; this device expects the %s "
                 "(--auth-variant %s selects the other)",
                 otk_auth_scheme_who(v), want, flag);
    else
        snprintf(out->text, sizeof out->text,
                 "the answer uses the %s; this device expects the %s: if the password is right, "
                 "start it with --auth-variant %s (with only a hash of the password, the "
                 "emulator cannot check it in the other scheme)",
                 otk_auth_scheme_who(v), want, flag);
}
