/* SPDX-License-Identifier: MIT */
/* `--key BASE64` (cli/key.h). */
#include <stdio.h>
#include <string.h>

#include "key.h"

static int
b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int
cli_parse_key(const char *text, uint8_t out[32], char *why, size_t cap)
{
    size_t len = strlen(text), n = 0;
    uint32_t acc = 0;
    unsigned bits = 0;
    uint8_t any = 0;

    /* 32 bytes are 43 characters and one '=' */
    if (len != 44 || text[43] != '=' || text[42] == '=') {
        snprintf(why, cap,
                 "a key is 44 characters of base64 (32 bytes, ending in one '='), as ESPHome "
                 "writes it; this one has %zu",
                 len);
        return -1;
    }
    for (size_t i = 0; i < 43; i++) {
        int v = b64_value((unsigned char)text[i]);
        if (v < 0) {
            snprintf(why, cap, "'%c' (position %zu) is not a base64 character", text[i], i + 1);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n] = (uint8_t)(acc >> bits);
            any |= out[n++];
        }
    }
    if (acc & ((1u << bits) - 1)) {
        snprintf(why, cap, "its last character leaves bits over: not a 32-byte key");
        return -1;
    }
    if (!any) {
        snprintf(why, cap, "the all-zero key means \"not provisioned\" to ESPHome devices");
        return -1;
    }
    return 0;
}
