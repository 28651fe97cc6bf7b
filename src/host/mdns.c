/* SPDX-License-Identifier: MIT */
/* The mDNS querier behind `otakit list` and `otakit upload -i name.local`, on the host socket
 * layer (otakit/hostnet.h), so it builds for every system the uploader does. The messages are
 * built and parsed by the freestanding codec (src/core/mdns_wire.c).
 *
 * It sends from an ephemeral port: RFC 6762 §5.1 and §6.7 make responders answer such "legacy"
 * one-shot queries by unicast to that port, so the querier needs neither port 5353 (which a
 * system daemon may hold) nor group membership, and it hears only answers to its questions.
 * Every query leaves through an interface chosen explicitly (IP_MULTICAST_IF): nothing goes out
 * of an interface the caller did not name, unless the caller asked for all of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/hostnet.h"
#include "otakit/mdns_host.h"
#include "otakit/posix.h"

#include "errbuf.h"

#define MAX_IFS         32
#define RX_MAX          9000 /* RFC 6762 §17: up to a jumbo frame */
#define FOLLOWUP_MS     200  /* between queries for missing SRV/TXT/A records */
#define PTR_AGAIN_MS    1000 /* a second PTR query, for answers lost the first time */
#define DEVICE_GRACE_MS 300  /* after the A record: for the device's SRV and TXT records */

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
casecmp(const char *a, const char *b)
{
    while (*a && lower((unsigned char)*a) == lower((unsigned char)*b))
        a++, b++;
    return lower((unsigned char)*a) - lower((unsigned char)*b);
}

bool
otk_mdns_is_local(const char *name)
{
    size_t n = strlen(name);

    if (n && name[n - 1] == '.')
        n--;
    if (n <= 6)
        return false;
    for (size_t i = 0; i < 6; i++)
        if (lower((unsigned char)name[n - 6 + i]) != ".local"[i])
            return false;
    return true;
}

static uint16_t
random_id(void)
{
    const struct otk_crypto_ops *c = otk_posix_crypto();
    uint8_t b[2] = {0, 0};

    if (c->random(c->user, b, sizeof b) != OTK_OK)
        b[0] = (uint8_t)otk_posix_now_ms();
    return (uint16_t)((b[0] << 8 | b[1]) | 1); /* never 0: that is what multicast answers use */
}

/* A UDP socket from an ephemeral port, ready to send multicast. */
static int
open_querier(otk_sock *s, char *err, size_t errcap)
{
    struct in_addr any;

    memset(&any, 0, sizeof any);
    if (otk_net_init() != OTK_NET_OK || otk_net_udp_open(any, s) != OTK_NET_OK) {
        otk__seterr(err, errcap, "cannot open a UDP socket: %s", otk_net_strerror());
        return OTK_ERR_IO;
    }
    if (otk_mdns_sock_multicast(*s) != 0) {
        otk__seterr(err, errcap, "cannot set the multicast options of a UDP socket");
        otk_net_close(s);
        return OTK_ERR_IO;
    }
    return OTK_OK;
}

/* Send msg to the group through each interface. @return how many sends succeeded. */
static size_t
send_on(otk_sock s, const struct otk_mdns_if *ifs, size_t n, const uint8_t *msg, size_t len)
{
    struct sockaddr_in g;
    size_t ok = 0;

    memset(&g, 0, sizeof g);
    g.sin_family = AF_INET;
    g.sin_port = htons(OTK_MDNS_PORT);
    inet_pton(AF_INET, OTK_MDNS_GROUP, &g.sin_addr);
    for (size_t i = 0; i < n; i++)
        if (otk_mdns_sock_send_if(s, &ifs[i]) == 0 && otk_net_sendto(s, msg, len, &g) == (long)len)
            ok++;
    return ok;
}

/* Wait up to ms for a datagram from port 5353 (§6: answers come from there; anything else is
 * not an mDNS answer). @return its length, 0 if none (yet), -1 on error. */
