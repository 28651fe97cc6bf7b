/* SPDX-License-Identifier: MIT */
/* The inflate ops on the ROM's tinfl (miniz 9.1.15 in the ESP32 family's mask ROM: esp_rom's
 * "miniz.h"; ESP-IDF 5.x deprecates the older "rom/miniz.h" path with a #warning). The ROM
 * holds the code, so an inflater costs the firmware no flash, only this glue. tinfl inflates
 * into a 32 KB ring that is also its window; each call hands out the contiguous part it wrote. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "miniz.h"

#include "idf_port.h"
#include "otakit/err.h"

struct rom_inflate {
    tinfl_decompressor r;
    size_t ring_at; /* where the next output goes in ring */
    bool ended;
    uint8_t ring[TINFL_LZ_DICT_SIZE];
};

static int
rinit(void *user, void *state, size_t state_len)
{
    struct rom_inflate *s = state;

    (void)user;
    if (!s || state_len < sizeof *s)
        return OTK_ERR_ARG;
    tinfl_init(&s->r);
    s->ring_at = 0;
    s->ended = false;
    return OTK_OK;
}

static int
rfeed(void *user, void *state, const uint8_t *in, size_t len, size_t *used, const uint8_t **out,
      size_t *out_len)
{
    struct rom_inflate *s = state;
    size_t in_n = len, out_n = TINFL_LZ_DICT_SIZE - s->ring_at;
    tinfl_status st;

    (void)user;
    *used = 0;
    *out = s->ring + s->ring_at;
    *out_len = 0;
    if (s->ended)
        return OTK_INFLATE_END;
    /* No zlib header (raw deflate), more input may follow, the output buffer wraps. */
    st = tinfl_decompress(&s->r, in, &in_n, s->ring, s->ring + s->ring_at, &out_n,
                          TINFL_FLAG_HAS_MORE_INPUT);
    *used = in_n;
    *out_len = out_n;
    s->ring_at = (s->ring_at + out_n) & (TINFL_LZ_DICT_SIZE - 1);
    switch (st) {
    case TINFL_STATUS_DONE:
        s->ended = true;
        return OTK_INFLATE_END;
    case TINFL_STATUS_NEEDS_MORE_INPUT:
        return OTK_INFLATE_NEED_INPUT;
    case TINFL_STATUS_HAS_MORE_OUTPUT:
        return OTK_INFLATE_MORE_OUTPUT;
    default:
        return OTK_ERR_MALFORMED;
    }
}

static int
rfinish(void *user, void *state)
{
    struct rom_inflate *s = state;
    bool ended = s->ended;

    (void)user;
    s->ended = false;
    return ended ? OTK_OK : OTK_ERR_MALFORMED;
}

const struct otk_inflate_ops *
otk_idf_inflate(void)
{
    static const struct otk_inflate_ops ops = {
        .state_size = sizeof(struct rom_inflate),
        .init = rinit,
        .feed = rfeed,
        .finish = rfinish,
    };
    return &ops;
}
