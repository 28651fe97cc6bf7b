/* SPDX-License-Identifier: MIT */
/* The emulated device's mDNS advertisement: what MDNS.enableArduino() does on a real ESP32 or
 * ESP8266 (service _arduino._tcp on the OTA port, TXT board / tcp_check / ssh_upload /
 * auth_upload, host name <name>.local), and for the native protocol what an ESPHome device
 * publishes (_esphomelib._tcp with TXT version, mac, platform, board, network, api_encryption),
 * hooked into the emulator's poll loop the same way as the network port. */
#ifndef OTK_MDNS_ADV_H
#define OTK_MDNS_ADV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "otakit/mdns_responder.h"
#include "otakit/layout.h"
#include "otakit/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OTK_MDNS_ADV_NFDS 2 /* descriptors otk_mdns_adv_pollfds may fill */

/* The ESPHome release whose native protocol the device speaks, as its TXT "version" says. */
#define OTK_MDNS_ESPHOME_VERSION "2026.9.0"

struct otk_mdns_adv {
    bool on;
    struct otk_mdns_responder r;
    bool esphome_on;
    struct otk_mdns_responder r2; /* _esphomelib._tcp */
};

/** The name a real device would pick: "esp32-" / "esp8266-" and 6 hex digits. A chip takes
 *  them from its MAC address; the emulator from the flash file's absolute path, so that the
 *  same flash file (the same "chip") keeps its name from run to run. out: 16 bytes or more. */
void otk_mdns_adv_default_name(enum otk_profile profile, const char *flash_path, char *out,
                               size_t cap);

/** Start advertising name (instance and host label) for the OTA service on bind_addr:port.
 *  @return OTK_OK, or an error with err set (the device then runs without mDNS). */
int otk_mdns_adv_start(struct otk_mdns_adv *a, const char *name, enum otk_profile profile,
                       bool password, const char *bind_addr, uint16_t port,
                       void (*log)(void *user, const char *text), void *user, char *err,
                       size_t errcap);

/** Also advertise _esphomelib._tcp (the native protocol) for name on bind_addr:port, with the
 *  TXT records of an ESPHome device; `encrypted`: it offers Noise (api_encryption). ESPHome
 *  puts its API port (6053) in the SRV record; a device without the API puts its OTA port.
 *  @return OTK_OK, or an error with err set (the device then runs without it). */
int otk_mdns_adv_start_esphome(struct otk_mdns_adv *a, const char *name, enum otk_profile profile,
                               bool encrypted, const char *bind_addr, uint16_t port,
                               void (*log)(void *user, const char *text), void *user, char *err,
                               size_t errcap);

/** Add the responder's descriptor to pfds and lower *timeout_ms (-1 = none) to its next
 *  announcement. @return descriptors added (0 when not advertising). */
int otk_mdns_adv_pollfds(struct otk_mdns_adv *a, struct pollfd *pfds, int *timeout_ms,
                         uint32_t now);

/** Answer queries reported in pfds[0..n) and send due announcements. */
void otk_mdns_adv_process(struct otk_mdns_adv *a, const struct pollfd *pfds, int n, uint32_t now);

/** Say goodbye and stop (safe when not started, and twice). */
void otk_mdns_adv_stop(struct otk_mdns_adv *a);

#ifdef __cplusplus
}
#endif
#endif
