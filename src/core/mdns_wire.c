/* SPDX-License-Identifier: MIT */
/* DNS messages as multicast DNS uses them (RFC 1035 §4, RFC 6762, RFC 6763): a reader that
 * never looks outside the buffer it was given, a writer with name compression, the answers of a
 * responder for one service, and the bookkeeping of a browse. Freestanding: it runs on the
 * device as well as on the host, and it parses bytes from anyone on the link, so every length
 * is checked before it is used and compression pointers cannot loop. DNS is big-endian, unlike
 * the rest of the wire formats in the core. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "otakit/err.h"
#include "otakit/mdns.h"

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint8_t
fold(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* "_services._dns-sd._udp.local": the meta-query for service types (RFC 6763 §9). */
static const uint8_t sd_meta[] = "\x09_services\x07_dns-sd\x04_udp\x05local";
static const uint8_t local_name[] = "\x05local";

/* ---- names ---- */

int
otk_dns_read_name(const uint8_t *msg, size_t len, size_t off, uint8_t out[OTK_DNS_NAME_MAX],
                  size_t *end)
{
    /* A pointer must land before `limit`: first before the name itself (compressors only point
     * at names written earlier), then before the previous landing point. The limit falls with
     * every jump, so a loop cannot form, whatever the bytes. */
    size_t pos = off, limit = off, n = 0;
    bool jumped = false;

    for (;;) {
        if (pos >= len)
            return OTK_ERR_MALFORMED;
        uint8_t c = msg[pos];
        if ((c & 0xC0) == 0xC0) {
            if (len - pos < 2)
                return OTK_ERR_MALFORMED;
            size_t target = (size_t)(c & 0x3F) << 8 | msg[pos + 1];
            if (target >= limit)
                return OTK_ERR_MALFORMED;
            if (!jumped && end)
                *end = pos + 2;
            jumped = true;
            limit = pos = target;
            continue;
        }
        if (c > OTK_DNS_LABEL_MAX)
            return OTK_ERR_MALFORMED; /* 0x40 and 0x80: extended label types, never used */
        if (c == 0) {
            out[n++] = 0;
            if (!jumped && end)
                *end = pos + 1;
            return (int)n;
        }
        if (len - pos - 1 < c)
            return OTK_ERR_MALFORMED;
        if (n + 1u + c + 1u > OTK_DNS_NAME_MAX)
            return OTK_ERR_MALFORMED;
        out[n] = c;
        memcpy(out + n + 1, msg + pos + 1, c);
        n += 1u + c;
        pos += 1u + c;
    }
}

size_t
otk_dns_name_len(const uint8_t *name)
{
    size_t n = 0;

    while (name[n])
        n += 1u + name[n];
    return n + 1;
}

bool
otk_dns_name_eq(const uint8_t *a, const uint8_t *b)
{
    for (;;) {
        if (*a != *b)
            return false;
        if (*a == 0)
            return true;
        size_t l = *a;
        for (size_t i = 1; i <= l; i++)
            if (fold(a[i]) != fold(b[i]))
                return false;
        a += 1 + l;
        b += 1 + l;
    }
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int
otk_dns_name_from_text(const char *text, uint8_t out[OTK_DNS_NAME_MAX])
{
    size_t n = 1, lab = 0, ll = 0; /* out[lab] will hold the length of the label being read */
    const char *p = text;

    if (p[0] == '.' && p[1] == '\0') {
        out[0] = 0;
        return 1;
    }
    while (*p) {
        uint8_t c;
        if (*p == '.') {
            if (ll == 0)
                return OTK_ERR_ARG; /* empty label */
            out[lab] = (uint8_t)ll;
            lab = n++;
            ll = 0;
            p++;
            continue;
        }
        if (*p == '\\') {
            p++;
            if (is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2])) {
                unsigned v = (unsigned)(p[0] - '0') * 100u + (unsigned)(p[1] - '0') * 10u +
                             (unsigned)(p[2] - '0');
                if (v > 255)
                    return OTK_ERR_ARG;
                c = (uint8_t)v;
                p += 3;
            } else if (*p) {
                c = (uint8_t)*p++;
            } else {
                return OTK_ERR_ARG;
            }
        } else {
            c = (uint8_t)*p++;
        }
        if (ll == OTK_DNS_LABEL_MAX || n >= OTK_DNS_NAME_MAX - 1)
            return OTK_ERR_ARG;
        out[n++] = c;
        ll++;
    }
    if (ll == 0) {
        if (lab == 0)
            return OTK_ERR_ARG; /* empty text */
        out[lab] = 0;           /* a trailing dot: the label just opened is the root */
        return (int)n;
    }
    out[lab] = (uint8_t)ll;
    if (n >= OTK_DNS_NAME_MAX)
        return OTK_ERR_ARG;
    out[n++] = 0;
    return (int)n;
}

