/* SPDX-License-Identifier: MIT */
/* The host port's monotonic clock (otakit/posix.h) for Windows: QueryPerformanceCounter. */
#include <windows.h>

#include "otakit/posix.h"

uint32_t
otk_posix_now_ms(void)
{
    LARGE_INTEGER f, c;

    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    /* split to avoid overflowing 64 bits for counters running at 10 MHz for years */
    return (uint32_t)((uint64_t)(c.QuadPart / f.QuadPart) * 1000u +
                      (uint64_t)(c.QuadPart % f.QuadPart) * 1000u / (uint64_t)f.QuadPart);
}
