/* SPDX-License-Identifier: MIT */
/* A device engine on a test bench: otk_dev wired to a recording network (helper_fakenet), an
 * in-RAM NOR flash (helper_ramflash) and a virtual clock, plus the host's half of the protocol
 * (invite, answer the challenge, stream the image). Used by test_device.c and by the bench
 * programs (power cuts, brute force), so every one of them drives the same engine the same way.
 *
 * Usage:
 *     struct rig *r = rig_new(OTK_PROFILE_ESP32, OTK_AUTH_MD5, "pw");
 *     rig_invite(r, OTK_CMD_FLASH, r->img_size, r->md5);
 *     rig_answer_challenge(r, OTK_AUTH_MD5, "pw");
 *     rig_stream(r, r->img, r->img_size, 1460);
 *     rig_run_ticks(r, r->now + 3000);        // pauses, reboot hook
 *     assert_int_equal(rig_boot_slot(r), 1);
 *     rig_free(r);
 *
 * Failed checks inside these helpers fail the running cmocka test (outside a test, and in the
 * benchmarks, which have no cmocka: helper_check.h, they print the failure and exit 1). */
#ifndef OTK_HELPER_RIG_H
#define OTK_HELPER_RIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "helper_fakenet.h"
#include "helper_ramflash.h"
#include "otakit/device.h"

#define RIG_IMG_SIZE 70000u

struct rig_opts {
    enum otk_profile profile;
    uint16_t chip; /* ESP32 profile: the device's chip (OTK_CHIP_*, 0 = ESP32), img is for it */
    enum otk_auth_variant auth;
    const char *password; /* NULL or "": no password */
    int running_slot;     /* slot the device runs from (0 or 1) */
    uint32_t img_size;    /* size of the image generated into rig.img (0: none) */
    const char *version;  /* its app version */
    uint32_t seed;        /* its otk_imagegen() seed */
    const uint8_t *flash; /* NULL: erased flash; else the whole flash's initial contents */
};

struct rig {
    struct otk_dev dev;
    struct fakenet net;
    struct ramflash flash;
    uint8_t sector[OTK_SECTOR_SIZE];
    uint8_t *img; /* a valid application image for the profile ("test", version) */
    uint32_t img_size;
    char md5[33]; /* of img */
    struct otk_addr host;
    uint32_t now; /* the virtual clock, ms */
    int reboots;
    int events[4]; /* count per enum otk_dev_event_type */
    struct otk_dev_event last_error;
    char last_error_text[OTK_DEV_MSG_MAX];
    /* rig_stream: between two pieces, give the engine the pause (otk_dev_on_idle() until it
     * has nothing left to do), as a port does when no data is waiting. Default false. */
    bool idle_work;
};

/** Defaults: running slot 0, erased flash, a RIG_IMG_SIZE image version "2.0.0" seed 7. */
void rig_opts_default(struct rig_opts *o, enum otk_profile p, enum otk_auth_variant v,
                      const char *password);
struct rig *rig_new_opts(const struct rig_opts *o);
/** rig_new_opts() with the defaults. */
struct rig *rig_new(enum otk_profile p, enum otk_auth_variant v, const char *password);
void rig_free(struct rig *r);

void rig_send_dgram(struct rig *r, const struct otk_addr *from, const char *text);
/** An invitation from r->host, TCP port 48266. */
void rig_invite(struct rig *r, uint32_t cmd, uint32_t size, const char *md5);
/** Answer the AUTH challenge last sent (checked to be one) with this password, from r->host. */
void rig_answer_challenge(struct rig *r, enum otk_auth_variant v, const char *password);
/** Connect, then stream data in pieces of `chunk` bytes, 1 ms apart, while the engine wants
 *  data (it stops taking data when the update fails). See idle_work. */
void rig_stream(struct rig *r, const uint8_t *data, uint32_t len, uint32_t chunk);
/** Advance the clock to `until`, running every deadline due on the way. */
void rig_run_ticks(struct rig *r, uint32_t until);
/** The device restarted (after a reboot or a power cut): power back on, a fresh engine running
 *  from running_slot with the same configuration, a fresh network; the flash contents, the
 *  clock and the counters go on. */
void rig_restart(struct rig *r, int running_slot);
/** The slot otadata selects (no writes). */
int rig_boot_slot(struct rig *r);

/** A whole upload as a host does it: invite (cmd, data's MD5), answer the challenge if password
 *  is not NULL, wait the ESP8266 connect pause, stream in 1460-byte pieces, then run the clock
 *  3 s further (the ESP8266 pauses around "OK", the reboot). @return true if the device ended
 *  with OTK_EV_END and asked to reboot. */
bool rig_upload(struct rig *r, uint32_t cmd, const uint8_t *data, uint32_t size,
                const char *password);

#endif
