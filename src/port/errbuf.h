/* SPDX-License-Identifier: MIT */
/* Formatting an error message into a caller's (err, errcap) buffer, as the host-side mDNS and
 * network functions report failures. Internal to the host tools and their ports. */
#ifndef OTK_PORT_ERRBUF_H
#define OTK_PORT_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void otk__seterr(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* NULL or zero-sized buffers are allowed: the caller did not want the text. */
static inline void
otk__seterr(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;

    if (!err || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

#endif
