/* SPDX-License-Identifier: MIT */
#include <time.h>

#include "otakit/posix.h"

uint32_t
otk_posix_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}