int
otk_dns_name_prepend(uint8_t out[OTK_DNS_NAME_MAX], const void *label, size_t n,
                     const uint8_t *suffix)
{
    size_t sl = otk_dns_name_len(suffix);

    if (n == 0 || n > OTK_DNS_LABEL_MAX || 1 + n + sl > OTK_DNS_NAME_MAX)
        return OTK_ERR_ARG;
    memmove(out + 1 + n, suffix, sl);
    memmove(out + 1, label, n);
    out[0] = (uint8_t)n;
    return (int)(1 + n + sl);
}

int
otk_dns_name_to_text(const uint8_t *name, char *out, size_t cap)
{
    size_t n = 0;

#define EMIT(ch)                                                                                   \
    do {                                                                                           \
        if (n + 1 >= cap)                                                                          \
            goto nospace;                                                                          \
        out[n++] = (char)(ch);                                                                     \
    } while (0)
    if (cap == 0)
        return OTK_ERR_NOSPACE;
    if (name[0] == 0)
        EMIT('.');
    for (const uint8_t *p = name; *p; p += 1 + *p) {
        if (p != name)
            EMIT('.');
        for (size_t i = 1; i <= *p; i++) {
            uint8_t c = p[i];
            if (c == '.' || c == '\\') {
                EMIT('\\');
                EMIT(c);
            } else if (c < 0x20 || c == 0x7F) {
                EMIT('\\');
                EMIT('0' + c / 100);
                EMIT('0' + c / 10 % 10);
                EMIT('0' + c % 10);
            } else {
                EMIT(c);
            }
        }
    }
#undef EMIT
    out[n] = '\0';
    return (int)n;
nospace:
    out[0] = '\0';
    return OTK_ERR_NOSPACE;
}

/* ---- reading a message ---- */

int
otk_dns_open(struct otk_dns_msg *m, const uint8_t *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    if (len < OTK_DNS_HDR_LEN)
        return OTK_ERR_MALFORMED;
    m->buf = buf;
    m->len = len;
    m->hdr.id = get16(buf);
    m->hdr.flags = get16(buf + 2);
    m->hdr.qdcount = get16(buf + 4);
    m->hdr.ancount = get16(buf + 6);
    m->hdr.nscount = get16(buf + 8);
    m->hdr.arcount = get16(buf + 10);
    m->pos = OTK_DNS_HDR_LEN;
    m->total = (uint32_t)m->hdr.qdcount + m->hdr.ancount + m->hdr.nscount + m->hdr.arcount;
    return OTK_OK;
}

int
otk_dns_next(struct otk_dns_msg *m, struct otk_dns_rr *rr)
{
    uint32_t i = m->next, qd = m->hdr.qdcount, an = qd + m->hdr.ancount;
    size_t end = 0;

    if (i >= m->total)
        return 0;
    memset(rr, 0, sizeof *rr);
    rr->section = i < qd                    ? OTK_DNS_SEC_QD
                  : i < an                  ? OTK_DNS_SEC_AN
                  : i < an + m->hdr.nscount ? OTK_DNS_SEC_NS
                                            : OTK_DNS_SEC_AR;
    if (otk_dns_read_name(m->buf, m->len, m->pos, rr->name, &end) < 0)
        goto bad;
    if (m->len - end < 4)
        goto bad;
    rr->type = get16(m->buf + end);
    rr->rclass = get16(m->buf + end + 2) & 0x7FFFu;
    rr->top = (m->buf[end + 2] & 0x80) != 0;
    end += 4;
    if (rr->section != OTK_DNS_SEC_QD) {
        if (m->len - end < 6)
            goto bad;
        rr->ttl = get32(m->buf + end);
        rr->rdlength = get16(m->buf + end + 4);
        end += 6;
        if (m->len - end < rr->rdlength)
            goto bad;
        rr->rdata = end;
        end += rr->rdlength;
    } else {
        rr->rdata = end;
    }
    m->pos = end;
    m->next++;
    return 1;
bad:
    m->next = m->total; /* the walk ends at the first malformed entry */
    return OTK_ERR_MALFORMED;
}

/* A name inside rdata: its own bytes must stay inside the rdata (pointers may go anywhere
 * earlier in the message). */
static int
rdata_name(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, size_t off,
           uint8_t out[OTK_DNS_NAME_MAX])
{
    size_t end = 0, stop = rr->rdata + rr->rdlength;
    int n;

    if (off >= stop)
        return OTK_ERR_MALFORMED;
    n = otk_dns_read_name(m->buf, stop, off, out, &end);
    if (n < 0 || end > stop)
        return OTK_ERR_MALFORMED;
    return n;
}

