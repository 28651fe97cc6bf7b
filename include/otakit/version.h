/* SPDX-License-Identifier: MIT */
#ifndef OTK_VERSION_H
#define OTK_VERSION_H

#define OTK_VERSION "0.1.0"

/** The library version string, e.g. "0.1.0". */
const char *otk_version(void);

#endif
