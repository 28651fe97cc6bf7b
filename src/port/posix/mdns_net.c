/* SPDX-License-Identifier: MIT */
/* mDNS on POSIX: which interfaces there are (getifaddrs) and the multicast socket options
 * (Linux's ip_mreqn names the interface by index as well as by address). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "otakit/err.h"
#include "otakit/mdns_host.h"

#include "errbuf.h"

int
otk_mdns_ifaces(const char *want, struct otk_mdns_if *out, size_t cap, size_t *n, char *err,
                size_t errcap)
{
    struct ifaddrs *all, *p;
    struct in_addr wa;
    bool every = !want || !*want || !strcmp(want, "0.0.0.0");
    bool by_addr = !every && inet_pton(AF_INET, want, &wa) == 1;

    *n = 0;
    if (getifaddrs(&all) != 0) {
        otk__seterr(err, errcap, "cannot list the network interfaces: %s", strerror(errno));
        return OTK_ERR_IO;
    }
    for (p = all; p && *n < cap; p = p->ifa_next) {
        const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)p->ifa_addr;
        unsigned idx;
        bool dup = false;
        if (!sa || sa->sin_family != AF_INET || !(p->ifa_flags & IFF_UP))
            continue;
        if (every     ? !(p->ifa_flags & (IFF_MULTICAST | IFF_LOOPBACK))
            : by_addr ? sa->sin_addr.s_addr != wa.s_addr
                      : strcmp(p->ifa_name, want) != 0)
            continue;
        idx = if_nametoindex(p->ifa_name);
        for (size_t i = 0; i < *n; i++)
            dup |= out[i].index == idx;
        if (dup)
            continue; /* one address per interface: the first */
        memcpy(out[*n].addr, &sa->sin_addr, 4);
        out[*n].index = idx;
        (*n)++;
    }
    freeifaddrs(all);
    if (*n > 0)
        return OTK_OK;
    if (every) {
        otk__seterr(err, errcap, "no network interface is up");
        return OTK_ERR_IO;
    }
    otk__seterr(err, errcap, "'%s' is not an IPv4 address or interface name of this host", want);
    return OTK_ERR_ARG;
}

int
otk_mdns_sock_multicast(int sock)
{
    int ttl = 255, loop = 1;

    if (setsockopt(sock, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
        setsockopt(sock, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
        return -1;
    return 0;
}

int
otk_mdns_sock_send_if(int sock, const struct otk_mdns_if *i)
{
    struct ip_mreqn mr;

    memset(&mr, 0, sizeof mr);
    memcpy(&mr.imr_address, i->addr, 4);
    mr.imr_ifindex = (int)i->index;
    return setsockopt(sock, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) == 0 ? 0 : -1;
}

int
otk_mdns_sock_listen(const struct otk_mdns_if *ifs, size_t n)
{
    struct sockaddr_in a;
    int on = 1, off = 0, joined = 0;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    /* 5353 is shared with every responder and daemon on the host: all get the group's
     * datagrams */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(OTK_MDNS_PORT);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    (void)setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
    for (size_t i = 0; i < n; i++) {
        struct ip_mreqn mr;

        memset(&mr, 0, sizeof mr);
        inet_pton(AF_INET, OTK_MDNS_GROUP, &mr.imr_multiaddr);
        memcpy(&mr.imr_address, ifs[i].addr, 4);
        mr.imr_ifindex = (int)ifs[i].index;
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) == 0 ||
            errno == EADDRINUSE)
            joined++;
    }
    if (!joined) {
        close(fd);
        return -1;
    }
    return fd;
}
