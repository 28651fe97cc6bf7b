/* SPDX-License-Identifier: MIT */
/* The fault stage (see fault_stage.h for where it sits and why): the input entries apply the
 * faults to what the host sends, the ops to what the device sends. */
#include <string.h>

#include "fault_stage.h"
#include "otakit/err.h"

static void
fault_log(struct otk_fault_stage *st)
{
    char text[200];
    if (otk_faults_take_log(st->faults, text, sizeof text) && st->io.log)
        st->io.log(st->io.user, text);
}

/* ---- towards the engine ---- */

static void
in_datagram(void *user, const struct otk_addr *from, const uint8_t *data, size_t len,
            uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    int copies = otk_faults_datagram(st->faults, true, data, len);
    fault_log(st);
    for (int i = 0; i < copies && st->attached; i++)
        st->next.on_datagram(st->next.user, from, data, len, now_ms);
}

static void
in_connected(void *user, int status, uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    if (st->attached)
        st->next.on_connected(st->next.user, status, now_ms);
}

static void
in_tcp_closed(void *user, uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    if (st->attached && !st->tcp.reset)
        st->next.on_tcp_closed(st->next.user, now_ms);
}

static bool
in_idle(void *user, uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    return st->attached && st->next.on_idle && st->next.on_idle(st->next.user, now_ms);
}

static size_t
in_tcp_room(void *user, uint8_t **buf)
{
    struct otk_fault_stage *st = user;
    *buf = NULL;
    if (!st->attached || st->tcp.reset)
        return 0;
    return st->next.tcp_room(st->next.user, buf);
}

/* The next stage's data entry for one of the two connections. */
typedef size_t (*data_fn)(void *user, const uint8_t *data, size_t len, uint32_t now_ms);

/* Pass len bytes on through `give`, the one at flip_at (if < len) flipped: the bytes before
 * and after it go from where they are (in place, when the port received into the next stage's
 * memory), the flipped one from a copy of its own. @return bytes the next stage took. */
static size_t
pass_on(struct otk_fault_stage *st, data_fn give, const uint8_t *data, size_t len, size_t flip_at,
        uint32_t now_ms)
{
    void *nx = st->next.user;
    if (flip_at >= len)
        return len ? give(nx, data, len, now_ms) : 0;
    size_t used = flip_at ? give(nx, data, flip_at, now_ms) : 0;
    if (used < flip_at)
        return used;
    uint8_t flipped = data[flip_at] ^ OTK_FAULT_CORRUPT_XOR;
    if (give(nx, &flipped, 1, now_ms) != 1)
        return used;
    used++;
    if (used < len)
        used += give(nx, data + used, len - used, now_ms);
    return used;
}

/* "drop" fired: the device gets the close after the bytes before N (it crosses the air after
 * them), the host a reset at once, as when the device's link dies under the connection. The
 * port cannot reset the native connection it accepted: that one it closes. */
static void
reset_connection(struct otk_fault_stage *st, bool native, uint32_t now_ms)
{
    const struct otk_net_ops *d = st->io.down;
    if (native) {
        st->nat.reset = true;
        st->next.on_native_closed(st->next.user, now_ms);
        d->nat_close(d->user);
        return;
    }
    st->tcp.reset = true;
    st->next.on_tcp_closed(st->next.user, now_ms);
    if (d->tcp_abort)
        d->tcp_abort(d->user);
}

/* Bytes of either connection: the faults decide the span, the next stage takes what it takes,
 * the drop or stall at the span's end fires once all of it went on. */
static size_t
stream_data(struct otk_fault_stage *st, bool native, const uint8_t *data, size_t len,
            uint32_t now_ms)
{
    struct otk_fault_conn *c = native ? &st->nat : &st->tcp;
    if (!st->attached)
        return 0;
    if (c->reset)
        return len; /* what still comes of a reset connection is lost */
    struct otk_fault_span sp;
    otk_faults_tcp(st->faults, c->off, len, &sp);
    data_fn give = native ? st->next.on_native_data : st->next.on_tcp_data;
    size_t used =
        pass_on(st, give, data, sp.take, sp.corrupt ? sp.corrupt_index : SIZE_MAX, now_ms);
    bool cut = otk_faults_tcp_passed(st->faults, c->off, used, &sp);
    c->off += used;
    fault_log(st);
    if (cut && sp.drop)
        reset_connection(st, native, now_ms);
    else if (cut && sp.stall && st->io.silence)
        st->io.silence(st->io.user, sp.stall_ms);
    return used;
}

