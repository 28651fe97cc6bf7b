/* SPDX-License-Identifier: MIT */
/* A native-protocol upload attempt over a socket, and the probe (include/otakit/natup.h).
 *
 * Why the check after an open end: once the device holds the whole image it commits and
 * restarts on its own (ESPHome's rule, and otakit's device), so re-sending after a lost result
 * could start a second update on a device that already runs the new image - or hide that the
 * first one failed. Instead the attempt watches the port: a device that committed goes away
 * for its restart and answers again; one that did not commit keeps answering. */
#include <string.h>

#include "otakit/err.h"
#include "otakit/natup.h"

#define READ_BUDGET  (16 * 1024) /* bytes read per step: a flood cannot hold the loop */
#define PROBE_WAIT   2000u       /* each probe: connect and answer within this */
#define SEND_BUDGET  (256 * 1024)
#define POLL_TICK_MS 100

static bool
due(uint32_t now, uint32_t t)
{
    return (int32_t)(now - t) >= 0;
}

static short
revents_of(const struct pollfd *fds, size_t n, otk_sock fd)
{
    if (fd == OTK_SOCK_NONE)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((otk_sock)fds[i].fd == fd)
            return fds[i].revents;
    return 0;
}

/* ---- the probe ---- */

static void
probe_end(struct otk_natprobe *p, enum otk_natprobe_result r)
{
    p->result = r;
    otk_net_close(&p->fd);
}

void
otk_natprobe_start(struct otk_natprobe *p, struct in_addr src, const struct sockaddr_in *to,
                   uint32_t timeout_ms, uint32_t now)
{
    memset(p, 0, sizeof *p);
    p->fd = OTK_SOCK_NONE;
    p->deadline = now + timeout_ms;
    int rc = otk_net_tcp_connect(src, to, 0, &p->fd);
    if (rc == OTK_NET_OK)
        p->connected = true;
    else if (rc == OTK_NET_UNREACH)
        probe_end(p, OTK_NATPROBE_REFUSED);
    else if (rc != OTK_NET_AGAIN)
        probe_end(p, OTK_NATPROBE_FAILED);
}

size_t
otk_natprobe_pollfds(const struct otk_natprobe *p, struct pollfd *fds, size_t cap)
{
    if (p->result != OTK_NATPROBE_RUNNING || p->fd == OTK_SOCK_NONE || cap == 0)
        return 0;
    fds[0].fd = p->fd;
    fds[0].events = (short)(p->connected && p->sent == OTK_NAT_MAGIC_LEN ? POLLIN : POLLOUT);
    fds[0].revents = 0;
    return 1;
}

static void
probe_read(struct otk_natprobe *p)
{
    long n = otk_net_recv(p->fd, p->got + p->got_len, sizeof p->got - p->got_len);
    if (n == OTK_NET_AGAIN)
        return;
    if (n <= 0) {
        probe_end(p, n == OTK_NET_RESET && !p->got_len ? OTK_NATPROBE_REFUSED : OTK_NATPROBE_OTHER);
        return;
    }
    p->got_len += (size_t)n;
    p->byte = p->got[0];
    if (p->got[0] != OTK_NAT_OK) {
        probe_end(p, OTK_NATPROBE_OTHER);
    } else if (p->got_len == 2) {
        p->version = p->got[1];
        probe_end(p, p->version == OTK_NAT_VERSION_1 || p->version == OTK_NAT_VERSION_2
                         ? OTK_NATPROBE_ANSWERED
                         : OTK_NATPROBE_OTHER);
    }
}

void
otk_natprobe_step(struct otk_natprobe *p, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (p->result != OTK_NATPROBE_RUNNING)
        return;
    short ev = revents_of(fds, n, p->fd);
    if (!p->connected && ev) {
        int rc = otk_net_connect_result(p->fd);
        if (rc == OTK_NET_UNREACH || rc == OTK_NET_RESET) {
            probe_end(p, OTK_NATPROBE_REFUSED);
            return;
        }
        if (rc != OTK_NET_OK && rc != OTK_NET_AGAIN) {
            probe_end(p, OTK_NATPROBE_SILENT); /* host unreachable and such: no answer */
            return;
        }
        p->connected = rc == OTK_NET_OK;
    }
    if (p->connected && p->sent < OTK_NAT_MAGIC_LEN) {
        long k = otk_net_send(p->fd, OTK_NAT_MAGIC + p->sent, OTK_NAT_MAGIC_LEN - p->sent);
        if (k > 0)
            p->sent += (size_t)k;
        else if (k != OTK_NET_AGAIN)
            probe_end(p, OTK_NATPROBE_OTHER);
    }
    if (p->result == OTK_NATPROBE_RUNNING && p->connected && (ev & (POLLIN | POLLHUP | POLLERR)))
        probe_read(p);
    if (p->result == OTK_NATPROBE_RUNNING && due(now, p->deadline))
        probe_end(p, OTK_NATPROBE_SILENT);
}

