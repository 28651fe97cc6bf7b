/* SPDX-License-Identifier: MIT */
/* The inflate ops on zlib (include/otakit/posix.h): raw deflate, inflated into a 4 KB buffer
 * inside the state. zlib allocates its state and its 32 KB window through zalloc; here zalloc
 * hands out the rest of the caller's state memory (nothing is freed before the stream ends), so
 * the engine's "no heap" holds for the port too. */
#include <limits.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <zlib.h>

#include "otakit/err.h"
#include "otakit/posix.h"

#define OUT_CAP 4096u
/* zlib's inflate_state (about 7 KB on 64-bit hosts) and its 32 KB window, with room to spare. */
#define ARENA_CAP (48u * 1024u)

struct zstate {
    z_stream z;
    bool ended;
    size_t arena_used;
    unsigned char out[OUT_CAP];
    alignas(max_align_t) unsigned char arena[ARENA_CAP];
};

static voidpf
arena_alloc(voidpf opaque, uInt items, uInt size)
{
    struct zstate *s = opaque;
    size_t n = (size_t)items * size, align = alignof(max_align_t);

    n = (n + align - 1) / align * align;
    if (n > ARENA_CAP - s->arena_used)
        return Z_NULL; /* inflate then fails with Z_MEM_ERROR */
    s->arena_used += n;
    return s->arena + s->arena_used - n;
}

static void
arena_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    (void)p; /* the whole arena goes with the stream */
}

static int
zinit(void *user, void *state, size_t state_len)
{
    struct zstate *s = state;

    (void)user;
    if (!s || state_len < sizeof *s)
        return OTK_ERR_ARG;
    memset(&s->z, 0, sizeof s->z);
    s->ended = false;
    s->arena_used = 0;
    s->z.zalloc = arena_alloc;
    s->z.zfree = arena_free;
    s->z.opaque = s;
    /* windowBits -15: a raw deflate stream, the 32 KB window deflate may refer back into */
    return inflateInit2(&s->z, -15) == Z_OK ? OTK_OK : OTK_ERR_ARG;
}

static int
zfeed(void *user, void *state, const uint8_t *in, size_t len, size_t *used, const uint8_t **out,
      size_t *out_len)
{
    struct zstate *s = state;
    uInt give = len > UINT_MAX ? UINT_MAX : (uInt)len;
    int rc;

    (void)user;
    *used = 0;
    *out = s->out;
    *out_len = 0;
    if (s->ended)
        return OTK_INFLATE_END;
    s->z.next_in = (Bytef *)(uintptr_t)in;
    s->z.avail_in = give;
    s->z.next_out = s->out;
    s->z.avail_out = OUT_CAP;
    rc = inflate(&s->z, Z_NO_FLUSH);
    *used = give - s->z.avail_in;
    *out_len = OUT_CAP - s->z.avail_out;
    if (rc == Z_STREAM_END) {
        s->ended = true;
        return OTK_INFLATE_END;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR)
        return OTK_ERR_MALFORMED; /* Z_DATA_ERROR: a corrupt stream (Z_MEM_ERROR: state) */
    /* A full output buffer may hide more output; otherwise zlib took all the input it could. */
    return s->z.avail_out == 0 || s->z.avail_in > 0 ? OTK_INFLATE_MORE_OUTPUT
                                                    : OTK_INFLATE_NEED_INPUT;
}

static int
zfinish(void *user, void *state)
{
    struct zstate *s = state;
    bool ended = s->ended;

    (void)user;
    inflateEnd(&s->z);
    s->ended = false;
    return ended ? OTK_OK : OTK_ERR_MALFORMED;
}

const struct otk_inflate_ops *
otk_posix_inflate(void)
{
    static const struct otk_inflate_ops ops = {
        .state_size = sizeof(struct zstate),
        .init = zinit,
        .feed = zfeed,
        .finish = zfinish,
    };
    return &ops;
}