static size_t
in_tcp_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    return stream_data(user, false, data, len, now_ms);
}

/* ---- the native protocol's accepted connection, towards the engine ---- */

static bool
in_native_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    st->nat.off = 0;
    st->nat.reset = false;
    return st->attached && st->next.on_native_accept(st->next.user, from, now_ms);
}

static size_t
in_native_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    return stream_data(user, true, data, len, now_ms);
}

static void
in_native_closed(void *user, uint32_t now_ms)
{
    struct otk_fault_stage *st = user;
    if (st->attached && !st->nat.reset)
        st->next.on_native_closed(st->next.user, now_ms);
}

static size_t
in_native_room(void *user, uint8_t **buf)
{
    struct otk_fault_stage *st = user;
    *buf = NULL;
    if (!st->attached || st->nat.reset)
        return 0;
    return st->next.native_room(st->next.user, buf);
}

/* ---- towards the host ---- */

static int
op_udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct otk_fault_stage *st = user;
    const struct otk_net_ops *d = st->io.down;
    int copies = otk_faults_datagram(st->faults, false, buf, len);
    int rc = OTK_OK; /* a lost datagram left as far as the device knows */
    fault_log(st);
    for (int i = 0; i < copies; i++)
        rc = d->udp_send(d->user, to, buf, len);
    return rc;
}

/* A refused connect fails here; the link in front sends the refusal back across the air. */
static int
op_tcp_connect(void *user, const struct otk_addr *to)
{
    struct otk_fault_stage *st = user;
    st->tcp.off = 0;
    st->tcp.reset = false;
    if (otk_faults_refuse_connect(st->faults)) {
        fault_log(st);
        return OTK_ERR_IO;
    }
    return st->io.down->tcp_connect(st->io.down->user, to);
}

static int
op_tcp_send(void *user, const void *buf, size_t len)
{
    struct otk_fault_stage *st = user;
    return st->io.down->tcp_send(st->io.down->user, buf, len);
}

static void
op_tcp_close(void *user)
{
    struct otk_fault_stage *st = user;
    st->io.down->tcp_close(st->io.down->user);
}

static void
op_tcp_abort(void *user)
{
    struct otk_fault_stage *st = user;
    st->io.down->tcp_abort(st->io.down->user);
}

static int
op_nat_send(void *user, const void *buf, size_t len)
{
    struct otk_fault_stage *st = user;
    return st->io.down->nat_send(st->io.down->user, buf, len);
}

static void
op_nat_close(void *user)
{
    struct otk_fault_stage *st = user;
    st->io.down->nat_close(st->io.down->user);
}

/* ---- set-up ---- */

void
otk_fault_stage_init(struct otk_fault_stage *st, struct otk_faults *faults,
                     const struct otk_fault_stage_io *io)
{
    memset(st, 0, sizeof *st);
    st->faults = faults;
    st->io = *io;
    st->ops.udp_send = op_udp_send;
    st->ops.tcp_connect = op_tcp_connect;
    st->ops.tcp_send = op_tcp_send;
    st->ops.tcp_close = op_tcp_close;
    st->ops.tcp_abort = io->down->tcp_abort ? op_tcp_abort : NULL;
    st->ops.nat_send = io->down->nat_send ? op_nat_send : NULL;
    st->ops.nat_close = io->down->nat_close ? op_nat_close : NULL;
    st->ops.user = st;
}

const struct otk_net_ops *
otk_fault_stage_ops(struct otk_fault_stage *st)
{
    return &st->ops;
}

struct otk_dev_input
otk_fault_stage_input(struct otk_fault_stage *st)
{
    struct otk_dev_input in = {.on_datagram = in_datagram,
                               .on_connected = in_connected,
                               .on_tcp_data = in_tcp_data,
                               .on_tcp_closed = in_tcp_closed,
                               .on_idle = in_idle,
                               .tcp_room = in_tcp_room,
                               .user = st};
    if (st->io.down->nat_close) {
        /* the port serves the native protocol too: its connection goes through here as well */
        in.on_native_accept = in_native_accept;
        in.on_native_data = in_native_data;
        in.on_native_closed = in_native_closed;
        in.native_room = in_native_room;
    }
    return in;
}

void
otk_fault_stage_attach(struct otk_fault_stage *st, const struct otk_dev_input *next)
{
    st->next = *next;
    st->attached = true;
}
