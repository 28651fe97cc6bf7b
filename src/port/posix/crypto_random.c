/* SPDX-License-Identifier: MIT */
/* The POSIX port's crypto: mbedTLS (src/port/mbedtls) with getrandom(2) as its random source. */
#include <errno.h>
#include <sys/random.h>

#include "crypto_mbedtls.h"
#include "otakit/err.h"
#include "otakit/posix.h"

int
otk_port_random(void *user, uint8_t *buf, size_t len)
{
    (void)user;
    while (len > 0) {
        ssize_t n = getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return OTK_ERR_CRYPTO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return OTK_OK;
}

const struct otk_crypto_ops *
otk_posix_crypto(void)
{
    return otk_mbedtls_crypto();
}
