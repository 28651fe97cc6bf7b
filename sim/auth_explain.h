/* SPDX-License-Identifier: MIT */
/* Why an answer to the device's challenge failed, in words for the emulator's log. The device
 * engine only says "Authentication Failed"; a right password sent in the other scheme (an
 * espota.py older than arduino-esp32 3.3.1 against the PBKDF2 default) looks just like a wrong
 * one from there. This check runs in the emulator, after the engine refused the answer. */
#ifndef OTK_AUTH_EXPLAIN_H
#define OTK_AUTH_EXPLAIN_H

#include <stddef.h>
#include <stdint.h>

#include "otakit/port.h"
#include "otakit/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otk_auth_explain {
    int scheme;   /* the answer's scheme (enum otk_auth_variant, from its length), -1: neither */
    int password; /* 1: right password in the answer's scheme, 0: wrong, -1: cannot tell */
    char text[400];
};

/** Explain a failed answer `dg` (len bytes) to the challenge `nonce`, for a device that expects
 *  `expected` and stores `secret`; `password` (NULL: only a hash is known) lets the check try
 *  the other scheme's secret. */
void otk_auth_explain(const struct otk_crypto_ops *c, enum otk_auth_variant expected,
                      const char *secret, const char *password, const char *nonce,
                      const uint8_t *dg, size_t len, struct otk_auth_explain *out);

/** "MD5" or "PBKDF2" and the espota.py releases that speak the scheme. */
const char *otk_auth_scheme_who(enum otk_auth_variant v);

#ifdef __cplusplus
}
#endif
#endif