static long
recv_answer(otk_sock s, int ms, uint8_t *buf, size_t cap, struct sockaddr_in *src)
{
    struct pollfd p;
    long r;

    memset(&p, 0, sizeof p);
    p.fd = s;
    p.events = POLLIN;
    r = otk_net_poll(&p, 1, ms < 0 ? 0 : ms);
    if (r == OTK_NET_AGAIN || r == 0)
        return 0;
    if (r < 0)
        return -1;
    r = otk_net_recvfrom(s, buf, cap, src);
    if (r == OTK_NET_AGAIN || r == OTK_NET_UNREACH || r == OTK_NET_RESET)
        return 0;
    if (r < 0)
        return -1;
    return ntohs(src->sin_port) == OTK_MDNS_PORT ? r : 0;
}

/* An answer to our query: a legacy answer repeats our ID; multicast answers carry 0. */
static bool
id_ok(const uint8_t *buf, size_t len, uint16_t id)
{
    uint16_t got = len >= 2 ? (uint16_t)(buf[0] << 8 | buf[1]) : 0;

    return got == id || got == 0;
}

static int
by_label(const void *a, const void *b)
{
    const struct otk_mdns_found *x = a, *y = b;
    int c = casecmp((const char *)x->label, (const char *)y->label);

    return c ? c : memcmp(x->name, y->name, sizeof x->name);
}

int
otk_mdns_browse_run(const char *service, const char *iface, uint32_t timeout_ms,
                    struct otk_mdns_found *found, size_t cap, size_t *n, char *err, size_t errcap)
{
    struct otk_mdns_if ifs[MAX_IFS];
    struct otk_mdns_browse b;
    uint8_t type[OTK_DNS_NAME_MAX], q[OTK_MDNS_MSG_MAX], f[OTK_MDNS_MSG_MAX];
    uint8_t *rx;
    char text[300];
    size_t nif, qlen;
    uint16_t id = random_id();
    uint32_t t0, next_follow;
    bool ptr_again = timeout_ms >= PTR_AGAIN_MS + 500;
    otk_sock s = OTK_SOCK_NONE;
    int rc;

    *n = 0;
    snprintf(text, sizeof text, "%s.local", service);
    if (otk_dns_name_from_text(text, type) < 0) {
        otk__seterr(err, errcap, "'%s' is not a service type", service);
        return OTK_ERR_ARG;
    }
    rc = otk_mdns_ifaces(iface, ifs, MAX_IFS, &nif, err, errcap);
    if (rc != OTK_OK)
        return rc;
    rx = malloc(RX_MAX);
    if (!rx) {
        otk__seterr(err, errcap, "out of memory");
        return OTK_ERR_IO;
    }
    rc = open_querier(&s, err, errcap);
    if (rc != OTK_OK) {
        free(rx);
        return rc;
    }
    otk_mdns_browse_init(&b, type, found, cap);
    qlen = otk_mdns_query(q, sizeof q, id, type, OTK_DNS_PTR, false);
    t0 = otk_posix_now_ms();
    if (send_on(s, ifs, nif, q, qlen) == 0) {
        otk__seterr(err, errcap, "cannot send the mDNS query: %s", otk_net_strerror());
        rc = OTK_ERR_IO;
        goto out;
    }
    next_follow = t0 + FOLLOWUP_MS;
    for (;;) {
        uint32_t now = otk_posix_now_ms(), el = now - t0;
        struct sockaddr_in src;
        int32_t wait;
        long r;
        if (el >= timeout_ms)
            break;
        if (ptr_again && el >= PTR_AGAIN_MS) {
            send_on(s, ifs, nif, q, qlen);
            ptr_again = false;
        }
        if ((int32_t)(now - next_follow) >= 0) {
            size_t fl = otk_mdns_browse_followup(&b, id, f, sizeof f);
            if (fl)
                send_on(s, ifs, nif, f, fl);
            next_follow = now + FOLLOWUP_MS;
        }
        wait = (int32_t)(timeout_ms - el);
        if ((int32_t)(next_follow - now) < wait)
            wait = (int32_t)(next_follow - now);
        r = recv_answer(s, wait, rx, RX_MAX, &src);
        if (r < 0) {
            otk__seterr(err, errcap, "receiving mDNS answers: %s", otk_net_strerror());
            rc = OTK_ERR_IO;
            goto out;
        }
        if (r > 0 && id_ok(rx, (size_t)r, id))
            (void)otk_mdns_browse_feed(&b, rx, (size_t)r, (const uint8_t *)&src.sin_addr);
    }
    qsort(found, b.n, sizeof *found, by_label);
    *n = b.n;
out:
    otk_net_close(&s);
    free(rx);
    return rc;
}

