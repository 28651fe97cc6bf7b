/* SPDX-License-Identifier: MIT */
/* An mDNS responder for one service, as the emulated device advertises itself
 * (src/port/posix/mdns_responder.c; the emulator runs on POSIX only). It answers with the
 * freestanding codec (otakit/mdns.h, otk_mdns_respond) on a socket of its own. */
#ifndef OTK_MDNS_RESPONDER_H
#define OTK_MDNS_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mdns.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A responder for one service on UDP 5353 (shared with other responders: SO_REUSEADDR). */
struct otk_mdns_responder_cfg {
    const char *instance;  /* instance label */
    const char *host;      /* host label: "<host>.local" */
    const char *service;   /* "_arduino._tcp" */
    const char *bind_addr; /* the device's IPv4 address; NULL / "0.0.0.0": every interface
                              (the A record is then the address of the interface asked on) */
    uint16_t port;
    const uint8_t *txt;
    size_t txt_len;
    void (*log)(void *user, const char *text); /* may be NULL */
    void *user;
};

struct otk_mdns_responder {
    /* private */
    int fd;
    struct otk_mdns_service svc;
    bool any;
    uint8_t addr[4];  /* bind_addr when !any */
    unsigned ifindex; /* its interface when !any */
    unsigned announces_left;
    uint32_t next_announce;
    unsigned long queries, answers;
    void (*log)(void *user, const char *text);
    void *user;
};

/** Open, join 224.0.0.251 on the interface(s), schedule two announcements (now and +1 s).
 *  @return OTK_OK, OTK_ERR_ARG, OTK_ERR_IO (err says why). */
int otk_mdns_responder_open(struct otk_mdns_responder *r, const struct otk_mdns_responder_cfg *c,
                            uint32_t now, char *err, size_t errcap);

/** The descriptor to poll for POLLIN (-1 when closed). */
int otk_mdns_responder_fd(const struct otk_mdns_responder *r);

/** Milliseconds until the next announcement (0 = due, -1 = none). */
int32_t otk_mdns_responder_next_ms(const struct otk_mdns_responder *r, uint32_t now);

/** Answer what arrived (readable: poll reported POLLIN) and send due announcements. */
void otk_mdns_responder_process(struct otk_mdns_responder *r, bool readable, uint32_t now);

/** Send goodbyes (TTL 0) and close. Safe to call twice. */
void otk_mdns_responder_close(struct otk_mdns_responder *r);

#ifdef __cplusplus
}
#endif
#endif
