/* SPDX-License-Identifier: MIT */
/* The engine's input table (struct otk_dev_input): its entry points behind one table, for ports
 * and stages that hold "the next stage" without knowing what it is. In a file of its own so that
 * a firmware calling the otk_dev_on_* functions directly links none of it. */
#include <stdint.h>

#include "otakit/device.h"
#include "otakit/native.h"

static void
in_datagram(void *user, const struct otk_addr *from, const uint8_t *data, size_t len,
            uint32_t now_ms)
{
    otk_dev_on_datagram(user, from, data, len, now_ms);
}

static void
in_connected(void *user, int status, uint32_t now_ms)
{
    otk_dev_on_connected(user, status, now_ms);
}

static size_t
in_tcp_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    return otk_dev_on_tcp_data(user, data, len, now_ms);
}

static void
in_tcp_closed(void *user, uint32_t now_ms)
{
    otk_dev_on_tcp_closed(user, now_ms);
}

static bool
in_idle(void *user, uint32_t now_ms)
{
    return otk_dev_on_idle(user, now_ms);
}

static size_t
in_tcp_room(void *user, uint8_t **buf)
{
    *buf = 0; /* the engine copies what it keeps into its sector buffer: any memory will do */
    return otk_dev_wants_data(user) ? SIZE_MAX : 0;
}

#if OTK_CFG_PROTO_NATIVE
static bool
in_native_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    return otk_dev_on_native_accept(user, from, now_ms);
}

static size_t
in_native_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    return otk_dev_on_native_data(user, data, len, now_ms);
}

static void
in_native_closed(void *user, uint32_t now_ms)
{
    otk_dev_on_native_closed(user, now_ms);
}

static size_t
in_native_room(void *user, uint8_t **buf)
{
    *buf = 0; /* the engine keeps what it needs in its own buffers */
    return otk_dev_native_busy(user) ? SIZE_MAX : 0;
}
#endif

struct otk_dev_input
otk_dev_input(struct otk_dev *d)
{
    struct otk_dev_input in = {
        .on_datagram = in_datagram,
        .on_connected = in_connected,
        .on_tcp_data = in_tcp_data,
        .on_tcp_closed = in_tcp_closed,
        .on_idle = in_idle,
        .tcp_room = in_tcp_room,
#if OTK_CFG_PROTO_NATIVE
        .on_native_accept = in_native_accept,
        .on_native_data = in_native_data,
        .on_native_closed = in_native_closed,
        .native_room = in_native_room,
#endif
        .user = d,
    };
    return in;
}