void
otk_natprobe_close(struct otk_natprobe *p)
{
    otk_net_close(&p->fd);
}

/* ---- an attempt ---- */

void
otk_natup_cfg_defaults(struct otk_natup_cfg *c)
{
    memset(c, 0, sizeof *c);
    otk_natc_cfg_defaults(&c->natc);
    c->src.s_addr = htonl(INADDR_ANY);
    c->sndbuf = 64 * 1024; /* as ESPHome's client; also keeps progress honest */
    c->connect_timeout_ms = 10000;
    c->check_window_ms = 60000;
    c->check_gap_ms = 1000;
}

/* The exchange is over: close, and check when the result is open. */
static void
exchange_over(struct otk_natup *a, uint32_t now)
{
    const struct otk_natc *c = &a->c;
    bool open = c->all_sent && (c->cause == OTK_NATC_CLOSED || c->cause == OTK_NATC_TIMEOUT ||
                                c->cause == OTK_NATC_NOISE_BROKEN);

    otk_net_close(&a->fd);
    a->t_end = now;
    if (!open || !a->cfg.check_window_ms) {
        a->state = OTK_NATUP_DONE;
        return;
    }
    a->state = OTK_NATUP_PROBE;
    a->next_probe = now + a->cfg.check_gap_ms;
    a->deadline = now + a->cfg.check_window_ms;
}

static void
pump_out(struct otk_natup *a, uint32_t now)
{
    for (size_t budget = SEND_BUDGET; budget > 0 && !otk_natc_done(&a->c);) {
        const uint8_t *p;
        size_t len = otk_natc_output(&a->c, &p);
        if (!len)
            return;
        long n = otk_net_send(a->fd, p, len < budget ? len : budget);
        if (n == OTK_NET_AGAIN)
            return;
        if (n < 0) {
            a->reset = n == OTK_NET_RESET;
            otk_natc_closed(&a->c, now);
            return;
        }
        budget -= (size_t)n < budget ? (size_t)n : budget;
        otk_natc_sent(&a->c, (size_t)n, now);
    }
}

static void
pump_in(struct otk_natup *a, uint32_t now)
{
    for (size_t budget = READ_BUDGET; budget > 0 && !otk_natc_done(&a->c);) {
        uint8_t buf[2048];
        long n = otk_net_recv(a->fd, buf, sizeof buf < budget ? sizeof buf : budget);
        if (n == OTK_NET_AGAIN)
            return;
        if (n <= 0) {
            a->reset = n == OTK_NET_RESET;
            otk_natc_closed(&a->c, now);
            return;
        }
        budget -= (size_t)n;
        otk_natc_input(&a->c, buf, (size_t)n, now);
    }
}

static void
track_tcp(struct otk_natup *a)
{
    long unacked = a->fd != OTK_SOCK_NONE ? otk_net_unacked(a->fd) : -1;
    uint32_t sent = a->c.sent;

    /* the stream bytes handed over minus what the kernel still holds (plaintext: exact;
     * under Noise the queue also holds frame overhead, so this is a lower bound) */
    if (unacked >= 0)
        a->tcp_acked = (uint32_t)unacked < sent ? sent - (uint32_t)unacked : 0;
    else if (unacked != OTK_NET_RESET)
        a->tcp_acked = sent;
}

uint32_t
otk_natup_progress(const struct otk_natup *a)
{
    if (a->c.version >= OTK_NAT_VERSION_2)
        return a->c.acked;
    return a->tcp_acked;
}

void
otk_natup_start(struct otk_natup *a, const struct otk_natup_cfg *cfg, uint32_t now)
{
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->fd = OTK_SOCK_NONE;
    a->probe.fd = OTK_SOCK_NONE;
    a->state = OTK_NATUP_CONNECT;
    a->deadline = now + cfg->connect_timeout_ms;
    a->connect_rc = otk_net_tcp_connect(cfg->src, &cfg->dev, cfg->sndbuf, &a->fd);
    if (a->connect_rc != OTK_NET_OK && a->connect_rc != OTK_NET_AGAIN) {
        a->connect_failed = true;
        a->state = OTK_NATUP_DONE;
        a->t_end = now;
    }
}

