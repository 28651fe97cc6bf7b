/* SPDX-License-Identifier: MIT */
/* The mDNS codec (src/core/mdns_wire.c), which parses datagrams from anyone on the link. The
 * first input byte picks the source port the responder sees (5353 or a legacy querier's); the
 * rest is the message. Checked: nothing is read outside the message (libFuzzer's heap block is
 * exactly its size, so ASan reports it), every name and rdata returned lies inside it, names
 * survive text and re-encoding round trips, and whatever the responder and the browse build
 * parses whole. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "otakit/err.h"
#include "otakit/mdns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
walk(const uint8_t *p, size_t len)
{
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    int rc, n = 0;

    if (otk_dns_open(&m, p, len) != OTK_OK)
        return OTK_ERR_MALFORMED;
    while ((rc = otk_dns_next(&m, &rr)) == 1)
        n++;
    return rc < 0 ? rc : n;
}

static void
check_name(const uint8_t *name, int n)
{
    uint8_t back[OTK_DNS_NAME_MAX];
    char text[4 * OTK_DNS_NAME_MAX + 2];

    FUZZ_CHECK(n >= 1 && n <= OTK_DNS_NAME_MAX);
    FUZZ_CHECK(otk_dns_name_len(name) == (size_t)n);
    for (int i = 0; name[i]; i += 1 + name[i])
        FUZZ_CHECK(name[i] >= 1 && name[i] <= OTK_DNS_LABEL_MAX);
    /* text and back: the escapes lose nothing */
    FUZZ_CHECK(otk_dns_name_to_text(name, text, sizeof text) >= 1);
    FUZZ_CHECK(otk_dns_name_from_text(text, back) == n);
    FUZZ_CHECK(memcmp(back, name, (size_t)n) == 0);
}

