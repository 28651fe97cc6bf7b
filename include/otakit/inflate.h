/* SPDX-License-Identifier: MIT */
/* The inflating stage in front of the writer, for compressed updates: bytes of a raw deflate
 * stream of announced length go in, the port's inflater (port.h otk_inflate_ops) turns them
 * into image bytes, and those go to otk_upd_write() as if they had arrived plain - the writer
 * checks the head, erases ahead, hashes and verifies the INFLATED image as usual.
 *
 * The stream must inflate to exactly the image bytes the writer still expects and end (its final
 * block) exactly at its announced length: a corrupt stream, one that inflates beyond the image
 * (a zip bomb is bounded by the announced size, which begin() held to the slot) or stops short
 * fails the update with OTK_UPD_INFLATE, and the writer's abort keeps the old image booting. */
#ifndef OTK_INFLATE_H
#define OTK_INFLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "port.h"
#include "updater.h"

#ifdef __cplusplus
extern "C" {
#endif

struct otk_inflater {
    /* private: defined here so callers can allocate it statically */
    const struct otk_inflate_ops *ops;
    void *state;
    size_t state_len;
    uint32_t stream_len; /* announced stream bytes */
    uint32_t stream_got; /* ...taken so far */
    bool active;         /* init() ran, finish() not yet */
    bool ended;          /* the inflater saw the final block */
    const char *why;     /* after a failure: what was wrong with the stream */
};

/** Give the stage an inflater and its state memory (ops NULL: none; the device then never
 *  offers compression). Nothing is checked here: see otk_inflater_available(). */
void otk_inflater_bind(struct otk_inflater *z, const struct otk_inflate_ops *ops, void *state,
                       size_t state_len);

/** Whether a stream can be inflated: an inflater with enough state memory. */
bool otk_inflater_available(const struct otk_inflater *z);

/** Start a stream of stream_len bytes (at least 1). @return OTK_UPD_OK, or OTK_UPD_INFLATE
 *  (no inflater, a zero length, or the port's init refused its memory). */
enum otk_upd_reason otk_inflater_start(struct otk_inflater *z, uint32_t stream_len);

/** Stream bytes that belong to the stream still: min(len, announced length - taken). */
size_t otk_inflater_wants(const struct otk_inflater *z, size_t len);

/** Inflate len stream bytes (at most otk_inflater_wants()) into the running update u.
 *  @return OTK_UPD_OK, OTK_UPD_INFLATE (z->why says what; the inflater is stopped) or the
 *  writer's own reason (otk_upd_write failed: u is aborted already). The caller aborts u on
 *  OTK_UPD_INFLATE. After the stream's last byte, OTK_UPD_OK means the image is complete. */
enum otk_upd_reason otk_inflater_write(struct otk_inflater *z, struct otk_updater *u,
                                       const uint8_t *data, size_t len);

/** All announced stream bytes taken. */
bool otk_inflater_done(const struct otk_inflater *z);

/** End the stream (finished or abandoned): the port releases its state. Idempotent. */
void otk_inflater_stop(struct otk_inflater *z);

#ifdef __cplusplus
}
#endif
#endif