static void
connected(struct otk_natup *a, uint32_t now)
{
    a->state = OTK_NATUP_EXCHANGE;
    a->t_connected = now;
    if (otk_natc_start(&a->c, &a->cfg.natc, now) != OTK_OK) {
        a->c.cause = OTK_NATC_LOCAL;
        a->c.phase = OTK_NATC_DONE;
        exchange_over(a, now);
        return;
    }
    pump_out(a, now);
}

static void
step_connect(struct otk_natup *a, short ev, uint32_t now)
{
    int rc = ev ? otk_net_connect_result(a->fd) : OTK_NET_AGAIN;

    if (rc == OTK_NET_OK) {
        connected(a, now);
        return;
    }
    if (rc == OTK_NET_AGAIN && !due(now, a->deadline))
        return;
    a->connect_failed = true;
    a->connect_rc = rc; /* OTK_NET_AGAIN: no answer in time */
    otk_net_close(&a->fd);
    a->state = OTK_NATUP_DONE;
    a->t_end = now;
}

static void
step_probe(struct otk_natup *a, const struct pollfd *fds, size_t n, uint32_t now)
{
    if (a->probing) {
        otk_natprobe_step(&a->probe, fds, n, now);
        if (a->probe.result == OTK_NATPROBE_RUNNING)
            return;
        a->probing = false;
        a->probes++;
        if (a->probe.result == OTK_NATPROBE_ANSWERED) {
            a->check = a->probes_unanswered ? OTK_NATUP_CHECK_RESTARTED : OTK_NATUP_CHECK_STAYED;
            a->check_ms = now - a->t_end;
            a->state = OTK_NATUP_DONE;
            return;
        }
        a->probes_unanswered++;
        a->next_probe = now + a->cfg.check_gap_ms;
    }
    if (due(now, a->deadline)) {
        a->check = OTK_NATUP_CHECK_GONE;
        a->state = OTK_NATUP_DONE;
    } else if (due(now, a->next_probe)) {
        a->probing = true;
        otk_natprobe_start(&a->probe, a->cfg.src, &a->cfg.dev, PROBE_WAIT, now);
    }
}

void
otk_natup_step(struct otk_natup *a, const struct pollfd *fds, size_t n, uint32_t now)
{
    short ev;

    switch (a->state) {
    case OTK_NATUP_CONNECT:
        step_connect(a, revents_of(fds, n, a->fd), now);
        return;
    case OTK_NATUP_EXCHANGE:
        ev = revents_of(fds, n, a->fd);
        /* read first: a device that refuses writes its code, then closes */
        if (ev & (POLLIN | POLLHUP | POLLERR))
            pump_in(a, now);
        if (!otk_natc_done(&a->c))
            pump_out(a, now);
        track_tcp(a);
        otk_natc_tick(&a->c, now);
        if (otk_natc_done(&a->c))
            exchange_over(a, now);
        return;
    case OTK_NATUP_PROBE:
        step_probe(a, fds, n, now);
        return;
    default:
        return;
    }
}

size_t
otk_natup_pollfds(const struct otk_natup *a, struct pollfd *fds, size_t cap)
{
    if (cap == 0)
        return 0;
    switch (a->state) {
    case OTK_NATUP_CONNECT:
        fds[0].fd = a->fd;
        fds[0].events = POLLOUT;
        fds[0].revents = 0;
        return 1;
    case OTK_NATUP_EXCHANGE:
        fds[0].fd = a->fd;
        fds[0].events = (short)(POLLIN | (otk_natc_wants_output(&a->c) ? POLLOUT : 0));
        fds[0].revents = 0;
        return 1;
    case OTK_NATUP_PROBE:
        return a->probing ? otk_natprobe_pollfds(&a->probe, fds, cap) : 0;
    default:
        return 0;
    }
}

int32_t
otk_natup_next_ms(const struct otk_natup *a, uint32_t now)
{
    int32_t d;

    switch (a->state) {
    case OTK_NATUP_CONNECT:
        d = (int32_t)(a->deadline - now);
        break;
    case OTK_NATUP_EXCHANGE:
        d = (int32_t)(a->c.deadline - now);
        if (d > POLL_TICK_MS)
            d = POLL_TICK_MS; /* progress sampling */
        break;
    case OTK_NATUP_PROBE:
        d = a->probing ? (int32_t)(a->probe.deadline - now) : (int32_t)(a->next_probe - now);
        break;
    default:
        return -1;
    }
    return d < 0 ? 0 : d;
}

void
otk_natup_close(struct otk_natup *a)
{
    otk_net_close(&a->fd);
    otk_natprobe_close(&a->probe);
}
