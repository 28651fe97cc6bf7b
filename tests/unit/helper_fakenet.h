/* SPDX-License-Identifier: MIT */
/* A recording otk_net_ops for device tests: keeps every datagram and TCP byte the engine sends. */
#ifndef OTK_TEST_FAKENET_H
#define OTK_TEST_FAKENET_H

#include <stdbool.h>
#include <stddef.h>

#include "otakit/port.h"

#define FAKENET_MAX_DGRAMS 16

struct fakenet {
    struct otk_net_ops ops;
    char dgram[FAKENET_MAX_DGRAMS][200];
    struct otk_addr dgram_to[FAKENET_MAX_DGRAMS];
    int n_dgrams;
    int connects;
    struct otk_addr connect_to;
    bool connect_fails;
    char tcp[8192]; /* TCP bytes sent, NUL-terminated (truncated if longer) */
    size_t tcp_len;
    int closes;
    /* the native protocol's accepted connection (net->nat_send / nat_close) */
    uint8_t nat[4096]; /* bytes sent, truncated if longer */
    size_t nat_len;
    int nat_closes;
};

void fakenet_init(struct fakenet *n);
/** The last datagram sent, or "" if none. */
const char *fakenet_last_dgram(const struct fakenet *n);
struct otk_addr fakenet_addr(const char *ip4, unsigned port);

#endif