/* Every record once more through the writer (with compression), then parsed again. */
static void
reencode(const uint8_t *msg, size_t len)
{
    static uint8_t out[8192];
    struct otk_dns_writer w;
    struct otk_dns_msg m, m2;
    struct otk_dns_rr rr, rr2;
    uint8_t t[OTK_DNS_NAME_MAX], t2[OTK_DNS_NAME_MAX], a[4];
    uint16_t port, port2;
    size_t olen;
    int kept = 0;

    otk_dns_open(&m, msg, len);
    otk_dns_writer_init(&w, out, sizeof out, m.hdr.id, m.hdr.flags);
    while (otk_dns_next(&m, &rr) == 1) {
        enum otk_dns_section s = rr.section == OTK_DNS_SEC_QD ? OTK_DNS_SEC_AN : rr.section;
        if (rr.section == OTK_DNS_SEC_QD)
            otk_dns_put_question(&w, rr.name, rr.type, rr.rclass);
        else if (rr.type == OTK_DNS_PTR && otk_dns_rr_ptr(&m, &rr, t) > 0)
            otk_dns_put_ptr(&w, s, rr.name, rr.rclass, rr.ttl, t);
        else if (rr.type == OTK_DNS_SRV && otk_dns_rr_srv(&m, &rr, NULL, NULL, &port, t) == 0)
            otk_dns_put_srv(&w, s, rr.name, rr.rclass, rr.ttl, 0, 0, port, t);
        else if (rr.type == OTK_DNS_A && otk_dns_rr_a(&m, &rr, a) == 0)
            otk_dns_put_a(&w, s, rr.name, rr.rclass, rr.ttl, a);
        else if (rr.type == OTK_DNS_TXT)
            otk_dns_put_txt(&w, s, rr.name, rr.rclass, rr.ttl, msg + rr.rdata, rr.rdlength);
        else
            continue;
        kept++;
    }
    olen = otk_dns_finish(&w);
    if (olen == 0)
        return; /* out of room: the writer said so */
    FUZZ_CHECK(walk(out, olen) == kept);
    /* the same names and data, in the same order */
    otk_dns_open(&m, msg, len);
    otk_dns_open(&m2, out, olen);
    while (otk_dns_next(&m, &rr) == 1) {
        if (rr.section != OTK_DNS_SEC_QD &&
            !((rr.type == OTK_DNS_PTR && otk_dns_rr_ptr(&m, &rr, t) > 0) ||
              (rr.type == OTK_DNS_SRV && otk_dns_rr_srv(&m, &rr, NULL, NULL, &port, t) == 0) ||
              (rr.type == OTK_DNS_A && otk_dns_rr_a(&m, &rr, a) == 0) || rr.type == OTK_DNS_TXT))
            continue;
        FUZZ_CHECK(otk_dns_next(&m2, &rr2) == 1);
        /* equal up to case: a later name may point at an earlier one spelled differently */
        FUZZ_CHECK(otk_dns_name_eq(rr2.name, rr.name));
        FUZZ_CHECK(rr2.type == rr.type);
        if (rr.section == OTK_DNS_SEC_QD)
            continue;
        if (rr.type == OTK_DNS_PTR) {
            FUZZ_CHECK(otk_dns_rr_ptr(&m2, &rr2, t2) > 0 && otk_dns_name_eq(t, t2));
        } else if (rr.type == OTK_DNS_SRV) {
            FUZZ_CHECK(otk_dns_rr_srv(&m2, &rr2, NULL, NULL, &port2, t2) == 0);
            FUZZ_CHECK(port2 == port && otk_dns_name_eq(t, t2));
        } else if (rr.type == OTK_DNS_TXT && rr.rdlength > 0) {
            FUZZ_CHECK(rr2.rdlength == rr.rdlength);
            FUZZ_CHECK(memcmp(out + rr2.rdata, msg + rr.rdata, rr.rdlength) == 0);
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[OTK_MDNS_MSG_MAX];
    struct otk_mdns_service svc;
    struct otk_mdns_found found[4];
    struct otk_mdns_browse b;
    struct otk_dns_msg m;
    struct otk_dns_rr rr;
    uint8_t name[OTK_DNS_NAME_MAX], txt[64];
    size_t olen = 0, tl = 0;
    bool uni;
    int rc;

    if (size == 0)
        return 0;
    uint16_t src_port = data[0] & 1 ? OTK_MDNS_PORT : 40000;
    data++;
    size--;

    /* the reader: every entry and its rdata inside the message */
    if (otk_dns_open(&m, data, size) == OTK_OK) {
        int entries = 0;
        while ((rc = otk_dns_next(&m, &rr)) == 1) {
            entries++;
            check_name(rr.name, (int)otk_dns_name_len(rr.name));
            FUZZ_CHECK(rr.rdata <= size && rr.rdlength <= size - rr.rdata);
            if (rr.section == OTK_DNS_SEC_QD)
                continue;
            if ((rc = otk_dns_rr_ptr(&m, &rr, name)) > 0)
                check_name(name, rc);
            if (otk_dns_rr_srv(&m, &rr, NULL, NULL, NULL, name) == OTK_OK)
                check_name(name, (int)otk_dns_name_len(name));
            if (rr.type == OTK_DNS_TXT) {
                const uint8_t *s, *v;
                size_t pos = 0, sl, vl;
                while (otk_dns_txt_next(data + rr.rdata, rr.rdlength, &pos, &s, &sl) == 1)
                    FUZZ_CHECK(s >= data + rr.rdata && s + sl <= data + rr.rdata + rr.rdlength);
                if (otk_dns_txt_get(data + rr.rdata, rr.rdlength, "board", &v, &vl) == 1)
                    FUZZ_CHECK(v >= data + rr.rdata && v + vl <= data + rr.rdata + rr.rdlength);
            }
        }
        FUZZ_CHECK(rc <= 0);
        if (rc == 0) {
            FUZZ_CHECK((uint32_t)entries == m.total);
            reencode(data, size);
        }
    }

    /* the responder: an answer, if any, parses whole */
    otk_dns_txt_add(txt, sizeof txt, &tl, "board", "esp32");
    otk_dns_txt_add(txt, sizeof txt, &tl, "auth_upload", "no");
    FUZZ_CHECK(otk_mdns_service_init(&svc, "esp32-a1b2c3", "esp32-a1b2c3", "_arduino._tcp", 3232,
                                     (const uint8_t *)"\x7f\0\0\x01", txt, tl) == OTK_OK);
    rc = otk_mdns_respond(&svc, data, size, src_port, out, sizeof out, &olen, &uni);
    FUZZ_CHECK(rc == OTK_OK || olen == 0);
    if (olen) {
        FUZZ_CHECK(olen <= sizeof out);
        FUZZ_CHECK(walk(out, olen) > 0);
        FUZZ_CHECK(src_port == OTK_MDNS_PORT || uni);
        if (src_port != OTK_MDNS_PORT)
            FUZZ_CHECK(out[0] == data[0] && out[1] == data[1]); /* the legacy querier's ID */
    }

    /* the browse: what it keeps is well formed, its follow-up query parses */
    otk_mdns_browse_init(&b, svc.type, found, 4);
    (void)otk_mdns_browse_feed(&b, data, size, (const uint8_t *)"\x0a\0\0\x01");
    FUZZ_CHECK(b.n <= 4);
    for (size_t i = 0; i < b.n; i++) {
        const struct otk_mdns_found *f = &found[i];
        const uint8_t *s;
        size_t pos = 0, sl;
        FUZZ_CHECK(f->label_len >= 1 && f->label_len <= OTK_DNS_LABEL_MAX);
        FUZZ_CHECK(f->label[f->label_len] == 0);
        FUZZ_CHECK(f->name[0] == f->label_len);
        check_name(f->name, (int)otk_dns_name_len(f->name));
        if (f->has_srv)
            check_name(f->host, (int)otk_dns_name_len(f->host));
        FUZZ_CHECK(f->txt_len <= sizeof f->txt);
        while ((rc = otk_dns_txt_next(f->txt, f->txt_len, &pos, &s, &sl)) == 1)
            ;
        FUZZ_CHECK(rc == 0);
    }
    olen = otk_mdns_browse_followup(&b, 0x1234, out, sizeof out);
    if (olen)
        FUZZ_CHECK(walk(out, olen) > 0);
    return 0;
}