/* The questions of a resolve, one a message: the host's A record and, for a device, the
 * ArduinoOTA instance's SRV and TXT. */
struct resolve_q {
    uint8_t host[OTK_DNS_NAME_MAX];
    uint8_t inst[OTK_DNS_NAME_MAX];
    uint8_t inst_esp[OTK_DNS_NAME_MAX];  /* "<label>._esphomelib._tcp.local" */
    uint8_t inst_http[OTK_DNS_NAME_MAX]; /* "<label>._http._tcp.local": its web server */
    uint8_t q[5][OTK_MDNS_MSG_MAX];
    size_t qlen[5];
    uint16_t id;
};

/* The first A record for name in an answer. */
static bool
find_a(const uint8_t *msg, size_t len, const uint8_t *name, uint8_t out[4])
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;

    if (otk_dns_open(&m, msg, len) != OTK_OK || !(m.hdr.flags & OTK_DNS_QR))
        return false;
    while (otk_dns_next(&m, &rr) == 1)
        if (rr.section != OTK_DNS_SEC_QD && rr.type == OTK_DNS_A && rr.rclass == OTK_DNS_IN &&
            rr.ttl != 0 && otk_dns_name_eq(rr.name, name) && otk_dns_rr_a(&m, &rr, out) == OTK_OK)
            return true;
    return false;
}

/* An ESPHome device's TXT record: its platform, and its board where ArduinoOTA's said none. */
static void
find_esphome(const uint8_t *txt, size_t len, struct otk_mdns_device *dev)
{
    const uint8_t *v;
    size_t vl;

    dev->esphome = true;
    if (otk_dns_txt_get(txt, len, "platform", &v, &vl) == 1)
        snprintf(dev->platform, sizeof dev->platform, "%.*s", (int)vl, (const char *)v);
    if (!dev->board[0] && otk_dns_txt_get(txt, len, "board", &v, &vl) == 1)
        snprintf(dev->board, sizeof dev->board, "%.*s", (int)vl, (const char *)v);
}

/* The SRV port and TXT board of the instance, where msg carries them. */
static void
find_device(const uint8_t *msg, size_t len, const struct resolve_q *rq, struct otk_mdns_device *dev)
{
    const uint8_t *inst = rq->inst;
    struct otk_dns_msg m;
    struct otk_dns_rr rr;

    if (otk_dns_open(&m, msg, len) != OTK_OK || !(m.hdr.flags & OTK_DNS_QR))
        return;
    while (otk_dns_next(&m, &rr) == 1) {
        const uint8_t *v;
        size_t vl;

        if (rr.section == OTK_DNS_SEC_QD || rr.rclass != OTK_DNS_IN || rr.ttl == 0)
            continue;
        if (rr.type == OTK_DNS_TXT && otk_dns_name_eq(rr.name, rq->inst_esp)) {
            find_esphome(m.buf + rr.rdata, rr.rdlength, dev);
            continue;
        }
        if (rr.type == OTK_DNS_SRV && otk_dns_name_eq(rr.name, rq->inst_http)) {
            (void)otk_dns_rr_srv(&m, &rr, NULL, NULL, &dev->http_port, NULL);
            continue;
        }
        if (!otk_dns_name_eq(rr.name, inst))
            continue;
        if (rr.type == OTK_DNS_SRV)
            (void)otk_dns_rr_srv(&m, &rr, NULL, NULL, &dev->port, NULL);
        else if (rr.type == OTK_DNS_TXT &&
                 otk_dns_txt_get(m.buf + rr.rdata, rr.rdlength, "board", &v, &vl) == 1)
            snprintf(dev->board, sizeof dev->board, "%.*s", (int)vl, (const char *)v);
    }
}

