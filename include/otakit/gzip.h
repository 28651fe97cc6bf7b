/* SPDX-License-Identifier: MIT */
/* A gzip stream of an image, for native-protocol devices that announce compression (ESP8266
 * backends store it and their boot loader inflates it, so bigger images fit and fewer bytes
 * travel). zlib at level 9, as ESPHome's client. And the raw deflate stream otakit devices
 * inflate as it arrives (otakit's DEFLATE capability). Host side only. */
#ifndef OTK_GZIP_H
#define OTK_GZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Whether this build can compress (it has zlib). */
bool otk_gzip_available(void);

/* The uploader's level for otakit's compressed updates (raw deflate, inflated by the device as
 * it arrives). Measured on the two real firmware images of the test data (zlib 1.2/1.3, windowBits
 * 15, memLevel 9): level 6 makes 57.68 % / 73.65 % of their bytes in 72 / 33 ms, level 9
 * 57.49 % / 73.62 % in 189 / 32 ms, level 1 60.05 % / 75.22 %. Beyond 6 the stream shrinks by
 * 0.2 % (2 KB of 1 MB: 14 ms on the weak-wifi link's 144 KB/s) for 117 ms more CPU per attempt. */
#define OTK_DEFLATE_LEVEL 6

/** A raw deflate stream (RFC 1951, no wrapper: what the device's inflater reads) of len bytes of
 *  in, compressed in 64 KB pieces as a stream, into a new buffer *out (free() it) of *out_len
 *  bytes. level 1-9. @return OTK_OK, OTK_ERR_ARG (level), OTK_ERR_IO (no memory, zlib failed)
 *  or OTK_ERR_STATE (built without zlib). */
int otk_deflate_raw(const uint8_t *in, uint32_t len, int level, uint8_t **out, uint32_t *out_len);

/** Compress len bytes of in into a new buffer *out (free() it) of *out_len bytes.
 *  @return OTK_OK, OTK_ERR_IO (no memory, zlib failed) or OTK_ERR_STATE (built without zlib) */
int otk_gzip(const uint8_t *in, uint32_t len, uint8_t **out, uint32_t *out_len);

/** Inflate the start of a gzip stream (a web page's first bytes: the rest may be missing) into
 *  out, at most cap bytes. @return the bytes written (0 when nothing could be inflated or the
 *  build has no zlib) */
size_t otk_gunzip_head(const uint8_t *in, size_t len, uint8_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