int
otk_dns_rr_ptr(const struct otk_dns_msg *m, const struct otk_dns_rr *rr,
               uint8_t out[OTK_DNS_NAME_MAX])
{
    if (rr->type != OTK_DNS_PTR || rr->section == OTK_DNS_SEC_QD)
        return OTK_ERR_ARG;
    return rdata_name(m, rr, rr->rdata, out);
}

int
otk_dns_rr_srv(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint16_t *prio,
               uint16_t *weight, uint16_t *port, uint8_t target[OTK_DNS_NAME_MAX])
{
    uint8_t tmp[OTK_DNS_NAME_MAX];
    const uint8_t *p = m->buf + rr->rdata;

    if (rr->type != OTK_DNS_SRV || rr->section == OTK_DNS_SEC_QD)
        return OTK_ERR_ARG;
    if (rr->rdlength < 7)
        return OTK_ERR_MALFORMED;
    if (rdata_name(m, rr, rr->rdata + 6, target ? target : tmp) < 0)
        return OTK_ERR_MALFORMED;
    if (prio)
        *prio = get16(p);
    if (weight)
        *weight = get16(p + 2);
    if (port)
        *port = get16(p + 4);
    return OTK_OK;
}

int
otk_dns_rr_a(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint8_t out[4])
{
    if (rr->type != OTK_DNS_A || rr->section == OTK_DNS_SEC_QD)
        return OTK_ERR_ARG;
    if (rr->rdlength != 4)
        return OTK_ERR_MALFORMED;
    memcpy(out, m->buf + rr->rdata, 4);
    return OTK_OK;
}

int
otk_dns_rr_aaaa(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint8_t out[16])
{
    if (rr->type != OTK_DNS_AAAA || rr->section == OTK_DNS_SEC_QD)
        return OTK_ERR_ARG;
    if (rr->rdlength != 16)
        return OTK_ERR_MALFORMED;
    memcpy(out, m->buf + rr->rdata, 16);
    return OTK_OK;
}

/* ---- TXT ---- */

int
otk_dns_txt_next(const uint8_t *rd, size_t len, size_t *pos, const uint8_t **s, size_t *slen)
{
    size_t l;

    if (*pos >= len)
        return 0;
    l = rd[*pos];
    if (len - *pos - 1 < l)
        return OTK_ERR_MALFORMED;
    *s = rd + *pos + 1;
    *slen = l;
    *pos += 1 + l;
    return 1;
}

int
otk_dns_txt_get(const uint8_t *rd, size_t len, const char *key, const uint8_t **val, size_t *vlen)
{
    size_t pos = 0, kl = strlen(key), sl;
    const uint8_t *s;
    int rc;

    while ((rc = otk_dns_txt_next(rd, len, &pos, &s, &sl)) == 1) {
        size_t k = 0;
        while (k < sl && s[k] != '=')
            k++;
        if (k == 0 || k != kl)
            continue; /* "=value" has no key: ignored (RFC 6763 §6.4) */
        size_t i = 0;
        while (i < k && fold(s[i]) == fold((uint8_t)key[i]))
            i++;
        if (i != k)
            continue;
        if (k == sl)
            return 0;
        *val = s + k + 1;
        *vlen = sl - k - 1;
        return 1;
    }
    return rc < 0 ? rc : OTK_ERR_NOTFOUND;
}

int
otk_dns_txt_add(uint8_t *rd, size_t cap, size_t *len, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = value ? strlen(value) : 0, sl;

    if (kl == 0)
        return OTK_ERR_ARG;
    for (size_t i = 0; i < kl; i++)
        if ((uint8_t)key[i] < 0x20 || (uint8_t)key[i] > 0x7E || key[i] == '=')
            return OTK_ERR_ARG;
    sl = kl + (value ? 1 + vl : 0);
    if (sl > 255)
        return OTK_ERR_ARG;
    if (*len > cap || cap - *len < 1 + sl)
        return OTK_ERR_NOSPACE;
    rd[*len] = (uint8_t)sl;
    memcpy(rd + *len + 1, key, kl);
    if (value) {
        rd[*len + 1 + kl] = '=';
        memcpy(rd + *len + 2 + kl, value, vl);
    }
    *len += 1 + sl;
    return OTK_OK;
}

/* ---- writing a message ---- */

void
otk_dns_writer_init(struct otk_dns_writer *w, uint8_t *buf, size_t cap, uint16_t id, uint16_t flags)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    if (cap < OTK_DNS_HDR_LEN) {
        w->failed = true;
        return;
    }
    memset(buf, 0, OTK_DNS_HDR_LEN);
    set16(buf, id);
    set16(buf + 2, flags);
    w->len = OTK_DNS_HDR_LEN;
}

