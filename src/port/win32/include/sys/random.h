/* SPDX-License-Identifier: MIT */
/* getrandom(2) for the Windows build: the mbedTLS crypto glue (src/port/mbedtls/crypto_mbedtls.c)
 * takes its nonces from it. Part of the win32 port: implemented in src/port/win32/posix_compat.c
 * with the system's CSPRNG (RtlGenRandom). */
#ifndef OTK_WIN32_SYS_RANDOM_H
#define OTK_WIN32_SYS_RANDOM_H

#include <stddef.h>
#include <sys/types.h>

/** Fill buf with len random bytes; flags must be 0. @return len, or -1 with errno set */
ssize_t getrandom(void *buf, size_t len, unsigned int flags);

#endif
