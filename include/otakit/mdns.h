/* SPDX-License-Identifier: MIT */
/* Multicast DNS (RFC 6762) and DNS service discovery (RFC 6763), small and self-contained: no
 * maintained mDNS library runs on every platform otakit ships for (Linux, Windows, the device),
 * and avahi is a Linux daemon. Three headers, one per layer:
 *
 * - this one, the freestanding codec (src/core/mdns_wire.c): a bounds-checked DNS message
 *   reader and writer, the answers a responder gives for one service, and the bookkeeping of a
 *   browse. No I/O, no heap, no clock, no statics: it runs on the device, and it is what gets
 *   fuzzed. No socket appears here.
 * - otakit/mdns_host.h: the host's one-shot querier ("otakit list", names ending in .local for
 *   "otakit upload") and the interface and multicast socket helpers under it.
 * - otakit/mdns_responder.h: the responder on UDP 5353 the emulated device runs (POSIX).
 *
 * Names are kept in DNS wire format without compression ("\x05esp32\x05local\x00"), at most
 * OTK_DNS_NAME_MAX bytes: comparing them needs no escaping rules, and labels may hold any byte
 * (DNS-SD instance names may contain dots and spaces). */
#ifndef OTK_MDNS_H
#define OTK_MDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_MDNS_PORT     5353
#define OTK_MDNS_GROUP    "224.0.0.251"
#define OTK_DNS_NAME_MAX  255 /* wire bytes of a whole name, root label included (RFC 1035) */
#define OTK_DNS_LABEL_MAX 63
#define OTK_DNS_HDR_LEN   12
#define OTK_DNS_COMP_MAX  24   /* names a writer remembers as compression targets */
#define OTK_MDNS_TXT_MAX  256  /* TXT rdata a service or a found instance keeps */
#define OTK_MDNS_MSG_MAX  1500 /* largest message we build; RFC 6762 §17: fits one frame */

/* Record types and classes used here. */
#define OTK_DNS_A    1
#define OTK_DNS_PTR  12
#define OTK_DNS_TXT  16
#define OTK_DNS_AAAA 28
#define OTK_DNS_SRV  33
#define OTK_DNS_NSEC 47
#define OTK_DNS_ANY  255
#define OTK_DNS_IN   1
#define OTK_DNS_CLASS_TOP                                                                          \
    0x8000u /* question: unicast response wanted (QU); record: cache flush                         \
             */

/* Header flags. */
#define OTK_DNS_QR        0x8000u
#define OTK_DNS_AA        0x0400u
#define OTK_DNS_TC        0x0200u
#define OTK_DNS_OPCODE(f) (((f) >> 11) & 0xFu)

/* TTLs of RFC 6762 §10: records naming a host 120 s, the others 75 minutes. */
#define OTK_MDNS_TTL_HOST   120u
#define OTK_MDNS_TTL_OTHER  4500u
#define OTK_MDNS_TTL_LEGACY 10u /* §6.7: answers to legacy (non-5353) queriers */

/* ---- names ---- */

/** Read the (possibly compressed) name at msg[off]. Compression pointers must point before the
 *  name they continue and each jump must land before the previous one, so loops are impossible;
 *  nothing is read outside msg[0..len). out receives the uncompressed wire form; *end (may be
 *  NULL) the offset just after the name's bytes at off. On failure out holds garbage.
 *  @return wire length (1..OTK_DNS_NAME_MAX) or OTK_ERR_MALFORMED. */
int otk_dns_read_name(const uint8_t *msg, size_t len, size_t off, uint8_t out[OTK_DNS_NAME_MAX],
                      size_t *end);

/** Wire length of a valid uncompressed name (root label included). */
size_t otk_dns_name_len(const uint8_t *name);

/** Names equal, ASCII letters compared without case (RFC 6762 §16). */
bool otk_dns_name_eq(const uint8_t *a, const uint8_t *b);

