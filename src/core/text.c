/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "text.h"

void
otk__sb_put(struct otk__sbuf *s, const char *str, size_t len)
{
    while (len-- > 0 && s->n + 1 < s->cap)
        s->p[s->n++] = *str++;
    s->p[s->n] = '\0';
}

void
otk__sb_str(struct otk__sbuf *s, const char *str)
{
    otk__sb_put(s, str, strlen(str));
}

void
otk__sb_uint(struct otk__sbuf *s, uint32_t v)
{
    char tmp[10];
    size_t n = sizeof tmp;

    do {
        uint32_t q = v / 10u; /* one division: the ESP8266 has no divide instruction */

        tmp[--n] = (char)('0' + (v - q * 10u));
        v = q;
    } while (v);
    otk__sb_put(s, tmp + n, sizeof tmp - n);
}

int
otk__hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20; /* ASCII letters: lower case */
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}
