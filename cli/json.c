/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "json.h"
#include "otakit/slots.h"

/* Length of the UTF-8 sequence starting at s[0] (of n bytes), or 0 if it is not valid. */
static size_t
utf8_len(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t len = c < 0x80             ? 1
                 : (c & 0xE0) == 0xC0 ? 2
                 : (c & 0xF0) == 0xE0 ? 3
                 : (c & 0xF8) == 0xF0 ? 4
                                      : 0;

    if (len == 0 || len > n || (len == 2 && c < 0xC2))
        return 0;
    for (size_t k = 1; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

void
cli_json_bytes(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t len = utf8_len(s + i, n - i);

        if (len == 0) {
            fputs("\\ufffd", f);
            i++;
            continue;
        }
        if (len > 1)
            fwrite(s + i, 1, len, f);
        else if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\r')
            fputs("\\r", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7F)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
        i += len;
    }
    fputc('"', f);
}

void
cli_json_str(FILE *f, const char *s)
{
    if (!s)
        s = "";
    cli_json_bytes(f, (const uint8_t *)s, strlen(s));
}

const char *
cli_image_result_key(enum otk_image_result r)
{
    switch (r) {
    case OTK_IMG_OK:
        return "ok";
    case OTK_IMG_BAD_MAGIC:
        return "bad_magic";
    case OTK_IMG_BAD_HEADER:
        return "bad_header";
    case OTK_IMG_BAD_CHECKSUM:
        return "bad_checksum";
    case OTK_IMG_BAD_HASH:
        return "bad_hash";
    case OTK_IMG_WRONG_CHIP:
        return "wrong_chip";
    case OTK_IMG_TRUNCATED:
        return "truncated";
    case OTK_IMG_READ_ERROR:
        return "read_error";
    case OTK_IMG_GZIP:
        return "gzip";
    }
    return "unknown";
}

const char *
cli_ota_state_key(uint32_t state)
{
    switch (state) {
    case OTK_OTA_NEW:
        return "new";
    case OTK_OTA_PENDING_VERIFY:
        return "pending-verify";
    case OTK_OTA_VALID:
        return "valid";
    case OTK_OTA_INVALID:
        return "invalid";
    case OTK_OTA_ABORTED:
        return "aborted";
    case OTK_OTA_UNDEFINED:
        return "undefined";
    default:
        return "unknown";
    }
}