/** Dotted text ("esp32-a1b2c3.local", trailing dot optional; "\." "\\" and "\DDD" escapes) to
 *  wire form. @return wire length, or OTK_ERR_ARG (empty label, label > 63, name > 255). */
int otk_dns_name_from_text(const char *text, uint8_t out[OTK_DNS_NAME_MAX]);

/** out = one label (n bytes, 1..63, any bytes) followed by suffix (a wire name).
 *  @return wire length or OTK_ERR_ARG. */
int otk_dns_name_prepend(uint8_t out[OTK_DNS_NAME_MAX], const void *label, size_t n,
                         const uint8_t *suffix);

/** Wire name to dotted text with a trailing dot left out; '.' and '\' inside labels are escaped
 *  with '\', control bytes as \DDD, other bytes (UTF-8) verbatim.
 *  @return text length, or OTK_ERR_NOSPACE if it does not fit in cap (out is then ""). */
int otk_dns_name_to_text(const uint8_t *name, char *out, size_t cap);

/* ---- reading a message ---- */

enum otk_dns_section {
    OTK_DNS_SEC_QD = 0, /* questions */
    OTK_DNS_SEC_AN,     /* answers */
    OTK_DNS_SEC_NS,     /* authority (probes' proposed records) */
    OTK_DNS_SEC_AR,     /* additional */
};

struct otk_dns_header {
    uint16_t id, flags, qdcount, ancount, nscount, arcount;
};

/** A walk over a message's questions and records, in order. */
struct otk_dns_msg {
    const uint8_t *buf;
    size_t len;
    struct otk_dns_header hdr;
    size_t pos;     /* offset of the next entry */
    uint32_t next;  /* index of the next entry over all sections */
    uint32_t total; /* qdcount + ancount + nscount + arcount */
};

/** A question (section OTK_DNS_SEC_QD: ttl 0, no rdata) or a resource record. */
struct otk_dns_rr {
    enum otk_dns_section section;
    uint8_t name[OTK_DNS_NAME_MAX];
    uint16_t type;
    uint16_t rclass; /* without the top bit */
    bool top;        /* the top bit of the class: QU (questions) or cache flush (records) */
    uint32_t ttl;
    size_t rdata;      /* offset of the rdata in the message */
    uint16_t rdlength; /* rdata[0..rdlength) lies inside the message */
};

/** Parse the 12-byte header. @return OTK_OK or OTK_ERR_MALFORMED (shorter than a header). */
int otk_dns_open(struct otk_dns_msg *m, const uint8_t *buf, size_t len);

/** The next question or record. @return 1 (rr filled), 0 (no more), OTK_ERR_MALFORMED (the
 *  walk stops there; entries already returned were whole and inside the message). */
int otk_dns_next(struct otk_dns_msg *m, struct otk_dns_rr *rr);

/** PTR rdata: the target name. @return wire length or OTK_ERR_MALFORMED. */
int otk_dns_rr_ptr(const struct otk_dns_msg *m, const struct otk_dns_rr *rr,
                   uint8_t out[OTK_DNS_NAME_MAX]);

/** SRV rdata (any pointer may be NULL). @return OTK_OK or OTK_ERR_MALFORMED. */
int otk_dns_rr_srv(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint16_t *prio,
                   uint16_t *weight, uint16_t *port, uint8_t target[OTK_DNS_NAME_MAX]);

/** A rdata. @return OTK_OK or OTK_ERR_MALFORMED (rdlength is not 4). */
int otk_dns_rr_a(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint8_t out[4]);

/** AAAA rdata. @return OTK_OK or OTK_ERR_MALFORMED (rdlength is not 16). */
int otk_dns_rr_aaaa(const struct otk_dns_msg *m, const struct otk_dns_rr *rr, uint8_t out[16]);

/* ---- TXT rdata (RFC 6763 §6) ---- */

