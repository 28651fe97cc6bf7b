/* SPDX-License-Identifier: MIT */
#include "otakit/version.h"

const char *
otk_version(void)
{
    return OTK_VERSION;
}
