/* SPDX-License-Identifier: MIT */
/* The emulator's radio link (see link.h for the model). Single-threaded: the sockets feed the
 * link through its input table (otk_link_input(), whose entries only queue), otk_link_process()
 * delivers to the engine, and otk_link_sleep() keeps the air moving while the engine is stalled
 * in a flash operation. Every queued item carries the time it arrives; items are released in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "link.h"
#include "otakit/err.h"

#define IN_RING       32768u /* host -> device bytes in flight or undelivered (>= window) */
#define OUT_RING      16384u /* device -> host bytes in flight */
#define EVQ           1024u  /* queued TCP events per direction */
#define UDPQ          32u    /* datagrams in the air per direction; more are lost */
#define WUPD          1024u  /* window updates on their way to the sender */
#define PIECE         1460u  /* bytes per engine read: what the ESP32 core reads per iteration */
#define DGRAM_MAX     1472u
#define MSS           1460u /* bytes of one segment on the air */
#define SEG_GAP       200u  /* us: reads closer than this belong to one segment of the sender */
#define NEVER         UINT64_MAX
#define JITTER_PERIOD 10000u /* us a drawn one-way delay holds */
#define IN            0      /* host -> device */
#define OUT           1      /* device -> host */

enum ev_kind { EV_DATA, EV_CONNECTED, EV_CLOSED, EV_CONNECT, EV_CLOSE };

struct ev {
    uint64_t due;
    uint32_t len; /* EV_DATA */
    int status;   /* EV_CONNECTED: the result; EV_DATA: the segment's one-way delay, us */
    uint8_t kind;
    struct otk_addr addr; /* EV_CONNECT */
};

struct evq {
    struct ev e[EVQ];
    uint32_t head, n;
};

struct dgram {
    uint64_t due;
    struct otk_addr addr;
    uint16_t len;
    uint8_t data[DGRAM_MAX];
};

struct udpq {
    struct dgram d[UDPQ];
    uint32_t n; /* unordered; released by due time */
};

struct wupd {
    uint64_t due;   /* when the sender learns of it */
    uint64_t total; /* bytes consumed by then */
};

struct interval {
    uint64_t start, end; /* [start, end) */
};

struct otk_link {
    struct otk_link_params p;
    struct otk_link_io io;
    struct otk_dev_input next; /* towards the engine */
    bool attached;
    bool sleeping; /* inside otk_link_sleep: the engine is stalled, deliver nothing */
    struct otk_net_ops ops;
    uint64_t rng;
    uint64_t t0;
    uint64_t jit_owd[2], jit_until[2]; /* the current one-way delay per direction */

    /* when the link is down */
    bool held;
    uint64_t hold_start;
    struct interval last_hold;
    struct interval stall, prev_stall; /* profile stalls: the current or next, the one before */
    struct interval silence;           /* otk_link_silence (the fault "stall") */

    /* air time, per direction */
    uint64_t tx_free_in, tx_free_out;
    uint64_t last_in_due, last_out_due, last_wu_due;

    /* host -> device TCP */
    uint8_t in_buf[IN_RING];
    uint32_t in_head, in_len;
    uint32_t in_head_off; /* bytes of the head EV_DATA already consumed */
    struct evq in;
    uint64_t pulled, consumed, known; /* known: consumed as the sender knows it */
    uint64_t last_pull;               /* when bytes were last taken from the socket */
    struct wupd wu[WUPD];
    uint32_t wu_head, wu_n;
    bool eng_open; /* the engine has a TCP connection (connect issued, not closed) */
    bool native;   /* this link carries the native protocol's accepted connection instead */
    uint32_t gen;  /* bumped when the TCP queues are dropped */

    /* device -> host TCP */
    uint8_t out_buf[OUT_RING];
    uint32_t out_head, out_len;
    struct evq out;

    struct udpq uin, uout;
    struct otk_link_stats st;
};

/* ---- time and randomness ---- */

static uint64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
now_us(const struct otk_link *l)
{
    return l->io.clock_us ? l->io.clock_us(l->io.user) : mono_us();
}

static uint32_t
ms_of(uint64_t us)
{
    return (uint32_t)(us / 1000u); /* the engine's clock: CLOCK_MONOTONIC ms, wrapping */
}