static void
put_bytes(struct otk_dns_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return;
    if (w->cap - w->len < n) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void
put_u16(struct otk_dns_writer *w, uint16_t v)
{
    uint8_t b[2];

    set16(b, v);
    put_bytes(w, b, 2);
}

static void
put_u32(struct otk_dns_writer *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    put_bytes(w, b, 4);
}

static bool
written_name_is(const struct otk_dns_writer *w, uint16_t off, const uint8_t *name)
{
    uint8_t tmp[OTK_DNS_NAME_MAX];

    return otk_dns_read_name(w->buf, w->len, off, tmp, NULL) > 0 && otk_dns_name_eq(tmp, name);
}

/* Write name, ending in a pointer to the longest suffix already in the message. */
static void
put_name(struct otk_dns_writer *w, const uint8_t *name)
{
    size_t start = w->len, i = 0;
    int hit = -1;

    if (w->failed)
        return;
    while (name[i] && hit < 0) {
        for (uint8_t k = 0; k < w->ncomp; k++)
            if (written_name_is(w, w->comp[k], name + i)) {
                hit = k;
                break;
            }
        if (hit < 0)
            i += 1u + name[i];
    }
    put_bytes(w, name, i);
    if (hit >= 0)
        put_u16(w, (uint16_t)(0xC000u | w->comp[hit]));
    else
        put_bytes(w, "", 1);
    if (w->failed)
        return;
    /* the labels just written in full are targets for later names (offsets fit in 14 bits) */
    for (size_t j = 0; j < i && w->ncomp < OTK_DNS_COMP_MAX; j += 1u + name[j])
        if (start + j < 0x4000)
            w->comp[w->ncomp++] = (uint16_t)(start + j);
}

void
otk_dns_put_question(struct otk_dns_writer *w, const uint8_t *name, uint16_t type, uint16_t qclass)
{
    if (w->section != OTK_DNS_SEC_QD || w->count[OTK_DNS_SEC_QD] == 0xFFFF)
        w->failed = true;
    put_name(w, name);
    put_u16(w, type);
    put_u16(w, qclass);
    if (!w->failed)
        w->count[OTK_DNS_SEC_QD]++;
}

/* Name, type, class, TTL and a zero rdlength; @return where the rdata starts. */
static size_t
rr_begin(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name, uint16_t type,
         uint16_t rclass, uint32_t ttl)
{
    if (sec == OTK_DNS_SEC_QD || sec > OTK_DNS_SEC_AR || (uint8_t)sec < w->section ||
        w->count[sec] == 0xFFFF)
        w->failed = true;
    else
        w->section = (uint8_t)sec;
    put_name(w, name);
    put_u16(w, type);
    put_u16(w, rclass);
    put_u32(w, ttl);
    put_u16(w, 0);
    return w->len;
}

static void
rr_end(struct otk_dns_writer *w, enum otk_dns_section sec, size_t rdstart)
{
    if (w->failed)
        return;
    if (w->len - rdstart > 0xFFFF) {
        w->failed = true;
        return;
    }
    set16(w->buf + rdstart - 2, (uint16_t)(w->len - rdstart));
    w->count[sec]++;
}

void
otk_dns_put_ptr(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                uint16_t rclass, uint32_t ttl, const uint8_t *target)
{
    size_t rd = rr_begin(w, sec, name, OTK_DNS_PTR, rclass, ttl);

    put_name(w, target);
    rr_end(w, sec, rd);
}

void
otk_dns_put_srv(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                uint16_t rclass, uint32_t ttl, uint16_t prio, uint16_t weight, uint16_t port,
                const uint8_t *target)
{
    size_t rd = rr_begin(w, sec, name, OTK_DNS_SRV, rclass, ttl);

    put_u16(w, prio);
    put_u16(w, weight);
    put_u16(w, port);
    put_name(w, target); /* compressed: RFC 6762 §18.14 allows it in mDNS */
    rr_end(w, sec, rd);
}

void
otk_dns_put_txt(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                uint16_t rclass, uint32_t ttl, const uint8_t *rd, size_t rdlen)
{
    size_t at = rr_begin(w, sec, name, OTK_DNS_TXT, rclass, ttl);

    if (rdlen == 0)
        put_bytes(w, "", 1); /* a TXT record holds at least one (empty) string */
    else
        put_bytes(w, rd, rdlen);
    rr_end(w, sec, at);
}

void
otk_dns_put_a(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
              uint16_t rclass, uint32_t ttl, const uint8_t addr[4])
{
    size_t rd = rr_begin(w, sec, name, OTK_DNS_A, rclass, ttl);

    put_bytes(w, addr, 4);
    rr_end(w, sec, rd);
}

void
otk_dns_put_nsec(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                 uint16_t rclass, uint32_t ttl, const uint16_t *types, size_t ntypes)
{
    uint8_t bitmap[32];
    size_t blen = 0, rd = rr_begin(w, sec, name, OTK_DNS_NSEC, rclass, ttl);

    memset(bitmap, 0, sizeof bitmap);
    for (size_t i = 0; i < ntypes; i++) {
        if (types[i] >= 256) {
            w->failed = true;
            return;
        }
        bitmap[types[i] / 8] |= (uint8_t)(0x80u >> (types[i] % 8));
        if (types[i] / 8u + 1u > blen)
            blen = types[i] / 8u + 1u;
    }
    /* the next-name field uncompressed, as RFC 4034 requires of NSEC */
    put_bytes(w, name, otk_dns_name_len(name));
    put_bytes(w, "", 1); /* window block 0 */
    put_bytes(w, (uint8_t[]){(uint8_t)blen}, 1);
    put_bytes(w, bitmap, blen);
    rr_end(w, sec, rd);
}

size_t
otk_dns_finish(struct otk_dns_writer *w)
{
    if (w->failed)
        return 0;
    for (int i = 0; i < 4; i++)
        set16(w->buf + 4 + 2 * i, w->count[i]);
    return w->len;
}

/* ---- one service ---- */

static bool
host_label_ok(const char *h, size_t n)
{
    if (n == 0 || n > OTK_DNS_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* name + ".local" (name is a wire name). */
static int
append_local(uint8_t name[OTK_DNS_NAME_MAX])
{
    size_t l = otk_dns_name_len(name);

    if (l - 1 + sizeof local_name > OTK_DNS_NAME_MAX)
        return OTK_ERR_ARG;
    memcpy(name + l - 1, local_name, sizeof local_name); /* with its terminating root */
    return (int)(l - 1 + sizeof local_name);
}

int
otk_mdns_service_init(struct otk_mdns_service *s, const char *instance, const char *host,
                      const char *service, uint16_t port, const uint8_t ipv4[4], const uint8_t *txt,
                      size_t txt_len)
{
    size_t il = strlen(instance), hl = strlen(host);
    const uint8_t *proto;

    memset(s, 0, sizeof *s);
    if (il == 0 || il > OTK_DNS_LABEL_MAX || !host_label_ok(host, hl))
        return OTK_ERR_ARG;
    /* "_name._tcp": two labels, both starting with '_', the second _tcp or _udp */
    if (otk_dns_name_from_text(service, s->type) < 0 || s->type[0] < 2 || s->type[1] != '_')
        return OTK_ERR_ARG;
    proto = s->type + 1 + s->type[0];
    if (proto[0] != 4 || proto[5] != 0 ||
        (memcmp(proto + 1, "_tcp", 4) != 0 && memcmp(proto + 1, "_udp", 4) != 0))
        return OTK_ERR_ARG;
    if (append_local(s->type) < 0 || otk_dns_name_prepend(s->instance, instance, il, s->type) < 0)
        return OTK_ERR_ARG;
    if (otk_dns_name_prepend(s->host, host, hl, local_name) < 0)
        return OTK_ERR_ARG;
    /* a TXT record must hold at least one string; validate the lengths inside */
    if (txt_len > sizeof s->txt)
        return OTK_ERR_ARG;
    if (txt && txt_len) {
        size_t pos = 0, sl;
        const uint8_t *str;
        int rc;
        while ((rc = otk_dns_txt_next(txt, txt_len, &pos, &str, &sl)) == 1)
            ;
        if (rc < 0)
            return OTK_ERR_ARG;
        memcpy(s->txt, txt, txt_len);
        s->txt_len = (uint16_t)txt_len;
    } else {
        s->txt[0] = 0;
        s->txt_len = 1;
    }
    s->port = port;
    if (ipv4)
        memcpy(s->ipv4, ipv4, 4);
    return OTK_OK;
}

enum rec { R_PTR, R_SRV, R_TXT, R_A, R_META, R_NSEC, R_COUNT };
#define BIT(r) (1u << (r))

static const uint8_t *
rec_name(const struct otk_mdns_service *s, enum rec r)
{
    switch (r) {
    case R_PTR:
        return s->type;
    case R_SRV:
    case R_TXT:
        return s->instance;
    case R_META:
        return sd_meta;
    default:
        return s->host;
    }
}

static uint16_t
rec_type(enum rec r)
{
    static const uint16_t t[R_COUNT] = {OTK_DNS_PTR, OTK_DNS_SRV, OTK_DNS_TXT,
                                        OTK_DNS_A,   OTK_DNS_PTR, OTK_DNS_NSEC};
    return t[r];
}

/* §10: records that name a host live 120 s (they change with the network), the rest 75 min */
static uint32_t
rec_ttl(enum rec r)
{
    return r == R_SRV || r == R_A || r == R_NSEC ? OTK_MDNS_TTL_HOST : OTK_MDNS_TTL_OTHER;
}

/* Unique records carry the cache-flush bit (§10.2); the PTRs are shared by all instances. */
static bool
rec_unique(enum rec r)
{
    return r != R_PTR && r != R_META;
}

static void
put_rec(struct otk_dns_writer *w, const struct otk_mdns_service *s, enum rec r,
        enum otk_dns_section sec, bool legacy, bool goodbye)
{
    static const uint16_t only_a[] = {OTK_DNS_A};
    uint32_t ttl = goodbye ? 0 : rec_ttl(r);
    uint16_t cls = OTK_DNS_IN;

    if (legacy && ttl > OTK_MDNS_TTL_LEGACY)
        ttl = OTK_MDNS_TTL_LEGACY;
    if (rec_unique(r) && !legacy)
        cls |= OTK_DNS_CLASS_TOP;
    switch (r) {
    case R_PTR:
        otk_dns_put_ptr(w, sec, s->type, cls, ttl, s->instance);
        break;
    case R_META:
        otk_dns_put_ptr(w, sec, sd_meta, cls, ttl, s->type);
        break;
    case R_SRV:
        otk_dns_put_srv(w, sec, s->instance, cls, ttl, 0, 0, s->port, s->host);
        break;
    case R_TXT:
        otk_dns_put_txt(w, sec, s->instance, cls, ttl, s->txt, s->txt_len);
        break;
    case R_A:
        otk_dns_put_a(w, sec, s->host, cls, ttl, s->ipv4);
        break;
    default:
        otk_dns_put_nsec(w, sec, s->host, cls, ttl, only_a, 1);
        break;
    }
}

/* A known answer in a query (§7.1): our record, same data, at least half its TTL left. */
static bool
rec_known(const struct otk_mdns_service *s, enum rec r, const struct otk_dns_msg *m,
          const struct otk_dns_rr *rr)
{
    uint8_t name[OTK_DNS_NAME_MAX], a[4];
    uint16_t port;

    if (r == R_NSEC || rr->type != rec_type(r) || rr->rclass != OTK_DNS_IN ||
        rr->ttl < rec_ttl(r) / 2 || !otk_dns_name_eq(rr->name, rec_name(s, r)))
        return false;
    switch (r) {
    case R_PTR:
        return otk_dns_rr_ptr(m, rr, name) > 0 && otk_dns_name_eq(name, s->instance);
    case R_META:
        return otk_dns_rr_ptr(m, rr, name) > 0 && otk_dns_name_eq(name, s->type);
    case R_SRV:
        return otk_dns_rr_srv(m, rr, NULL, NULL, &port, name) == OTK_OK && port == s->port &&
               otk_dns_name_eq(name, s->host);
    case R_TXT:
        return rr->rdlength == s->txt_len && memcmp(m->buf + rr->rdata, s->txt, s->txt_len) == 0;
    case R_A:
        return otk_dns_rr_a(m, rr, a) == OTK_OK && memcmp(a, s->ipv4, 4) == 0;
    default:
        return false;
    }
}

static unsigned
answers_for(const struct otk_mdns_service *s, const struct otk_dns_rr *q)
{
    unsigned mask = 0;
    bool any = q->type == OTK_DNS_ANY;

    if (q->rclass != OTK_DNS_IN && q->rclass != OTK_DNS_ANY)
        return 0;
    if ((any || q->type == OTK_DNS_PTR) && otk_dns_name_eq(q->name, s->type))
        mask |= BIT(R_PTR);
    if ((any || q->type == OTK_DNS_PTR) && otk_dns_name_eq(q->name, sd_meta))
        mask |= BIT(R_META);
    if (otk_dns_name_eq(q->name, s->instance)) {
        if (any || q->type == OTK_DNS_SRV)
            mask |= BIT(R_SRV);
        if (any || q->type == OTK_DNS_TXT)
            mask |= BIT(R_TXT);
    }
    if (otk_dns_name_eq(q->name, s->host)) {
        if (any || q->type == OTK_DNS_A)
            mask |= BIT(R_A);
        if (q->type == OTK_DNS_AAAA)
            mask |= BIT(R_NSEC); /* §6.1: say there is no AAAA rather than stay silent */
    }
    return mask;
}

int
otk_mdns_respond(const struct otk_mdns_service *s, const uint8_t *q, size_t qlen, uint16_t src_port,
                 uint8_t *out, size_t cap, size_t *out_len, bool *unicast)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    struct otk_dns_writer w;
    unsigned ans = 0, known = 0, add = 0;
    bool legacy = src_port != OTK_MDNS_PORT, all_qu = true;
    int rc;

    *out_len = 0;
    *unicast = false;
    if (otk_dns_open(&m, q, qlen) != OTK_OK)
        return OTK_ERR_MALFORMED;
    if ((m.hdr.flags & OTK_DNS_QR) || OTK_DNS_OPCODE(m.hdr.flags) != 0)
        return OTK_OK; /* responses are no questions; other opcodes are ignored (§18.3) */
    while ((rc = otk_dns_next(&m, &rr)) == 1) {
        if (rr.section == OTK_DNS_SEC_QD) {
            unsigned k = answers_for(s, &rr);
            if (k && !rr.top)
                all_qu = false;
            ans |= k;
        } else if (rr.section == OTK_DNS_SEC_AN) {
            for (int r = 0; r < R_COUNT; r++)
                if (rec_known(s, (enum rec)r, &m, &rr))
                    known |= BIT(r);
        }
    }
    if (rc < 0)
        return rc;
    ans &= ~known;
    if (!ans)
        return OTK_OK;
    /* RFC 6763 §12: what the querier will ask for next */
    if (ans & BIT(R_PTR))
        add |= BIT(R_SRV) | BIT(R_TXT) | BIT(R_A);
    if (ans & BIT(R_SRV))
        add |= BIT(R_A);
    add &= ~ans & ~known;

    otk_dns_writer_init(&w, out, cap, legacy ? m.hdr.id : 0, OTK_DNS_QR | OTK_DNS_AA);
    if (legacy) {
        /* §6.7: a legacy resolver matches the answer to its question */
        otk_dns_open(&m, q, qlen);
        while (otk_dns_next(&m, &rr) == 1 && rr.section == OTK_DNS_SEC_QD)
            otk_dns_put_question(&w, rr.name, rr.type, rr.rclass);
    }
    for (int r = 0; r < R_COUNT; r++)
        if (ans & BIT(r))
            put_rec(&w, s, (enum rec)r, OTK_DNS_SEC_AN, legacy, false);
    for (int r = 0; r < R_COUNT; r++)
        if (add & BIT(r))
            put_rec(&w, s, (enum rec)r, OTK_DNS_SEC_AR, legacy, false);
    *out_len = otk_dns_finish(&w);
    if (*out_len == 0)
        return OTK_ERR_NOSPACE;
    *unicast = legacy || all_qu;
    return OTK_OK;
}

size_t
otk_mdns_announce(const struct otk_mdns_service *s, bool goodbye, uint8_t *out, size_t cap)
{
    static const enum rec order[] = {R_PTR, R_SRV, R_TXT, R_A, R_META};
    struct otk_dns_writer w;

    otk_dns_writer_init(&w, out, cap, 0, OTK_DNS_QR | OTK_DNS_AA);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        put_rec(&w, s, order[i], OTK_DNS_SEC_AN, false, goodbye);
    return otk_dns_finish(&w);
}

size_t
otk_mdns_query(uint8_t *out, size_t cap, uint16_t id, const uint8_t *name, uint16_t type, bool qu)
{
    struct otk_dns_writer w;

    otk_dns_writer_init(&w, out, cap, id, 0);
    otk_dns_put_question(&w, name, type, (uint16_t)(OTK_DNS_IN | (qu ? OTK_DNS_CLASS_TOP : 0)));
    return otk_dns_finish(&w);
}

/* ---- browsing ---- */

void
otk_mdns_browse_init(struct otk_mdns_browse *b, const uint8_t *type, struct otk_mdns_found *found,
                     size_t cap)
{
    memset(b, 0, sizeof *b);
    memcpy(b->type, type, otk_dns_name_len(type));
    b->found = found;
    b->cap = cap;
}

static struct otk_mdns_found *
find_instance(struct otk_mdns_browse *b, const uint8_t *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (otk_dns_name_eq(b->found[i].name, name))
            return &b->found[i];
    return NULL;
}

/* A PTR for the type: the target must be exactly one label in front of the type. */
static void
take_ptr(struct otk_mdns_browse *b, const struct otk_dns_msg *m, const struct otk_dns_rr *rr,
         const uint8_t src[4])
{
    uint8_t target[OTK_DNS_NAME_MAX];
    struct otk_mdns_found *f;

    if (otk_dns_rr_ptr(m, rr, target) <= 1 || !otk_dns_name_eq(target + 1 + target[0], b->type))
        return;
    f = find_instance(b, target);
    if (rr->ttl == 0) {
        if (f) { /* a goodbye: the instance is leaving */
            size_t i = (size_t)(f - b->found);
            memmove(f, f + 1, (b->n - i - 1) * sizeof *f);
            b->n--;
        }
        return;
    }
    if (f)
        return;
    if (b->n == b->cap) {
        b->dropped++;
        return;
    }
    f = &b->found[b->n++];
    memset(f, 0, sizeof *f);
    memcpy(f->name, target, otk_dns_name_len(target));
    f->label_len = target[0];
    memcpy(f->label, target + 1, target[0]);
    f->label[f->label_len] = '\0';
    if (src)
        memcpy(f->src, src, 4);
}

/* TXT rdata, cut at a string boundary if it is longer than we keep. */
static void
take_txt(struct otk_mdns_found *f, const struct otk_dns_msg *m, const struct otk_dns_rr *rr)
{
    const uint8_t *rd = m->buf + rr->rdata, *s;
    size_t pos = 0, keep = 0, sl;

    while (otk_dns_txt_next(rd, rr->rdlength, &pos, &s, &sl) == 1 && pos <= sizeof f->txt)
        keep = pos;
    memcpy(f->txt, rd, keep);
    f->txt_len = (uint16_t)keep;
    f->has_txt = true;
}

int
otk_mdns_browse_feed(struct otk_mdns_browse *b, const uint8_t *msg, size_t len,
                     const uint8_t src[4])
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    int rc;

    if (otk_dns_open(&m, msg, len) != OTK_OK)
        return OTK_ERR_MALFORMED;
    if (!(m.hdr.flags & OTK_DNS_QR))
        return OTK_OK;
    while ((rc = otk_dns_next(&m, &rr)) == 1)
        ;
    if (rc < 0)
        return rc;
    /* Three passes, so the order of the records in the message does not matter: instances,
     * then their SRV and TXT, then the addresses of their hosts. */
    for (int pass = 0; pass < 3; pass++) {
        otk_dns_open(&m, msg, len);
        while (otk_dns_next(&m, &rr) == 1) {
            struct otk_mdns_found *f;
            if (rr.section == OTK_DNS_SEC_QD || rr.rclass != OTK_DNS_IN)
                continue;
            if (pass == 0) {
                if (rr.type == OTK_DNS_PTR && otk_dns_name_eq(rr.name, b->type))
                    take_ptr(b, &m, &rr, src);
            } else if (pass == 1) {
                if ((rr.type != OTK_DNS_SRV && rr.type != OTK_DNS_TXT) || rr.ttl == 0 ||
                    !(f = find_instance(b, rr.name)))
                    continue;
                uint8_t host[OTK_DNS_NAME_MAX];
                uint16_t port;
                if (rr.type == OTK_DNS_TXT) {
                    take_txt(f, &m, &rr);
                } else if (otk_dns_rr_srv(&m, &rr, NULL, NULL, &port, host) == OTK_OK) {
                    /* (a failed parse may have written part of a name: never into f) */
                    memcpy(f->host, host, otk_dns_name_len(host));
                    f->port = port;
                    f->has_srv = true;
                }
            } else if (rr.type == OTK_DNS_A && rr.ttl != 0) {
                uint8_t a[4];
                if (otk_dns_rr_a(&m, &rr, a) != OTK_OK)
                    continue;
                for (size_t i = 0; i < b->n; i++) {
                    f = &b->found[i];
                    if (f->has_srv && !f->has_a && otk_dns_name_eq(f->host, rr.name)) {
                        memcpy(f->ipv4, a, 4);
                        f->has_a = true;
                    }
                }
            }
        }
    }
    return OTK_OK;
}

size_t
otk_mdns_browse_followup(const struct otk_mdns_browse *b, uint16_t id, uint8_t *out, size_t cap)
{
    struct otk_dns_writer w;
    unsigned nq = 0;

    otk_dns_writer_init(&w, out, cap, id, 0);
    for (size_t i = 0; i < b->n; i++) {
        const struct otk_mdns_found *f = &b->found[i];
        const uint8_t *names[3] = {NULL, NULL, NULL};
        uint16_t types[3] = {OTK_DNS_SRV, OTK_DNS_TXT, OTK_DNS_A};
        if (!f->has_srv)
            names[0] = f->name;
        if (!f->has_txt)
            names[1] = f->name;
        if (f->has_srv && !f->has_a)
            names[2] = f->host;
        for (int k = 0; k < 3; k++) {
            if (!names[k])
                continue;
            /* stop before a question that might not fit (uncompressed size) */
            if (w.failed || w.cap - w.len < otk_dns_name_len(names[k]) + 4)
                goto done;
            otk_dns_put_question(&w, names[k], types[k], OTK_DNS_IN);
            nq++;
        }
    }
done:
    return nq ? otk_dns_finish(&w) : 0;
}
