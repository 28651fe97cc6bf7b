/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "helper_fakenet.h"
#include "otakit/err.h"

static int
udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct fakenet *n = user;
    int i = n->n_dgrams < FAKENET_MAX_DGRAMS ? n->n_dgrams++ : FAKENET_MAX_DGRAMS - 1;

    if (len >= sizeof n->dgram[i])
        len = sizeof n->dgram[i] - 1;
    memcpy(n->dgram[i], buf, len);
    n->dgram[i][len] = '\0';
    n->dgram_to[i] = *to;
    return OTK_OK;
}

static int
tcp_connect(void *user, const struct otk_addr *to)
{
    struct fakenet *n = user;

    n->connects++;
    n->connect_to = *to;
    return n->connect_fails ? OTK_ERR_IO : OTK_OK;
}

static int
tcp_send(void *user, const void *buf, size_t len)
{
    struct fakenet *n = user;
    size_t room = sizeof n->tcp - 1 - n->tcp_len;

    if (len > room)
        len = room;
    memcpy(n->tcp + n->tcp_len, buf, len);
    n->tcp_len += len;
    n->tcp[n->tcp_len] = '\0';
    return OTK_OK;
}

static void
tcp_close(void *user)
{
    struct fakenet *n = user;
    n->closes++;
}

static int
nat_send(void *user, const void *buf, size_t len)
{
    struct fakenet *n = user;
    size_t room = sizeof n->nat - n->nat_len;

    if (len > room)
        len = room;
    memcpy(n->nat + n->nat_len, buf, len);
    n->nat_len += len;
    return OTK_OK;
}

static void
nat_close(void *user)
{
    struct fakenet *n = user;
    n->nat_closes++;
}

void
fakenet_init(struct fakenet *n)
{
    memset(n, 0, sizeof *n);
    n->ops.udp_send = udp_send;
    n->ops.tcp_connect = tcp_connect;
    n->ops.tcp_send = tcp_send;
    n->ops.tcp_close = tcp_close;
    n->ops.nat_send = nat_send;
    n->ops.nat_close = nat_close;
    n->ops.user = n;
}

const char *
fakenet_last_dgram(const struct fakenet *n)
{
    return n->n_dgrams ? n->dgram[n->n_dgrams - 1] : "";
}

struct otk_addr
fakenet_addr(const char *ip4, unsigned port)
{
    struct otk_addr a;
    unsigned b[4] = {0};

    memset(&a, 0, sizeof a);
    sscanf(ip4, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
    a.family = 4;
    for (int i = 0; i < 4; i++)
        a.ip[i] = (uint8_t)b[i];
    a.port = (uint16_t)port;
    return a;
}
