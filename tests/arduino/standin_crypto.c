/* SPDX-License-Identifier: MIT */
/* The stand-in's crypto for the ESP8266 port: mbedTLS (src/port/mbedtls) in place of the
 * core's ROM MD5 and BearSSL SHA-256 (otakit_esp8266_crypto.cpp, which needs the real core),
 * and getrandom() in place of the hardware RNG. */
#include <sys/random.h>

#include "crypto_mbedtls.h"
#include "otakit/err.h"
#include "otakit_esp8266.h"

int
otk_port_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    return getrandom(buf, len, 0) == (ssize_t)len ? OTK_OK : OTK_ERR_IO;
}

const struct otk_crypto_ops *
otk_esp8266_crypto(void)
{
    return otk_mbedtls_crypto();
}
