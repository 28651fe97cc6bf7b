/* SPDX-License-Identifier: MIT */
/* The one ioctl() the CLI uses on a terminal (TIOCGWINSZ: the width for the progress bar), for
 * the Windows build. Part of the win32 port: implemented in src/port/win32/posix_compat.c with
 * the console API. */
#ifndef OTK_WIN32_SYS_IOCTL_H
#define OTK_WIN32_SYS_IOCTL_H

struct winsize {
    unsigned short ws_row;
    unsigned short ws_col;
    unsigned short ws_xpixel;
    unsigned short ws_ypixel;
};

#define TIOCGWINSZ 0x5413

/** Only TIOCGWINSZ on the standard streams (fd 0, 1, 2); anything else fails. */
int ioctl(int fd, unsigned long request, ...);

#endif
