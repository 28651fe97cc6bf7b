/* SPDX-License-Identifier: MIT */
/* The mDNS responder of the emulated device: UDP 5353 shared with every other responder on the
 * host, the group joined on the device's interface (or all of them), answers built by the
 * freestanding codec (otk_mdns_respond) for the interface a query came in on, two announcements
 * at start and goodbyes at the end (RFC 6762 §8.3, §10.1). Not done: probing for a unique name
 * (§8.1) and the random delay of shared answers (§6): the emulator answers at once. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "otakit/err.h"
#include "otakit/mdns_host.h"
#include "otakit/mdns_responder.h"

#include "errbuf.h"

#define MAX_IFS 32
#define RX_MAX  9000

static void rlog(struct otk_mdns_responder *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
rlog(struct otk_mdns_responder *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    if (!r->log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->log(r->user, msg);
}

static void
group_addr(struct sockaddr_in *g)
{
    memset(g, 0, sizeof *g);
    g->sin_family = AF_INET;
    g->sin_port = htons(OTK_MDNS_PORT);
    inet_pton(AF_INET, OTK_MDNS_GROUP, &g->sin_addr);
}

static int
join(int fd, const struct otk_mdns_if *i)
{
    struct ip_mreqn mr;

    memset(&mr, 0, sizeof mr);
    inet_pton(AF_INET, OTK_MDNS_GROUP, &mr.imr_multiaddr);
    memcpy(&mr.imr_address, i->addr, 4);
    mr.imr_ifindex = (int)i->index;
    if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) == 0 || errno == EADDRINUSE)
        return 0;
    return -1;
}

/* The interfaces the responder serves: its own, or all of them. */
static size_t
served(const struct otk_mdns_responder *r, struct otk_mdns_if *ifs, size_t cap)
{
    size_t n = 0;

    if (!r->any) {
        memcpy(ifs[0].addr, r->addr, 4);
        ifs[0].index = r->ifindex;
        return 1;
    }
    if (otk_mdns_ifaces(NULL, ifs, cap, &n, NULL, 0) != OTK_OK)
        return 0;
    return n;
}

static void
announce(struct otk_mdns_responder *r, bool goodbye)
{
    struct otk_mdns_if ifs[MAX_IFS];
    struct sockaddr_in g;
    uint8_t msg[OTK_MDNS_MSG_MAX];
    size_t n = served(r, ifs, MAX_IFS);

    group_addr(&g);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        memcpy(r->svc.ipv4, ifs[i].addr, 4); /* the A record: our address on that link */
        len = otk_mdns_announce(&r->svc, goodbye, msg, sizeof msg);
        if (len && otk_mdns_sock_send_if(r->fd, &ifs[i]) == 0)
            (void)sendto(r->fd, msg, len, 0, (struct sockaddr *)&g, sizeof g);
    }
}

