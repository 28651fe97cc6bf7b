/* SPDX-License-Identifier: MIT */
/* mDNS on Windows: the IPv4 interfaces from Winsock's SIO_GET_INTERFACE_LIST (in ws2_32, so the
 * .exe needs no further DLL), and the multicast options, which Winsock takes as DWORDs and an
 * in_addr. Interfaces are named by address only here (no index is needed to send). */
#include <stdio.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/hostnet.h"
#include "otakit/mdns_host.h"

#include "errbuf.h"

#define MAX_LIST 64

int
otk_mdns_ifaces(const char *want, struct otk_mdns_if *out, size_t cap, size_t *n, char *err,
                size_t errcap)
{
    INTERFACE_INFO list[MAX_LIST];
    DWORD bytes = 0;
    struct in_addr wa;
    bool every = !want || !*want || !strcmp(want, "0.0.0.0");
    SOCKET s;

    *n = 0;
    if (!every && inet_pton(AF_INET, want, &wa) != 1) {
        otk__seterr(err, errcap,
                    "'%s' is not an IPv4 address (on Windows, name the interface by its "
                    "address)",
                    want);
        return OTK_ERR_ARG;
    }
    if (otk_net_init() != OTK_NET_OK ||
        (s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP)) == INVALID_SOCKET) {
        otk__seterr(err, errcap, "cannot open a socket to list the interfaces");
        return OTK_ERR_IO;
    }
    if (WSAIoctl(s, SIO_GET_INTERFACE_LIST, NULL, 0, list, sizeof list, &bytes, NULL, NULL) != 0) {
        otk__seterr(err, errcap, "cannot list the network interfaces (Winsock error %d)",
                    WSAGetLastError());
        closesocket(s);
        return OTK_ERR_IO;
    }
    closesocket(s);
    for (size_t i = 0; i < bytes / sizeof list[0] && *n < cap; i++) {
        ULONG fl = list[i].iiFlags;
        struct in_addr a = list[i].iiAddress.AddressIn.sin_addr;
        if (!(fl & IFF_UP))
            continue;
        if (every ? !(fl & (IFF_MULTICAST | IFF_LOOPBACK)) : a.s_addr != wa.s_addr)
            continue;
        memcpy(out[*n].addr, &a, 4);
        out[*n].index = 0;
        (*n)++;
    }
    if (*n > 0)
        return OTK_OK;
    if (every) {
        otk__seterr(err, errcap, "no network interface is up");
        return OTK_ERR_IO;
    }
    otk__seterr(err, errcap, "'%s' is not an IPv4 address of this host", want);
    return OTK_ERR_ARG;
}

int
otk_mdns_sock_multicast(int sock)
{
    DWORD ttl = 255, loop = 1;

    if (setsockopt((SOCKET)sock, IPPROTO_IP, IP_MULTICAST_TTL, (const char *)&ttl, sizeof ttl) ||
        setsockopt((SOCKET)sock, IPPROTO_IP, IP_MULTICAST_LOOP, (const char *)&loop, sizeof loop))
        return -1;
    return 0;
}

int
otk_mdns_sock_send_if(int sock, const struct otk_mdns_if *i)
{
    struct in_addr a;

    memcpy(&a, i->addr, 4);
    return setsockopt((SOCKET)sock, IPPROTO_IP, IP_MULTICAST_IF, (const char *)&a, sizeof a) ? -1
                                                                                             : 0;
}

int
otk_mdns_sock_listen(const struct otk_mdns_if *ifs, size_t n)
{
    struct sockaddr_in a;
    BOOL on = TRUE;
    u_long nonblock = 1;
    int joined = 0;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);

    if (s == INVALID_SOCKET)
        return -1;
    /* Winsock shares a UDP port only with SO_REUSEADDR on every socket that binds it */
    (void)setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, sizeof on);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(OTK_MDNS_PORT);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || ioctlsocket(s, FIONBIO, &nonblock)) {
        closesocket(s);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct ip_mreq mr;

        memset(&mr, 0, sizeof mr);
        inet_pton(AF_INET, OTK_MDNS_GROUP, &mr.imr_multiaddr);
        memcpy(&mr.imr_interface, ifs[i].addr, 4);
        if (!setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, (const char *)&mr, sizeof mr))
            joined++;
    }
    if (!joined) {
        closesocket(s);
        return -1;
    }
    return (int)s;
}