/** The next character-string of TXT rdata at *pos. @return 1 (*s, *slen set, *pos advanced),
 *  0 (end), OTK_ERR_MALFORMED (a length runs past the rdata). */
int otk_dns_txt_next(const uint8_t *rd, size_t len, size_t *pos, const uint8_t **s, size_t *slen);

/** Look up key (case-insensitive; the first occurrence counts, §6.4).
 *  @return 1 "key=value" (*val, *vlen: the value, maybe empty), 0 "key" without '=' (a boolean
 *  attribute), OTK_ERR_NOTFOUND, or OTK_ERR_MALFORMED. */
int otk_dns_txt_get(const uint8_t *rd, size_t len, const char *key, const uint8_t **val,
                    size_t *vlen);

/** Append "key=value" to TXT rdata rd[0..*len) (cap bytes). key: printable ASCII without '=',
 *  1..9 characters recommended, any length allowed up to the 255-byte string limit.
 *  @return OTK_OK, OTK_ERR_ARG, or OTK_ERR_NOSPACE. */
int otk_dns_txt_add(uint8_t *rd, size_t cap, size_t *len, const char *key, const char *value);

/* ---- writing a message ---- */

/** Builds a message front to back: questions, then answers, authority, additional records (a
 *  record for an earlier section than the last one written is an error). Names are compressed
 *  against earlier names. Errors are sticky: check otk_dns_finish. */
struct otk_dns_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool failed; /* out of room, or a call out of order */
    uint8_t section;
    uint16_t count[4];
    uint16_t comp[OTK_DNS_COMP_MAX]; /* offsets of names (and their suffixes) written */
    uint8_t ncomp;
};

void otk_dns_writer_init(struct otk_dns_writer *w, uint8_t *buf, size_t cap, uint16_t id,
                         uint16_t flags);
void otk_dns_put_question(struct otk_dns_writer *w, const uint8_t *name, uint16_t type,
                          uint16_t qclass);
void otk_dns_put_ptr(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                     uint16_t rclass, uint32_t ttl, const uint8_t *target);
void otk_dns_put_srv(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                     uint16_t rclass, uint32_t ttl, uint16_t prio, uint16_t weight, uint16_t port,
                     const uint8_t *target);
void otk_dns_put_txt(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                     uint16_t rclass, uint32_t ttl, const uint8_t *rd, size_t rdlen);
void otk_dns_put_a(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                   uint16_t rclass, uint32_t ttl, const uint8_t addr[4]);
/** NSEC as mDNS uses it (RFC 6762 §6.1): "name has only these types" (all types < 256). */
void otk_dns_put_nsec(struct otk_dns_writer *w, enum otk_dns_section sec, const uint8_t *name,
                      uint16_t rclass, uint32_t ttl, const uint16_t *types, size_t ntypes);
/** Fill in the header counts. @return the message length, or 0 if a call failed. */
size_t otk_dns_finish(struct otk_dns_writer *w);

/* ---- one service, as a responder announces and answers it ---- */

/** What a device advertises: "<instance>.<service>.local" (PTR, SRV, TXT) on
 *  "<host>.local" (A). Names are built once by otk_mdns_service_init. */
struct otk_mdns_service {
    uint8_t type[OTK_DNS_NAME_MAX];     /* "_arduino._tcp.local" */
    uint8_t instance[OTK_DNS_NAME_MAX]; /* "esp32-a1b2c3._arduino._tcp.local" */
    uint8_t host[OTK_DNS_NAME_MAX];     /* "esp32-a1b2c3.local" */
    uint16_t port;
    uint8_t ipv4[4]; /* the A record: the caller sets it per interface before answering */
    uint8_t txt[OTK_MDNS_TXT_MAX];
    uint16_t txt_len;
};

/** instance: one label of any bytes (1..63); host: one label, letters, digits, '-' (1..63);
 *  service: "_name._tcp" or "_name._udp"; txt: TXT rdata (NULL/0: a single empty string).
 *  @return OTK_OK or OTK_ERR_ARG. */