int
otk_mdns_resolve(const char *name, const char *iface, uint32_t timeout_ms, uint8_t ipv4[4])
{
    return otk_mdns_resolve_device(name, iface, timeout_ms, ipv4, NULL);
}

/* @return false when name is no .local name. *want_dev is cleared when the instance name does
 * not fit (the address is still asked for). */
static bool
resolve_questions(const char *name, bool *want_dev, struct resolve_q *rq)
{
    memset(rq->qlen, 0, sizeof rq->qlen);
    rq->id = random_id();
    if (!otk_mdns_is_local(name) || otk_dns_name_from_text(name, rq->host) < 0)
        return false;
    if (*want_dev) {
        char text[OTK_DNS_NAME_MAX + 32];

        /* MDNS.enableArduino() names the instance after the host: "<label>._arduino._tcp";
         * ESPHome names its own the same way: "<label>._esphomelib._tcp" */
        snprintf(text, sizeof text, "%.*s._arduino._tcp.local", (int)rq->host[0],
                 (const char *)rq->host + 1);
        *want_dev = otk_dns_name_from_text(text, rq->inst) >= 0;
        snprintf(text, sizeof text, "%.*s._esphomelib._tcp.local", (int)rq->host[0],
                 (const char *)rq->host + 1);
        *want_dev = *want_dev && otk_dns_name_from_text(text, rq->inst_esp) >= 0;
        /* ESPHome's web_server and sketches that publish their web page (ElegantOTA's) */
        snprintf(text, sizeof text, "%.*s._http._tcp.local", (int)rq->host[0],
                 (const char *)rq->host + 1);
        *want_dev = *want_dev && otk_dns_name_from_text(text, rq->inst_http) >= 0;
    }
    rq->qlen[0] = otk_mdns_query(rq->q[0], sizeof rq->q[0], rq->id, rq->host, OTK_DNS_A, false);
    if (*want_dev) {
        rq->qlen[1] =
            otk_mdns_query(rq->q[1], sizeof rq->q[1], rq->id, rq->inst, OTK_DNS_SRV, false);
        rq->qlen[2] =
            otk_mdns_query(rq->q[2], sizeof rq->q[2], rq->id, rq->inst, OTK_DNS_TXT, false);
        rq->qlen[3] =
            otk_mdns_query(rq->q[3], sizeof rq->q[3], rq->id, rq->inst_esp, OTK_DNS_TXT, false);
        rq->qlen[4] =
            otk_mdns_query(rq->q[4], sizeof rq->q[4], rq->id, rq->inst_http, OTK_DNS_SRV, false);
    }
    return true;
}

/* Send every question once. @return false if one could not be sent on any interface. */
static bool
send_questions(otk_sock s, const struct otk_mdns_if *ifs, size_t nif, const struct resolve_q *rq)
{
    bool ok = true;

    for (size_t i = 0; i < sizeof rq->qlen / sizeof rq->qlen[0]; i++)
        if (rq->qlen[i] && !send_on(s, ifs, nif, rq->q[i], rq->qlen[i]))
            ok = false;
    return ok;
}

/* Wait for the answers (the questions went out at t0), asking again at 0.5 s and 1.5 s.
 * @return OTK_OK, OTK_ERR_TIMEOUT or OTK_ERR_IO. */