static uint64_t
rnd(struct otk_link *l)
{
    uint64_t z = (l->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One-way delay: half the RTT, +- half the jitter, uniform; so the round trip is RTT +- jitter.
 * The delay of a direction holds for JITTER_PERIOD, then is drawn again: a Wi-Fi link's delay
 * follows its load and retries, it does not jump from packet to packet (which, with in-order
 * delivery, would make every packet wait for the slowest before it and lengthen the mean). */
static uint64_t
owd(struct otk_link *l, int dir)
{
    uint64_t d = l->p.rtt_us / 2u;
    if (!l->p.jitter_us)
        return d;
    uint64_t now = now_us(l);
    if (now >= l->jit_until[dir]) {
        uint64_t span = l->p.jitter_us; /* [-j/2, +j/2] */
        uint64_t r = rnd(l) % (span + 1u);
        l->jit_owd[dir] = d + r >= span / 2u ? d + r - span / 2u : 0;
        l->jit_until[dir] = now + JITTER_PERIOD;
    }
    return l->jit_owd[dir];
}

static uint64_t
ser_us(const struct otk_link *l, uint64_t bytes)
{
    return l->p.bits_per_s ? bytes * 8u * 1000000u / l->p.bits_per_s : 0;
}

/* ---- stalls and holds ---- */

static void
schedule_stalls(struct otk_link *l, uint64_t now)
{
    if (!l->p.stall_ms)
        return;
    while (now >= l->stall.end) {
        uint32_t span = l->p.stall_gap_max_ms - l->p.stall_gap_min_ms;
        uint64_t gap = (uint64_t)l->p.stall_gap_min_ms + (span ? rnd(l) % (span + 1u) : 0);
        l->st.down_us += l->stall.end - l->stall.start;
        l->prev_stall = l->stall;
        l->stall.start = l->stall.end + gap * 1000u;
        l->stall.end = l->stall.start + (uint64_t)l->p.stall_ms * 1000u;
        l->st.stalls++;
    }
}

static bool
inside(const struct interval *iv, uint64_t t)
{
    return t >= iv->start && t < iv->end;
}

/* When something the air would deliver at `due` really gets through: later if the link is down
 * at that moment (it waits for the end), NEVER while a radio hold that began before it lasts. */
static uint64_t
eff_due(const struct otk_link *l, uint64_t due)
{
    for (int round = 0; round < 4; round++) {
        uint64_t was = due;
        if (l->held && due >= l->hold_start)
            return NEVER;
        if (inside(&l->last_hold, due))
            due = l->last_hold.end;
        if (inside(&l->silence, due))
            due = l->silence.end;
        if (inside(&l->prev_stall, due))
            due = l->prev_stall.end;
        if (inside(&l->stall, due))
            due = l->stall.end;
        if (due == was)
            break;
    }
    return due;
}

static bool
down_now(struct otk_link *l, uint64_t now)
{
    schedule_stalls(l, now);
    return l->held || inside(&l->silence, now) || inside(&l->stall, now) ||
           inside(&l->prev_stall, now);
}

/* ---- queues ---- */

static struct ev *
evq_push(struct evq *q)
{
    if (q->n == EVQ)
        return NULL;
    struct ev *e = &q->e[(q->head + q->n) % EVQ];
    q->n++;
    memset(e, 0, sizeof *e);
    return e;
}

static struct ev *
evq_head(struct evq *q)
{
    return q->n ? &q->e[q->head] : NULL;
}

static struct ev *
evq_tail(struct evq *q)
{
    return q->n ? &q->e[(q->head + q->n - 1) % EVQ] : NULL;
}

static void
evq_pop(struct evq *q)
{
    q->head = (q->head + 1) % EVQ;
    q->n--;
}

static void
ring_put(uint8_t *buf, uint32_t cap, uint32_t head, uint32_t len, const uint8_t *src, uint32_t n)
{
    uint32_t at = (head + len) % cap;
    uint32_t first = cap - at < n ? cap - at : n;
    memcpy(buf + at, src, first);
    memcpy(buf, src + first, n - first);
}

static void
ring_get(const uint8_t *buf, uint32_t cap, uint32_t from, uint8_t *dst, uint32_t n)
{
    uint32_t first = cap - from < n ? cap - from : n;
    memcpy(dst, buf + from, first);
    memcpy(dst + first, buf, n - first);
}

static void
udp_push(struct otk_link *l, struct udpq *q, uint64_t due, const struct otk_addr *a,
         const uint8_t *data, size_t len)
{
    if (q->n == UDPQ || len > DGRAM_MAX) {
        l->st.udp_lost++; /* the radio's buffer overflowed */
        return;
    }
    struct dgram *d = &q->d[q->n++];
    d->due = due;
    d->addr = *a;
    d->len = (uint16_t)len;
    memcpy(d->data, data, len);
}

/* Index of the datagram that gets through first, or -1. */
static int
udp_first(const struct otk_link *l, const struct udpq *q, uint64_t *at)
{
    int best = -1;
    uint64_t t = NEVER;
    for (uint32_t i = 0; i < q->n; i++) {
        uint64_t e = eff_due(l, q->d[i].due);
        if (e < t) {
            t = e;
            best = (int)i;
        }
    }
    *at = t;
    return best;
}

static void
udp_remove(struct udpq *q, int i, struct dgram *out)
{
    *out = q->d[i];
    memmove(&q->d[i], &q->d[i + 1], (q->n - (uint32_t)i - 1) * sizeof q->d[0]);
    q->n--;
}

/* ---- the TCP connection's queues ---- */

static void
tcp_drop_in(struct otk_link *l)
{
    l->in.head = l->in.n = 0;
    l->in_head = l->in_len = l->in_head_off = 0;
    l->gen++;
}

static void
tcp_new(struct otk_link *l)
{
    tcp_drop_in(l);
    l->pulled = l->consumed = l->known = 0;
    l->wu_head = l->wu_n = 0;
}

static uint64_t
in_due(struct otk_link *l, uint64_t due)
{
    if (due < l->last_in_due)
        due = l->last_in_due; /* TCP delivers in order */
    l->last_in_due = due;
    return due;
}

static uint64_t
out_due(struct otk_link *l, uint64_t due)
{
    if (due < l->last_out_due)
        due = l->last_out_due;
    l->last_out_due = due;
    return due;
}

/* The sender's view of consumed bytes: window updates that reached it by now. */
static void
apply_window_updates(struct otk_link *l, uint64_t now)
{
    while (l->wu_n && eff_due(l, l->wu[l->wu_head].due) <= now) {
        l->known = l->wu[l->wu_head].total;
        l->wu_head = (l->wu_head + 1) % WUPD;
        l->wu_n--;
    }
}

static void
note_consumed(struct otk_link *l, uint64_t now, uint32_t n)
{
    l->consumed += n;
    l->st.tcp_delivered += n;
    if (!l->p.window)
        return;
    uint64_t due = now + owd(l, OUT);
    if (due < l->last_wu_due)
        due = l->last_wu_due;
    l->last_wu_due = due;
    if (l->wu_n == WUPD) {
        l->wu[(l->wu_head + l->wu_n - 1) % WUPD].total = l->consumed;
        return;
    }
    struct wupd *w = &l->wu[(l->wu_head + l->wu_n) % WUPD];
    w->due = due;
    w->total = l->consumed;
    l->wu_n++;
}

static bool
pull_blocked(struct otk_link *l, uint64_t now)
{
    return down_now(l, now) || now < l->silence.end;
}

static size_t
window_room(struct otk_link *l)
{
    uint64_t now = now_us(l);
    if (!l->eng_open || l->in.n >= EVQ - 2 || pull_blocked(l, now))
        return 0;
    uint32_t free = IN_RING - l->in_len;
    if (!l->p.window)
        return free;
    apply_window_updates(l, now);
    uint64_t inflight = l->pulled - l->known;
    uint64_t room = inflight >= l->p.window ? 0 : l->p.window - inflight;
    return room < free ? (size_t)room : free;
}

/* The room in the window, no more than fits at the ring's tail in one piece: the port
 * receives straight into the ring (the kernel's copy is the only one before the engine's). */
static size_t
in_tcp_room(void *user, uint8_t **buf)
{
    struct otk_link *l = user;
    uint32_t tail = (l->in_head + l->in_len) % IN_RING;
    size_t room = window_room(l);
    *buf = l->in_buf + tail;
    return room < IN_RING - tail ? room : IN_RING - tail;
}

/* n bytes taken from the socket now enter the air towards the device. The sender's segments
 * are at most MSS bytes, each serialised after the one before: a read that holds several is cut
 * into segments of MSS bytes. The kernel may also hand over one segment in several reads: reads
 * close together and within one segment's size are one segment. */
static void
queue_in_segments(struct otk_link *l, uint64_t now, size_t n)
{
    struct ev *e = evq_tail(&l->in);
    bool merge = e && e->kind == EV_DATA && now - l->last_pull < SEG_GAP && e->len < MSS &&
                 !(l->in.n == 1 && l->in_head_off > 0);
    l->last_pull = now;
    for (size_t left = n; left > 0;) {
        uint32_t k;
        uint64_t start = now > l->tx_free_in ? now : l->tx_free_in;
        if (merge) {
            /* the same segment: the same trip, only its tail leaves later */
            k = MSS - e->len < left ? MSS - e->len : (uint32_t)left;
            l->tx_free_in = start + ser_us(l, k);
            e->len += k;
            e->due = in_due(l, l->tx_free_in + (uint64_t)e->status);
            merge = false;
        } else {
            k = left < MSS ? (uint32_t)left : MSS;
            l->tx_free_in = start + ser_us(l, k);
            uint64_t trip = owd(l, IN);
            e = evq_push(&l->in); /* cannot fail: the caller's seg_cap */
            e->kind = EV_DATA;
            e->len = k;
            e->status = (int)trip; /* EV_DATA: the segment's one-way delay */
            e->due = in_due(l, l->tx_free_in + trip);
        }
        left -= k;
    }
}

static size_t
in_tcp_data(void *user, const uint8_t *data, size_t len, uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms; /* the link keeps its own microsecond clock */
    if (!l->eng_open)
        return len; /* the engine closed it: what still comes is dropped, as lwIP would */
    size_t room = window_room(l);
    size_t n = len < room ? len : room;
    if (n == 0)
        return 0;
    /* at most MSS bytes per queued segment; keep two events spare (a close may follow) */
    size_t seg_cap = (size_t)(EVQ - 2u - l->in.n) * MSS;
    if (n > seg_cap)
        n = seg_cap;
    if (data != l->in_buf + (l->in_head + l->in_len) % IN_RING) /* else received in place */
        ring_put(l->in_buf, IN_RING, l->in_head, l->in_len, data, (uint32_t)n);
    l->in_len += (uint32_t)n;
    queue_in_segments(l, now_us(l), n);
    l->pulled += n;
    l->st.tcp_pulled += n;
    uint64_t inflight = l->pulled - l->consumed;
    if (inflight > l->st.max_inflight)
        l->st.max_inflight = (uint32_t)inflight;
    return n;
}

static void
in_connected(void *user, int status, uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms;
    if (!l->eng_open)
        return;
    struct ev *e = evq_push(&l->in);
    if (!e)
        return;
    e->kind = EV_CONNECTED;
    e->status = status;
    e->due = in_due(l, now_us(l) + owd(l, IN)); /* the SYN-ACK's way back */
}

/* The port accepted the native connection: it reaches the engine one trip later (the
 * handshake's last ACK), and from now on this link's TCP model is that connection's. */
static bool
in_native_accept(void *user, const struct otk_addr *from, uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms;
    tcp_new(l);
    l->eng_open = true;
    struct ev *e = evq_push(&l->in);
    if (!e)
        return false;
    e->kind = EV_CONNECTED;
    e->status = OTK_OK;
    e->addr = *from;
    e->due = in_due(l, now_us(l) + owd(l, IN));
    return true;
}

static void
in_tcp_closed(void *user, uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms;
    if (!l->eng_open)
        return;
    struct ev *e = evq_push(&l->in);
    if (!e)
        return;
    e->kind = EV_CLOSED;
    e->due = in_due(l, now_us(l) + owd(l, IN));
}

static void
in_datagram(void *user, const struct otk_addr *from, const uint8_t *data, size_t len,
            uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms;
    l->st.udp_in++;
    udp_push(l, &l->uin, now_us(l) + ser_us(l, len) + owd(l, IN), from, data, len);
}

/* ---- towards the host ---- */

/* The connect that left at `at` was refused on the far side: the refusal (a RST) crosses the
 * air back and reaches the device one way later. */
static void
refused(struct otk_link *l, uint64_t at)
{
    struct ev *e;
    if (!l->eng_open || (e = evq_push(&l->in)) == NULL)
        return;
    e->kind = EV_CONNECTED;
    e->status = OTK_ERR_IO;
    e->due = in_due(l, at + owd(l, IN));
}

/* Send what is due (all of it when force) to the sockets. Never calls the engine. */
static void
release_out(struct otk_link *l, bool force)
{
    uint64_t now = now_us(l);
    const struct otk_net_ops *d = l->io.down;

    for (;;) {
        uint64_t at;
        int i = udp_first(l, &l->uout, &at);
        if (i < 0 || (!force && at > now))
            break;
        struct dgram g;
        udp_remove(&l->uout, i, &g);
        (void)d->udp_send(d->user, &g.addr, g.data, g.len);
    }
    for (struct ev *e; (e = evq_head(&l->out)) != NULL;) {
        if (!force && eff_due(l, e->due) > now)
            break;
        struct ev ev = *e;
        evq_pop(&l->out);
        switch (ev.kind) {
        case EV_CONNECT:
            if (d->tcp_connect(d->user, &ev.addr) != OTK_OK)
                refused(l, eff_due(l, ev.due));
            break;
        case EV_DATA: {
            /* Pieces that are due together leave in one send: the byte stream is the same, the
             * sockets see one write instead of one per ack. */
            uint8_t tmp[2048];
            uint32_t left = ev.len;
            for (;;) {
                struct ev *nx;
                while (left < sizeof tmp && (nx = evq_head(&l->out)) != NULL &&
                       nx->kind == EV_DATA && nx->len <= sizeof tmp - left &&
                       (force || eff_due(l, nx->due) <= now)) {
                    left += nx->len;
                    evq_pop(&l->out);
                }
                if (left == 0)
                    break;
                uint32_t k = left < sizeof tmp ? left : (uint32_t)sizeof tmp;
                ring_get(l->out_buf, OUT_RING, l->out_head, tmp, k);
                l->out_head = (l->out_head + k) % OUT_RING;
                l->out_len -= k;
                left -= k;
                (void)(l->native ? d->nat_send : d->tcp_send)(d->user, tmp, k);
            }
            break;
        }
        case EV_CLOSE:
            (l->native ? d->nat_close : d->tcp_close)(d->user);
            break;
        default:
            break;
        }
    }
}

static int
op_udp_send(void *user, const struct otk_addr *to, const void *buf, size_t len)
{
    struct otk_link *l = user;
    l->st.udp_out++;
    udp_push(l, &l->uout, now_us(l) + ser_us(l, len) + owd(l, OUT), to, buf, len);
    release_out(l, false);
    return OTK_OK;
}

static int
op_tcp_connect(void *user, const struct otk_addr *to)
{
    struct otk_link *l = user;
    uint64_t now = now_us(l);
    tcp_new(l);
    l->eng_open = true;
    struct ev *e = evq_push(&l->out);
    if (!e)
        return OTK_ERR_IO;
    e->kind = EV_CONNECT;
    e->addr = *to;
    e->due = out_due(l, now + owd(l, OUT));
    release_out(l, false);
    return OTK_OK;
}

static int
op_tcp_send(void *user, const void *buf, size_t len)
{
    struct otk_link *l = user;
    if (!l->eng_open || len > OUT_RING - l->out_len)
        return OTK_ERR_IO;
    struct ev *e = evq_tail(&l->out);
    uint64_t now = now_us(l);
    uint64_t start = now > l->tx_free_out ? now : l->tx_free_out;
    l->tx_free_out = start + ser_us(l, len);
    uint64_t due = l->tx_free_out + owd(l, OUT);
    if (l->out.n == EVQ) {
        if (!e || e->kind != EV_DATA)
            return OTK_ERR_IO;
        e->len += (uint32_t)len; /* queue full: ride with the last piece */
    } else {
        e = evq_push(&l->out);
        e->kind = EV_DATA;
        e->len = (uint32_t)len;
        e->due = out_due(l, due);
    }
    ring_put(l->out_buf, OUT_RING, l->out_head, l->out_len, buf, (uint32_t)len);
    l->out_len += (uint32_t)len;
    release_out(l, false);
    return OTK_OK;
}

static void
op_tcp_close(void *user)
{
    struct otk_link *l = user;
    if (!l->eng_open)
        return;
    l->eng_open = false;
    tcp_drop_in(l); /* the engine owns no more of what is in the air */
    struct ev *e = evq_push(&l->out);
    if (e) {
        e->kind = EV_CLOSE;
        e->due = out_due(l, now_us(l));
    } else {
        release_out(l, true);
        (l->native ? l->io.down->nat_close : l->io.down->tcp_close)(l->io.down->user);
    }
    release_out(l, false);
}

/* ---- towards the engine ---- */

/* Bytes that have arrived (contiguous from the head) and may be read now, up to max. */
static uint32_t
arrived_bytes(struct otk_link *l, uint64_t now, uint32_t max)
{
    uint32_t n = 0, off = l->in_head_off;
    for (uint32_t i = 0; i < l->in.n && n < max; i++) {
        const struct ev *e = &l->in.e[(l->in.head + i) % EVQ];
        if (e->kind != EV_DATA || eff_due(l, e->due) > now)
            break;
        uint32_t k = e->len - off;
        n += k;
        off = 0;
    }
    return n < max ? n : max;
}

static void
consume_in(struct otk_link *l, uint32_t n)
{
    l->in_head = (l->in_head + n) % IN_RING;
    l->in_len -= n;
    while (n > 0) {
        struct ev *e = evq_head(&l->in);
        uint32_t k = e->len - l->in_head_off;
        if (n < k) {
            l->in_head_off += n;
            return;
        }
        n -= k;
        l->in_head_off = 0;
        evq_pop(&l->in);
    }
}

/* Hand the engine the bytes that have arrived, up to a piece, in place: the engine reads the
 * ring itself (a piece that wraps goes in two calls). @return true if it took some. */
static bool
deliver_data(struct otk_link *l, uint64_t now)
{
    uint32_t n = arrived_bytes(l, now, PIECE);
    uint32_t gen = l->gen;
    if (n == 0)
        return false;
    if (n == PIECE) {
        uint32_t unread = arrived_bytes(l, now, IN_RING);
        if (unread > l->st.max_undelivered)
            l->st.max_undelivered = unread;
    } else if (n > l->st.max_undelivered) {
        l->st.max_undelivered = n;
    }
    if (n > IN_RING - l->in_head)
        n = IN_RING - l->in_head;
    size_t used = (l->native ? l->next.on_native_data : l->next.on_tcp_data)(
        l->next.user, l->in_buf + l->in_head, n, ms_of(now));
    if (l->gen != gen)
        return true; /* the engine closed the connection meanwhile */
    if (used > n)
        used = n;
    consume_in(l, (uint32_t)used);
    /* the window opens when the application reads (lwIP's tcp_recved), which is before the
     * flash work the bytes cause */
    note_consumed(l, now, (uint32_t)used);
    return used > 0;
}

/* The native connection reaches the engine; one it refuses (busy, a throttled source) is closed
 * at once, as the port would. */
static void
deliver_accept(struct otk_link *l, const struct otk_addr *from, uint64_t now)
{
    if (l->next.on_native_accept(l->next.user, from, ms_of(now)))
        return;
    l->eng_open = false;
    tcp_drop_in(l);
    l->io.down->nat_close(l->io.down->user);
}

/* Deliver one due item to the engine. @return false if nothing was due. */
static bool
deliver_one(struct otk_link *l)
{
    uint64_t now = now_us(l);
    uint64_t at;
    int i = udp_first(l, &l->uin, &at);
    struct ev *e = evq_head(&l->in);
    uint64_t tat = e ? eff_due(l, e->due) : NEVER;

    if (i >= 0 && at <= now && at <= tat) {
        struct dgram g;
        udp_remove(&l->uin, i, &g);
        l->next.on_datagram(l->next.user, &g.addr, g.data, g.len, ms_of(now));
        return true;
    }
    if (!e || tat > now)
        return false;
    switch (e->kind) {
    case EV_CONNECTED: {
        int status = e->status;
        struct otk_addr from = e->addr;
        evq_pop(&l->in);
        if (l->native) {
            deliver_accept(l, &from, now);
            return true;
        }
        if (status != OTK_OK)
            l->eng_open = false;
        l->next.on_connected(l->next.user, status, ms_of(now));
        return true;
    }
    case EV_CLOSED:
        evq_pop(&l->in);
        l->eng_open = false;
        (l->native ? l->next.on_native_closed : l->next.on_tcp_closed)(l->next.user, ms_of(now));
        return true;
    case EV_DATA:
        return deliver_data(l, now);
    default:
        evq_pop(&l->in);
        return true;
    }
}

void
otk_link_process(struct otk_link *l)
{
    if (!l->attached || l->sleeping)
        return;
    release_out(l, false);
    for (int round = 0; round < 256; round++) {
        if (deliver_one(l)) {
            release_out(l, false);
            continue;
        }
        /* nothing has arrived: an engine in the middle of an update may use the pause */
        if (round < 4 && l->next.on_idle(l->next.user, ms_of(now_us(l)))) {
            release_out(l, false);
            continue;
        }
        break;
    }
}

/* The port has nothing new: deliver what is due, or else pass the pause on to the engine.
 * Nothing while the engine is stalled in a flash operation (the port is pumped from inside
 * it, and the engine is not re-entered). */
static bool
in_idle(void *user, uint32_t now_ms)
{
    struct otk_link *l = user;
    (void)now_ms;
    if (!l->attached || l->sleeping)
        return false;
    bool did = deliver_one(l) || l->next.on_idle(l->next.user, ms_of(now_us(l)));
    release_out(l, false);
    return did;
}

/* The next moment something changes, for `deliver` (engine deliveries count) or not. */
static uint64_t
next_event(struct otk_link *l, bool deliver)
{
    uint64_t now = now_us(l), t = NEVER, at;
    struct ev *e;

    schedule_stalls(l, now);
    if (udp_first(l, &l->uout, &at) >= 0 && at < t)
        t = at;
    if ((e = evq_head(&l->out)) != NULL && eff_due(l, e->due) < t)
        t = eff_due(l, e->due);
    if (deliver) {
        if (udp_first(l, &l->uin, &at) >= 0 && at < t)
            t = at;
        if ((e = evq_head(&l->in)) != NULL && eff_due(l, e->due) < t)
            t = eff_due(l, e->due);
    }
    /* a window update matters only to a sender the window holds back; otherwise the socket's
     * own readiness wakes the loop (saves a wake-up per piece read) */
    if (l->wu_n && l->pulled - l->known >= l->p.window && eff_due(l, l->wu[l->wu_head].due) < t)
        t = eff_due(l, l->wu[l->wu_head].due);
    /* the edges of a stall: pulls stop and resume there */
    if (l->p.stall_ms) {
        if (l->stall.start > now && l->stall.start < t)
            t = l->stall.start;
        if (l->stall.end > now && l->stall.end < t)
            t = l->stall.end;
    }
    if (l->silence.end > now && l->silence.end < t)
        t = l->silence.end;
    return t;
}

int64_t
otk_link_next_us(struct otk_link *l)
{
    uint64_t t = next_event(l, true), now = now_us(l);
    if (t == NEVER)
        return -1;
    return t > now ? (int64_t)(t - now) : 0;
}

void
otk_link_sleep(struct otk_link *l, uint64_t us)
{
    uint64_t until = now_us(l) + us;
    bool was = l->sleeping;
    l->sleeping = true;
    for (;;) {
        release_out(l, false);
        uint64_t now = now_us(l);
        if (now >= until)
            break;
        uint64_t t = next_event(l, false);
        uint64_t wait = (t < until ? (t > now ? t : now) : until) - now;
        if (l->io.pump) {
            l->io.pump(l->io.user, (int64_t)wait);
        } else if (wait > 0) {
            struct timespec ts = {.tv_sec = (time_t)(wait / 1000000u),
                                  .tv_nsec = (long)(wait % 1000000u) * 1000L};
            nanosleep(&ts, NULL);
        }
    }
    l->sleeping = was;
}

void
otk_link_radio_hold(struct otk_link *l, bool held, uint32_t now_ms)
{
    (void)now_ms; /* the link keeps its own microsecond clock */
    uint64_t now = now_us(l);
    if (held == l->held)
        return;
    l->held = held;
    if (held) {
        l->hold_start = now;
    } else {
        l->last_hold.start = l->hold_start;
        l->last_hold.end = now;
        l->st.down_us += now - l->hold_start;
    }
}

void
otk_link_silence(struct otk_link *l, uint32_t ms)
{
    /* silent from just after the last byte on its way in arrives: what the device was sent
     * before still reaches it; pulls stop at once (pull_blocked) */
    uint64_t now = now_us(l);
    uint64_t from = (l->last_in_due > now ? l->last_in_due : now) + 1u;
    l->silence.start = from;
    l->silence.end = from + (uint64_t)ms * 1000u;
    l->st.down_us += (uint64_t)ms * 1000u;
}

void
otk_link_flush(struct otk_link *l)
{
    release_out(l, true);
}

void
otk_link_reset(struct otk_link *l)
{
    l->eng_open = false;
    tcp_new(l);
    l->uin.n = 0; /* datagrams on their way in die with the device's stack */
    l->out.head = l->out.n = 0;
    l->out_head = l->out_len = 0;
}

void
otk_link_stats(const struct otk_link *l, struct otk_link_stats *out)
{
    *out = l->st;
}

/* ---- set-up ---- */

int
otk_link_profile_parse(const char *s, enum otk_link_profile *out)
{
    static const struct {
        const char *name;
        enum otk_link_profile p;
    } names[] = {{"none", OTK_LINK_NONE},
                 {"lan", OTK_LINK_LAN},
                 {"wifi", OTK_LINK_WIFI},
                 {"weak-wifi", OTK_LINK_WEAK_WIFI}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(s, names[i].name)) {
            *out = names[i].p;
            return 0;
        }
    return -1;
}

const char *
otk_link_profile_str(enum otk_link_profile p)
{
    switch (p) {
    case OTK_LINK_LAN:
        return "lan";
    case OTK_LINK_WIFI:
        return "wifi";
    case OTK_LINK_WEAK_WIFI:
        return "weak-wifi";
    default:
        return "none";
    }
}

struct otk_link_params
otk_link_params_of(enum otk_link_profile p, enum otk_profile chip)
{
    struct otk_link_params k;
    memset(&k, 0, sizeof k);
    if (p == OTK_LINK_NONE)
        return k;
    /* lwIP's TCP_WND: 4 x MSS on both cores (docs/EMULATOR.md) */
    k.window = chip == OTK_PROFILE_ESP8266 ? 2144u : 5744u;
    switch (p) {
    case OTK_LINK_LAN:
        k.rtt_us = 1000;
        k.bits_per_s = 100000000ull;
        break;
    case OTK_LINK_WIFI:
        k.rtt_us = 8000;
        k.jitter_us = 3000;
        k.bits_per_s = 20000000ull;
        break;
    default: /* weak-wifi */
        k.rtt_us = 40000;
        k.jitter_us = 15000;
        k.bits_per_s = 4000000ull;
        k.stall_ms = 300;
        k.stall_gap_min_ms = 2000;
        k.stall_gap_max_ms = 8000;
        break;
    }
    return k;
}

struct otk_link *
otk_link_new(const struct otk_link_params *p, uint64_t seed, const struct otk_link_io *io)
{
    struct otk_link *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->p = *p;
    if (l->p.window > IN_RING - PIECE)
        l->p.window = IN_RING - PIECE;
    if (l->p.stall_gap_max_ms < l->p.stall_gap_min_ms)
        l->p.stall_gap_max_ms = l->p.stall_gap_min_ms;
    l->io = *io;
    l->rng = seed * 0x2545F4914F6CDD1Dull + 0x6C696E6Bull; /* "link" */
    l->t0 = now_us(l);
    if (l->p.stall_ms) {
        /* the first stall comes one gap after the start */
        l->stall.start = l->stall.end = l->t0;
        schedule_stalls(l, l->t0);
        l->st.stalls = 0;
        l->st.down_us = 0;
    }
    l->ops.udp_send = op_udp_send;
    l->ops.tcp_connect = op_tcp_connect;
    l->ops.tcp_send = op_tcp_send;
    l->ops.tcp_close = op_tcp_close;
    l->ops.user = l;
    return l;
}

void
otk_link_set_native(struct otk_link *l)
{
    l->native = true;
    l->ops.udp_send = NULL;
    l->ops.tcp_connect = NULL;
    l->ops.tcp_send = NULL;
    l->ops.tcp_close = NULL;
    l->ops.nat_send = op_tcp_send;
    l->ops.nat_close = op_tcp_close;
}

void
otk_link_free(struct otk_link *l)
{
    free(l);
}

const struct otk_net_ops *
otk_link_ops(struct otk_link *l)
{
    return &l->ops;
}

struct otk_dev_input
otk_link_input(struct otk_link *l)
{
    struct otk_dev_input in = {.on_datagram = in_datagram,
                               .on_connected = in_connected,
                               .on_tcp_data = in_tcp_data,
                               .on_tcp_closed = in_tcp_closed,
                               .on_idle = in_idle,
                               .tcp_room = in_tcp_room,
                               .user = l};
    if (l->native) {
        /* the same TCP model, for the accepted connection */
        in.on_native_accept = in_native_accept;
        in.on_native_data = in_tcp_data;
        in.on_native_closed = in_tcp_closed;
        in.native_room = in_tcp_room;
    }
    return in;
}

void
otk_link_attach(struct otk_link *l, const struct otk_dev_input *next)
{
    l->next = *next;
    l->attached = true;
}
