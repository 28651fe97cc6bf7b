/* SPDX-License-Identifier: MIT */
/* The few POSIX calls outside the sockets that the host tool uses, for Windows: getrandom()
 * (include/sys/random.h) and ioctl(TIOCGWINSZ) (include/sys/ioctl.h). Also, before main(), the
 * console is told to interpret the ANSI sequences the progress bar uses. */
#include <errno.h>
#include <io.h>
#include <stdarg.h>
#include <stdint.h>

#include <windows.h>

#include <bcrypt.h>

#include "sys/ioctl.h"
#include "sys/random.h"

#ifndef ENABLE_VIRTUAL_TERMINAL_PROCESSING
#define ENABLE_VIRTUAL_TERMINAL_PROCESSING 0x0004
#endif

ssize_t
getrandom(void *buf, size_t len, unsigned int flags)
{
    uint8_t *p = buf;
    size_t left = len;

    if (flags != 0) {
        errno = EINVAL;
        return -1;
    }
    while (left > 0) {
        ULONG n = left > 0x10000000u ? 0x10000000u : (ULONG)left;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            errno = EIO;
            return -1;
        }
        p += n;
        left -= n;
    }
    return (ssize_t)len;
}

static HANDLE
std_handle(int fd)
{
    switch (fd) {
    case 0:
        return GetStdHandle(STD_INPUT_HANDLE);
    case 1:
        return GetStdHandle(STD_OUTPUT_HANDLE);
    case 2:
        return GetStdHandle(STD_ERROR_HANDLE);
    default:
        return INVALID_HANDLE_VALUE;
    }
}

int
ioctl(int fd, unsigned long request, ...)
{
    CONSOLE_SCREEN_BUFFER_INFO info;
    struct winsize *ws;
    va_list ap;

    if (request != TIOCGWINSZ) {
        errno = EINVAL;
        return -1;
    }
    va_start(ap, request);
    ws = va_arg(ap, struct winsize *);
    va_end(ap);
    if (!GetConsoleScreenBufferInfo(std_handle(fd), &info)) {
        errno = ENOTTY;
        return -1;
    }
    ws->ws_col = (unsigned short)(info.srWindow.Right - info.srWindow.Left + 1);
    ws->ws_row = (unsigned short)(info.srWindow.Bottom - info.srWindow.Top + 1);
    ws->ws_xpixel = ws->ws_ypixel = 0;
    return 0;
}

/* Windows 10 and later consoles understand the progress bar's "\r\033[K" once asked to (older
 * ones show it raw; there, use -q or redirect standard error). */
__attribute__((constructor)) static void
enable_ansi_console(void)
{
    HANDLE h = GetStdHandle(STD_ERROR_HANDLE);
    DWORD mode;

    if (h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode))
        (void)SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING);
}