int
otk_mdns_responder_open(struct otk_mdns_responder *r, const struct otk_mdns_responder_cfg *c,
                        uint32_t now, char *err, size_t errcap)
{
    struct otk_mdns_if ifs[MAX_IFS];
    struct sockaddr_in a;
    struct in_addr ba;
    size_t n = 0;
    int on = 1, off = 0, rc;

    memset(r, 0, sizeof *r);
    r->fd = -1;
    r->log = c->log;
    r->user = c->user;
    r->any = !c->bind_addr || !strcmp(c->bind_addr, "0.0.0.0");
    if (!r->any) {
        if (inet_pton(AF_INET, c->bind_addr, &ba) != 1) {
            otk__seterr(err, errcap, "'%s' is not an IPv4 address", c->bind_addr);
            return OTK_ERR_ARG;
        }
        rc = otk_mdns_ifaces(c->bind_addr, ifs, 1, &n, err, errcap);
        if (rc != OTK_OK)
            return rc;
        memcpy(r->addr, &ba, 4);
        r->ifindex = ifs[0].index;
    }
    if (otk_mdns_service_init(&r->svc, c->instance, c->host, c->service, c->port, r->addr, c->txt,
                              c->txt_len) != OTK_OK) {
        otk__seterr(err, errcap,
                    "bad mDNS name '%s' (1-63 letters, digits and '-') or service '%s' or TXT",
                    c->host, c->service);
        return OTK_ERR_ARG;
    }
    r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (r->fd < 0) {
        otk__seterr(err, errcap, "cannot create a UDP socket: %s", strerror(errno));
        return OTK_ERR_IO;
    }
    /* Port 5353 is shared by every responder on the host (other devices, avahi): multicast
     * reaches all of them. */
    (void)setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(OTK_MDNS_PORT);
    if (bind(r->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        otk__seterr(err, errcap, "cannot bind UDP port %d: %s", OTK_MDNS_PORT, strerror(errno));
        goto fail;
    }
    /* the interface each query came in on: a device answers only on its own link, with the
     * address it has there */
    (void)setsockopt(r->fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
    (void)setsockopt(r->fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
    (void)otk_mdns_sock_multicast(r->fd);
    n = served(r, ifs, MAX_IFS);
    if (n == 0) {
        otk__seterr(err, errcap, "no network interface to advertise on");
        goto fail;
    }
    for (size_t i = 0; i < n; i++)
        if (join(r->fd, &ifs[i]) != 0 && !r->any) {
            otk__seterr(err, errcap, "cannot join %s on %s: %s", OTK_MDNS_GROUP, c->bind_addr,
                        strerror(errno));
            goto fail;
        }
    r->announces_left = 2; /* §8.3: twice, one second apart */
    r->next_announce = now;
    return OTK_OK;
fail:
    close(r->fd);
    r->fd = -1;
    return OTK_ERR_IO;
}

int
otk_mdns_responder_fd(const struct otk_mdns_responder *r)
{
    return r->fd;
}

int32_t
otk_mdns_responder_next_ms(const struct otk_mdns_responder *r, uint32_t now)
{
    int32_t d;

    if (r->fd < 0 || r->announces_left == 0)
        return -1;
    d = (int32_t)(r->next_announce - now);
    return d > 0 ? d : 0;
}

/* Interface index -> its address (when bound to every interface). */
static bool
iface_by_index(unsigned index, struct otk_mdns_if *out)
{
    struct otk_mdns_if ifs[MAX_IFS];
    size_t n;

    if (otk_mdns_ifaces(NULL, ifs, MAX_IFS, &n, NULL, 0) != OTK_OK)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ifs[i].index == index) {
            *out = ifs[i];
            return true;
        }
    return false;
}

static void
answer(struct otk_mdns_responder *r, const uint8_t *q, size_t len, const struct sockaddr_in *src,
       unsigned ifindex)
{
    uint8_t out[OTK_MDNS_MSG_MAX];
    struct otk_mdns_if via;
    size_t olen = 0;
    bool uni = false;

    if (r->any) {
        if (!iface_by_index(ifindex, &via))
            return;
    } else {
        if (ifindex != r->ifindex)
            return; /* asked on a link this device is not on */
        memcpy(via.addr, r->addr, 4);
        via.index = r->ifindex;
    }
    memcpy(r->svc.ipv4, via.addr, 4);
    r->queries++;
    if (otk_mdns_respond(&r->svc, q, len, ntohs(src->sin_port), out, sizeof out, &olen, &uni) !=
            OTK_OK ||
        olen == 0)
        return;
    if (uni) {
        if (sendto(r->fd, out, olen, 0, (const struct sockaddr *)src, sizeof *src) < 0)
            rlog(r, "mdns: cannot answer %s: %s", inet_ntoa(src->sin_addr), strerror(errno));
    } else {
        struct sockaddr_in g;
        group_addr(&g);
        if (otk_mdns_sock_send_if(r->fd, &via) != 0 ||
            sendto(r->fd, out, olen, 0, (struct sockaddr *)&g, sizeof g) < 0)
            rlog(r, "mdns: cannot send a multicast answer: %s", strerror(errno));
    }
    r->answers++;
}

void
otk_mdns_responder_process(struct otk_mdns_responder *r, bool readable, uint32_t now)
{
    if (r->fd < 0)
        return;
    for (int k = 0; readable && k < 32; k++) {
        uint8_t buf[RX_MAX];
        union {
            char b[CMSG_SPACE(sizeof(struct in_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct sockaddr_in src;
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
        struct msghdr mh = {.msg_name = &src,
                            .msg_namelen = sizeof src,
                            .msg_iov = &iov,
                            .msg_iovlen = 1,
                            .msg_control = ctl.b,
                            .msg_controllen = sizeof ctl.b};
        unsigned ifindex = 0;
        ssize_t got = recvmsg(r->fd, &mh, 0);
        if (got < 0)
            break; /* EAGAIN: drained */
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy(&pi, CMSG_DATA(c), sizeof pi);
                ifindex = (unsigned)pi.ipi_ifindex;
            }
        if (mh.msg_namelen >= sizeof src && src.sin_family == AF_INET)
            answer(r, buf, (size_t)got, &src, ifindex);
    }
    if (r->announces_left && (int32_t)(now - r->next_announce) >= 0) {
        announce(r, false);
        r->announces_left--;
        r->next_announce = now + 1000;
    }
}

void
otk_mdns_responder_close(struct otk_mdns_responder *r)
{
    if (r->fd < 0)
        return;
    announce(r, true); /* §10.1: caches drop us now, not in 75 minutes */
    close(r->fd);
    r->fd = -1;
}
