/* SPDX-License-Identifier: MIT */
/* One error enum for the whole library: 0 is success, negatives are failures.
 * Numbers are append-only: tools and logs may store them. */
#ifndef OTK_ERR_H
#define OTK_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

enum otk_err {
    OTK_OK = 0,
    OTK_ERR_AGAIN = -1,     /* would block; try again later */
    OTK_ERR_MALFORMED = -2, /* bytes from the wire do not parse */
    OTK_ERR_ARG = -3,       /* bad argument from the caller */
    OTK_ERR_STATE = -4,     /* call not valid in the current state */
    OTK_ERR_AUTH = -5,      /* authentication failed */
    OTK_ERR_TIMEOUT = -6,   /* a deadline passed */
    OTK_ERR_FLASH = -7,     /* a flash operation failed */
    OTK_ERR_IO = -8,        /* transport or file I/O failed */
    OTK_ERR_NOSPACE = -9,   /* does not fit */
    OTK_ERR_IMAGE = -10,    /* image is not valid for this device */
    OTK_ERR_CRYPTO = -11,   /* the crypto provider failed */
    OTK_ERR_BUSY = -12,     /* another update is running */
    OTK_ERR_CLOSED = -13,   /* the peer closed the connection */
    OTK_ERR_MD5 = -14,      /* digest mismatch */
    OTK_ERR_RANGE = -15,    /* value out of range */
    OTK_ERR_NOTFOUND = -16, /* partition, slot or record not found */
};

/** Short English text for an otk_err value; never NULL (unknown codes give "unknown error"). */
const char *otk_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