int otk_mdns_service_init(struct otk_mdns_service *s, const char *instance, const char *host,
                          const char *service, uint16_t port, const uint8_t ipv4[4],
                          const uint8_t *txt, size_t txt_len);

/** The response to a received message q, or nothing. Answers PTR queries for the service type
 *  and for "_services._dns-sd._udp.local", SRV/TXT for the instance, A for the host (with NSEC
 *  for AAAA), adds the records RFC 6763 §12 recommends as additional, and leaves out answers
 *  the querier listed as known with at least half their TTL (§7.1). A query from a port other
 *  than 5353 is a legacy one-shot query (§6.7): the answer repeats its ID and questions, caps
 *  TTLs at 10 s, has no cache-flush bits, and goes back by unicast.
 *  *out_len = 0 when there is nothing to say (a response, no question for us, all known).
 *  *unicast: send to the query's source instead of the group.
 *  @return OTK_OK or OTK_ERR_MALFORMED (q does not parse; nothing to send). */
int otk_mdns_respond(const struct otk_mdns_service *s, const uint8_t *q, size_t qlen,
                     uint16_t src_port, uint8_t *out, size_t cap, size_t *out_len, bool *unicast);

/** An unsolicited response with every record of s (§8.3), or with TTL 0 when goodbye (§10.1).
 *  @return the length, 0 if cap is too small. */
size_t otk_mdns_announce(const struct otk_mdns_service *s, bool goodbye, uint8_t *out, size_t cap);

/** A query with one question. qu: ask for a unicast response. @return length, 0 if no room. */
size_t otk_mdns_query(uint8_t *out, size_t cap, uint16_t id, const uint8_t *name, uint16_t type,
                      bool qu);

/* ---- browsing: collect the instances of a service type from responses ---- */

struct otk_mdns_found {
    uint8_t name[OTK_DNS_NAME_MAX];       /* "<instance>.<type>" */
    uint8_t host[OTK_DNS_NAME_MAX];       /* SRV target (valid with has_srv) */
    uint8_t label[OTK_DNS_LABEL_MAX + 1]; /* the instance label, NUL appended */
    uint8_t label_len;
    uint16_t port;                 /* SRV */
    uint8_t ipv4[4];               /* A record of host (valid with has_a) */
    uint8_t src[4];                /* source address of the first response naming it */
    uint8_t txt[OTK_MDNS_TXT_MAX]; /* TXT rdata (valid with has_txt) */
    uint16_t txt_len;
    bool has_srv, has_txt, has_a;
};

struct otk_mdns_browse {
    uint8_t type[OTK_DNS_NAME_MAX];
    struct otk_mdns_found *found; /* caller's array */
    size_t cap, n;
    size_t dropped; /* instances that did not fit */
};

/** type: wire name of the service type ("_arduino._tcp.local"). */
void otk_mdns_browse_init(struct otk_mdns_browse *b, const uint8_t *type,
                          struct otk_mdns_found *found, size_t cap);

/** Take what a response says about the type's instances: PTR records add instances (TTL 0
 *  removes one: a goodbye), SRV/TXT fill them in, A records of their hosts give addresses,
 *  whatever the order of the records in the message. Queries are ignored. src: the sender's
 *  IPv4 address (may be NULL). @return OTK_OK, or OTK_ERR_MALFORMED: nothing of a message
 *  that does not parse whole is taken. */
int otk_mdns_browse_feed(struct otk_mdns_browse *b, const uint8_t *msg, size_t len,
                         const uint8_t src[4]);

/** A query for what is still missing: SRV and TXT of instances without them, A of hosts
 *  without an address. @return its length, 0 if nothing is missing (or no room). */
size_t otk_mdns_browse_followup(const struct otk_mdns_browse *b, uint16_t id, uint8_t *out,
                                size_t cap);

#ifdef __cplusplus
}
#endif
#endif
