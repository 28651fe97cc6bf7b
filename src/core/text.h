/* SPDX-License-Identifier: MIT */
/* Text helpers shared by the core's modules (internal): a bounded string builder and hex
 * digits. One copy instead of one per module keeps the core small on the device. */
#ifndef OTK_CORE_TEXT_H
#define OTK_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* A bounded string builder: writes are truncated, never overflow, and the text stays
 * NUL-terminated (cap must be at least 1). */
struct otk__sbuf {
    char *p;
    size_t cap;
    size_t n;
};

void otk__sb_put(struct otk__sbuf *s, const char *str, size_t len);
void otk__sb_str(struct otk__sbuf *s, const char *str);
void otk__sb_uint(struct otk__sbuf *s, uint32_t v);

static inline int
otk__is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline int
otk__is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value of a hex digit (either case), or -1. */
int otk__hex_value(int c);

#endif
