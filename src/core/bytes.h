/* SPDX-License-Identifier: MIT */
/* Little-endian byte helpers for wire and flash formats. Explicit byte access instead of packed
 * structs: the ESP8266's Xtensa core faults on unaligned word loads. Internal to the core (and
 * the host tools that build the same formats). */
#ifndef OTK_CORE_BYTES_H
#define OTK_CORE_BYTES_H

#include <stdint.h>

static inline uint16_t
otk__get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t
otk__get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void
otk__put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