static int
resolve_wait(otk_sock s, const struct otk_mdns_if *ifs, size_t nif, const struct resolve_q *rq,
             uint32_t t0, uint32_t timeout_ms, uint8_t *rx, uint8_t ipv4[4],
             struct otk_mdns_device *dev)
{
    static const uint32_t resend[] = {500, 1500};
    size_t k = 0;
    uint32_t t_a = 0;
    bool have_a = false;

    for (;;) {
        uint32_t el = otk_posix_now_ms() - t0;
        /* with the address in hand, the device's port and board get a short while more */
        uint32_t limit = have_a ? t_a + DEVICE_GRACE_MS : timeout_ms;
        struct sockaddr_in src;

        if (have_a && (!dev || (dev->port && dev->board[0]) || dev->platform[0] || el >= limit))
            return OTK_OK;
        if (el >= limit)
            return OTK_ERR_TIMEOUT;
        if (k < sizeof resend / sizeof resend[0] && el >= resend[k]) {
            (void)send_questions(s, ifs, nif, rq);
            k++;
        }
        int32_t wait = (int32_t)(limit - el);
        if (k < sizeof resend / sizeof resend[0] && (int32_t)(resend[k] - el) < wait)
            wait = (int32_t)(resend[k] - el);
        long r = recv_answer(s, wait, rx, RX_MAX, &src);
        if (r < 0)
            return OTK_ERR_IO;
        if (r > 0 && id_ok(rx, (size_t)r, rq->id)) {
            if (!have_a && find_a(rx, (size_t)r, rq->host, ipv4)) {
                have_a = true;
                t_a = otk_posix_now_ms() - t0;
            }
            if (dev)
                find_device(rx, (size_t)r, rq, dev);
        }
    }
}

int
otk_mdns_resolve_device(const char *name, const char *iface, uint32_t timeout_ms, uint8_t ipv4[4],
                        struct otk_mdns_device *dev)
{
    struct otk_mdns_if ifs[MAX_IFS];
    struct resolve_q rq;
    bool want_dev = dev != NULL;
    otk_sock s = OTK_SOCK_NONE;
    size_t nif;
    uint8_t *rx;
    int rc;

    if (dev)
        memset(dev, 0, sizeof *dev);
    if (!resolve_questions(name, &want_dev, &rq))
        return OTK_ERR_ARG;
    if (!want_dev)
        dev = NULL;
    rc = otk_mdns_ifaces(iface, ifs, MAX_IFS, &nif, NULL, 0);
    if (rc != OTK_OK)
        return rc;
    rx = malloc(RX_MAX);
    if (!rx)
        return OTK_ERR_IO;
    if (open_querier(&s, NULL, 0) != OTK_OK) {
        free(rx);
        return OTK_ERR_IO;
    }
    uint32_t t0 = otk_posix_now_ms();
    rc = send_questions(s, ifs, nif, &rq)
             ? resolve_wait(s, ifs, nif, &rq, t0, timeout_ms, rx, ipv4, dev)
             : OTK_ERR_IO;
    otk_net_close(&s);
    free(rx);
    return rc;
}

/* ---- waiting for a device that sleeps ---- */

struct otk_mdns_watch {
    struct otk_mdns_if ifs[MAX_IFS];
    size_t nif;
    struct resolve_q rq;
    otk_sock q;      /* ephemeral port: answers to our queries, by unicast */
    otk_sock listen; /* 5353 in the group: the device's announcement (OTK_SOCK_NONE: none) */
    uint32_t next_query;
    bool have_a, announced;
    uint32_t t_a;
    uint8_t ipv4[4];
    struct otk_mdns_device dev;
    uint8_t rx[RX_MAX];
};

