/* SPDX-License-Identifier: MIT */
#include "otakit/err.h"

const char *
otk_strerror(int err)
{
    switch (err) {
    case OTK_OK:
        return "ok";
    case OTK_ERR_AGAIN:
        return "would block";
    case OTK_ERR_MALFORMED:
        return "malformed message";
    case OTK_ERR_ARG:
        return "invalid argument";
    case OTK_ERR_STATE:
        return "invalid state";
    case OTK_ERR_AUTH:
        return "authentication failed";
    case OTK_ERR_TIMEOUT:
        return "timed out";
    case OTK_ERR_FLASH:
        return "flash operation failed";
    case OTK_ERR_IO:
        return "I/O error";
    case OTK_ERR_NOSPACE:
        return "not enough space";
    case OTK_ERR_IMAGE:
        return "invalid image";
    case OTK_ERR_CRYPTO:
        return "crypto provider failed";
    case OTK_ERR_BUSY:
        return "another update is running";
    case OTK_ERR_CLOSED:
        return "connection closed";
    case OTK_ERR_MD5:
        return "digest mismatch";
    case OTK_ERR_RANGE:
        return "value out of range";
    case OTK_ERR_NOTFOUND:
        return "not found";
    default:
        return "unknown error";
    }
}
