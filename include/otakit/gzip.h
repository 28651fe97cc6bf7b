/* SPDX-License-Identifier: MIT */
/* A gzip stream of an image, for native-protocol devices that announce compression (ESP8266
 * backends store it and their boot loader inflates it, so bigger images fit and fewer bytes
 * travel). zlib at level 9, as ESPHome's client. Host side only. */
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