struct otk_mdns_watch *
otk_mdns_watch_open(const char *name, const char *iface, uint32_t now)
{
    struct otk_mdns_watch *w = calloc(1, sizeof *w);
    bool want_dev = true;

    if (!w)
        return NULL;
    w->q = w->listen = OTK_SOCK_NONE;
    if (!resolve_questions(name, &want_dev, &w->rq) || !want_dev ||
        otk_mdns_ifaces(iface, w->ifs, MAX_IFS, &w->nif, NULL, 0) != OTK_OK ||
        open_querier(&w->q, NULL, 0) != OTK_OK) {
        otk_mdns_watch_close(w);
        return NULL;
    }
    /* without the shared port (a system that will not share it) the queries still find it */
    int l = otk_mdns_sock_listen(w->ifs, w->nif);
    if (l >= 0)
        w->listen = (otk_sock)l;
    w->next_query = now;
    return w;
}

size_t
otk_mdns_watch_pollfds(const struct otk_mdns_watch *w, struct pollfd *fds, size_t cap)
{
    size_t n = 0;
    otk_sock socks[2] = {w->q, w->listen};

    for (size_t i = 0; i < 2 && n < cap; i++) {
        if (socks[i] == OTK_SOCK_NONE)
            continue;
        fds[n].fd = socks[i];
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
    }
    return n;
}

int32_t
otk_mdns_watch_next_ms(const struct otk_mdns_watch *w, uint32_t now)
{
    uint32_t t = w->have_a ? w->t_a + DEVICE_GRACE_MS : w->next_query;
    int32_t d = (int32_t)(t - now);

    return d < 0 ? 0 : d;
}

/* Read every datagram waiting on s; note what it says of the device. */
static void
watch_read(struct otk_mdns_watch *w, otk_sock s, bool passive, uint32_t now)
{
    for (int k = 0; k < 32; k++) {
        struct sockaddr_in src;
        long r = otk_net_recvfrom(s, w->rx, RX_MAX, &src);

        if (r <= 0)
            return;
        if (ntohs(src.sin_port) != OTK_MDNS_PORT || !id_ok(w->rx, (size_t)r, w->rq.id))
            continue;
        if (!w->have_a && find_a(w->rx, (size_t)r, w->rq.host, w->ipv4)) {
            w->have_a = true;
            w->announced = passive;
            w->t_a = now;
        }
        find_device(w->rx, (size_t)r, &w->rq, &w->dev);
    }
}

static short
watch_revents(const struct pollfd *fds, size_t n, otk_sock s)
{
    for (size_t i = 0; s != OTK_SOCK_NONE && i < n; i++)
        if ((otk_sock)fds[i].fd == s)
            return fds[i].revents;
    return 0;
}

bool
otk_mdns_watch_step(struct otk_mdns_watch *w, const struct pollfd *fds, size_t n, uint32_t now,
                    uint8_t ipv4[4], struct otk_mdns_device *dev, bool *announced)
{
    if (watch_revents(fds, n, w->listen) & POLLIN)
        watch_read(w, w->listen, true, now);
    if (watch_revents(fds, n, w->q) & POLLIN)
        watch_read(w, w->q, false, now);
    if (w->have_a) {
        /* with the address, the device's port and board get a short while more */
        bool complete = (w->dev.port && w->dev.board[0]) || w->dev.platform[0];
        if (!complete && (int32_t)(now - (w->t_a + DEVICE_GRACE_MS)) < 0)
            return false;
        memcpy(ipv4, w->ipv4, 4);
        *dev = w->dev;
        *announced = w->announced;
        return true;
    }
    if ((int32_t)(now - w->next_query) >= 0) {
        (void)send_questions(w->q, w->ifs, w->nif, &w->rq);
        w->next_query = now + OTK_MDNS_WATCH_GAP_MS;
    }
    return false;
}

void
otk_mdns_watch_close(struct otk_mdns_watch *w)
{
    if (!w)
        return;
    otk_net_close(&w->q);
    otk_net_close(&w->listen);
    free(w);
}
