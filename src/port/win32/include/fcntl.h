/* SPDX-License-Identifier: MIT */
/* <fcntl.h> for the Windows build: the C runtime's, plus O_CLOEXEC. Its Windows equivalent is
 * _O_NOINHERIT (no child process inherits the descriptor); _O_BINARY is added because POSIX has
 * no text mode: a firmware image read in text mode would lose its CR bytes and stop at 0x1A. */
#ifndef OTK_WIN32_FCNTL_H
#define OTK_WIN32_FCNTL_H

#include_next <fcntl.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC (_O_NOINHERIT | _O_BINARY)
#endif

#endif
