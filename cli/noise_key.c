/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "noise_key.h"

static int
b64_value(char c)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(alphabet, c) : NULL;

    return p ? (int)(p - alphabet) : -1;
}

int
cli_noise_key(const char *text, uint8_t key[32])
{
    /* 32 bytes are 43 digits and one '=' of padding: 44 characters. */
    uint32_t acc = 0;
    int bits = 0, n = 0;
    uint8_t any = 0;

    if (strlen(text) != 44 || text[43] != '=')
        return -1;
    for (int i = 0; i < 43; i++) {
        int v = b64_value(text[i]);

        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            key[n++] = (uint8_t)(acc >> bits);
        }
    }
    /* The last digit's two spare bits must be zero (canonical encoding). */
    if (n != 32 || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    for (int i = 0; i < 32; i++)
        any |= key[i];
    return any ? 0 : -1;
}
