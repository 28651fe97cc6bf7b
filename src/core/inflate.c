/* SPDX-License-Identifier: MIT */
/* The inflating stage in front of the writer (include/otakit/inflate.h). The inflater itself is
 * the port's: none is written here. */
#include <stddef.h>

#include "otakit/config.h"
#include "otakit/err.h"
#include "otakit/inflate.h"

#if OTK_CFG_NATIVE_DEFLATE

void
otk_inflater_bind(struct otk_inflater *z, const struct otk_inflate_ops *ops, void *state,
                  size_t state_len)
{
    otk_inflater_stop(z);
    z->ops = ops;
    z->state = state;
    z->state_len = state_len;
    z->why = 0;
}

bool
otk_inflater_available(const struct otk_inflater *z)
{
    const struct otk_inflate_ops *o = z->ops;

    return o && o->init && o->feed && o->finish && z->state && z->state_len >= o->state_size;
}

static enum otk_upd_reason
stream_fail(struct otk_inflater *z, const char *why)
{
    z->why = why;
    otk_inflater_stop(z);
    return OTK_UPD_INFLATE;
}

enum otk_upd_reason
otk_inflater_start(struct otk_inflater *z, uint32_t stream_len)
{
    otk_inflater_stop(z);
    z->why = 0;
    z->stream_len = stream_len;
    z->stream_got = 0;
    z->ended = false;
    if (!otk_inflater_available(z))
        return stream_fail(z, "no inflater");
    if (stream_len == 0)
        return stream_fail(z, "empty stream");
    if (z->ops->init(z->ops->user, z->state, z->state_len) != OTK_OK)
        return stream_fail(z, "inflater refused its memory");
    z->active = true;
    return OTK_UPD_OK;
}

size_t
otk_inflater_wants(const struct otk_inflater *z, size_t len)
{
    uint32_t left = z->stream_len - z->stream_got;

    return z->active && len > left ? left : (z->active ? len : 0);
}

/* Hand one piece of inflated output to the writer; never more than the image still expects. */
static enum otk_upd_reason
put(struct otk_inflater *z, struct otk_updater *u, const uint8_t *out, size_t n)
{
    if (n == 0)
        return OTK_UPD_OK;
    if (n > u->size - otk_upd_progress(u))
        return stream_fail(z, "it inflates beyond the announced image size");
    if (otk_upd_write(u, out, n) != n) {
        otk_inflater_stop(z);
        return otk_upd_reason_of(u);
    }
    return OTK_UPD_OK;
}

/* The stream's last byte arrived: it must have ended there, with the whole image. */
static enum otk_upd_reason
check_end(struct otk_inflater *z, const struct otk_updater *u)
{
    if (!z->ended)
        return stream_fail(z, "the stream is truncated (no final block)");
    if (otk_upd_progress(u) != u->size)
        return stream_fail(z, "it inflates to less than the announced image size");
    otk_inflater_stop(z);
    return OTK_UPD_OK;
}

enum otk_upd_reason
otk_inflater_write(struct otk_inflater *z, struct otk_updater *u, const uint8_t *data, size_t len)
{
    const struct otk_inflate_ops *o = z->ops;

    if (!z->active || len > z->stream_len - z->stream_got)
        return stream_fail(z, "stream bytes beyond its announced length");
    z->stream_got += (uint32_t)len;
    for (;;) {
        const uint8_t *out = 0;
        size_t used = 0, n = 0;
        int rc =
            z->ended ? OTK_INFLATE_END : o->feed(o->user, z->state, data, len, &used, &out, &n);
        enum otk_upd_reason r;

        if (rc < 0)
            return stream_fail(z, "corrupt deflate stream");
        if (used > len)
            return stream_fail(z, "inflater overran its input");
        data += used;
        len -= used;
        r = put(z, u, out, n);
        if (r != OTK_UPD_OK)
            return r;
        if (rc == OTK_INFLATE_END) {
            z->ended = true;
            if (len > 0)
                return stream_fail(z, "the stream ends before its announced length");
            break;
        }
        if (rc == OTK_INFLATE_NEED_INPUT && len == 0)
            break;
        if (used == 0 && n == 0)
            return stream_fail(z, "inflater made no progress");
    }
    return otk_inflater_done(z) ? check_end(z, u) : OTK_UPD_OK;
}

bool
otk_inflater_done(const struct otk_inflater *z)
{
    return z->stream_got == z->stream_len;
}

void
otk_inflater_stop(struct otk_inflater *z)
{
    if (z->active && z->ops)
        (void)z->ops->finish(z->ops->user, z->state);
    z->active = false;
}

#endif /* OTK_CFG_NATIVE_DEFLATE */
