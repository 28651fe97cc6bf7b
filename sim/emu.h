/* SPDX-License-Identifier: MIT */
/* The emulated device: NOR flash in a file, a boot model (bootloader slot choice, image check,
 * rollback), the device engine on real sockets, and one poll() loop. Everything it has to say
 * goes through a report callback; the CLI turns reports into JSON or text. */
#ifndef OTK_EMU_H
#define OTK_EMU_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth_explain.h"
#include "flashsim.h"
#include "gateway.h"
#include "link.h"
#include "otakit/device.h"
#include "otakit/image.h"
#include "otakit/native.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exit statuses of the emulator (besides 0 = success). */
#define OTK_EMU_EXIT_FAIL     1  /* --once: the update failed; or a setup error */
#define OTK_EMU_EXIT_NOBOOT   3  /* no slot holds a bootable image */
#define OTK_EMU_EXIT_POWERCUT 99 /* --cut-at fired */

enum otk_emu_report_type {
    OTK_EMU_REP_LISTENING, /* UDP port bound, engine ready */
    OTK_EMU_REP_BOOT,      /* an image was started (boot) */
    OTK_EMU_REP_CONFIRM,   /* the firmware marked itself valid */
    OTK_EMU_REP_CRASH,     /* --crash-on-boot: the new firmware died before confirming */
    OTK_EMU_REP_NOBOOT,    /* neither slot verifies */
    OTK_EMU_REP_DEV,       /* an engine event (start, progress, end, error) */
    OTK_EMU_REP_FLASH_LOG, /* a flash rule violation or bad flash argument */
    OTK_EMU_REP_LOG,       /* other information (text) */
    OTK_EMU_REP_FATAL,     /* an error that ends the emulator (text); REP_EXIT follows */
    OTK_EMU_REP_EXIT,      /* the emulator ends (code, flash_ops); also on a power cut */
};

struct otk_emu_boot {
    int slot;          /* slot running */
    int selected_slot; /* slot otadata chose (differs from slot after a fallback) */
    bool rolled_back;  /* bootloader aborted an unconfirmed image */
    bool fallback;     /* the selected slot did not verify; the other one booted */
    uint32_t state;    /* otadata state of the running slot at boot (enum otk_ota_state) */
    enum otk_image_result verify;          /* of the slot that booted (or the selected one) */
    enum otk_image_result selected_verify; /* of the selected slot */
    char project[33];
    char version[33];
};

struct otk_emu_report {
    enum otk_emu_report_type type;
    const struct otk_dev_event *ev;      /* REP_DEV */
    const struct otk_auth_explain *auth; /* REP_DEV of an OTK_OTA_AUTH_ERROR: why it failed */
    const struct otk_emu_boot *boot;     /* REP_BOOT, REP_CONFIRM, REP_CRASH, REP_NOBOOT */
    const char *text;                    /* REP_FLASH_LOG, REP_LOG, REP_FATAL, REP_LISTENING */
    uint16_t port;                       /* REP_LISTENING */
    int code;                            /* REP_EXIT */
    uint64_t flash_ops;                  /* REP_EXIT */
    bool power_cut;                      /* REP_EXIT */
    uint32_t now_ms;
    const char *mdns_name; /* REP_LISTENING: the name advertised by mDNS (NULL: none) */
    const char *signature; /* REP_DEV of an OTK_UPD_SIGN error: why (otk_sig_result_str) */
};

struct otk_emu_config {
    enum otk_profile profile;
    enum otk_auth_variant auth;
    char secret[OTK_SHA256_HEX_LEN + 1]; /* empty: no password */
    const char *password; /* the password the secret came from (NULL: only its hash is known) */
    const char *bind_addr;
    uint16_t port;
    const char *flash_path;
    enum otk_flash_timing timing;
    bool once;          /* exit after the first update (0 success, 1 failure) */
    bool crash_on_boot; /* a freshly updated image dies before confirming itself */
    bool pre_erase;     /* erase the idle slot between updates (otk_dev_pre_erase) */
    uint32_t min_rate;  /* --min-rate: the progress floor in bytes/s (0: the engine's 1024) */
    uint64_t cut_at;    /* power cut at this flash op (0 = never) */
    void (*report)(void *user, const struct otk_emu_report *r);
    void *user;
    volatile sig_atomic_t *stop;         /* set from a signal handler to end the loop */
    const struct otk_gw_config *gateway; /* NULL: a plain device; else `--gateway` tasks */
    enum otk_link_profile link;          /* --link: the radio link model (none = loopback) */
    uint64_t seed;                       /* --seed: the link's and the faults' random draws */
    struct otk_faults *faults;           /* --fault: network faults (NULL or empty: none) */
    const char *mdns_name; /* advertise _arduino._tcp by mDNS as this name (NULL: no mDNS) */
    /** ESPHome's native protocol on TCP, same port number (NULL: not served). */
    const struct otk_nat_config *native;
    bool arduino_off; /* --protocol esphome: invitations on the UDP port are not heard */
    bool no_inflate;  /* --no-inflate: no inflater, so compressed updates are not offered */
    /* --trusted-key: only images signed with it are activated (NULL: any valid image) */
    const struct otk_sig_key *trusted_key;
};

/** Run the emulator until --once completes, *stop is set, or a power cut.
 *  Setup errors are reported as REP_LOG text. @return the exit status. */
int otk_emu_run(const struct otk_emu_config *cfg);

const char *otk_emu_profile_str(enum otk_profile p);

#ifdef __cplusplus
}
#endif
#endif
