/* SPDX-License-Identifier: MIT */
/* gzip through zlib (include/otakit/gzip.h). Builds without zlib (OTK_HAVE_ZLIB unset, e.g. the
 * Windows cross build) say so, and the uploader then never offers compression. */
#include <stdlib.h>

#include "otakit/err.h"
#include "otakit/gzip.h"

#if OTK_HAVE_ZLIB
#include <zlib.h>

bool
otk_gzip_available(void)
{
    return true;
}

/* Deflate in into a new buffer (*out, freed by the caller), window_bits as deflateInit2 takes
 * them: the header and trailer they choose. Fed in 64 KB pieces (zlib's avail_in is a uInt). */
static int
deflate_buffer(const uint8_t *in, uint32_t len, int level, int window_bits, uint8_t **out,
               uint32_t *out_len)
{
    z_stream z = {0};
    const uint32_t piece = 64u * 1024u;
    uint32_t at = 0;
    int rc = Z_OK;

    if (deflateInit2(&z, level, Z_DEFLATED, window_bits, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return OTK_ERR_IO;
    uLong cap = deflateBound(&z, len);
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) {
        deflateEnd(&z);
        return OTK_ERR_IO;
    }
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    while (rc == Z_OK) {
        uint32_t n = len - at < piece ? len - at : piece;

        z.next_in = (Bytef *)(in + at);
        z.avail_in = n;
        at += n;
        rc = deflate(&z, at == len ? Z_FINISH : Z_NO_FLUSH);
    }
    uLong total = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return OTK_ERR_IO;
    }
    *out = buf;
    *out_len = (uint32_t)total;
    return OTK_OK;
}

int
otk_gzip(const uint8_t *in, uint32_t len, uint8_t **out, uint32_t *out_len)
{
    /* windowBits 15 + 16: a gzip header and trailer instead of zlib's (Python's gzip.compress) */
    return deflate_buffer(in, len, 9, 15 + 16, out, out_len);
}

size_t
otk_gunzip_head(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    z_stream z = {0};
    /* windowBits 15 + 16: gzip only (a page served with Content-Encoding: gzip) */
    if (!len || !cap || inflateInit2(&z, 15 + 16) != Z_OK)
        return 0;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    (void)inflate(&z, Z_SYNC_FLUSH); /* a cut stream still yields what it holds */
    size_t n = cap - z.avail_out;
    inflateEnd(&z);
    return n;
}

int
otk_deflate_raw(const uint8_t *in, uint32_t len, int level, uint8_t **out, uint32_t *out_len)
{
    if (level < 1 || level > 9)
        return OTK_ERR_ARG;
    /* windowBits -15: no zlib header or Adler-32, the 32 KB window every inflater holds */
    return deflate_buffer(in, len, level, -15, out, out_len);
}

#else

int
otk_deflate_raw(const uint8_t *in, uint32_t len, int level, uint8_t **out, uint32_t *out_len)
{
    (void)in;
    (void)len;
    (void)level;
    *out = NULL;
    *out_len = 0;
    return OTK_ERR_STATE;
}

bool
otk_gzip_available(void)
{
    return false;
}

int
otk_gzip(const uint8_t *in, uint32_t len, uint8_t **out, uint32_t *out_len)
{
    (void)in;
    (void)len;
    *out = NULL;
    *out_len = 0;
    return OTK_ERR_STATE;
}

size_t
otk_gunzip_head(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    (void)in;
    (void)len;
    (void)out;
    (void)cap;
    return 0;
}

#endif
