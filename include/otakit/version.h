/* SPDX-License-Identifier: MIT */
#ifndef OTK_VERSION_H
#define OTK_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* The one version of otakit: the library, the `otakit` command (--version), the CMake project,
 * the package and otakit.pc all take it from here (CMakeLists.txt reads this line). */
#define OTK_VERSION "0.1.0"

/** The library version string, e.g. "0.1.0". */
const char *otk_version(void);

#ifdef __cplusplus
}
#endif
#endif
