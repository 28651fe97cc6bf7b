/* SPDX-License-Identifier: MIT */
/* mDNS on the host: the one-shot querier ("otakit list", names ending in .local for "otakit
 * upload") and the interface and multicast socket helpers it and the responder share. The
 * messages themselves are the freestanding codec's (otakit/mdns.h).
 * src/host/mdns.c: the querier, on the host socket layer (otakit/hostnet.h), for every system.
 * src/port/<system>/mdns_net.c: interfaces and multicast options, which differ by system. */
#ifndef OTK_MDNS_HOST_H
#define OTK_MDNS_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostnet.h" /* struct pollfd */
#include "mdns.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An IPv4 interface to send mDNS on. */
struct otk_mdns_if {
    uint8_t addr[4];
    unsigned index; /* interface index; 0 where the system does not need it */
};

/** The interfaces to use. want: NULL / "" / "0.0.0.0" = every interface that is up and
 *  multicast-capable, and the loopback (multicast on it stays on this host); an IPv4 address
 *  of this host; or (POSIX) an interface name. One address per interface.
 *  @return OTK_OK (*n >= 1), OTK_ERR_ARG (want is not an address or interface of this host),
 *  OTK_ERR_IO (err says why). */
int otk_mdns_ifaces(const char *want, struct otk_mdns_if *out, size_t cap, size_t *n, char *err,
                    size_t errcap);

/** Prepare a UDP socket for multicast: TTL 255 (RFC 6762 §11: receivers may check it), and
 *  looped back so that responders on this host hear it. @return 0 or -1 */
int otk_mdns_sock_multicast(int sock);

/** Send the socket's next multicast datagrams out of interface i. @return 0 or -1 */
int otk_mdns_sock_send_if(int sock, const struct otk_mdns_if *i);

/** A non-blocking UDP socket on port 5353 (shared with the host's other responders) that has
 *  joined the mDNS group on each interface: it hears announcements and everyone's answers.
 *  @return the socket, or -1 (the port cannot be shared, no interface could join) */
int otk_mdns_sock_listen(const struct otk_mdns_if *ifs, size_t n);

/** True if name ends in ".local" or ".local." (any case): resolved by mDNS, not DNS. */
bool otk_mdns_is_local(const char *name);

/** Browse for instances of service ("_arduino._tcp") for timeout_ms: one-shot queries (from an
 *  ephemeral port, so responders answer by unicast, RFC 6762 §5.1) sent on iface (an IPv4
 *  address or interface name of this host), or on every multicast-capable interface and the
 *  loopback when iface is NULL / "" / "0.0.0.0". Missing SRV/TXT/A records are asked for.
 *  found/cap: the caller's array; *n: how many were filled (sorted by instance label).
 *  Blocking: it returns after timeout_ms.
 *  @return OTK_OK (maybe none found), OTK_ERR_ARG (bad iface or service), OTK_ERR_IO (sockets;
 *  err says why). */
int otk_mdns_browse_run(const char *service, const char *iface, uint32_t timeout_ms,
                        struct otk_mdns_found *found, size_t cap, size_t *n, char *err,
                        size_t errcap);

/** Resolve "name.local" to an IPv4 address by a one-shot A query (retried at 0.5 s and 1.5 s)
 *  on iface (as above). @return OTK_OK, OTK_ERR_TIMEOUT (no answer), OTK_ERR_ARG, OTK_ERR_IO. */
int otk_mdns_resolve(const char *name, const char *iface, uint32_t timeout_ms, uint8_t ipv4[4]);

/** What mDNS says of a device besides its address. */
struct otk_mdns_device {
    uint16_t port;      /* SRV of "<label>._arduino._tcp.local"; 0: none came */
    char board[64];     /* its TXT key board (ArduinoOTA, else ESPHome's); "": none came */
    bool esphome;       /* "<label>._esphomelib._tcp.local" answered: an ESPHome device (its
                           SRV port is the API's, not the OTA port: not taken) */
    char platform[16];  /* ESPHome's TXT platform: ESP32, ESP8266, RP2040, BK72XX, ...; "" */
    uint16_t http_port; /* SRV of "<label>._http._tcp.local" (ESPHome's web_server, sketches
                           that publish their web page); 0: none came */
};

/** otk_mdns_resolve(), and with dev (may be NULL) also the SRV and TXT records of the
 *  ArduinoOTA instance named like the host, as MDNS.enableArduino() publishes it, the TXT
 *  record of the ESPHome instance of that name and the SRV record of its _http._tcp instance: asked
 * for along with the A record, and waited for up to 0.3 s after the address came. */
int otk_mdns_resolve_device(const char *name, const char *iface, uint32_t timeout_ms,
                            uint8_t ipv4[4], struct otk_mdns_device *dev);

/** Waiting for a device that sleeps (`otakit upload --wait`): non-blocking, driven by the
 *  caller's poll() loop. It asks for the name (and the device's records, as
 *  otk_mdns_resolve_device) every OTK_MDNS_WATCH_GAP_MS and listens on 5353 for the device's
 *  own announcement when it wakes (RFC 6762 §8.3), whichever comes first. */
struct otk_mdns_watch;

#define OTK_MDNS_WATCH_GAP_MS 2000u

/** @return a watcher, or NULL (not a .local name, no interface, no socket: ask by
 *  otk_mdns_resolve_device instead) */
struct otk_mdns_watch *otk_mdns_watch_open(const char *name, const char *iface, uint32_t now);
size_t otk_mdns_watch_pollfds(const struct otk_mdns_watch *w, struct pollfd *fds, size_t cap);
int32_t otk_mdns_watch_next_ms(const struct otk_mdns_watch *w, uint32_t now);
/** Feed poll results, send due queries. @return true once the address is known (ipv4, dev,
 *  *announced: it came unasked, as the device's announcement) */
bool otk_mdns_watch_step(struct otk_mdns_watch *w, const struct pollfd *fds, size_t n, uint32_t now,
                         uint8_t ipv4[4], struct otk_mdns_device *dev, bool *announced);
void otk_mdns_watch_close(struct otk_mdns_watch *w);

/** Default wait of otk_mdns_resolve used by `otakit upload`. */
#define OTK_MDNS_RESOLVE_MS 3000u

#ifdef __cplusplus
}
#endif
#endif
